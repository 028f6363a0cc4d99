/*
 * dump_rows.c - one table's rows as multi-row INSERT statements, cut by content.
 *
 * The rows are streamed (mysql_use_result): memory holds one statement (DUMP_STMT_MAX at most,
 * or one larger row) whatever the table size. The encoding of each value depends on the
 * column's declared type, read with SHOW COLUMNS; the order comes from SHOW INDEX. dump.h
 * states the rules (order, encodings, statement boundaries); this file implements them.
 */
#include "snapshot/dump_int.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum vkind {
	V_STR,	 /* 'quoted', escaped */
	V_RAW,	 /* as the server prints it: integers, DECIMAL, DOUBLE, YEAR */
	V_FLOAT, /* selected as CAST(c AS DOUBLE), then raw */
	V_HEX,	 /* 0x... : binary strings, BIT, spatial */
	V_ENUM,	 /* 'quoted', but 0 for the invalid value (index 0), which reads as '' too */
};

struct col {
	char *name;
	enum vkind kind;
	size_t aux; /* V_ENUM: the result column holding its index (`e`+0) */
};

struct table {
	struct col *cols; /* the columns dumped: generated ones are left out */
	size_t ncols;
	size_t nresult; /* result columns: ncols, then one per V_ENUM column */
	char **order;	/* ORDER BY columns; none: scan order */
	size_t norder;
};

static const char *const raw_types[] = {"tinyint", "smallint", "mediumint", "int",
					"integer", "bigint",   "decimal",   "numeric",
					"double",  "real",     "year",	    NULL};
static const char *const hex_types[] = {
    "binary",	"varbinary",  "tinyblob",	 "blob",	 "mediumblob",
    "longblob", "bit",	      "geometry",	 "point",	 "linestring",
    "polygon",	"multipoint", "multilinestring", "multipolygon", "geometrycollection",
    NULL};

static bool in_list(const char *base, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncasecmp(base, *list, n))
			return true;
	return false;
}

/* The encoding for a SHOW COLUMNS type such as "int(10) unsigned" or "enum('a','b')". */
static enum vkind kind_of(const char *type)
{
	size_t n = strcspn(type, "( ");

	if (in_list(type, n, raw_types))
		return V_RAW;
	if (n == 5 && !strncasecmp(type, "float", 5))
		return V_FLOAT;
	if (in_list(type, n, hex_types))
		return V_HEX;
	if (n == 4 && !strncasecmp(type, "enum", 4))
		return V_ENUM;
	return V_STR;
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	for (i = 0; i < t->norder; i++)
		free(t->order[i]);
	free(t->cols);
	free(t->order);
}

/* SHOW @what FROM `@name`, with at least @min columns: its stored result in *res. */
static int show_from(MYSQL *m, const char *db, const char *what, const char *name,
		     unsigned min, MYSQL_RES **res, char *err, size_t errlen)
{
	struct dbuf q = {0};
	int rc;

	rc = dbuf_puts(&q, "SHOW ") ?: dbuf_puts(&q, what) ?: dbuf_puts(&q, " FROM ") ?:
	     dbuf_ident(&q, name);
	if (rc)
		rc = dump_fail(err, errlen, rc, "database %s: out of memory", db);
	else
		rc = dump_query(m, db, q.p, res, err, errlen);
	if (!rc && mysql_num_fields(*res) < min) {
		rc = dump_fail(err, errlen, -EIO, "database %s: %s: unexpected result", db, q.p);
		mysql_free_result(*res);
		*res = NULL;
	}
	dbuf_free(&q);
	return rc;
}

static int load_columns(MYSQL *m, const char *db, const char *name, struct table *t, char *err,
			size_t errlen)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	size_t i;
	int rc;

	rc = show_from(m, db, "COLUMNS", name, 6, &res, err, errlen);
	if (rc)
		return rc;
	t->cols = calloc(mysql_num_rows(res) + 1, sizeof(*t->cols));
	if (!t->cols) {
		rc = -ENOMEM;
		goto out;
	}
	while ((row = mysql_fetch_row(res))) {
		/* Field, Type, Null, Key, Default, Extra ("VIRTUAL GENERATED", ...) */
		if (!row[0] || !row[1])
			continue;
		if (row[5] && strcasestr(row[5], "GENERATED"))
			continue;
		t->cols[t->ncols].name = strdup(row[0]);
		if (!t->cols[t->ncols].name) {
			rc = -ENOMEM;
			goto out;
		}
		t->cols[t->ncols++].kind = kind_of(row[1]);
	}
	t->nresult = t->ncols;
	for (i = 0; i < t->ncols; i++)
		if (t->cols[i].kind == V_ENUM)
			t->cols[i].aux = t->nresult++;
out:
	mysql_free_result(res);
	if (rc == -ENOMEM)
		dump_fail(err, errlen, rc, "database %s: out of memory", db);
	return rc;
}

/*
 * The ORDER BY: the primary key, else the first UNIQUE BTREE key whose columns are all NOT
 * NULL, else nothing. SHOW INDEX lists keys in definition order, PRIMARY first.
 */
static int load_order(MYSQL *m, const char *db, const char *name, struct table *t, char *err,
		      size_t errlen)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	char *key = NULL; /* the key being looked at */
	bool bad = false; /* it cannot serve */
	size_t n = 0, i;
	int rc;

	rc = show_from(m, db, "INDEX", name, 11, &res, err, errlen);
	if (rc)
		return rc;
	t->order = calloc(mysql_num_rows(res) + 1, sizeof(*t->order));
	if (!t->order) {
		rc = -ENOMEM;
		goto out;
	}
	/* Table, Non_unique, Key_name, Seq_in_index, Column_name, ..., Null(9), Index_type(10) */
	for (;;) {
		row = mysql_fetch_row(res);
		if (!row || !key || strcmp(row[2] ? row[2] : "", key)) {
			if (key && !bad && n)
				break; /* the previous key serves */
			for (i = 0; i < n; i++)
				free(t->order[i]);
			n = 0;
			if (!row)
				break;
			key = row[2];
			bad = !row[1] || strcmp(row[1], "0") || !row[10] ||
			      strcasecmp(row[10], "BTREE");
		}
		if (bad)
			continue;
		if (!row[4] || (row[9] && row[9][0])) {
			bad = true; /* an expression, or a nullable column */
			continue;
		}
		t->order[n] = strdup(row[4]);
		if (!t->order[n++]) {
			rc = -ENOMEM;
			goto out;
		}
	}
	t->norder = n;
out:
	if (rc)
		t->norder = n;
	mysql_free_result(res);
	if (rc == -ENOMEM)
		dump_fail(err, errlen, rc, "database %s: out of memory", db);
	return rc;
}

/*
 * A row's hash, 8 bytes (little-endian) at a time: one multiply per word rather than per
 * byte (a byte-wise FNV-1a cost an eighth of a snapshot's CPU), then splitmix64's finaliser
 * to spread every input bit over the high bits that ends() compares.
 */
static uint64_t row_hash(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ le64toh(w)) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* Does a row of @len bytes hashing to @h end a run of about @avg bytes? */
static bool ends(uint64_t h, size_t len, uint64_t avg)
{
	return len >= avg || h < (UINT64_MAX / avg) * len;
}

bool dump_row_ends_stmt(const void *row, size_t len)
{
	return ends(row_hash(row, len), len, DUMP_STMT_AVG);
}

bool dump_row_ends_chunk(const void *row, size_t len)
{
	return ends(row_hash(row, len), len, DUMP_CUT_AVG);
}

static int add_hex(struct dbuf *b, const unsigned char *s, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";
	char *q;
	size_t i;

	if (!n)
		return dbuf_add(b, "''", 2);
	if (n > SIZE_MAX / 2 - 4 || dbuf_reserve(b, 2 * n + 2))
		return -ENOMEM;
	q = b->p + b->len;
	*q++ = '0';
	*q++ = 'x';
	for (i = 0; i < n; i++) {
		*q++ = digits[s[i] >> 4];
		*q++ = digits[s[i] & 15];
	}
	*q = '\0';
	b->len = (size_t)(q - b->p);
	return 0;
}

static int add_value(struct dbuf *b, MYSQL *m, const struct col *c, MYSQL_ROW row,
		     const unsigned long *len, size_t i)
{
	const char *v = row[i];
	unsigned long n = len[i];

	if (!v)
		return dbuf_add(b, "NULL", 4);
	switch (c->kind) {
	case V_RAW:
	case V_FLOAT:
		return n ? dbuf_add(b, v, n) : dbuf_add(b, "''", 2);
	case V_HEX:
		return add_hex(b, (const unsigned char *)v, n);
	case V_ENUM:
		if (!n && row[c->aux] && !strcmp(row[c->aux], "0"))
			return dbuf_add(b, "0", 1);
		return dbuf_str(b, m, v, n);
	default:
		return dbuf_str(b, m, v, n);
	}
}

/* SELECT `a`,CAST(`f` AS DOUBLE),... FROM `t` ORDER BY ...; and the INSERT prefix. */
static int build_sql(const struct table *t, const char *name, struct dbuf *sel, struct dbuf *ins)
{
	size_t i;
	int rc;

	rc = dbuf_puts(sel, "SELECT ") ?: dbuf_puts(ins, "INSERT INTO ") ?:
	     dbuf_ident(ins, name) ?: dbuf_puts(ins, " (");
	for (i = 0; !rc && i < t->ncols; i++) {
		const char *sep = i ? "," : "";

		rc = dbuf_puts(sel, sep) ?: dbuf_puts(ins, sep) ?: dbuf_ident(ins, t->cols[i].name);
		if (rc)
			break;
		if (t->cols[i].kind == V_FLOAT)
			rc = dbuf_puts(sel, "CAST(") ?: dbuf_ident(sel, t->cols[i].name) ?:
			     dbuf_puts(sel, " AS DOUBLE)");
		else
			rc = dbuf_ident(sel, t->cols[i].name);
	}
	for (i = 0; !rc && i < t->ncols; i++)
		if (t->cols[i].kind == V_ENUM)
			rc = dbuf_puts(sel, ",") ?: dbuf_ident(sel, t->cols[i].name) ?:
			     dbuf_puts(sel, "+0");
	rc = rc ?: dbuf_puts(sel, " FROM ") ?: dbuf_ident(sel, name) ?:
		    dbuf_puts(ins, ") VALUES\n");
	for (i = 0; !rc && i < t->norder; i++)
		rc = dbuf_puts(sel, i ? "," : " ORDER BY ") ?: dbuf_ident(sel, t->order[i]);
	return rc;
}

/* Stream the result of @sel into INSERT statements. */
static int stream_rows(MYSQL *m, const char *db, const char *name, const struct table *t,
		       const struct dbuf *sel, const struct dbuf *ins, struct dump_out *o,
		       uint64_t *nrows, char *err, size_t errlen)
{
	struct dbuf *b = &o->buf;
	size_t stmt_len = 0, start, row_start, i; /* stmt_len: bytes of the statement so far */
	bool in_stmt = false;
	uint64_t h;
	unsigned long *len;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 0;

	if (mysql_real_query(m, sel->p, sel->len))
		return dump_mysql_fail(m, db, sel->p, err, errlen);
	res = mysql_use_result(m);
	if (!res)
		return dump_mysql_fail(m, db, sel->p, err, errlen);
	if (mysql_num_fields(res) != t->nresult) {
		rc = dump_fail(err, errlen, -EIO, "database %s: table %s: %u columns, expected %zu",
			       db, name, mysql_num_fields(res), t->nresult);
		goto out;
	}
	while ((row = mysql_fetch_row(res))) {
		len = mysql_fetch_lengths(res);
		start = b->len;
		if (!in_stmt) {
			stmt_len = 0;
			rc = dbuf_add(b, ins->p, ins->len);
			in_stmt = true;
		} else {
			rc = dbuf_add(b, ",\n", 2);
		}
		row_start = b->len;
		rc = rc ?: dbuf_add(b, "(", 1);
		for (i = 0; !rc && i < t->ncols; i++)
			rc = (i ? dbuf_add(b, ",", 1) : 0)
				 ?: add_value(b, m, &t->cols[i], row, len, i);
		rc = rc ?: dbuf_add(b, ")", 1);
		if (rc)
			goto fail;
		(*nrows)++;
		stmt_len += b->len - start;
		h = row_hash((const unsigned char *)b->p + row_start, b->len - row_start);
		if (ends(h, b->len - row_start, DUMP_STMT_AVG) || stmt_len >= DUMP_STMT_MAX) {
			rc = dbuf_add(b, ";\n", 2) ?: dout_cut(o);
			if (rc)
				goto fail;
			in_stmt = false;
		} else if (ends(h, b->len - row_start, DUMP_CUT_AVG)) {
			rc = dout_cut(o); /* a chunk ends inside the statement */
			if (rc)
				goto fail;
		}
	}
	if (mysql_errno(m)) {
		rc = dump_mysql_fail(m, db, sel->p, err, errlen);
		goto out;
	}
	if (in_stmt)
		rc = dbuf_add(b, ";\n", 2);
	rc = rc ?: dout_cut(o);
	if (rc)
		goto fail;
	goto out;
fail:
	if (rc == -ENOMEM || rc == -EILSEQ)
		dump_fail(err, errlen, rc, "database %s: table %s: %s", db, name,
			  rc == -ENOMEM ? "out of memory" : "a string could not be escaped");
	/*
	 * Freeing a half-read unbuffered result reads the rest of the table first: cut the
	 * connection instead (the dump is failing anyway).
	 */
	shutdown(mysql_get_socket(m), SHUT_RDWR);
out:
	mysql_free_result(res);
	return rc;
}

int dump_table_rows(MYSQL *m, const char *db, const char *table, struct dump_out *o, uint64_t *rows,
		    char *err, size_t errlen)
{
	struct table t = {0};
	struct dbuf sel = {0}, ins = {0};
	int rc;

	rc = load_columns(m, db, table, &t, err, errlen)
		 ?: load_order(m, db, table, &t, err, errlen);
	if (rc || !t.ncols)
		goto out;
	rc = build_sql(&t, table, &sel, &ins);
	if (rc) {
		rc = dump_fail(err, errlen, rc, "database %s: out of memory", db);
		goto out;
	}
	rc = stream_rows(m, db, table, &t, &sel, &ins, o, rows, err, errlen);
out:
	dbuf_free(&sel);
	dbuf_free(&ins);
	table_free(&t);
	return rc;
}

int dump_sequence_state(MYSQL *m, const char *db, const char *seq, struct dump_out *o, char *err,
			size_t errlen)
{
	struct dbuf q = {0};
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int rc;

	rc =
	    dbuf_puts(&q, "SELECT next_not_cached_value, cycle_count FROM ") ?: dbuf_ident(&q, seq);
	if (rc)
		goto out;
	rc = dump_query(m, db, q.p, &res, err, errlen);
	if (rc)
		goto out;
	row = mysql_fetch_row(res);
	if (!row || !row[0] || !row[1]) {
		rc = dump_fail(err, errlen, -EIO, "database %s: sequence %s: no state", db, seq);
		goto out;
	}
	rc = dbuf_puts(&o->buf, "DO SETVAL(") ?: dbuf_ident(&o->buf, seq) ?:
	     dbuf_printf(&o->buf, ", %s, 0, %s);\n", row[0], row[1]) ?: dout_cut(o);
out:
	mysql_free_result(res);
	dbuf_free(&q);
	if (rc == -ENOMEM)
		dump_fail(err, errlen, rc, "database %s: out of memory", db);
	return rc;
}
