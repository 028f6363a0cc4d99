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
#include <sys/uio.h>
#include <unistd.h>

struct backups_store {
	char *state_dir;
	pthread_mutex_t lock;
	int fd;			  /* STATE_DIR/store, O_PATH; -1 until needed */
	struct store *store;	  /* read-only; NULL until needed */
	long readers;		  /* files of snapshots open */
	struct store_lock *guard; /* store.lock shared while readers > 0 */
	unsigned long warmed;	  /* frames hinted by backups_store_warm_range (atomic) */
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

/*
 * The read-only store, opened on first use (and again on the next use if that failed). Lean
 * (store.h): every chunk backups/ asks for is named by a manifest, and what it reads is either
 * checked (store_get hashes the content) or a dump's frames served as they are.
 */
static int reader(struct backups_store *s, struct store **out, char *err, size_t errlen)
{
	struct store_opts o = {.readonly = true, .lean = true};
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->store)
		ret = store_open(s->state_dir, &o, &s->store, err, errlen);
	*out = s->store;
	pthread_mutex_unlock(&s->lock);
	return ret;
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

unsigned long backups_store_warmed(struct backups_store *s)
{
	return __atomic_load_n(&s->warmed, __ATOMIC_RELAXED);
}

void backups_store_warm_range(struct backups_store *s, const struct store_hash *h, uint64_t len,
			      size_t frames)
{
	struct store_loc loc;
	struct store *st;
	int fd;

	/* As above: the descriptor is only used for a hint. */
	if (!reader(s, &st, NULL, 0) && !store_pack_fd(st, h, &fd, &loc) &&
	    !posix_fadvise(fd, (off_t)loc.off, (off_t)(len + (len >> 3)), POSIX_FADV_WILLNEED))
		__atomic_add_fetch(&s->warmed, frames, __ATOMIC_RELAXED);
}

void backups_frames_init(struct backups_frames *f, struct backups_store *s)
{
	f->s = s;
	f->st = NULL;
	f->npacks = 0;
	f->n = 0;
}

void backups_frames_done(struct backups_frames *f)
{
	for (unsigned i = 0; i < f->npacks; i++)
		close(f->packs[i].fd);
	f->npacks = 0;
	f->n = 0;
}

/* Log @ret (with @err if set) and turn a missing chunk into -EIO. */
static int frames_error(int ret, const char *err)
{
	if (ret != -ENOMEM)
		fuse_log(FUSE_LOG_ERR, "backups: %s\n", err[0] ? err : strerror(-ret));
	return ret == -ENOENT ? -EIO : ret; /* named by a manifest, so the store is damaged */
}

/* The index in @f->packs of pack @name, or @f->npacks if it is not open. */
static unsigned find_pack(const struct backups_frames *f, const char *name)
{
	unsigned i = 0;

	while (i < f->npacks && strcmp(f->packs[i].name, name))
		i++;
	return i;
}

/* Have pack @name open in @f->packs (there is room): *i its index. 0 or -errno. */
static int open_pack(struct backups_frames *f, const char *name, unsigned *i)
{
	char rel[40];
	int dfd, fd;

	*i = find_pack(f, name);
	if (*i < f->npacks)
		return 0;
	dfd = dir_fd(f->s);
	if (dfd < 0)
		return dfd;
	snprintf(rel, sizeof(rel), "packs/%s.pack", name);
	fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	f->packs[*i].fd = fd;
	snprintf(f->packs[*i].name, sizeof(f->packs[*i].name), "%s", name);
	f->npacks++;
	return 0;
}

static int by_place(const void *a, const void *b)
{
	const struct backups_piece *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * Read pieces @v[0..n), which lie back to back in one pack, with one preadv (more if it comes
 * back short). 0 or -errno (logged).
 */
static int read_run(struct backups_frames *f, const struct backups_piece *v, size_t n)
{
	struct iovec iov[BACKUPS_FRAMES_PIECES], *p = iov, *end = iov + n;
	int fd = f->packs[v[0].pack].fd, err = 0;
	uint64_t at = v[0].at;
	char name[40];

	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){.iov_base = v[i].buf, .iov_len = v[i].len};
	while (p < end) {
		ssize_t got = preadv(fd, p, (int)(end - p), (off_t)at);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? errno : 0;
			break;
		}
		at += (uint64_t)got;
		for (; p < end && (size_t)got >= p->iov_len; p++)
			got -= (ssize_t)p->iov_len;
		if (p < end) {
			p->iov_base = (char *)p->iov_base + got;
			p->iov_len -= (size_t)got;
		}
	}
	if (p == end)
		return 0;
	store_chunk_name(&v[p - iov].h, name, sizeof(name));
	fuse_log(FUSE_LOG_ERR, "backups: store: reading %s in pack %s: %s\n", name,
		 f->packs[v[0].pack].name, err ? strerror(err) : "cut short");
	return err ? -err : -EIO;
}

int backups_frames_flush(struct backups_frames *f)
{
	struct backups_piece *v = f->v;
	size_t n = f->n, i = 0;
	int ret = 0;

	f->n = 0;
	qsort(v, n, sizeof(*v), by_place);
	while (i < n && !ret) {
		size_t j = i + 1;

		while (j < n && v[j].pack == v[i].pack && v[j].at == v[j - 1].at + v[j - 1].len)
			j++;
		ret = read_run(f, v + i, j - i);
		i = j;
	}
	return ret;
}

int backups_frames_read(struct backups_frames *f, const struct store_hash *h, uint64_t zlen,
			char *buf, size_t len, uint64_t off)
{
	struct store_loc loc = {.pack = ""};
	char err[512] = "", name[40];
	unsigned pack = 0;
	int ret;

	if (!f->st) {
		ret = reader(f->s, &f->st, err, sizeof(err));
		if (ret)
			return frames_error(ret, err);
	}
	ret = store_stat(f->st, h, &loc);
	if (f->n == BACKUPS_FRAMES_PIECES ||
	    (f->npacks == BACKUPS_FRAMES_PACKS && (ret || find_pack(f, loc.pack) == f->npacks))) {
		int r = backups_frames_flush(f); /* make room */

		if (r)
			return r;
		if (f->npacks == BACKUPS_FRAMES_PACKS)
			backups_frames_done(f);
	}
	for (int pass = 0;; pass++) {
		if (!ret)
			ret = open_pack(f, loc.pack, &pack);
		if (ret != -ENOENT || pass)
			break;
		store_refresh(f->st); /* its pack went in a sweep: the chunk may be in a new one */
		ret = store_stat(f->st, h, &loc);
	}
	if (ret) {
		store_chunk_name(h, name, sizeof(name));
		if (ret == -ENOENT)
			snprintf(err, sizeof(err), "store: %s is missing", name);
		else
			snprintf(err, sizeof(err), "store: opening pack %s of %s: %s", loc.pack,
				 name, strerror(-ret));
		return frames_error(ret, err);
	}
	if (loc.zlen != zlen || off > zlen || len > zlen - off) {
		store_chunk_name(h, name, sizeof(name));
		snprintf(err, sizeof(err), "store: %s in pack %s is %llu bytes, not %llu", name,
			 loc.pack, (unsigned long long)loc.zlen, (unsigned long long)zlen);
		return frames_error(-EIO, err);
	}
	f->v[f->n++] = (struct backups_piece){
	    .buf = buf, .len = len, .at = loc.off + off, .pack = pack, .h = *h};
	return 0;
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
		store_refresh(st);
}
