/*
 * backups_store.c - the chunk store and its lock for backups/: one read-only struct store
 * (chunks, and where their frames are), one O_PATH descriptor of STATE_DIR/store (to open packs
 * for a dump's frames), and a count of open readers; one mutex for them.
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

/* The read-only store, opened on first use (and again on the next use if that failed). */
static int reader(struct backups_store *s, struct store **out, char *err, size_t errlen)
{
	struct store_opts o = {.readonly = true};
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->store)
		ret = store_open(s->state_dir, &o, &s->store, err, errlen);
	*out = s->store;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/*
 * Have the store look at packs/ again if it changed since it last did (a sweep rewrote packs
 * while we had a chunk's old place).
 */
static void look_again(struct store *st)
{
	store_refresh(st);
}

int backups_store_zlen(struct backups_store *s, const struct store_hash *h, uint64_t *zlen)
{
	struct store_loc loc;
	struct store *st;
	char err[512] = "", name[40];
	int ret;

	ret = reader(s, &st, err, sizeof(err));
	if (!ret)
		ret = store_stat(st, h, &loc);
	if (!ret) {
		*zlen = loc.zlen;
		return 0;
	}
	store_chunk_name(h, name, sizeof(name));
	if (ret == -ENOENT)
		snprintf(err, sizeof(err), "store: %s is missing", name);
	if (ret != -ENOMEM)
		fuse_log(FUSE_LOG_ERR, "backups: %s\n", err[0] ? err : strerror(-ret));
	return ret == -ENOENT ? -EIO : ret; /* named by a manifest, so the store is damaged */
}

int backups_store_get(struct backups_store *s, const struct store_hash *h, void **out, size_t *len)
{
	struct store *st;
	char err[512] = "";
	int ret;

	ret = reader(s, &st, err, sizeof(err));
	if (!ret)
		ret = store_get(st, h, out, len, err, sizeof(err));
	if (ret && ret != -ENOMEM)
		fuse_log(FUSE_LOG_ERR, "backups: %s\n", err[0] ? err : strerror(-ret));
	return ret == -ENOENT ? -EIO : ret; /* named by a manifest, so the store is damaged */
}

void backups_store_warm(struct backups_store *s, const struct store_hash *h)
{
	struct store_loc loc;
	struct store *st;
	int fd;

	/*
	 * The descriptor is the store's: a reload of its index on another thread may close it
	 * meanwhile, and then this hint goes nowhere (EBADF) or to whatever file took the number.
	 * Either is harmless for a hint; nothing is read through it here.
	 */
	if (!reader(s, &st, NULL, 0) && !store_pack_fd(st, h, &fd, &loc))
		posix_fadvise(fd, (off_t)loc.off, (off_t)loc.zlen, POSIX_FADV_WILLNEED);
}

void backups_frames_init(struct backups_frames *f, struct backups_store *s)
{
	f->s = s;
	f->pack[0] = '\0';
	f->fd = -1;
}

void backups_frames_done(struct backups_frames *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->pack[0] = '\0';
}

/* Have @f->fd read pack @pack (the one it reads already, or opened now). 0 or -errno. */
static int open_pack(struct backups_frames *f, const char *pack)
{
	char rel[40];
	int dfd, fd;

	if (f->fd >= 0 && !strcmp(f->pack, pack))
		return 0;
	dfd = dir_fd(f->s);
	if (dfd < 0)
		return dfd;
	snprintf(rel, sizeof(rel), "packs/%s.pack", pack);
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	backups_frames_done(f);
	f->fd = fd;
	snprintf(f->pack, sizeof(f->pack), "%s", pack);
	return 0;
}

int backups_frames_read(struct backups_frames *f, const struct store_hash *h, uint64_t zlen,
			void *buf, size_t len, uint64_t off)
{
	char err[512] = "", name[40];
	struct store_loc loc = {.pack = ""};
	struct store *st;
	size_t got = 0;
	int ret;

	store_chunk_name(h, name, sizeof(name));
	ret = reader(f->s, &st, err, sizeof(err));
	if (ret)
		goto out;
	for (int pass = 0;; pass++) {
		ret = store_stat(st, h, &loc);
		if (!ret)
			ret = open_pack(f, loc.pack);
		if (ret != -ENOENT || pass)
			break;
		look_again(st); /* its pack went in a sweep: the chunk may be in a new one */
	}
	if (ret) {
		if (ret == -ENOENT)
			snprintf(err, sizeof(err), "store: %s is missing", name);
		else
			snprintf(err, sizeof(err), "store: opening pack %s of %s: %s", loc.pack,
				 name, strerror(-ret));
		goto out;
	}
	if (loc.zlen != zlen || off > zlen || len > zlen - off) {
		ret = -EIO;
		snprintf(err, sizeof(err), "store: %s in pack %s is %llu bytes, not %llu", name,
			 loc.pack, (unsigned long long)loc.zlen, (unsigned long long)zlen);
		goto out;
	}
	while (got < len) {
		ssize_t n =
		    pread(f->fd, (char *)buf + got, len - got, (off_t)(loc.off + off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			snprintf(err, sizeof(err), "store: reading %s in pack %s: %s", name,
				 loc.pack, n < 0 ? strerror(errno) : "cut short");
			goto out;
		}
		got += (size_t)n;
	}
out:
	if (ret && ret != -ENOMEM) {
		fuse_log(FUSE_LOG_ERR, "backups: %s\n", err[0] ? err : strerror(-ret));
		if (ret == -ENOENT)
			ret = -EIO; /* named by a manifest, so the store is damaged */
	}
	return ret;
}

void backups_store_readers(struct backups_store *s, int delta)
{
	struct store *st = NULL;
	char err[256];

	pthread_mutex_lock(&s->lock);
	s->readers += delta;
	if (s->readers > 0 && !s->guard) {
		if (lock_take(s->state_dir, LOCK_WRITER, 0, &s->guard, err, sizeof(err)))
			s->guard = NULL; /* a sweep runs now: go on without */
		else
			st = s->store;
	}
	if (s->readers <= 0 && s->guard) {
		lock_release(s->guard);
		s->guard = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	/*
	 * We just took the lock, so no sweep runs until the files are closed: have the store look
	 * at packs/ now, so that it finds chunks where they are and lets go of the packs a sweep
	 * removed since it last looked (an open descriptor keeps a removed file's disk space).
	 */
	if (st)
		look_again(st);
}
