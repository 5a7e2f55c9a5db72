/*
 * The skeleton shared by the `tp` commands that run an agent until a signal
 * (`tp driver`, `tp ratelimit`, `tp discovery serve`): the common options
 * [CONFIG] [--print-config] [--check] [--duration SECONDS] [--help], the
 * --print-config / --check exits, SIGINT/SIGTERM as a stop request and the
 * --duration deadline.
 */
#ifndef TP_APPS_TP_CLI_AGENT_H
#define TP_APPS_TP_CLI_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** The common options of an agent command. */
typedef struct tp_cli_agent_args_stct
{
    bool print;        /**< --print-config */
    bool check;        /**< --check */
    double duration;   /**< --duration in seconds, 0 when not given */
    const char *path;  /**< CONFIG, NULL when not given */
}
tp_cli_agent_args_t;

/**
 * Parse argv (argv[0] is the command name) into *out: the options above and
 * at most one CONFIG. parse_duration(text, &seconds) checks the --duration
 * value and prints its own error (returns 0 or -1). --help prints usage to
 * stdout. Returns true when the command is to go on; false with *exit_code
 * set (TP_CLI_EXIT_OK after --help, TP_CLI_EXIT_USAGE on a bad argument, with
 * usage or the error printed to stderr).
 */
bool tp_cli_agent_parse(int argc, char **argv, void (*usage)(FILE *out),
    int (*parse_duration)(const char *text, double *seconds), tp_cli_agent_args_t *out, int *exit_code);

/**
 * Handle --print-config and --check for a loaded configuration: print it as
 * TOML (print_config as the tp_*_config_print functions: size query with
 * NULL, then the text) and/or "PROG: configuration LABEL is valid". Returns
 * true when either was given (the command then exits with TP_CLI_EXIT_OK).
 */
bool tp_cli_agent_print_or_check(const char *prog, const tp_cli_agent_args_t *args, const char *label,
    int (*print_config)(const void *config, char *buf, size_t len), const void *config);

/** Make SIGINT and SIGTERM request a stop (see tp_cli_agent_stop_requested()). */
void tp_cli_agent_stop_on_signals(void);

/** Whether SIGINT or SIGTERM arrived since tp_cli_agent_stop_on_signals(). */
bool tp_cli_agent_stop_requested(void);

/** The monotonic time at which a run of duration seconds ends (UINT64_MAX when duration is 0: no end). */
uint64_t tp_cli_agent_deadline_ns(double duration);

#endif
