/*
 * history.c - the history/ view: its own directory, the date directories, one directory per
 * commit; below a commit's directory every request goes to fs/backups_tree.c and
 * fs/backups_file.c, as for a snapshot without manifest.
 *
 * history/ and the dates change as commits are made, so their attributes are computed at each
 * request with short timeouts; everything below is fixed when it is made.
 */
#include "fs/history.h"
#include "fs/backups_file.h"
#include "fs/backups_tree.h"
#include "fs/history_index.h"
#include "fs/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct history {
	struct backups_ctx c;
	struct history_index *x;
	struct backups_node *top; /* history/ itself: one reference for the mount's life */
};

static void hi_destroy(void *priv)
{
	struct history *h = priv;

	if (!h)
		return;
	backups_nodes_free(h->c.nodes);
	history_index_free(h->x);
	backups_git_free(h->c.git);
	backups_hide_free(&h->c.hide);
	free(h);
}

static int hi_init(struct sfs *fs, struct view *v, void **priv, char *err, size_t errlen)
{
	struct history *h = calloc(1, sizeof(*h));
	struct backups_node t = {.kind = BN_TOP, .timeout = HISTORY_DIR_TIMEOUT};
	int ret;

	if (!h)
		return -ENOMEM;
	h->c.name = history_view_ops.name;
	ret = backups_hide_build(fs->tab, &h->c.hide);
	if (!ret)
		ret = backups_nodes_new(v, h->c.name, &h->c.nodes);
	if (!ret)
		ret = backups_git_new(fs->tab->state_dir, &h->c.git);
	if (!ret)
		ret = history_index_new(h->c.git, &h->x);
	if (!ret) {
		t.a.mode = S_IFDIR | 0555;
		h->top = backups_nodes_get(h->c.nodes, NULL, "", &t);
		ret = h->top ? 0 : -ENOMEM;
	}
	if (ret) {
		snprintf(err, errlen, "history: %s", strerror(-ret));
		hi_destroy(h);
		return ret;
	}
	*priv = h;
	return 0;
}

static struct backups_node *node(struct node *n)
{
	return n->priv;
}

/* The attributes of history/ or a date: its mtime is that of its newest commit. */
static void dir_attr(struct backups_node *n, int64_t time, struct stat *st)
{
	struct backups_attr a = n->a;

	a.mtime_ns = time * 1000000000;
	backups_attr_stat(&a, st);
}

/* The time of @date's newest commit: 0 or -ENOENT. */
static int date_time(struct history *h, const char *date, int64_t *time)
{
	struct history_commit *v;
	size_t n;
	int ret = history_index_commits(h->x, date, &v, &n);

	if (ret)
		return ret;
	*time = v[n - 1].time;
	free(v);
	return 0;
}

static int lookup_date(struct history *h, const char *name, struct fuse_entry_param *e)
{
	struct backups_node t = {.kind = BN_DATE, .timeout = HISTORY_DIR_TIMEOUT}, *n;
	int64_t time;
	int ret;

	ret = history_index_refresh(h->x);
	if (!ret)
		ret = date_time(h, name, &time);
	if (ret)
		return ret;
	t.a.mode = S_IFDIR | 0555;
	n = backups_nodes_get(h->c.nodes, NULL, name, &t);
	if (!n)
		return -ENOMEM;
	backups_entry(n, e);
	dir_attr(n, time, &e->attr);
	return 0;
}

static int lookup_commit(struct history *h, struct backups_node *date, const char *name,
			 struct fuse_entry_param *e)
{
	char hex[GIT_OID_HEXSZ + 1], cname[HISTORY_NAME_LEN];
	struct history_commit *v;
	struct backups_root *r = NULL;
	struct backups_node *n;
	size_t count, i;
	int ret;

	ret = history_index_commits(h->x, date->path, &v, &count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		history_index_name(&v[i], cname);
		if (strcmp(cname, name) == 0)
			break;
	}
	if (i == count) {
		ret = -ENOENT;
		goto out;
	}
	git_oid_tostr(hex, sizeof(hex), &v[i].oid);
	r = backups_root_new(hex, NULL);
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	r->commit = v[i].oid;
	r->time = v[i].time;
	ret = backups_git_commit(h->c.git, &r->commit, &r->tree, &r->commit_time);
	if (ret)
		goto out;
	r->has_commit = 1;
	n = backups_tree_root(&h->c, r, BACKUPS_TTL);
	if (!n) {
		ret = -ENOMEM;
		goto out;
	}
	backups_entry(n, e);
out:
	backups_root_put(r);
	free(v);
	return ret;
}

static int hi_lookup(void *priv, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct history *h = priv;
	struct backups_node *dir = parent ? node(parent) : NULL, *n;
	int64_t newest;

	if (!dir) {
		n = backups_nodes_get(h->c.nodes, NULL, "", h->top);
		if (!n)
			return -ENOMEM;
		backups_entry(n, e);
		history_index_refresh(h->x);
		history_index_ndates(h->x, &newest);
		dir_attr(n, newest, &e->attr);
		return 0;
	}
	if (dir->kind == BN_TOP)
		return lookup_date(h, name, e);
	if (dir->kind == BN_DATE)
		return lookup_commit(h, dir, name, e);
	return backups_tree_lookup(&h->c, dir, name, e);
}

static void hi_forget(void *priv, struct node *n, uint64_t nlookup)
{
	struct history *h = priv;

	backups_nodes_forget(h->c.nodes, node(n), nlookup);
}

static int hi_getattr(void *priv, struct node *nd, struct stat *st, double *timeout)
{
	struct history *h = priv;
	struct backups_node *n = node(nd);
	int64_t time;
	int ret;

	*timeout = n->timeout;
	if (n->kind == BN_TOP) {
		history_index_refresh(h->x);
		history_index_ndates(h->x, &time);
		dir_attr(n, time, st);
		return 0;
	}
	if (n->kind == BN_DATE) {
		ret = date_time(h, n->path, &time);
		if (ret)
			return ret;
		dir_attr(n, time, st);
		return 0;
	}
	backups_attr_stat(&n->a, st);
	return 0;
}

static int list_top(struct history *h, struct backups_node *n, off_t off, view_fill_fn fill,
		    void *arg)
{
	char date[HISTORY_DATE_LEN];
	struct stat st;
	int64_t time;
	int ret;

	ret = history_index_refresh(h->x);
	if (ret)
		return ret;
	history_index_ndates(h->x, &time);
	dir_attr(n, time, &st);
	if (off == 0 && fill(arg, ".", &st, 1))
		return 0;
	if (off <= 1 && fill(arg, "..", &st, 2))
		return 0;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	for (size_t i = off > 2 ? (size_t)off - 2 : 0;
	     history_index_date(h->x, i, date, &time) == 0; i++) {
		st.st_ino = (ino_t)backups_ino(h->c.name, "", date);
		if (fill(arg, date, &st, (off_t)i + 3))
			break;
	}
	return 0;
}

static int list_date(struct history *h, struct backups_node *n, off_t off, view_fill_fn fill,
		     void *arg)
{
	char hex[GIT_OID_HEXSZ + 1], name[HISTORY_NAME_LEN];
	struct history_commit *v;
	struct stat st;
	size_t count;
	int ret;

	ret = history_index_commits(h->x, n->path, &v, &count);
	if (ret)
		return ret;
	dir_attr(n, v[count - 1].time, &st);
	if (off == 0 && fill(arg, ".", &st, 1))
		goto out;
	if (off <= 1 && fill(arg, "..", &st, 2))
		goto out;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	for (size_t i = off > 2 ? (size_t)off - 2 : 0; i < count; i++) {
		git_oid_tostr(hex, sizeof(hex), &v[i].oid);
		history_index_name(&v[i], name);
		st.st_ino = (ino_t)backups_ino(h->c.name, hex, "");
		if (fill(arg, name, &st, (off_t)i + 3))
			break;
	}
out:
	free(v);
	return 0;
}

static int hi_readdir(void *priv, struct node *nd, off_t off, view_fill_fn fill, void *arg)
{
	struct history *h = priv;
	struct backups_node *n = node(nd);

	if (n->kind == BN_TOP)
		return list_top(h, n, off, fill, arg);
	if (n->kind == BN_DATE)
		return list_date(h, n, off, fill, arg);
	return backups_tree_readdir(&h->c, n, off, fill, arg);
}

static int hi_readlink(void *priv, struct node *nd, char *buf, size_t size)
{
	return backups_tree_readlink(&((struct history *)priv)->c, node(nd), buf, size);
}

static int hi_open(void *priv, struct node *nd, int flags, uid_t uid, pid_t pid,
		   struct view_open *o)
{
	(void)uid;
	(void)pid;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	return backups_file_open(&((struct history *)priv)->c, node(nd), o);
}

static ssize_t hi_read(void *priv, struct node *nd, void *fh, char *buf, size_t size, off_t off)
{
	(void)nd;
	return backups_file_read(&((struct history *)priv)->c, fh, buf, size, off);
}

static void hi_release(void *priv, struct node *nd, void *fh)
{
	(void)nd;
	backups_file_release(&((struct history *)priv)->c, fh);
}

const struct view_ops history_view_ops = {
    .name = "history",
    .init = hi_init,
    .destroy = hi_destroy,
    .lookup = hi_lookup,
    .forget = hi_forget,
    .getattr = hi_getattr,
    .readlink = hi_readlink,
    .readdir = hi_readdir,
    .open = hi_open,
    .read = hi_read,
    .release = hi_release,
};
