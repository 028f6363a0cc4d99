/*
 * backups.c - the backups/ view: its own directory, `latest`, one directory per snapshot;
 * below a snapshot's directory every request goes to fs/backups_tree.c or fs/backups_file.c.
 *
 * The one thing to know: backups/ and latest are the only nodes whose attributes change
 * (snapshots come and go), so they are computed at each request and given short timeouts;
 * every other node's attributes are fixed when it is made.
 */
#include "fs/backups.h"
#include "fs/backups_file.h"
#include "fs/backups_tree.h"
#include "fs/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct backups {
	struct backups_ctx c;
	struct backups_node *top; /* backups/ itself: one reference for the mount's life */
};

static int load_chunk(void *arg, const struct store_hash *h, void **out, size_t *len)
{
	return backups_store_get(arg, h, out, len);
}

static void bk_destroy(void *priv)
{
	struct backups *b = priv;

	if (!b)
		return;
	backups_nodes_free(b->c.nodes); /* drops the roots' references on snapshots */
	backups_ahead_free(b->c.ahead);
	backups_cache_free(b->c.cache);
	backups_store_free(b->c.store);
	backups_snaps_free(b->c.snaps);
	backups_git_free(b->c.git);
	backups_hide_free(&b->c.hide);
	free(b);
}

static int bk_init(struct sfs *fs, struct view *v, void **priv, char *err, size_t errlen)
{
	struct backups *b = calloc(1, sizeof(*b));
	struct backups_node t = {.kind = BN_TOP, .timeout = BACKUPS_DIR_TIMEOUT};
	const char *dir = fs->tab->state_dir;
	int ret;

	if (!b)
		return -ENOMEM;
	b->c.name = backups_view_ops.name;
	ret = backups_hide_build(fs->tab, &b->c.hide);
	if (!ret)
		ret = backups_nodes_new(v, b->c.name, &b->c.nodes);
	if (!ret)
		ret = backups_git_new(dir, &b->c.git);
	if (!ret)
		ret = backups_snaps_new(dir, 0, 0, &b->c.snaps);
	if (!ret)
		ret = backups_store_new(dir, &b->c.store);
	if (!ret)
		ret = backups_cache_new(BACKUPS_CACHE_BYTES, load_chunk, b->c.store, &b->c.cache);
	if (!ret)
		ret = backups_ahead_new(b->c.store, &b->c.ahead);
	if (!ret) {
		t.a.mode = S_IFDIR | 0555;
		b->top = backups_nodes_get(b->c.nodes, NULL, "", &t);
		ret = b->top ? 0 : -ENOMEM;
	}
	if (ret) {
		snprintf(err, errlen, "backups: %s", strerror(-ret));
		bk_destroy(b);
		return ret;
	}
	*priv = b;
	return 0;
}

static struct backups_node *node(struct node *n)
{
	return n->priv;
}

/* The time a snapshot name says (local midnight for "YYYY-MM-DD"). */
static int64_t name_time(const char *name)
{
	struct tm tm = {0};

	if (sscanf(name, "%4d-%2d-%2d_%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) < 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* The attributes of backups/ now: its mtime is the snapshots directory's. */
static void top_attr(struct backups *b, struct stat *st)
{
	struct timespec mt;

	backups_snaps_refresh(b->c.snaps, NULL);
	backups_snaps_count(b->c.snaps, &mt);
	backups_attr_stat(&b->top->a, st);
	st->st_mtim = st->st_ctim = st->st_atim = mt;
}

/* The attributes of latest now (@ino its st_ino), and its target in @target. */
static int latest_attr(struct backups *b, uint64_t ino, struct backups_attr *a, char *target)
{
	struct backups_snap *p;
	int ret;

	backups_snaps_refresh(b->c.snaps, NULL);
	ret = backups_snaps_latest(b->c.snaps, &p);
	if (ret)
		return ret;
	snprintf(target, MANIFEST_NAME_MAX, "%s", p->name);
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = S_IFLNK | 0777;
	a->size = strlen(target);
	a->mtime_ns =
	    (backups_snap_head(b->c.snaps, p) ? name_time(p->name) : p->time) * 1000000000;
	backups_snap_put(p);
	return 0;
}

/*
 * The directory node of snapshot @name (one reference). A snapshot whose header cannot be
 * read is still shown (dated by its name), so one damaged manifest does not break the
 * listing of backups/; what is inside it then fails with EIO.
 */
static int lookup_snap(struct backups *b, const char *name, struct fuse_entry_param *e)
{
	struct backups_snap *p;
	struct backups_root *r;
	struct backups_node *n;
	int ret;

	ret = backups_snaps_find(b->c.snaps, name, &p);
	if (ret)
		return ret;
	ret = backups_snap_head(b->c.snaps, p);
	if (ret == -ENOENT || ret == -ENOMEM)
		goto out; /* pruned meanwhile */
	r = backups_root_new(p->id, p);
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	r->time = ret ? name_time(p->name) : p->time;
	if (!ret && p->commit[0] && backups_git_oid(p->commit, &r->commit) == 0 &&
	    backups_git_commit(b->c.git, &r->commit, &r->tree, &r->commit_time) == 0)
		r->has_commit = 1;
	n = backups_tree_root(&b->c, r, BACKUPS_DIR_TIMEOUT);
	backups_root_put(r);
	ret = n ? 0 : -ENOMEM;
	if (n)
		backups_entry(n, e);
out:
	backups_snap_put(p);
	return ret;
}

static int bk_lookup(void *priv, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct backups *b = priv;
	struct backups_node *dir = parent ? node(parent) : NULL, *n;
	struct backups_node t = {.kind = BN_LATEST, .timeout = BACKUPS_DIR_TIMEOUT};
	char target[MANIFEST_NAME_MAX];
	int ret;

	if (!dir) {
		n = backups_nodes_get(b->c.nodes, NULL, "", b->top); /* one more reference */
		if (!n)
			return -ENOMEM;
		backups_entry(n, e);
		top_attr(b, &e->attr);
		return 0;
	}
	if (dir->kind != BN_TOP)
		return backups_tree_lookup(&b->c, dir, name, e);
	ret = backups_snaps_refresh(b->c.snaps, NULL);
	if (ret)
		return ret;
	if (strcmp(name, "latest") == 0) {
		ret = latest_attr(b, backups_ino(b->c.name, "", "latest"), &t.a, target);
		if (ret)
			return ret;
		n = backups_nodes_get(b->c.nodes, NULL, "latest", &t);
		if (!n)
			return -ENOMEM;
		backups_entry(n, e);
		backups_attr_stat(&t.a, &e->attr);
		return 0;
	}
	if (!manifest_name_valid(name))
		return -ENOENT;
	return lookup_snap(b, name, e);
}

static void bk_forget(void *priv, struct node *n, uint64_t nlookup)
{
	struct backups *b = priv;

	backups_nodes_forget(b->c.nodes, node(n), nlookup);
}

static int bk_getattr(void *priv, struct node *nd, struct stat *st, double *timeout)
{
	struct backups *b = priv;
	struct backups_node *n = node(nd);
	char target[MANIFEST_NAME_MAX];
	struct backups_attr a;
	int ret = 0;

	*timeout = n->timeout;
	if (n->kind == BN_TOP) {
		top_attr(b, st);
		return 0;
	}
	a = n->a;
	if (n->kind == BN_LATEST)
		ret = latest_attr(b, n->a.ino, &a, target);
	if (!ret)
		backups_attr_stat(&a, st);
	return ret;
}

static int bk_readlink(void *priv, struct node *nd, char *buf, size_t size)
{
	struct backups *b = priv;
	struct backups_node *n = node(nd);
	char target[MANIFEST_NAME_MAX];
	struct backups_attr a;
	int ret;

	if (n->kind != BN_LATEST)
		return backups_tree_readlink(&b->c, n, buf, size);
	ret = latest_attr(b, n->a.ino, &a, target);
	if (!ret && strlen(target) >= size)
		ret = -ENAMETOOLONG;
	if (!ret)
		snprintf(buf, size, "%s", target);
	return ret;
}

/* backups/: ".", "..", latest (offset 2), then the snapshots (offset 3 + index). */
static int list_top(struct backups *b, off_t off, view_fill_fn fill, void *arg)
{
	struct backups_snap *p;
	struct stat st;
	size_t n;
	int ret;

	ret = backups_snaps_refresh(b->c.snaps, NULL);
	if (ret)
		return ret;
	top_attr(b, &st);
	if (off == 0 && fill(arg, ".", &st, 1))
		return 0;
	if (off <= 1 && fill(arg, "..", &st, 2))
		return 0;
	n = backups_snaps_count(b->c.snaps, NULL);
	memset(&st, 0, sizeof(st));
	if (n && off <= 2) {
		st.st_mode = S_IFLNK;
		st.st_ino = (ino_t)backups_ino(b->c.name, "", "latest");
		if (fill(arg, "latest", &st, 3))
			return 0;
	}
	for (size_t i = off > 3 ? (size_t)off - 3 : 0; backups_snaps_at(b->c.snaps, i, &p) == 0;
	     i++) {
		int full;

		st.st_mode = S_IFDIR;
		st.st_ino = (ino_t)backups_ino(b->c.name, p->id, "");
		full = fill(arg, p->name, &st, (off_t)i + 4);
		backups_snap_put(p);
		if (full)
			break;
	}
	return 0;
}

static int bk_readdir(void *priv, struct node *nd, off_t off, view_fill_fn fill, void *arg)
{
	struct backups *b = priv;
	struct backups_node *n = node(nd);

	if (n->kind == BN_TOP)
		return list_top(b, off, fill, arg);
	if (n->kind == BN_LATEST)
		return -ENOTDIR;
	return backups_tree_readdir(&b->c, n, off, fill, arg);
}

static int bk_open(void *priv, struct node *nd, int flags, uid_t uid, pid_t pid,
		   struct view_open *o)
{
	struct backups *b = priv;

	(void)uid;
	(void)pid;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))
		return -EROFS;
	return backups_file_open(&b->c, node(nd), o);
}

static ssize_t bk_read(void *priv, struct node *nd, void *fh, char *buf, size_t size, off_t off)
{
	(void)nd;
	return backups_file_read(&((struct backups *)priv)->c, fh, buf, size, off);
}

static void bk_release(void *priv, struct node *nd, void *fh)
{
	(void)nd;
	backups_file_release(&((struct backups *)priv)->c, fh);
}

void backups_view_stats(void *priv, struct backups_view_stats *out)
{
	struct backups *b = priv;

	memset(out, 0, sizeof(*out));
	out->snapshots = backups_snaps_count(b->c.snaps, NULL);
	backups_snaps_parsed(b->c.snaps, &out->parsed, &out->parsed_total);
	out->nodes = backups_nodes_count(b->c.nodes);
	out->warmed = backups_ahead_drain(b->c.ahead) + backups_store_warmed(b->c.store);
	backups_cache_drain(b->c.cache);
	backups_cache_stats(b->c.cache, &out->cache);
}

const struct view_ops backups_view_ops = {
    .name = "backups",
    .init = bk_init,
    .destroy = bk_destroy,
    .lookup = bk_lookup,
    .forget = bk_forget,
    .getattr = bk_getattr,
    .readlink = bk_readlink,
    .readdir = bk_readdir,
    .open = bk_open,
    .read = bk_read,
    .release = bk_release,
};
