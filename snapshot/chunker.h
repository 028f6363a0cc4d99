/*
 * chunker.h - content-defined chunking (FastCDC-style) of a byte stream.
 *
 * The chunker decides where a stream is cut into chunks so that the cuts depend on the content
 * around them, not on offsets: an insertion early in a file moves the cuts near it and leaves
 * the later chunks unchanged, so the store keeps them once. It is a gear rolling hash with
 * normalized chunking (Xia et al., "FastCDC", USENIX ATC 2016):
 *
 *   - no cut before @min bytes; bytes before @min are not even hashed;
 *   - from @min to @avg a cut needs the top (log2(avg) + norm) hash bits to be zero, after
 *     @avg only the top (log2(avg) - norm) bits: chunk sizes cluster around @avg;
 *   - a cut is forced at @max bytes.
 *
 * The hash is h = (h << 1) + gear[byte], restarted at 0 at every chunk start, over a gear table
 * of 256 64-bit values drawn from splitmix64 seeded with CHUNKER_GEAR_SEED. The table, the masks
 * and this rule are part of the on-disk format in the sense that changing any of them moves
 * every cut (old chunks stay readable, but nothing dedups against them any more).
 *
 * The chunker is streaming: feed it buffers of any size with chunker_scan(); the cuts are the
 * same whatever the feed sizes. It only finds boundaries; it neither copies nor stores data
 * (see store_put_fd() for "chunk this file into the store"). Callers that know better where to
 * cut (the SQL dumper cuts at row boundaries) do not need a chunker at all: they hand each
 * chunk to store_put() directly.
 */
#ifndef STATEFS_CHUNKER_H
#define STATEFS_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNKER_GEAR_SEED 0x73746174656673ULL /* "statefs" */

/* Defaults for files (uploads): 16 KiB / 64 KiB / 256 KiB, normalization level 2. */
#define CHUNKER_MIN_DEFAULT (16u * 1024)
#define CHUNKER_AVG_DEFAULT (64u * 1024)
#define CHUNKER_MAX_DEFAULT (256u * 1024)
#define CHUNKER_NORM_DEFAULT 2u

/* Limits accepted by chunker_init(). */
#define CHUNKER_MIN_LIMIT 64u		      /* smallest @min */
#define CHUNKER_MAX_LIMIT (64u * 1024 * 1024) /* largest @max */

struct chunker_params {
	uint32_t min;  /* >= CHUNKER_MIN_LIMIT; no cut before this many bytes */
	uint32_t avg;  /* a power of two, min < avg < max; the size chunks cluster around */
	uint32_t max;  /* <= CHUNKER_MAX_LIMIT; a cut is forced here */
	uint32_t norm; /* normalization level, 0..3; 0 is plain gear CDC */
};

struct chunker {
	struct chunker_params p;
	uint64_t mask_s; /* used while the chunk is shorter than avg */
	uint64_t mask_l; /* used from avg on */
	uint64_t h;	 /* the rolling hash of the current chunk */
	uint32_t pos;	 /* bytes of the current chunk seen so far */
};

/* The defaults above, as a value: chunker_init(&c, &chunker_default_params). */
extern const struct chunker_params chunker_default_params;

/* Check @p and start a stream. 0, or -EINVAL if @p breaks a rule above. */
int chunker_init(struct chunker *c, const struct chunker_params *p);

/*
 * Scan up to @len bytes of the stream. Returns how many bytes belong to the current chunk:
 * if *cut is set, the chunk ends after them and the next call starts a new chunk; otherwise
 * all @len bytes were taken and the chunk goes on. Call again with the rest of the buffer.
 * At the end of the stream the bytes since the last cut, if any, are the last chunk.
 * Every chunk but the last has min < size <= max.
 */
size_t chunker_scan(struct chunker *c, const void *buf, size_t len, bool *cut);

/* Forget the current chunk and start a new stream with the same parameters. */
void chunker_reset(struct chunker *c);

/* The gear table (256 entries), for tests and for anyone re-implementing the format. */
const uint64_t *chunker_gear(void);

#endif
