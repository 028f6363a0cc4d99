/*
 * cmd.h - the management verbs: `statefs VERB [-c CONFIG] ...`.
 *
 * Each verb parses its own arguments (argv[0] is the verb) and returns the process exit
 * status: 0 success, 1 failure, 2 usage error, 3 done but incomplete (a partial snapshot).
 * fs/main.c dispatches to them; each lives with the module that owns its logic.
 */
#ifndef STATEFS_CMD_H
#define STATEFS_CMD_H

/* statefs dump [-c CONFIG] [--plain] DATABASE: a consistent dump on stdout (zstd by default). */
int cmd_dump(int argc, char **argv);

#endif
