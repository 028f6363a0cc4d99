/*
 * backups.h - the backups/ view (fs/view.h): every snapshot of the store as a dated, read-only
 * directory with the live tree's shape, and `latest`, a symlink to the newest complete one.
 *
 *     backups/2025-10-01/nginx/...            configs at the snapshot's commit
 *     backups/2025-10-01/db/NAME.sql.zst      the dump, a standard zstd stream
 *     backups/2025-10-01/uploads/LABEL/...    the uploads, as recorded
 *     backups/2025-10-01/.statefs-snapshot    time, commit, status, what failed
 *     backups/latest -> 2025-10-01
 *
 * Nothing is read at mount. The snapshot list is read again whenever STATE_DIR/store/snapshots
 * has changed (looked at on each lookup and listing of backups/), so a new snapshot appears
 * and a pruned one goes without a remount: backups/ and latest have one-second timeouts, a
 * snapshot's name too; everything inside a snapshot is immutable and cached for a day.
 * The trees themselves are served by fs/backups_tree.c and fs/backups_file.c.
 */
#ifndef STATEFS_BACKUPS_H
#define STATEFS_BACKUPS_H

#include <stddef.h>
#include <stdint.h>

#include "fs/backups_cache.h"
#include "fs/view.h"

extern const struct view_ops backups_view_ops;

/* What the view holds now (for tests and figures); @priv is the view's. */
struct backups_view_stats {
	size_t snapshots;      /* listed */
	size_t parsed;	       /* manifests parsed now */
	uint64_t parsed_total; /* manifests parsed since the mount */
	size_t nodes;	       /* nodes the kernel holds */
	unsigned long warmed;  /* frames read ahead (worker, or a dump's range hint) */
	struct backups_cache_stats cache;
};
void backups_view_stats(void *priv, struct backups_view_stats *out);

#define BACKUPS_DIR_TIMEOUT 1.0 /* seconds: backups/, latest, a snapshot's name */
#define BACKUPS_CACHE_BYTES (2u << 20)

#endif
