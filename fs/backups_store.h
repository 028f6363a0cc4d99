/*
 * backups_store.h - the chunk store as backups/ reads it: chunk files opened as they are (a
 * dump is served as its stored frames), chunks read and checked (snapshot/store.h store_get),
 * and the store's lock held shared while files of snapshots are open.
 *
 * What a newcomer must know: `statefs prune` removes manifests and then sweeps the chunks no
 * manifest names, under the store's lock taken exclusively (snapshot/lock.h). While any file
 * of backups/ is open, the daemon holds that lock shared (LOCK_WRITER), so prune waits: a file
 * being read, of a snapshot pruned meanwhile, keeps its chunks until it is closed. The lock is
 * never waited for here: if a sweep is running when a file is opened, the reader goes on
 * without that guarantee. Nothing is opened before it is needed (the store may not exist yet).
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_STORE_H
#define STATEFS_BACKUPS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/store.h"

struct backups_store;

/* The store of @state_dir. 0 or -ENOMEM. */
int backups_store_new(const char *state_dir, struct backups_store **out);
void backups_store_free(struct backups_store *s); /* NULL is a no-op */

/* Open chunk @h's file (its zstd frame) read-only. A descriptor or -errno. */
int backups_store_open(struct backups_store *s, const struct store_hash *h);

/* The size of chunk @h's file in *size. 0 or -errno. */
int backups_store_size(struct backups_store *s, const struct store_hash *h, uint64_t *size);

/*
 * Read and check chunk @h (store_get): a malloc'd buffer in *out, *len. 0 or -errno (a damaged
 * chunk is -EIO, logged).
 */
int backups_store_get(struct backups_store *s, const struct store_hash *h, void **out, size_t *len);

/* A file of a snapshot was opened (+1) or closed (-1): hold the lock while any is open. */
void backups_store_readers(struct backups_store *s, int delta);

#endif
