/*
 * uploads.h - recording a plain tree (a source of a `kind = plain` mount, e.g. uploads) into a
 * snapshot's manifest, incrementally.
 *
 * The walker goes down the tree with openat(O_NOFOLLOW) one component at a time, so it never
 * leaves the source: a symlink is recorded as a symlink, never followed. It records
 * directories, regular files (cut by the FastCDC chunker, chunks put in the store) and
 * symlinks with their modes, owners, times and inode numbers. Sockets, FIFOs and devices are
 * skipped with a warning.
 *
 * Incremental: a file whose size, mtime, ctime and inode are those of the same path in the
 * previous snapshot, and whose chunks are all still in the store, gets that chunk list without
 * being opened. Anything else is read (chmod, chown and touch change ctime, so they cause a
 * read; the content then dedups in the store).
 *
 * Errors: what is wrong with one entry (unreadable, an I/O error in the source, a directory
 * that cannot be opened, a tree too deep) leaves that entry out, is warned about, and adds a
 * reason to the manifest (so the snapshot is marked incomplete); the walk goes on. An entry
 * that vanishes while the walk runs is left out silently (it is gone). What makes the whole
 * snapshot impossible (the store failing, e.g. ENOSPC; no memory) stops the walk and is
 * returned.
 */
#ifndef STATEFS_UPLOADS_H
#define STATEFS_UPLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/manifest.h"
#include "snapshot/store.h"

#define UPLOADS_DEPTH_MAX 256u	/* directories deeper than this are left out (one fd each) */
#define UPLOADS_REASONS_MAX 10u /* reason lines per tree; more are summed up in one line */

struct uploads_stats {
	uint64_t files;	       /* regular files recorded */
	uint64_t files_read;   /* ... of which read and chunked */
	uint64_t files_reused; /* ... of which taken from the previous snapshot, not read */
	uint64_t dirs, symlinks;
	uint64_t skipped;    /* sockets, FIFOs and devices left out */
	uint64_t failed;     /* entries left out because of an error */
	uint64_t bytes;	     /* the sizes of the files recorded */
	uint64_t bytes_read; /* bytes read from files */
};

struct uploads_opts {
	struct store *store;   /* where the chunks go (store_put_async) */
	struct manifest *prev; /* the previous snapshot, or NULL: read every file */
	/* A one-line message for the operator; NULL = none. */
	void (*warn)(void *arg, const char *msg);
	/* Called after each chunk read, with the running counts; NULL = none. */
	void (*progress)(void *arg, const struct uploads_stats *st);
	void *arg;
};

/*
 * Record the tree at @root (an absolute directory; symlinks in @root itself are followed,
 * nothing beneath it is) as @prefix ("uploads/clemence") and what is beneath it
 * ("uploads/clemence/2025/10/a.jpg") in @m, adding to the counts in @st. Returns 0 when the
 * walk ran to the end (entries may have been left out, with reasons added to @m; a @root that
 * cannot be opened is such a reason), or a negative errno with a message in @err when the
 * snapshot cannot go on: the store's error (-ENOSPC, -EIO, ...) or -ENOMEM. The chunks are
 * durable only after store_flush().
 */
int uploads_record(const char *root, const char *prefix, const struct uploads_opts *o,
		   struct manifest *m, struct uploads_stats *st, char *err, size_t errlen);

#endif
