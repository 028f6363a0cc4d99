/*
 * backups_cache.h - a bounded cache of decompressed chunks for reading files out of backups/.
 *
 * Chunks are kept by hash in LRU order up to a byte budget (a few MiB), shared by every file
 * and snapshot (dedup means the same chunk serves many files). A chunk being loaded is loaded
 * once: other readers of it wait for that load. A chunk handed out is reference-counted, so
 * eviction never frees what a reader is copying from; memory is the budget plus the chunks
 * being read at the moment. Read-ahead: backups_cache_prefetch() asks a worker thread
 * (started on first use, so after any daemonizing fork) to load the next chunk of a file
 * being read sequentially while the current one is copied out.
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_CACHE_H
#define STATEFS_BACKUPS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/store.h"

/* A decompressed chunk, read-only, valid until backups_cache_put. */
struct backups_chunk {
	const unsigned char *data;
	size_t len;
};

/*
 * Load chunk @h into a malloc'd buffer (*out, *len): 0 or -errno. Called without any lock of
 * the cache held, from several threads.
 */
typedef int (*backups_load_fn)(void *arg, const struct store_hash *h, void **out, size_t *len);

struct backups_cache_stats {
	uint64_t hits, misses; /* gets found ready (or loading), gets that loaded */
	uint64_t evictions;
	uint64_t prefetches; /* loads done by the worker */
	size_t bytes, count; /* held now */
};

struct backups_cache;

/* A cache of about @max_bytes (0 = 4 MiB) loading with @load(@arg, ...). 0 or -ENOMEM. */
int backups_cache_new(size_t max_bytes, backups_load_fn load, void *arg,
		      struct backups_cache **out);

/* Stop the worker and free everything; every chunk must have been put back. NULL: no-op. */
void backups_cache_free(struct backups_cache *c);

/* Chunk @h with a reference: from the cache, or loaded now. 0 or the loader's -errno. */
int backups_cache_get(struct backups_cache *c, const struct store_hash *h,
		      const struct backups_chunk **out);

/* Give back a chunk from backups_cache_get. */
void backups_cache_put(struct backups_cache *c, const struct backups_chunk *ch);

/*
 * Load @h in the background if it is not cached: returns at once. When the worker's short
 * queue is full, or the worker cannot start, the request is dropped (it is only a hint).
 */
void backups_cache_prefetch(struct backups_cache *c, const struct store_hash *h);

/* Wait until the worker has nothing queued (for tests). */
void backups_cache_drain(struct backups_cache *c);

void backups_cache_stats(struct backups_cache *c, struct backups_cache_stats *out);

#endif
