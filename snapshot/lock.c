/*
 * lock.c - the store's locks (see lock.h): flock on two files, with the holder's pid written
 * in snapshot.lock for the message a second snapshot prints.
 */
#include "snapshot/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct store_lock {
	int snap_fd;
	int store_fd;
};

static int open_lock(const char *state_dir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/store", state_dir);
	if (mkdir(state_dir, 0700) && errno != EEXIST)
		goto fail;
	if (mkdir(path, 0700) && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/store/%s", state_dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
fail:
	fd = -errno;
	snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	return fd;
}

static int take(int fd, int op, int wait)
{
	while (flock(fd, op | (wait ? 0 : LOCK_NB))) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int lock_take(const char *state_dir, enum lock_kind kind, int wait, struct store_lock **out,
	      char *err, size_t errlen)
{
	struct store_lock *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->snap_fd = -1;
	l->store_fd = -1;
	if (kind == LOCK_SNAPSHOT) {
		char pid[32] = "";
		ssize_t n;

		l->snap_fd = open_lock(state_dir, "snapshot.lock", err, errlen);
		if (l->snap_fd < 0) {
			r = l->snap_fd;
			goto fail;
		}
		r = take(l->snap_fd, LOCK_EX, wait);
		if (r) {
			n = pread(l->snap_fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			snprintf(err, errlen, "another snapshot is running (pid %s)",
				 pid[0] ? pid : "unknown");
			goto fail;
		}
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		/* the pid is only for messages: a failure to write it is no failure */
		if (ftruncate(l->snap_fd, 0) == 0 && pwrite(l->snap_fd, pid, strlen(pid), 0) < 0)
			pid[0] = '\0';
	}
	l->store_fd = open_lock(state_dir, "store.lock", err, errlen);
	if (l->store_fd < 0) {
		r = l->store_fd;
		goto fail;
	}
	r = take(l->store_fd, kind == LOCK_SWEEP ? LOCK_EX : LOCK_SH, wait);
	if (r) {
		snprintf(err, errlen, kind == LOCK_SWEEP ? "a snapshot or restore is writing to the store"
							 : "prune is sweeping the store");
		goto fail;
	}
	*out = l;
	return 0;
fail:
	lock_release(l);
	return r;
}

void lock_release(struct store_lock *l)
{
	if (!l)
		return;
	if (l->store_fd >= 0)
		close(l->store_fd);
	if (l->snap_fd >= 0)
		close(l->snap_fd);
	free(l);
}
