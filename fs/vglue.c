/*
 * vglue.c - requests on view nodes: call the view's operation, reply with its result.
 * A view answers with return values (fs/view.h); only this file and live.c speak FUSE.
 */
#include "fs/vglue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct view *vglue_find(struct sfs *fs, const char *name)
{
	for (size_t i = 0; i < fs->nviews; i++)
		if (strcmp(fs->views[i].ops->name, name) == 0)
			return &fs->views[i];
	return NULL;
}

static void reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, err < 0 ? -err : err);
}

int vglue_lookup(struct view *v, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	if (!v->ops->lookup)
		return -ENOENT;
	return v->ops->lookup(v->priv, parent, name, e);
}

void vglue_forget(struct node *n, uint64_t nlookup)
{
	if (n->view->ops->forget)
		n->view->ops->forget(n->view->priv, n, nlookup);
}

void vglue_getattr(fuse_req_t req, struct node *n)
{
	struct stat st;
	double timeout = 1.0;
	int err = n->view->ops->getattr ? n->view->ops->getattr(n->view->priv, n, &st, &timeout)
					: -ENOSYS;

	if (err)
		reply_err(req, err);
	else
		fuse_reply_attr(req, &st, timeout);
}

void vglue_setattr(fuse_req_t req, struct node *n, struct stat *attr, int valid,
		   struct fuse_file_info *fi)
{
	const struct view_ops *ops = n->view->ops;
	int err;

	/* A read-only view refuses everything, times included (touch gets EROFS). A view that
	 * takes writes (db/) takes a truncation (open with O_TRUNC) and ignores the times that
	 * cp -p sets after writing. */
	int times = valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			     FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME);

	valid &= ~times;
	if (!ops->write)
		err = -EROFS;
	else if (valid & ~FUSE_SET_ATTR_SIZE || (valid && !ops->truncate))
		err = -EROFS;
	else if (!valid)
		err = 0;
	else
		err = ops->truncate(n->view->priv, n, fi ? (void *)(uintptr_t)fi->fh : NULL,
				    attr->st_size);
	if (err) {
		reply_err(req, err);
		return;
	}
	vglue_getattr(req, n);
}

void vglue_readlink(fuse_req_t req, struct node *n)
{
	char buf[4096];
	int err = n->view->ops->readlink
			  ? n->view->ops->readlink(n->view->priv, n, buf, sizeof(buf))
			  : -EINVAL;

	if (err)
		reply_err(req, err);
	else
		fuse_reply_readlink(req, buf);
}

void vglue_opendir(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	(void)n;
	fi->fh = 0;
	fuse_reply_open(req, fi);
}

struct fill {
	fuse_req_t req;
	struct view *v;
	struct node *dir;
	char *buf;
	size_t size, used;
	int plus;
	int err;
};

static int fill_one(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct fill *f = arg;
	size_t rem = f->size - f->used, sz;

	if (!f->plus) {
		sz = fuse_add_direntry(f->req, f->buf + f->used, rem, name, st, next);
	} else {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			e.attr = *st;
		} else {
			int err = vglue_lookup(f->v, f->dir, name, &e);

			if (err == -ENOENT)
				return 0; /* gone meanwhile */
			if (err) {
				f->err = err;
				return 1;
			}
		}
		sz = fuse_add_direntry_plus(f->req, f->buf + f->used, rem, name, &e, next);
		if (sz > rem && e.ino)
			vglue_forget((struct node *)(uintptr_t)e.ino, 1);
	}
	if (sz > rem)
		return 1;
	f->used += sz;
	return 0;
}

void vglue_readdir(fuse_req_t req, struct node *n, size_t size, off_t off, int plus)
{
	struct fill f = {.req = req, .v = n->view, .dir = n, .size = size, .plus = plus};
	int err;

	if (!n->view->ops->readdir) {
		reply_err(req, -ENOTDIR);
		return;
	}
	f.buf = malloc(size);
	if (!f.buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	err = n->view->ops->readdir(n->view->priv, n, off, fill_one, &f);
	if (!err)
		err = f.err;
	if (err && f.used == 0)
		reply_err(req, err);
	else
		fuse_reply_buf(req, f.buf, f.used);
	free(f.buf);
}

void vglue_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct view_open o = {0};
	int err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY && !n->view->ops->write) {
		reply_err(req, -EROFS);
		return;
	}
	err = n->view->ops->open ? n->view->ops->open(n->view->priv, n, fi->flags, ctx->uid,
						      ctx->pid, &o)
				 : -ENOSYS;
	if (err) {
		reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)o.fh;
	fi->keep_cache = o.keep_cache;
	fi->direct_io = o.direct_io;
	fi->nonseekable = o.nonseekable;
	if (fuse_reply_open(req, fi) == -ENOENT && n->view->ops->release)
		n->view->ops->release(n->view->priv, n, o.fh);
}

void vglue_read(fuse_req_t req, struct node *n, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	ssize_t r;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	r = n->view->ops->read ? n->view->ops->read(n->view->priv, n, (void *)(uintptr_t)fi->fh,
						    buf, size, off)
			       : -ENOSYS;
	if (r < 0)
		reply_err(req, (int)r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

void vglue_write_buf(fuse_req_t req, struct node *n, struct fuse_bufvec *in, off_t off,
		     struct fuse_file_info *fi)
{
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	ssize_t r;

	if (!n->view->ops->write) {
		reply_err(req, -EROFS);
		return;
	}
	mem.buf[0].mem = malloc(size ? size : 1);
	if (!mem.buf[0].mem) {
		reply_err(req, -ENOMEM);
		return;
	}
	r = fuse_buf_copy(&mem, in, 0);
	if (r >= 0)
		r = n->view->ops->write(n->view->priv, n, (void *)(uintptr_t)fi->fh,
					mem.buf[0].mem, (size_t)r, off);
	free(mem.buf[0].mem);
	if (r < 0)
		reply_err(req, (int)r);
	else
		fuse_reply_write(req, (size_t)r);
}

void vglue_flush(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	int err = n->view->ops->flush
			  ? n->view->ops->flush(n->view->priv, n, (void *)(uintptr_t)fi->fh)
			  : 0;

	reply_err(req, err);
}

void vglue_release(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	if (n->view->ops->release)
		n->view->ops->release(n->view->priv, n, (void *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
