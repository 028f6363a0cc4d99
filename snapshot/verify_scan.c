/*
 * verify_scan.c - the dump scanner of verify.h: rows and a digest per table part, one digest
 * for the rest, from a stream cut anywhere.
 *
 * What a newcomer must know: a line is classified by its first bytes (at most 12, "INSERT
 * INTO "), which may arrive in separate pieces; until they are known the line's bytes wait
 * in a small prefix buffer, then go to the digest the line belongs to, and the rest of the
 * line streams straight into it. Rows of a statefs dump are one per line (the dumper escapes
 * newlines inside values), so counting lines that start with "(" inside an INSERT counts rows.
 */
#include "snapshot/verify.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX 12 /* strlen("INSERT INTO ") */

enum dest { D_SKIP, D_OTHER, D_TABLE };

struct state {
	EVP_MD_CTX *table; /* the open table part's digest, or NULL */
	EVP_MD_CTX *other;
	uint64_t line;	  /* lines begun, 1 for the first */
	bool mid_line;	  /* inside a line whose class is known */
	char pre[PREFIX]; /* the first bytes of a line not yet classified */
	size_t npre;
	enum dest dest; /* where the current line goes */
	bool in_insert; /* inside an INSERT statement of the open table */
	bool started;	/* the open table's statements have begun (past its comment) */
	char last;	/* the last byte of the current line so far */
};

static int fail(struct verify_scan *s, int rc)
{
	if (!s->err)
		s->err = rc;
	return s->err;
}

int verify_scan_init(struct verify_scan *s)
{
	struct state *st;

	memset(s, 0, sizeof(*s));
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->priv = st;
	st->other = EVP_MD_CTX_new();
	if (!st->other || !EVP_DigestInit_ex(st->other, EVP_sha256(), NULL))
		return fail(s, -ENOMEM);
	return 0;
}

/* Close the open table part: its digest is final. */
static void close_table(struct verify_scan *s)
{
	struct state *st = s->priv;
	unsigned len = 32;

	if (!st->table)
		return;
	if (!EVP_DigestFinal_ex(st->table, s->tables[s->ntables - 1].digest, &len))
		fail(s, -ENOMEM);
	EVP_MD_CTX_free(st->table);
	st->table = NULL;
	st->in_insert = false;
	st->started = false;
}

static void put(struct verify_scan *s, const char *p, size_t n)
{
	struct state *st = s->priv;

	if (!n || st->dest == D_SKIP)
		return;
	if (!EVP_DigestUpdate(st->dest == D_TABLE ? st->table : st->other, p, n))
		fail(s, -ENOMEM);
}

/* The first bytes of the line are known (all of them if the line is shorter): classify. */
static void classify(struct verify_scan *s)
{
	struct state *st = s->priv;

	st->line++;
	st->mid_line = true;
	if (st->line == 1) {
		st->dest = D_SKIP; /* "-- statefs ... dump of database `NAME`" */
	} else if (st->table && st->started && st->npre >= 2 && st->pre[0] == '-' &&
		   st->pre[1] == '-') {
		close_table(s); /* a comment after its statements: the table's part is over */
		st->dest = D_OTHER;
	} else if (st->table) {
		st->dest = D_TABLE;
		if (st->npre && !(st->npre >= 2 && st->pre[0] == '-' && st->pre[1] == '-'))
			st->started = true;
		if (st->in_insert && st->npre && st->pre[0] == '(') {
			s->tables[s->ntables - 1].rows++;
			s->rows++;
		} else if (st->npre == PREFIX && !memcmp(st->pre, "INSERT INTO ", PREFIX)) {
			st->in_insert = true;
		}
	} else {
		st->dest = D_OTHER;
	}
	put(s, st->pre, st->npre);
	st->npre = 0;
}

/* The current line ended (its "\n" was put). */
static void end_line(struct verify_scan *s)
{
	struct state *st = s->priv;

	if (st->in_insert && st->last == ';')
		st->in_insert = false;
	st->mid_line = false;
	st->last = '\0';
}

int verify_scan_feed(struct verify_scan *s, const void *buf, size_t len)
{
	struct state *st = s->priv;
	const char *p = buf, *end = p + len, *nl;

	if (s->err)
		return s->err;
	while (p < end) {
		if (!st->mid_line) {
			/* gather the prefix byte by byte: a short line ends inside it */
			while (p < end && st->npre < PREFIX && *p != '\n')
				st->pre[st->npre++] = *p++;
			if (p == end)
				break;
			if (st->npre)
				st->last = st->pre[st->npre - 1];
			classify(s);
			continue;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			put(s, p, (size_t)(end - p));
			st->last = end[-1];
			break;
		}
		if (nl > p)
			st->last = nl[-1];
		put(s, p, (size_t)(nl - p + 1));
		p = nl + 1;
		end_line(s);
	}
	return s->err;
}

/* Finish a line cut off by a table start or the end of the input. */
static void flush_line(struct verify_scan *s)
{
	struct state *st = s->priv;

	if (!st->mid_line && st->npre)
		classify(s);
	if (st->mid_line)
		end_line(s);
}

int verify_scan_table(struct verify_scan *s, const char *name)
{
	struct state *st = s->priv;
	struct verify_table *nt;

	if (s->err)
		return s->err;
	flush_line(s);
	close_table(s);
	if (s->ntables == s->cap) {
		nt = realloc(s->tables, (s->cap ? s->cap * 2 : 16) * sizeof(*nt));
		if (!nt)
			return fail(s, -ENOMEM);
		s->tables = nt;
		s->cap = s->cap ? s->cap * 2 : 16;
	}
	nt = &s->tables[s->ntables];
	memset(nt, 0, sizeof(*nt));
	nt->name = strdup(name);
	st->table = EVP_MD_CTX_new();
	if (!nt->name || !st->table || !EVP_DigestInit_ex(st->table, EVP_sha256(), NULL)) {
		free(nt->name);
		EVP_MD_CTX_free(st->table);
		st->table = NULL;
		return fail(s, -ENOMEM);
	}
	s->ntables++;
	return 0;
}

int verify_scan_end(struct verify_scan *s)
{
	struct state *st = s->priv;
	unsigned len = 32;

	if (s->err)
		return s->err;
	flush_line(s);
	close_table(s);
	if (!EVP_DigestFinal_ex(st->other, s->other, &len))
		fail(s, -ENOMEM);
	return s->err;
}

void verify_scan_free(struct verify_scan *s)
{
	struct state *st = s->priv;

	for (size_t i = 0; i < s->ntables; i++)
		free(s->tables[i].name);
	free(s->tables);
	if (st) {
		EVP_MD_CTX_free(st->table);
		EVP_MD_CTX_free(st->other);
		free(st);
	}
	memset(s, 0, sizeof(*s));
}
