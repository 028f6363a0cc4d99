/*
 * prune.h - apply the retention policy to the snapshots, then sweep what no snapshot needs.
 *
 * prune_run, in this order:
 *   1. takes the sweep lock (lock.h: store.lock exclusive), waiting while a snapshot or a
 *      restore writes to the store: a snapshot holds store.lock shared from before its first
 *      chunk until its manifest is in, so the sweep never sees a half-made snapshot's chunks;
 *   2. reads every manifest (time, complete or not) and decides with retention.h;
 *   3. removes the manifests not kept (unlink, then fsync of snapshots/ before any chunk goes,
 *      so that a crash cannot leave a manifest whose chunks are gone);
 *   4. sweeps: collects every chunk named by every manifest left, and removes
 *      - chunks no manifest names (store_sweep: a pack at least PRUNE_MIN_DEAD percent dead is
 *        rewritten without them, one with nothing live goes whole; dead chunks in other
 *        packs stay until enough of their pack is dead, and are reported),
 *      - dictionaries no remaining chunk's zstd frame needs (read from the frame headers),
 *      - temp files ("tmp.*") older than tmp_age, left by a crash.
 * A manifest that cannot be read is kept, and stops the sweep (nothing is then swept: the
 * chunks it names cannot be known); prune_run then fails with a message after step 3.
 *
 * With dry_run nothing is changed: the same report says what would be removed (and the sweep
 * is computed as if the manifests had been removed).
 */
#ifndef STATEFS_PRUNE_H
#define STATEFS_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "snapshot/retention.h"

#define PRUNE_TMP_AGE 3600 /* seconds: temp files older than this are a crash's leftovers */
#define PRUNE_MIN_DEAD 10  /* percent of a pack dead before it is rewritten (restic: 5) */

struct prune_opts {
	struct retention_policy policy;
	bool dry_run;
	bool no_wait;	  /* fail with -EWOULDBLOCK rather than wait for a snapshot */
	unsigned tmp_age; /* seconds; 0 = PRUNE_TMP_AGE */
	FILE *out;	  /* the report: a line per snapshot, then a summary; NULL = none */
};

struct prune_stats {
	size_t snapshots;	  /* manifests found */
	size_t snapshots_removed; /* (dry run: that would be) */
	uint64_t chunks;	  /* chunks stored */
	uint64_t chunks_removed;
	uint64_t bytes_removed; /* of the chunks, packs, dictionaries and temp files removed */
	uint64_t chunks_kept_dead; /* unneeded, but in packs not worth rewriting yet */
	uint64_t bytes_kept_dead;
	unsigned packs_rewritten;
	unsigned packs_removed;
	unsigned dicts_removed;
	unsigned tmp_removed;
	bool swept; /* the sweep ran (false: a manifest could not be read, or an error) */
};

/*
 * Prune the store of @state_dir as described above, writing the report to opts->out.
 * 0, or a negative errno with a message for the operator (what was done by then stays done:
 * every step leaves the store consistent). @st may be NULL.
 */
int prune_run(const char *state_dir, const struct prune_opts *opts, struct prune_stats *st,
	      char *err, size_t errlen);

#endif
