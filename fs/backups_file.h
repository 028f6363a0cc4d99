/*
 * backups_file.h - reading files out of backups/ and history/.
 *
 * Three kinds of file: a config (a git blob, copied at open: configs are small), a file of a
 * snapshot's manifest (decompressed chunk by chunk through the chunk cache: the chunk holding
 * an offset is found from the manifest's checkpoints, fs/backups_chunks.h, never by scanning),
 * and a database dump (db/NAME.sql.zst: the stored zstd frames served as they are, found the
 * same way by the frames' offsets; the frames a read spans that lie back to back in a pack are
 * one preadv, so a read costs about one system call, not one per frame).
 * A sequential reader gets the next chunk decompressed ahead (backups_cache_prefetch) and the
 * frames of the next few MiB read into the page cache by several threads (backups_ahead.h).
 * An open file holds a reference to its parsed manifest, and while it is open the store's lock
 * is held shared (backups_store_readers), so it reads to its end even if its snapshot is
 * pruned meanwhile: the sweep waits for it. Everything is immutable, so the page cache is kept.
 */
#ifndef STATEFS_BACKUPS_FILE_H
#define STATEFS_BACKUPS_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "fs/backups_tree.h"

/* Open file node @n (BN_CFG, BN_MAN, BN_INFO) for reading: *o filled. 0 or -errno. */
int backups_file_open(struct backups_ctx *c, struct backups_node *n, struct view_open *o);

/* Read up to @size bytes at @off: the count (0 at the end) or -errno. */
ssize_t backups_file_read(struct backups_ctx *c, void *fh, char *buf, size_t size, off_t off);

void backups_file_release(struct backups_ctx *c, void *fh);

/*
 * The text of @r's .statefs-snapshot (its name, time, config commit, status and the reasons
 * it is incomplete) in a malloc'd buffer. 0 or -errno.
 */
int backups_file_info(struct backups_ctx *c, struct backups_root *r, char **out, size_t *len);

#endif
