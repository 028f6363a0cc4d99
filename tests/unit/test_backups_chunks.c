/*
 * test_backups_chunks.c - the chunk lists backups/ reads back from a lazily parsed manifest:
 * a cursor started by chunk index, plain offset or stored offset gives, from there to the end,
 * exactly the chunks a full parse holds (files shorter and much longer than the checkpoint
 * interval, on and off checkpoints); the stored sizes and checkpoint marks agree with the
 * chunks; keys past the end are -ERANGE; a manifest changed under it is -EIO, not a crash.
 */
#include "fs/backups_chunks.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/statefs-test-chunks.XXXXXX";

/* A manifest: a dump of @big chunks, a small file, a directory, an empty file, a 3-chunk file. */
static void build(struct manifest *m, size_t big)
{
	static const size_t counts[] = {0, 1, 0, 0, 3};
	static const char *const paths[] = {"a", "b", "c", "d", "e"};
	struct manifest_entry *e;
	struct store_hash h;
	unsigned seed = 5;

	manifest_init(m);
	m->time = 1;
	for (size_t f = 0; f < 5; f++) {
		size_t n = f ? counts[f] : big;

		manifest_add(m, f == 2 ? 'd' : 'f', paths[f], 0644, 0, 0, 0, 0, NULL, &e);
		for (size_t i = 0; i < n; i++) {
			for (size_t b = 0; b < sizeof(h.b); b++)
				h.b[b] = (unsigned char)rand_r(&seed);
			manifest_add_chunk_z(e, &h, 1 + (uint64_t)(rand_r(&seed) % 70000),
					     1 + (uint64_t)(rand_r(&seed) % 3000));
		}
	}
}

static bool same(const struct manifest_chunk *a, const struct manifest_chunk *b)
{
	return !memcmp(&a->hash, &b->hash, sizeof(a->hash)) && a->len == b->len &&
	       a->zlen == b->zlen && a->offset == b->offset;
}

/* From @it on, the chunks of @e from index @i, with their stored offsets: how many differ. */
static int compare(struct backups_citer *it, const struct manifest_entry *e, size_t i)
{
	struct manifest_chunk c;
	uint64_t z, want = 0;
	int bad = 0, ret;

	for (size_t k = 0; k < i; k++)
		want += e->chunks[k].zlen;
	for (; i < e->nchunks; i++) {
		ret = backups_citer_next(it, &c, &z);
		if (ret != 1 || !same(&c, &e->chunks[i]) || z != want)
			return bad + 1;
		want += c.zlen;
	}
	return backups_citer_next(it, &c, &z) != 0;
}

/* The chunk index holding plain (@z: stored) byte @key of @e. */
static size_t holding(const struct manifest_entry *e, bool z, uint64_t key)
{
	uint64_t at = 0;
	size_t i = 0;

	while (at + (z ? e->chunks[i].zlen : e->chunks[i].len) <= key)
		at += z ? e->chunks[i++].zlen : e->chunks[i++].len;
	return i;
}

static void test_cursors(size_t big)
{
	struct manifest full, lazy;
	struct backups_chunks *k;
	struct backups_citer it;
	char *text, err[256] = "";
	size_t len;
	int fd, bad = 0, tried = 0;
	unsigned seed = 11;

	build(&full, big);
	CHECK_INT(manifest_format(&full, &text, &len, err, sizeof(err)), 0);
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len && lseek(fd, 0, SEEK_SET) == 0);
	CHECK_INT(backups_chunks_new(&k), 0);
	manifest_init(&lazy);
	CHECK_INT(manifest_parse_fd(&lazy, fd, backups_chunks_add, k, err, sizeof(err)), 0);
	CHECK_INT(backups_chunks_seal(k, lazy.n), 0);
	CHECK(lazy.n == full.n && lazy.v[0].nchunks == big && !lazy.v[0].chunks);
	for (size_t f = 0; f < full.n; f++) {
		const struct manifest_entry *e = &full.v[f];
		uint64_t zsize = 0, at;
		size_t keys[] = {0, 1, 63, 64, 65, 127, 128, e->nchunks / 2, e->nchunks - 1};

		for (size_t i = 0; i < e->nchunks; i++)
			zsize += e->chunks[i].zlen;
		CHECK_MSG(backups_chunks_zsize(k, f) == zsize, "%s: stored size", e->path);
		for (size_t q = 0; q < sizeof(keys) / sizeof(keys[0]); q++) {
			size_t i = keys[q];
			uint64_t off, zoff = 0;

			if (i >= e->nchunks)
				continue;
			tried += 3;
			off = e->chunks[i].offset + (e->chunks[i].len > 1 ? 1 : 0);
			for (size_t j = 0; j < i; j++)
				zoff += e->chunks[j].zlen;
			bad += backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_INDEX, i) ||
			       compare(&it, e, i);
			bad += backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_OFF, off) ||
			       compare(&it, e, i);
			bad += backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_ZOFF,
						   zoff + e->chunks[i].zlen - 1) ||
			       compare(&it, e, i);
		}
		for (int r = 0; e->size && r < 20; r++) {
			uint64_t off = (uint64_t)rand_r(&seed) * 7919 % e->size;
			uint64_t zoff = (uint64_t)rand_r(&seed) * 7919 % zsize;

			tried += 2;
			bad += backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_OFF, off) ||
			       compare(&it, e, holding(e, false, off));
			bad += backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_ZOFF, zoff) ||
			       compare(&it, e, holding(e, true, zoff));
		}
		CHECK_INT(backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_INDEX, e->nchunks),
			  0);
		CHECK_INT(backups_citer_next(&it, &(struct manifest_chunk){0}, NULL), 0);
		CHECK_INT(
		    backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_INDEX, e->nchunks + 1),
		    -ERANGE);
		CHECK_INT(backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_OFF, e->size),
			  -ERANGE);
		CHECK_INT(backups_citer_start(&it, k, fd, &lazy, f, BACKUPS_BY_ZOFF, zsize),
			  -ERANGE);
		/* A mark: the first checkpoint at or past a stored offset, or the end. */
		{
			size_t mk = backups_chunks_zmark(k, f, e->nchunks, zsize / 3, &at);
			uint64_t want = 0;

			for (size_t j = 0; j < mk; j++)
				want += e->chunks[j].zlen;
			CHECK_MSG(mk % BACKUPS_CHUNKS_EVERY == 0 || mk == e->nchunks,
				  "%s: a mark is on a checkpoint or the end", e->path);
			CHECK_MSG(want == at && want >= zsize / 3 &&
				      (mk < BACKUPS_CHUNKS_EVERY ||
				       want - zsize / 3 < BACKUPS_CHUNKS_EVERY * 3000 + 3000),
				  "%s: mark %zu at %llu", e->path, mk, (unsigned long long)at);
		}
	}
	CHECK_MSG(!bad, "%d cursors of %d give the full parse's chunks (%zu-chunk file)",
		  tried - bad, tried, big);

	/* The text changed under it: a chunk line is not one any more. */
	CHECK(pwrite(fd, "x", 1, (off_t)(strstr(text, "\nc ") + 1 - text)) == 1);
	CHECK_INT(backups_citer_start(&it, k, fd, &lazy, 0, BACKUPS_BY_INDEX, 0), 0);
	CHECK_INT(backups_citer_next(&it, &(struct manifest_chunk){0}, NULL), -EIO);
	CHECK_INT(backups_citer_start(&it, k, fd, &lazy, 0, BACKUPS_BY_OFF, 0), -EIO);
	close(fd);
	unlink(path);
	memcpy(path + sizeof(path) - 7, "XXXXXX", 6);
	free(text);
	backups_chunks_free(k);
	manifest_free(&lazy);
	manifest_free(&full);
}

int main(void)
{
	test_cursors(1000);
	test_cursors(64);
	test_cursors(5);
	UNIT_DONE();
}
