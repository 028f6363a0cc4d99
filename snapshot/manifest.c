/*
 * manifest.c - builds and formats snapshot manifests (the grammar is in manifest.h).
 *
 * What a newcomer must know: the parser is strict on purpose. It accepts exactly the bytes
 * manifest_format() writes, so format(parse(x)) == x for every accepted x (the fuzz target
 * checks this), and everything else is an error naming the line: a manifest is bytes from disk
 * that may be damaged, and a restore must not act on a misread one. The parser is in
 * manifest_parse.c, files and snapshot names in manifest_file.c.
 */
#include "snapshot/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->sorted = true;
}

static void entry_free(struct manifest_entry *e)
{
	free(e->path);
	free(e->target);
	free(e->chunks);
	for (size_t i = 0; i < e->ntables; i++)
		free(e->tables[i].name);
	free(e->tables);
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		entry_free(&m->v[i]);
	for (size_t i = 0; i < m->nreasons; i++)
		free(m->reasons[i]);
	free(m->reasons);
	free(m->infos);
	free(m->v);
	manifest_init(m);
}

static bool is_hex_commit(const char *s, size_t len)
{
	if (len != 40 && len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int manifest_set_commit(struct manifest *m, const char *hex)
{
	size_t len = hex ? strlen(hex) : 0;

	if (len && !is_hex_commit(hex, len))
		return -EINVAL;
	memcpy(m->commit, hex ? hex : "", len + 1);
	return 0;
}

/* Grow *v (of *cap elements of @size bytes) to hold @need. */
static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = reallocarray(*v, ncap, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static int add_reason(struct manifest *m, char *text)
{
	char **v = reallocarray(m->reasons, m->nreasons + 1, sizeof(*v));

	if (!v) {
		free(text);
		return -ENOMEM;
	}
	m->reasons = v;
	m->reasons[m->nreasons++] = text;
	return 0;
}

static bool info_key_valid(const char *key)
{
	size_t n = strlen(key);

	if (!n || n > 32 || key[0] < 'a' || key[0] > 'z')
		return false;
	return strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int manifest_set_info(struct manifest *m, const char *key, uint64_t value)
{
	struct manifest_info *v;
	size_t i = 0;

	if (!key || !info_key_valid(key))
		return -EINVAL;
	while (i < m->ninfos && strcmp(m->infos[i].key, key) < 0)
		i++;
	if (i < m->ninfos && !strcmp(m->infos[i].key, key)) {
		m->infos[i].value = value;
		return 0;
	}
	v = reallocarray(m->infos, m->ninfos + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->infos = v;
	memmove(&v[i + 1], &v[i], (m->ninfos - i) * sizeof(*v));
	snprintf(v[i].key, sizeof(v[i].key), "%s", key);
	v[i].value = value;
	m->ninfos++;
	return 0;
}

int manifest_get_info(const struct manifest *m, const char *key, uint64_t *value)
{
	for (size_t i = 0; i < m->ninfos; i++) {
		if (!strcmp(m->infos[i].key, key)) {
			*value = m->infos[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

int manifest_add_reason(struct manifest *m, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (!n) {
		free(text);
		return -EINVAL;
	}
	return add_reason(m, text);
}

/* Relative, '/'-separated, no empty, "." or ".." component. */
static bool path_valid(const char *p)
{
	const char *c = p;

	if (!*p)
		return false;
	for (;;) {
		size_t n = strcspn(c, "/");

		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

int manifest_add(struct manifest *m, char type, const char *path, mode_t mode, uid_t uid, gid_t gid,
		 int64_t mtime_ns, uint64_t ino, const char *target, struct manifest_entry **out)
{
	struct manifest_entry *e;

	if ((type != 'f' && type != 'd' && type != 'l') || mode > 07777 || uid == (uid_t)-1 ||
	    gid == (gid_t)-1 || !path || !path_valid(path) || (type == 'l') != (target != NULL) ||
	    (target && !*target))
		return -EINVAL;
	if (grow((void **)&m->v, &m->cap, m->n + 1, sizeof(*m->v)))
		return -ENOMEM;
	e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	e->path = strdup(path);
	e->target = target ? strdup(target) : NULL;
	if (!e->path || (target && !e->target)) {
		entry_free(e);
		return -ENOMEM;
	}
	e->type = type;
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	e->mtime_ns = mtime_ns;
	e->ino = ino;
	e->size = target ? strlen(target) : 0;
	if (m->n && m->sorted && strcmp(m->v[m->n - 1].path, path) >= 0)
		m->sorted = false;
	m->n++;
	if (out)
		*out = e;
	return 0;
}

int manifest_add_stat(struct manifest *m, const char *path, const struct stat *st,
		      const char *target, struct manifest_entry **out)
{
	char type = S_ISREG(st->st_mode)   ? 'f'
		    : S_ISDIR(st->st_mode) ? 'd'
		    : S_ISLNK(st->st_mode) ? 'l'
					   : 0;

	struct manifest_entry *e;
	int ret;

	ret = manifest_add(m, type, path, st->st_mode & 07777, st->st_uid, st->st_gid,
			   (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
			   st->st_ino, target, &e);
	if (ret)
		return ret;
	e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	if (out)
		*out = e;
	return 0;
}

int manifest_add_chunk(struct manifest_entry *e, const struct store_hash *h, uint64_t len)
{
	return manifest_add_chunk_z(e, h, len, 0);
}

int manifest_add_chunk_z(struct manifest_entry *e, const struct store_hash *h, uint64_t len,
			 uint64_t zlen)
{
	struct manifest_chunk *c;

	if (e->type != 'f' || !len || e->size + len < e->size)
		return -EINVAL;
	if (grow((void **)&e->chunks, &e->chunks_cap, e->nchunks + 1, sizeof(*e->chunks)))
		return -ENOMEM;
	c = &e->chunks[e->nchunks++];
	c->hash = *h;
	c->len = len;
	c->zlen = zlen;
	c->offset = e->size;
	e->size += len;
	return 0;
}

int manifest_add_table(struct manifest_entry *e, const char *name, uint64_t offset)
{
	struct manifest_table *t;

	if (e->type != 'f' || !name || !*name ||
	    (e->ntables && e->tables[e->ntables - 1].offset > offset))
		return -EINVAL;
	if (grow((void **)&e->tables, &e->tables_cap, e->ntables + 1, sizeof(*e->tables)))
		return -ENOMEM;
	t = &e->tables[e->ntables];
	t->name = strdup(name);
	if (!t->name)
		return -ENOMEM;
	t->offset = offset;
	e->ntables++;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct manifest_entry *)a)->path,
		      ((const struct manifest_entry *)b)->path);
}

static void sort_entries(struct manifest *m)
{
	if (!m->sorted)
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
	m->sorted = true;
}

const struct manifest_entry *manifest_find(struct manifest *m, const char *path)
{
	struct manifest_entry key = {.path = (char *)path};

	if (!m->n)
		return NULL;
	sort_entries(m);
	return bsearch(&key, m->v, m->n, sizeof(*m->v), cmp_entry);
}

long manifest_chunk_at(const struct manifest_entry *e, uint64_t offset)
{
	size_t lo = 0, hi = e->nchunks;

	if (offset >= e->size)
		return -1;
	/* The last chunk whose start is <= offset. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->chunks[mid].offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return (long)lo;
}

/* A growing output buffer; once an allocation failed it stays failed. */
struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n > o->cap) {
		size_t ncap = o->cap ? o->cap : 4096;
		char *p;

		while (ncap < o->len + n)
			ncap *= 2;
		p = realloc(o->p, ncap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = ncap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(o, buf, (size_t)n); /* callers print numbers and short words only */
}

static bool must_escape(unsigned char c, bool first)
{
	return c < 0x20 || c == 0x7f || c == '\\' || (first && c == ' ');
}

/* @s escaped, then a newline. */
static void put_text(struct out *o, const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (must_escape(*c, c == (const unsigned char *)s))
			putf(o, "\\%03o", *c);
		else
			put(o, c, 1);
	}
	put(o, "\n", 1);
}

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int check(struct manifest *m, char *err, size_t errlen)
{
	if (m->lazy) {
		msg(err, errlen, "manifest: parsed without its chunks, it cannot be written");
		return -EINVAL;
	}
	sort_entries(m);
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];

		if (i && !strcmp(m->v[i - 1].path, e->path)) {
			msg(err, errlen, "manifest: %s is listed twice", e->path);
			return -EINVAL;
		}
		if (e->ntables && e->tables[e->ntables - 1].offset > e->size) {
			msg(err, errlen, "manifest: %s: table %s starts past the end", e->path,
			    e->tables[e->ntables - 1].name);
			return -EINVAL;
		}
		for (size_t k = 0; k < e->nchunks; k++) {
			if (!e->chunks[k].zlen) {
				msg(err, errlen,
				    "manifest: %s: the stored size of chunk %zu is unknown",
				    e->path, k);
				return -EINVAL;
			}
		}
	}
	for (size_t i = 0; i < m->nreasons; i++) {
		if (!*m->reasons[i]) {
			msg(err, errlen, "manifest: empty reason");
			return -EINVAL;
		}
	}
	return 0;
}

int manifest_format(struct manifest *m, char **out, size_t *len, char *err, size_t errlen)
{
	struct out o = {0};
	int ret = check(m, err, errlen);

	if (ret)
		return ret;
	putf(&o, "statefs-snapshot %d\ntime %lld\ncommit %s\nstatus %s\n", MANIFEST_VERSION,
	     (long long)m->time, m->commit[0] ? m->commit : "-",
	     m->nreasons ? "incomplete" : "complete");
	for (size_t i = 0; i < m->nreasons; i++) {
		put(&o, "reason ", 7);
		put_text(&o, m->reasons[i]);
	}
	for (size_t i = 0; i < m->ninfos; i++)
		putf(&o, "info %s %llu\n", m->infos[i].key, (unsigned long long)m->infos[i].value);
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];

		putf(&o, "%c %04o %u %u %llu %lld %lld %llu ", e->type, (unsigned)e->mode,
		     (unsigned)e->uid, (unsigned)e->gid, (unsigned long long)e->size,
		     (long long)e->mtime_ns, (long long)e->ctime_ns, (unsigned long long)e->ino);
		put_text(&o, e->path);
		if (e->target) {
			put(&o, "t ", 2);
			put_text(&o, e->target);
		}
		for (size_t k = 0; k < e->nchunks; k++) {
			char hex[STORE_HEX_LEN + 1];

			store_hash_hex(&e->chunks[k].hash, hex);
			put(&o, "c ", 2);
			put(&o, hex, STORE_HEX_LEN);
			putf(&o, " %llu %llu\n", (unsigned long long)e->chunks[k].len,
			     (unsigned long long)e->chunks[k].zlen);
		}
		for (size_t k = 0; k < e->ntables; k++) {
			putf(&o, "table %llu ", (unsigned long long)e->tables[k].offset);
			put_text(&o, e->tables[k].name);
		}
	}
	put(&o, "end\n", 4);
	if (o.oom) {
		free(o.p);
		msg(err, errlen, "manifest: out of memory");
		return -ENOMEM;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
