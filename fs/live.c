/*
 * live.c - the FUSE low-level operations: a passthrough to the backing files, addressed by
 * O_PATH descriptors, never by path strings.
 *
 * What a newcomer must know: every name is resolved one component at a time with openat(2)
 * and O_NOFOLLOW beneath a descriptor we already hold, so no path can leave its source; the
 * kernel checks permissions (default_permissions) against the backing files' own attributes;
 * and every change to a versioned mount is handed to vcs_note() after it succeeded.
 */
#include "fs/live.h"
#include "fs/litter.h"
#include "fs/prefetch.h"
#include "fs/vglue.h"

#include <dirent.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

/* An open file. A read-only one opens its backing file at its first request that needs it
 * (fd is -1 until then): `grep -r` served from the page cache then costs the daemon no
 * open(2) at all. */
struct handle {
	_Atomic int fd;
	int flags; /* for the deferred open */
	int wrote;
	struct node *node;
	struct vcs_who who;
};

/* A real directory's readdir(3) stream is likewise opened at the first listing the
 * kernel has not cached. */
struct dirh {
	DIR *_Atomic dp;
	struct node *node;
	off_t offset;
	struct dirent *entry;
};

static struct sfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return node_root(fs_of(req)->nodes);
	return (struct node *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct node *n)
{
	return n->kind == NODE_ROOT ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static const struct mtab_entry *mount_of(struct sfs *fs, struct node *n)
{
	return n->mnt >= 0 ? &fs->tab->entries[n->mnt] : NULL;
}

static int versioned(struct sfs *fs, struct node *n)
{
	const struct mtab_entry *m = mount_of(fs, n);

	return m && m->kind != MTAB_PLAIN;
}

static void proc_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

static void virtual_attr(struct node *n, struct stat *st)
{
	static struct timespec mounted;

	if (!mounted.tv_sec)
		clock_gettime(CLOCK_REALTIME, &mounted);
	memset(st, 0, sizeof(*st));
	st->st_atim = st->st_mtim = st->st_ctim = mounted;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_ino = n->kind == NODE_ROOT ? 1 : 2 + (ino_t)n->mnt;
}

/*
 * Is @name, a child at depth @depth of directory @dirfd in mount @m, shown? In a files view,
 * a name must match its glob part; a directory on the way to the matches must also hold one,
 * when the rest of the glob is literal (compose/ lists the stacks that have a compose file,
 * not every directory of /opt).
 */
static int shown(const struct mtab_entry *m, int dirfd, int depth, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;

	if (m->kind != MTAB_FILES || depth > (int)m->glob.nparts)
		return 1;
	if (!mtab_glob_match_part(&m->glob, depth - 1, name))
		return 0;
	if (depth == (int)m->glob.nparts)
		return 1;
	len = (size_t)snprintf(path, sizeof(path), "%s", name);
	for (size_t k = (size_t)depth; k < m->glob.nparts; k++) {
		if (strpbrk(m->glob.parts[k], "*?[") || len >= sizeof(path))
			return 1; /* a wildcard further down: not worth a search */
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s", m->glob.parts[k]);
	}
	return len < sizeof(path) && fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Note for the committer that @name in @n changed (@name NULL: @n itself, by its last known
 * name, which node_relpath reads under the table's lock). If the path cannot be named (a
 * parent the kernel forgot), inotify sees the change and it is committed as external.
 */
static void note_as(struct sfs *fs, struct node *n, const char *name, int recursive,
		    const struct vcs_who *who)
{
	char path[PATH_MAX * 2];
	int len, k;

	if (!fs->vcs || n->kind != NODE_REAL || !versioned(fs, n))
		return;
	k = snprintf(path, sizeof(path), "%s/", mount_of(fs, n)->name);
	len = node_relpath(fs->nodes, n, path + k, sizeof(path) - k);
	if (len < 0)
		return;
	if (name && *name)
		snprintf(path + k + len, sizeof(path) - k - len, "%s%s", len ? "/" : "", name);
	else if (len == 0)
		path[k - 1] = '\0';
	vcs_note(fs->vcs, path, recursive, who);
}

/* Note a change made by the caller of @req. */
static void note(fuse_req_t req, struct node *n, const char *name, int recursive)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct vcs_who who;

	if (!fs_of(req)->vcs || !versioned(fs_of(req), n))
		return; /* plain trees: no need to read /proc for a name */
	vcs_who_fill(&who, ctx->pid, ctx->uid, ctx->gid);
	note_as(fs_of(req), n, name, recursive, &who);
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int is_state_dir(struct sfs *fs, const struct stat *st)
{
	return S_ISDIR(st->st_mode) && st->st_ino == fs->state_ino && st->st_dev == fs->state_dev;
}

/* Look up @name in @parent; on success one lookup reference is taken on the result. */
static int do_lookup(struct sfs *fs, struct node *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct node *n;
	int fd, err, mnt = parent->mnt, depth = 0;

	if (parent->kind == NODE_VIEW)
		return vglue_lookup(parent->view, parent, name, e);
	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	if (parent->kind == NODE_ROOT) {
		const struct mtab_entry *m = mtab_find(fs->tab, name);

		if (!m) {
			struct view *v = vglue_find(fs, name);

			return v ? vglue_lookup(v, NULL, name, e) : -ENOENT;
		}
		mnt = (int)(m - fs->tab->entries);
		if (m->kind == MTAB_PLAIN) {
			n = node_get_plain(fs->nodes, mnt);
			if (!n)
				return -ENOMEM;
			virtual_attr(n, &e->attr);
			e->ino = ino_of(n);
			return 0;
		}
		fd = openat(fs->base_fd[mnt][0], ".", O_PATH | O_DIRECTORY);
	} else if (parent->kind == NODE_PLAIN) {
		const struct mtab_entry *m = mount_of(fs, parent);
		size_t i;

		for (i = 0; i < m->nplain; i++)
			if (strcmp(m->plain[i].label, name) == 0)
				break;
		if (i == m->nplain)
			return -ENOENT;
		fd = openat(fs->base_fd[mnt][i], ".", O_PATH | O_DIRECTORY);
	} else {
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
			return -EINVAL; /* never step outside, whatever the request says */
		depth = parent->depth + 1;
		fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW);
	}
	if (fd < 0)
		return -errno;
	err = stat_fd(fd, &e->attr);
	if (err)
		goto fail;
	if (parent->kind == NODE_REAL) {
		if (is_state_dir(fs, &e->attr)) {
			err = -ENOENT;
			goto fail;
		}
		if (!shown(mount_of(fs, parent), parent->fd, depth, name) &&
		    !node_was_created(fs->nodes, mnt, e->attr.st_dev, e->attr.st_ino)) {
			err = -ENOENT;
			goto fail;
		}
	}
	n = node_get_real(fs->nodes, mnt, depth, fd, &e->attr,
			  parent->kind == NODE_REAL ? parent : NULL, name);
	if (!n)
		return -ENOMEM;
	e->ino = ino_of(n);
	return 0;
fail:
	close(fd);
	return err;
}

static void reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, err < 0 ? -err : err);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	/* No writeback cache: a write must reach the backing file before write(2) returns, so
	 * that killing the daemon loses no byte the writer was told was written. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Large requests: 1 MiB writes and read-ahead (up to what the kernel allows). */
	conn->max_write = 1 << 20;
	if (conn->max_readahead < (1u << 20))
		conn->max_readahead = 1 << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup(fs_of(req), node_of(req, parent), name, &e);

	if (err)
		reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_of(req, ino);

	if (ino == FUSE_ROOT_ID)
		return;
	if (n->kind == NODE_VIEW)
		vglue_forget(n, nlookup);
	else
		node_forget(fs_of(req)->nodes, n, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(req, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct stat st;
	int err;

	(void)fi;
	if (n->kind == NODE_VIEW) {
		vglue_getattr(req, n);
		return;
	}
	if (n->kind != NODE_REAL) {
		virtual_attr(n, &st);
		fuse_reply_attr(req, &st, fs_of(req)->timeout);
		return;
	}
	err = stat_fd(n->fd, &st);
	if (err)
		reply_err(req, err);
	else
		fuse_reply_attr(req, &st, fs_of(req)->timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	char proc[64];
	struct stat st;
	int err = 0, hfd;

	if (n->kind == NODE_VIEW) {
		vglue_setattr(req, n, attr, valid, fi);
		return;
	}
	if (n->kind != NODE_REAL) {
		reply_err(req, -EPERM);
		return;
	}
	/* A deferred read-only handle has no descriptor: address the inode instead. */
	hfd = h ? atomic_load(&h->fd) : -1;
	err = stat_fd(n->fd, &st);
	if (err)
		goto out;
	proc_path(proc, sizeof(proc), n->fd);
	if (valid & FUSE_SET_ATTR_MODE) {
		if (S_ISLNK(st.st_mode))
			err = -EOPNOTSUPP;
		else if (hfd >= 0 ? fchmod(hfd, attr->st_mode) : chmod(proc, attr->st_mode))
			err = -errno;
		if (err)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
			err = -errno;
			goto out;
		}
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		if (hfd >= 0 ? ftruncate(hfd, attr->st_size) : truncate(proc, attr->st_size)) {
			err = -errno;
			goto out;
		}
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (hfd >= 0)
			err = futimens(hfd, tv) ? -errno : 0;
		else if (!S_ISLNK(st.st_mode))
			err = utimensat(AT_FDCWD, proc, tv, 0) ? -errno : 0;
		else if (n->parent && n->name)
			err = utimensat(n->parent->fd, n->name, tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
		else
			err = -EOPNOTSUPP;
		if (err)
			goto out;
	}
	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
		     FUSE_SET_ATTR_SIZE)) {
		if (h && (valid & FUSE_SET_ATTR_SIZE))
			h->wrote = h->wrote ? h->wrote : (vcs_writers(fs_of(req)->vcs, 1), 1);
		else
			note(req, n, NULL, 0);
	}
out:
	if (err) {
		reply_err(req, err);
		return;
	}
	op_getattr(req, ino, fi);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_of(req, ino);
	char buf[PATH_MAX + 1];
	ssize_t len;

	if (n->kind == NODE_VIEW) {
		vglue_readlink(req, n);
		return;
	}
	if (n->kind != NODE_REAL) {
		reply_err(req, -EINVAL);
		return;
	}
	len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0) {
		reply_err(req, -errno);
		return;
	}
	if (len == sizeof(buf)) {
		reply_err(req, -ENAMETOOLONG);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Give a new object to the caller: its uid, and its gid unless the directory is setgid. */
static int own_by_caller(fuse_req_t req, struct node *dir, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat dst;
	gid_t gid = ctx->gid;

	if (stat_fd(dir->fd, &dst) == 0 && (dst.st_mode & S_ISGID))
		gid = (gid_t)-1;
	if (ctx->uid == 0 && gid == 0)
		return 0;
	if (fchownat(dir->fd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

/* The checks every operation that makes or removes a name in @dir shares. */
static int dir_writable(struct sfs *fs, struct node *dir, const char *name)
{
	(void)fs;
	if (dir->kind == NODE_VIEW)
		return -EROFS; /* backups/, history/: immutable */
	if (dir->kind != NODE_REAL)
		return -EPERM; /* the root and plain mounts' own directories are fixed */
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* Reply to a successful mknod/mkdir/symlink/link with the entry of @name; marks it created. */
static void reply_made(fuse_req_t req, struct node *dir, const char *name, int recursive)
{
	struct sfs *fs = fs_of(req);
	struct fuse_entry_param e;
	int err;

	note(req, dir, name, recursive);
	/* Shown in a files view even if the glob does not match: the caller just made it. */
	int fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW);
	struct stat st;

	if (fd < 0) {
		reply_err(req, -errno);
		return;
	}
	if (stat_fd(fd, &st)) {
		err = -errno;
		close(fd);
		reply_err(req, err);
		return;
	}
	struct node *n = node_get_real(fs->nodes, dir->mnt, dir->depth + 1, fd, &st, dir, name);

	if (!n) {
		reply_err(req, -ENOMEM);
		return;
	}
	node_mark_created(fs->nodes, dir->mnt, st.st_dev, st.st_ino);
	memset(&e, 0, sizeof(e));
	e.attr = st;
	e.ino = ino_of(n);
	e.attr_timeout = fs->timeout;
	e.entry_timeout = fs->timeout;
	fuse_reply_entry(req, &e);
}

/* What mknod, mkdir and symlink share: make the object, give it to the caller, reply. */
struct make {
	enum { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK } what;
	mode_t mode;
	dev_t rdev;
	const char *target;
};

static void make_object(fuse_req_t req, fuse_ino_t parent, const char *name, const struct make *mk)
{
	struct node *dir = node_of(req, parent);
	int err = dir_writable(fs_of(req), dir, name), r = 0;

	if (err)
		goto out;
	switch (mk->what) {
	case MAKE_NODE:
		r = mknodat(dir->fd, name, mk->mode, mk->rdev);
		break;
	case MAKE_DIR:
		r = mkdirat(dir->fd, name, mk->mode);
		break;
	case MAKE_SYMLINK:
		r = symlinkat(mk->target, dir->fd, name);
		break;
	}
	err = r ? -errno : own_by_caller(req, dir, name);
	if (!err) {
		reply_made(req, dir, name, mk->what == MAKE_DIR);
		return;
	}
out:
	reply_err(req, err);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct make mk = {.what = MAKE_NODE, .mode = mode, .rdev = rdev};

	make_object(req, parent, name, &mk);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct make mk = {.what = MAKE_DIR, .mode = mode};

	make_object(req, parent, name, &mk);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct make mk = {.what = MAKE_SYMLINK, .target = link};

	make_object(req, parent, name, &mk);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct node *n = node_of(req, ino), *dir = node_of(req, parent);
	int err = dir_writable(fs_of(req), dir, name);

	if (!err && (n->kind != NODE_REAL || n->mnt != dir->mnt))
		err = -EXDEV;
	if (!err && linkat(n->fd, "", dir->fd, name, AT_EMPTY_PATH))
		err = -errno;
	if (err)
		reply_err(req, err);
	else
		reply_made(req, dir, name, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_of(req, parent);
	int err = dir_writable(fs_of(req), dir, name);

	if (!err && unlinkat(dir->fd, name, 0))
		err = -errno;
	if (!err)
		note(req, dir, name, 0);
	reply_err(req, err);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_of(req, parent);
	int err = dir_writable(fs_of(req), dir, name);

	if (!err && unlinkat(dir->fd, name, AT_REMOVEDIR))
		err = -errno;
	if (!err)
		note(req, dir, name, 1);
	reply_err(req, err);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct sfs *fs = fs_of(req);
	struct node *dir = node_of(req, parent), *ndir = node_of(req, newparent);
	struct stat st;
	int err = dir_writable(fs, dir, name);

	if (!err)
		err = dir_writable(fs, ndir, newname);
	if (!err && dir->mnt != ndir->mnt)
		err = -EXDEV;
	if (!err && renameat2(dir->fd, name, ndir->fd, newname, flags))
		err = -errno;
	if (err) {
		reply_err(req, err);
		return;
	}
	if (fstatat(ndir->fd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		node_renamed(fs->nodes, ndir->mnt, st.st_dev, st.st_ino, ndir, newname);
		note(req, dir, name, S_ISDIR(st.st_mode));
		note(req, ndir, newname, S_ISDIR(st.st_mode));
	}
	reply_err(req, 0);
}

static struct handle *handle_new(fuse_req_t req, struct node *n, int fd, int flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	atomic_init(&h->fd, fd);
	h->flags = flags;
	h->node = n;
	/* Only a handle that can write will ever name a writer. */
	if ((flags & O_ACCMODE) != O_RDONLY || fd >= 0)
		vcs_who_fill(&h->who, ctx->pid, ctx->uid, ctx->gid);
	return h;
}

/* The handle's backing descriptor, opened now if it was deferred; -errno on failure.
 * Concurrent first reads race benignly: one descriptor wins, the other is closed. */
static int handle_fd(struct handle *h)
{
	char proc[64];
	int fd = atomic_load(&h->fd), expected = -1;

	if (fd >= 0)
		return fd;
	proc_path(proc, sizeof(proc), h->node->fd);
	fd = open(proc, h->flags);
	if (fd < 0)
		return -errno;
	if (!atomic_compare_exchange_strong(&h->fd, &expected, fd)) {
		close(fd);
		fd = expected;
	}
	return fd;
}

static void handle_free(struct handle *h)
{
	int fd = atomic_load(&h->fd);

	if (fd >= 0)
		close(fd);
	free(h);
}

static void handle_mark_written(struct sfs *fs, struct handle *h)
{
	if (!h->wrote && versioned(fs, h->node)) {
		h->wrote = 1;
		vcs_writers(fs->vcs, 1);
	}
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct sfs *fs = fs_of(req);
	struct node *dir = node_of(req, parent);
	struct fuse_entry_param e;
	struct handle *h;
	int fd, err = dir_writable(fs, dir, name);

	if (err)
		goto out;
	fd = openat(dir->fd, name, (fi->flags | O_CREAT | O_NOFOLLOW) & ~O_NOATIME, mode);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = own_by_caller(req, dir, name);
	if (err) {
		close(fd);
		goto out;
	}
	/* Shown in a files view though the glob may not match: the caller just made it. */
	struct stat cst;

	if (fstat(fd, &cst) == 0)
		node_mark_created(fs->nodes, dir->mnt, cst.st_dev, cst.st_ino);
	err = do_lookup(fs, dir, name, &e);
	if (err) {
		close(fd);
		goto out;
	}
	h = handle_new(req, (struct node *)(uintptr_t)e.ino, fd, fi->flags);
	if (!h) {
		close(fd);
		node_forget(fs->nodes, (struct node *)(uintptr_t)e.ino, 1);
		err = -ENOMEM;
		goto out;
	}
	handle_mark_written(fs, h);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted: the kernel will never release it */
		if (h->wrote)
			vcs_writers(fs->vcs, -1);
		handle_free(h);
	}
	return;
out:
	reply_err(req, err);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	/* O_NOFOLLOW: the kernel resolved the name (a symlink never reaches open); on the
	 * /proc/self/fd link it would fail every open with ELOOP, as `grep -r` opens. */
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOATIME | O_NOFOLLOW);
	struct handle *h;
	int fd = -1;

	if (n->kind == NODE_VIEW) {
		vglue_open(req, n, fi);
		return;
	}
	if (n->kind != NODE_REAL) {
		reply_err(req, -EISDIR);
		return;
	}
	/* The kernel has checked the permissions (default_permissions); a plain read-only open
	 * defers the backing open to the first read, which a warm page cache never sends. */
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
		char proc[64];

		proc_path(proc, sizeof(proc), n->fd);
		fd = open(proc, flags);
		if (fd < 0) {
			reply_err(req, -errno);
			return;
		}
	}
	h = handle_new(req, n, fd, flags);
	if (!h) {
		if (fd >= 0)
			close(fd);
		reply_err(req, -ENOMEM);
		return;
	}
	if (flags & O_TRUNC)
		handle_mark_written(fs, h);
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	fi->noflush = 1; /* a passthrough has nothing to report at close: spare the round trip */
	if (fuse_reply_open(req, fi) == -ENOENT) {
		if (h->wrote)
			vcs_writers(fs->vcs, -1);
		handle_free(h);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct node *n = node_of(req, ino);

	if (n->kind == NODE_VIEW) {
		vglue_read(req, n, size, off, fi);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = handle_fd(h);
	buf.buf[0].pos = off;
	if (buf.buf[0].fd < 0)
		reply_err(req, buf.buf[0].fd);
	else
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	struct node *n = node_of(req, ino);
	ssize_t res;

	if (n->kind == NODE_VIEW) {
		vglue_write_buf(req, n, in, off, fi);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = atomic_load(&h->fd); /* a writable handle is never deferred */
	out.buf[0].pos = off;
	handle_mark_written(fs_of(req), h);
	res = fuse_buf_copy(&out, in, 0);
	if (res < 0)
		reply_err(req, (int)res);
	else
		fuse_reply_write(req, (size_t)res);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct node *n = node_of(req, ino);
	int fd;

	if (n->kind == NODE_VIEW) {
		vglue_flush(req, n, fi);
		return;
	}
	/* close(dup(fd)) reports the errors some filesystems only give at close */
	fd = atomic_load(&h->fd);
	if (fd < 0) {
		reply_err(req, 0); /* never opened: nothing to report */
		return;
	}
	fd = dup(fd);
	reply_err(req, fd < 0 ? -errno : (close(fd) ? -errno : 0));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct sfs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (node_of(req, ino)->kind == NODE_VIEW) {
		vglue_release(req, node_of(req, ino), fi);
		return;
	}
	if (h->wrote) {
		struct node *n = h->node;

		/* Name the change after the writer, not whoever closes last. */
		note_as(fs, n, NULL, 0, &h->who);
		vcs_writers(fs->vcs, -1);
	}
	handle_free(h);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int fd;

	if (node_of(req, ino)->kind == NODE_VIEW) {
		reply_err(req, 0);
		return;
	}
	fd = handle_fd(h);
	if (fd < 0)
		reply_err(req, fd);
	else
		reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (node_of(req, ino)->kind == NODE_VIEW) {
		reply_err(req, -EROFS);
		return;
	}
	handle_mark_written(fs_of(req), h);
	reply_err(req, fallocate(atomic_load(&h->fd), mode, off, len) ? -errno : 0);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	off_t res;
	int fd;

	if (node_of(req, ino)->kind == NODE_VIEW) {
		reply_err(req, -ENOSYS); /* the kernel falls back to its own lseek */
		return;
	}
	fd = handle_fd(h);
	res = fd < 0 ? (errno = -fd, -1) : lseek(fd, off, whence);
	if (res < 0)
		reply_err(req, -errno);
	else
		fuse_reply_lseek(req, res);
}

/* Directories. Virtual ones list the mount table; real ones are read with readdir(3). */

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = node_of(req, ino);
	struct dirh *d;

	if (n->kind == NODE_VIEW) {
		vglue_opendir(req, n, fi);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		reply_err(req, -ENOMEM);
		return;
	}
	d->node = n->kind == NODE_REAL ? n : NULL;
	fi->fh = (uintptr_t)d;
	/* The kernel may keep listings: our own changes invalidate them in the kernel, and
	 * changes made outside are invalidated by the watcher (live_invalidate). */
	fi->cache_readdir = n->kind == NODE_REAL;
	fi->keep_cache = n->kind == NODE_REAL;
	if (fuse_reply_open(req, fi) == -ENOENT)
		free(d);
}

/* The real directory's stream, opened at first use; NULL with errno set on failure. */
static DIR *dirh_stream(struct dirh *d)
{
	DIR *dp = atomic_load(&d->dp), *expected = NULL;
	int fd;

	if (dp)
		return dp;
	fd = openat(d->node->fd, ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return NULL;
	dp = fdopendir(fd);
	if (!dp) {
		int err = errno;

		close(fd);
		errno = err;
		return NULL;
	}
	if (!atomic_compare_exchange_strong(&d->dp, &expected, dp)) {
		closedir(dp);
		dp = expected;
	}
	return dp;
}

/* Add one entry to a readdir(plus) reply. Returns its size, 0 if it did not fit. */
static size_t add_entry(fuse_req_t req, char *p, size_t rem, int plus, struct node *dir,
			const char *name, const struct stat *st, off_t next, int *err)
{
	struct sfs *fs = fs_of(req);
	struct fuse_entry_param e;
	size_t sz;

	*err = 0;
	if (!plus)
		return fuse_add_direntry(req, p, rem, name, st, next);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		memset(&e, 0, sizeof(e));
		e.attr = *st;
		return fuse_add_direntry_plus(req, p, rem, name, &e, next);
	}
	*err = do_lookup(fs, dir, name, &e);
	if (*err)
		return 0;
	sz = fuse_add_direntry_plus(req, p, rem, name, &e, next);
	if (sz > rem)
		node_forget(fs->nodes, node_of(req, e.ino), 1);
	return sz;
}

static int virtual_names(struct sfs *fs, struct node *dir, size_t i, const char **name)
{
	if (dir->kind == NODE_ROOT) {
		if (i < fs->tab->nentries) {
			*name = fs->tab->entries[i].name;
			return 1;
		}
		if (i - fs->tab->nentries < fs->nviews) {
			*name = fs->views[i - fs->tab->nentries].ops->name;
			return 1;
		}
		return 0;
	}
	if (i >= fs->tab->entries[dir->mnt].nplain)
		return 0;
	*name = fs->tab->entries[dir->mnt].plain[i].label;
	return 1;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct sfs *fs = fs_of(req);
	struct node *dir = node_of(req, ino);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t rem = size, sz;
	int err = 0;

	if (dir->kind == NODE_VIEW) {
		vglue_readdir(req, dir, size, off, plus);
		return;
	}
	buf = p = calloc(1, size);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (!d->node) {
		/* ".", "..", then the names; offsets are indexes + 1 */
		for (off_t i = off; ; i++) {
			const char *name;
			struct stat st;

			virtual_attr(dir, &st);
			if (i == 0)
				name = ".";
			else if (i == 1)
				name = "..";
			else if (!virtual_names(fs, dir, (size_t)(i - 2), &name))
				break;
			if (i >= 2) {
				st.st_mode = S_IFDIR;
				st.st_ino = 0;
			}
			sz = add_entry(req, p, rem, plus, dir, name, &st, i + 1, &err);
			if (err == -ENOENT) {
				err = 0;
				continue; /* a base that vanished: skip it */
			}
			if (err || sz > rem)
				break;
			p += sz;
			rem -= sz;
		}
		goto out;
	}
	DIR *dp = dirh_stream(d);

	if (!dp) {
		err = -errno;
		goto out;
	}
	if (off != d->offset) {
		seekdir(dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	const struct mtab_entry *m = mount_of(fs, dir);
	/* The regular files of a versioned listing, for the prefetcher (NUL-separated). */
	char *ahead = plus && fs->prefetch && versioned(fs, dir) ? malloc(size) : NULL;
	size_t nahead = 0;

	for (;;) {
		struct stat st;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(dp);
			if (!d->entry) {
				err = errno ? -errno : 0;
				break;
			}
		}
		const char *name = d->entry->d_name;
		int dot = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;

		if (!dot && (!shown(m, dir->fd, dir->depth + 1, name) ||
			     d->entry->d_ino == fs->state_ino)) {
			/* hidden unless the caller made it, or it is not the store after all */
			struct fuse_entry_param e;
			int lerr = do_lookup(fs, dir, name, &e);

			if (lerr) {
				d->offset = d->entry->d_off;
				d->entry = NULL;
				continue;
			}
			node_forget(fs->nodes, node_of(req, e.ino), 1);
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = d->entry->d_ino;
		st.st_mode = d->entry->d_type << 12;
		sz = add_entry(req, p, rem, plus, dir, name, &st, d->entry->d_off, &err);
		if (err == -ENOENT) {
			err = 0; /* raced with an unlink */
		} else if (err || sz > rem) {
			break;
		} else {
			size_t k = strlen(name) + 1;

			p += sz;
			rem -= sz;
			if (ahead && d->entry->d_type == DT_REG && nahead + k <= size) {
				memcpy(ahead + nahead, name, k);
				nahead += k;
			}
		}
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	prefetch_dir(fs->prefetch, dir->fd, ahead, nahead);
	free(ahead);
out:
	if (err && p == buf)
		reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	DIR *dp = d ? atomic_load(&d->dp) : NULL;

	(void)ino;
	if (dp)
		closedir(dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	int fd;

	DIR *dp;

	(void)ino;
	if (!d || !d->node) {
		reply_err(req, 0);
		return;
	}
	dp = dirh_stream(d);
	if (!dp) {
		reply_err(req, -errno);
		return;
	}
	fd = dirfd(dp);
	reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct sfs *fs = fs_of(req);
	struct node *n = node_of(req, ino);
	struct statvfs sv;
	int fd = n->kind == NODE_REAL ? n->fd : -1;

	if (fd < 0 && fs->tab->nentries && fs->base_fd[0])
		fd = fs->base_fd[0][0];
	if (fd < 0 || fstatvfs(fd, &sv))
		reply_err(req, fd < 0 ? -ENOSYS : -errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* Extended attributes, through /proc/self/fd since O_PATH descriptors cannot do them. */

static int xattr_path(fuse_req_t req, fuse_ino_t ino, char *proc, size_t size)
{
	struct node *n = node_of(req, ino);
	struct stat st;

	if (n->kind != NODE_REAL)
		return -ENOTSUP;
	if (stat_fd(n->fd, &st) == 0 && S_ISLNK(st.st_mode))
		return -ENOTSUP;
	proc_path(proc, size, n->fd);
	return 0;
}

static void reply_xattr(fuse_req_t req, char *buf, ssize_t len, size_t size)
{
	if (len < 0)
		reply_err(req, -errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char proc[64], *buf = NULL;
	int err = xattr_path(req, ino, proc, sizeof(proc));

	if (err || (size && !(buf = malloc(size)))) {
		reply_err(req, err ? err : -ENOMEM);
		return;
	}
	reply_xattr(req, buf, getxattr(proc, name, buf, size), size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char proc[64], *buf = NULL;
	int err;

	if (node_of(req, ino)->kind != NODE_REAL) {
		/* no attributes: cp -a out of backups/ has nothing to copy, and no error */
		if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	err = xattr_path(req, ino, proc, sizeof(proc));

	if (err || (size && !(buf = malloc(size)))) {
		reply_err(req, err ? err : -ENOMEM);
		return;
	}
	reply_xattr(req, buf, listxattr(proc, buf, size), size);
	free(buf);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	char proc[64];
	int err = xattr_path(req, ino, proc, sizeof(proc));

	if (!err && setxattr(proc, name, value, size, flags))
		err = -errno;
	reply_err(req, err);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char proc[64];
	int err = xattr_path(req, ino, proc, sizeof(proc));

	if (!err && removexattr(proc, name))
		err = -errno;
	reply_err(req, err);
}

const struct fuse_lowlevel_ops live_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};

int live_open_bases(struct sfs *fs, char *err, size_t errlen)
{
	struct stat st;

	fs->base_fd = calloc(fs->tab->nentries ? fs->tab->nentries : 1, sizeof(*fs->base_fd));
	if (!fs->base_fd)
		return -ENOMEM;
	for (size_t i = 0; i < fs->tab->nentries; i++) {
		const struct mtab_entry *m = &fs->tab->entries[i];
		size_t n = m->kind == MTAB_PLAIN ? m->nplain : 1;

		fs->base_fd[i] = malloc((n ? n : 1) * sizeof(int));
		if (!fs->base_fd[i])
			return -ENOMEM;
		for (size_t j = 0; j < n; j++) {
			const char *path = m->kind == MTAB_TREE	   ? m->source
					   : m->kind == MTAB_FILES ? m->glob.prefix
								   : m->plain[j].path;
			int fd = open(path, O_PATH | O_DIRECTORY);

			if (fd < 0) {
				int e = errno;

				snprintf(err, errlen, "mount %s: cannot open %s: %s", m->name, path,
					 strerror(e));
				for (size_t k = 0; k < j; k++)
					close(fs->base_fd[i][k]);
				free(fs->base_fd[i]);
				fs->base_fd[i] = NULL;
				return -e;
			}
			fs->base_fd[i][j] = fd;
		}
	}
	if (stat(fs->tab->state_dir, &st) == 0) {
		fs->state_dev = st.st_dev;
		fs->state_ino = st.st_ino;
	}
	return 0;
}

void live_close_bases(struct sfs *fs)
{
	if (!fs->base_fd)
		return;
	for (size_t i = 0; i < fs->tab->nentries; i++) {
		const struct mtab_entry *m = &fs->tab->entries[i];
		size_t n = m->kind == MTAB_PLAIN ? m->nplain : 1;

		if (!fs->base_fd[i])
			continue;
		for (size_t j = 0; j < n; j++)
			close(fs->base_fd[i][j]);
		free(fs->base_fd[i]);
	}
	free(fs->base_fd);
	fs->base_fd = NULL;
}

void live_invalidate(struct sfs *fs, int mnt, int dirfd, const char *name)
{
	struct stat dst, st;
	uint64_t dir, n;

	/* Called from the watcher thread: nodes are named by number only (see node_find_id). A
	 * base directory is a real node too, never the root. */
	if (!fs->se || fstatat(dirfd, "", &dst, AT_EMPTY_PATH))
		return;
	dir = node_find_id(fs->nodes, mnt, dst.st_dev, dst.st_ino);
	if (dir) {
		fuse_lowlevel_notify_inval_entry(fs->se, dir, name, strlen(name));
		fuse_lowlevel_notify_inval_inode(fs->se, dir, 0, 0); /* its listing */
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		n = node_find_id(fs->nodes, mnt, st.st_dev, st.st_ino);
		if (n)
			fuse_lowlevel_notify_inval_inode(fs->se, n, 0, 0);
	}
}

int live_views_init(struct sfs *fs, char *err, size_t errlen)
{
	size_t n = 0;

	while (view_table[n])
		n++;
	fs->views = calloc(n ? n : 1, sizeof(*fs->views));
	if (!fs->views)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct view *v = &fs->views[fs->nviews];
		int r;

		v->ops = view_table[i];
		v->fs = fs;
		r = v->ops->init ? v->ops->init(fs, v, &v->priv, err, errlen) : 0;
		if (r < 0)
			return r;
		if (r == 0)
			fs->nviews++; /* r > 0: nothing to show with this config */
	}
	return 0;
}

void live_views_destroy(struct sfs *fs)
{
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i].ops->destroy)
			fs->views[i].ops->destroy(fs->views[i].priv);
	free(fs->views);
	fs->views = NULL;
	fs->nviews = 0;
}
