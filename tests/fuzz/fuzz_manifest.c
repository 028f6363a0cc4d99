/*
 * fuzz_manifest.c - libFuzzer target for manifest_parse: bytes from disk must never crash it,
 * and whatever it accepts must survive a round trip: format(parse(x)) == x byte for byte, and
 * parse(format(parse(x))) equals parse(x) field by field. The same bytes read a few at a time
 * (manifest_parse_read) give the same verdict and manifest, and so does a lazy parse but for
 * the chunks, which it hands out with where their lines are, lines that manifest_chunk_fields
 * reads back the same; what manifest_chunk_fields accepts is canonical.
 */
#include "snapshot/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_manifest: %s\n", what);
	abort();
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int entry_eq(const struct manifest_entry *a, const struct manifest_entry *b)
{
	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->size != b->size || a->mtime_ns != b->mtime_ns || a->ctime_ns != b->ctime_ns ||
	    a->ino != b->ino || !str_eq(a->path, b->path) || !str_eq(a->target, b->target) ||
	    a->nchunks != b->nchunks || a->ntables != b->ntables)
		return 0;
	for (size_t i = 0; a->chunks && b->chunks && i < a->nchunks; i++)
		if (memcmp(&a->chunks[i], &b->chunks[i], sizeof(a->chunks[i])))
			return 0;
	for (size_t i = 0; i < a->ntables; i++)
		if (a->tables[i].offset != b->tables[i].offset ||
		    strcmp(a->tables[i].name, b->tables[i].name))
			return 0;
	return 1;
}

static int manifest_eq(const struct manifest *a, const struct manifest *b)
{
	if (a->time != b->time || strcmp(a->commit, b->commit) || a->nreasons != b->nreasons ||
	    a->ninfos != b->ninfos || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->ninfos; i++)
		if (strcmp(a->infos[i].key, b->infos[i].key) ||
		    a->infos[i].value != b->infos[i].value)
			return 0;
	for (size_t i = 0; i < a->nreasons; i++)
		if (strcmp(a->reasons[i], b->reasons[i]))
			return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!entry_eq(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

/* The input, given a few bytes at a time (1 to 13, varying). */
struct trickle {
	const unsigned char *p;
	size_t left, step;
};

static ssize_t trickle_read(void *arg, void *buf, size_t len)
{
	struct trickle *t = arg;
	size_t n = 1 + t->step++ % 13;

	if (n > len)
		n = len;
	if (n > t->left)
		n = t->left;
	memcpy(buf, t->p, n);
	t->p += n;
	t->left -= n;
	return (ssize_t)n;
}

/* What a lazy parse handed out. */
struct lazy {
	const unsigned char *data;
	size_t size, n, cap;
	struct {
		size_t entry, i;
		struct manifest_chunk c;
	} * v;
};

static int lazy_chunk(void *arg, size_t entry, size_t i, const struct manifest_chunk *c,
		      uint64_t at)
{
	struct lazy *l = arg;
	const unsigned char *line = l->data + at, *nl;
	struct manifest_chunk back;
	const char *what;

	if (at + 2 > l->size || memcmp(line, "c ", 2))
		fail("a chunk's line is not where the lazy parse says");
	nl = memchr(line, '\n', l->size - at);
	if (!nl ||
	    manifest_chunk_fields((const char *)line + 2, (size_t)(nl - line - 2), &back, &what) ||
	    memcmp(&back.hash, &c->hash, sizeof(back.hash)) || back.len != c->len ||
	    back.zlen != c->zlen)
		fail("a chunk's line does not read back as the lazy parse gave it");
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			fail("out of memory");
	}
	l->v[l->n].entry = entry;
	l->v[l->n].i = i;
	l->v[l->n++].c = *c;
	return 0;
}

/* Every line "c FIELDS" manifest_chunk_fields accepts is written back the same. */
static void chunk_lines(const unsigned char *data, size_t size)
{
	const unsigned char *p = data, *end = data + size, *nl;

	for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
		struct manifest_chunk c;
		char hex[STORE_HEX_LEN + 1], back[128];
		const char *what;
		size_t len = (size_t)(nl - p);

		if (len < 2 || memcmp(p, "c ", 2) ||
		    manifest_chunk_fields((const char *)p + 2, len - 2, &c, &what))
			continue;
		store_hash_hex(&c.hash, hex);
		if ((size_t)snprintf(back, sizeof(back), "c %s %" PRIu64 " %" PRIu64, hex, c.len,
				     c.zlen) != len ||
		    memcmp(back, p, len))
			fail("manifest_chunk_fields accepted a line that is not canonical");
	}
}

/* The same verdict and manifest from the input read a few bytes at a time, lazily or not. */
static void streamed(const unsigned char *data, size_t size, int verdict, const struct manifest *m)
{
	struct trickle t = {.p = data, .left = size};
	struct lazy l = {.data = data, .size = size};
	struct manifest s, z;
	char err[256];
	size_t k = 0;

	manifest_init(&s);
	manifest_init(&z);
	if (manifest_parse_read(&s, trickle_read, &t, NULL, NULL, err, sizeof(err)) != verdict)
		fail("a streamed parse gives another verdict");
	if (!verdict && !manifest_eq(&s, m))
		fail("a streamed parse gives another manifest");
	t = (struct trickle){.p = data, .left = size, .step = 5};
	if (manifest_parse_read(&z, trickle_read, &t, lazy_chunk, &l, err, sizeof(err)) != verdict)
		fail("a lazy parse gives another verdict");
	if (!verdict) {
		if (!z.lazy || !manifest_eq(&z, m))
			fail("a lazy parse gives another manifest");
		for (size_t i = 0; i < m->n; i++)
			for (size_t j = 0; j < m->v[i].nchunks; j++, k++)
				if (k >= l.n || l.v[k].entry != i || l.v[k].i != j ||
				    memcmp(&l.v[k].c, &m->v[i].chunks[j], sizeof(l.v[k].c)))
					fail("a lazy parse hands out other chunks");
		if (k != l.n ||
		    manifest_format(&z, &(char *){NULL}, &(size_t){0}, err, sizeof(err)) != -EINVAL)
			fail("a lazy parse hands out too many chunks, or formats");
	}
	free(l.v);
	manifest_free(&s);
	manifest_free(&z);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int verdict;

	struct manifest m, r;
	char err[256], *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;

	manifest_init(&m);
	manifest_init(&r);
	chunk_lines(data, size);
	verdict = manifest_parse(&m, (const char *)data, size, err, sizeof(err));
	if (verdict != 0 && verdict != -EINVAL && verdict != -ENOMEM)
		fail("manifest_parse gives an unexpected error");
	if (verdict != -ENOMEM)
		streamed(data, size, verdict, &m);
	if (verdict)
		goto out;
	for (size_t i = 0; i < m.n; i++) {
		const struct manifest_entry *e = &m.v[i];

		if (manifest_find(&m, e->path) != e)
			fail("an entry is not found by its path");
		if (e->type == 'f' && e->size &&
		    (manifest_chunk_at(e, e->size - 1) != (long)e->nchunks - 1 ||
		     manifest_chunk_at(e, 0) != 0))
			fail("manifest_chunk_at is off");
	}
	if (manifest_format(&m, &buf, &len, err, sizeof(err)))
		fail("a parsed manifest does not format");
	if (len != size || memcmp(buf, data, size))
		fail("format(parse(x)) != x");
	if (manifest_parse(&r, buf, len, err, sizeof(err)))
		fail("a formatted manifest does not parse");
	if (!manifest_eq(&m, &r))
		fail("parse(format(parse(x))) != parse(x)");
	if (manifest_format(&r, &buf2, &len2, err, sizeof(err)) || len2 != len ||
	    memcmp(buf, buf2, len))
		fail("formatting is not stable");
out:
	free(buf);
	free(buf2);
	manifest_free(&m);
	manifest_free(&r);
	return 0;
}
