/*
 * vscan.c - compare what is on disk beneath a mount's source with the index, and update it.
 *
 * The one thing to know: every object is reached by openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) from the mount's base descriptor, and symlinks are recorded as
 * symlinks, never followed, so nothing outside a source can end up in the history. A file is
 * re-read only when its stat signature (size, mtime, ctime, inode, mode) changed.
 */
#include "fs/vcs_int.h"
#include "fs/litter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum incl { EXCLUDED, INTERMEDIATE, INCLUDED };

static int open_beneath(int base, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, base, *rel ? rel : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Is @rel (relative to the base; "" = the base) part of what mount @m versions? */
static enum incl included(const struct mtab_entry *m, const char *rel, int is_dir)
{
	char buf[PATH_MAX];
	size_t k = 0;

	if (*rel && litter_is(basename_of(rel)))
		return EXCLUDED;
	if (m->kind == MTAB_TREE)
		return INCLUDED;
	if (!*rel)
		return INTERMEDIATE;
	if (strlen(rel) >= sizeof(buf))
		return EXCLUDED;
	strcpy(buf, rel);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (k < m->glob.nparts && !mtab_glob_match_part(&m->glob, k, c))
			return EXCLUDED;
		k++;
	}
	if (k < m->glob.nparts)
		return is_dir ? INTERMEDIATE : EXCLUDED;
	return INCLUDED;
}

static int change(struct vcs *v, const char *path, char what, const git_oid *oid)
{
	for (size_t i = 0; i < v->nchg; i++) {
		if (strcmp(v->chg[i].path, path) == 0) {
			if (what != 'T')
				v->chg[i].what = what == 'D' && v->chg[i].what == 'A' ? 'M' : what;
			if (oid)
				v->chg[i].oid = *oid;
			return 0;
		}
	}
	if (v->nchg == v->capchg) {
		size_t cap = v->capchg ? v->capchg * 2 : 16;
		struct vcs_change *c = realloc(v->chg, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		v->chg = c;
		v->capchg = cap;
	}
	v->chg[v->nchg].path = strdup(path);
	if (!v->chg[v->nchg].path)
		return -ENOMEM;
	v->chg[v->nchg].what = what;
	if (oid)
		v->chg[v->nchg].oid = *oid;
	else
		memset(&v->chg[v->nchg].oid, 0, sizeof(git_oid));
	v->nchg++;
	return 0;
}

static int remove_all_copy(struct vcs *v, const char *path);

/* Drop @path and everything below it from the index and the metadata. @path may point into
 * the index or the metadata, which this changes: work on a copy. */
static int remove_all(struct vcs *v, const char *path)
{
	char *copy = strdup(path);
	int err;

	if (!copy)
		return -ENOMEM;
	err = remove_all_copy(v, copy);
	free(copy);
	return err;
}

static int remove_all_copy(struct vcs *v, const char *path)
{
	const git_index_entry *e = git_index_get_bypath(v->index, path, 0);
	size_t len = strlen(path), pos;
	char *prefix;
	int err = 0;

	if (e) {
		err = change(v, path, 'D', &e->id);
		if (!err)
			git_index_remove(v->index, path, 0);
	}
	prefix = malloc(len + 2);
	if (!prefix)
		return -ENOMEM;
	memcpy(prefix, path, len);
	strcpy(prefix + len, "/");
	while (!err && git_index_find_prefix(&pos, v->index, prefix) == 0) {
		e = git_index_get_byindex(v->index, pos);
		if (!e || strncmp(e->path, prefix, len + 1) != 0)
			break;
		err = change(v, e->path, 'D', &e->id);
		if (!err)
			git_index_remove(v->index, e->path, 0);
	}
	free(prefix);
	if (meta_remove(&v->meta, path, 1) && !err && !git_index_get_bypath(v->index, path, 0))
		err = change(v, path, 'T', NULL);
	return err;
}

static int same_stat(const git_index_entry *e, const struct stat *st, uint32_t mode)
{
	return e->mode == mode && e->file_size == (uint32_t)st->st_size &&
	       e->mtime.seconds == (int32_t)st->st_mtim.tv_sec &&
	       e->mtime.nanoseconds == (uint32_t)st->st_mtim.tv_nsec &&
	       e->ctime.seconds == (int32_t)st->st_ctim.tv_sec &&
	       e->ctime.nanoseconds == (uint32_t)st->st_ctim.tv_nsec &&
	       e->ino == (uint32_t)st->st_ino && e->dev == (uint32_t)st->st_dev;
}

static int read_blob(struct vcs *v, int fd, const struct stat *st, git_oid *oid)
{
	size_t cap = (size_t)st->st_size + 1, len = 0;
	char *buf = malloc(cap);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				err = -ENOMEM;
				goto out;
			}
			buf = b;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (git_blob_create_from_buffer(oid, v->repo, buf, len))
		err = -EIO;
out:
	free(buf);
	return err;
}

/* Record the regular file or symlink @fd (an O_PATH descriptor) at @path. */
static int record_leaf(struct vcs *v, const char *path, int fd, const struct stat *st)
{
	const git_index_entry *old = git_index_get_bypath(v->index, path, 0);
	uint32_t mode;
	git_index_entry e;
	git_oid oid;
	int err;

	if (S_ISLNK(st->st_mode))
		mode = GIT_FILEMODE_LINK;
	else
		mode = (st->st_mode & 0111) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
	if (old && same_stat(old, st, mode))
		return 0;
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(fd, "", target, sizeof(target));

		if (n < 0)
			return -errno;
		if (git_blob_create_from_buffer(&oid, v->repo, target, (size_t)n))
			return -EIO;
	} else {
		char proc[64];
		int rfd;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		rfd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY);
		if (rfd < 0)
			return -errno;
		err = read_blob(v, rfd, st, &oid);
		close(rfd);
		if (err)
			return err;
	}
	memset(&e, 0, sizeof(e));
	e.path = path;
	e.mode = mode;
	e.id = oid;
	e.file_size = (uint32_t)st->st_size;
	e.mtime.seconds = (int32_t)st->st_mtim.tv_sec;
	e.mtime.nanoseconds = (uint32_t)st->st_mtim.tv_nsec;
	e.ctime.seconds = (int32_t)st->st_ctim.tv_sec;
	e.ctime.nanoseconds = (uint32_t)st->st_ctim.tv_nsec;
	e.ino = (uint32_t)st->st_ino;
	e.dev = (uint32_t)st->st_dev;
	if (old && git_oid_equal(&old->id, &oid) && old->mode == mode) {
		/* same content: only refresh the stat cache */
		return git_index_add(v->index, &e) ? -EIO : 0;
	}
	err = change(v, path, old ? 'M' : 'A', &oid);
	if (!err && git_index_add(v->index, &e))
		err = -EIO;
	return err;
}

static int record_meta(struct vcs *v, const char *path, char type, const struct stat *st)
{
	const struct meta_entry *old = meta_get(&v->meta, path);
	mode_t mode = st->st_mode & 07777;

	if (old && old->type == type && old->mode == mode && old->uid == st->st_uid &&
	    old->gid == st->st_gid)
		return 0;
	if (meta_set(&v->meta, type, mode, st->st_uid, st->st_gid, path))
		return -ENOMEM;
	if (old)
		return change(v, path, 'T', NULL);
	/* a new directory is a change of its own (git alone would not see an empty one) */
	return type == 'd' ? change(v, path, 'A', NULL) : 0;
}

static int scan_fd(struct vcs *v, const struct mtab_entry *m, char *path, size_t plen,
		   size_t relstart, int fd, int recursive);

/* Scan every entry of directory @fd (O_PATH) whose git path is @path. */
static int scan_children(struct vcs *v, const struct mtab_entry *m, char *path, size_t plen,
			 size_t relstart, int fd)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY), err = 0;
	DIR *dp;
	struct dirent *de;

	if (dfd < 0)
		return -errno;
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -errno;
	}
	while (!err && (de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		int cfd;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (plen + 1 + nl >= PATH_MAX * 2)
			continue;
		path[plen] = '/';
		memcpy(path + plen + 1, de->d_name, nl + 1);
		cfd = openat(fd, de->d_name, O_PATH | O_NOFOLLOW);
		if (cfd < 0)
			continue; /* raced with a removal; its own note will follow */
		struct stat cst;

		if (de->d_type == DT_DIR && fstat(cfd, &cst) == 0 && cst.st_ino == v->state_ino &&
		    cst.st_dev == v->state_dev) {
			close(cfd); /* the state directory under a source: never our history */
			continue;
		}
		err = scan_fd(v, m, path, plen + 1 + nl, relstart, cfd, 1);
		close(cfd);
	}
	path[plen] = '\0';
	closedir(dp);
	return err;
}

static int scan_fd(struct vcs *v, const struct mtab_entry *m, char *path, size_t plen,
		   size_t relstart, int fd, int recursive)
{
	const char *rel = plen > relstart ? path + relstart : "";
	struct stat st;
	enum incl inc;
	int err;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	inc = included(m, rel, S_ISDIR(st.st_mode));
	if (inc == EXCLUDED || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) &&
				!S_ISLNK(st.st_mode)))
		return remove_all(v, path);
	if (S_ISREG(st.st_mode) && st.st_size > v->opt.max_file_size) {
		vcs_log(3, "not versioning %s: %lld bytes is over max-file-size", path,
			(long long)st.st_size);
		return remove_all(v, path);
	}
	if (!S_ISDIR(st.st_mode)) {
		/* a directory that became a file: drop what was below it */
		char *dir = malloc(plen + 2);

		if (!dir)
			return -ENOMEM;
		err = 0;
		snprintf(dir, plen + 2, "%s/", path);
		size_t pos;

		if (git_index_find_prefix(&pos, v->index, dir) == 0) {
			path[plen] = '\0';
			free(dir);
			/* remove_all would remove the file entry too; re-add it below */
			err = remove_all(v, path);
		} else {
			free(dir);
		}
		if (!err)
			err = record_leaf(v, path, fd, &st);
		if (!err)
			err = record_meta(v, path, S_ISLNK(st.st_mode) ? 'l' : 'f', &st);
		return err;
	}
	if (git_index_get_bypath(v->index, path, 0)) {
		/* a file that became a directory */
		const git_index_entry *e = git_index_get_bypath(v->index, path, 0);

		err = change(v, path, 'D', &e->id);
		if (err)
			return err;
		git_index_remove(v->index, path, 0);
	}
	if (inc == INCLUDED) {
		err = record_meta(v, path, 'd', &st);
		if (err)
			return err;
	}
	if (!recursive)
		return 0;
	/* Forget what was recorded below, then record what is there now. The stat cache of
	 * unchanged files survives: entries are re-added only where the content changed. */
	err = scan_children(v, m, path, plen, relstart, fd);
	if (err)
		return err;
	/* entries below @path that no longer exist */
	size_t pos;
	char prefix[PATH_MAX * 2 + 2];

	snprintf(prefix, sizeof(prefix), "%s/", path);
	if (git_index_find_prefix(&pos, v->index, prefix) == 0) {
		size_t plen2 = strlen(prefix);

		for (;;) {
			const git_index_entry *e = git_index_get_byindex(v->index, pos);
			struct stat cst;

			if (!e || strncmp(e->path, prefix, plen2) != 0)
				break;
			if (fstatat(fd, e->path + plen2, &cst, AT_SYMLINK_NOFOLLOW) == 0) {
				pos++;
				continue;
			}
			err = remove_all(v, e->path);
			if (err)
				return err;
		}
	}
	/* metadata entries below @path that no longer exist */
	for (size_t i = 0; i < v->meta.n; i++) {
		const struct meta_entry *me = &v->meta.v[i];
		struct stat cst;

		if (strncmp(me->path, prefix, strlen(prefix)) != 0)
			continue;
		if (fstatat(fd, me->path + strlen(prefix), &cst, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		err = remove_all(v, me->path);
		if (err)
			return err;
		i = (size_t)-1; /* the array changed: start over */
	}
	return 0;
}

int vscan_path(struct vcs *v, const char *path, int recursive)
{
	char buf[PATH_MAX * 2];
	const struct mtab_entry *m;
	const char *slash = strchr(path, '/');
	size_t nlen = slash ? (size_t)(slash - path) : strlen(path), len = strlen(path);
	int mi, fd, err;

	if (len >= sizeof(buf) || nlen == 0)
		return -ENAMETOOLONG;
	memcpy(buf, path, nlen);
	buf[nlen] = '\0';
	m = mtab_find(v->tab, buf);
	if (!m || m->kind == MTAB_PLAIN)
		return 0;
	mi = (int)(m - v->tab->entries);
	if (v->base[mi] < 0)
		return 0;
	memcpy(buf, path, len + 1);
	fd = open_beneath(v->base[mi], slash ? slash + 1 : "", O_PATH | O_NOFOLLOW);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EXDEV)
		return remove_all(v, buf);
	if (fd < 0)
		return fd;
	err = scan_fd(v, m, buf, len, nlen + 1, fd, recursive);
	close(fd);
	return err;
}
