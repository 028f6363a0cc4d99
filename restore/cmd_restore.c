/*
 * cmd_restore.c - `statefs restore`: restore a configured database from a dump, without a
 * mount.
 *
 *   statefs restore [-c CONFIG] [--into NAME] [--jobs N] [--no-backup] FILE|- db/NAME
 *   statefs restore [-c CONFIG] --cleanup [db/NAME]
 *
 * The first argument is a dump file (zstd or plain SQL) when it names an existing file or is
 * "-" (stdin); otherwise it will name a snapshot (not available yet). Before the swap the live
 * database is dumped to STATE_DIR/pre-restore/NAME-<UTC time>.sql.zst (0600), so the restore
 * can be undone by restoring that file; --no-backup skips it. Every run first drops what
 * crashed restores of the database left (restore_cleanup_stale); --cleanup does only that.
 * Exit 0, 1 on failure, 2 on a usage error; messages start with "statefs restore: ".
 */
#include "fs/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "mountpoints/mtab.h"
#include "restore/load.h"
#include "snapshot/dump.h"

const int cmd_stub_restore = 0;

#define P "statefs restore: "

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

struct backup {
	const struct mtab_database *db;
	const char *state_dir;
	char path[PATH_MAX];
	int fd;
	ZSTD_CCtx *z;
	char out[1 << 16];
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *q = p;
	ssize_t k;

	while (n) {
		k = write(fd, q, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

static int backup_feed(struct backup *b, const void *buf, size_t len, ZSTD_EndDirective op)
{
	ZSTD_inBuffer in = {buf, len, 0};
	ZSTD_outBuffer out;
	size_t left;
	int rc;

	do {
		out = (ZSTD_outBuffer){b->out, sizeof(b->out), 0};
		left = ZSTD_compressStream2(b->z, &out, &in, op);
		if (ZSTD_isError(left))
			return -EIO;
		rc = write_all(b->fd, b->out, out.pos);
		if (rc)
			return rc;
	} while (op == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int backup_write(void *ctx, const void *buf, size_t len)
{
	return backup_feed(ctx, buf, len, ZSTD_e_continue);
}

/* The pre-restore backup: a statefs dump of the live database, written then renamed. */
static int backup_hook(void *arg, char *err, size_t errlen)
{
	struct backup *b = arg;
	struct dump_sink sink = {.ctx = b, .write = backup_write};
	char dir[PATH_MAX], tmp[PATH_MAX + 8], name[256], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc, dfd;

	err[0] = '\0';
	snprintf(name, sizeof(name), "%s", b->db->name);
	for (i = 0; name[i]; i++)
		if (name[i] == '/' || (i == 0 && name[i] == '.'))
			name[i] = '_';
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(dir, sizeof(dir), "%s/pre-restore", b->state_dir);
	if ((mkdir(b->state_dir, 0700) && errno != EEXIST) ||
	    (mkdir(dir, 0700) && errno != EEXIST)) {
		rc = -errno;
		snprintf(err, errlen, "creating %s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(b->path, sizeof(b->path), "%.3800s/%.200s-%s.sql.zst", dir, name, stamp);
	snprintf(tmp, sizeof(tmp), "%s.part", b->path);
	b->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (b->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(-rc));
		return rc;
	}
	b->z = ZSTD_createCCtx();
	rc = b->z && !ZSTD_isError(ZSTD_CCtx_setParameter(b->z, ZSTD_c_compressionLevel, 3)) &&
		     !ZSTD_isError(ZSTD_CCtx_setParameter(b->z, ZSTD_c_checksumFlag, 1))
		 ? 0
		 : -ENOMEM;
	if (rc)
		snprintf(err, errlen, "cannot set up zstd");
	if (!rc && (rc = dump_database(b->db, NULL, &sink, NULL, err, errlen)) == 0 &&
	    (rc = backup_feed(b, NULL, 0, ZSTD_e_end)) == 0 && fsync(b->fd))
		rc = -errno;
	if (rc && !err[0])
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(-rc));
	if (close(b->fd) && !rc)
		rc = -errno;
	ZSTD_freeCCtx(b->z);
	if (!rc && rename(tmp, b->path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: statefs restore [-c CONFIG] [--into NAME] [--jobs N] [--no-backup] FILE|- "
		"db/NAME\n"
		"       statefs restore [-c CONFIG] --cleanup [db/NAME]\n"
		"  Replace database NAME (a [database \"NAME\"] section of the config) with the dump\n"
		"  in FILE (zstd or plain SQL; - reads stdin), atomically: the dump loads into a\n"
		"  staging database and is swapped in only when all of it loaded. Before the swap\n"
		"  the current database is saved to STATE_DIR/pre-restore/NAME-TIME.sql.zst.\n"
		"  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
		"      --into NAME      restore into database NAME instead (a configured one, or\n"
		"                       one on the same server as db/NAME); it must exist\n"
		"  -j, --jobs N         loading connections (default %u, at most %u)\n"
		"      --no-backup      do not save the current database first\n"
		"      --cleanup        only drop what crashed restores left behind\n"
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

/* Feed @fd to a restore of @db. */
static int run(const struct mtab_database *db, const struct mtab *tab, const char *file,
	       unsigned jobs, bool backup)
{
	struct backup b = {.db = db, .state_dir = tab->state_dir};
	struct restore_opts opts = {.jobs = jobs};
	struct restore_stats st;
	struct restore *r = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	char err[2048];
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	ssize_t n;
	int fd, rc;

	if (backup) {
		opts.before_swap = backup_hook;
		opts.arg = &b;
	}
	fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0 || !buf) {
		fprintf(stderr, P "%s: %s\n", file, fd < 0 ? strerror(errno) : "out of memory");
		free(buf);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = restore_db_begin(db, &opts, &r, err, sizeof(err));
	while (!rc) {
		n = read(fd, buf, cap);
		if (interrupted) {
			snprintf(err, sizeof(err), "interrupted by signal %d", (int)interrupted);
			rc = -EINTR;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0) {
			snprintf(err, sizeof(err), "reading %s: %s", file, strerror(errno));
			rc = -errno;
		} else if (n == 0) {
			break;
		} else if ((rc = restore_db_write(r, buf, (size_t)n))) {
			snprintf(err, sizeof(err), "%s", restore_db_error(r));
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	if (rc && r) {
		restore_db_abort(r);
		r = NULL;
	}
	if (!rc)
		rc = restore_db_finish(r, &st, err, sizeof(err));
	if (rc) {
		fprintf(stderr, P "db/%s: %s\n", db->name, err);
		return 1;
	}
	printf("statefs restore: db/%s restored from %s: %llu tables, %llu rows, %llu views, "
	       "routines, triggers and events; %.1f MiB of SQL in %.2f s (load %.2f s on %u "
	       "connections, swap %.2f s)\n",
	       db->name, file, (unsigned long long)st.tables, (unsigned long long)st.rows,
	       (unsigned long long)st.objects, (double)st.bytes_sql / (1 << 20),
	       st.load_s + st.swap_s, st.load_s, st.connections, st.swap_s);
	if (backup)
		printf("statefs restore: the database as it was before: %s\n", b.path);
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	enum { O_INTO = 256, O_NO_BACKUP, O_CLEANUP };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"into", required_argument, NULL, O_INTO},
	    {"jobs", required_argument, NULL, 'j'},   {"no-backup", no_argument, NULL, O_NO_BACKUP},
	    {"cleanup", no_argument, NULL, O_CLEANUP}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG, *into = NULL;
	const struct mtab_database *src;
	struct mtab_database target;
	struct mtab *tab = NULL;
	bool backup = true, only_cleanup = false;
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
		case O_NO_BACKUP:
			backup = false;
			break;
		case O_CLEANUP:
			only_cleanup = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (only_cleanup ? argc > 1 : argc != 2) {
		usage(stderr);
		return 2;
	}
	if (!only_cleanup && strcmp(argv[0], "-") && stat(argv[0], &sb)) {
		fprintf(stderr, P "%s: no such file (restoring from a snapshot is not available "
				"yet: give a dump file, or - for stdin)\n", argv[0]);
		return 2;
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
		status = 0;
		for (i = 0; i < tab->ndbs; i++)
			if (!argc || !strcmp(tab->dbs[i].name, name))
				status |= cleanup(&tab->dbs[i]);
		if (argc && !find_db(tab, name)) {
			fprintf(stderr, P "%s: no [database \"%s\"] section\n", config, name);
			status = 1;
		}
		goto out;
	}
	src = find_db(tab, name);
	if (!src) {
		fprintf(stderr, P "%s: no [database \"%s\"] section\n", config, name);
		goto out;
	}
	target = *src;
	if (into && find_db(tab, into))
		target = *find_db(tab, into);
	else if (into)
		target.name = (char *)into; /* another database on the same server */
	if (cleanup(&target))
		goto out;
	status = run(&target, tab, argv[0], (unsigned)jobs, backup);
out:
	mtab_free(tab);
	return status;
}
