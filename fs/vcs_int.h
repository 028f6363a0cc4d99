/*
 * vcs_int.h - what the files of the versioning module share; not an interface for others.
 */
#ifndef STATEFS_VCS_INT_H
#define STATEFS_VCS_INT_H

#include <git2.h>
#include <pthread.h>
#include <stdint.h>

#include "fs/meta.h"
#include "fs/vcs.h"
#include "fs/vhooks.h"
#include "fs/vqueue.h"
#include "fs/vremote.h"

/* One changed path of the commit being made: 'A'dd, 'M'odify, 'D'elete, 'T' mode or owner. */
struct vcs_change {
	char *path;
	char what;
	git_oid oid; /* the blob, for A and D: pairs them into renames */
};

struct vcs {
	const struct mtab *tab;
	struct vcs_options opt;
	git_repository *repo;
	git_index *index;
	struct meta meta;
	int *base; /* base directory of each versioned mount, -1 for others */
	git_oid head;
	int has_head;
	git_oid head_tree;

	pthread_t thread;
	int running, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* notes arrived, or stop */
	pthread_cond_t done_cond; /* seq_done moved */
	struct vq q;
	int writers;
	uint64_t seq_done;

	struct vcs_change *chg;
	size_t nchg, capchg;
	unsigned commits_since_pack;
	int lock_fd; /* flock on config.git/statefs.lock: one writer of the repository */
	dev_t state_dev; /* the state directory: never versioned, even under a source */
	ino_t state_ino;
	/* New objects gather in memory and go to disk as one pack per commit (one fsync of
	 * a pack instead of two per loose object); vpack merges the small packs. */
	git_odb_backend *mempack;
	char **small_packs; /* "pack-<hex>" written since the last merge */
	size_t nsmall;
	char host[64];
	struct vhooks *hooks;   /* checks after commits; NULL until vcs_start */
	struct vremote *remote; /* pushes after commits; NULL without [remote] */
};

/* A growing string; on ENOMEM it stays as it was, oom is set and the caller fails. */
struct vcs_sbuf {
	char *s;
	size_t len, cap;
	int oom;
};

void vcs_sbprintf(struct vcs_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* vstatus.c: one record of STATE_DIR/status/last-KIND (and last-error when !ok). */
struct vstatus {
	const char *kind; /* "check", "push" */
	int64_t time;     /* when it ended, seconds since the epoch */
	int ok;
	int64_t duration_ms; /* -1: unknown */
	const char *what, *message;
	const char *extra; /* more "key value\n" lines, values escaped with vstatus_escape */
};

int vstatus_write(const char *state_dir, const struct vstatus *st);
/* @in as an event value: bytes below 0x20, DEL and backslash as \ooo; cut to fit @size. */
void vstatus_escape(const char *in, char *out, size_t size);

/* vscan.c: bring the index and the metadata of @path (and below it if @recursive) in line with
 * what is on disk, recording each difference in v->chg. 0 or -errno. */
int vscan_path(struct vcs *v, const char *path, int recursive);

/* vcommit.c: commit the index if its tree differs from HEAD's. 1 = committed, 0 = nothing to
 * commit, -errno on failure. */
int vcommit(struct vcs *v, const struct vcs_who *who, const char *how);
void vcs_changes_clear(struct vcs *v);

/* vpack.c: write what the commit put in memory as one pack (durable before the ref moves).
 * 0 or -errno; the memory is emptied either way. */
int vpack_write_pending(struct vcs *v);
/* vpack.c: drop what is in memory (nothing was committed). */
void vpack_discard_pending(struct vcs *v);
/* vpack.c: merge the small packs (and loose objects) into one. 0 or -errno. */
int vpack(struct vcs *v);

/* Log through fuse_log with a "statefs: " prefix. */
void vcs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
