/*
 * tsv.c - a statefs dump's INSERTs as LOAD DATA lines (see tsv.h for what is taken and why).
 *
 * Every check here errs towards "not in the shape": the cost of a false refusal is an INSERT
 * run as it is, the cost of a false acceptance is a value stored differently.
 */
#include "restore/tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tsv_col {
	char *name;
	unsigned char kind;
};

#define TSV_COLS_MAX 250 /* restore_tsv_head keeps a column's index in a byte */

struct tsv_cols {
	size_t n;
	struct tsv_col v[];
};

static const char *const num_types[] = {"tinyint", "smallint", "mediumint", "int",
					"bigint",  "decimal",  "double",    "float",
					NULL};
static const char *const str_types[] = {"char",	  "varchar",  "tinytext", "text",
					"mediumtext", "longtext", "date",     "datetime",
					"timestamp",  "time",	  "enum",     "set",
					NULL};
static const char *const bin_types[] = {"binary", "varbinary",	"tinyblob", "blob",
					"mediumblob", "longblob", NULL};

static bool in_list(const char *w, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !memcmp(w, *list, n))
			return true;
	return false;
}

static bool starts(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s);

	return n >= k && !memcmp(p, s, k);
}

/* The `quoted` name at @p (@n bytes) unquoted into a new string; *used: bytes it took. */
static char *quoted(const char *p, size_t n, size_t *used)
{
	char *out;
	size_t i, k = 0;

	if (!n || p[0] != '`')
		return NULL;
	out = malloc(n);
	if (!out)
		return NULL;
	for (i = 1; i < n; i++) {
		if (p[i] != '`') {
			out[k++] = p[i];
			continue;
		}
		if (i + 1 < n && p[i + 1] == '`') {
			out[k++] = '`';
			i++;
			continue;
		}
		out[k] = '\0';
		*used = i + 1;
		return out;
	}
	free(out);
	return NULL;
}

/* A column line "  `name` type...": its kind, or -1 when the table is not taken. */
static int column_kind(const char *p, size_t n)
{
	size_t k = 0;

	if (memmem(p, n, " CHECK (", 8) || memmem(p, n, " CHECK(", 7))
		return -1;
	if (memmem(p, n, " GENERATED ALWAYS AS ", 21))
		return TSV_NONE;
	while (k < n && p[k] >= 'a' && p[k] <= 'z')
		k++;
	if (k < n && p[k] != '(' && p[k] != ' ' && p[k] != ',')
		return -1;
	if (in_list(p, k, num_types))
		return TSV_NUM;
	if (in_list(p, k, str_types))
		return TSV_STR;
	if (in_list(p, k, bin_types))
		return TSV_BIN;
	return -1;
}

void restore_tsv_cols_free(struct tsv_cols *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c);
}

struct tsv_cols *restore_tsv_cols(const char *sql, size_t len)
{
	const char *p, *e = sql + len, *nl;
	struct tsv_cols *c;
	bool closed = false;
	size_t n, used;
	int kind;

	if (!starts(sql, len, "CREATE TABLE `") || !memmem(sql, len, "\n) ENGINE=InnoDB", 16))
		return NULL;
	c = calloc(1, sizeof(*c) + len / 4 * sizeof(c->v[0])); /* a column line: 4+ bytes */
	if (!c)
		return NULL;
	p = memchr(sql, '\n', len);
	for (p = p ? p + 1 : e; p < e; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(e - p));
		nl = nl ? nl : e;
		n = (size_t)(nl - p);
		if (closed)
			goto no; /* PARTITION BY ... after the options */
		if (p[0] == ')') {
			if (memmem(p, n, "PARTITION", 9) || memmem(p, n, "WITH SYSTEM VERSIONING", 22))
				goto no;
			closed = true;
			continue;
		}
		if (starts(p, n, "  PRIMARY KEY (") || starts(p, n, "  UNIQUE KEY `") ||
		    starts(p, n, "  KEY `"))
			continue;
		if (!starts(p, n, "  `"))
			goto no;
		c->v[c->n].name = quoted(p + 2, n - 2, &used);
		if (!c->v[c->n].name || 2 + used >= n || p[2 + used] != ' ')
			goto no;
		kind = column_kind(p + 3 + used, n - 3 - used);
		c->n++;
		if (kind < 0)
			goto no;
		c->v[c->n - 1].kind = (unsigned char)kind;
	}
	if (closed && c->n && c->n <= TSV_COLS_MAX)
		return c;
no:
	restore_tsv_cols_free(c);
	return NULL;
}

size_t restore_tsv_ncols(const struct tsv_cols *c)
{
	return c->n;
}

size_t restore_tsv_head(const struct tsv_cols *c, const char *sql, size_t len,
			unsigned char *kinds, size_t *n)
{
	const char *p = sql, *e = sql + len;
	size_t used, i, k = 0;
	char *name;

	if (!starts(p, len, "INSERT INTO `"))
		return 0;
	p += 12;
	name = quoted(p, (size_t)(e - p), &used); /* the table: the caller's business */
	free(name);
	if (!name)
		return 0;
	p += used;
	if (!starts(p, (size_t)(e - p), " ("))
		return 0;
	p += 2;
	for (;;) {
		name = quoted(p, (size_t)(e - p), &used);
		if (!name)
			return 0;
		for (i = 0; i < c->n && strcmp(c->v[i].name, name); i++)
			;
		free(name);
		if (i == c->n || c->v[i].kind == TSV_NONE || k == c->n)
			return 0;
		for (size_t j = 0; j < k; j++)
			if (kinds[j] == 0xff - i) /* named twice */
				return 0;
		kinds[k++] = (unsigned char)(0xff - i); /* the column's index, for now */
		p += used;
		if (p < e && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	if (!starts(p, (size_t)(e - p), ") VALUES\n"))
		return 0;
	for (i = 0; i < k; i++)
		kinds[i] = c->v[0xff - kinds[i]].kind;
	*n = k;
	return (size_t)(p + 9 - sql);
}

static int reserve(struct tsv_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len > more)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* One byte of a value, escaped for LOAD DATA. */
static char *put(char *q, unsigned char ch)
{
	switch (ch) {
	case '\\':
		*q++ = '\\';
		*q++ = '\\';
		break;
	case '\t':
		*q++ = '\\';
		*q++ = 't';
		break;
	case '\n':
		*q++ = '\\';
		*q++ = 'n';
		break;
	case '\0':
		*q++ = '\\';
		*q++ = '0';
		break;
	default:
		*q++ = (char)ch;
	}
	return q;
}

/*
 * Bytes of a 'string' copied as they are: all but the quote, the backslash, and the three that
 * LOAD DATA would read as a field's or a line's end or that we escape (tab, newline, NUL).
 */
static const unsigned char string_stop[256] = {['\''] = 1, ['\\'] = 1, ['\t'] = 1, ['\n'] = 1,
					       ['\0'] = 1};

/*
 * A 'string' at *pp (mysql_real_escape_string's escapes only); NULL if not in the shape. Its
 * escapes (\0 \n \r \Z \\ \' \") are copied as they are: LOAD DATA reads each as the same byte.
 */
static char *string(const char **pp, const char *e, char *q)
{
	const char *p = *pp + 1, *run;

	for (;;) {
		for (run = p; p < e && !string_stop[(unsigned char)*p]; p++)
			;
		memcpy(q, run, (size_t)(p - run));
		q += p - run;
		if (p == e)
			return NULL;
		switch (*p) {
		case '\'':
			if (p + 1 < e && p[1] == '\'')
				return NULL; /* '' inside: not ours */
			*pp = p + 1;
			return q;
		case '\\':
			if (++p == e || !strchr("0nrZ\\'\"", *p) || !*p)
				return NULL;
			*q++ = '\\';
			*q++ = *p++;
			break;
		default: /* a raw tab, newline or NUL */
			q = put(q, (unsigned char)*p++);
		}
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *hex(const char **pp, const char *e, char *q)
{
	const char *p = *pp + 2;
	int hi, lo;

	if (p == e || hexval(*p) < 0)
		return NULL;
	for (; p < e && (hi = hexval(*p)) >= 0; p += 2) {
		if (p + 1 == e || (lo = hexval(p[1])) < 0)
			return NULL;
		q = put(q, (unsigned char)(hi << 4 | lo));
	}
	*pp = p;
	return q;
}

static bool digit(const char *p, const char *e)
{
	return p < e && *p >= '0' && *p <= '9';
}

/* -?D+(.D+)?([eE][-+]?D+)?, not a negative zero; copied as it is. */
static char *number(const char **pp, const char *e, char *q)
{
	const char *p = *pp, *s = p;
	bool neg = false, nonzero = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!digit(p, e))
		return NULL;
	for (; digit(p, e); p++)
		nonzero |= *p != '0';
	if (p < e && *p == '.') {
		if (!digit(++p, e))
			return NULL;
		for (; digit(p, e); p++)
			nonzero |= *p != '0';
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '-' || *p == '+'))
			p++;
		if (!digit(p, e))
			return NULL;
		while (digit(p, e))
			p++;
	}
	if (neg && !nonzero)
		return NULL;
	memcpy(q, s, (size_t)(p - s));
	*pp = p;
	return q + (p - s);
}

int restore_tsv_rows(const char *sql, size_t len, size_t head, const unsigned char *kinds,
		     size_t n, struct tsv_buf *out, uint64_t *rows)
{
	const char *p = sql + head, *e = sql + len;
	size_t start = out->len, i;
	uint64_t nrows = 0;
	char *q;

	/* only a raw tab grows (to \t): twice the SQL text is always enough */
	if (reserve(out, 2 * (len - head) + 1))
		return -ENOMEM;
	q = out->p + out->len;
	for (;;) {
		if (p == e || *p++ != '(')
			goto no;
		for (i = 0; i < n; i++) {
			if (i && (p == e || *p++ != ','))
				goto no;
			if (i)
				*q++ = '\t';
			if (p == e)
				goto no;
			if (*p == '\'')
				q = string(&p, e, q);
			else if (*p == 'N' && e - p >= 4 && !memcmp(p, "NULL", 4))
				p += 4, *q++ = '\\', *q++ = 'N';
			else if (kinds[i] == TSV_BIN && e - p >= 2 && p[0] == '0' && p[1] == 'x')
				q = hex(&p, e, q);
			else if (kinds[i] == TSV_NUM)
				q = number(&p, e, q);
			else
				q = NULL;
			if (!q)
				goto no;
		}
		if (p == e || *p++ != ')')
			goto no;
		*q++ = '\n';
		nrows++;
		if (p == e)
			break;
		if (e - p < 3 || memcmp(p, ",\n(", 3))
			goto no;
		p += 2;
	}
	out->len = (size_t)(q - out->p);
	*rows += nrows;
	return 1;
no:
	out->len = start;
	return 0;
}

int restore_tsv_load_sql(const char *head, size_t len, const char *file, struct tsv_buf *out)
{
	static const char a[] = "LOAD DATA LOCAL INFILE '", b[] = "' INTO TABLE ",
			  c[] = " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ENCLOSED BY '' "
				"ESCAPED BY '\\\\' LINES STARTING BY '' TERMINATED BY '\\n' ";
	const char *cols, *end;
	size_t used = 0, need;
	char *name;

	if (!starts(head, len, "INSERT INTO `") || len < 21)
		return -EINVAL;
	name = quoted(head + 12, len - 12, &used);
	if (!name)
		return -EINVAL;
	free(name);
	cols = head + 12 + used; /* " (`a`,...) VALUES\n" */
	end = head + len - 8;	 /* " VALUES\n" */
	if (cols + 2 > end || memcmp(end, " VALUES\n", 8))
		return -EINVAL;
	need = sizeof(a) + strlen(file) + sizeof(b) + used + sizeof(c) + (size_t)(end - cols);
	out->len = 0;
	if (reserve(out, need))
		return -ENOMEM;
#define PUT(s, n) (memcpy(out->p + out->len, s, n), out->len += (n))
	PUT(a, sizeof(a) - 1);
	PUT(file, strlen(file));
	PUT(b, sizeof(b) - 1);
	PUT(head + 12, used); /* `table` */
	PUT(c, sizeof(c) - 1);
	PUT(cols + 1, (size_t)(end - cols - 1)); /* (`a`,...) */
#undef PUT
	out->p[out->len] = '\0';
	return 0;
}

void restore_tsv_buf_free(struct tsv_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
