/*
 * check.h - prove the store whole: `statefs check [--read-data]`.
 *
 * check_run verifies, under the shared store lock (so that no prune sweeps meanwhile; snapshots
 * may run):
 *   - every manifest in store/snapshots parses (manifest_parse is strict);
 *   - every chunk a manifest names is in a pack's index, its frame there starts with a zstd
 *     frame header that records the manifest's length, and the dictionary that frame needs, if
 *     any, is in dicts/;
 *   - with read_data, every dictionary hashes to its name and every named chunk is read,
 *     decompressed and re-hashed (store_get).
 * Each chunk is checked once however many snapshots name it. Each damaged or missing chunk is
 * reported with the snapshots and paths that need it; stored chunks no manifest names are
 * reported as information (prune would remove them), not as errors. The report ends with a
 * one-line summary:
 *
 *     3 snapshots, 1,234 chunks checked: 1 damaged (chunk ab12cd34ef56ab12... needed by
 *     2026-11-24 db/x.sql.zst)
 *
 * (one line in the report). Incomplete snapshots are mentioned, but are no error: they were
 * recorded as such when taken.
 */
#ifndef STATEFS_CHECK_H
#define STATEFS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct check_opts {
	bool read_data; /* decompress and re-hash every chunk named */
	bool progress;	/* a progress line on stderr while it runs (for a terminal) */
	bool no_wait;	/* fail with -EWOULDBLOCK rather than wait for a running prune */
	FILE *out;	/* the report; NULL = none */
};

struct check_stats {
	size_t snapshots;	     /* manifests found */
	size_t snapshots_unreadable; /* that do not parse or cannot be read */
	size_t snapshots_incomplete; /* marked incomplete when taken (not an error) */
	uint64_t chunks;	     /* distinct chunks the readable manifests name */
	uint64_t missing;	     /* of them: absent, or the dictionary they need is */
	uint64_t damaged;	     /* of them: present but wrong */
	unsigned dicts;		     /* dictionaries in dicts/ */
	unsigned dicts_damaged;	     /* (read_data) whose content does not hash to their name */
	uint64_t unused;	     /* stored chunks no manifest names */
	uint64_t unused_bytes;
	uint64_t bytes_read; /* (read_data) plain bytes decompressed and re-hashed */
};

/*
 * Check the store of @state_dir, writing the report to opts->out. 0 if the check ran, whatever
 * it found (see check_clean); a negative errno with a message if it could not run (no store,
 * out of memory, ...). @st may be NULL.
 */
int check_run(const char *state_dir, const struct check_opts *opts, struct check_stats *st,
	      char *err, size_t errlen);

/* Did the check find nothing missing, damaged or unreadable? */
bool check_clean(const struct check_stats *st);

#endif
