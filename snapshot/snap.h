/*
 * snap.h - taking one snapshot: every configured database dumped, every plain tree recorded,
 * the config commit named, all of it in the chunk store, and the manifest written last.
 *
 * What goes in the manifest (docs/format.md, "What statefs snapshot records"):
 *   - db/NAME.sql.zst per [database "NAME"]: mode 0600, owner 0:0 (a dump holds every row),
 *     the SQL cut by the dumper into row-aware chunks, each chunk one plain zstd frame (no
 *     dictionary: the chunk files concatenated are a standard .sql.zst), with table offsets;
 *   - NAME/LABEL/... per source of a plain mount (uploads.h), incrementally against the
 *     latest snapshot;
 *   - "db" and each plain mount's NAME as made-up directories (0755, 0:0);
 *   - the config.git commit (vcs_head_for_snapshot); the config trees are not copied;
 *   - info lines: bytes_new, bytes_read, chunks_new, databases, databases_failed, duration_ms,
 *     files, files_read, files_reused.
 *
 * Failure is partial, never silent: a database that cannot be dumped (down, wrong password,
 * unknown), a tree or file that cannot be read, or a config commit that cannot be made is
 * warned about, left out, and named by a reason line; the snapshot is still written, marked
 * incomplete. What makes the store unusable (ENOSPC, an I/O error writing a chunk, no memory)
 * fails the whole snapshot and writes no manifest: earlier snapshots stay as they were, and
 * the chunks already written are swept by the next prune. A snapshot exists only once its
 * manifest is written (after store_flush), so a killed snapshot leaves none; its temp files
 * are removed by the next snapshot (store_cleanup_orphans).
 *
 * One snapshot at a time: snap_take holds LOCK_SNAPSHOT (lock.h) from start to end.
 * Memory is bounded whatever the database size: the dump is never held whole (at most
 * SNAP_PIECE_MAX plus the store's queue), only the manifest, which grows with the number of
 * files and chunks.
 */
#ifndef STATEFS_SNAP_H
#define STATEFS_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mountpoints/mtab.h"
#include "snapshot/manifest.h"
#include "snapshot/store.h"

#define SNAP_PIECE_MAX (8u * 1024 * 1024) /* a dump chunk is cut here when a row is larger */

/* What is going on, for a progress display. */
struct snap_progress {
	const char *name;    /* the snapshot's name */
	const char *what;    /* "db clemence_db", "uploads/clemence" */
	uint64_t bytes_read; /* dumped or read so far, all parts */
	uint64_t files;	     /* files recorded so far */
};

struct snap_opts {
	bool wait;		   /* wait for a running snapshot; else fail with -EWOULDBLOCK */
	unsigned dump_jobs;	   /* connections per dump; 0 = DUMP_JOBS_DEFAULT */
	const struct store_io *io; /* NULL = the real system calls; tests make writes fail */
	/* A one-line message for the operator (a database left out, a file skipped). */
	void (*warn)(void *arg, const char *msg);
	/* Called often (every chunk): throttle in the callback. NULL = none. */
	void (*progress)(void *arg, const struct snap_progress *p);
	void *arg;
};

struct snap_result {
	char name[MANIFEST_NAME_MAX]; /* the snapshot's name ("" until chosen) */
	bool incomplete;	      /* written, with reasons */
	unsigned databases;	      /* configured */
	unsigned databases_failed;    /* left out */
	uint64_t files, files_read, files_reused, dirs, symlinks, skipped;
	uint64_t bytes_read; /* SQL dumped plus bytes read from files */
	uint64_t bytes_new;  /* compressed bytes of the chunks written */
	uint64_t chunks_new;
	double seconds;
};

/*
 * Take a snapshot of everything @tab configures into tab->state_dir. @o may be NULL (wait,
 * no messages). Returns 0 when the manifest was written (r->incomplete says whether something
 * was left out); -EWOULDBLOCK if another snapshot runs and !o->wait; another negative errno
 * when no snapshot could be written (-ENOSPC, -EIO, -ENOMEM, ...). A message is in @err
 * whenever it returns nonzero. @r is filled as far as the snapshot got.
 */
int snap_take(const struct mtab *tab, const struct snap_opts *o, struct snap_result *r, char *err,
	      size_t errlen);

#endif
