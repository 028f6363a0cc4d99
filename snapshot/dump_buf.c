/*
 * dump_buf.c - the growable text buffer the dumper builds SQL in, and its quoting helpers.
 *
 * Every function returns 0 or -ENOMEM and leaves the buffer valid (unchanged on failure).
 */
#include "snapshot/dump_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dbuf_reserve(struct dbuf *b, size_t extra)
{
	size_t cap;
	char *p;

	if (b->cap - b->len > extra)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int dbuf_add(struct dbuf *b, const void *s, size_t n)
{
	if (dbuf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int dbuf_puts(struct dbuf *b, const char *s)
{
	return dbuf_add(b, s, strlen(s));
}

int dbuf_printf(struct dbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (dbuf_reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int dbuf_ident(struct dbuf *b, const char *name)
{
	size_t n = strlen(name), i;
	char *q;

	if (n > SIZE_MAX / 2 - 4 || dbuf_reserve(b, 2 * n + 2))
		return -ENOMEM;
	q = b->p + b->len;
	*q++ = '`';
	for (i = 0; i < n; i++) {
		if (name[i] == '`')
			*q++ = '`';
		*q++ = name[i];
	}
	*q++ = '`';
	*q = '\0';
	b->len = (size_t)(q - b->p);
	return 0;
}

/*
 * The bytes mysql_real_escape_string() rewrites, as its manual lists them: NUL, \n, \r, \,
 * ', " and Control+Z. In utf8 and in single-byte character sets no byte of a multi-byte
 * character is ASCII, so a string can be cut just before each of them: the runs between are
 * copied as they are and the library escapes each such byte. The output is the library's own,
 * byte for byte (tests/unit/test_dump_esc.c compares the two on every byte value), at the speed
 * of a table scan instead of a charset call per byte.
 */
static const unsigned char esc_byte[256] = {
	[0] = 1, ['\n'] = 1, ['\r'] = 1, ['\\'] = 1, ['\''] = 1, ['"'] = 1, [26] = 1,
};

int dbuf_ascii_safe(MYSQL *m)
{
	MY_CHARSET_INFO cs;

	mysql_get_character_set_info(m, &cs);
	return cs.mbmaxlen == 1 || (cs.csname && !strncmp(cs.csname, "utf8", 4));
}

int dbuf_str(struct dbuf *b, MYSQL *m, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned long k;
	size_t i = 0, run;
	char *q;

	if (n > SIZE_MAX / 2 - 4 || dbuf_reserve(b, 2 * n + 3))
		return -ENOMEM;
	q = b->p + b->len;
	*q++ = '\'';
	if (!dbuf_ascii_safe(m)) {
		k = mysql_real_escape_string(m, q, s, (unsigned long)n);
		if (k == (unsigned long)-1)
			return -EILSEQ;
		q += k;
		i = n;
	}
	while (i < n) {
		for (run = i; run < n && !esc_byte[u[run]]; run++)
			;
		memcpy(q, s + i, run - i);
		q += run - i;
		i = run;
		if (i == n)
			break;
		k = mysql_real_escape_string(m, q, s + i, 1);
		if (k == (unsigned long)-1)
			return -EILSEQ;
		q += k;
		i++;
	}
	*q++ = '\'';
	*q = '\0';
	b->len = (size_t)(q - b->p);
	return 0;
}

void dbuf_free(struct dbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
