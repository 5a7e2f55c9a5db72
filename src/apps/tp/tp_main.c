/* tp: the tensorpool command-line tool. */
#include <stdio.h>
#include <string.h>

#include "tensor_pool/tp.h"
#include "tp_cli.h"

int tp_cli_version(int argc, char **argv);
int tp_cli_shm(int argc, char **argv);
int tp_cli_demo(int argc, char **argv);
int tp_cli_listen(int argc, char **argv);
int tp_cli_media_driver(int argc, char **argv);
int tp_cli_driver(int argc, char **argv);
int tp_cli_trace(int argc, char **argv);
int tp_cli_discovery(int argc, char **argv);
int tp_cli_ratelimit(int argc, char **argv);
int tp_cli_bridge(int argc, char **argv);

int tp_cli_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tp (tensorpool) %s\n", tp_version());
    return TP_CLI_EXIT_OK;
}

static const tp_cli_command_t tp_cli_commands[] = {
    { "version", "print the library version", tp_cli_version },
    { "demo", "write and read back frames through a shared-memory pool", tp_cli_demo },
    { "shm", "inspect regions (tp shm inspect PATH), reclaim dead producers' epochs (tp shm gc)", tp_cli_shm },
    { "listen", "print decoded traffic: tp listen announces|descriptors|control|qos|metadata|tracelink|merge [--json]",
        tp_cli_listen },
    { "trace", "print a frame's lineage from what it hears: tp trace SEQ [--stream-id N] [--json]", tp_cli_trace },
    { "driver", "run the SHM driver (tp driver [CONFIG.toml]): regions, leases, epochs, announces", tp_cli_driver },
    { "ratelimit", "run a rate limiter (tp ratelimit CONFIG.toml): republish source streams at max_rate_hz",
        tp_cli_ratelimit },
    { "media-driver", "run an Aeron media driver for the aeron backend (tp media-driver --dir AERON_DIR)",
        tp_cli_media_driver },
    { "discovery", "find streams (tp discovery query [--stream-id N] [--tag T]... [--json]), run a provider (serve)",
        tp_cli_discovery },
    { "bridge", "run the SHM Aeron-UDP bridge (tp bridge [CONFIG.toml]): frames between hosts over UDP", tp_cli_bridge },
};

static void tp_cli_usage(FILE *out)
{
    fprintf(out, "usage: tp <command> [args...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(tp_cli_commands) / sizeof(tp_cli_commands[0]); i++)
    {
        fprintf(out, "  %-10s %s\n", tp_cli_commands[i].name, tp_cli_commands[i].summary);
    }
    fprintf(out, "\nRun 'tp <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || 0 == strcmp(argv[1], "--help") || 0 == strcmp(argv[1], "-h") || 0 == strcmp(argv[1], "help"))
    {
        tp_cli_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? TP_CLI_EXIT_USAGE : TP_CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(tp_cli_commands) / sizeof(tp_cli_commands[0]); i++)
    {
        if (0 == strcmp(argv[1], tp_cli_commands[i].name))
        {
            return tp_cli_commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "tp: unknown command '%s'\n\n", argv[1]);
    tp_cli_usage(stderr);
    return TP_CLI_EXIT_USAGE;
}
