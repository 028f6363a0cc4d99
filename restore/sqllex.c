/*
 * sqllex.c - the tokens of one complete statement, for deciding what a statement is (see
 * restore/stmt.c). Not a full SQL lexer: it only has to find words, names, strings and
 * punctuation the way the server would, including inside executable comments.
 */
#include "restore/sqlsplit.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c == '@' || c >= 0x80;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Past the comment that starts at p ("/" "*"), or to the end if it is not closed. */
static size_t skip_block(const char *s, size_t len, size_t p)
{
	const char *e;

	for (p += 2; p < len; p = (size_t)(e - s) + 1) {
		e = memchr(s + p, '*', len - p);
		if (!e || (size_t)(e - s) + 1 >= len)
			return len;
		if (e[1] == '/')
			return (size_t)(e - s) + 2;
	}
	return len;
}

/*
 * At p, "/" "*" "!" or "/" "*" "M!": the length of the marker to skip if the content is read as
 * SQL, or 0 if the whole comment is to be skipped (a version newer than @version).
 */
static size_t exec_marker(const char *s, size_t len, size_t p, unsigned long version)
{
	size_t m = s[p + 2] == '!' ? 3 : 4, ndig = s[p + 2] == '!' ? 5 : 6, i;
	unsigned long v = 0;

	for (i = 0; i < ndig && p + m + i < len && digit(s[p + m + i]); i++)
		v = v * 10 + (unsigned long)(s[p + m + i] - '0');
	if (i < ndig) /* no version: always run (MariaDB reads exactly 5 or 6 digits) */
		return m;
	return version && v > version ? 0 : m + ndig;
}

/* Skip white space, comments and executable-comment markers. */
static size_t skip_space(const char *s, size_t len, size_t p, unsigned long version)
{
	size_t m;

	while (p < len) {
		unsigned char c = (unsigned char)s[p];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			p++;
		} else if (c == '#' ||
			   (c == '-' && p + 1 < len && s[p + 1] == '-' &&
			    (p + 2 == len || (unsigned char)s[p + 2] <= ' ' || s[p + 2] == 0x7f))) {
			const char *nl = memchr(s + p, '\n', len - p);

			p = nl ? (size_t)(nl - s) + 1 : len;
		} else if (c == '/' && p + 1 < len && s[p + 1] == '*') {
			if (p + 2 < len && (s[p + 2] == '!' ||
					    (s[p + 2] == 'M' && p + 3 < len && s[p + 3] == '!'))) {
				m = exec_marker(s, len, p, version);
				p = m ? p + m : skip_block(s, len, p);
			} else {
				p = skip_block(s, len, p);
			}
		} else if (c == '*' && p + 1 < len && s[p + 1] == '/') {
			p += 2; /* the end of an executable comment */
		} else {
			break;
		}
	}
	return p;
}

enum sqlsplit_tok_kind sqlsplit_token(const char *sql, size_t len, size_t *pos,
				      unsigned long version, struct sqlsplit_tok *t)
{
	size_t p = skip_space(sql, len, *pos, version), q;
	char c;

	t->p = sql + p;
	t->len = 0;
	if (p >= len) {
		*pos = len;
		return t->kind = SQLSPLIT_TOK_END;
	}
	c = sql[p];
	q = p + 1;
	if (c == '`' || c == '\'' || c == '"') {
		for (; q < len; q++) {
			char b = sql[q];

			if (b != c && b != '\\')
				continue;
			if (b == '\\') {
				q += c != '`';
			} else if (q + 1 < len && sql[q + 1] == c) {
				q++; /* doubled: still inside */
			} else {
				break;
			}
		}
		q = q < len ? q + 1 : len;
		t->kind = c == '`' ? SQLSPLIT_TOK_IDENT : SQLSPLIT_TOK_STRING;
	} else if (word_byte((unsigned char)c)) {
		while (q < len && word_byte((unsigned char)sql[q]))
			q++;
		t->kind = SQLSPLIT_TOK_WORD;
	} else {
		t->kind = SQLSPLIT_TOK_PUNCT;
	}
	t->len = q - p;
	*pos = q;
	return t->kind;
}

int sqlsplit_tok_is(const struct sqlsplit_tok *t, const char *kw)
{
	size_t n = strlen(kw);

	return t->kind == SQLSPLIT_TOK_WORD && t->len == n && !strncasecmp(t->p, kw, n);
}

int sqlsplit_tok_name(const struct sqlsplit_tok *t, char *out, size_t outlen)
{
	size_t i, o = 0, n = t->len;
	char q;

	if (!outlen)
		return -ENAMETOOLONG;
	if (t->kind == SQLSPLIT_TOK_WORD) {
		for (i = 0; i < n && digit(t->p[i]); i++)
			;
		if (i == n || t->p[0] == '@' || t->p[0] == '$')
			return -EINVAL; /* a number, a variable */
		if (n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out, t->p, n);
		out[n] = '\0';
		return 0;
	}
	if (t->kind != SQLSPLIT_TOK_IDENT && !(t->kind == SQLSPLIT_TOK_STRING && t->p[0] == '"'))
		return -EINVAL;
	q = t->p[0];
	if (n < 2 || t->p[n - 1] != q)
		return -EINVAL; /* unterminated */
	for (i = 1; i + 1 < n; i++) {
		if (t->p[i] == q)
			i++; /* the first of a doubled quote */
		if (t->p[i] == '\0')
			return -EINVAL;
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = t->p[i];
	}
	out[o] = '\0';
	return o ? 0 : -EINVAL;
}
