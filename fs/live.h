/*
 * live.h - the FUSE low-level operations of the mount: the root, the live trees, plain trees.
 *
 * The operations translate a request, call into node/vcs, and reply; they hold no policy of
 * their own beyond what a name is shown as (the mount table's kinds).
 */
#ifndef STATEFS_LIVE_H
#define STATEFS_LIVE_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include "fs/node.h"
#include "fs/vcs.h"
#include "mountpoints/mtab.h"

struct view;

struct sfs {
	struct mtab *tab;
	struct view *views; /* the views (fs/view.h) serving their top-level names */
	size_t nviews;
	struct node_table *nodes;
	struct vcs *vcs;
	struct fuse_session *se;
	int **base_fd;      /* per mount: [0] = the base dir (tree: source, files: glob prefix);
			     * plain: one per label */
	dev_t state_dev;    /* the state directory, never shown even if under a source */
	ino_t state_ino;
	double timeout;     /* entry and attribute timeout, seconds */
	int debug;
	struct prefetch *prefetch; /* reads ahead what versioned listings name (NULL: none) */
};

extern const struct fuse_lowlevel_ops live_ops;

/* Open the base directories of every mount. 0 or -errno with a message. */
int live_open_bases(struct sfs *fs, char *err, size_t errlen);
void live_close_bases(struct sfs *fs);

/* Set up every view of view_table (fs/views.c), and tear them down. */
int live_views_init(struct sfs *fs, char *err, size_t errlen);
void live_views_destroy(struct sfs *fs);

/*
 * Something changed @name in the real directory @dir of mount @mnt outside the mount (seen by
 * inotify): drop what the kernel caches of it.
 */
void live_invalidate(struct sfs *fs, int mnt, int dirfd, const char *name);

#endif
