/* The `tp` command-line tool: one entry point per subcommand family. */
#ifndef TP_APPS_TP_CLI_H
#define TP_APPS_TP_CLI_H

/** A subcommand family: `tp <name> ...`; run() gets argv starting at <name>. */
typedef struct tp_cli_command_stct
{
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} tp_cli_command_t;

/** Exit codes: 0 success, 1 operation failed, 2 usage error. */
#define TP_CLI_EXIT_OK 0
#define TP_CLI_EXIT_FAIL 1
#define TP_CLI_EXIT_USAGE 2

#endif
