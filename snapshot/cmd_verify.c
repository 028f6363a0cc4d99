/*
 * cmd_verify.c - `statefs verify [-c CONFIG] [--databases-only] [SNAPSHOT]`: the test restore
 * (snapshot/verify.h), one line per database and one for the files, then the verdict, which
 * is also recorded for `statefs status` (STATE_DIR/status/last-verify, events.h).
 *
 * Exit 0 when everything passed, 1 when anything failed or the verify could not run, 2 on a
 * usage error. SIGINT, SIGTERM and SIGHUP stop it cleanly: the scratch database is dropped.
 */
#include "fs/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountpoints/mtab.h"
#include "restore/load.h"
#include "snapshot/events.h"
#include "snapshot/manifest.h"
#include "snapshot/verify.h"

const int cmd_stub_verify = 0;

#define P "statefs verify: "

static volatile int stop;

static void on_signal(int sig)
{
	stop = sig;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: statefs verify [-c CONFIG] [-j N] [--databases-only] [SNAPSHOT]\n"
	    "  Test-restore SNAPSHOT (default: the newest): each database dump is rebuilt from\n"
	    "  its chunks, loaded into a scratch database NAME__statefs_verify_PID on the same\n"
	    "  server, its row counts checked, read back and compared with the snapshot's bytes\n"
	    "  table by table; the scratch database is then dropped. Every other file is\n"
	    "  rebuilt from its chunks. Nothing live is changed. The result is recorded for\n"
	    "  `statefs status` and the metrics.\n"
	    "  -c, --config CONFIG   the config file (default " MTAB_DEFAULT_CONFIG ")\n"
	    "  -j, --jobs N          loading connections (default %u, at most %u)\n"
	    "      --databases-only  do not read the other files back\n"
	    "  -h, --help            show this help\n"
	    "Exit status: 0 everything passed, 1 something failed (each failure is named).\n",
	    RESTORE_JOBS_DEFAULT, RESTORE_JOBS_MAX);
}

static void on_done(void *arg, const struct verify_item *it)
{
	(void)arg;
	if (!it->ok) {
		printf("%s: FAILED: %s\n", it->name, it->reason);
	} else if (!strcmp(it->name, "files")) {
		printf("%s: OK (%llu files, %.1f MiB read back and checked in %.1f s)\n", it->name,
		       (unsigned long long)it->files, (double)it->bytes / (1 << 20), it->seconds);
	} else {
		printf("%s: OK (%llu tables, %llu rows: loaded, counted and read back the same in "
		       "%.1f s)\n",
		       it->name, (unsigned long long)it->tables, (unsigned long long)it->rows,
		       it->seconds);
	}
	fflush(stdout);
}

/* The event's message: the failures, or what passed. */
static void summary(const struct verify_result *r, char *out, size_t len)
{
	size_t o = 0, failed = 0;

	for (size_t i = 0; i < r->nitems; i++)
		failed += !r->items[i].ok;
	o = (size_t)snprintf(out, len, "%zu of %zu checks passed", r->nitems - failed, r->nitems);
	for (size_t i = 0; i < r->nitems && o < len; i++) {
		const struct verify_item *it = &r->items[i];

		if (!failed)
			o += (size_t)snprintf(out + o, len - o, "%s %s", i ? "," : ":", it->name);
		else if (!it->ok)
			o += (size_t)snprintf(out + o, len - o, "; %s FAILED: %s", it->name,
					      it->reason);
	}
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_DB_ONLY = 256 };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"databases-only", no_argument, NULL, OPT_DB_ONLY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct verify_opts vo = {.done = on_done, .stop = &stop};
	struct sigaction sa = {.sa_handler = on_signal};
	const char *config = MTAB_DEFAULT_CONFIG, *name = NULL;
	struct verify_result r;
	struct mtab *tab = NULL;
	char err[1024] = "", ev_err[512], text[1024];
	unsigned long jobs;
	char *end;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			jobs = strtoul(optarg, &end, 10);
			if (*end || !jobs || jobs > RESTORE_JOBS_MAX) {
				fprintf(stderr, P "--jobs: 1 to %u\n", RESTORE_JOBS_MAX);
				return 2;
			}
			vo.jobs = (unsigned)jobs;
			break;
		case OPT_DB_ONLY:
			vo.skip_files = true;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		name = argv[optind];
	if (name && !manifest_name_valid(name)) {
		fprintf(stderr, P "%s: not a snapshot name (YYYY-MM-DD or YYYY-MM-DD_HHMMSS)\n",
			name);
		return 2;
	}
	rc = mtab_load(config, &tab, err, sizeof(err));
	if (rc) {
		fprintf(stderr, P "%s\n", err);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("statefs verify: snapshot %s\n", name ? name : "(the newest)");
	fflush(stdout);
	rc = verify_snapshot(tab, name, &vo, &r, err, sizeof(err));
	if (rc) {
		fprintf(stderr, P "%s\n", err);
		/* a snapshot named by hand that does not exist is a typo, not a failed verify */
		if ((rc != -ENOENT || !name) &&
		    events_record(tab->state_dir, "verify", EVENT_FAILED, r.seconds,
				  r.snapshot[0] ? r.snapshot : name, ev_err, sizeof(ev_err),
				  "could not run: %s", err))
			fprintf(stderr, P "cannot record the result: %s\n", ev_err);
		verify_result_free(&r);
		mtab_free(tab);
		return 1;
	}
	summary(&r, text, sizeof(text));
	printf("statefs verify: %s: %s: %s\n", r.snapshot, r.ok ? "OK" : "FAILED", text);
	if (events_record(tab->state_dir, "verify", r.ok ? EVENT_OK : EVENT_FAILED, r.seconds,
			  r.snapshot, ev_err, sizeof(ev_err), "%s", text))
		fprintf(stderr, P "cannot record the result: %s\n", ev_err);
	rc = r.ok ? 0 : 1;
	verify_result_free(&r);
	mtab_free(tab);
	return rc;
}
