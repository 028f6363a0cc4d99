/*
 * fuzz_manifest.c - libFuzzer target for manifest_parse: bytes from disk must never crash it,
 * and whatever it accepts must survive a round trip: format(parse(x)) == x byte for byte, and
 * parse(format(parse(x))) equals parse(x) field by field.
 */
#include "snapshot/manifest.h"

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
	for (size_t i = 0; i < a->nchunks; i++)
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

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct manifest m, r;
	char err[256], *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;

	manifest_init(&m);
	manifest_init(&r);
	if (manifest_parse(&m, (const char *)data, size, err, sizeof(err)))
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
