/*
 * dbview.c - the db/ view: one file per configured database, db/NAME.sql.zst.
 *
 * Reading it streams a fresh consistent dump (fs/dbstream.c); writing a dump onto it restores
 * the database (fs/dbrestore.c). The nodes live as long as the mount: there are few, and
 * their number is fixed by the config.
 */
#include "fs/dbview.h"
#include "fs/dbrestore.h"
#include "fs/dbstream.h"
#include "fs/live.h"
#include "restore/load.h"

#include <fuse_log.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dbview {
	struct sfs *fs;
	struct node top;
	struct node *files; /* one per database, in config order */
	size_t n;
	struct timespec started;
	double timeout;
};

/* What an open file of the view is: a dump being read or a restore being written. */
struct dbhandle {
	struct dbstream *stream;
	struct dbrestore *restore;
};

/* At start-up: drop what restores interrupted by a crash left on the servers. On a thread,
 * so that a database that is down does not hold up the mount. */
static void *cleanup_stale(void *arg)
{
	const struct mtab *tab = arg;

	for (size_t i = 0; i < tab->ndbs; i++) {
		char err[512] = "";
		unsigned dropped = 0;

		if (restore_cleanup_stale(&tab->dbs[i], &dropped, err, sizeof(err)))
			fuse_log(FUSE_LOG_WARNING, "statefs: db/%s.sql.zst: cannot look for a "
				 "crashed restore's leftovers: %s\n", tab->dbs[i].name, err);
		else if (dropped)
			fuse_log(FUSE_LOG_INFO, "statefs: db/%s.sql.zst: dropped %u staging "
				 "database(s) left by an interrupted restore\n", tab->dbs[i].name,
				 dropped);
	}
	return NULL;
}

static int dbv_init(struct sfs *fs, struct view *v, void **priv, char *err, size_t errlen)
{
	struct dbview *d = calloc(1, sizeof(*d));

	(void)err;
	(void)errlen;
	if (!fs->tab->ndbs) {
		free(d);
		return 1; /* no [database] in the config: no db/ */
	}
	if (!d)
		return -ENOMEM;
	d->fs = fs;
	d->n = fs->tab->ndbs;
	d->files = calloc(d->n ? d->n : 1, sizeof(*d->files));
	if (!d->files) {
		free(d);
		return -ENOMEM;
	}
	d->top.kind = NODE_VIEW;
	d->top.view = v;
	d->top.fd = -1;
	d->top.mnt = -1;
	for (size_t i = 0; i < d->n; i++) {
		d->files[i].kind = NODE_VIEW;
		d->files[i].view = v;
		d->files[i].fd = -1;
		d->files[i].mnt = -1;
		d->files[i].priv = &fs->tab->dbs[i];
	}
	clock_gettime(CLOCK_REALTIME, &d->started);
	d->timeout = 1.0;
	*priv = d;
	pthread_t t;

	if (pthread_create(&t, NULL, cleanup_stale, fs->tab) == 0)
		pthread_detach(t);
	return 0;
}

static void dbv_destroy(void *priv)
{
	struct dbview *d = priv;

	free(d->files);
	free(d);
}

static void attr_of(struct dbview *d, struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_atim = st->st_mtim = st->st_ctim = d->started;
	if (n == &d->top) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_ino = 0x5db0000000000000ull;
		return;
	}
	/* a dump is private: root only, as the credentials that make it */
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_ino = 0x5db0000000000001ull + (ino_t)(n - d->files);
	st->st_size = 0; /* made on demand: its size is known only at its end */
}

static int dbv_lookup(void *priv, struct node *parent, const char *name,
		      struct fuse_entry_param *e)
{
	struct dbview *d = priv;
	struct node *n = NULL;

	if (!parent) {
		n = &d->top;
	} else if (parent == &d->top) {
		for (size_t i = 0; i < d->n && !n; i++) {
			size_t l = strlen(d->fs->tab->dbs[i].name);

			if (strncmp(name, d->fs->tab->dbs[i].name, l) == 0 &&
			    strcmp(name + l, ".sql.zst") == 0)
				n = &d->files[i];
		}
	}
	if (!n)
		return -ENOENT;
	attr_of(d, n, &e->attr);
	e->ino = (fuse_ino_t)(uintptr_t)n;
	e->attr_timeout = d->timeout;
	e->entry_timeout = d->timeout;
	return 0;
}

static int dbv_getattr(void *priv, struct node *n, struct stat *st, double *timeout)
{
	struct dbview *d = priv;

	attr_of(d, n, st);
	*timeout = d->timeout;
	return 0;
}

static int dbv_readdir(void *priv, struct node *n, off_t off, view_fill_fn fill, void *arg)
{
	struct dbview *d = priv;
	char name[300];
	struct stat st;

	if (n != &d->top)
		return -ENOTDIR;
	for (off_t i = off; i < (off_t)d->n + 2; i++) {
		if (i < 2) {
			attr_of(d, &d->top, &st);
			if (fill(arg, i ? ".." : ".", &st, i + 1))
				break;
			continue;
		}
		attr_of(d, &d->files[i - 2], &st);
		snprintf(name, sizeof(name), "%s.sql.zst", d->fs->tab->dbs[i - 2].name);
		if (fill(arg, name, &st, i + 1))
			break;
	}
	return 0;
}

static int dbv_open(void *priv, struct node *n, int flags, uid_t uid, pid_t pid,
		    struct view_open *o)
{
	struct dbview *d = priv;
	struct dbhandle *h;
	char err[512] = "";
	int r;

	(void)uid;
	if (n == &d->top)
		return -EISDIR;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if ((flags & O_ACCMODE) == O_RDONLY)
		r = dbstream_open(n->priv, &h->stream, err, sizeof(err));
	else if ((flags & O_ACCMODE) == O_WRONLY)
		r = dbrestore_open(d->fs->tab, n->priv, pid, &h->restore, err, sizeof(err));
	else
		r = -EINVAL; /* reading and writing a database at once makes no sense */
	if (r) {
		if (err[0])
			fuse_log(FUSE_LOG_ERR, "statefs: db/%s.sql.zst: %s\n",
				 ((struct mtab_database *)n->priv)->name, err);
		free(h);
		return r;
	}
	o->fh = h;
	o->direct_io = 1;
	o->nonseekable = 1;
	return 0;
}

static ssize_t dbv_read(void *priv, struct node *n, void *fh, char *buf, size_t size, off_t off)
{
	struct dbhandle *h = fh;

	(void)priv;
	(void)n;
	if (!h->stream)
		return -EBADF;
	return dbstream_read(h->stream, buf, size, off);
}

static ssize_t dbv_write(void *priv, struct node *n, void *fh, const char *buf, size_t size,
			 off_t off)
{
	struct dbhandle *h = fh;

	(void)priv;
	(void)n;
	if (!h->restore)
		return -EBADF;
	return dbrestore_write(h->restore, buf, size, off);
}

static int dbv_flush(void *priv, struct node *n, void *fh)
{
	struct dbhandle *h = fh;

	(void)priv;
	(void)n;
	return h->restore ? dbrestore_finish(h->restore) : 0;
}

static void dbv_release(void *priv, struct node *n, void *fh)
{
	struct dbhandle *h = fh;

	(void)priv;
	(void)n;
	dbstream_close(h->stream);
	dbrestore_close(h->restore);
	free(h);
}

static int dbv_truncate(void *priv, struct node *n, void *fh, off_t size)
{
	(void)priv;
	(void)n;
	(void)fh;
	/* cp opens with O_TRUNC: the restore starts from nothing anyway */
	return size == 0 ? 0 : -EINVAL;
}

const struct view_ops db_view_ops = {
	.name = "db",
	.init = dbv_init,
	.destroy = dbv_destroy,
	.lookup = dbv_lookup,
	.getattr = dbv_getattr,
	.readdir = dbv_readdir,
	.open = dbv_open,
	.read = dbv_read,
	.write = dbv_write,
	.flush = dbv_flush,
	.release = dbv_release,
	.truncate = dbv_truncate,
};
