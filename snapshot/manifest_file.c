/*
 * manifest_file.c - manifests on disk: STATE_DIR/store/snapshots/<name>, and snapshot names.
 *
 * A snapshot exists exactly when its manifest file does, so the manifest is the last thing
 * written and it appears in one step: temp file "tmp.<name>.*" in the same directory, fsync,
 * rename without replacing (a snapshot is never overwritten), fsync of the directory.
 */
#include "snapshot/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int open_snapdir(const char *state_dir, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/store/snapshots", state_dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		msg(err, errlen, "manifest: opening %s: %s", path, strerror(errno));
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* rename @tmp to @name unless @name exists (link+unlink where renameat2 is not supported). */
static int publish(int dfd, const char *tmp, const char *name)
{
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(dfd, tmp, dfd, name, 0) < 0)
		return -errno;
	unlinkat(dfd, tmp, 0);
	return 0;
}

/* Give every chunk whose stored size is unknown the size of its frame in the store. */
static int fill_zlen(const char *state_dir, struct manifest *m, char *err, size_t errlen)
{
	struct store_opts so = {.readonly = true};
	struct store *st = NULL;
	bool need = false;
	int ret = 0;

	for (size_t i = 0; i < m->n && !need; i++)
		for (size_t k = 0; k < m->v[i].nchunks && !need; k++)
			need = !m->v[i].chunks[k].zlen;
	if (!need)
		return 0;
	ret = store_open(state_dir, &so, &st, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; i < m->n && !ret; i++) {
		struct manifest_entry *e = &m->v[i];

		for (size_t k = 0; k < e->nchunks && !ret; k++) {
			struct manifest_chunk *c = &e->chunks[k];
			struct store_loc loc;
			char name[40];

			if (c->zlen)
				continue;
			ret = store_stat(st, &c->hash, &loc);
			if (ret) {
				store_chunk_name(&c->hash, name, sizeof(name));
				msg(err, errlen, "manifest: %s of %s is not in the store", name,
				    e->path);
			} else {
				c->zlen = loc.zlen;
			}
		}
	}
	store_close(st);
	return ret;
}

int manifest_write(const char *state_dir, const char *name, struct manifest *m, char *err,
		   size_t errlen)
{
	const char *what = "creating";
	char tmp[64], *buf = NULL;
	int dfd, fd = -1, ret;
	size_t len;

	if (!manifest_name_valid(name)) {
		msg(err, errlen, "manifest: bad snapshot name '%s'", name);
		return -EINVAL;
	}
	ret = fill_zlen(state_dir, m, err, errlen);
	if (ret)
		return ret;
	ret = manifest_format(m, &buf, &len, err, errlen);
	if (ret)
		return ret;
	dfd = open_snapdir(state_dir, err, errlen);
	if (dfd < 0) {
		free(buf);
		return dfd;
	}
	snprintf(tmp, sizeof(tmp), "tmp.%s.%ld", name, (long)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	what = "writing";
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	fd = -1;
	if (!ret) {
		what = "publishing";
		ret = publish(dfd, tmp, name);
	}
	if (ret) {
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	what = "syncing the directory of";
	if (fsync(dfd) < 0)
		ret = -errno;
out:
	if (ret == -EEXIST)
		msg(err, errlen, "manifest: snapshot %s exists already", name);
	else if (ret)
		msg(err, errlen, "manifest: %s snapshot %s: %s", what, name, strerror(-ret));
	close(dfd);
	free(buf);
	return ret;
}

int manifest_read(const char *state_dir, const char *name, struct manifest *m, char *err,
		  size_t errlen)
{
	int dfd, fd, ret;

	if (!manifest_name_valid(name)) {
		msg(err, errlen, "manifest: bad snapshot name '%s'", name);
		return -EINVAL;
	}
	dfd = open_snapdir(state_dir, err, errlen);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd < 0) {
		ret = -errno;
		msg(err, errlen, "manifest: opening snapshot %s: %s", name, strerror(errno));
		return ret;
	}
	ret = manifest_parse_fd(m, fd, NULL, NULL, err, errlen);
	close(fd);
	return ret;
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool manifest_name_valid(const char *name)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t len = strlen(name);
	int y, mo, d, leap;

	if ((len != 10 && len != 17) || name[4] != '-' || name[7] != '-')
		return false;
	y = digits(name, 4);
	mo = digits(name + 5, 2);
	d = digits(name + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return false;
	if (len == 10)
		return true;
	/* Second 60: a leap second, as localtime may report one with a "right/" zone. */
	return name[10] == '_' && digits(name + 11, 2) >= 0 && digits(name + 11, 2) <= 23 &&
	       digits(name + 13, 2) >= 0 && digits(name + 13, 2) <= 59 &&
	       digits(name + 15, 2) >= 0 && digits(name + 15, 2) <= 60;
}

int manifest_name_for(time_t t, int (*exists)(void *arg, const char *name), void *arg, char *out)
{
	struct tm tm;
	int ret;

	if (!localtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return -EINVAL;
	strftime(out, MANIFEST_NAME_MAX, "%Y-%m-%d", &tm);
	ret = exists(arg, out);
	if (ret <= 0)
		return ret;
	strftime(out, MANIFEST_NAME_MAX, "%Y-%m-%d_%H%M%S", &tm);
	ret = exists(arg, out);
	if (ret <= 0)
		return ret;
	return -EEXIST;
}

int manifest_exists(void *state_dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/store/snapshots/%s", (const char *)state_dir, name);
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void manifest_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int manifest_list(const char *state_dir, char ***names, size_t *n, char *err, size_t errlen)
{
	char **v = NULL;
	size_t count = 0;
	struct dirent *de;
	int dfd, ret = 0;
	DIR *dir;

	dfd = open_snapdir(state_dir, err, errlen);
	if (dfd < 0)
		return dfd;
	dir = fdopendir(dfd);
	if (!dir) {
		ret = -errno;
		close(dfd);
		msg(err, errlen, "manifest: listing snapshots: %s", strerror(-ret));
		return ret;
	}
	while ((de = readdir(dir))) {
		char **nv;

		if (!manifest_name_valid(de->d_name))
			continue;
		nv = reallocarray(v, count + 1, sizeof(*v));
		if (!nv || !(nv[count] = strdup(de->d_name))) {
			v = nv ? nv : v;
			ret = -ENOMEM;
			msg(err, errlen, "manifest: out of memory");
			break;
		}
		v = nv;
		count++;
	}
	closedir(dir);
	if (ret) {
		manifest_names_free(v, count);
		return ret;
	}
	if (count)
		qsort(v, count, sizeof(*v), cmp_name);
	*names = v;
	*n = count;
	return 0;
}
