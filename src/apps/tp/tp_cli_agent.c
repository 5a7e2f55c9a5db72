/*
 * Shared skeleton of the agent commands. See tp_cli_agent.h.
 */
#include "tp_cli_agent.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>

#include "common/tp_clock.h"
#include "tp_cli.h"

static volatile sig_atomic_t tp_cli_agent_stop = 0;

static void tp_cli_agent_on_signal(int sig)
{
    (void)sig;
    tp_cli_agent_stop = 1;
}

void tp_cli_agent_stop_on_signals(void)
{
    signal(SIGINT, tp_cli_agent_on_signal);
    signal(SIGTERM, tp_cli_agent_on_signal);
}

bool tp_cli_agent_stop_requested(void)
{
    return 0 != tp_cli_agent_stop;
}

uint64_t tp_cli_agent_deadline_ns(double duration)
{
    return duration > 0 ? tp_clock_mono_ns() + (uint64_t)(duration * 1e9) : UINT64_MAX;
}

bool tp_cli_agent_parse(int argc, char **argv, void (*usage)(FILE *out),
    int (*parse_duration)(const char *text, double *seconds), tp_cli_agent_args_t *out, int *exit_code)
{
    static const struct option opts[] = { { "print-config", no_argument, 0, 'p' }, { "check", no_argument, 0, 'c' },
        { "duration", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    out->print = false;
    out->check = false;
    out->duration = 0;
    out->path = NULL;
    optind = 1;
    int opt;
    while (-1 != (opt = getopt_long(argc, argv, "pct:h", opts, NULL)))
    {
        switch (opt)
        {
            case 'p': out->print = true; break;
            case 'c': out->check = true; break;
            case 't':
                if (parse_duration(optarg, &out->duration) < 0)
                {
                    *exit_code = TP_CLI_EXIT_USAGE;
                    return false;
                }
                break;
            case 'h': usage(stdout); *exit_code = TP_CLI_EXIT_OK; return false;
            default: usage(stderr); *exit_code = TP_CLI_EXIT_USAGE; return false;
        }
    }
    if (argc - optind > 1)
    {
        usage(stderr);
        *exit_code = TP_CLI_EXIT_USAGE;
        return false;
    }
    out->path = optind < argc ? argv[optind] : NULL;
    return true;
}

bool tp_cli_agent_print_or_check(const char *prog, const tp_cli_agent_args_t *args, const char *label,
    int (*print_config)(const void *config, char *buf, size_t len), const void *config)
{
    if (args->print)
    {
        int n = print_config(config, NULL, 0);
        char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (NULL != buf)
        {
            print_config(config, buf, (size_t)n + 1);
            fputs(buf, stdout);
            free(buf);
        }
    }
    if (args->print || args->check)
    {
        if (args->check)
        {
            printf("%s: configuration %s is valid\n", prog, label);
        }
        return true;
    }
    return false;
}
