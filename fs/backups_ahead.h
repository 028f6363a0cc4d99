/*
 * backups_ahead.h - read-ahead of stored frames for a sequential reader in backups/.
 *
 * Files and dumps are served out of chunks whose frames lie in pack files, and a cold frame
 * costs a disk round trip: read one at a time, the many small frames of a dump or of a tree
 * of small files make a slow copy. A sequential reader therefore hands the chunks it will
 * need next to a few worker threads, which ask the kernel to read each frame's bytes of its
 * pack into the page cache (posix_fadvise WILLNEED, backups_store_warm), so those round trips
 * overlap; the reader's own reads then find the data cached. Workers start on first use
 * (after any daemonizing fork); the queue is bounded and a request that does not fit is
 * dropped (it is only a hint).
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_AHEAD_H
#define STATEFS_BACKUPS_AHEAD_H

#include "fs/backups_store.h"

#define BACKUPS_AHEAD_THREADS 8
#define BACKUPS_AHEAD_QUEUE 2048

struct backups_ahead;

/* Read-ahead of the chunks of @s. 0 or -ENOMEM. */
int backups_ahead_new(struct backups_store *s, struct backups_ahead **out);

/* Stop the workers (dropping what is queued) and free. NULL is a no-op. */
void backups_ahead_free(struct backups_ahead *a);

/* Have chunk @h's frame read into the page cache soon. Never blocks. */
void backups_ahead_warm(struct backups_ahead *a, const struct store_hash *h);

/*
 * Sequential opens: the caller opens item @i of sequence @key (a parsed manifest's entries)
 * and would have items up to @want (exclusive) read ahead. Returns the first item in [i, want)
 * not handed out yet for @key, and records that everything before @want now is, so files
 * opened one after the other are each read ahead once. Only the last sequence is remembered.
 */
size_t backups_ahead_span(struct backups_ahead *a, const void *key, size_t i, size_t want);

/* Wait until nothing is queued or being warmed (for tests); the number warmed so far. */
unsigned long backups_ahead_drain(struct backups_ahead *a);

#endif
