/*
 * `tp media-driver`: run an Aeron media driver (the C driver of
 * libaeron_driver, embedded in this process) on an Aeron directory until
 * SIGINT/SIGTERM or --duration, for deployments, demos and scripts where
 * several processes use the aeron backend and none of them should own the
 * driver. Prints one JSON line when the driver is up:
 *   {"media_driver":"up","dir":"..."}
 * Builds without Aeron (or without its driver library) fail with exit 1 and
 * say why.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tp_clock.h"
#include "common/tp_error.h"
#include "tp_args.h"
#include "tp_cli.h"
#if defined(TP_HAVE_AERON)
#include "transport/aeron/tp_aeron_driver.h"
#endif

/** Entry point of `tp media-driver` (argv starts at "media-driver"). Returns a TP_CLI_EXIT_* code. */
int tp_cli_media_driver(int argc, char **argv);

#if defined(TP_HAVE_AERON)
static volatile sig_atomic_t tp_cli_md_running = 1;

/** SIGINT/SIGTERM: stop the driver loop. */
static void tp_cli_md_on_signal(int sig)
{
    (void)sig;
    tp_cli_md_running = 0;
}
#endif

/** Usage text of `tp media-driver`. */
static void tp_cli_md_usage(FILE *out)
{
    fprintf(out,
        "usage: tp media-driver --dir AERON_DIR [--duration SECONDS]\n"
        "  Run an Aeron media driver on AERON_DIR (created; deleted when the driver stops) until\n"
        "  SIGINT/SIGTERM or SECONDS have passed. Give the processes using the aeron backend the same\n"
        "  directory (TP_TRANSPORT_BACKEND=aeron TP_TRANSPORT_DIR=AERON_DIR). Fails when a live driver\n"
        "  already uses the directory.\n");
}

int tp_cli_media_driver(int argc, char **argv)
{
    const char *dir = NULL;
    double duration = 0;
    static const struct option opts[] = { { "dir", required_argument, 0, 'd' },
        { "duration", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    optind = 1;
    int opt;
    while (-1 != (opt = getopt_long(argc, argv, "d:t:h", opts, NULL)))
    {
        switch (opt)
        {
            case 'd':
                dir = optarg;
                if (tp_args_path("tp media-driver", "--dir", dir, 4000) < 0)
                {
                    return TP_CLI_EXIT_USAGE;
                }
                break;
            case 't':
                if (tp_args_double("tp media-driver", "--duration", optarg, 0.0, 1e9, "a number of seconds",
                        &duration) < 0)
                {
                    return TP_CLI_EXIT_USAGE;
                }
                break;
            case 'h': tp_cli_md_usage(stdout); return TP_CLI_EXIT_OK;
            default: tp_cli_md_usage(stderr); return TP_CLI_EXIT_USAGE;
        }
    }
    if (NULL == dir)
    {
        fprintf(stderr, "tp media-driver: --dir AERON_DIR is required\n");
        tp_cli_md_usage(stderr);
        return TP_CLI_EXIT_USAGE;
    }
    if (optind != argc)
    {
        fprintf(stderr, "tp media-driver: unexpected argument '%s'\n", argv[optind]);
        tp_cli_md_usage(stderr);
        return TP_CLI_EXIT_USAGE;
    }
#if defined(TP_HAVE_AERON)
    tp_aeron_media_driver_t *driver = NULL;
    if (tp_aeron_media_driver_start(&driver, dir, 0) < 0)
    {
        fprintf(stderr, "tp media-driver: %s\n", tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    signal(SIGINT, tp_cli_md_on_signal);
    signal(SIGTERM, tp_cli_md_on_signal);
    printf("{\"media_driver\":\"up\",\"dir\":\"%s\"}\n", dir);
    fflush(stdout);
    uint64_t end = duration > 0 ? tp_clock_mono_ns() + (uint64_t)(duration * 1e9) : UINT64_MAX;
    while (tp_cli_md_running && tp_clock_mono_ns() < end)
    {
        tp_sleep_ns(10000000);
    }
    if (tp_aeron_media_driver_close(driver) < 0)
    {
        fprintf(stderr, "tp media-driver: %s\n", tp_errmsg());
        return TP_CLI_EXIT_FAIL;
    }
    return TP_CLI_EXIT_OK;
#else
    fprintf(stderr, "tp media-driver: this build has no Aeron backend (configure with -DTP_WITH_AERON=ON "
        "-DTP_AERON_ROOT=<aeron install prefix>)\n");
    return TP_CLI_EXIT_FAIL;
#endif
}
