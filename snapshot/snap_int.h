/*
 * snap_int.h - what snap.c and snap_db.c share. Not an interface: snap.h is.
 */
#ifndef STATEFS_SNAP_INT_H
#define STATEFS_SNAP_INT_H

#include <limits.h>

#include "snapshot/snap.h"
#include "snapshot/uploads.h"

/* One snapshot being taken. */
struct snap_run {
	const struct mtab *tab;
	const struct snap_opts *o;
	struct snap_result *r;
	struct store *store;
	struct manifest *m;
	char tmpdir[PATH_MAX]; /* the dumper's spool directory (in the store: on disk) */
	int64_t t0_ns;	       /* when the snapshot began */
	uint64_t bytes_dumped; /* SQL bytes of every dump so far */
	struct uploads_stats up;
	char what[600]; /* the part being taken, for progress */
	bool oom;	/* a reason could not be recorded */
};

/* Warn about something left out and give the manifest a reason (printf-style). */
void snap_reason(struct snap_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tell the progress callback, if any, where things are. */
void snap_progress(struct snap_run *run);

/*
 * Dump @db into the store and, if the dump completes, add db/NAME.sql.zst to run->m. A dump
 * that fails is a reason (0 is returned); a negative errno means the snapshot must stop (a
 * store error such as -ENOSPC, or -ENOMEM), with a message in @err.
 */
int snap_database(struct snap_run *run, const struct mtab_database *db, char *err, size_t errlen);

#endif
