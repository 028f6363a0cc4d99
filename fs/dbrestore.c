/*
 * dbrestore.c - a dump written onto db/NAME.sql.zst restores database NAME (restore/load.h).
 *
 * The bytes go to the restore library as cp writes them; the first flush (close(2)) is the
 * commit point: the library loads what is left, the pre-restore snapshot is taken, and the
 * tables are swapped in at once. Its result is what close returns: 0, or EIO with the reason
 * in the log. A release without a successful flush (the writer was killed) aborts, and the
 * live database is untouched.
 */
#define FUSE_USE_VERSION 34
#include "fs/dbrestore.h"
#include "restore/load.h"
#include "snapshot/events.h"
#include "snapshot/snap.h"

#include <fuse_log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dbrestore {
	const struct mtab *tab;
	const struct mtab_database *db;
	struct restore *r;
	off_t next;
	int finished, result;
	struct timespec t0; /* when the restore began, for its event */
};

static void log_msg(const struct mtab_database *db, enum fuse_log_level level, const char *msg)
{
	fuse_log(level, "statefs: db/%s.sql.zst: %s\n", db->name, msg);
}

/* Record the restore's outcome for `statefs status` and the metrics (snapshot/events.h). */
static void record(struct dbrestore *d, enum event_result result, const char *msg)
{
	char what[300], err[512];
	struct timespec t;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t);
	secs = (double)(t.tv_sec - d->t0.tv_sec) + (double)(t.tv_nsec - d->t0.tv_nsec) / 1e9;
	snprintf(what, sizeof(what), "db/%s", d->db->name);
	if (events_record(d->tab->state_dir, "restore", result, secs, what, err, sizeof(err), "%s",
			  msg))
		log_msg(d->db, FUSE_LOG_WARNING, err);
}

/* Before the swap: snapshot what is live now, so that the restore can be undone. */
static int pre_restore_snapshot(void *arg, char *err, size_t errlen)
{
	struct dbrestore *d = arg;
	struct snap_opts o = {.wait = true};
	struct snap_result res;
	char msg[600];
	int r;

	memset(&res, 0, sizeof(res));
	r = snap_take(d->tab, &o, &res, err, errlen);
	if (r)
		return r;
	snprintf(msg, sizeof(msg), "snapshot %s taken before the restore (copy its db/%s.sql.zst "
		 "back to undo it)", res.name, d->db->name);
	log_msg(d->db, FUSE_LOG_INFO, msg);
	return 0;
}

int dbrestore_open(const struct mtab *tab, const struct mtab_database *db, pid_t writer,
		   struct dbrestore **out, char *err, size_t errlen)
{
	struct dbrestore *d = calloc(1, sizeof(*d));
	struct restore_opts o = {.before_swap = pre_restore_snapshot};
	int r;

	(void)writer;
	if (!d)
		return -ENOMEM;
	d->tab = tab;
	d->db = db;
	o.arg = d;
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	r = restore_db_begin(db, &o, &d->r, err, errlen);
	if (r) {
		free(d);
		return r;
	}
	log_msg(db, FUSE_LOG_INFO, "restore started");
	*out = d;
	return 0;
}

ssize_t dbrestore_write(struct dbrestore *d, const char *buf, size_t size, off_t off)
{
	int r;

	if (d->finished)
		return -EBADF;
	if (off != d->next) {
		log_msg(d->db, FUSE_LOG_ERR,
			"a restore must be written from start to end, in order (cp does that)");
		return -ESPIPE;
	}
	r = restore_db_write(d->r, buf, size);
	if (r) {
		log_msg(d->db, FUSE_LOG_ERR, restore_db_error(d->r));
		return -EIO;
	}
	d->next += (off_t)size;
	return (ssize_t)size;
}

int dbrestore_finish(struct dbrestore *d)
{
	struct restore_stats st;
	char err[1024] = "", msg[1200];
	int r;

	if (d->finished)
		return d->result;
	d->finished = 1;
	memset(&st, 0, sizeof(st));
	r = restore_db_finish(d->r, &st, err, sizeof(err));
	d->r = NULL; /* freed by finish, whatever the result */
	if (r) {
		snprintf(msg, sizeof(msg), "restore failed, %s: %s",
			 st.swapped ? "after the tables were swapped in (the snapshot taken "
				      "before holds the previous state)"
				    : "the database is unchanged",
			 err);
		log_msg(d->db, FUSE_LOG_ERR, msg);
		record(d, EVENT_FAILED, msg);
		d->result = r == -EBUSY ? -EBUSY : -EIO;
		return d->result;
	}
	snprintf(msg, sizeof(msg), "restored: %llu tables, %llu rows in %.1f s",
		 (unsigned long long)st.tables, (unsigned long long)st.rows, st.load_s + st.swap_s);
	log_msg(d->db, FUSE_LOG_INFO, msg);
	record(d, EVENT_OK, msg);
	d->result = 0;
	return 0;
}

void dbrestore_close(struct dbrestore *d)
{
	if (!d)
		return;
	if (d->r) {
		log_msg(d->db, FUSE_LOG_ERR, "closed before the end: restore abandoned, the database "
					     "is unchanged");
		record(d, EVENT_FAILED, "closed before the end: restore abandoned, the database "
					"is unchanged");
		restore_db_abort(d->r);
	}
	free(d);
}
