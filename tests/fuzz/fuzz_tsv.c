/*
 * fuzz_tsv.c - INSERT rows turned into LOAD DATA lines (restore/tsv.h) mean what the INSERT
 * means. The first byte of the input picks the columns' kinds (up to four), the rest is the
 * statement's rows after its head. Whenever restore_tsv_rows() takes them, the lines are read
 * back as LOAD DATA reads them (fields ended by a tab, lines by a newline, escaped by a
 * backslash, \N alone a NULL) and the rows as the server reads an INSERT's literals (a
 * 'string' with its escapes, 0x hex, a number's text, NULL), by readers written here
 * independently of tsv.c: every value must be the same bytes, and the row counts the same.
 * When it does not take them, the buffer must be as it was.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore/tsv.h"

#define NCOLS_MAX 4

struct val {
	bool null;
	size_t len;
	char *p; /* malloc'd */
};

struct vals {
	struct val *v;
	size_t n, cap;
};

static void push(struct vals *vs, bool null, const char *p, size_t len)
{
	if (vs->n == vs->cap) {
		vs->cap = vs->cap ? 2 * vs->cap : 64;
		vs->v = realloc(vs->v, vs->cap * sizeof(*vs->v));
		if (!vs->v)
			abort();
	}
	vs->v[vs->n].null = null;
	vs->v[vs->n].len = len;
	vs->v[vs->n].p = malloc(len + 1);
	if (!vs->v[vs->n].p)
		abort();
	memcpy(vs->v[vs->n].p, p, len);
	vs->n++;
}

static void free_vals(struct vals *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		free(vs->v[i].p);
	free(vs->v);
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The server's reading of the INSERT's values; false where it is not a list of literals. */
static bool read_sql(const char *p, const char *e, size_t ncols, struct vals *vs, size_t *rows)
{
	char *buf = malloc((size_t)(e - p) + 1);
	size_t k;

	if (!buf)
		abort();
	for (*rows = 0;; (*rows)++) {
		if (p == e || *p++ != '(')
			goto no;
		for (size_t i = 0; i < ncols; i++) {
			if (i && (p == e || *p++ != ','))
				goto no;
			k = 0;
			if (e - p >= 4 && !memcmp(p, "NULL", 4)) {
				p += 4;
				push(vs, true, "", 0);
				continue;
			}
			if (p < e && *p == '\'') {
				for (p++;; p++) {
					if (p == e)
						goto no;
					if (*p == '\'')
						break;
					if (*p != '\\') {
						buf[k++] = *p;
						continue;
					}
					if (++p == e)
						goto no;
					switch (*p) {
					case '0': buf[k++] = '\0'; break;
					case 'n': buf[k++] = '\n'; break;
					case 'r': buf[k++] = '\r'; break;
					case 'Z': buf[k++] = 26; break;
					case '\\': case '\'': case '"': buf[k++] = *p; break;
					default: goto no; /* not one of mysql_real_escape_string's */
					}
				}
				p++;
			} else if (e - p >= 2 && p[0] == '0' && p[1] == 'x') {
				for (p += 2; p + 1 < e && hexdig(p[0]) >= 0 && hexdig(p[1]) >= 0; p += 2)
					buf[k++] = (char)(hexdig(p[0]) << 4 | hexdig(p[1]));
			} else {
				while (p < e && strchr("-+.eE0123456789", *p) && *p)
					buf[k++] = *p++;
			}
			push(vs, false, buf, k);
		}
		if (p == e || *p++ != ')')
			goto no;
		if (p == e)
			break;
		if (e - p < 2 || p[0] != ',' || p[1] != '\n')
			goto no;
		p += 2;
	}
	(*rows)++;
	free(buf);
	return true;
no:
	free(buf);
	return false;
}

/* LOAD DATA's reading of the lines (FIELDS TERMINATED BY '\t' ESCAPED BY '\\', no enclosure). */
static void read_tsv(const char *p, const char *e, struct vals *vs, size_t *rows)
{
	char *buf = malloc((size_t)(e - p) + 1);
	size_t k = 0;
	bool escaped_n = false, open = false; /* open: a line has begun and not ended */

	if (!buf)
		abort();
	*rows = 0;
	for (; p < e; p++) {
		if (*p == '\t' || *p == '\n') {
			if (escaped_n && k == 1)
				push(vs, true, "", 0);
			else
				push(vs, false, buf, k);
			k = 0;
			escaped_n = false;
			open = *p == '\t';
			*rows += *p == '\n';
			continue;
		}
		open = true;
		if (*p != '\\') {
			buf[k++] = *p;
			continue;
		}
		if (++p == e)
			abort(); /* a line must not end inside an escape */
		switch (*p) {
		case '0': buf[k++] = '\0'; break;
		case 'b': buf[k++] = '\b'; break;
		case 'n': buf[k++] = '\n'; break;
		case 'r': buf[k++] = '\r'; break;
		case 't': buf[k++] = '\t'; break;
		case 'Z': buf[k++] = 26; break;
		case 'N': /* \N alone is NULL; anywhere else it is N */
			escaped_n = k == 0;
			buf[k++] = 'N';
			break;
		default: buf[k++] = *p;
		}
	}
	if (open)
		abort(); /* the last line must end with its newline */
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"bigint(20)", "varchar(20)", "blob", "double"};
	char create[512], head[256], *sql;
	unsigned char kinds[256];
	struct tsv_cols *cols;
	struct tsv_buf out = {0};
	struct vals a = {0}, b = {0};
	size_t ncols, hlen, n = 0, ra, rb;
	uint64_t rows = 0;
	int c, rc;

	if (!size)
		return 0;
	ncols = 1 + data[0] % NCOLS_MAX;
	c = snprintf(create, sizeof(create), "CREATE TABLE `t` (\n");
	hlen = (size_t)snprintf(head, sizeof(head), "INSERT INTO `t` (");
	for (size_t i = 0; i < ncols; i++) {
		c += snprintf(create + c, sizeof(create) - (size_t)c, "  `c%zu` %s DEFAULT NULL,\n", i,
			      types[(data[0] >> (2 * i)) & 3]);
		hlen += (size_t)snprintf(head + hlen, sizeof(head) - hlen, "%s`c%zu`", i ? "," : "",
					 i);
	}
	snprintf(create + c, sizeof(create) - (size_t)c,
		 "  PRIMARY KEY (`c0`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
	hlen += (size_t)snprintf(head + hlen, sizeof(head) - hlen, ") VALUES\n");
	cols = restore_tsv_cols(create, strlen(create));
	if (!cols)
		abort();
	sql = malloc(hlen + size);
	if (!sql)
		abort();
	memcpy(sql, head, hlen);
	memcpy(sql + hlen, data + 1, size - 1);
	if (restore_tsv_head(cols, sql, hlen + size - 1, kinds, &n) != hlen || n != ncols)
		abort();
	memcpy(out.p = malloc(out.cap = 8), "previous", out.len = 8);
	rc = restore_tsv_rows(sql, hlen + size - 1, hlen, kinds, n, &out, &rows);
	if (rc < 0)
		abort();
	if (rc == 0 && (out.len != 8 || memcmp(out.p, "previous", 8) || rows))
		abort(); /* a refusal leaves the buffer and the count as they were */
	if (rc == 1) {
		if (!read_sql(sql + hlen, sql + hlen + size - 1, ncols, &a, &ra))
			abort(); /* taken, yet not a list of literals */
		read_tsv(out.p + 8, out.p + out.len, &b, &rb);
		if (ra != rows || rb != rows || a.n != b.n || a.n != rows * ncols)
			abort();
		for (size_t i = 0; i < a.n; i++)
			if (a.v[i].null != b.v[i].null || a.v[i].len != b.v[i].len ||
			    memcmp(a.v[i].p, b.v[i].p, a.v[i].len))
				abort();
	}
	free_vals(&a);
	free_vals(&b);
	restore_tsv_buf_free(&out);
	restore_tsv_cols_free(cols);
	free(sql);
	return 0;
}
