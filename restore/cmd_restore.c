/*
 * cmd_restore.c - `statefs restore`: restore a configured database without a mount.
 *
 *   statefs restore [-c CONFIG] [--into NAME] [--jobs N] [--no-snapshot] SOURCE db/NAME
 *   statefs restore [-c CONFIG] --cleanup [db/NAME]
 *
 * SOURCE is a dump file (zstd or plain SQL) when it names an existing file or is "-" (stdin);
 * otherwise a snapshot's name (backups/ shows them; "latest" is the newest that holds the
 * database), whose db/NAME.sql.zst is read from the chunk store. Before the swap a snapshot is
 * taken (as cp onto db/ does), so `statefs restore THAT-SNAPSHOT db/NAME` undoes the restore;
 * the restore fails if that snapshot could not dump the database. Every run first drops what
 * crashed restores of the database left (restore_cleanup_stale); --cleanup does only that.
 * Exit 0, 1 on failure, 2 on a usage error; messages start with "statefs restore: ".
 */
#include "fs/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "mountpoints/mtab.h"
#include "restore/load.h"
#include "snapshot/events.h"
#include "snapshot/manifest.h"
#include "snapshot/snap.h"
#include "snapshot/store.h"

const int cmd_stub_restore = 0;

#define P "statefs restore: "

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

struct pre {
	const struct mtab *tab;
	const char *db;
	char snapshot[MANIFEST_NAME_MAX];
};

static void on_warn(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, P "snapshot: %s\n", msg);
}

/* Does snapshot @name hold db/@db.sql.zst? 0, or -ENOENT (or another error) with a message. */
static int snapshot_entry(const char *state_dir, const char *name, const char *db,
			  struct manifest *m, const struct manifest_entry **e, char *err,
			  size_t errlen)
{
	char path[300];
	int rc;

	manifest_init(m);
	rc = manifest_read(state_dir, name, m, err, errlen);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "db/%s.sql.zst", db);
	*e = manifest_find(m, path);
	if (*e && (*e)->type == 'f')
		return 0;
	snprintf(err, errlen, "snapshot %s holds no %s", name, path);
	return -ENOENT;
}

/* Before the swap: a snapshot of the live state, which must hold the database. */
static int pre_snapshot(void *arg, char *err, size_t errlen)
{
	struct pre *p = arg;
	struct snap_opts o = {.wait = true, .warn = on_warn};
	struct snap_result res = {0};
	const struct manifest_entry *e;
	struct manifest m;
	int rc;

	rc = snap_take(p->tab, &o, &res, err, errlen);
	if (rc)
		return rc;
	rc = snapshot_entry(p->tab->state_dir, res.name, p->db, &m, &e, err, errlen);
	manifest_free(&m);
	if (rc)
		return rc;
	snprintf(p->snapshot, sizeof(p->snapshot), "%s", res.name);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: statefs restore [-c CONFIG] [--into NAME] [--jobs N] [--no-snapshot] SOURCE "
	    "db/NAME\n"
	    "       statefs restore [-c CONFIG] --cleanup [db/NAME]\n"
	    "  Replace database NAME (a [database \"NAME\"] section of the config) with a dump,\n"
	    "  atomically: it loads into a staging database and is swapped in only when all of\n"
	    "  it loaded. SOURCE is a dump file (zstd or plain SQL; - reads stdin) or a\n"
	    "  snapshot's name (as in backups/; latest = the newest holding the database).\n"
	    "  A snapshot is taken just before the swap: restoring it undoes the restore.\n"
	    "  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
	    "      --into NAME      restore into database NAME instead (a configured one, or\n"
	    "                       one on the same server as db/NAME); it must exist\n"
	    "  -j, --jobs N         loading connections (default %u, at most %u)\n"
	    "      --no-snapshot    do not take the snapshot before the swap\n"
	    "      --cleanup        only drop what interrupted restores left behind\n"
	    "  -h, --help           show this help\n",
	    RESTORE_JOBS_DEFAULT, RESTORE_JOBS_MAX);
}

/* "db/NAME" or "db/NAME.sql.zst": NAME into out. */
static bool db_path(const char *arg, char *out, size_t outlen)
{
	size_t n;

	if (strncmp(arg, "db/", 3) || !arg[3])
		return false;
	arg += 3;
	n = strlen(arg);
	if (n > 8 && !strcmp(arg + n - 8, ".sql.zst"))
		n -= 8;
	if (!n || n >= outlen || memchr(arg, '/', n))
		return false;
	memcpy(out, arg, n);
	out[n] = '\0';
	return true;
}

static const struct mtab_database *find_db(const struct mtab *tab, const char *name)
{
	for (size_t i = 0; i < tab->ndbs; i++)
		if (!strcmp(tab->dbs[i].name, name))
			return &tab->dbs[i];
	return NULL;
}

static int cleanup(const struct mtab_database *db)
{
	char err[1024];
	unsigned n;

	if (restore_cleanup_stale(db, &n, err, sizeof(err))) {
		fprintf(stderr, P "%s\n", err);
		return 1;
	}
	if (n)
		fprintf(stderr, P "db/%s: dropped %u database(s) left by an interrupted restore\n",
			db->name, n);
	return 0;
}

/* Feed file @file ("-": stdin) to @r. */
static int feed_file(struct restore *r, const char *db, const char *file, char *err, size_t errlen)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	ssize_t n;
	int rc = 0;

	if (fd < 0 || !buf) {
		rc = fd < 0 ? -errno : -ENOMEM;
		snprintf(err, errlen, "database %s: %s: %s", db, file, strerror(-rc));
	}
	while (!rc) {
		n = read(fd, buf, cap);
		if (interrupted) {
			snprintf(err, errlen, "database %s: interrupted by signal %d", db,
				 (int)interrupted);
			rc = -EINTR;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "database %s: reading %s: %s", db, file,
				 strerror(-rc));
		} else if (n == 0) {
			break;
		} else if ((rc = restore_db_write(r, buf, (size_t)n))) {
			snprintf(err, errlen, "%s", restore_db_error(r));
		}
	}
	if (fd > STDIN_FILENO)
		close(fd);
	free(buf);
	return rc;
}

/* Feed db/@src.sql.zst of snapshot @snap ("latest": the newest holding it) to @r. */
static int feed_snapshot(struct restore *r, const struct mtab *tab, const char *db, const char *src,
			 const char *snap, char *err, size_t errlen)
{
	struct store_opts so = {.readonly = true};
	const struct manifest_entry *e = NULL;
	struct store *st = NULL;
	struct manifest m;
	char **names = NULL, msg[512];
	size_t n = 0, i, len;
	void *chunk;
	int rc;

	manifest_init(&m);
	if (!strcmp(snap, "latest")) {
		rc = manifest_list(tab->state_dir, &names, &n, msg, sizeof(msg));
		for (i = n; !rc && i-- > 0;) {
			manifest_free(&m);
			if (!snapshot_entry(tab->state_dir, names[i], src, &m, &e, msg,
					    sizeof(msg)))
				break;
			e = NULL;
		}
		if (!rc && !e) {
			snprintf(msg, sizeof(msg), "no snapshot holds db/%s.sql.zst", src);
			rc = -ENOENT;
		}
		manifest_names_free(names, n);
	} else {
		rc = snapshot_entry(tab->state_dir, snap, src, &m, &e, msg, sizeof(msg));
	}
	rc = rc ?: store_open(tab->state_dir, &so, &st, msg, sizeof(msg));
	for (i = 0; !rc && i < e->nchunks; i++) {
		rc = store_get(st, &e->chunks[i].hash, &chunk, &len, msg, sizeof(msg));
		if (rc)
			break;
		if (interrupted) {
			snprintf(msg, sizeof(msg), "interrupted by signal %d", (int)interrupted);
			rc = -EINTR;
		} else {
			rc = restore_db_write(r, chunk, len);
		}
		free(chunk);
		if (rc && rc != -EINTR) {
			snprintf(err, errlen, "%s", restore_db_error(r));
			goto out;
		}
	}
	if (rc)
		snprintf(err, errlen, "database %s: %s", db, msg);
out:
	store_close(st);
	manifest_free(&m);
	return rc;
}

/* Record the restore's outcome for `statefs status` and the metrics (snapshot/events.h). */
static void record(const struct mtab *tab, const struct mtab_database *db, enum event_result res,
		   double seconds, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void record(const struct mtab *tab, const struct mtab_database *db, enum event_result res,
		   double seconds, const char *fmt, ...)
{
	char what[300], msg[1024], e[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(what, sizeof(what), "db/%s", db->name);
	if (events_record(tab->state_dir, "restore", res, seconds, what, e, sizeof(e), "%s", msg))
		fprintf(stderr, P "cannot record the result: %s\n", e);
}

/* A size from the environment (tests only), 0 if unset. */
static size_t test_size(const char *name)
{
	const char *v = getenv(name);

	return v ? (size_t)strtoull(v, NULL, 10) : 0;
}

static int run(const struct mtab_database *db, const struct mtab *tab, const char *src,
	       const char *source, bool is_file, unsigned jobs, bool snapshot)
{
	struct pre pre = {.tab = tab, .db = db->name};
	struct restore_opts opts = {
	    .jobs = jobs,
	    /* tests: small enough for a small dump to go through the spool */
	    .queue_bytes = test_size("STATEFS_TEST_RESTORE_QUEUE"),
	    .spool_bytes = test_size("STATEFS_TEST_RESTORE_SPOOL"),
	};
	struct sigaction sa = {.sa_handler = on_signal};
	struct restore_stats st;
	struct restore *r = NULL;
	char err[2048];
	int rc;

	if (snapshot) {
		opts.before_swap = pre_snapshot;
		opts.arg = &pre;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = restore_db_begin(db, &opts, &r, err, sizeof(err));
	if (!rc)
		rc = is_file ? feed_file(r, db->name, source, err, sizeof(err))
			     : feed_snapshot(r, tab, db->name, src, source, err, sizeof(err));
	if (rc && r)
		restore_db_abort(r);
	else if (!rc)
		rc = restore_db_finish(r, &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, P "%s\n", err); /* it names the database */
		record(tab, db, EVENT_FAILED, -1, "restore from %s failed: %s", source, err);
		return 1;
	}
	record(tab, db, EVENT_OK, st.load_s + st.swap_s, "restored from %s: %llu tables, %llu rows",
	       source, (unsigned long long)st.tables, (unsigned long long)st.rows);
	printf(P "db/%s restored from %s: %llu tables, %llu rows (%llu through LOAD DATA), %llu "
		 "views, routines, triggers and events; %.1f MiB of SQL in %.2f s (load %.2f s on "
		 "%u connections, %.1f MiB of it set aside in a temporary file; swap %.2f s)\n",
	       db->name, source, (unsigned long long)st.tables, (unsigned long long)st.rows,
	       (unsigned long long)st.rows_loaded, (unsigned long long)st.objects,
	       (double)st.bytes_sql / (1 << 20), st.load_s + st.swap_s, st.load_s, st.connections,
	       (double)st.spooled / (1 << 20), st.swap_s);
	if (snapshot)
		printf(P "the state before is snapshot %s (statefs restore %s db/%s undoes it)\n",
		       pre.snapshot, pre.snapshot, db->name);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	enum { O_INTO = 256, O_NO_SNAPSHOT, O_CLEANUP };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"into", required_argument, NULL, O_INTO},
	    {"jobs", required_argument, NULL, 'j'},
	    {"no-snapshot", no_argument, NULL, O_NO_SNAPSHOT},
	    {"cleanup", no_argument, NULL, O_CLEANUP},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG, *into = NULL;
	const struct mtab_database *src;
	struct mtab_database target;
	struct mtab *tab = NULL;
	bool snapshot = true, only_cleanup = false, is_file = false;
	char err[1024], name[256], *end;
	unsigned long jobs = 0;
	struct stat sb;
	int c, status = 1;
	size_t i;

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
			break;
		case O_INTO:
			into = optarg;
			break;
		case O_NO_SNAPSHOT:
			snapshot = false;
			break;
		case O_CLEANUP:
			only_cleanup = true;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	argc -= optind;
	argv += optind;
	if (only_cleanup ? argc > 1 : argc != 2) {
		usage(stderr);
		return 2;
	}
	if (!only_cleanup) {
		is_file = !strcmp(argv[0], "-") || !stat(argv[0], &sb);
		if (!is_file && strcmp(argv[0], "latest") && !manifest_name_valid(argv[0])) {
			fprintf(stderr,
				P "%s: no such file, nor a snapshot name (YYYY-MM-DD, "
				  "YYYY-MM-DD_HHMMSS or latest)\n",
				argv[0]);
			return 2;
		}
	}
	if (argc && !db_path(argv[argc - 1], name, sizeof(name))) {
		fprintf(stderr, P "%s: only a database, db/NAME, can be restored for now\n",
			argv[argc - 1]);
		return 2;
	}
	if (mtab_load(config, &tab, err, sizeof(err))) {
		fprintf(stderr, P "%s\n", err);
		return 1;
	}
	if (only_cleanup) {
		status = argc && !find_db(tab, name);
		if (status)
			fprintf(stderr, P "%s: no [database \"%s\"] section\n", config, name);
		for (i = 0; i < tab->ndbs; i++)
			if (!argc || !strcmp(tab->dbs[i].name, name))
				status |= cleanup(&tab->dbs[i]);
		goto out;
	}
	src = find_db(tab, name);
	if (!src) {
		fprintf(stderr, P "%s: no [database \"%s\"] section\n", config, name);
		goto out;
	}
	target = *src;
	if (into && find_db(tab, into)) {
		target = *find_db(tab, into);
	} else if (into) {
		target.name = (char *)into; /* another database on the same server */
		if (snapshot) {
			fprintf(stderr,
				P "%s is not configured, so no snapshot would hold it: "
				  "give --no-snapshot to restore into it anyway\n",
				into);
			status = 2;
			goto out;
		}
	}
	if (cleanup(&target))
		goto out;
	status = run(&target, tab, name, argv[0], is_file, (unsigned)jobs, snapshot);
out:
	mtab_free(tab);
	return status;
}
