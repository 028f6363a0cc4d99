/*
 * backups_chunks.c - checkpoints into a manifest's chunk lines, and cursors that read the lines
 * back from the manifest file.
 *
 * The checkpoints of all files are one array in the order of the parse; first[e] says where
 * file e's begin. A cursor binary-searches its file's checkpoints, then reads and skips at most
 * BACKUPS_CHUNKS_EVERY - 1 lines to reach its chunk.
 */
#include "fs/backups_chunks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ckpt {
	uint64_t at;   /* where the chunk's line starts in the text */
	uint64_t off;  /* its plain offset in the file */
	uint64_t zoff; /* its stored offset: the ZLENs of the chunks before it */
};

struct backups_chunks {
	struct ckpt *v;
	size_t n, cap;
	size_t *first;	 /* file e's checkpoints are v[first[e]] up to v[first[e + 1]] */
	uint64_t *zsize; /* per entry: its ZLENs so far, then in all */
	size_t nent, capent;
};

int backups_chunks_new(struct backups_chunks **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void backups_chunks_free(struct backups_chunks *k)
{
	if (!k)
		return;
	free(k->v);
	free(k->first);
	free(k->zsize);
	free(k);
}

/* Have first[] and zsize[] cover entries up to @n (and first[n]); new ones have no chunk. */
static int cover(struct backups_chunks *k, size_t n)
{
	if (n + 1 > k->capent) {
		size_t cap = k->capent ? 2 * k->capent : 256;
		size_t *f;
		uint64_t *z;

		while (cap < n + 1)
			cap *= 2;
		f = reallocarray(k->first, cap, sizeof(*f));
		if (f)
			k->first = f;
		z = f ? reallocarray(k->zsize, cap, sizeof(*z)) : NULL;
		if (!z)
			return -ENOMEM;
		k->zsize = z;
		k->capent = cap;
	}
	for (; k->nent < n; k->nent++) {
		k->first[k->nent] = k->n;
		k->zsize[k->nent] = 0;
	}
	k->first[n] = k->n;
	return 0;
}

int backups_chunks_add(void *arg, size_t entry, size_t i, const struct manifest_chunk *c,
		       uint64_t at)
{
	struct backups_chunks *k = arg;
	uint64_t *z;

	if (entry >= k->nent && cover(k, entry + 1))
		return -ENOMEM;
	z = &k->zsize[entry];
	if (*z + c->zlen < *z)
		return -EOVERFLOW; /* stored sizes that add up past 2^64: not a real manifest */
	if (i % BACKUPS_CHUNKS_EVERY == 0) {
		if (k->n == k->cap) {
			size_t cap = k->cap ? 2 * k->cap : 256;
			struct ckpt *v = reallocarray(k->v, cap, sizeof(*v));

			if (!v)
				return -ENOMEM;
			k->v = v;
			k->cap = cap;
		}
		k->v[k->n++] = (struct ckpt){.at = at, .off = c->offset, .zoff = *z};
		k->first[entry + 1] = k->n;
	}
	*z += c->zlen;
	return 0;
}

int backups_chunks_seal(struct backups_chunks *k, size_t n)
{
	struct ckpt *v;

	if (cover(k, n))
		return -ENOMEM;
	/* Give back what doubling left unused: the array lives as long as the manifest. */
	v = k->n ? reallocarray(k->v, k->n, sizeof(*v)) : NULL;
	if (v) {
		k->v = v;
		k->cap = k->n;
	}
	return 0;
}

size_t backups_chunks_bytes(const struct backups_chunks *k)
{
	return sizeof(*k) + k->cap * sizeof(*k->v) +
	       k->capent * (sizeof(*k->first) + sizeof(*k->zsize));
}

uint64_t backups_chunks_zsize(const struct backups_chunks *k, size_t entry)
{
	return entry < k->nent ? k->zsize[entry] : 0;
}

/* The last checkpoint in [lo, hi) whose offset (@z: stored offset) is at most @key; lo if none. */
static size_t floor_of(const struct backups_chunks *k, size_t lo, size_t hi, bool z, uint64_t key)
{
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if ((z ? k->v[mid].zoff : k->v[mid].off) <= key)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t backups_chunks_zmark(const struct backups_chunks *k, size_t entry, size_t nchunks,
			    uint64_t zoff, uint64_t *at)
{
	size_t lo = entry < k->nent ? k->first[entry] : 0,
	       hi = entry < k->nent ? k->first[entry + 1] : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->v[mid].zoff < zoff)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (entry >= k->nent || lo == k->first[entry + 1]) {
		*at = backups_chunks_zsize(k, entry);
		return nchunks;
	}
	*at = k->v[lo].zoff;
	return (lo - k->first[entry]) * BACKUPS_CHUNKS_EVERY;
}

#define LINE_MAX_LEN 110 /* "c " HASH " " LEN " " ZLEN: at most 2 + 64 + 1 + 20 + 1 + 20 + 1 */

void backups_chunks_text(const struct backups_chunks *k, size_t entry, size_t from, size_t to,
			 uint64_t *start, uint64_t *end)
{
	size_t lo = entry < k->nent ? k->first[entry] : 0;
	size_t hi = entry < k->nent ? k->first[entry + 1] : 0;
	size_t a = lo + from / BACKUPS_CHUNKS_EVERY, b = lo + to / BACKUPS_CHUNKS_EVERY + 1;

	*start = *end = 0;
	if (a >= hi)
		return;
	*start = k->v[a].at;
	*end = b < hi ? k->v[b].at : k->v[hi - 1].at + BACKUPS_CHUNKS_EVERY * LINE_MAX_LEN;
}

/*
 * Parse the line of the next chunk, reading more of the text if it is not whole in buf: 1 with
 * *c and the line's length in *used, 0 past the last chunk, -EIO if it is not a chunk line.
 */
static int peek(struct backups_citer *it, struct manifest_chunk *c, size_t *used)
{
	const char *p = it->buf + it->pos, *nl, *what;

	if (it->i >= it->n)
		return 0;
	nl = memchr(p, '\n', it->len - it->pos);
	if (!nl) {
		ssize_t got;

		it->at += it->pos;
		it->pos = 0;
		do
			got = pread(it->fd, it->buf, sizeof(it->buf), (off_t)it->at);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return -errno;
		it->len = (size_t)got;
		p = it->buf;
		nl = memchr(p, '\n', it->len);
		if (!nl)
			return -EIO;
	}
	if (nl - p < 2 || memcmp(p, "c ", 2) ||
	    manifest_chunk_fields(p + 2, (size_t)(nl - p - 2), c, &what))
		return -EIO;
	c->offset = it->off;
	*used = (size_t)(nl + 1 - p);
	return 1;
}

static void advance(struct backups_citer *it, const struct manifest_chunk *c, size_t used)
{
	it->pos += used;
	it->i++;
	it->off += c->len;
	it->zoff += c->zlen;
}

int backups_citer_start(struct backups_citer *it, const struct backups_chunks *k, int fd,
			const struct manifest *m, size_t entry, enum backups_by by, uint64_t key)
{
	const struct manifest_entry *e = &m->v[entry];
	size_t lo, hi, c;
	int ret;

	if (entry >= k->nent || (by == BACKUPS_BY_INDEX && key > e->nchunks) ||
	    (by == BACKUPS_BY_OFF && key >= e->size) ||
	    (by == BACKUPS_BY_ZOFF && key >= k->zsize[entry]))
		return -ERANGE;
	lo = k->first[entry];
	hi = k->first[entry + 1];
	it->fd = fd;
	it->n = e->nchunks;
	it->pos = it->len = 0;
	c = by == BACKUPS_BY_INDEX ? lo + key / BACKUPS_CHUNKS_EVERY
				   : floor_of(k, lo, hi, by == BACKUPS_BY_ZOFF, key);
	if (c >= hi) { /* BY_INDEX at the end, on a checkpoint's place */
		it->i = it->n;
		it->off = e->size;
		it->zoff = k->zsize[entry];
		return hi > lo || !it->n ? 0 : -EIO;
	}
	it->i = (c - lo) * BACKUPS_CHUNKS_EVERY;
	it->off = k->v[c].off;
	it->zoff = k->v[c].zoff;
	it->at = k->v[c].at;
	for (;;) {
		struct manifest_chunk ch;
		size_t used;

		if (by == BACKUPS_BY_INDEX && it->i >= key)
			return 0;
		ret = peek(it, &ch, &used);
		if (ret <= 0)
			return ret ? ret : -EIO; /* the chunks ran out before the key */
		if ((by == BACKUPS_BY_OFF && key < it->off + ch.len) ||
		    (by == BACKUPS_BY_ZOFF && key < it->zoff + ch.zlen))
			return 0;
		advance(it, &ch, used);
	}
}

int backups_citer_next(struct backups_citer *it, struct manifest_chunk *c, uint64_t *zoff)
{
	size_t used;
	int ret = peek(it, c, &used);

	if (ret <= 0)
		return ret;
	if (zoff)
		*zoff = it->zoff;
	advance(it, c, used);
	return 1;
}
