/*
 * cmd_snapshot.c - `statefs snapshot [-c CONFIG] [--no-wait] [--quiet]`: take a snapshot.
 *
 * Exit 0 when the snapshot is complete, 3 when it was written but something was left out
 * (each thing named on stderr and in the manifest's reason lines), 1 when no snapshot was
 * written (another one runs and --no-wait was given, a full disk, ...), 2 on a usage error.
 * Progress goes to stderr as one updating line, only on a terminal and without --quiet; the
 * one-line summary goes to stdout.
 */
#include "fs/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mountpoints/mtab.h"
#include "snapshot/events.h"
#include "snapshot/snap.h"

const int cmd_stub_snapshot = 0;

#define PROGRESS_MS 200

struct ui {
	bool progress;	 /* draw the progress line */
	bool drawn;	 /* a progress line is on the screen */
	int64_t last_ms; /* when it was drawn */
	char first_warning[512]; /* for the event of an incomplete snapshot */
	unsigned warnings;
};

/* "1,234,567" */
static const char *count(uint64_t v, char *buf, size_t len)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), o = 0;

	for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* "512.0 MiB" */
static const char *size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)v);
		return buf;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

static void clear_line(struct ui *ui)
{
	if (ui->drawn)
		fputs("\r\033[K", stderr);
	ui->drawn = false;
}

static void on_warn(void *arg, const char *msg)
{
	struct ui *ui = arg;

	clear_line(ui);
	fprintf(stderr, "statefs snapshot: %s\n", msg);
	if (!ui->warnings++)
		snprintf(ui->first_warning, sizeof(ui->first_warning), "%s", msg);
}

static void on_progress(void *arg, const struct snap_progress *p)
{
	struct ui *ui = arg;
	char b1[32], b2[32];
	struct timespec ts;
	int64_t ms;

	if (!ui->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ui->drawn && ms - ui->last_ms < PROGRESS_MS)
		return;
	ui->last_ms = ms;
	ui->drawn = true;
	fprintf(stderr, "\r\033[Ksnapshot %s: %.60s, %s read, %s files", p->name, p->what,
		size(p->bytes_read, b1, sizeof(b1)), count(p->files, b2, sizeof(b2)));
	fflush(stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: statefs snapshot [-c CONFIG] [--no-wait] [--quiet]\n"
		"  Take a dated snapshot of every configured database, the plain trees (uploads)\n"
		"  and the config history's commit, into the state directory's store.\n"
		"  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
		"      --no-wait        if another snapshot is running, fail instead of waiting\n"
		"  -q, --quiet          no progress line on a terminal\n"
		"  -h, --help           show this help\n"
		"Exit status: 0 complete, 3 written but incomplete (see stderr), 1 failed.\n");
}

/* Record the run's outcome for `statefs status` and the metrics (snapshot/events.h). */
static void record(const char *state_dir, int ret, const struct snap_result *r,
		   const struct ui *ui, const char *err)
{
	char e[512];
	int rc;

	if (ret)
		rc = events_record(state_dir, "snapshot", EVENT_FAILED, r->seconds,
				   r->name[0] ? r->name : NULL, e, sizeof(e),
				   "no snapshot written: %s", err);
	else if (r->incomplete)
		rc = events_record(state_dir, "snapshot", EVENT_INCOMPLETE, r->seconds, r->name, e,
				   sizeof(e), "written incomplete: %u of %u databases failed; %s%s",
				   r->databases_failed, r->databases, ui->first_warning,
				   ui->warnings > 1 ? " (and more, see the manifest's reasons)" : "");
	else
		rc = events_record(state_dir, "snapshot", EVENT_OK, r->seconds, r->name, e,
				   sizeof(e), "%u databases, %llu files, %llu bytes read, %llu new",
				   r->databases, (unsigned long long)r->files,
				   (unsigned long long)r->bytes_read, (unsigned long long)r->bytes_new);
	if (rc)
		fprintf(stderr, "statefs snapshot: cannot record the result: %s\n", e);
}

static void summary(const struct snap_result *r)
{
	char dbs[32], files[32], rd[32], rr[32], br[32], bn[32];

	printf("snapshot %s%s: %u database%s%s%s%s, %s file%s (%s read, %s unchanged), %s read, "
	       "%s new in %.1f s\n",
	       r->name, r->incomplete ? " (incomplete)" : "", r->databases,
	       r->databases == 1 ? "" : "s", r->databases_failed ? " (" : "",
	       r->databases_failed ? count(r->databases_failed, dbs, sizeof(dbs)) : "",
	       r->databases_failed ? " failed)" : "", count(r->files, files, sizeof(files)),
	       r->files == 1 ? "" : "s", count(r->files_read, rd, sizeof(rd)),
	       count(r->files_reused, rr, sizeof(rr)), size(r->bytes_read, br, sizeof(br)),
	       size(r->bytes_new, bn, sizeof(bn)), r->seconds);
	fflush(stdout);
}

int cmd_snapshot(int argc, char **argv)
{
	enum { OPT_NO_WAIT = 256 };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG;
	struct snap_opts so = {.wait = true, .warn = on_warn, .progress = on_progress};
	struct ui ui = {.progress = true};
	struct snap_result r;
	struct mtab *tab = NULL;
	char err[1024] = "";
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case OPT_NO_WAIT:
			so.wait = false;
			break;
		case 'q':
			ui.progress = false;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	ret = cmd_config("snapshot", usage, argc, config, &tab);
	if (ret)
		return ret;
	if (!isatty(STDERR_FILENO))
		ui.progress = false;
	so.arg = &ui;
	memset(&r, 0, sizeof(r));
	ret = snap_take(tab, &so, &r, err, sizeof(err));
	clear_line(&ui);
	if (ret != -EWOULDBLOCK) /* the snapshot that runs records its own */
		record(tab->state_dir, ret, &r, &ui, err);
	mtab_free(tab);
	if (ret == -EWOULDBLOCK) {
		fprintf(stderr, "statefs snapshot: %s; not waiting (--no-wait)\n", err);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "statefs snapshot: failed, no snapshot written: %s\n", err);
		return 1;
	}
	summary(&r);
	return r.incomplete ? 3 : 0;
}
