/*
 * vqueue.h - the coalescing of change notes into saves: which notes make one commit, and when.
 *
 * Pure logic, no threads and no clock of its own (the caller passes the time), so the rules
 * are unit-tested: notes gather until no note came for a quiet window (and no writer is still
 * open, up to a maximum delay); then they are taken as groups, one group per writer (uid and
 * program), each group one commit. External notes (inotify, start-up) form a last group; an
 * external note of a path a writer also touched is dropped, being only the echo of that write.
 */
#ifndef STATEFS_VQUEUE_H
#define STATEFS_VQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/vcs.h"

struct vq_note {
	char *path;
	int recursive;
};

struct vq_group {
	struct vcs_who who;
	struct vq_note *notes;
	size_t n, cap;
};

struct vq {
	struct vq_group *groups;
	size_t ngroups, cap;
	uint64_t first_ms, last_ms; /* when the first and the latest pending note came */
	uint64_t seq_pushed;        /* notes ever pushed */
};

void vq_init(struct vq *q);
void vq_free(struct vq *q);

/* Add a note. 0 or -ENOMEM. */
int vq_push(struct vq *q, const char *path, int recursive, const struct vcs_who *who,
	    uint64_t now_ms);

/*
 * How long to wait before the pending notes make a save: 0 = take them now; -1 = nothing is
 * pending; otherwise milliseconds. @writers: handles still open for writing.
 */
long vq_wait_ms(const struct vq *q, uint64_t now_ms, unsigned quiet_ms, unsigned max_delay_ms,
		int writers);

/*
 * Move every pending note out into *groups (*ngroups of them, writers first, external last,
 * echoes removed, duplicate paths merged); the queue is left empty. Free with vq_groups_free.
 */
int vq_take(struct vq *q, struct vq_group **groups, size_t *ngroups);
void vq_groups_free(struct vq_group *groups, size_t n);

#endif
