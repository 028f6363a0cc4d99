/*
 * load_fast.c - rows through the server's bulk path: a run of a job's INSERTs that tsv.h
 * takes is sent as one LOAD DATA LOCAL INFILE, inside a transaction, its data served from
 * memory (never from a file, whatever the server asks for). Any doubt, and the run is rolled
 * back and its INSERTs run as they are: a statement not in the shape, an error, a warning, a
 * row count that is not the INSERTs' (LOCAL turns a duplicate key into a warning). The data
 * is converted one INSERT at a time, in the read callback the client library calls while it
 * sends the file: the server parses the rows sent so far meanwhile, where converting the whole
 * run first left it idle for that long (and held the run twice in memory).
 *
 * Which statements are fast is decided by the writer (load_input.c): rows of a statefs dump,
 * of a table tsv.h takes, while the session state is exactly the one the dump's header sets.
 * That state has unique_checks = 0, which with foreign_key_checks = 0 makes InnoDB take its
 * bulk-insert mode for a transaction that starts on an empty table: measured here (10.11) it
 * makes a LOAD about twice as slow, and it locks the table against the other chunks. So a LOAD
 * runs with unique_checks = 1 (stricter: a duplicate in a unique key fails the load), and the
 * dump's 0 is set back before any other statement.
 *
 * Measured on a 2-core VM, 128 MiB buffer pool, a WordPress-like dump: the server spends about
 * 15% less CPU on a LOAD than on the same rows as INSERTs, and the client does not parse them.
 */
#include "restore/load_int.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

#define FAST_FILE "statefs-rows"    /* the file name our LOAD statements ask for */
#define FAST_BATCH (4u << 20)	    /* bytes of INSERTs loaded in one transaction */
#define ER_LOAD_INFILE_DISABLED 4166 /* MariaDB's, when local_infile is OFF */

static int inf_init(void **ptr, const char *file, void *arg)
{
	struct rworker *w = arg;

	*ptr = w;
	if (!w->feed_armed || strcmp(file, FAST_FILE))
		return 1; /* not a request of ours */
	w->feed_armed = false;
	return 0;
}

/*
 * Convert the feed's next statement into w->tsv: 1, or 0 where the LOAD's data ends (no
 * statement left, another head, a value not in the shape; feed.next stays on that statement).
 */
static int feed_more(struct rworker *w)
{
	struct rfeed *f = &w->feed;
	const struct rstmt *s = f->next;
	const char *sql;
	int rc;

	if (!s || s->len < f->head)
		return 0;
	rc = restore_stmt_text(w->r, w, s, &sql);
	if (rc) {
		f->err = rc;
		return 0;
	}
	if (memcmp(sql, w->head.p, f->head))
		return 0;
	rc = restore_tsv_rows(sql, s->len, f->head, f->kinds, f->n, &w->tsv, &f->rows);
	if (rc <= 0) {
		f->err = rc;
		return 0;
	}
	f->next = s->next;
	return 1;
}

/* The LOAD's data, converted a statement at a time as the server reads: it parses meanwhile. */
static int inf_read(void *ptr, char *buf, unsigned int len)
{
	struct rworker *w = ptr;
	struct rfeed *f = &w->feed;
	size_t n;

	if (f->pos == w->tsv.len) {
		w->tsv.len = f->pos = 0;
		if (!feed_more(w))
			return 0;
	}
	n = w->tsv.len - f->pos;
	n = n < len ? n : len;
	memcpy(buf, w->tsv.p + f->pos, n);
	f->pos += n;
	return (int)n;
}

static void inf_end(void *ptr)
{
	(void)ptr;
}

static int inf_error(void *ptr, char *msg, unsigned int len)
{
	(void)ptr;
	snprintf(msg, len, "statefs serves only the LOAD DATA it sent");
	return CR_UNKNOWN_ERROR;
}

void restore_fast_attach(struct rworker *w)
{
	mysql_set_local_infile_handler(w->m, inf_init, inf_read, inf_end, inf_error, w);
}

void restore_fast_free(struct rworker *w)
{
	restore_tsv_buf_free(&w->tsv);
	restore_tsv_buf_free(&w->load_sql);
	restore_tsv_buf_free(&w->head);
}

int restore_fast_leave(struct restore *r, struct rworker *w)
{
	char msg[256];
	int rc;

	if (!w->uc_forced)
		return 0;
	rc = restore_execf(w->m, msg, sizeof(msg), "SET SESSION unique_checks = 0");
	if (rc)
		return restore_fail(r, rc, "%s", msg);
	w->uc_forced = false;
	return 0;
}

/* A copy of the run's INSERT head, which each of its statements must start with. */
static int keep_head(struct rworker *w, const char *sql, size_t n)
{
	char *p;

	if (w->head.cap < n) {
		p = realloc(w->head.p, n);
		if (!p)
			return -ENOMEM;
		w->head.p = p;
		w->head.cap = n;
	}
	memcpy(w->head.p, sql, n);
	w->head.len = n;
	return 0;
}

/* Run the LOAD of the feed: 1 loaded, 0 rolled back (run the INSERTs), or < 0. */
static int load(struct restore *r, struct rworker *w)
{
	char msg[256];
	my_ulonglong n;
	unsigned err;
	int rc;

	if (!w->uc_forced) {
		rc = restore_execf(w->m, msg, sizeof(msg), "SET SESSION unique_checks = 1");
		if (rc)
			return restore_fail(r, rc, "%s", msg);
		w->uc_forced = true;
	}
	rc = restore_execf(w->m, msg, sizeof(msg), "START TRANSACTION");
	if (rc)
		return restore_fail(r, rc, "%s", msg);
	w->feed_armed = true;
	if (mysql_real_query(w->m, w->load_sql.p, w->load_sql.len)) {
		err = mysql_errno(w->m);
		if (err == CR_SERVER_LOST || err == CR_SERVER_GONE_ERROR)
			return restore_fail(r, -ECONNRESET, "LOAD DATA: %s", mysql_error(w->m));
		if (err == ER_NOT_ALLOWED_COMMAND || err == ER_LOAD_INFILE_DISABLED ||
		    (err >= CR_MIN_ERROR && err <= CR_MAX_ERROR))
			w->nofast = true; /* the server or the library will not: INSERTs only */
	} else if (!w->feed.err) { /* an error reading a spooled statement back ends the data */
		n = mysql_affected_rows(w->m);
		if (n == w->feed.rows && !mysql_warning_count(w->m)) {
			rc = restore_execf(w->m, msg, sizeof(msg), "COMMIT");
			if (rc)
				return restore_fail(r, rc, "%s", msg);
			w->rows += n;
			w->rows_loaded += n;
			return 1;
		}
	}
	w->feed_armed = false;
	rc = restore_execf(w->m, msg, sizeof(msg), "ROLLBACK");
	if (rc)
		return restore_fail(r, rc, "%s", msg);
	return w->feed.err < 0 ? restore_fail(r, w->feed.err, "converting rows: %s",
					      strerror(-w->feed.err)) : 0;
}

/*
 * Load what can be of @run (statements with its head, each in the shape) with one LOAD whose
 * data is converted as it is sent; the rest, or all of it if the LOAD is rolled back, as INSERTs.
 */
static int load_run(struct restore *r, struct rworker *w, const struct tsv_cols *cols,
		    struct rstmt *run)
{
	struct rfeed *f = &w->feed;
	const struct rstmt *s, *stop = run;
	const char *sql;
	int rc;

	*f = (struct rfeed){.next = run};
	rc = restore_stmt_text(r, w, run, &sql);
	if (rc)
		return rc;
	f->head = restore_tsv_head(cols, sql, run->len, f->kinds, &f->n);
	w->head.len = 0;
	if (f->head && (restore_tsv_load_sql(sql, f->head, FAST_FILE, &w->load_sql) ||
			keep_head(w, sql, f->head)))
		return restore_fail(r, -ENOMEM, "out of memory");
	w->tsv.len = 0;
	if (f->head && feed_more(w)) { /* the first statement before the LOAD: it will be one */
		rc = load(r, w);
		if (rc < 0)
			return rc;
		if (rc)
			stop = f->next;
	} else if (f->err < 0) {
		return restore_fail(r, f->err, "converting rows: %s", strerror(-f->err));
	}
	for (s = stop; s; s = s->next) {
		rc = restore_fast_leave(r, w) ?: restore_run_stmt(r, w, s);
		if (rc)
			return rc;
	}
	return 0;
}

int restore_fast_run(struct restore *r, struct rworker *w, struct rjob *j)
{
	struct rstmt *run = NULL, **tail = &run, *s;
	size_t bytes = 0;
	int rc;

	while ((s = j->head) && s->fast && bytes < FAST_BATCH) {
		j->head = s->next;
		if (!j->head)
			j->tail = NULL;
		s->next = NULL;
		*tail = s;
		tail = &s->next;
		bytes += s->len;
	}
	pthread_mutex_unlock(&r->mu);
	rc = load_run(r, w, j->tab->cols, run);
	pthread_mutex_lock(&r->mu);
	while ((s = run)) {
		run = s->next;
		restore_stmt_done(r, s);
		free(s);
	}
	return rc;
}
