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
#include "fs/vqueue.h"

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
	char host[64];
};

/* vscan.c: bring the index and the metadata of @path (and below it if @recursive) in line with
 * what is on disk, recording each difference in v->chg. 0 or -errno. */
int vscan_path(struct vcs *v, const char *path, int recursive);

/* vcommit.c: commit the index if its tree differs from HEAD's. 1 = committed, 0 = nothing to
 * commit, -errno on failure. */
int vcommit(struct vcs *v, const struct vcs_who *who, const char *how);
void vcs_changes_clear(struct vcs *v);

/* vpack.c: pack loose objects, deleting the loose copies. 0 or -errno. */
int vpack(struct vcs *v);

/* Log through fuse_log with a "statefs: " prefix. */
void vcs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
