/*
 * backups_store.c - chunk files and the store's lock for backups/: one O_PATH descriptor of
 * STATE_DIR/store, a read-only store handle, and a count of open readers; one mutex for them.
 */
#include "fs/backups_store.h"
#include "snapshot/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct backups_store {
	char *state_dir;
	pthread_mutex_t lock;
	int fd;			  /* STATE_DIR/store, O_PATH; -1 until needed */
	struct store *store;	  /* read-only; NULL until needed */
	long readers;		  /* files of snapshots open */
	struct store_lock *guard; /* store.lock shared while readers > 0 */
};

int backups_store_new(const char *state_dir, struct backups_store **out)
{
	struct backups_store *s = calloc(1, sizeof(*s));

	if (!s || !(s->state_dir = strdup(state_dir))) {
		free(s);
		return -ENOMEM;
	}
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void backups_store_free(struct backups_store *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	lock_release(s->guard);
	store_close(s->store);
	pthread_mutex_destroy(&s->lock);
	free(s->state_dir);
	free(s);
}

/* STATE_DIR/store as an O_PATH descriptor, opened once. */
static int dir_fd(struct backups_store *s)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	if (s->fd < 0) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/store", s->state_dir);
		s->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	fd = s->fd < 0 ? -errno : s->fd;
	pthread_mutex_unlock(&s->lock);
	return fd;
}

int backups_store_open(struct backups_store *s, const struct store_hash *h)
{
	char rel[96];
	int dfd = dir_fd(s), fd;

	if (dfd < 0)
		return dfd;
	store_chunk_relpath(h, rel, sizeof(rel));
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int backups_store_size(struct backups_store *s, const struct store_hash *h, uint64_t *size)
{
	char rel[96];
	struct stat st;
	int dfd = dir_fd(s);

	if (dfd < 0)
		return dfd;
	store_chunk_relpath(h, rel, sizeof(rel));
	if (fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

int backups_store_get(struct backups_store *s, const struct store_hash *h, void **out, size_t *len)
{
	struct store_opts o = {.readonly = true};
	struct store *st;
	char err[512] = "";
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->store)
		ret = store_open(s->state_dir, &o, &s->store, err, sizeof(err));
	st = s->store;
	pthread_mutex_unlock(&s->lock);
	if (!ret)
		ret = store_get(st, h, out, len, err, sizeof(err));
	if (ret && ret != -ENOMEM)
		fuse_log(FUSE_LOG_ERR, "backups: %s\n", err[0] ? err : strerror(-ret));
	return ret;
}

void backups_store_readers(struct backups_store *s, int delta)
{
	char err[256];

	pthread_mutex_lock(&s->lock);
	s->readers += delta;
	if (s->readers > 0 && !s->guard &&
	    lock_take(s->state_dir, LOCK_WRITER, 0, &s->guard, err, sizeof(err)))
		s->guard = NULL; /* a sweep runs now: go on without */
	if (s->readers <= 0 && s->guard) {
		lock_release(s->guard);
		s->guard = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}
