/*
 * dump.c - dump_database(): the shared snapshot, the worker threads and the ordered output.
 *
 * The one thing to know: the sink has a single owner at a time (run.sink_busy), and output
 * goes to it strictly in item order (run.next_emit). Items are the tables, in name order; the
 * header is written before any worker starts and the trailer after they all stop. A worker
 * dumping the item at next_emit takes the sink at its next chunk boundary and writes live
 * (after replaying what it spooled so far); a worker ahead of the head spools to an unlinked
 * temporary file, which the main thread replays when the item's turn comes. Chunks keep their
 * boundaries through a spool: a spool file is a sequence of records (u64 length, bytes), one
 * per chunk.
 */
#include "snapshot/dump_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore/spool.h"

#define COPY_BUF (64u * 1024)

enum item_state { IT_PENDING, IT_RUNNING, IT_DONE };

struct item {
	const char *name;
	bool is_seq;
	enum item_state state;
	bool live; /* its worker owns the sink */
	bool gone; /* dropped after the table list was read: skipped */
	int spool; /* spool file, -1 if none */
};

struct run {
	const struct mtab_database *db;
	const struct dump_sink *sink;
	const char *tmpdir;
	struct dump_stats *st;
	struct item *items;
	size_t n;
	size_t next_take; /* the next item a worker takes */
	size_t next_emit; /* the next item to reach the sink */
	bool sink_busy;
	int rc; /* the first error; stops everyone */
	char *err;
	size_t errlen;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

struct worker {
	struct dump_out out; /* first: worker_flush() finds the worker from it */
	struct run *r;
	MYSQL *m;
	pthread_t th;
	struct item *it;
	char err[1024];
};

/* Record the first error; later ones are consequences. Caller holds r->mu. */
static void fail_locked(struct run *r, int rc, const char *msg)
{
	if (r->rc)
		return;
	r->rc = rc;
	if (r->errlen)
		snprintf(r->err, r->errlen, "%s", msg);
	pthread_cond_broadcast(&r->cv);
}

static int sink_fail(struct run *r, const char *what, int rc, char *err, size_t errlen)
{
	if (rc > 0)
		rc = -EIO;
	return dump_fail(err, errlen, rc, "database %s: dump output: %s failed: %s", r->db->name,
			 what, strerror(-rc));
}

/* Caller owns the sink. */
static int sink_write(struct run *r, const void *p, size_t n, char *err, size_t errlen)
{
	int rc = r->sink->write(r->sink->ctx, p, n);

	if (rc)
		return sink_fail(r, "write", rc, err, errlen);
	r->st->bytes += n;
	return 0;
}

static int sink_cut(struct run *r, char *err, size_t errlen)
{
	int rc = r->sink->cut ? r->sink->cut(r->sink->ctx) : 0;

	if (rc)
		return sink_fail(r, "cut", rc, err, errlen);
	r->st->chunks++;
	return 0;
}

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

/* Read exactly @n bytes at @off; -EIO on a short read. */
static int pread_all(int fd, void *p, size_t n, off_t off)
{
	char *q = p;
	ssize_t k;

	while (n) {
		k = pread(fd, q, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		q += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/* Send a finished item's spool to the sink: its records, each followed by a cut. */
static int spool_replay(struct run *r, int fd, char *err, size_t errlen)
{
	char *buf = malloc(COPY_BUF);
	off_t off = 0, end;
	uint64_t len;
	size_t k;
	int rc = 0;

	if (!buf)
		return dump_fail(err, errlen, -ENOMEM, "database %s: out of memory", r->db->name);
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		rc = -errno;
		goto read_fail;
	}
	while (off < end) {
		rc = pread_all(fd, &len, sizeof(len), off);
		if (rc)
			goto read_fail;
		off += sizeof(len);
		for (; len; len -= k, off += (off_t)k) {
			k = len < COPY_BUF ? (size_t)len : COPY_BUF;
			rc = pread_all(fd, buf, k, off);
			if (rc)
				goto read_fail;
			rc = sink_write(r, buf, k, err, errlen);
			if (rc)
				goto out;
		}
		rc = sink_cut(r, err, errlen);
		if (rc)
			goto out;
	}
	goto out;
read_fail:
	rc = dump_fail(err, errlen, rc, "database %s: reading a spool file: %s", r->db->name,
		       strerror(-rc));
out:
	free(buf);
	return rc;
}

/* The item's first bytes reach the sink: announce the table, then replay its spool. */
static int begin_item(struct run *r, struct item *it, char *err, size_t errlen)
{
	int rc = 0;

	if (it->gone)
		return 0; /* no output: no table_begin either */
	if (r->sink->table_begin) {
		rc = r->sink->table_begin(r->sink->ctx, it->name);
		if (rc)
			return sink_fail(r, "table_begin", rc, err, errlen);
	}
	if (it->spool >= 0) {
		rc = spool_replay(r, it->spool, err, errlen);
		close(it->spool);
		it->spool = -1;
	}
	return rc;
}

static int worker_flush(struct dump_out *o)
{
	struct worker *w = (struct worker *)o;
	struct run *r = w->r;
	struct item *it = w->it;
	uint64_t len = o->buf.len;
	bool go = false;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (r->rc) {
		rc = -ECANCELED;
	} else if (!it->live && r->next_emit == (size_t)(it - r->items) && !r->sink_busy) {
		r->sink_busy = true;
		it->live = go = true;
	}
	pthread_mutex_unlock(&r->mu);
	if (rc)
		return dump_fail(w->err, sizeof(w->err), rc, "cancelled");
	if (go) {
		rc = begin_item(r, it, w->err, sizeof(w->err));
		if (rc)
			return rc;
	}
	if (it->live) {
		rc = sink_write(r, o->buf.p, o->buf.len, w->err, sizeof(w->err))
			 ?: sink_cut(r, w->err, sizeof(w->err));
	} else {
		if (it->spool < 0) {
			it->spool = spool_tmpfile(r->tmpdir);
			if (it->spool < 0)
				return dump_fail(w->err, sizeof(w->err), it->spool,
						 "database %s: spool file in %s: %s", r->db->name,
						 r->tmpdir, strerror(-it->spool));
		}
		rc = write_all(it->spool, &len, sizeof(len))
			 ?: write_all(it->spool, o->buf.p, o->buf.len);
		if (rc)
			return dump_fail(w->err, sizeof(w->err), rc,
					 "database %s: writing a spool file in %s: %s", r->db->name,
					 r->tmpdir, strerror(-rc));
	}
	o->buf.len = 0;
	return rc;
}

static const char rollback_sql[] = "ROLLBACK TO SAVEPOINT sp";

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	const char *db = r->db->name;
	uint64_t rows;
	int rc;

	mysql_thread_init();
	for (;;) {
		pthread_mutex_lock(&r->mu);
		if (r->rc || r->next_take == r->n) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		w->it = &r->items[r->next_take++];
		w->it->state = IT_RUNNING;
		pthread_mutex_unlock(&r->mu);

		rows = 0;
		w->err[0] = '\0';
		rc = dump_table_ddl(w->m, db, w->it->name, w->it->is_seq, &w->out, w->err,
				    sizeof(w->err));
		if (rc == 1) {
			w->it->gone = true;
			rc = 0;
		} else if (!rc && w->it->is_seq) {
			rc = dump_sequence_state(w->m, db, w->it->name, &w->out, w->err,
						 sizeof(w->err));
		} else if (!rc) {
			rc = dump_table_rows(w->m, db, w->it->name, &w->out, &rows, w->err,
					     sizeof(w->err));
		}
		/* Release the table's metadata lock: DDL on it need not wait for the dump. */
		if (!rc)
			rc = dump_exec(w->m, db, rollback_sql, w->err, sizeof(w->err));

		pthread_mutex_lock(&r->mu);
		if (rc) {
			fail_locked(r, rc, w->err);
		} else {
			w->it->state = IT_DONE;
			r->st->rows += rows;
			r->st->tables += !w->it->gone;
			if (w->it->live) {
				r->sink_busy = false;
				r->next_emit++;
			}
			pthread_cond_broadcast(&r->cv);
		}
		pthread_mutex_unlock(&r->mu);
		if (rc)
			break;
	}
	mysql_thread_end();
	return NULL;
}

/* The main thread: replay finished items when their turn comes, until all are out. */
static int emit_loop(struct run *r)
{
	char err[1024];
	struct item *it;
	int rc;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->rc && r->next_emit < r->n &&
		       (r->items[r->next_emit].state != IT_DONE || r->sink_busy))
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->rc || r->next_emit == r->n)
			break;
		it = &r->items[r->next_emit];
		r->sink_busy = true;
		pthread_mutex_unlock(&r->mu);
		rc = begin_item(r, it, err, sizeof(err));
		pthread_mutex_lock(&r->mu);
		r->sink_busy = false;
		if (rc)
			fail_locked(r, rc, err);
		else
			r->next_emit++;
		pthread_cond_broadcast(&r->cv);
	}
	rc = r->rc;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Output of the main thread (header, trailer): it owns the sink then. */
struct main_out {
	struct dump_out out;
	struct run *r;
	char *err;
	size_t errlen;
};

static int main_flush(struct dump_out *o)
{
	struct main_out *mo = (struct main_out *)o;
	int rc;

	rc = sink_write(mo->r, o->buf.p, o->buf.len, mo->err, mo->errlen)
		 ?: sink_cut(mo->r, mo->err, mo->errlen);
	o->buf.len = 0;
	return rc;
}

/* How many base tables the database has, to size the connection pool. */
static size_t count_tables(MYSQL *m, const char *db)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	size_t n = 0;
	char err[256];

	if (dump_query(m, db, "SHOW FULL TABLES", &res, err, sizeof(err)))
		return 1;
	while ((row = mysql_fetch_row(res)))
		n += row[1] && strcmp(row[1], "VIEW");
	mysql_free_result(res);
	return n;
}

/*
 * Take FLUSH TABLES WITH READ LOCK, unless a query has been running for over a second: the
 * lock waits for such queries, and every write on the server waits behind it meanwhile (the
 * guard only sees other users' queries with the PROCESS privilege). The wait is bounded by
 * DUMP_LOCK_WAIT_S; lock_wait_timeout goes back to its default afterwards, so it does not
 * bound the dump's own reads.
 */
static bool global_lock(MYSQL *m, const char *db)
{
	static const char guard_sql[] =
	    "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
	    "WHERE COMMAND = 'Query' AND TIME >= 1 AND ID <> CONNECTION_ID()";
	char sql[64], ignored[256];
	MYSQL_RES *res;
	MYSQL_ROW row;
	bool busy, locked;

	if (dump_query(m, db, guard_sql, &res, ignored, sizeof(ignored)))
		return false;
	row = mysql_fetch_row(res);
	busy = !row || !row[0] || strcmp(row[0], "0");
	mysql_free_result(res);
	if (busy)
		return false;
	snprintf(sql, sizeof(sql), "SET SESSION lock_wait_timeout = %u", DUMP_LOCK_WAIT_S);
	locked = !dump_exec(m, db, sql, ignored, sizeof(ignored)) &&
		 !dump_exec(m, db, "FLUSH TABLES WITH READ LOCK", ignored, sizeof(ignored));
	dump_exec(m, db, "SET SESSION lock_wait_timeout = DEFAULT", ignored, sizeof(ignored));
	return locked;
}

static const char start_sql[] = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
static const char iso_sql[] = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ";

/*
 * Open @*jobs connections sharing one snapshot (see dump.h), and read the table list inside
 * it. On return *jobs is the number of connections actually in use.
 */
static int open_snapshot(const struct mtab_database *db, MYSQL **conns, unsigned *jobs,
			 struct dump_names *tables, bool **is_seq, struct dump_names *views,
			 char *err, size_t errlen)
{
	unsigned i, n = *jobs;
	bool locked = false;
	char ignored[256];
	size_t ntables;
	int rc;

	rc = dump_connect(db, db->name, &conns[0], err, errlen);
	if (rc)
		return rc;
	if (n > 1) {
		ntables = count_tables(conns[0], db->name);
		if (ntables < n)
			n = ntables ? (unsigned)ntables : 1;
	}
	for (i = 1; i < n; i++)
		if (dump_connect(db, db->name, &conns[i], ignored, sizeof(ignored)))
			break; /* a connection limit: go on with fewer */
	n = i;
	if (n > 1 && !global_lock(conns[0], db->name)) {
		/* Without the lock the snapshots could differ: use one connection. */
		for (i = 1; i < n; i++) {
			mysql_close(conns[i]);
			conns[i] = NULL;
		}
		n = 1;
	}
	locked = n > 1;
	*jobs = n;
	for (i = 0; !rc && i < n; i++)
		rc = dump_exec(conns[i], db->name, iso_sql, err, errlen)
			 ?: dump_exec(conns[i], db->name, start_sql, err, errlen)
			 ?: dump_exec(conns[i], db->name, "SAVEPOINT sp", err, errlen);
	rc = rc ?: dump_list_tables(conns[0], db->name, tables, is_seq, views, err, errlen);
	if (locked) {
		int rc2 = dump_exec(conns[0], db->name, "UNLOCK TABLES", err, errlen);

		rc = rc ?: rc2;
	}
	return rc;
}

int dump_database(const struct mtab_database *db, const struct dump_opts *opts,
		  const struct dump_sink *sink, struct dump_stats *stats, char *err, size_t errlen)
{
	struct dump_names tables = {0}, views = {0};
	struct worker workers[DUMP_JOBS_MAX];
	MYSQL *conns[DUMP_JOBS_MAX] = {0};
	struct dump_stats st_local;
	struct main_out mo = {0};
	struct run r = {0};
	unsigned jobs, started, i;
	bool *is_seq = NULL;
	const char *tmp;
	int rc;

	if (errlen)
		err[0] = '\0';
	if (!stats)
		stats = &st_local;
	memset(stats, 0, sizeof(*stats));
	jobs = opts && opts->jobs ? opts->jobs : DUMP_JOBS_DEFAULT;
	if (jobs > DUMP_JOBS_MAX)
		jobs = DUMP_JOBS_MAX;
	tmp = opts && opts->tmpdir ? opts->tmpdir : getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	r = (struct run){
	    .db = db, .sink = sink, .tmpdir = tmp, .st = stats, .err = err, .errlen = errlen};
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	memset(workers, 0, sizeof(workers));
	mo = (struct main_out){.out.flush = main_flush, .r = &r, .err = err, .errlen = errlen};

	rc = open_snapshot(db, conns, &jobs, &tables, &is_seq, &views, err, errlen);
	if (rc)
		goto out;
	stats->connections = jobs;
	stats->shared_snapshot = jobs > 1;
	r.n = tables.n;
	r.items = calloc(tables.n + 1, sizeof(*r.items));
	if (!r.items) {
		rc = dump_fail(err, errlen, -ENOMEM, "database %s: out of memory", db->name);
		goto out;
	}
	for (i = 0; i < tables.n; i++)
		r.items[i] = (struct item){.name = tables.v[i], .is_seq = is_seq[i], .spool = -1};

	rc = dump_header(conns[0], db->name, &mo.out, err, errlen);
	if (rc)
		goto out;
	for (started = 0; started < jobs; started++) {
		workers[started] =
		    (struct worker){.out.flush = worker_flush, .r = &r, .m = conns[started]};
		if (pthread_create(&workers[started].th, NULL, worker_main, &workers[started]))
			break;
	}
	if (!started) {
		rc =
		    dump_fail(err, errlen, -EAGAIN, "database %s: cannot start a thread", db->name);
		goto out;
	}
	rc = emit_loop(&r); /* returns once all are out, or on the first error */
	for (i = 0; i < started; i++)
		pthread_join(workers[i].th, NULL);
	if (rc)
		goto out;
	rc = dump_trailer(conns[0], db->name, &views, &mo.out, stats, err, errlen);
out:
	for (i = 0; i < DUMP_JOBS_MAX; i++) {
		dbuf_free(&workers[i].out.buf);
		if (conns[i])
			mysql_close(conns[i]);
	}
	for (i = 0; r.items && i < r.n; i++)
		if (r.items[i].spool >= 0)
			close(r.items[i].spool);
	dbuf_free(&mo.out.buf);
	free(r.items);
	free(is_seq);
	dump_names_free(&tables);
	dump_names_free(&views);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	return rc;
}
