/*
 * cmd.h - the management verbs: `statefs VERB [-c CONFIG] ...`.
 *
 * Each verb parses its own arguments (argv[0] is the verb) and returns the process exit
 * status: 0 success, 1 failure, 2 usage error, 3 done but incomplete (a partial snapshot).
 * fs/main.c dispatches to them; each lives with the module that owns its logic. A verb that
 * is not built yet has a weak stub in fs/cmd_stubs.c that says so (exit 2).
 */
#ifndef STATEFS_CMD_H
#define STATEFS_CMD_H

#include <stdio.h>

struct mtab;

/* statefs dump [-c CONFIG] [--plain] DATABASE: a consistent dump on stdout (zstd by default). */
int cmd_dump(int argc, char **argv);
/* statefs snapshot [-c CONFIG]: a new dated snapshot of every database, uploads and configs. */
int cmd_snapshot(int argc, char **argv);
/* statefs prune [-c CONFIG] [--dry-run]: apply the retention policy, then sweep chunks. */
int cmd_prune(int argc, char **argv);
/* statefs check [-c CONFIG] [--read-data]: verify manifests and chunks. */
int cmd_check(int argc, char **argv);
/* statefs restore [-c CONFIG] SNAPSHOT PATH: restore a database or files without a mount. */
int cmd_restore(int argc, char **argv);
/* statefs status [-c CONFIG] [--json]: what statefs is doing and how it went. */
int cmd_status(int argc, char **argv);
/* statefs verify [-c CONFIG] [SNAPSHOT]: test-restore a snapshot's databases and compare. */
int cmd_verify(int argc, char **argv);

/*
 * For a verb's option loop: -h (@c == 'h') prints @usage on stdout and gives 0; any other
 * (unknown) option prints it on stderr and gives 2, the exit status to return.
 */
int cmd_usage(void (*usage)(FILE *), int c);

/*
 * After a verb's options (getopt's optind): no operand may be left (else @usage on stderr,
 * 2), then @config is loaded into *tab (else "statefs VERB: why" on stderr, 1). 0 on success.
 */
int cmd_config(const char *verb, void (*usage)(FILE *), int argc, const char *config,
	       struct mtab **tab);

/* 1 while the verb is a stub; the module that implements VERB defines cmd_stub_VERB = 0. */
extern const int cmd_stub_dump, cmd_stub_snapshot, cmd_stub_prune, cmd_stub_check,
	cmd_stub_restore, cmd_stub_status, cmd_stub_verify;

#endif
