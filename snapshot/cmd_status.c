/*
 * cmd_status.c - `statefs status [-c CONFIG] [--json | --prometheus]`: what statefs is doing
 * and how it went (snapshot/status.h gathers the facts; this file only prints them).
 *
 * Exit 0 when the facts were printed, whatever they say (a script reads --json to judge), 1
 * when they could not be (no config, out of memory, a write error), 2 on a usage error.
 */
#include "fs/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountpoints/mtab.h"
#include "snapshot/status.h"

const int cmd_stub_status = 0;

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: statefs status [-c CONFIG] [--json | --prometheus]\n"
	    "  Whether the mount is up, the last snapshot (when, how long, complete or what\n"
	    "  failed), the number of snapshots, the store's size and dedup ratio, the config\n"
	    "  commits made today, the last restore, verify and error.\n"
	    "  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
	    "  -j, --json           one JSON object, for scripts\n"
	    "  -p, --prometheus     Prometheus text, as the mount's .statefs/metrics (for\n"
	    "                       node_exporter's textfile collector when nothing is mounted)\n"
	    "  -h, --help           show this help\n"
	    "The dedup ratio is the plain size of the files of every snapshot added up,\n"
	    "divided by the size of the chunk files that hold them: it counts deduplication\n"
	    "and compression together (30 daily snapshots of a 1 GiB database that changes a\n"
	    "little, stored in 2 GiB of chunks: 15).\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"prometheus", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG;
	struct status *st = NULL;
	struct mtab *tab = NULL;
	char err[1024] = "", *text = NULL;
	size_t len = 0;
	int c, rc, ret = 1, format = 't';

	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:jph", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
		case 'p':
			if (format != 't' && format != c) {
				fprintf(stderr,
					"statefs status: --json or --prometheus, not both\n");
				return 2;
			}
			format = c;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	rc = cmd_config("status", usage, argc, config, &tab);
	if (rc)
		return rc;
	st = malloc(sizeof(*st));
	if (!st) {
		fprintf(stderr, "statefs status: out of memory\n");
		goto out;
	}
	rc = status_gather(tab, NULL, st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "statefs status: %s\n", err);
		goto out;
	}
	if (format == 't') {
		rc = status_write_text(st, stdout);
	} else {
		rc = format == 'j' ? status_format_json(st, &text, &len)
				   : status_format_prom(st, st->mounted, &text, &len);
		if (!rc && (fwrite(text, 1, len, stdout) != len || fflush(stdout)))
			rc = -EIO;
	}
	if (rc) {
		fprintf(stderr, "statefs status: %s\n", strerror(-rc));
		goto out;
	}
	ret = 0;
out:
	free(text);
	free(st);
	mtab_free(tab);
	return ret;
}
