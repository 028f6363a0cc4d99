/*
 * sqlsplit.c - the streaming statement splitter (the tokenizer is in sqllex.c).
 *
 * The bytes not yet returned sit in one buffer: [start, pos) is scanned, [pos, len) is not.
 * The scanner never decides on a byte whose meaning depends on bytes not yet fed (the second
 * dash of "-- ", the rest of a multi-byte delimiter, the end of a DELIMITER line): it stops
 * there and resumes when more arrives, or decides at the end of the input. That is what makes
 * the result independent of how the input is cut. Between statements (state LEAD), white
 * space and comments are dropped as they are read, so they cost no memory.
 */
#include "restore/sqlsplit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state {
	LEAD,	    /* between statements */
	LEAD_LINE,  /* a line comment between statements */
	LEAD_BLOCK, /* a comment between statements */
	CODE,	    /* in a statement */
	SQUOTE,
	DQUOTE,
	BTICK,
	LINE,  /* a line comment in a statement */
	BLOCK, /* a comment in a statement */
};

struct sqlsplit {
	char *buf;
	size_t len, cap, pos, start;
	enum state st;
	bool in_exec; /* inside an executable comment */
	bool eof;
	char delim[SQLSPLIT_DELIM_MAX + 1];
	size_t dlen;
	uint64_t line, stmt_line, count;
	size_t max_stmt;
	unsigned char code_stop[256]; /* bytes the CODE scan must look at */
};

enum { NEED = 4, EMIT = 5 }; /* more input is needed; a delimiter ends a statement at pos */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void set_delim(struct sqlsplit *s, const char *d, size_t n)
{
	static const char stops[] = "\n'\"`#-/*";

	memcpy(s->delim, d, n);
	s->delim[n] = '\0';
	s->dlen = n;
	memset(s->code_stop, 0, sizeof(s->code_stop));
	for (const char *c = stops; *c; c++)
		s->code_stop[(unsigned char)*c] = 1;
	s->code_stop[(unsigned char)d[0]] = 1;
}

struct sqlsplit *sqlsplit_new(size_t max_stmt)
{
	struct sqlsplit *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max_stmt = max_stmt ? max_stmt : 1;
	s->line = 1;
	s->st = LEAD;
	set_delim(s, ";", 1);
	return s;
}

void sqlsplit_free(struct sqlsplit *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s);
}

uint64_t sqlsplit_count(const struct sqlsplit *s)
{
	return s->count;
}

size_t sqlsplit_memory(const struct sqlsplit *s)
{
	return s->cap;
}

static bool blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* After "--": white space or a control character makes it a comment (as the server says). */
static bool dash_comment_follow(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/*
 * Is there a delimiter at p? 1 yes, 0 no, NEED if the bytes so far match but more are needed.
 */
static int delim_at(const struct sqlsplit *s, size_t p)
{
	size_t have = s->len - p;

	if (have >= s->dlen)
		return memcmp(s->buf + p, s->delim, s->dlen) == 0;
	if (!s->eof && memcmp(s->buf + p, s->delim, have) == 0)
		return NEED;
	return 0;
}

/*
 * What starts at p, a '-' or a '/': a comment, an executable comment, or neither.
 * NEED when the answer depends on bytes not yet fed.
 */
enum opener { NOTHING, DASH_COMMENT, BLOCK_COMMENT, EXEC_COMMENT };

static int opener_at(const struct sqlsplit *s, size_t p, size_t *skip)
{
	const char *b = s->buf + p;
	size_t have = s->len - p;

	if (b[0] == '-') {
		if (have < 2)
			return s->eof ? NOTHING : -NEED;
		if (b[1] != '-')
			return NOTHING;
		if (have < 3)
			return s->eof ? (*skip = 2, DASH_COMMENT) : -NEED;
		*skip = 2;
		return dash_comment_follow((unsigned char)b[2]) ? DASH_COMMENT : NOTHING;
	}
	if (have < 2)
		return s->eof ? NOTHING : -NEED;
	if (b[1] != '*')
		return NOTHING;
	if (have < 3)
		return s->eof ? (*skip = 2, BLOCK_COMMENT) : -NEED;
	if (b[2] == '!')
		return *skip = 3, EXEC_COMMENT;
	if (b[2] != 'M')
		return *skip = 2, BLOCK_COMMENT;
	if (have < 4)
		return s->eof ? (*skip = 2, BLOCK_COMMENT) : -NEED;
	if (b[3] == '!')
		return *skip = 4, EXEC_COMMENT;
	return *skip = 2, BLOCK_COMMENT;
}

static int emit(struct sqlsplit *s, size_t end, sqlsplit_fn fn, void *arg)
{
	struct sqlsplit_stmt st;
	char saved;
	int rc;

	while (end > s->start && blank((unsigned char)s->buf[end - 1]))
		end--;
	s->count++;
	st = (struct sqlsplit_stmt){s->buf + s->start, end - s->start, s->count, s->stmt_line};
	saved = s->buf[end]; /* end < len: the delimiter follows */
	s->buf[end] = '\0';
	rc = fn(arg, &st);
	s->buf[end] = saved;
	return rc;
}

/* The DELIMITER command whose line is [p, eol): set the new delimiter. */
static int delimiter_cmd(struct sqlsplit *s, size_t p, size_t eol, char *err, size_t errlen)
{
	const char *b = s->buf;
	size_t a, e;

	p += 9; /* "delimiter" */
	while (eol > p && (b[eol - 1] == '\r' || b[eol - 1] == ' ' || b[eol - 1] == '\t'))
		eol--;
	while (p < eol && (b[p] == ' ' || b[p] == '\t'))
		p++;
	if (p < eol && (b[p] == '\'' || b[p] == '"' || b[p] == '`')) {
		a = p + 1;
		for (e = a; e < eol && b[e] != b[p]; e++)
			;
	} else {
		a = p;
		for (e = a; e < eol && b[e] != ' ' && b[e] != '\t'; e++)
			;
	}
	if (e == a)
		return fail(err, errlen, -EINVAL,
			    "line %llu: DELIMITER must be followed by a delimiter",
			    (unsigned long long)s->line);
	if (e - a > SQLSPLIT_DELIM_MAX || memchr(b + a, '\\', e - a) || memchr(b + a, '\0', e - a))
		return fail(err, errlen, -EINVAL,
			    "line %llu: DELIMITER %.*s: a delimiter is 1 to %d bytes, without a "
			    "backslash",
			    (unsigned long long)s->line, (int)(e - a > 40 ? 40 : e - a), b + a,
			    SQLSPLIT_DELIM_MAX);
	set_delim(s, b + a, e - a);
	return 0;
}

/*
 * A DELIMITER command at p? 0 no (a statement starts), 2 yes and done (p moved to the end of its
 * line), NEED, or a negative errno.
 */
static int delimiter_line(struct sqlsplit *s, size_t *pp, char *err, size_t errlen)
{
	const char *b = s->buf + *pp, *nl;
	size_t have = s->len - *pp, k;
	int rc;

	if (strncasecmp(b, "delimiter", have < 9 ? have : 9))
		return 0;
	if (have < 10 && !s->eof)
		return NEED;
	if (have < 9 || (have > 9 && !blank((unsigned char)b[9])))
		return 0;
	nl = memchr(b, '\n', have);
	if (!nl && have > SQLSPLIT_LINE_MAX)
		return fail(err, errlen, -EINVAL, "line %llu: DELIMITER line longer than %u bytes",
			    (unsigned long long)s->line, SQLSPLIT_LINE_MAX);
	if (!nl && !s->eof)
		return NEED;
	k = nl ? (size_t)(nl - b) : have;
	rc = delimiter_cmd(s, *pp, *pp + k, err, errlen);
	if (rc)
		return rc;
	*pp += k;
	return 2;
}

/* Between statements at p: drop what is not a statement. 0 when a statement starts at p. */
static int lead(struct sqlsplit *s, size_t *pp, char *err, size_t errlen)
{
	size_t p = *pp, skip = 0;
	const char *b = s->buf;
	int r;

	for (; p < s->len; s->start = p) {
		unsigned char c = (unsigned char)b[p];

		if (blank(c)) {
			s->line += c == '\n';
			p++;
			continue;
		}
		r = delim_at(s, p);
		if (r == NEED)
			goto need;
		if (r) { /* an empty statement */
			p += s->dlen;
			continue;
		}
		if (c == '#') {
			s->st = LEAD_LINE;
			*pp = p + 1;
			return 0;
		}
		if (c == '-' || c == '/') {
			r = opener_at(s, p, &skip);
			if (r == -NEED)
				goto need;
			if (r == DASH_COMMENT || r == BLOCK_COMMENT) {
				s->st = r == DASH_COMMENT ? LEAD_LINE : LEAD_BLOCK;
				*pp = p + skip;
				return 0;
			}
		}
		if ((c == 'd' || c == 'D') && (r = delimiter_line(s, &p, err, errlen)) != 0) {
			if (r == NEED)
				goto need;
			if (r < 0)
				return r;
			continue; /* r == 2: a DELIMITER command, done */
		}
		s->st = CODE;
		s->stmt_line = s->line;
		*pp = p;
		return 0;
	}
	*pp = p;
	return NEED;
need:
	*pp = p;
	return NEED;
}

/* Newlines in @n bytes at @p. */
static uint64_t count_lines(const char *p, size_t n)
{
	const char *e = p + n;
	uint64_t k = 0;

	while ((p = memchr(p, '\n', (size_t)(e - p)))) {
		k++;
		p++;
	}
	return k;
}

/*
 * In a string or identifier quoted by q (backslash escapes unless q is a backtick). The bytes
 * up to the next quote or backslash are skipped with memchr (a dump's strings are most of it);
 * the quote's place is looked for again only once passed, so many escapes cost no rescans.
 */
static int quoted(struct sqlsplit *s, size_t *pp, char q)
{
	const char *b = s->buf, *e;
	size_t p = *pp, n = s->len, qpos = 0, end;
	bool esc = q != '`';

	while (p < n) {
		if (qpos < p || !qpos) {
			e = memchr(b + p, q, n - p);
			qpos = e ? (size_t)(e - b) : n;
		}
		end = qpos;
		if (esc && (e = memchr(b + p, '\\', end - p)))
			end = (size_t)(e - b);
		s->line += count_lines(b + p, end - p);
		p = end;
		if (p == n)
			break;
		if (b[p] == q) {
			s->st = CODE;
			*pp = p + 1;
			return 0;
		}
		if (p + 1 == n) { /* a backslash, the last byte so far */
			if (!s->eof)
				break;
			p++;
			break;
		}
		s->line += b[p + 1] == '\n';
		p += 2;
	}
	*pp = p;
	return NEED;
}

/* A comment to the end of the line: the newline itself is left to the caller's state. */
static int line_comment(struct sqlsplit *s, size_t *pp, enum state next)
{
	const char *nl = memchr(s->buf + *pp, '\n', s->len - *pp);

	if (!nl) {
		*pp = s->len;
		return NEED;
	}
	*pp = (size_t)(nl - s->buf);
	s->st = next;
	return 0;
}

static int block_comment(struct sqlsplit *s, size_t *pp, enum state next)
{
	const char *b = s->buf;
	size_t p = *pp, n = s->len;

	for (; p < n; p++) {
		if (b[p] == '\n') {
			s->line++;
		} else if (b[p] == '*') {
			if (p + 1 == n)
				break;
			if (b[p + 1] == '/') {
				s->st = next;
				*pp = p + 2;
				return 0;
			}
		}
	}
	*pp = p;
	return NEED;
}

/* In a statement, outside strings and comments. */
static int code(struct sqlsplit *s, size_t *pp)
{
	const char *b = s->buf;
	size_t p = *pp, n = s->len, skip = 0;
	int r;

	for (; p < n; p++) {
		unsigned char c = (unsigned char)b[p];

		if (!s->code_stop[c])
			continue;
		if (c == (unsigned char)s->delim[0]) {
			r = delim_at(s, p);
			if (r == NEED)
				break;
			if (r) {
				*pp = p;
				return EMIT;
			}
		}
		switch (c) {
		case '\n':
			s->line++;
			break;
		case '\'':
		case '"':
		case '`':
			s->st = c == '\'' ? SQUOTE : c == '"' ? DQUOTE : BTICK;
			*pp = p + 1;
			return 0;
		case '#':
			s->st = LINE;
			*pp = p + 1;
			return 0;
		case '-':
		case '/':
			r = opener_at(s, p, &skip);
			if (r == -NEED)
				goto need;
			if (r == EXEC_COMMENT) {
				s->in_exec = true;
				p += skip - 1;
			} else if (r != NOTHING) {
				s->st = r == DASH_COMMENT ? LINE : BLOCK;
				*pp = p + skip;
				return 0;
			}
			break;
		case '*':
			if (!s->in_exec)
				break;
			if (p + 1 == n && !s->eof)
				goto need;
			if (p + 1 < n && b[p + 1] == '/') {
				s->in_exec = false;
				p++;
			}
			break;
		}
	}
need:
	*pp = p;
	return NEED;
}

static int scan(struct sqlsplit *s, sqlsplit_fn fn, void *arg, char *err, size_t errlen)
{
	size_t p = s->pos;
	int rc;

	for (;;) {
		switch (s->st) {
		case LEAD:
			rc = lead(s, &p, err, errlen);
			break;
		case LEAD_LINE:
			rc = line_comment(s, &p, LEAD);
			s->start = p;
			break;
		case LEAD_BLOCK:
			rc = block_comment(s, &p, LEAD);
			s->start = p;
			break;
		case CODE:
			rc = code(s, &p);
			break;
		case SQUOTE:
		case DQUOTE:
		case BTICK:
			rc = quoted(s, &p, s->st == SQUOTE ? '\'' : s->st == DQUOTE ? '"' : '`');
			break;
		case LINE:
			rc = line_comment(s, &p, CODE);
			break;
		default:
			rc = block_comment(s, &p, CODE);
			break;
		}
		s->pos = p;
		if (rc == 0)
			continue;
		if (rc != NEED && rc != EMIT)
			return rc;
		if (s->st >= CODE && s->pos - s->start > s->max_stmt)
			return fail(err, errlen, -E2BIG,
				    "statement %llu (line %llu) is longer than %zu bytes",
				    (unsigned long long)s->count + 1,
				    (unsigned long long)s->stmt_line, s->max_stmt);
		if (rc == NEED)
			return 0;
		rc = emit(s, p, fn, arg);
		s->st = LEAD;
		s->pos = s->start = p = p + s->dlen;
		if (rc)
			return rc;
	}
}

/* Room for k more bytes: drop what was returned when that is cheap, grow or shrink. */
static int make_room(struct sqlsplit *s, size_t k)
{
	size_t live = s->len - s->start, want;
	char *nb;

	if (s->start && s->start >= live) {
		memmove(s->buf, s->buf + s->start, live);
		s->pos -= s->start;
		s->len = live;
		s->start = 0;
	}
	want = s->len + k;
	if (s->cap >= want && !(s->cap > (1u << 20) && want < s->cap / 4))
		return 0;
	if (s->start) { /* about to copy anyway */
		memmove(s->buf, s->buf + s->start, live);
		s->pos -= s->start;
		s->len = live;
		s->start = 0;
		want = live + k;
	}
	if (s->cap < want) {
		want = want > 2 * s->cap ? want : 2 * s->cap;
		want = want < 4096 ? 4096 : want;
	} else {
		want = s->cap / 2;
	}
	nb = realloc(s->buf, want);
	if (!nb)
		return -ENOMEM;
	s->buf = nb;
	s->cap = want;
	return 0;
}

int sqlsplit_feed(struct sqlsplit *s, const void *buf, size_t len, sqlsplit_fn fn, void *arg,
		  char *err, size_t errlen)
{
	const char *in = buf;
	size_t k;
	int rc;

	while (len) {
		k = len < SQLSPLIT_SLICE ? len : SQLSPLIT_SLICE;
		if (make_room(s, k))
			return fail(err, errlen, -ENOMEM, "out of memory at line %llu",
				    (unsigned long long)s->line);
		memcpy(s->buf + s->len, in, k);
		s->len += k;
		in += k;
		len -= k;
		rc = scan(s, fn, arg, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int sqlsplit_end(struct sqlsplit *s, sqlsplit_fn fn, void *arg, char *err, size_t errlen)
{
	static const char *const where[] = {
	    [CODE] = "a statement",	   [SQUOTE] = "a '...' string",
	    [DQUOTE] = "a \"...\" string", [BTICK] = "a `...` identifier",
	    [LINE] = "a statement",	   [BLOCK] = "a comment",
	};
	int rc;

	s->eof = true;
	rc = scan(s, fn, arg, err, errlen);
	if (rc)
		return rc;
	if (s->st == LEAD || s->st == LEAD_LINE)
		return 0;
	if (s->st == LEAD_BLOCK)
		return fail(err, errlen, -EPIPE,
			    "the SQL ends inside a comment (line %llu): it is cut off",
			    (unsigned long long)s->line);
	return fail(err, errlen, -EPIPE,
		    "the SQL ends inside %s: statement %llu (line %llu) has no closing "
		    "delimiter '%s': it is cut off",
		    where[s->st], (unsigned long long)s->count + 1,
		    (unsigned long long)s->stmt_line, s->delim);
}
