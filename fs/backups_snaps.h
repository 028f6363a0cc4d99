/*
 * backups_snaps.h - the snapshots in the store, as backups/ shows them: the list of names
 * (read again when STATE_DIR/store/snapshots changes), each snapshot's header (time, config
 * commit, status) read on demand, and its parsed manifest kept in a small LRU. The chunks are
 * read through backups_store.h, the chunk lists through backups_chunks.h.
 *
 * What a newcomer must know: nothing is read at mount. The list is read at the first look at
 * backups/, a header when a snapshot's attributes are first asked for (a few hundred bytes),
 * and a whole manifest only when a snapshot's data is looked into (read a block at a time,
 * its chunk lines left in the file); at most a few manifests stay parsed. Snapshots and parsed
 * manifests are reference-counted: a snapshot pruned while a file of it is open stays readable
 * through the references its reader holds (and its chunks through the lock backups_store.h holds).
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_SNAPS_H
#define STATEFS_BACKUPS_SNAPS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fs/backups_chunks.h"
#include "fs/backups_store.h"
#include "snapshot/manifest.h"

/*
 * A parsed manifest, shared by whoever holds a reference; read-only. Parsed lazily: the chunk
 * lists stay in the manifest file, held open as @fd, and are read back through @chunks
 * (fs/backups_chunks.h).
 */
struct backups_man {
	struct manifest m;
	int fd;			       /* the manifest file */
	struct backups_chunks *chunks; /* checkpoints into its chunk lines */
	/* Internal: */
	int refs;
	size_t bytes; /* of memory held */
};

/* One snapshot of the list. name, file_ino and id are set at listing, the rest by _head. */
struct backups_snap {
	char name[MANIFEST_NAME_MAX];
	uint64_t file_ino; /* the manifest's inode: a snapshot pruned and taken again differs */
	char id[48];	   /* "name#ino": the root id of its nodes (backups_node.h) */
	bool head_read;	   /* time, complete and commit are valid */
	int64_t time;	   /* when it began (seconds) */
	bool complete;
	char commit[65]; /* config.git commit (hex) or "" */
	/* Internal (guarded by the list's lock): */
	int refs;
	bool gone; /* no longer in the store */
	bool loading;
	bool damaged; /* its manifest did not parse: not tried again (it never changes) */
	struct backups_man *man; /* parsed, in the LRU */
	uint64_t used;		 /* LRU clock */
};

struct backups_snaps;

/*
 * Serve the snapshots of @state_dir, keeping at most @max_parsed manifests parsed (0 = 4) and
 * about @max_bytes of memory among them (0 = 8 MiB; the newest one used is always kept).
 * Reads nothing yet. 0 or -ENOMEM.
 */
int backups_snaps_new(const char *state_dir, unsigned max_parsed, size_t max_bytes,
		      struct backups_snaps **out);
void backups_snaps_free(struct backups_snaps *s);

/*
 * Read the list again if the snapshots directory changed since it was last read (its mtime,
 * trusted only once it is a few seconds older than the reading). 0 or -errno; a missing
 * directory is an empty list. *changed (may be NULL) says whether the names changed.
 */
int backups_snaps_refresh(struct backups_snaps *s, bool *changed);

/* The number of snapshots listed, and the mtime of their directory (0 if there is none). */
size_t backups_snaps_count(struct backups_snaps *s, struct timespec *mtime);

/* Snapshot @i of the list (oldest first), with a reference. 0 or -ENOENT past the end. */
int backups_snaps_at(struct backups_snaps *s, size_t i, struct backups_snap **out);

/* The snapshot named @name, with a reference. 0 or -ENOENT. */
int backups_snaps_find(struct backups_snaps *s, const char *name, struct backups_snap **out);

/* The newest complete snapshot, else the newest (reads headers). 0 or -ENOENT if none. */
int backups_snaps_latest(struct backups_snaps *s, struct backups_snap **out);

void backups_snap_get(struct backups_snap *p);
void backups_snap_put(struct backups_snap *p); /* NULL is a no-op */

/* Read @p's header if not yet read: time, status and commit. 0 or -errno. */
int backups_snap_head(struct backups_snaps *s, struct backups_snap *p);

/* @p's parsed manifest, with a reference: from the LRU, or read now. 0 or -errno. */
int backups_snap_manifest(struct backups_snaps *s, struct backups_snap *p,
			  struct backups_man **out);
void backups_man_put(struct backups_man *m); /* NULL is a no-op */

/* How many manifests are parsed now, and how many were ever parsed (for tests). */
void backups_snaps_parsed(struct backups_snaps *s, size_t *now, uint64_t *total);

/*
 * The first index in [lo, hi) of m->v whose path is >= @key (bytewise), or hi: the entries are
 * sorted, so the entries below a directory "a/b" are those from lower_bound("a/b/") to
 * lower_bound("a/b0") ('0' follows '/').
 */
size_t backups_man_lower_bound(const struct manifest *m, size_t lo, size_t hi, const char *key);

#endif
