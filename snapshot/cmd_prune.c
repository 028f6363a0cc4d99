/*
 * cmd_prune.c - `statefs prune [-c CONFIG] [--dry-run] [--keep-* N]`: the verb around
 * prune_run (prune.h). The policy comes from [snapshot] keep-* in the config; each option
 * given on the command line replaces that one key (0 turns the rule off). Exit 0, 1 on a
 * failure, 2 on a usage error.
 */
#include "fs/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mountpoints/mtab.h"
#include "snapshot/prune.h"

const int cmd_stub_prune = 0;

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: statefs prune [-c CONFIG] [--dry-run] [--keep-last N] [--keep-daily N]\n"
	    "                     [--keep-weekly N] [--keep-monthly N] [--no-wait]\n"
	    "  Remove the snapshots the retention policy does not keep, then the chunks,\n"
	    "  dictionaries and stale temp files no remaining snapshot needs. The policy is\n"
	    "  [snapshot] keep-* of the config; an option replaces that key (0 = rule off).\n"
	    "  Rules as restic's: keep-last N = the N newest; keep-daily/weekly/monthly N = the\n"
	    "  newest snapshot of each of the last N days/ISO weeks/months that have one.\n"
	    "  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
	    "  -n, --dry-run        change nothing; say what would be removed\n"
	    "      --no-wait        fail at once if a snapshot is writing to the store\n"
	    "  -h, --help           show this help\n");
}

/* A count for --keep-*: decimal digits only, at most UINT_MAX. */
static int parse_count(const char *s, unsigned *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT_MAX)
			return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int cmd_prune(int argc, char **argv)
{
	enum { OPT_LAST = 256, OPT_DAILY, OPT_WEEKLY, OPT_MONTHLY, OPT_NO_WAIT };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"keep-last", required_argument, NULL, OPT_LAST},
	    {"keep-daily", required_argument, NULL, OPT_DAILY},
	    {"keep-weekly", required_argument, NULL, OPT_WEEKLY},
	    {"keep-monthly", required_argument, NULL, OPT_MONTHLY},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG;
	struct prune_opts o = {.out = stdout};
	unsigned keep[4];
	bool given[4] = {false, false, false, false};
	struct mtab *tab = NULL;
	char err[1024];
	int c, rc;

	optind = 0; /* a fresh getopt scan, whoever ran it before */
	while ((c = getopt_long(argc, argv, "+c:nh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case OPT_LAST:
		case OPT_DAILY:
		case OPT_WEEKLY:
		case OPT_MONTHLY:
			if (parse_count(optarg, &keep[c - OPT_LAST])) {
				fprintf(stderr, "statefs prune: %s: not a count: '%s'\n",
					longopts[2 + c - OPT_LAST].name, optarg);
				return 2;
			}
			given[c - OPT_LAST] = true;
			break;
		case OPT_NO_WAIT:
			o.no_wait = true;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	rc = cmd_config("prune", usage, argc, config, &tab);
	if (rc)
		return rc;
	o.policy = (struct retention_policy){
	    given[0] ? keep[0] : tab->keep_last,
	    given[1] ? keep[1] : tab->keep_daily,
	    given[2] ? keep[2] : tab->keep_weekly,
	    given[3] ? keep[3] : tab->keep_monthly,
	};
	if (o.dry_run)
		printf("dry run: nothing will be changed\n");
	rc = prune_run(tab->state_dir, &o, NULL, err, sizeof(err));
	fflush(stdout);
	if (rc)
		fprintf(stderr, "statefs prune: %s\n", err);
	mtab_free(tab);
	return rc ? 1 : 0;
}
