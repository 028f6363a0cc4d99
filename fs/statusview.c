/*
 * statusview.c - the .statefs/ view: one read-only file, .statefs/metrics.
 *
 * Each open gathers the facts (snapshot/status.h) and renders them as Prometheus text into a
 * buffer the handle owns, so a reader always gets one consistent document, whatever it reads
 * in between. The file is served with direct_io and reported with size 0 (its size is known
 * only once made): cat, curl file://, node_exporter's textfile collector and Netdata read to
 * the end of file. The view keeps a status_cache, so a scrape does not re-read every manifest.
 */
#include "fs/statusview.h"
#include "fs/live.h"
#include "snapshot/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATUS_DIR ".statefs"
#define METRICS "metrics"
#define INO_BASE 0x5574000000000000ull

struct statusview {
	struct sfs *fs;
	struct node top, metrics;
	struct status_cache *cache;
	struct timespec started;
};

struct metrics_fh {
	char *text;
	size_t len;
};

static int sv_init(struct sfs *fs, struct view *v, void **priv, char *err, size_t errlen)
{
	struct statusview *s = calloc(1, sizeof(*s));

	(void)err;
	(void)errlen;
	if (!s)
		return -ENOMEM;
	s->cache = status_cache_new();
	if (!s->cache) {
		free(s);
		return -ENOMEM;
	}
	s->fs = fs;
	s->top = (struct node){.kind = NODE_VIEW, .view = v, .fd = -1, .mnt = -1};
	s->metrics = (struct node){.kind = NODE_VIEW, .view = v, .fd = -1, .mnt = -1};
	clock_gettime(CLOCK_REALTIME, &s->started);
	*priv = s;
	return 0;
}

static void sv_destroy(void *priv)
{
	struct statusview *s = priv;

	status_cache_free(s->cache);
	free(s);
}

static void attr_of(struct statusview *s, struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_atim = st->st_ctim = s->started;
	clock_gettime(CLOCK_REALTIME, &st->st_mtim); /* new content at every open */
	if (n == &s->top) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_ino = INO_BASE;
		return;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_ino = INO_BASE + 1;
	st->st_size = 0; /* made at open; direct_io reads to the end */
}

static int sv_lookup(void *priv, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	struct statusview *s = priv;
	struct node *n = NULL;

	if (!parent)
		n = &s->top;
	else if (parent == &s->top && !strcmp(name, METRICS))
		n = &s->metrics;
	if (!n)
		return -ENOENT;
	attr_of(s, n, &e->attr);
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr_timeout = 0;
	e->entry_timeout = 60;
	return 0;
}

static int sv_getattr(void *priv, struct node *n, struct stat *st, double *timeout)
{
	attr_of(priv, n, st);
	*timeout = 0;
	return 0;
}

static int sv_readdir(void *priv, struct node *n, off_t off, view_fill_fn fill, void *arg)
{
	struct statusview *s = priv;
	static const char *const names[] = {".", "..", METRICS};
	struct stat st;

	if (n != &s->top)
		return -ENOTDIR;
	for (off_t i = off; i < 3; i++) {
		attr_of(s, i < 2 ? &s->top : &s->metrics, &st);
		if (fill(arg, names[i], &st, i + 1))
			break;
	}
	return 0;
}

static int sv_open(void *priv, struct node *n, int flags, uid_t uid, pid_t pid, struct view_open *o)
{
	struct statusview *s = priv;
	struct status_opts so = {.skip_mount = true, .cache = s->cache};
	struct metrics_fh *h;
	struct status *st;
	char err[256];
	int r;

	(void)uid;
	(void)pid;
	if (n == &s->top)
		return -EISDIR;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	h = calloc(1, sizeof(*h));
	st = malloc(sizeof(*st));
	if (!h || !st) {
		r = -ENOMEM;
		goto fail;
	}
	r = status_gather(s->fs->tab, &so, st, err, sizeof(err));
	if (!r)
		r = status_format_prom(st, true, &h->text, &h->len);
	if (r)
		goto fail;
	free(st);
	o->fh = h;
	o->direct_io = 1;
	o->keep_cache = 0;
	return 0;
fail:
	free(st);
	free(h);
	return r;
}

static ssize_t sv_read(void *priv, struct node *n, void *fh, char *buf, size_t size, off_t off)
{
	struct metrics_fh *h = fh;

	(void)priv;
	(void)n;
	if (off < 0)
		return -EINVAL;
	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->text + off, size);
	return (ssize_t)size;
}

static void sv_release(void *priv, struct node *n, void *fh)
{
	struct metrics_fh *h = fh;

	(void)priv;
	(void)n;
	if (!h)
		return;
	free(h->text);
	free(h);
}

const struct view_ops status_view_ops = {
    .name = STATUS_DIR,
    .init = sv_init,
    .destroy = sv_destroy,
    .lookup = sv_lookup,
    .getattr = sv_getattr,
    .readdir = sv_readdir,
    .open = sv_open,
    .read = sv_read,
    .release = sv_release,
};
