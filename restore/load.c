/*
 * load.c - a restore's life: begin (connections, lock, scratch databases), write, finish,
 * abort; the first failure and its message.
 *
 * The first failure wins: it is recorded once (restore_fail), every thread sees it and stops,
 * and every later call returns it. Until the swap's commit point (see load_swap.c) a failure
 * drops the scratch databases and nothing else; the live database is never written before.
 */
#include "restore/load_int.h"

#include <errno.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/dump.h"

double restore_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int restore_vfail(struct restore *r, int rc, const char *fmt, va_list ap)
{
	int n;

	pthread_mutex_lock(&r->mu);
	if (!r->rc) {
		r->rc = rc < 0 ? rc : -EIO;
		n = snprintf(r->msg, sizeof(r->msg), "database %s: ", r->db->name);
		vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	}
	rc = r->rc;
	pthread_cond_broadcast(&r->work);
	pthread_cond_broadcast(&r->space);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int restore_fail(struct restore *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rc = restore_vfail(r, rc, fmt, ap);
	va_end(ap);
	return rc;
}

static int failed(struct restore *r)
{
	int rc;

	pthread_mutex_lock(&r->mu);
	rc = r->rc;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* A one-value query: its first column as a string into out. */
static int query_value(struct restore *r, const char *sql, char *out, size_t outlen)
{
	struct rnames v = {0};
	char msg[512];
	int rc;

	rc = restore_query_names(r->coord, sql, false, &v, msg, sizeof(msg));
	if (rc)
		return restore_fail(r, rc, "%s", msg);
	if (v.n)
		snprintf(out, outlen, "%s", v.v[0]);
	rc = v.n ? 0 : 1;
	rnames_free(&v);
	return rc;
}

/* The live database's character set and collation; -ENOENT if it does not exist. */
static int live_defaults(struct restore *r)
{
	char lit[RESTORE_QUOTED], sql[2 * RESTORE_QUOTED + 256], both[200], *tab;
	int rc;

	restore_literal(r->coord, lit, r->db->name);
	snprintf(sql, sizeof(sql),
		 "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, '\\t', "
		 "DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s "
		 "AND BINARY SCHEMA_NAME = BINARY %s",
		 lit, lit);
	rc = query_value(r, sql, both, sizeof(both));
	if (rc == 1)
		return restore_fail(r, -ENOENT,
				    "no such database on the server (a restore "
				    "replaces an existing database: create it first)");
	tab = strchr(both, '\t');
	if (rc || !tab)
		return rc ? rc : restore_fail(r, -EIO, "odd character set: %s", both);
	*tab = '\0';
	snprintf(r->cs, sizeof(r->cs), "%.63s", both);
	snprintf(r->coll, sizeof(r->coll), "%.63s", tab + 1);
	if (strspn(r->cs, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(r->cs) ||
	    strspn(r->coll, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(r->coll))
		return restore_fail(r, -EIO, "odd character set: %s %s", r->cs, r->coll);
	return 0;
}

/* The other databases, which no statement may name; then STAGE and OLD, created empty. */
static int scratch(struct restore *r)
{
	static atomic_uint counter;
	struct rnames all = {0};
	char msg[512], q[RESTORE_QUOTED];
	unsigned n, tries;
	size_t i;
	int rc;

	rc = restore_query_names(r->coord, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA",
				 false, &all, msg, sizeof(msg));
	if (rc)
		return restore_fail(r, rc, "listing databases: %s", msg);
	r->others = calloc(all.n + 2, sizeof(char *));
	if (!r->others) {
		rnames_free(&all);
		return restore_fail(r, -ENOMEM, "out of memory");
	}
	for (i = 0; i < all.n; i++) {
		if (strcmp(all.v[i], r->db->name))
			r->others[r->nothers++] = all.v[i];
		else
			free(all.v[i]);
	}
	free(all.v);
	for (tries = 0; tries < 8; tries++) {
		n = atomic_fetch_add(&counter, 1) + 1;
		snprintf(r->stage, sizeof(r->stage), "%.30s__statefs_stage_%d_%u", r->base,
			 (int)getpid(), n % 1000000);
		snprintf(r->old, sizeof(r->old), "%.30s__statefs_old_%d_%u", r->base, (int)getpid(),
			 n % 1000000);
		restore_ident(q, r->stage);
		rc = restore_execf(r->coord, msg, sizeof(msg),
				   "CREATE DATABASE %s CHARACTER SET "
				   "%s COLLATE %s",
				   q, r->cs, r->coll);
		if (rc && mysql_errno(r->coord) == ER_DB_CREATE_EXISTS)
			continue;
		if (rc) {
			r->stage[0] = r->old[0] = '\0';
			return restore_fail(r, rc, "creating the staging database: %s", msg);
		}
		restore_ident(q, r->old);
		rc = restore_execf(r->coord, msg, sizeof(msg),
				   "CREATE DATABASE %s CHARACTER SET "
				   "%s COLLATE %s",
				   q, r->cs, r->coll);
		if (rc) {
			r->old[0] = '\0';
			return restore_fail(r, rc, "creating a scratch database: %s", msg);
		}
		r->others[r->nothers++] = r->stage;
		r->others[r->nothers++] = r->old;
		return 0;
	}
	r->stage[0] = r->old[0] = '\0';
	return restore_fail(r, -EEXIST, "no free name for the staging database");
}

/*
 * Does a LOAD DATA leave other LOADs into its table free to run (innodb_autoinc_lock_mode 2)?
 * Under the default (1), it holds the table's AUTO-INC lock until it ends, even when every
 * value is given: LOADs into a table with an AUTO_INCREMENT column run one at a time.
 */
static bool autoinc_free(struct restore *r)
{
	struct rnames v = {0};
	char msg[256];
	bool free_ = false;

	if (!restore_query_names(r->coord, "SELECT @@innodb_autoinc_lock_mode", false, &v, msg,
				 sizeof(msg)))
		free_ = v.n && !strcmp(v.v[0], "2");
	rnames_free(&v);
	return free_;
}

static int setup(struct restore *r)
{
	char lit[RESTORE_QUOTED], sql[RESTORE_QUOTED + 64], v[64], msg[512];
	unsigned i;
	int rc;

	restore_base_name(r->db->name, r->base);
	snprintf(r->lock, sizeof(r->lock), "statefs-restore:%s", r->base);
	restore_literal(r->coord, lit, r->lock);
	snprintf(sql, sizeof(sql), "SELECT GET_LOCK(%s, 0)", lit);
	rc = query_value(r, sql, v, sizeof(v));
	if (rc < 0)
		return rc;
	if (rc)
		return restore_fail(r, -EIO, "%s returned NULL", sql);
	if (strcmp(v, "1"))
		return restore_fail(r, -EBUSY, "a restore of this database is already running");
	rc = live_defaults(r);
	if (rc)
		return rc;
	r->version = mysql_get_server_version(r->coord);
	rc = query_value(r, "SELECT @@max_allowed_packet", v, sizeof(v));
	if (rc)
		return rc < 0 ? rc : restore_fail(r, -EIO, "no max_allowed_packet");
	r->max_packet = strtoul(v, NULL, 10);
	r->autoinc_free = autoinc_free(r);
	rc = restore_execf(r->coord, msg, sizeof(msg), "SET SESSION FOREIGN_KEY_CHECKS = 0");
	if (rc)
		return restore_fail(r, rc, "%s", msg);
	rc = scratch(r);
	if (rc)
		return rc;
	r->guard = (struct restore_guard){r->db->name, (const char *const *)r->others, r->nothers,
					  r->version};
	r->split = sqlsplit_new(r->max_packet ? r->max_packet : (1u << 30));
	if (!r->split)
		return restore_fail(r, -ENOMEM, "out of memory");
	for (i = 0; i < r->nw; i++) {
		rc = dump_connect(r->db, r->stage, &r->w[i].m, msg, sizeof(msg));
		rc = rc ?: restore_session_defaults(r->w[i].m, msg, sizeof(msg));
		if (rc)
			return restore_fail(r, rc, "a loading connection: %s", msg);
		r->w[i].id = mysql_thread_id(r->w[i].m);
		restore_fast_attach(&r->w[i]);
	}
	return restore_workers_start(r);
}

/* Drop STAGE (and OLD unless kept), on a new connection if the coordinator's is gone. */
static void drop_scratch(struct restore *r, bool keep_old)
{
	char msg[512];

	if (!r->stage[0] && !r->old[0])
		return;
	if (r->coord && mysql_ping(r->coord)) {
		mysql_close(r->coord);
		r->coord = NULL;
	}
	if (!r->coord && dump_connect(r->db, NULL, &r->coord, msg, sizeof(msg)))
		return; /* left for restore_cleanup_stale */
	if (r->stage[0])
		restore_drop_db(r->coord, r->stage, msg, sizeof(msg));
	if (r->old[0] && !keep_old)
		restore_drop_db(r->coord, r->old, msg, sizeof(msg));
}

static void destroy(struct restore *r)
{
	unsigned i;

	for (i = 0; i < r->nw; i++) {
		if (r->w[i].m)
			mysql_close(r->w[i].m);
		restore_fast_free(&r->w[i]);
		free(r->w[i].text);
	}
	spool_close(r->spool);
	if (r->coord)
		mysql_close(r->coord); /* releases GET_LOCK */
	restore_jobs_free(r);
	sqlsplit_free(r->split);
	ZSTD_freeDStream(r->z);
	free(r->zbuf);
	for (i = 0; i < r->nothers; i++)
		if (r->others[i] != r->stage && r->others[i] != r->old)
			free(r->others[i]);
	free(r->others);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->work);
	pthread_cond_destroy(&r->space);
	free(r);
}

int restore_db_begin(const struct mtab_database *db, const struct restore_opts *opts,
		     struct restore **out, char *err, size_t errlen)
{
	struct restore *r;
	int rc;

	*out = NULL;
	if (!db->name || !*db->name || strlen(db->name) > 192) {
		snprintf(err, errlen, "database %s: not a database name", db->name ? db->name : "");
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "database %s: out of memory", db->name);
		return -ENOMEM;
	}
	r->db = db;
	if (opts)
		r->opts = *opts;
	r->nw = r->opts.jobs ? r->opts.jobs : RESTORE_JOBS_DEFAULT;
	r->nw = r->nw > RESTORE_JOBS_MAX ? RESTORE_JOBS_MAX : r->nw;
	r->opts.queue_bytes = r->opts.queue_bytes ? r->opts.queue_bytes : RESTORE_QUEUE_DEFAULT;
	r->opts.spool_bytes = r->opts.spool_bytes ? r->opts.spool_bytes : RESTORE_SPOOL_DEFAULT;
	if (r->opts.spool_bytes == SIZE_MAX)
		r->opts.spool_bytes = 0;
	r->opts.lock_wait_s = r->opts.lock_wait_s ? r->opts.lock_wait_s : RESTORE_LOCK_WAIT_S;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->space, NULL);
	r->t0 = restore_now();
	rc = dump_connect(db, NULL, &r->coord, err, errlen);
	if (rc) {
		destroy(r);
		return rc;
	}
	rc = setup(r);
	if (rc) {
		snprintf(err, errlen, "%s", r->msg);
		restore_workers_stop(r);
		drop_scratch(r, false);
		destroy(r);
		return rc;
	}
	*out = r;
	return 0;
}

int restore_db_write(struct restore *r, const void *buf, size_t len)
{
	int rc = failed(r);

	if (rc)
		return rc;
	rc = restore_input(r, buf, len);
	return rc ? rc : failed(r);
}

const char *restore_db_error(const struct restore *r)
{
	return r->msg; /* written once, before r->rc is seen set */
}

int restore_db_finish(struct restore *r, struct restore_stats *stats, char *err, size_t errlen)
{
	struct restore_stats st = {0};
	unsigned i;
	int rc;

	rc = failed(r) ?: restore_input_end(r);
	if (!rc)
		rc = restore_workers_wait(r);
	else
		restore_workers_stop(r);
	r->t_loaded = restore_now();
	st.bytes_in = r->bytes_in;
	st.bytes_sql = r->bytes_sql;
	st.statements = r->nstmts;
	st.spooled = r->spilled;
	st.connections = r->nw;
	for (i = 0; i < r->nw; i++) {
		st.rows += r->w[i].rows;
		st.rows_loaded += r->w[i].rows_loaded;
	}
	st.load_s = r->t_loaded - r->t0;
	if (rc) {
		snprintf(err, errlen, "%s", r->msg);
		drop_scratch(r, false);
	} else {
		rc = restore_swap(r, &st, err, errlen); /* drops what it must itself */
	}
	st.swap_s = restore_now() - r->t_loaded;
	if (stats)
		*stats = st;
	destroy(r);
	return rc;
}

void restore_db_abort(struct restore *r)
{
	if (!r)
		return;
	restore_workers_stop(r);
	drop_scratch(r, false);
	destroy(r);
}
