/*
 * meta.c - the ".statefs-meta" file: type, mode and owner of every path in a config commit.
 *
 * The table is kept sorted by path (strcmp order) at all times, so a lookup is a binary search
 * and formatting is a straight walk. The one thing to know: parse and format are exact inverses.
 * meta_parse refuses every byte string meta_format would not write (leading zeros, needless
 * escapes, unsorted lines, a missing final newline), which is what lets the fuzzer check the
 * round trip byte for byte and lets git diffs of the file stay minimal.
 */
#include "fs/meta.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "# statefs-meta 1"
#define ID_MAX 4294967294ULL /* (uid_t)-1 means "no change" to chown(2): never an owner */
/* bytes of an offending field quoted in an error message */
#define QUOTE_MAX 48

void meta_init(struct meta *m)
{
	m->v = NULL;
	m->n = 0;
	m->cap = 0;
	m->sorted = 1;
}

void meta_free(struct meta *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	meta_init(m);
}

static bool valid_type(char type)
{
	return type == 'f' || type == 'd' || type == 'l';
}

/* Is byte @c, at offset @pos of a path, written as \ooo? */
static bool needs_escape(unsigned char c, size_t pos)
{
	return c < 0x20 || c == '\\' || c == 0x7f || (pos == 0 && c == ' ');
}

/* NULL if @p is a path the format allows, else what is wrong with it. */
static const char *path_problem(const char *p, size_t len)
{
	size_t start = 0, i, n;

	if (len == 0)
		return "empty path";
	if (p[0] == '/')
		return "leading '/'";
	if (p[len - 1] == '/')
		return "trailing '/'";
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		n = i - start;
		if (n == 0)
			return "empty component";
		if (n == 1 && p[start] == '.')
			return "'.' component";
		if (n == 2 && p[start] == '.' && p[start + 1] == '.')
			return "'..' component";
		start = i + 1;
	}
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct meta_entry *)a)->path, ((const struct meta_entry *)b)->path);
}

/* Every operation keeps v sorted; this only repairs a table someone filled by hand. */
static void ensure_sorted(struct meta *m)
{
	if (!m->sorted) {
		if (m->n > 1)
			qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
		m->sorted = 1;
	}
}

/* Index of the first entry whose path is >= @path; *found if it is equal. */
static size_t lower_bound(const struct meta *m, const char *path, bool *found)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].path, path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < m->n && strcmp(m->v[lo].path, path) == 0;
	return lo;
}

/*
 * Compare @s with the prefix "@dir/" as strcmp would order them, where every string starting
 * with "@dir/" compares equal: the entries below @dir are one contiguous run of the table.
 */
static int cmp_below(const char *s, const char *dir, size_t len)
{
	int c = strncmp(s, dir, len);

	if (c)
		return c;
	return (int)(unsigned char)s[len] - '/';
}

/* First index i with cmp_below(v[i]) >= 0 (@strict: > 0). */
static size_t bound_below(const struct meta *m, const char *dir, size_t len, bool strict)
{
	size_t lo = 0, hi = m->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = cmp_below(m->v[mid].path, dir, len);
		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow(struct meta *m)
{
	struct meta_entry *v;
	size_t cap;

	if (m->n < m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 64;
	if (cap < m->cap || cap > SIZE_MAX / sizeof(*v))
		return -ENOMEM;
	v = realloc(m->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->v = v;
	m->cap = cap;
	return 0;
}

int meta_set(struct meta *m, char type, mode_t mode, uid_t uid, gid_t gid, const char *path)
{
	struct meta_entry *e;
	bool found;
	char *copy;
	size_t i;
	int err;

	if (!valid_type(type) || !path || path_problem(path, strlen(path)) ||
	    (unsigned long long)uid > ID_MAX || (unsigned long long)gid > ID_MAX)
		return -EINVAL;
	ensure_sorted(m);
	i = lower_bound(m, path, &found);
	if (!found) {
		copy = strdup(path);
		if (!copy)
			return -ENOMEM;
		err = grow(m);
		if (err) {
			free(copy);
			return err;
		}
		memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
		m->v[i].path = copy;
		m->n++;
	}
	e = &m->v[i];
	e->type = type;
	e->mode = mode & 07777;
	e->uid = uid;
	e->gid = gid;
	return 0;
}

/* Drop entries [from, to). */
static void drop(struct meta *m, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		free(m->v[i].path);
	memmove(&m->v[from], &m->v[to], (m->n - to) * sizeof(*m->v));
	m->n -= to - from;
}

size_t meta_remove(struct meta *m, const char *path, int recursive)
{
	size_t len, i, lo = 0, hi = 0;
	bool found;

	if (!path)
		return 0;
	len = strlen(path);
	if (path_problem(path, len))
		return 0;
	ensure_sorted(m);
	/* "nginx-x" sorts between "nginx" and "nginx/x": the two runs need not touch */
	if (recursive) {
		lo = bound_below(m, path, len, false);
		hi = bound_below(m, path, len, true);
		drop(m, lo, hi);
	}
	i = lower_bound(m, path, &found);
	if (found)
		drop(m, i, i + 1);
	return (hi - lo) + (found ? 1 : 0);
}

const struct meta_entry *meta_get(struct meta *m, const char *path)
{
	bool found;
	size_t i;

	if (!path)
		return NULL;
	ensure_sorted(m);
	i = lower_bound(m, path, &found);
	return found ? &m->v[i] : NULL;
}

static size_t escaped_len(const char *path)
{
	size_t i, n = 0;

	for (i = 0; path[i]; i++)
		n += needs_escape((unsigned char)path[i], i) ? 4 : 1;
	return n;
}

static char *put_path(char *p, const char *path)
{
	unsigned char c;
	size_t i;

	for (i = 0; path[i]; i++) {
		c = (unsigned char)path[i];
		if (needs_escape(c, i)) {
			*p++ = '\\';
			*p++ = (char)('0' + (c >> 6));
			*p++ = (char)('0' + ((c >> 3) & 7));
			*p++ = (char)('0' + (c & 7));
		} else {
			*p++ = (char)c;
		}
	}
	return p;
}

int meta_format(struct meta *m, char **out, size_t *len)
{
	/* "t MMMM " + two ids of at most 10 digits, each with its separator, + '\n' */
	const size_t fixed = 7 + 11 + 11 + 1;
	size_t size = sizeof(HEADER) + 1, i, n;
	char *buf, *p;

	*out = NULL;
	*len = 0;
	ensure_sorted(m);
	for (i = 0; i < m->n; i++) {
		n = fixed + escaped_len(m->v[i].path);
		if (size > SIZE_MAX - n)
			return -ENOMEM;
		size += n;
	}
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	p = buf;
	memcpy(p, HEADER "\n", sizeof(HEADER));
	p += sizeof(HEADER);
	for (i = 0; i < m->n; i++) {
		const struct meta_entry *e = &m->v[i];

		p += sprintf(p, "%c %04o %lu %lu ", e->type, (unsigned)(e->mode & 07777),
			     (unsigned long)e->uid, (unsigned long)e->gid);
		p = put_path(p, e->path);
		*p++ = '\n';
	}
	*p = '\0';
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

/* --- parsing --- */

struct parser {
	unsigned long line;
	char *err;
	size_t errlen;
};

/* Write @n bytes of @s, printable and truncated, into @dst (at least QUOTE_MAX * 4 + 4). */
static void quote(char *dst, const char *s, size_t n)
{
	size_t i, k = 0;
	unsigned char c;

	for (i = 0; i < n && i < QUOTE_MAX; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
			k += (size_t)sprintf(dst + k, "\\%03o", c);
		else
			dst[k++] = (char)c;
	}
	if (n > QUOTE_MAX) {
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}

__attribute__((format(printf, 2, 3))) static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (ps->err && ps->errlen) {
		k = snprintf(ps->err, ps->errlen, "line %lu: ", ps->line);
		if (k >= 0 && (size_t)k < ps->errlen) {
			va_start(ap, fmt);
			vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

/* A cursor over one line (without its '\n'). */
struct cursor {
	const char *p, *end;
	bool sep; /* the last field ended at a ' ', which was skipped */
};

/* The next ' '-separated field; false if the line has ended. */
static bool field(struct cursor *c, const char **tok, size_t *toklen)
{
	const char *sp;

	if (c->p == c->end)
		return false;
	sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
	*tok = c->p;
	*toklen = (size_t)((sp ? sp : c->end) - c->p);
	c->p = sp ? sp + 1 : c->end;
	c->sep = sp != NULL;
	return true;
}

/* A uid or gid as meta_format writes it: decimal, no sign or leading zero, <= ID_MAX. */
static bool parse_id(const char *s, size_t n, unsigned long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (v > ID_MAX)
		return false;
	*out = (unsigned long)v;
	return true;
}

/* Decode the escaped path @s (@n bytes) into *out (malloc'd, NUL-terminated). */
static int parse_path(struct parser *ps, const char *s, size_t n, char **out)
{
	char q[QUOTE_MAX * 4 + 4];
	const char *why;
	unsigned char c;
	size_t i, k = 0;
	char *path;
	int err;

	*out = NULL;
	if (n == 0)
		return fail(ps, "empty path");
	path = malloc(n + 1);
	if (!path)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\\') {
			if (n - i < 4 || s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' ||
			    s[i + 2] > '7' || s[i + 3] < '0' || s[i + 3] > '7') {
				quote(q, s + i, n - i < 4 ? n - i : 4);
				err = fail(ps, "bad escape '%s' in path", q);
				goto out;
			}
			c = (unsigned char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
					    (s[i + 3] - '0'));
			if (c == 0) {
				err = fail(ps, "NUL byte (\\000) in path");
				goto out;
			}
			if (!needs_escape(c, k)) {
				quote(q, s + i, 4);
				err = fail(ps, "bad escape '%s' in path: byte needs none", q);
				goto out;
			}
			i += 3;
		} else if (needs_escape(c, k)) {
			err = fail(ps, "bad path: byte 0x%02x must be escaped", c);
			goto out;
		}
		path[k++] = (char)c;
	}
	path[k] = '\0';
	why = path_problem(path, k);
	if (why) {
		quote(q, path, k);
		err = fail(ps, "bad path '%s': %s", q, why);
		goto out;
	}
	*out = path;
	path = NULL;
	err = 0;
out:
	free(path);
	return err;
}

/* Parse one entry line @s (@n bytes, no '\n') and append it to @m. */
static int parse_entry(struct parser *ps, struct meta *m, const char *s, size_t n)
{
	struct cursor c = {s, s + n, false};
	char q[QUOTE_MAX * 4 + 4], q2[QUOTE_MAX * 4 + 4];
	unsigned long uid, gid;
	const char *tok, *prev;
	char *path = NULL;
	mode_t mode = 0;
	size_t toklen, i;
	char type;
	int err, cmp;

	if (!field(&c, &tok, &toklen))
		return fail(ps, "empty line");
	if (toklen != 1 || !valid_type(tok[0])) {
		quote(q, tok, toklen);
		return fail(ps, "bad type '%s'", q);
	}
	type = tok[0];

	if (!field(&c, &tok, &toklen))
		return fail(ps, "missing mode");
	for (i = 0; i < toklen && tok[i] >= '0' && tok[i] <= '7'; i++)
		mode = mode << 3 | (mode_t)(tok[i] - '0');
	if (toklen != 4 || i != 4) {
		quote(q, tok, toklen);
		return fail(ps, "bad mode '%s'", q);
	}

	if (!field(&c, &tok, &toklen))
		return fail(ps, "missing uid");
	if (!parse_id(tok, toklen, &uid)) {
		quote(q, tok, toklen);
		return fail(ps, "bad uid '%s'", q);
	}
	if (!field(&c, &tok, &toklen))
		return fail(ps, "missing gid");
	if (!parse_id(tok, toklen, &gid)) {
		quote(q, tok, toklen);
		return fail(ps, "bad gid '%s'", q);
	}
	if (!c.sep)
		return fail(ps, "missing path");

	err = parse_path(ps, c.p, (size_t)(c.end - c.p), &path);
	if (err)
		goto out;
	if (m->n) {
		prev = m->v[m->n - 1].path;
		cmp = strcmp(prev, path);
		if (cmp >= 0) {
			quote(q, path, strlen(path));
			quote(q2, prev, strlen(prev));
			err = cmp ? fail(ps, "unsorted path '%s' (after '%s')", q, q2)
				  : fail(ps, "duplicate path '%s'", q);
			goto out;
		}
	}
	err = grow(m);
	if (err)
		goto out;
	m->v[m->n].type = type;
	m->v[m->n].mode = mode;
	m->v[m->n].uid = (uid_t)uid;
	m->v[m->n].gid = (gid_t)gid;
	m->v[m->n].path = path;
	m->n++;
	path = NULL;
out:
	free(path);
	return err;
}

int meta_parse(struct meta *m, const char *buf, size_t len, char *err, size_t errlen)
{
	struct parser ps = {1, err, errlen};
	const char *p, *end, *eol;
	char q[QUOTE_MAX * 4 + 4];
	size_t n;
	int ret = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!buf || len == 0)
		return fail(&ps, "missing header '" HEADER "'");
	p = buf;
	end = buf + len;
	for (; p < end; p = eol + 1, ps.line++) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((eol ? eol : end) - p);
		if (memchr(p, '\0', n)) {
			ret = fail(&ps, "NUL byte");
			goto out;
		}
		if (ps.line == 1 && (n != strlen(HEADER) || memcmp(p, HEADER, n) != 0)) {
			quote(q, p, n);
			ret = fail(&ps, "bad header '%s' (want '" HEADER "')", q);
			goto out;
		}
		if (!eol) {
			ret = fail(&ps, "missing newline at end of file");
			goto out;
		}
		if (ps.line == 1)
			continue;
		ret = parse_entry(&ps, m, p, n);
		if (ret)
			goto out;
	}
	m->sorted = 1;
out:
	if (ret == -ENOMEM)
		fail(&ps, "out of memory");
	if (ret)
		meta_free(m);
	return ret;
}
