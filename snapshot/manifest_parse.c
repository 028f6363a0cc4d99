/*
 * manifest_parse.c - reads a manifest back from bytes, trusting none of them.
 *
 * The parser accepts exactly what manifest_format() writes (manifest.h has the grammar): one
 * space between fields, numbers without leading zeros, escapes only where the formatter puts
 * them, entries in strictly increasing path order, sizes that add up, and the "end" line last.
 * Anything else is -EINVAL with "line N: what was expected". It builds through the same
 * manifest_add* calls a writer uses, so both sides check the same rules. It reads a line at a
 * time from a buffer that is either the whole text (manifest_parse) or refilled from a reader
 * (manifest_parse_read): a manifest of a large dump is tens of MiB of text, never held whole.
 */
#include "snapshot/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BLOCK (64u * 1024)	       /* a reader's buffer to begin with */
#define LINE_LIMIT (64u * 1024 * 1024) /* a line longer than this is refused */

struct cursor {
	const char *buf, *end;	/* the bytes in hand */
	const char *line, *eol; /* the current line, without its "\n" */
	const char *next;	/* where the next line starts */
	size_t lineno;
	bool again; /* the current line is given again by next_line (unread_line) */
	char *err;
	size_t errlen;
	/* With a reader: buf is @own (@cap bytes), refilled by @read; buf[0] is at @base. */
	manifest_read_fn read;
	void *rarg;
	char *own;
	size_t cap;
	uint64_t base;
	bool eof;
	/* A lazy parse gives the chunk lines to @chunk instead of keeping them. */
	manifest_chunk_fn chunk;
	void *carg;
};

static int bad(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || !c->errlen)
		return -EINVAL;
	n = snprintf(c->err, c->errlen, "manifest line %zu: ", c->lineno);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int nul_byte(struct cursor *c)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "manifest: NUL byte");
	return -EINVAL;
}

/*
 * Keep the bytes from c->next on, at the front of the buffer (grown when they fill it: a line
 * longer than the buffer), and read more after them. 0, or a negative errno with a message.
 */
static int refill(struct cursor *c)
{
	size_t keep = (size_t)(c->end - c->next);
	ssize_t n;

	c->base += (uint64_t)(c->next - c->buf);
	memmove(c->own, c->next, keep);
	if (keep == c->cap) {
		char *p = c->cap < LINE_LIMIT ? realloc(c->own, 2 * c->cap) : NULL;

		if (!p) {
			c->lineno++;
			return c->cap < LINE_LIMIT ? -ENOMEM : bad(c, "line too long");
		}
		c->own = p;
		c->cap *= 2;
	}
	n = c->read(c->rarg, c->own + keep, c->cap - keep);
	if (n < 0) {
		if (c->err && c->errlen)
			snprintf(c->err, c->errlen, "manifest: reading: %s", strerror((int)-n));
		return (int)n;
	}
	if (memchr(c->own + keep, '\0', (size_t)n))
		return nul_byte(c);
	c->eof = n == 0;
	c->buf = c->next = c->own;
	c->end = c->own + keep + n;
	return 0;
}

/* Advance to the next line. 1 if there is one, 0 at the end of the input, or -EINVAL. */
static int next_line(struct cursor *c)
{
	const char *nl;
	int ret;

	if (c->again) {
		c->again = false;
		c->lineno++;
		return 1;
	}
	for (;;) {
		nl = c->next < c->end ? memchr(c->next, '\n', (size_t)(c->end - c->next)) : NULL;
		if (nl || !c->read || c->eof)
			break;
		ret = refill(c);
		if (ret)
			return ret;
	}
	if (c->next >= c->end)
		return 0;
	c->lineno++;
	if (!nl) {
		c->line = c->eol = c->next;
		return bad(c, "no newline at the end (cut off?)");
	}
	c->line = c->next;
	c->eol = nl;
	c->next = nl + 1;
	return 1;
}

/* Make the next next_line() give the current line again: a look ahead that did not take it. */
static void unread_line(struct cursor *c)
{
	c->again = true;
	c->lineno--;
}

/* Is there nothing after the current line? 1, 0, or a negative errno. */
static int at_end(struct cursor *c)
{
	int ret;

	if (c->next == c->end && c->read && !c->eof) {
		ret = refill(c);
		if (ret)
			return ret;
	}
	return c->next == c->end;
}

/* Where the current line starts in the input. */
static uint64_t line_at(const struct cursor *c)
{
	return c->base + (uint64_t)(c->line - c->buf);
}

/* Does the line start with @word followed by a space? Then *rest points after the space. */
static bool starts(const struct cursor *c, const char *word, const char **rest)
{
	size_t n = strlen(word);

	if ((size_t)(c->eol - c->line) <= n || memcmp(c->line, word, n) || c->line[n] != ' ')
		return false;
	*rest = c->line + n + 1;
	return true;
}

static bool is_line(const struct cursor *c, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(c->eol - c->line) == n && !memcmp(c->line, s, n);
}

/*
 * A decimal field at *p ending at a space (or at @eol if @last): no sign unless @neg_ok, no
 * leading zero, at most @max in magnitude (max + 1 for a negative number). 0, -EINVAL (not such
 * a field) or -ERANGE.
 */
static int field(const char **p, const char *eol, bool last, bool neg_ok, uint64_t max,
		 uint64_t *mag, bool *neg)
{
	const char *s = *p;
	uint64_t v = 0;
	bool minus = false;

	if (neg_ok && s < eol && *s == '-') {
		minus = true;
		s++;
	}
	if (s >= eol || *s < '0' || *s > '9' ||
	    (*s == '0' && s + 1 < eol && s[1] >= '0' && s[1] <= '9') || (minus && *s == '0'))
		return -EINVAL;
	for (; s < eol && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max + (minus ? 1 : 0))
		return -ERANGE;
	if (last ? s != eol : (s >= eol || *s != ' '))
		return -EINVAL;
	*p = last ? s : s + 1;
	*mag = v;
	if (neg)
		*neg = minus;
	return 0;
}

/* field() on the current line, with a message naming @what. */
static int num(struct cursor *c, const char **p, bool last, bool neg_ok, uint64_t max,
	       uint64_t *mag, bool *neg, const char *what)
{
	int ret = field(p, c->eol, last, neg_ok, max, mag, neg);

	if (ret == -ERANGE)
		return bad(c, "%s out of range", what);
	return ret ? bad(c, "bad %s", what) : 0;
}

int manifest_chunk_fields(const char *p, size_t len, struct manifest_chunk *c, const char **what)
{
	const char *eol = p + len;

	*what = "chunk hash";
	if (len < STORE_HEX_LEN + 2 || p[STORE_HEX_LEN] != ' ' || store_hash_parse(p, &c->hash))
		return -EINVAL;
	p += STORE_HEX_LEN + 1;
	*what = "chunk length";
	if (field(&p, eol, false, false, UINT64_MAX, &c->len, NULL) || !c->len)
		return -EINVAL;
	*what = "chunk stored size";
	if (field(&p, eol, true, false, UINT64_MAX, &c->zlen, NULL) || !c->zlen)
		return -EINVAL;
	return 0;
}

static int unum(struct cursor *c, const char **p, bool last, uint64_t max, uint64_t *v,
		const char *what)
{
	return num(c, p, last, false, max, v, NULL, what);
}

static int snum(struct cursor *c, const char **p, bool last, int64_t *v, const char *what)
{
	uint64_t mag;
	bool neg;
	int ret = num(c, p, last, true, INT64_MAX, &mag, &neg, what);

	if (!ret)
		*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return ret;
}

static bool must_escape(unsigned char ch, bool first)
{
	return ch < 0x20 || ch == 0x7f || ch == '\\' || (first && ch == ' ');
}

/* Unescape from @p to the end of the line into a malloc'd string (*out). */
static int text(struct cursor *c, const char *p, char **out, const char *what)
{
	char *s = malloc((size_t)(c->eol - p) + 1), *d = s;

	if (!s)
		return -ENOMEM;
	if (p == c->eol)
		goto bad;
	for (; p < c->eol; p++) {
		unsigned char ch = (unsigned char)*p;
		bool first = d == s;

		if (ch == '\\') {
			if (c->eol - p < 4 || p[1] < '0' || p[1] > '3' || p[2] < '0' ||
			    p[2] > '7' || p[3] < '0' || p[3] > '7')
				goto bad;
			ch = (unsigned char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			if (!ch || !must_escape(ch, first))
				goto bad;
			p += 3;
		} else if (must_escape(ch, first)) {
			goto bad;
		}
		*d++ = (char)ch;
	}
	*d = '\0';
	*out = s;
	return 0;
bad:
	free(s);
	return bad(c, "bad %s", what);
}

static int parse_head(struct manifest *m, struct cursor *c, bool *incomplete)
{
	const char *p;
	int ret;

	if (next_line(c) <= 0 || !is_line(c, "statefs-snapshot 1"))
		return bad(c, "not a statefs-snapshot 1 manifest");
	if (next_line(c) <= 0 || !starts(c, "time", &p))
		return bad(c, "expected \"time SECONDS\"");
	ret = snum(c, &p, true, &m->time, "time");
	if (ret)
		return ret;
	if (next_line(c) <= 0 || !starts(c, "commit", &p))
		return bad(c, "expected \"commit HEX\" or \"commit -\"");
	if (c->eol - p == 1 && *p == '-') {
		m->commit[0] = '\0';
	} else if (c->eol - p == 40 || c->eol - p == 64) {
		char hex[65];

		memcpy(hex, p, (size_t)(c->eol - p));
		hex[c->eol - p] = '\0';
		if (manifest_set_commit(m, hex))
			return bad(c, "bad commit id");
	} else {
		return bad(c, "bad commit id");
	}
	if (next_line(c) <= 0)
		return bad(c, "expected \"status\"");
	if (is_line(c, "status complete"))
		*incomplete = false;
	else if (is_line(c, "status incomplete"))
		*incomplete = true;
	else
		return bad(c, "expected \"status complete\" or \"status incomplete\"");
	return 0;
}

/* An entry line "T MODE UID GID SIZE MTIME CTIME INO PATH" with the lines that belong to it. */
static int parse_entry(struct manifest *m, struct cursor *c, const char *prev)
{
	const char *p = c->line + 2;
	uint64_t mode, uid, gid, size, ino;
	struct manifest_entry *e;
	char type = c->line[0];
	char *path = NULL, *target = NULL;
	int64_t mtime, ctime;
	int ret;

	if (c->eol - p < 5 || p[4] != ' ' || p[0] < '0' || p[0] > '7' || p[1] < '0' || p[1] > '7' ||
	    p[2] < '0' || p[2] > '7' || p[3] < '0' || p[3] > '7')
		return bad(c, "bad mode");
	mode = (uint64_t)((p[0] - '0') * 512 + (p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
	p += 5;
	if ((ret = unum(c, &p, false, UINT32_MAX - 1, &uid, "uid")) ||
	    (ret = unum(c, &p, false, UINT32_MAX - 1, &gid, "gid")) ||
	    (ret = unum(c, &p, false, UINT64_MAX, &size, "size")) ||
	    (ret = snum(c, &p, false, &mtime, "mtime")) ||
	    (ret = snum(c, &p, false, &ctime, "ctime")) ||
	    (ret = unum(c, &p, false, UINT64_MAX, &ino, "inode")) ||
	    (ret = text(c, p, &path, "path")))
		return ret;
	if (prev && strcmp(prev, path) >= 0) {
		ret = bad(c, "path out of order or repeated");
		goto out;
	}
	if (type == 'd' && size) {
		ret = bad(c, "directory with a size");
		goto out;
	}
	if (type == 'l') {
		size_t at = c->lineno;

		if (next_line(c) <= 0 || !starts(c, "t", &p)) {
			ret = bad(c, "expected \"t TARGET\" after the symlink on line %zu", at);
			goto out;
		}
		ret = text(c, p, &target, "symlink target");
		if (ret)
			goto out;
	}
	ret = manifest_add(m, type, path, (mode_t)mode, (uid_t)uid, (gid_t)gid, mtime, ino, target,
			   &e);
	if (ret == -EINVAL)
		ret = bad(c, "bad path");
	if (ret)
		goto out;
	e->ctime_ns = ctime;
	if (type == 'l' && e->size != size) {
		ret = bad(c, "symlink size is not the target's length");
		goto out;
	}
	if (type != 'f')
		goto out;
	/* The chunk and table lines, up to the next entry or "end" (peeked, not consumed). */
	for (;;) {
		struct manifest_chunk ch;
		char *name;

		ret = next_line(c);
		if (ret < 0)
			goto out;
		if (ret > 0 && starts(c, "c", &p) && !e->ntables) {
			const char *what;

			if (manifest_chunk_fields(p, (size_t)(c->eol - p), &ch, &what)) {
				ret = bad(c, "bad %s", what);
				goto out;
			}
			if (c->chunk) {
				/* Lazy: counted and checked as manifest_add_chunk_z would, not
				 * kept. */
				if (e->size + ch.len < e->size) {
					ret = bad(c, "bad chunk length");
					goto out;
				}
				ch.offset = e->size;
				ret = c->chunk(c->carg, (size_t)(e - m->v), e->nchunks, &ch,
					       line_at(c));
				if (ret)
					goto out;
				e->size += ch.len;
				e->nchunks++;
			} else if (manifest_add_chunk_z(e, &ch.hash, ch.len, ch.zlen)) {
				ret = bad(c, "bad chunk length");
				goto out;
			}
		} else if (ret > 0 && starts(c, "table", &p)) {
			uint64_t off;

			ret = unum(c, &p, false, UINT64_MAX, &off, "table offset");
			if (!ret)
				ret = text(c, p, &name, "table name");
			if (ret)
				goto out;
			ret = manifest_add_table(e, name, off);
			free(name);
			if (ret == -EINVAL || (!ret && off > size))
				ret = bad(c, "table offset out of order or past the end");
			if (ret)
				goto out;
		} else {
			if (ret > 0)
				unread_line(c);
			break;
		}
	}
	ret = e->size == size ? 0 : bad(c, "chunk lengths of %s do not add up to its size", path);
out:
	free(path);
	free(target);
	return ret;
}

static int parse_reason(struct manifest *m, struct cursor *c, const char *p)
{
	char *reason = NULL;
	int ret = text(c, p, &reason, "reason");

	if (!ret)
		ret = manifest_add_reason(m, "%s", reason);
	free(reason);
	return ret;
}

/* "info KEY VALUE", keys strictly increasing. */
static int parse_info(struct manifest *m, struct cursor *c, const char *p)
{
	const char *sp = memchr(p, ' ', (size_t)(c->eol - p));
	char key[33];
	uint64_t v;
	int ret;

	if (!sp || sp == p || sp - p > 32)
		return bad(c, "bad info key");
	memcpy(key, p, (size_t)(sp - p));
	key[sp - p] = '\0';
	if (m->ninfos && strcmp(m->infos[m->ninfos - 1].key, key) >= 0)
		return bad(c, "info key out of order or repeated");
	p = sp + 1;
	ret = unum(c, &p, true, UINT64_MAX, &v, "info value");
	if (ret)
		return ret;
	ret = manifest_set_info(m, key, v);
	return ret == -EINVAL ? bad(c, "bad info key") : ret;
}

/* The parse itself, from the cursor @c (a whole buffer or a reader). */
static int parse(struct manifest *m, struct cursor *c)
{
	bool incomplete = false;
	const char *p;
	int ret;

	ret = parse_head(m, c, &incomplete);
	if (ret)
		return ret;
	for (;;) {
		ret = next_line(c);
		if (ret <= 0 || !starts(c, "reason", &p))
			break;
		if (!incomplete)
			return bad(c, "a reason in a complete snapshot");
		ret = parse_reason(m, c, p);
		if (ret)
			return ret;
	}
	if (ret < 0)
		return ret;
	if (incomplete && !m->nreasons)
		return bad(c, "an incomplete snapshot without a reason");
	while (ret > 0 && starts(c, "info", &p)) {
		ret = parse_info(m, c, p);
		if (ret)
			return ret;
		ret = next_line(c);
	}
	if (ret < 0)
		return ret;
	for (;;) {
		if (!ret)
			return bad(c, "no \"end\" line (cut off?)");
		if (is_line(c, "end"))
			break;
		if (c->eol - c->line < 2 || !strchr("fdl", c->line[0]) || c->line[1] != ' ')
			return bad(c, "expected an entry or \"end\"");
		ret = parse_entry(m, c, m->n ? m->v[m->n - 1].path : NULL);
		if (ret)
			return ret;
		ret = next_line(c);
		if (ret < 0)
			return ret;
	}
	ret = at_end(c);
	if (ret < 0)
		return ret;
	return ret ? 0 : bad(c, "text after the \"end\" line");
}

int manifest_parse(struct manifest *m, const char *buf, size_t len, char *err, size_t errlen)
{
	struct cursor c = {.buf = buf, .end = buf + len, .next = buf, .err = err, .errlen = errlen};

	if (memchr(buf, '\0', len))
		return nul_byte(&c);
	return parse(m, &c);
}

int manifest_parse_read(struct manifest *m, manifest_read_fn read, void *rarg,
			manifest_chunk_fn chunk, void *carg, char *err, size_t errlen)
{
	struct cursor c = {
	    .err = err, .errlen = errlen, .read = read, .rarg = rarg, .chunk = chunk, .carg = carg};
	int ret;

	c.own = malloc(READ_BLOCK);
	if (!c.own)
		return -ENOMEM;
	c.cap = READ_BLOCK;
	c.buf = c.end = c.next = c.own;
	ret = parse(m, &c);
	free(c.own);
	if (!ret && chunk)
		m->lazy = true;
	return ret;
}

static ssize_t read_fd(void *arg, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(*(int *)arg, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int manifest_parse_fd(struct manifest *m, int fd, manifest_chunk_fn chunk, void *carg, char *err,
		      size_t errlen)
{
	return manifest_parse_read(m, read_fd, &fd, chunk, carg, err, errlen);
}
