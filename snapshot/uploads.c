/*
 * uploads.c - the uploads walker: a plain tree into a manifest, reusing what did not change.
 *
 * What a newcomer must know: every step down is openat(..., O_NOFOLLOW) relative to the
 * directory above, and a file is checked with fstat on the descriptor actually read, so an
 * entry replaced by a symlink (or a FIFO) between readdir and open is never followed (nor
 * blocked on). A file's chunks are collected first and its entry is added only once the
 * whole file was read, so a read error leaves no half entry. uploads.h has the contract.
 */
#include "snapshot/uploads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (256u * 1024)

struct chunk_ref {
	struct store_hash h;
	uint64_t len;
};

struct walk {
	const struct uploads_opts *o;
	struct manifest *m;
	struct uploads_stats *st;
	const char *prefix;
	char *path; /* the manifest path of the current entry */
	size_t plen, pcap;
	unsigned char *rbuf, *cbuf;
	struct chunk_ref *refs;
	size_t nrefs, refcap;
	struct chunker ch;
	unsigned reasons;    /* reason lines added for this tree */
	uint64_t unreported; /* problems past UPLOADS_REASONS_MAX */
	char *err;
	size_t errlen;
};

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int oom(struct walk *w)
{
	msg(w->err, w->errlen, "uploads: out of memory at %s", w->path);
	return -ENOMEM;
}

/* Append "/@name" to the current path; path_pop() takes it off again. */
static int path_push(struct walk *w, const char *name)
{
	size_t n = strlen(name), need = w->plen + 1 + n + 1;

	if (need > w->pcap) {
		size_t cap = w->pcap * 2 > need ? w->pcap * 2 : need;
		char *p = realloc(w->path, cap);

		if (!p)
			return oom(w);
		w->path = p;
		w->pcap = cap;
	}
	w->path[w->plen] = '/';
	memcpy(w->path + w->plen + 1, name, n + 1);
	w->plen += 1 + n;
	return 0;
}

static void path_pop(struct walk *w, size_t len)
{
	w->plen = len;
	w->path[len] = '\0';
}

static void warn(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct walk *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!w->o->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	w->o->warn(w->o->arg, buf);
}

/*
 * The current entry is left out because of @errnum while doing @what: warn, and give the
 * manifest a reason (the first UPLOADS_REASONS_MAX of this tree; the rest are counted).
 * 0, or -ENOMEM.
 */
static int problem(struct walk *w, int errnum, const char *what)
{
	const char *why = errnum ? strerror(errnum) : "";

	w->st->failed++;
	warn(w, "%s: %s%s%s, left out", w->path, what, errnum ? ": " : "", why);
	if (w->reasons >= UPLOADS_REASONS_MAX) {
		w->unreported++;
		return 0;
	}
	w->reasons++;
	if (manifest_add_reason(w->m, "%s: %s%s%s", w->path, what, errnum ? ": " : "", why))
		return oom(w);
	return 0;
}

/* Add the current path with @st (and @target for a symlink). -EINVAL is the entry's problem. */
static int add_entry(struct walk *w, const struct stat *st, const char *target,
		     struct manifest_entry **e)
{
	int ret = manifest_add_stat(w->m, w->path, st, target, e);

	if (ret == -EINVAL)
		return problem(w, 0, "cannot be recorded (an owner of -1?)") ?: 1;
	return ret == -ENOMEM ? oom(w) : ret;
}

/* Record the file from the previous snapshot if it did not change. 1 if so, 0 if not, -errno. */
static int try_reuse(struct walk *w, const struct stat *st)
{
	const struct manifest_entry *p;
	struct manifest_entry *e;
	int ret;

	if (!w->o->prev)
		return 0;
	p = manifest_find(w->o->prev, w->path);
	if (!p || p->type != 'f' || p->size != (uint64_t)st->st_size ||
	    p->mtime_ns != ns(st->st_mtim) || p->ctime_ns != ns(st->st_ctim) ||
	    p->ino != (uint64_t)st->st_ino)
		return 0;
	for (size_t i = 0; i < p->nchunks; i++)
		if (!p->chunks[i].zlen || !store_has(w->o->store, &p->chunks[i].hash))
			return 0; /* a chunk went missing: read the file again, which heals it */
	ret = add_entry(w, st, NULL, &e);
	if (ret)
		return ret < 0 ? ret : 1;
	for (size_t i = 0; i < p->nchunks; i++)
		if (manifest_add_chunk_z(e, &p->chunks[i].hash, p->chunks[i].len,
					 p->chunks[i].zlen))
			return oom(w);
	w->st->files++;
	w->st->files_reused++;
	w->st->bytes += e->size;
	return 1;
}

/* Put the @len bytes of w->cbuf in the store and remember the chunk. */
static int put_chunk(struct walk *w, size_t len)
{
	struct chunk_ref *r;
	int ret;

	if (w->nrefs == w->refcap) {
		size_t cap = w->refcap ? 2 * w->refcap : 64;

		r = reallocarray(w->refs, cap, sizeof(*r));
		if (!r)
			return oom(w);
		w->refs = r;
		w->refcap = cap;
	}
	r = &w->refs[w->nrefs];
	ret = store_put_async(w->o->store, w->cbuf, len, NULL, &r->h, w->err, w->errlen);
	if (ret < 0)
		return ret;
	r->len = len;
	w->nrefs++;
	if (w->o->progress)
		w->o->progress(w->o->arg, w->st);
	return 0;
}

/* Chunk what can be read from @fd. 0, 1 if a read failed (the file's problem), or -errno. */
static int chunk_fd(struct walk *w, int fd)
{
	size_t have = 0;
	int ret;

	chunker_reset(&w->ch);
	for (;;) {
		ssize_t n = read(fd, w->rbuf, READ_BUF);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return problem(w, errno, "reading") ?: 1;
		w->st->bytes_read += (uint64_t)n;
		while (off < (size_t)n || (n == 0 && have)) {
			bool cut = n == 0;
			size_t k =
			    n ? chunker_scan(&w->ch, w->rbuf + off, (size_t)n - off, &cut) : 0;

			memcpy(w->cbuf + have, w->rbuf + off, k);
			have += k;
			off += k;
			if (!cut)
				continue;
			ret = put_chunk(w, have);
			if (ret)
				return ret;
			have = 0;
		}
		if (n == 0)
			return 0;
	}
}

static int read_file(struct walk *w, int dfd, const char *name)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	struct manifest_entry *e;
	struct stat st;
	int fd, ret;

	fd = openat(dfd, name, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM) /* O_NOATIME needs the owner or CAP_FOWNER */
		fd = openat(dfd, name, flags);
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP ? 0 : problem(w, errno, "cannot open");
	if (fstat(fd, &st) < 0) {
		ret = problem(w, errno, "cannot stat");
		goto out;
	}
	ret = 0;
	if (!S_ISREG(st.st_mode))
		goto out; /* replaced since it was listed: the next snapshot sees what it is */
	w->nrefs = 0;
	ret = chunk_fd(w, fd);
	if (ret)
		goto out;
	ret = add_entry(w, &st, NULL, &e);
	if (ret)
		goto out;
	for (size_t i = 0; i < w->nrefs; i++) {
		if (manifest_add_chunk(e, &w->refs[i].h, w->refs[i].len)) {
			ret = oom(w);
			goto out;
		}
	}
	w->st->files++;
	w->st->files_read++;
	w->st->bytes += e->size;
out:
	close(fd);
	return ret < 0 ? ret : 0;
}

static int record_link(struct walk *w, int dfd, const char *name, const struct stat *st)
{
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	char *target = NULL;
	ssize_t n;
	int ret;

	for (;;) {
		char *t = realloc(target, cap);

		if (!t) {
			free(target);
			return oom(w);
		}
		target = t;
		n = readlinkat(dfd, name, target, cap);
		if (n < 0 || (size_t)n < cap)
			break;
		cap *= 2;
	}
	if (n <= 0) {
		ret = n < 0 && errno == ENOENT ? 0 : problem(w, n < 0 ? errno : 0, "cannot read");
		goto out;
	}
	target[n] = '\0';
	ret = add_entry(w, st, target, NULL);
	if (!ret)
		w->st->symlinks++;
out:
	free(target);
	return ret < 0 ? ret : 0;
}

static int walk_dir(struct walk *w, int fd, unsigned depth);

static int walk_subdir(struct walk *w, int dfd, const char *name, unsigned depth)
{
	struct stat st;
	int fd, ret;

	if (depth >= UPLOADS_DEPTH_MAX)
		return problem(w, 0, "too deep");
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP
			   ? 0
			   : problem(w, errno, "cannot open the directory");
	if (fstat(fd, &st) < 0) {
		ret = problem(w, errno, "cannot stat");
		close(fd);
		return ret;
	}
	ret = add_entry(w, &st, NULL, NULL);
	if (ret) {
		close(fd);
		return ret < 0 ? ret : 0;
	}
	w->st->dirs++;
	return walk_dir(w, fd, depth + 1);
}

static int walk_entry(struct walk *w, int dfd, const char *name, unsigned depth)
{
	const char *kind;
	struct stat st;
	int ret;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : problem(w, errno, "cannot stat");
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		return walk_subdir(w, dfd, name, depth);
	case S_IFREG:
		ret = try_reuse(w, &st);
		return ret ? (ret < 0 ? ret : 0) : read_file(w, dfd, name);
	case S_IFLNK:
		return record_link(w, dfd, name, &st);
	case S_IFSOCK:
		kind = "a socket";
		break;
	case S_IFIFO:
		kind = "a FIFO";
		break;
	default:
		kind = "a device";
		break;
	}
	w->st->skipped++;
	warn(w, "%s: %s, skipped", w->path, kind);
	return 0;
}

/* Record what is in the directory open at @fd (closed here), @depth levels down. */
static int walk_dir(struct walk *w, int fd, unsigned depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		ret = problem(w, errno, "cannot list");
		close(fd);
		return ret;
	}
	for (;;) {
		size_t len = w->plen;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				ret = problem(w, errno, "cannot list");
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ret = path_push(w, de->d_name);
		if (!ret)
			ret = walk_entry(w, dirfd(d), de->d_name, depth);
		path_pop(w, len);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

int uploads_record(const char *root, const char *prefix, const struct uploads_opts *o,
		   struct manifest *m, struct uploads_stats *st, char *err, size_t errlen)
{
	struct walk w = {.o = o, .m = m, .st = st, .prefix = prefix, .err = err, .errlen = errlen};
	struct stat rst;
	int fd = -1, ret;

	w.pcap = strlen(prefix) + 256;
	w.path = malloc(w.pcap);
	w.rbuf = malloc(READ_BUF);
	w.cbuf = malloc(chunker_default_params.max);
	if (!w.path || !w.rbuf || !w.cbuf) {
		msg(err, errlen, "uploads: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	strcpy(w.path, prefix);
	w.plen = strlen(prefix);
	ret = chunker_init(&w.ch, &chunker_default_params);
	if (ret) {
		msg(err, errlen, "uploads: bad chunker parameters");
		goto out;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &rst) < 0) {
		int e = errno;
		char *what = NULL;

		if (asprintf(&what, "cannot open %s", root) < 0) {
			ret = oom(&w);
			goto out;
		}
		ret = problem(&w, e, what);
		free(what);
		goto out;
	}
	ret = add_entry(&w, &rst, NULL, NULL);
	if (ret)
		goto out;
	st->dirs++;
	ret = walk_dir(&w, fd, 0);
	fd = -1;
	if (!ret && w.unreported &&
	    manifest_add_reason(m, "%s: %llu more entries left out (see the warnings)", prefix,
				(unsigned long long)w.unreported))
		ret = oom(&w);
out:
	if (fd >= 0)
		close(fd);
	free(w.path);
	free(w.rbuf);
	free(w.cbuf);
	free(w.refs);
	return ret < 0 ? ret : 0;
}
