/*
 * store.c - the chunk store's layout, names and lifetime: open/close, hashes and paths, the
 * atomic write every stored file goes through, and the cleanup of temp files.
 *
 * What a newcomer must know: a name in the store appears only by rename() of a complete,
 * fsynced temp file ("tmp.*", same directory), so a name never points at a partial file
 * whatever fails; chunks go into packs (store_pack.c) that become durable in store_flush()
 * (store_put.c), which a caller runs before it writes a manifest naming the chunks. Every write
 * goes through struct store_io so tests can make it fail. Reading is in store_read.c.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void store_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The default I/O: the system calls themselves (openat is variadic, so it needs a wrapper). */
static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct store_io store_io_default = {
    .openat = sys_openat,
    .write = write,
    .fsync = fsync,
    .renameat = renameat,
    .unlinkat = unlinkat,
};

int store_hash_data(const void *data, size_t len, struct store_hash *out)
{
	unsigned int n = 0;

	/* It allocates a context, which is all that can fail here. */
	if (!EVP_Digest(data, len, out->b, &n, EVP_sha256(), NULL) || n != STORE_HASH_LEN)
		return -ENOMEM;
	return 0;
}

void store_hash_hex(const struct store_hash *h, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < STORE_HASH_LEN; i++) {
		hex[2 * i] = digits[h->b[i] >> 4];
		hex[2 * i + 1] = digits[h->b[i] & 15];
	}
	hex[STORE_HEX_LEN] = '\0';
}

/* Each lowercase hex digit's value plus one (0: not a lowercase hex digit). */
static const uint8_t hexv[256] = {
    ['0'] = 1,	['1'] = 2,  ['2'] = 3,	['3'] = 4,  ['4'] = 5,	['5'] = 6,
    ['6'] = 7,	['7'] = 8,  ['8'] = 9,	['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int store_hash_parse(const char *hex, struct store_hash *out)
{
	for (int i = 0; i < STORE_HASH_LEN; i++) {
		unsigned hi = hexv[(unsigned char)hex[2 * i]], lo;

		/* (A NUL stops it: what follows it is not read.) */
		if (!hi || !(lo = hexv[(unsigned char)hex[2 * i + 1]]))
			return -EINVAL;
		out->b[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return 0;
}

void store_chunk_name(const struct store_hash *h, char *buf, size_t buflen)
{
	char hex[STORE_HEX_LEN + 1];

	store_hash_hex(h, hex);
	snprintf(buf, buflen, "chunk %.16s", hex);
}

bool store_has(struct store *s, const struct store_hash *h)
{
	struct ixloc e;

	return store_index_find(s, h, &e);
}

int store_write_all(const struct store_io *io, int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = io->write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write @len bytes as @dir/@name (relative to the store) through a fsynced temp file in @dir.
 * On failure nothing named @name was created and the temp file is gone.
 */
int store_write_atomic(struct store *s, const char *dir, const char *name, const void *buf,
		       size_t len, char *err, size_t errlen)
{
	const struct store_io *io = s->io;
	char tmp[256], dst[256];
	const char *what = "creating";
	unsigned long seq;
	int fd = -1, ret;

	pthread_mutex_lock(&s->lock);
	seq = ++s->tmp_seq;
	pthread_mutex_unlock(&s->lock);
	snprintf(tmp, sizeof(tmp), "%s/tmp.%.16s.%ld.%lu", dir, name, (long)getpid(), seq);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	fd = io->openat(s->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out_msg;
	}
	what = "writing";
	ret = store_write_all(io, fd, buf, len);
	if (ret)
		goto out_unlink;
	what = "syncing";
	if (io->fsync(fd) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out_unlink;
	}
	fd = -1;
	what = "renaming";
	if (io->renameat(s->fd, tmp, s->fd, dst) < 0) {
		ret = -errno;
		goto out_unlink;
	}
	return 0;
out_unlink:
	if (fd >= 0)
		close(fd);
	io->unlinkat(s->fd, tmp, 0);
out_msg:
	store_msg(err, errlen, "store: %s %s: %s", what, dst, strerror(-ret));
	return ret;
}

int store_fsync_dir(struct store *s, const char *rel, char *err, size_t errlen)
{
	int fd = s->io->openat(s->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0 || s->io->fsync(fd) < 0) {
		ret = -errno;
		store_msg(err, errlen, "store: syncing directory %s: %s", rel, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

DIR *store_open_subdir(struct store *s, const char *rel)
{
	int fd = openat(s->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (!dir)
		close(fd);
	return dir;
}

#define ORPHAN_AGE (24 * 3600) /* a temp file without a pid in its name is stale after this */

/*
 * The writer's pid in a temp file name: "tmp.NAME.PID" or "tmp.NAME.PID.SEQ" (NAME holds no
 * dot), as store_write_atomic and manifest_write make them; 0 if there is none.
 */
static pid_t tmp_pid(const char *name)
{
	const char *p = strchr(name + 4, '.');
	long long v = 0;

	if (!p || p[1] < '1' || p[1] > '9')
		return 0;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > 0x7fffffff)
			return 0;
	}
	return *p == '.' || !*p ? (pid_t)v : 0;
}

/* Is the temp file @name (with @st) left by a writer that is gone? */
static bool orphan(const char *name, const struct stat *st, time_t now)
{
	pid_t pid = tmp_pid(name);

	if (!pid)
		return now - st->st_mtime >= ORPHAN_AGE;
	return pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

/* min_age < 0: remove orphans only (see orphan()). */
static int cleanup_dir(struct store *s, const char *rel, time_t now, long min_age,
		       unsigned *removed)
{
	DIR *dir = store_open_subdir(s, rel);
	struct dirent *de;
	int ret = 0;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		char path[300];
		struct stat st;

		if (strncmp(de->d_name, "tmp.", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", rel, de->d_name);
		if (fstatat(s->fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (min_age < 0 ? !orphan(de->d_name, &st, now)
				: min_age && now - st.st_mtime < (time_t)min_age)
			continue;
		if (s->io->unlinkat(s->fd, path, 0) == 0)
			(*removed)++;
		else if (errno != ENOENT && !ret)
			ret = -errno;
	}
	closedir(dir);
	return ret;
}

static int cleanup(struct store *s, long min_age, unsigned *removed, char *err, size_t errlen)
{
	time_t now = time(NULL);
	unsigned count = 0;
	char rel[16];
	int ret = 0;

	for (unsigned i = 0; i < 3; i++) {
		static const char *const dirs[] = {"packs", "dicts", "snapshots"};
		int r;

		snprintf(rel, sizeof(rel), "%s", dirs[i]);
		r = cleanup_dir(s, rel, now, min_age, &count);
		if (r && !ret) {
			ret = r;
			store_msg(err, errlen, "store: cleaning %s: %s", rel, strerror(-r));
		}
	}
	if (removed)
		*removed = count;
	return ret;
}

int store_cleanup_tmp(struct store *s, unsigned min_age, unsigned *removed, char *err,
		      size_t errlen)
{
	return cleanup(s, (long)min_age, removed, err, errlen);
}

int store_cleanup_orphans(struct store *s, unsigned *removed, char *err, size_t errlen)
{
	return cleanup(s, -1, removed, err, errlen);
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}

/* mkdirat 0700 unless it exists; sets *made when it created it. */
static int make_dir(int dirfd, const char *rel, bool *made)
{
	if (mkdirat(dirfd, rel, 0700) == 0) {
		*made = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int make_layout(struct store *s, const char *state_dir, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"packs", "dicts", "snapshots"};
	bool made_top = false, made_store = false;
	int sfd, ret;
	char rel[16];

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		store_msg(err, errlen, "store: creating %s: %s", state_dir, strerror(errno));
		return ret;
	}
	sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		ret = -errno;
		store_msg(err, errlen, "store: opening %s: %s", state_dir, strerror(errno));
		return ret;
	}
	ret = make_dir(sfd, "store", &made_top);
	if (!ret)
		s->fd = openat(sfd, "store", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (!ret && s->fd < 0)
		ret = -errno;
	snprintf(rel, sizeof(rel), "store");
	for (unsigned i = 0; !ret && i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s", subdirs[i]);
		ret = make_dir(s->fd, rel, &made_store);
	}
	if (ret) {
		store_msg(err, errlen, "store: creating %s/store/%s: %s", state_dir, rel,
			  strerror(-ret));
		goto out;
	}
	/* New directory names must survive a crash before any chunk relies on them. */
	if ((made_top && fsync(sfd) < 0) || (made_store && fsync(s->fd) < 0)) {
		ret = -EIO;
		store_msg(err, errlen, "store: syncing %s/store: %s", state_dir, strerror(errno));
	}
out:
	close(sfd);
	return ret;
}

int store_open(const char *state_dir, const struct store_opts *opts, struct store **out, char *err,
	       size_t errlen)
{
	static const struct store_opts defaults;
	struct store *s;
	int ret;

	if (!opts)
		opts = &defaults;
	s = calloc(1, sizeof(*s));
	if (!s) {
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	s->fd = -1;
	s->readonly = opts->readonly;
	s->lean = opts->lean;
	s->level = opts->level ? opts->level : STORE_LEVEL_DEFAULT;
	s->io = opts->io ? opts->io : &store_io_default;
	s->op.no = PACK_NONE;
	s->op.idx_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->plock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_mutex_init(&s->olock, NULL);
	pthread_cond_init(&s->ocv, NULL);
	pthread_rwlock_init(&s->ixlock, NULL);
	pthread_cond_init(&s->cv_job, NULL);
	pthread_cond_init(&s->cv_space, NULL);
	pthread_cond_init(&s->cv_idle, NULL);
	if (s->lean && !s->readonly) {
		ret = -EINVAL;
		store_msg(err, errlen, "store: a lean index is for a read-only store");
		goto fail;
	}
	if (s->readonly) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/store", state_dir);
		s->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->fd < 0) {
			ret = -errno;
			store_msg(err, errlen, "store: opening %s: %s", path, strerror(errno));
			goto fail;
		}
		ret = store_index_load(s, err, errlen);
		if (ret)
			goto fail;
		*out = s;
		return 0;
	}
	ret = make_layout(s, state_dir, err, errlen);
	if (!ret)
		ret = store_index_load(s, err, errlen);
	if (ret)
		goto fail;
	ret = store_pool_start(s, opts->threads, opts->queue, err, errlen);
	if (ret)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_pool_stop(s);
	if (s->op.no != PACK_NONE && store_pack_finish(s, NULL, 0))
		store_pack_abandon(s);
	store_index_free(s);
	store_dicts_free(s);
	if (s->fd >= 0)
		close(s->fd);
	pthread_cond_destroy(&s->cv_job);
	pthread_cond_destroy(&s->cv_space);
	pthread_cond_destroy(&s->cv_idle);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->plock);
	pthread_mutex_destroy(&s->rlock);
	pthread_mutex_destroy(&s->olock);
	pthread_cond_destroy(&s->ocv);
	pthread_rwlock_destroy(&s->ixlock);
	free(s);
}
