/*
 * keys.c - build a table's secondary keys after its rows (see restore_defer_keys in stmt.h).
 *
 * Inserting rows into a table's secondary indexes touches their pages at random; once the
 * indexes outgrow the buffer pool that is random I/O, where ALTER TABLE .. ADD KEY reads the
 * rows once and builds each index sorted. Only the plain case is taken (anything else keeps its
 * keys): an InnoDB table as SHOW CREATE TABLE prints it (one definition per line), with a
 * primary key, no foreign key (its index must exist with it), no partitioning, and an
 * AUTO_INCREMENT column, if any, first in the primary key (it must stay the first part of a
 * key). Only "KEY" lines move: UNIQUE, FULLTEXT and SPATIAL keys stay in the CREATE. The
 * server orders keys by kind, then by position, so adding them back in their order gives the
 * same SHOW CREATE TABLE.
 */
#include "restore/stmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "restore/sqlsplit.h"

struct line {
	const char *p;
	size_t len;
};

static bool starts(const struct line *l, const char *s)
{
	size_t n = strlen(s);

	return l->len >= n && !memcmp(l->p, s, n);
}

/* The `quoted` name a column line starts with ("  `a``b` int..."), quotes included. */
static size_t quoted_name(const struct line *l)
{
	size_t i;

	for (i = 3; i < l->len; i++) {
		if (l->p[i] != '`')
			continue;
		if (i + 1 < l->len && l->p[i + 1] == '`')
			i++;
		else
			return i + 1 - 2;
	}
	return 0;
}

/* Words that keep the keys in the CREATE. */
static bool has_blocker(const char *sql, size_t len)
{
	struct sqlsplit_tok t;
	size_t pos = 0;

	while (sqlsplit_token(sql, len, &pos, 0, &t) != SQLSPLIT_TOK_END)
		if (sqlsplit_tok_is(&t, "FOREIGN") || sqlsplit_tok_is(&t, "PARTITION") ||
		    sqlsplit_tok_is(&t, "REFERENCES"))
			return true;
	return false;
}

/* The AUTO_INCREMENT column, if any, leads the primary key. */
static bool auto_inc_ok(const struct line *v, size_t n)
{
	const struct line *col = NULL, *pk = NULL;
	size_t i, q;

	for (i = 0; i < n; i++) {
		if (starts(&v[i], "  `") && memmem(v[i].p, v[i].len, " AUTO_INCREMENT", 15))
			col = col ? &v[n] : &v[i]; /* two: give up below */
		if (starts(&v[i], "  PRIMARY KEY ("))
			pk = &v[i];
	}
	if (!col)
		return true;
	if (col == &v[n] || !pk || !(q = quoted_name(col)))
		return false;
	return pk->len > 15 + q + 1 && !memcmp(pk->p + 15, col->p + 2, q) &&
	       (pk->p[15 + q] == ',' || pk->p[15 + q] == ')');
}

int restore_defer_keys(const char *sql, size_t len, const char *table, char **create,
		       size_t *create_len, char **alter, size_t *alter_len)
{
	struct line *v = NULL;
	size_t n = 0, i, keys = 0, c = 0, a = 0;
	const char *p = sql, *e = sql + len, *nl;
	char *cr = NULL, *al = NULL;
	int rc = 0;

	*create = *alter = NULL;
	if (!memmem(sql, len, "\n) ENGINE=InnoDB", 16) || !memmem(sql, len, "\n  KEY `", 8) ||
	    has_blocker(sql, len))
		return 0;
	v = calloc(len + 2, sizeof(*v));
	cr = malloc(len + 1);
	al = malloc(2 * len + 2 * strlen(table) + 32); /* ", ADD " for "  ", table quoted */
	if (!v || !cr || !al) {
		rc = -ENOMEM;
		goto out;
	}
	for (; p < e; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(e - p));
		nl = nl ? nl : e;
		v[n++] = (struct line){p, (size_t)(nl - p)};
	}
	if (!auto_inc_ok(v, n))
		goto out;
	memcpy(al, "ALTER TABLE `", 13);
	a = 13;
	for (const char *t = table; *t; t++) {
		if (*t == '`')
			al[a++] = '`';
		al[a++] = *t;
	}
	al[a++] = '`';
	for (i = 0; i < n; i++) {
		struct line l = v[i];

		if (!starts(&l, "  KEY `")) {
			if (l.len && l.p[0] == ')' && c >= 2 && cr[c - 2] == ',')
				cr[c - 2] = '\n', c--; /* the last definition's comma */
			memcpy(cr + c, l.p, l.len);
			c += l.len;
			if (i + 1 < n)
				cr[c++] = '\n';
			continue;
		}
		if (l.p[l.len - 1] == ',')
			l.len--;
		memcpy(al + a, keys ? ", ADD " : " ADD ", keys ? 6 : 5);
		a += keys ? 6 : 5;
		memcpy(al + a, l.p + 2, l.len - 2);
		a += l.len - 2;
		keys++;
	}
	cr[c] = al[a] = '\0';
	*create = cr;
	*create_len = c;
	*alter = al;
	*alter_len = a;
	cr = al = NULL;
	rc = 1;
out:
	free(v);
	free(cr);
	free(al);
	return rc;
}
