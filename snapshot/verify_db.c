/*
 * verify_db.c - verify one database dump of a snapshot (verify.h, steps 1 to 5): chunks ->
 * scratch database -> row counts -> read back and compare -> drop.
 *
 * What a newcomer must know: the scratch database is made here (restore_db_begin wants the
 * target to exist) and is the restore's target, so the restore's swap moves the loaded tables
 * into it: a swap into an empty database is a load. Whatever happens after it is created, the
 * one exit path drops it, on a fresh connection if the first one died.
 */
#include "snapshot/verify.h"

#include <errno.h>
#include <mysql.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "restore/load.h"
#include "snapshot/dump.h"
#include "snapshot/store.h"

#define SCRATCH_TAG "__statefs_verify_"
#define NAME_BYTES 256 /* a name of 64 characters of up to 4 bytes, and a NUL */
#define QUOTED (2 * NAME_BYTES + 3)
#define TABLE_PROBLEMS_MAX 5 /* tables named in a reason; the rest are counted */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append a problem to it->reason ("; " between them); it->ok becomes false. */
static void reason(struct verify_item *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason(struct verify_item *it, const char *fmt, ...)
{
	size_t n = strlen(it->reason);
	va_list ap;

	it->ok = false;
	if (n + 3 >= sizeof(it->reason))
		return;
	if (n) {
		memcpy(it->reason + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(it->reason + n, sizeof(it->reason) - n, fmt, ap);
	va_end(ap);
}

static uint32_t fnv32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* NAME if it has at most 30 bytes, else its first bytes (whole characters) and a hash. */
static void base_name(const char *name, char *out)
{
	size_t n = strlen(name), k = 21;

	if (n <= 30) {
		memcpy(out, name, n + 1);
		return;
	}
	while (k > 0 && ((unsigned char)name[k] & 0xc0) == 0x80)
		k--;
	memcpy(out, name, k);
	snprintf(out + k, 64 - k, "_%08x", fnv32(name));
}

void verify_scratch_name(const char *db, long pid, char *out)
{
	char base[64];

	base_name(db, base); /* at most 30 bytes: the name fits in 64 */
	if (snprintf(out, 65, "%s" SCRATCH_TAG "%ld", base, pid) >= 65)
		out[64] = '\0';
}

/* `name` with backticks doubled. */
static void ident(char *out, const char *name)
{
	size_t o = 0;

	out[o++] = '`';
	for (; *name && o + 4 < QUOTED; name++) {
		if (*name == '`')
			out[o++] = '`';
		out[o++] = *name;
	}
	out[o++] = '`';
	out[o] = '\0';
}

/* 'text' escaped for the server. */
static void literal(MYSQL *m, char *out, const char *s)
{
	size_t n = strlen(s);

	if (n > NAME_BYTES)
		n = NAME_BYTES;
	out[0] = '\'';
	n = mysql_real_escape_string(m, out + 1, s, (unsigned long)n);
	out[n + 1] = '\'';
	out[n + 2] = '\0';
}

static int exec(MYSQL *m, const char *sql, char *err, size_t errlen)
{
	if (!mysql_query(m, sql))
		return 0;
	snprintf(err, errlen, "%s (error %u)", mysql_error(m), mysql_errno(m));
	return -EIO;
}

/* The first row's first two columns of @sql (NULL columns as ""). 1 if there is no row. */
static int query_row(MYSQL *m, const char *sql, char *a, size_t alen, char *b, size_t blen,
		     char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 1;

	if (mysql_query(m, sql) || !(res = mysql_store_result(m))) {
		snprintf(err, errlen, "%s (error %u)", mysql_error(m), mysql_errno(m));
		return -EIO;
	}
	row = mysql_fetch_row(res);
	if (row) {
		snprintf(a, alen, "%s", row[0] ? row[0] : "");
		if (b)
			snprintf(b, blen, "%s", mysql_num_fields(res) > 1 && row[1] ? row[1] : "");
		rc = 0;
	}
	mysql_free_result(res);
	return rc;
}

int verify_cleanup_stale(const struct mtab_database *db, unsigned *dropped, char *err,
			 size_t errlen)
{
	struct mtab_database old = *db;
	char base[64], prefix[96], sql[QUOTED + 64], msg[512], q[QUOTED], *end;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	MYSQL *m = NULL;
	size_t plen;
	long pid;
	int rc;

	*dropped = 0;
	rc = dump_connect(db, NULL, &m, err, errlen);
	if (rc)
		return rc;
	base_name(db->name, base);
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s" SCRATCH_TAG, base);
	if (mysql_query(m, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA") ||
	    !(res = mysql_store_result(m))) {
		snprintf(err, errlen, "database %s: listing databases: %s", db->name,
			 mysql_error(m));
		rc = -EIO;
		goto out;
	}
	while ((row = mysql_fetch_row(res))) {
		if (!row[0] || strncmp(row[0], prefix, plen))
			continue;
		pid = strtol(row[0] + plen, &end, 10);
		if (end == row[0] + plen || *end || pid <= 0 || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue; /* not ours, or its verify still runs */
		old.name = row[0];
		restore_cleanup_stale(&old, NULL, msg, sizeof(msg)); /* its load's leftovers */
		ident(q, row[0]);
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", q);
		rc = exec(m, sql, msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "database %s: dropping %s: %s", db->name, row[0],
				 msg);
			goto out;
		}
		(*dropped)++;
	}
out:
	if (res)
		mysql_free_result(res);
	mysql_close(m);
	return rc;
}

/* --- steps 1 to 3: the chunks, into the scanner and the load -------------------------------- */

struct run {
	struct store *store;
	const struct manifest_entry *e;
	const struct mtab_database *db;
	const struct verify_opts *o;
	struct verify_item *it;
	struct mtab_database sdb; /* the scratch database */
	char scratch[65], qscratch[QUOTED];
	MYSQL *m;
	struct verify_scan dump, back;
};

static bool stopped(const struct run *x)
{
	return x->o && x->o->stop && *x->o->stop;
}

static void progress(const struct run *x, const char *what)
{
	char line[400];

	if (!x->o || !x->o->progress)
		return;
	snprintf(line, sizeof(line), "%s: %s", x->it->name, what);
	x->o->progress(x->o->arg, line);
}

/* Stream the dump's chunks into the scanner and a restore into the scratch database. */
static int load(struct run *x)
{
	const struct manifest_entry *e = x->e;
	struct restore_opts ro = {.jobs = x->o ? x->o->jobs : 0};
	struct restore_stats rs;
	struct restore *r = NULL;
	char msg[1024] = "", rel[80];
	size_t ti = 0, len, cut;
	uint64_t pos;
	void *data;
	int rc;

	rc = restore_db_begin(&x->sdb, &ro, &r, msg, sizeof(msg));
	if (rc) {
		reason(x->it, "cannot start loading: %s", msg);
		return rc == -ENOMEM ? rc : 0;
	}
	for (size_t i = 0; i < e->nchunks; i++) {
		if (stopped(x)) {
			reason(x->it, "interrupted");
			goto abort;
		}
		store_chunk_name(&e->chunks[i].hash, rel, sizeof(rel));
		msg[0] = '\0';
		rc = store_get(x->store, &e->chunks[i].hash, &data, &len, msg, sizeof(msg));
		if (rc == -ENOMEM)
			goto abort;
		if (rc || len != e->chunks[i].len) {
			if (!rc)
				free(data);
			if (rc && rc != -ENOENT && msg[0] && strstr(msg, rel)) /* it names it */
				reason(x->it, "chunk %zu of %zu: %s", i + 1, e->nchunks, msg);
			else
				reason(x->it, "chunk %zu of %zu, %s: %s", i + 1, e->nchunks, rel,
				       rc == -ENOENT ? "missing"
				       : rc	     ? (msg[0] ? msg : strerror(-rc))
						     : "wrong length");
			rc = 0;
			goto abort;
		}
		/* the scanner learns where each table's part starts */
		pos = e->chunks[i].offset;
		cut = 0;
		while (ti < e->ntables && e->tables[ti].offset < pos + len) {
			size_t at = (size_t)(e->tables[ti].offset - pos);

			if (at < cut) /* an offset within a chunk already passed: not in order */
				at = cut;
			verify_scan_feed(&x->dump, (char *)data + cut, at - cut);
			verify_scan_table(&x->dump, e->tables[ti].name);
			cut = at;
			ti++;
		}
		verify_scan_feed(&x->dump, (char *)data + cut, len - cut);
		rc = restore_db_write(r, data, len);
		free(data);
		if (rc) {
			reason(x->it, "the load failed: %s", restore_db_error(r));
			rc = rc == -ENOMEM ? rc : 0;
			goto abort;
		}
		if (x->dump.err) {
			rc = x->dump.err;
			goto abort;
		}
	}
	for (; ti < e->ntables; ti++) /* a table whose part starts at the very end */
		verify_scan_table(&x->dump, e->tables[ti].name);
	rc = verify_scan_end(&x->dump);
	if (rc)
		goto abort;
	x->it->tables = x->dump.ntables;
	x->it->rows = x->dump.rows;
	progress(x, "swapping the loaded tables into the scratch database");
	memset(&rs, 0, sizeof(rs));
	rc = restore_db_finish(r, &rs, msg, sizeof(msg));
	if (rc) {
		reason(x->it, "the load failed: %s", msg);
		return rc == -ENOMEM ? rc : 0;
	}
	return 0;
abort:
	restore_db_abort(r);
	return rc;
}

/* --- step 3: what was loaded ----------------------------------------------------------------- */

static const struct verify_table *find_table(const struct verify_scan *s, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].name, name))
			return &s->tables[i];
	return NULL;
}

/* The loaded tables are the dump's, each with the dump's number of rows. */
static int check_counts(struct run *x)
{
	char lit[QUOTED], q[QUOTED], sql[2 * QUOTED + 200], n[32], msg[512] = "";
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long long rows;
	unsigned problems = 0;
	const struct verify_table *t;
	size_t found = 0;
	int rc;

	literal(x->m, lit, x->scratch);
	snprintf(sql, sizeof(sql),
		 "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE "
		 "TABLE_SCHEMA = %s AND TABLE_TYPE <> 'VIEW' ORDER BY BINARY TABLE_NAME",
		 lit);
	if (mysql_query(x->m, sql) || !(res = mysql_store_result(x->m))) {
		reason(x->it, "listing the loaded tables: %s", mysql_error(x->m));
		return 0;
	}
	while ((row = mysql_fetch_row(res))) {
		if (!row[0])
			continue;
		t = find_table(&x->dump, row[0]);
		if (!t) {
			if (problems++ < TABLE_PROBLEMS_MAX)
				reason(x->it, "table `%s` was loaded but is not in the dump",
				       row[0]);
			continue;
		}
		found++;
		if (row[1] && !strcmp(row[1], "SEQUENCE"))
			continue; /* one row by nature; the dump sets it with SETVAL */
		ident(q, row[0]);
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s.%s", x->qscratch, q);
		rc = query_row(x->m, sql, n, sizeof(n), NULL, 0, msg, sizeof(msg));
		rows = rc ? 0 : strtoull(n, NULL, 10);
		if ((!rc && rows == t->rows) || problems++ >= TABLE_PROBLEMS_MAX)
			continue;
		if (rc)
			reason(x->it, "table `%s`: counting its rows: %s", row[0], msg);
		else
			reason(x->it, "table `%s`: %llu rows in the snapshot, %llu loaded", row[0],
			       (unsigned long long)t->rows, rows);
	}
	mysql_free_result(res);
	if (found < x->dump.ntables)
		reason(x->it, "%zu table(s) of the dump were not loaded", x->dump.ntables - found);
	if (problems > TABLE_PROBLEMS_MAX)
		reason(x->it, "and %u more table problem(s)", problems - TABLE_PROBLEMS_MAX);
	return 0;
}

/* --- step 4: read back ----------------------------------------------------------------------- */

static int back_write(void *ctx, const void *buf, size_t len)
{
	return verify_scan_feed(ctx, buf, len);
}

static int back_table(void *ctx, const char *table)
{
	return verify_scan_table(ctx, table);
}

static int check_back(struct run *x)
{
	struct dump_opts dopts = {.jobs = 1}; /* one connection: no FLUSH TABLES WITH READ LOCK */
	struct dump_sink sink = {.ctx = &x->back, .write = back_write, .table_begin = back_table};
	const struct verify_table *a, *b;
	unsigned problems = 0;
	char msg[1024] = "";
	int rc;

	rc = verify_scan_init(&x->back);
	if (rc)
		return rc;
	rc = dump_database(&x->sdb, &dopts, &sink, NULL, msg, sizeof(msg));
	if (rc == -ENOMEM || x->back.err)
		return x->back.err ? x->back.err : rc;
	if (rc) {
		reason(x->it, "reading the loaded database back: %s", msg);
		return 0;
	}
	rc = verify_scan_end(&x->back);
	if (rc)
		return rc;
	for (size_t i = 0; i < x->dump.ntables; i++) {
		a = &x->dump.tables[i];
		b = find_table(&x->back, a->name);
		if (!b || !memcmp(a->digest, b->digest, sizeof(a->digest)))
			continue; /* a missing table was reported by check_counts */
		if (problems++ >= TABLE_PROBLEMS_MAX)
			continue;
		if (a->rows != b->rows)
			reason(x->it, "table `%s` reads back with %llu rows, the snapshot has %llu",
			       a->name, (unsigned long long)b->rows, (unsigned long long)a->rows);
		else
			reason(x->it,
			       "table `%s` reads back different from the snapshot (its "
			       "definition or the values of its %llu rows)",
			       a->name, (unsigned long long)a->rows);
	}
	if (problems > TABLE_PROBLEMS_MAX)
		reason(x->it, "and %u more table(s) read back different",
		       problems - TABLE_PROBLEMS_MAX);
	if (memcmp(x->dump.other, x->back.other, sizeof(x->dump.other)))
		reason(x->it, "the views, routines, triggers or events read back different from "
			      "the snapshot");
	return 0;
}

/* --- the whole ------------------------------------------------------------------------------- */

/* Drop the scratch database, on a new connection if needed. */
static void drop_scratch(struct run *x)
{
	char sql[QUOTED + 32], msg[512];

	if (x->m && mysql_ping(x->m)) {
		mysql_close(x->m);
		x->m = NULL;
	}
	if (!x->m && dump_connect(x->db, NULL, &x->m, msg, sizeof(msg))) {
		reason(x->it,
		       "the scratch database %s could not be dropped (the next verify drops "
		       "it): %s",
		       x->scratch, msg);
		return;
	}
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", x->qscratch);
	if (exec(x->m, sql, msg, sizeof(msg)))
		reason(x->it, "dropping the scratch database %s: %s", x->scratch, msg);
}

int verify_database(struct store *store, const struct manifest_entry *e,
		    const struct mtab_database *db, const struct verify_opts *o,
		    struct verify_item *it)
{
	struct run x = {.store = store, .e = e, .db = db, .o = o, .it = it};
	char sql[2 * QUOTED + 200], lit[QUOTED], cs[64] = "", coll[64] = "", msg[1024] = "";
	bool created = false;
	unsigned dropped;
	double t0 = now_s();
	int rc;

	it->ok = true;
	verify_scratch_name(db->name, (long)getpid(), x.scratch);
	ident(x.qscratch, x.scratch);
	x.sdb = *db;
	x.sdb.name = x.scratch;
	rc = verify_cleanup_stale(db, &dropped, msg, sizeof(msg));
	if (rc) {
		reason(it, "%s", msg);
		rc = rc == -ENOMEM ? rc : 0;
		goto out;
	}
	rc = dump_connect(db, NULL, &x.m, msg, sizeof(msg));
	if (rc) {
		reason(it, "%s", msg);
		rc = rc == -ENOMEM ? rc : 0;
		goto out;
	}
	/* the scratch database gets the live one's defaults, as a restore's staging does */
	literal(x.m, lit, db->name);
	snprintf(sql, sizeof(sql),
		 "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
		 "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
		 lit);
	if (query_row(x.m, sql, cs, sizeof(cs), coll, sizeof(coll), msg, sizeof(msg)) < 0) {
		reason(it, "reading the character set of %s: %s", db->name, msg);
		goto out;
	}
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", x.qscratch);
	created = true; /* from here on, the exit drops it */
	if (exec(x.m, sql, msg, sizeof(msg)))
		goto create_failed;
	if (cs[0] && coll[0] && strspn(cs, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(cs) &&
	    strspn(coll, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(coll))
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s CHARACTER SET %s COLLATE %s",
			 x.qscratch, cs, coll);
	else
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", x.qscratch);
	if (exec(x.m, sql, msg, sizeof(msg)))
		goto create_failed;
	rc = verify_scan_init(&x.dump);
	if (rc)
		goto out;
	progress(&x, "loading into a scratch database");
	rc = load(&x);
	if (rc || !it->ok)
		goto out;
	progress(&x, "counting the rows loaded");
	rc = check_counts(&x);
	if (rc || stopped(&x))
		goto out;
	progress(&x, "reading the loaded database back");
	rc = check_back(&x);
	goto out;
create_failed:
	reason(it, "cannot create the scratch database %s: %s", x.scratch, msg);
out:
	if (stopped(&x) && it->ok)
		reason(it, "interrupted");
	if (created)
		drop_scratch(&x);
	if (rc == -ENOMEM)
		reason(it, "out of memory");
	verify_scan_free(&x.dump);
	verify_scan_free(&x.back);
	if (x.m)
		mysql_close(x.m);
	it->seconds = now_s() - t0;
	return rc;
}
