/*
 * status.h - what statefs is doing and how it went: the facts behind `statefs status` and the
 * mount's .statefs/metrics file, gathered into one struct and written as text for people, as
 * JSON, or as Prometheus text. No FUSE here.
 *
 * Where each fact comes from:
 *   mounted          /proc/self/mountinfo: a mount of type fuse.statefs whose source is the
 *                    config file (the daemon names its mount after the config it serves);
 *   last snapshot    the newest manifest in STATE_DIR/store/snapshots (its header: time,
 *                    status, reasons, info duration_ms, databases, ...);
 *   snapshots        how many manifests there are;
 *   store bytes      the disk space of STATE_DIR/store, as du(1) counts it (allocated blocks);
 *   dedup ratio      logical bytes / chunk bytes, where logical bytes = the sum of the plain
 *                    sizes of the files of every snapshot (what copying every snapshot out
 *                    would take) and chunk bytes = the sum of the sizes of the packs
 *                    (what the store keeps of them, compressed and each chunk once): so it
 *                    counts both deduplication and compression;
 *   commits today    commits of STATE_DIR/config.git (first-parent history of HEAD) whose
 *                    commit time is today, local time;
 *   last snapshot run, restore, verify, error, config check, push to the remote
 *                    the event files (events.h): STATE_DIR/status/last-KIND.
 * A fact that cannot be found out is left unknown (-1, or has_* false) and the reason is added
 * to the problems list; it does not fail the whole gathering.
 *
 * Cost: the manifests' logical sizes and the packs' indexes are the expensive facts (a
 * pass over every manifest, a read of every pack index). A status_cache, which the daemon keeps
 * between reads of the metrics file, remembers them: a manifest never changes once written,
 * and a packs/ directory whose mtime did not change holds the same chunks.
 */
#ifndef STATEFS_STATUS_H
#define STATEFS_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mountpoints/mtab.h"
#include "snapshot/events.h"
#include "snapshot/manifest.h"

#define STATUS_PROBLEMS_MAX 8

struct status {
	const char *config;    /* the config file (tab->path) */
	const char *state_dir; /* tab->state_dir */
	int64_t now;	       /* when gathered */

	bool mounted;
	char mountpoint[1024]; /* "" when not mounted */

	size_t snapshots; /* manifests in store/snapshots */
	bool has_last;	  /* a snapshot exists (the fields below are set) */
	char last_name[MANIFEST_NAME_MAX];
	int64_t last_time;	  /* when it began */
	int64_t last_duration_ms; /* -1 = not recorded */
	bool last_complete;
	char last_reasons[1024]; /* why it is incomplete: its reason lines joined by "; " */
	int64_t last_databases, last_databases_failed, last_files; /* -1 = not recorded */
	int64_t last_bytes_new; /* compressed bytes it added to the store; -1 = not recorded */
	int64_t last_logical;	/* plain bytes of its files; -1 = unknown */

	int64_t store_bytes;   /* du of STATE_DIR/store; -1 = unknown */
	int64_t chunk_bytes;   /* sizes of the packs (with an index); -1 = unknown */
	int64_t chunks;	       /* chunks the pack indexes name; -1 = unknown */
	int64_t logical_bytes; /* plain bytes of every snapshot's files; -1 = unknown */
	double dedup_ratio;    /* logical_bytes / chunk_bytes; 0 = unknown or empty store */

	int64_t commits_today;	  /* -1 = unknown (no repository yet counts 0) */
	int64_t last_commit_time; /* HEAD's commit time; -1 = no commit or unknown */

	bool has_snapshot_run, has_restore, has_verify, has_error, has_check, has_push;
	struct event snapshot_run; /* the last `statefs snapshot` run, written or not */
	struct event restore, verify, error;
	struct event check, push; /* the last config check and push to the remote (daemon) */

	char problems[STATUS_PROBLEMS_MAX][256]; /* facts that could not be found out, and why */
	size_t nproblems;
};

struct status_cache;

/* A cache for repeated gathering (the daemon's metrics). NULL when out of memory. */
struct status_cache *status_cache_new(void);
void status_cache_free(struct status_cache *c);

struct status_opts {
	bool skip_mount; /* the caller is the mount: do not look at mountinfo, say mounted */
	struct status_cache *cache; /* NULL: none (the verb runs once) */
};

/*
 * Gather the facts about the statefs of @tab. @o may be NULL. 0 (unknown facts are named in
 * st->problems), or -ENOMEM with a message. The strings st->config and st->state_dir point
 * into @tab.
 */
int status_gather(const struct mtab *tab, const struct status_opts *o, struct status *st, char *err,
		  size_t errlen);

/*
 * Is a statefs mount of @config in @mountinfo (the text of /proc/self/mountinfo)? Copies its
 * mount point (unescaped) into @mnt. A source that names the same file by another absolute
 * path (a symlink, "..") matches too.
 */
bool status_find_mount(const char *mountinfo, const char *config, char *mnt, size_t mntlen);

/* The facts for people: a few aligned lines. 0 or -errno (a write error on @f). */
int status_write_text(const struct status *st, FILE *f);

/* The facts as one JSON object (json.h): 0 and a malloc'd text, or -ENOMEM. */
int status_format_json(const struct status *st, char **out, size_t *len);

/*
 * The facts as Prometheus text (prom.h): statefs_up (1 when @up), statefs_snapshots,
 * statefs_last_snapshot_*, statefs_store_bytes, statefs_dedup_ratio, statefs_commits_today,
 * statefs_last_restore_*, statefs_last_verify_*, ... Unknown facts are left out. 0 and a
 * malloc'd text, or -ENOMEM.
 */
int status_format_prom(const struct status *st, bool up, char **out, size_t *len);

#endif
