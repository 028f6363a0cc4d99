/*
 * cmd_stubs.c - weak stand-ins for verbs that are not built yet: each says so and exits 2.
 * The real verb, defined in its module, replaces the stub at link time; that module also
 * defines `const int cmd_stub_VERB = 0;`, which replaces the weak 1 below, so that --help
 * lists only the verbs that exist.
 */
#include "fs/cmd.h"

#include <stdio.h>

#define STUB(name)                                                                                 \
	__attribute__((weak)) const int cmd_stub_##name = 1;                                       \
	__attribute__((weak)) int cmd_##name(int argc, char **argv)                                \
	{                                                                                          \
		(void)argc;                                                                        \
		(void)argv;                                                                        \
		fprintf(stderr, "statefs %s: not available in this build\n", #name);              \
		return 2;                                                                          \
	}

__attribute__((weak)) const int cmd_stub_dump = 0; /* built in snapshot/cmd_dump.c */
STUB(snapshot)
STUB(prune)
STUB(check)
STUB(restore)
STUB(status)
STUB(verify)
