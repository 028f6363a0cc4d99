/*
 * cmd_check.c - `statefs check [-c CONFIG] [--read-data]`: the verb around check_run
 * (check.h). Exit 0 when everything checked is sound, 1 when anything is missing, damaged or
 * unreadable (or the check could not run), 2 on a usage error.
 */
#include "fs/cmd.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "mountpoints/mtab.h"
#include "snapshot/check.h"

const int cmd_stub_check = 0;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: statefs check [-c CONFIG] [--read-data] [--no-wait]\n"
		"  Verify that every snapshot's manifest parses and every chunk it names is in\n"
		"  the store (with its dictionary); report what is damaged or missing and which\n"
		"  snapshots and paths need it. Exit 0 if all is well, 1 if not.\n"
		"  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
		"      --read-data      also read, decompress and re-hash every chunk\n"
		"      --no-wait        fail at once if prune is sweeping the store\n"
		"  -h, --help           show this help\n");
}

int cmd_check(int argc, char **argv)
{
	enum { OPT_READ_DATA = 256, OPT_NO_WAIT };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"read-data", no_argument, NULL, OPT_READ_DATA},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG;
	struct check_opts o = {.out = stdout};
	struct check_stats st;
	struct mtab *tab = NULL;
	char err[1024];
	int c, rc;

	optind = 0; /* a fresh getopt scan, whoever ran it before */
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_READ_DATA:
			o.read_data = true;
			break;
		case OPT_NO_WAIT:
			o.no_wait = true;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	rc = cmd_config("check", usage, argc, config, &tab);
	if (rc)
		return rc;
	o.progress = isatty(STDERR_FILENO);
	rc = check_run(tab->state_dir, &o, &st, err, sizeof(err));
	fflush(stdout);
	if (rc)
		fprintf(stderr, "statefs check: %s\n", err);
	mtab_free(tab);
	return rc || !check_clean(&st) ? 1 : 0;
}
