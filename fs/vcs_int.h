/*
 * vcs_int.h - what the files of the versioning module share; not an interface for others.
 */
#ifndef STATEFS_VCS_INT_H
#define STATEFS_VCS_INT_H

#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

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

/* vcs_maint.c: the thread that runs the pack merges, each in a child process. */
struct vmaint {
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kicked, stop;
	pid_t child;	    /* the merge under way, 0 if none; under lock */
	char gitdir[PATH_MAX];
	atomic_uint merges; /* merges done: the committer reopens the repository when it moves */
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
	 * a pack instead of two per loose object); a child process merges the small packs. */
	git_odb_backend *pending;
	struct vmaint maint;
	unsigned repo_merges; /* maint.merges when v->repo was opened */
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

/* vpack.c: the in-memory object backend where a commit's new objects wait. 0 or -ENOMEM. */
int vpack_pending_new(git_odb_backend **out);
/* vpack.c: write what the commit put in memory as one pack (durable before the ref moves).
 * 0 or -errno; the memory is emptied either way. */
int vpack_write_pending(struct vcs *v);
/* vpack.c: drop what is in memory (nothing was committed). */
void vpack_discard_pending(struct vcs *v);
/* vpack.c: how many of the smallest packs (object counts @count, ascending, @n of them) a
 * geometric merge rolls up together with @nloose loose objects. */
size_t vpack_geometric_split(const uint32_t *count, size_t n, size_t nloose);

/* vcs_maint.c: start the maintenance thread (and a first merge, for what a crash left). */
int vmaint_start(struct vcs *v, char *err, size_t errlen);
/* vcs_maint.c: ask for a merge; never blocks (a merge under way is followed by another). */
void vmaint_kick(struct vcs *v);
/* vcs_maint.c: stop a merge under way (it is safe to) and the thread. */
void vmaint_stop(struct vcs *v);

/* vcs.c: the CLOCK_REALTIME time @ms milliseconds from now, for pthread_cond_timedwait. */
void vcs_deadline(struct timespec *ts, long ms);

/* Log through fuse_log with a "statefs: " prefix. */
void vcs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
