/*
 * load_input.c - the writer's side: recognise zstd or plain SQL, decompress, split into
 * statements, check each one (restore/stmt.h), and route it: to its table's jobs, to the
 * prelude of SETs, to the statements kept for after the load.
 *
 * A table's part starts at DROP TABLE|SEQUENCE IF EXISTS or at a CREATE TABLE|SEQUENCE that
 * is not right after its own DROP, and ends where the next one starts; then the ALTER TABLE
 * that adds the keys its CREATE was loaded without (restore_defer_keys) runs after all its jobs.
 * Within a part, rows must be for that table (a dump's shape; anything else is refused, since
 * running it beside other tables' loads would not be the same as running the file in order).
 */
#include "restore/load_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The SETs a statefs dump starts with (snapshot/dump_schema.c), in order. Its rows may go
 * through LOAD DATA (load_fast.c) only while the session state is exactly the one they set:
 * names utf8mb4, time zone +00:00, an sql_mode without NO_BACKSLASH_ESCAPES or strictness.
 */
static const char *const header_sets[] = {
    "SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT",
    "SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS",
    "SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION",
    "SET NAMES utf8mb4",
    "SET @OLD_TIME_ZONE=@@TIME_ZONE",
    "SET TIME_ZONE='+00:00'",
    "SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0",
    "SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0",
    "SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO'",
    "SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0",
};
#define NHEADER ((int)(sizeof(header_sets) / sizeof(header_sets[0])))

/* A SET: the next of the header's, or the end of the header's state for good. */
static void header_set(struct restore *r, const struct sqlsplit_stmt *st)
{
	const char *want = r->header >= 0 && r->header < NHEADER ? header_sets[r->header] : NULL;
	bool ours = r->nhead >= 11 && !memcmp(r->head, "-- statefs ", 11);

	if (ours && want && st->len == strlen(want) && !memcmp(st->sql, want, st->len))
		r->header++;
	else
		r->header = -1;
}

static struct rtable *table_find(struct restore *r, const char *name)
{
	for (struct rtable *t = r->tables; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static int flush_create(struct restore *r);

/* The end of a table's part: its deferred keys, once all its rows are in. */
static int part_end(struct restore *r)
{
	struct rtable *t = r->cur;
	struct sqlsplit_stmt st;
	struct rstmt *s;
	int rc;

	rc = flush_create(r);
	if (rc || !t || !t->alter)
		return rc;
	st = (struct sqlsplit_stmt){t->alter, t->alter_len, t->alter_number, t->alter_line};
	s = restore_stmt_copy(&st);
	free(t->alter);
	t->alter = NULL;
	if (!s)
		return restore_fail(r, -ENOMEM, "out of memory");
	rc = restore_job_new(r, t, false, t->njobs); /* after every job of the table */
	if (rc) {
		free(s);
		return rc;
	}
	return restore_job_add(r, s);
}

/* A new table part: its first job (DROP, CREATE and whatever precedes its first row). */
static int part_new(struct restore *r, const struct sqlsplit_stmt *st, const char *name)
{
	struct rtable *t;
	size_t n = strlen(name);
	int rc = part_end(r);

	if (rc)
		return rc;
	if (table_find(r, name))
		return restore_fail(r, -EINVAL,
				    "statement %llu (line %llu): table `%s` appears "
				    "twice: not the shape of a dump",
				    (unsigned long long)st->number, (unsigned long long)st->line,
				    name);
	t = calloc(1, sizeof(*t) + n + 1);
	if (!t)
		return restore_fail(r, -ENOMEM, "out of memory");
	memcpy(t->name, name, n + 1);
	t->barrier = 1;
	t->next = r->tables;
	r->tables = t;
	r->cur = t;
	return restore_job_new(r, t, false, 0);
}

/* The open job, if it cannot take @chunk statements: a new one that can. */
static int job_for(struct restore *r, bool chunk)
{
	struct rtable *t = r->cur;
	unsigned seq = t->njobs;

	if (!chunk) {
		if (!r->open->chunk)
			return 0;
		t->barrier = seq + 1; /* later chunks wait for this ordered job */
		return restore_job_new(r, t, false, seq);
	}
	if (r->open->chunk && r->open->bytes < RESTORE_CHUNK_BYTES)
		return 0;
	return restore_job_new(r, t, true, t->barrier);
}

/*
 * A CREATE TABLE, without its plain secondary keys when they can be built after the rows. Which
 * of the two runs waits for a sample of its rows (flush_create): the keys are left out only
 * when they are narrow.
 */
static int add_create(struct restore *r, const struct sqlsplit_stmt *st,
		      const struct restore_stmt *c)
{
	struct rtable *t = r->cur;
	struct sqlsplit_stmt mod = *st;
	struct rstmt *s;
	char *create;
	int rc = 0;

	t->cols = restore_tsv_cols(st->sql, st->len); /* NULL: INSERTs as they are */
	if (c->has_pk)
		rc = restore_defer_keys(st->sql, st->len, c->name, &create, &mod.len, &t->alter,
					&t->alter_len);
	if (rc < 0)
		return restore_fail(r, rc, "out of memory");
	s = restore_stmt_copy(st);
	if (!s || !rc)
		return s ? restore_job_add(r, s) : restore_fail(r, -ENOMEM, "out of memory");
	mod.sql = create;
	t->alter_number = st->number;
	t->alter_line = st->line;
	t->create_full = s;
	t->create_lean = restore_stmt_copy(&mod);
	free(create);
	return t->create_lean ? 0 : restore_fail(r, -ENOMEM, "out of memory");
}

/*
 * Rows of the current table into its jobs: a chunk of its own where the table allows (a
 * primary key, so that order does not matter; and not rows that one LOAD at a time can take).
 */
static int route_rows(struct restore *r, struct rstmt *s, bool rows)
{
	struct rtable *t = r->cur;
	int rc = job_for(r, rows && t->has_pk && t->created && !(s->fast && t->serial));

	if (rc) {
		free(s);
		return rc;
	}
	return restore_job_add(r, s);
}

/*
 * The CREATE kept by add_create, and the rows held back meanwhile (at most
 * RESTORE_DEFER_SAMPLE bytes: the sample). Building the keys after the rows reads the whole
 * table once more: worth it where inserting into them costs more, with many narrow rows
 * (measured: WordPress's postmeta and comments, about 100 and 300 bytes a row, load in 60% of
 * the time; its posts, about 3 KB a row, in 170%). So the keys stay out only when the sample's
 * rows are under RESTORE_DEFER_ROW_MAX bytes on average.
 */
static int flush_create(struct restore *r)
{
	struct rtable *t = r->cur;
	struct rstmt *s;
	bool lean;
	int rc;

	if (!t || !t->create_full)
		return 0;
	lean = t->sample_rows && t->sample_bytes / t->sample_rows < RESTORE_DEFER_ROW_MAX;
	s = lean ? t->create_lean : t->create_full;
	free(lean ? t->create_full : t->create_lean);
	t->create_full = t->create_lean = NULL;
	if (!lean) {
		free(t->alter);
		t->alter = NULL;
	}
	rc = restore_job_add(r, s);
	while (!rc && (s = t->sample)) {
		t->sample = s->next;
		s->next = NULL;
		rc = route_rows(r, s, true);
	}
	return rc;
}

/* Rows: held back while the CREATE waits (flush_create), else into the table's jobs. */
static int add_rows(struct restore *r, const struct sqlsplit_stmt *st, bool fast)
{
	struct rtable *t = r->cur;
	struct rstmt *s = restore_stmt_copy(st), **tail;
	const char *p, *e;

	if (!s)
		return restore_fail(r, -ENOMEM, "out of memory");
	s->fast = fast;
	if (!t->create_full)
		return route_rows(r, s, true);
	for (tail = &t->sample; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	t->sample_rows++;
	for (p = st->sql, e = st->sql + st->len; (p = memmem(p, (size_t)(e - p), "),\n(", 4)); p += 4)
		t->sample_rows++;
	t->sample_bytes += st->len;
	return t->sample_bytes < RESTORE_DEFER_SAMPLE ? 0 : flush_create(r);
}

static int add(struct restore *r, const struct sqlsplit_stmt *st, bool fast)
{
	struct rstmt *s = restore_stmt_copy(st);

	if (!s)
		return restore_fail(r, -ENOMEM, "out of memory");
	s->fast = fast;
	return restore_job_add(r, s);
}

static int on_stmt(void *arg, const struct sqlsplit_stmt *st)
{
	struct restore *r = arg;
	struct restore_stmt c;
	char msg[512];
	bool same, unchecked, fast;
	int rc;

	r->nstmts++;
	rc = restore_stmt_classify_head(st->sql, st->len, &r->guard, &c, &unchecked, msg,
					sizeof(msg));
	same = !rc && r->cur && !strcmp(r->cur->name, c.name);
	fast = same && r->cur->cols && r->header == NHEADER; /* rows that may be data only */
	if (!rc && unchecked && !fast)
		rc = restore_stmt_check(st->sql, st->len, &r->guard, msg, sizeof(msg));
	if (rc)
		return restore_fail(r, rc, "statement %llu (line %llu) refused: %s",
				    (unsigned long long)st->number, (unsigned long long)st->line,
				    msg);
	if (!(same && c.kind == RESTORE_STMT_ROWS) && (rc = flush_create(r)))
		return rc;
	switch (c.kind) {
	case RESTORE_STMT_SET:
		/*
		 * In the job that runs it (opened first: the job it ends must not count it in
		 * its prelude_end), and in the prelude for the other loaders.
		 */
		header_set(r, st);
		rc = r->cur ? job_for(r, false) : 0;
		rc = rc ?: restore_prelude_add(r, st) ?: restore_script_add(r, st);
		return rc ?: r->cur ? add(r, st, false) : 0;
	case RESTORE_STMT_TABLE_DROP:
	case RESTORE_STMT_TABLE_CREATE:
		/* the CREATE right after its DROP stays in the DROP's part */
		if (!(same && c.kind == RESTORE_STMT_TABLE_CREATE && !r->cur->created &&
		      r->cur->njobs == 1))
			rc = part_new(r, st, c.name);
		if (rc || c.kind != RESTORE_STMT_TABLE_CREATE)
			return rc ?: add(r, st, false);
		r->cur->created = true;
		r->cur->has_pk = c.has_pk;
		r->cur->serial = c.has_auto_inc && !r->autoinc_free;
		return add_create(r, st, &c);
	case RESTORE_STMT_ROWS:
	case RESTORE_STMT_TABLE_OTHER:
		if (!same)
			return restore_fail(r, -EINVAL,
					    "statement %llu (line %llu): a statement "
					    "on `%s` outside that table's part: not the shape of a "
					    "dump",
					    (unsigned long long)st->number,
					    (unsigned long long)st->line, c.name);
		if (c.kind == RESTORE_STMT_ROWS)
			return add_rows(r, st, fast);
		rc = job_for(r, false);
		return rc ?: add(r, st, false);
	case RESTORE_STMT_SKIP:
		return 0;
	case RESTORE_STMT_OBJECT:
		return restore_script_add(r, st);
	}
	return 0;
}

static int split_fail(struct restore *r, int rc, const char *msg)
{
	if (r->rc)
		return r->rc; /* a callback's failure, already recorded */
	if (rc == -E2BIG)
		return restore_fail(r, -EIO, "%s (the server's max_allowed_packet)", msg);
	return restore_fail(r, rc == -ENOMEM ? rc : -EIO, "%s", msg);
}

static int plain(struct restore *r, const char *p, size_t n)
{
	char msg[512];
	size_t k;
	int rc;

	r->bytes_sql += n;
	if (r->nhead < sizeof(r->head)) {
		k = n < sizeof(r->head) - r->nhead ? n : sizeof(r->head) - r->nhead;
		memcpy(r->head + r->nhead, p, k);
		r->nhead += k;
	}
	if (n >= sizeof(r->tail)) {
		memcpy(r->tail, p + n - sizeof(r->tail), sizeof(r->tail));
		r->ntail = sizeof(r->tail);
	} else {
		k = r->ntail + n > sizeof(r->tail) ? r->ntail + n - sizeof(r->tail) : 0;
		memmove(r->tail, r->tail + k, r->ntail - k);
		memcpy(r->tail + r->ntail - k, p, n);
		r->ntail += n - k;
	}
	rc = sqlsplit_feed(r->split, p, n, on_stmt, r, msg, sizeof(msg));
	return rc ? split_fail(r, rc, msg) : 0;
}

static int unzstd(struct restore *r, const void *buf, size_t len, bool end)
{
	ZSTD_inBuffer in = {buf, len, 0};
	ZSTD_outBuffer out;
	size_t ret;
	int rc;

	do {
		size_t before = in.pos;

		out = (ZSTD_outBuffer){r->zbuf, r->zcap, 0};
		ret = ZSTD_decompressStream(r->z, &out, &in);
		if (ZSTD_isError(ret))
			return restore_fail(r, -EIO,
					    "the zstd stream is corrupt (%s) near byte "
					    "%llu of the input",
					    ZSTD_getErrorName(ret),
					    (unsigned long long)(r->bytes_in - len + in.pos));
		if (in.pos != before || out.pos)
			r->zlast = ret; /* 0: a frame ended and is flushed */
		rc = out.pos ? plain(r, r->zbuf, out.pos) : 0;
		if (rc)
			return rc;
	} while (in.pos < in.size || out.pos == out.size || (end && out.pos));
	return 0;
}

static bool zstd_magic(const unsigned char *m)
{
	static const unsigned char frame[4] = {0x28, 0xb5, 0x2f, 0xfd};

	return !memcmp(m, frame, 4) ||
	       ((m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18);
}

/* The first bytes decide: zstd or plain. */
static int decide(struct restore *r)
{
	if (r->nmagic == 4 && zstd_magic(r->magic)) {
		r->in = IN_ZSTD;
		r->z = ZSTD_createDStream();
		r->zcap = ZSTD_DStreamOutSize();
		r->zbuf = malloc(r->zcap);
		if (!r->z || !r->zbuf)
			return restore_fail(r, -ENOMEM, "out of memory (zstd)");
		r->zlast = 1; /* inside a frame until one ends */
		return unzstd(r, r->magic, 4, false);
	}
	r->in = IN_PLAIN;
	return plain(r, (const char *)r->magic, r->nmagic);
}

int restore_input(struct restore *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t k;
	int rc;

	r->bytes_in += len;
	if (r->in == IN_UNKNOWN) {
		k = len < 4 - r->nmagic ? len : 4 - r->nmagic;
		memcpy(r->magic + r->nmagic, p, k);
		r->nmagic += k;
		p += k;
		len -= k;
		if (r->nmagic < 4)
			return 0;
		rc = decide(r);
		if (rc)
			return rc;
	}
	if (!len)
		return 0;
	return r->in == IN_ZSTD ? unzstd(r, p, len, false) : plain(r, (const char *)p, len);
}

/* The completion line a dump ends with, if its first lines say which dumper made it. */
static const char *expected_end(const struct restore *r)
{
	const char *h = r->head, *e = r->head + r->nhead;
	const char *nl = memchr(h, '\n', r->nhead);

	if (r->nhead >= 11 && !memcmp(h, "-- statefs ", 11))
		return "-- statefs: dump complete";
	if (nl && !memcmp(h, "/*M!999999\\- enable the sandbox mode */", 39))
		h = nl + 1; /* mariadb-dump's first line since 10.11.8 */
	if ((e - h >= 15 && !memcmp(h, "-- MariaDB dump", 15)) ||
	    (e - h >= 13 && !memcmp(h, "-- MySQL dump", 13)))
		return "-- Dump completed";
	return NULL;
}

int restore_input_end(struct restore *r)
{
	const char *want, *t = r->tail;
	char msg[512];
	size_t n = r->ntail;
	int rc;

	if (r->in == IN_UNKNOWN && r->nmagic && (rc = decide(r)))
		return rc;
	if (r->in == IN_ZSTD) {
		rc = unzstd(r, NULL, 0, true);
		if (rc)
			return rc;
		if (r->zlast)
			return restore_fail(r, -EIO,
					    "the zstd stream ends inside a frame: it is "
					    "cut off (%llu bytes read)",
					    (unsigned long long)r->bytes_in);
	}
	rc = sqlsplit_end(r->split, on_stmt, r, msg, sizeof(msg));
	if (rc)
		return split_fail(r, rc, msg);
	rc = part_end(r);
	if (rc)
		return rc;
	if (!r->nstmts)
		return restore_fail(r, -EIO,
				    "the input holds no SQL statement (%llu bytes): "
				    "nothing to restore",
				    (unsigned long long)r->bytes_in);
	want = expected_end(r);
	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		n--;
	if (want && n) { /* the last line must start with @want */
		const char *line = memrchr(t, '\n', n);
		size_t off = line ? (size_t)(line - t) + 1 : 0;

		if (n - off >= strlen(want) && !memcmp(t + off, want, strlen(want)))
			want = NULL;
	}
	if (want)
		return restore_fail(r, -EIO,
				    "the dump does not end with its \"%s\" line: it is "
				    "cut off",
				    want);
	return 0;
}
