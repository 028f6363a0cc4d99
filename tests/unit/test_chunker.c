/*
 * test_chunker.c - the content-defined chunker: bounds, feed-size independence, resync after an
 * insertion, and that the gear table and the cut rule never change by accident.
 */
#include "snapshot/chunker.h"
#include "snapshot/store.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>

#define DATA_LEN (6u * 1024 * 1024)
#define MAX_CUTS 100000
/*
 * Pinned: the gear table's ends, and the first cuts of 64 KiB of xorshift64(42) bytes with
 * min/avg/max 256/1024/4096, norm 2 (checked against an independent implementation of the
 * rule in chunker.h and docs/format.md). If these change, every stored chunk stops deduplicating.
 */
#define GOLDEN_GEAR0 0x989305ac8e7ded51ULL
#define GOLDEN_GEAR255 0x2d8685c19d2703b1ULL
#define GOLDEN_CUTS 1182, 1861, 2899, 4442, 5472, 6439, 7751, 9114

static uint64_t rng_state = 12345;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(rng() >> 56);
}

/*
 * Chunk @data fed in pieces of @feed bytes (0 = random sizes 1..100000); store the chunk end
 * offsets in @cuts (the last one is @len). Returns the number of chunks.
 */
static size_t chunk_all(const struct chunker_params *p, const unsigned char *data, size_t len,
			size_t feed, size_t *cuts)
{
	struct chunker c;
	size_t off = 0, n = 0;

	if (chunker_init(&c, p))
		return 0;
	while (off < len) {
		size_t piece = feed ? feed : 1 + (size_t)(rng() % 100000);
		size_t end = off + piece < len ? off + piece : len;

		while (off < end) {
			bool cut;
			size_t k = chunker_scan(&c, data + off, end - off, &cut);

			off += k;
			if (cut && n < MAX_CUTS)
				cuts[n++] = off;
		}
	}
	if ((!n || cuts[n - 1] != len) && n < MAX_CUTS)
		cuts[n++] = len;
	return n;
}

static bool same_cuts(const size_t *a, size_t na, const size_t *b, size_t nb)
{
	return na == nb && !memcmp(a, b, na * sizeof(*a));
}

static void test_params(void)
{
	struct chunker c;
	struct chunker_params p = chunker_default_params;

	CHECK_INT(chunker_init(&c, &p), 0);
	p.avg = 60000;
	CHECK_INT(chunker_init(&c, &p), -EINVAL); /* not a power of two */
	p = chunker_default_params;
	p.min = p.avg;
	CHECK_INT(chunker_init(&c, &p), -EINVAL);
	p = chunker_default_params;
	p.max = p.avg;
	CHECK_INT(chunker_init(&c, &p), -EINVAL);
	p = chunker_default_params;
	p.max = CHUNKER_MAX_LIMIT + 1;
	CHECK_INT(chunker_init(&c, &p), -EINVAL);
	p = chunker_default_params;
	p.min = 32;
	CHECK_INT(chunker_init(&c, &p), -EINVAL);
	p = chunker_default_params;
	p.norm = 4;
	CHECK_INT(chunker_init(&c, &p), -EINVAL);
}

/* The gear table is splitmix64 from the documented seed; pin two values and a known cut list. */
static void test_constants(void)
{
	const uint64_t *g = chunker_gear();
	uint64_t st = CHUNKER_GEAR_SEED, z;
	struct chunker_params p = {.min = 256, .avg = 1024, .max = 4096, .norm = 2};
	static const size_t golden[] = {GOLDEN_CUTS};
	size_t *cuts = malloc(MAX_CUTS * sizeof(*cuts)), n;
	unsigned char *data = malloc(65536);
	bool all = true;

	for (int i = 0; i < 256; i++) {
		z = (st += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		all = all && g[i] == z;
	}
	CHECK_MSG(all, "gear table is splitmix64 seeded with CHUNKER_GEAR_SEED");
	CHECK_MSG(g[0] == GOLDEN_GEAR0 && g[255] == GOLDEN_GEAR255,
		  "gear[0] = %016llx, gear[255] = %016llx", (unsigned long long)g[0],
		  (unsigned long long)g[255]);

	rng_state = 42;
	fill_random(data, 65536);
	n = chunk_all(&p, data, 65536, 65536, cuts);
	all = n >= sizeof(golden) / sizeof(golden[0]);
	for (size_t i = 0; all && i < sizeof(golden) / sizeof(golden[0]); i++)
		all = cuts[i] == golden[i];
	CHECK_MSG(all, "cuts of a fixed input are the pinned ones (got %zu %zu %zu %zu ...)",
		  cuts[0], cuts[1], cuts[2], cuts[3]);
	free(cuts);
	free(data);
}

static void test_bounds_and_feeds(const struct chunker_params *p, const unsigned char *data,
				  size_t len)
{
	static const size_t feeds[] = {1, 7, 4096, 65537, 1000003, 0};
	size_t *ref = malloc(MAX_CUTS * sizeof(*ref)), *cuts = malloc(MAX_CUTS * sizeof(*cuts));
	size_t n, prev = 0, bad = 0, min_seen = SIZE_MAX, max_seen = 0;

	n = chunk_all(p, data, len, len, ref);
	for (size_t i = 0; i < n; i++) {
		size_t sz = ref[i] - prev;

		if (i + 1 < n && (sz <= p->min || sz > p->max))
			bad++;
		if (i + 1 < n && sz < min_seen)
			min_seen = sz;
		if (sz > max_seen)
			max_seen = sz;
		prev = ref[i];
	}
	CHECK_MSG(n > 2 && ref[n - 1] == len, "%zu chunks cover all %zu bytes", n, len);
	CHECK_MSG(!bad, "all chunks but the last within (%u, %u]: seen %zu..%zu", p->min, p->max,
		  min_seen, max_seen);
	CHECK_MSG(len / n >= p->avg / 2 && len / n <= 2 * p->avg,
		  "mean chunk size %zu is near avg %u", len / n, p->avg);
	for (size_t f = 0; f < sizeof(feeds) / sizeof(feeds[0]); f++) {
		size_t m;

		m = chunk_all(p, data, len, feeds[f], cuts);
		if (feeds[f])
			CHECK_MSG(same_cuts(ref, n, cuts, m), "same cuts fed %zu bytes at a time",
				  feeds[f]);
		else
			CHECK_MSG(same_cuts(ref, n, cuts, m), "same cuts fed random sizes");
	}
	free(ref);
	free(cuts);
}

/* How many chunks of @b (by content) are also chunks of @a. */
static size_t shared_chunks(const unsigned char *a, const size_t *ca, size_t na,
			    const unsigned char *b, const size_t *cb, size_t nb)
{
	struct store_hash *ha = malloc(na * sizeof(*ha));
	size_t shared = 0, prev = 0;

	for (size_t i = 0; i < na; i++) {
		store_hash_data(a + prev, ca[i] - prev, &ha[i]);
		prev = ca[i];
	}
	prev = 0;
	for (size_t i = 0; i < nb; i++) {
		struct store_hash h;

		store_hash_data(b + prev, cb[i] - prev, &h);
		prev = cb[i];
		for (size_t k = 0; k < na; k++) {
			if (!memcmp(&h, &ha[k], sizeof(h))) {
				shared++;
				break;
			}
		}
	}
	free(ha);
	return shared;
}

static void test_edit(const unsigned char *data, size_t len)
{
	const struct chunker_params *p = &chunker_default_params;
	size_t *ca = malloc(MAX_CUTS * sizeof(*ca)), *cb = malloc(MAX_CUTS * sizeof(*cb));
	unsigned char *b = malloc(len + 100);
	size_t na, nb, shared;

	/* Insert 100 bytes at offset 5000. */
	memcpy(b, data, 5000);
	memset(b + 5000, 'x', 100);
	memcpy(b + 5100, data + 5000, len - 5000);
	na = chunk_all(p, data, len, len, ca);
	nb = chunk_all(p, b, len + 100, 65536, cb);
	shared = shared_chunks(data, ca, na, b, cb, nb);
	CHECK_MSG(shared + 2 >= na && shared + 2 >= nb,
		  "insertion early: %zu of %zu chunks unchanged", shared, nb);

	/* Delete 3000 bytes in the middle. */
	memcpy(b, data, len / 2);
	memcpy(b + len / 2, data + len / 2 + 3000, len / 2 - 3000);
	nb = chunk_all(p, b, len - 3000, 0, cb);
	shared = shared_chunks(data, ca, na, b, cb, nb);
	CHECK_MSG(shared + 3 >= na, "deletion in the middle: %zu of %zu chunks unchanged", shared,
		  na);
	free(ca);
	free(cb);
	free(b);
}

static void test_special_inputs(void)
{
	const struct chunker_params *p = &chunker_default_params;
	size_t *cuts = malloc(MAX_CUTS * sizeof(*cuts)), n;
	unsigned char *zero = calloc(1, 1024 * 1024);
	bool all = true;

	/* No content variation: the hash never hits, every cut is forced at max. */
	n = chunk_all(p, zero, 1024 * 1024, 100000, cuts);
	for (size_t i = 0; i < n; i++)
		all = all && cuts[i] == (i + 1) * p->max;
	CHECK_MSG(n == 4 && all, "zeros cut at max: %zu chunks", n);
	n = chunk_all(p, zero, p->min, 1000, cuts);
	CHECK_MSG(n == 1 && cuts[0] == p->min, "input of min bytes is one chunk");
	n = chunk_all(p, zero, 1, 1, cuts);
	CHECK_MSG(n == 1 && cuts[0] == 1, "one byte is one chunk");
	free(zero);
	free(cuts);
}

int main(void)
{
	unsigned char *data = malloc(DATA_LEN);
	struct chunker_params small = {.min = 64, .avg = 256, .max = 1024, .norm = 1};

	rng_state = 12345;
	fill_random(data, DATA_LEN);
	test_params();
	test_constants();
	test_bounds_and_feeds(&chunker_default_params, data, DATA_LEN);
	test_bounds_and_feeds(&small, data, 512 * 1024);
	test_edit(data, DATA_LEN);
	test_special_inputs();
	free(data);
	UNIT_DONE();
}
