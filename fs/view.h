/*
 * view.h - the interface between the mount's FUSE layer (fs/live.c) and a *view*: a module
 * that serves one top-level name of the mount with nodes of its own, such as backups/ (the
 * snapshots), history/ (the config commits), db/ (dump on read, restore on write) or .statefs/.
 *
 * What a newcomer must know: a view never talks to FUSE. live.c receives every request, sees
 * that the node belongs to a view (node->kind == NODE_VIEW), calls the view's operation, and
 * turns the result into the reply. So a view is a plain library that unit tests can call.
 * Operations return 0 (or a byte count) on success and a negative errno on failure. An
 * operation left NULL means: reads -> -ENOSYS (-EINVAL for readlink), changes -> -EROFS.
 *
 * Node life: the view allocates its nodes (struct node with kind NODE_VIEW, view set, and its
 * own data in priv), one reference per successful lookup; forget drops references and the
 * view frees a node when none remain. The FUSE inode number is the node's address. The
 * st_ino a view reports should be stable and distinct (find(1) must not see loops).
 */
#ifndef STATEFS_VIEW_H
#define STATEFS_VIEW_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/node.h"

struct sfs;
struct view;

/* Add one directory entry; return nonzero when the reply is full (stop listing). */
typedef int (*view_fill_fn)(void *arg, const char *name, const struct stat *st, off_t next);

/* What a view answers at open: a handle and how the kernel may cache the file. */
struct view_open {
	void *fh;
	int keep_cache;  /* page cache may outlive this open (immutable content) */
	int direct_io;   /* no page cache (a stream whose size is unknown, e.g. a live dump) */
	int nonseekable; /* only sequential access makes sense */
};

struct view_ops {
	const char *name; /* the top-level name served: "backups" */

	/* Set up (at mount) and tear down (at unmount). @priv is the view's own state. init
	 * returns 1 when the config gives the view nothing to show: it is then left out. */
	int (*init)(struct sfs *fs, struct view *v, void **priv, char *err, size_t errlen);
	void (*destroy)(void *priv);

	/*
	 * Look up @name in the view's directory @parent; @parent == NULL means the root asks for
	 * the view's own top directory (and @name is ops->name). Fill @e (e->ino = the node's
	 * address as fuse_ino_t, e->attr, the timeouts) taking one reference.
	 */
	int (*lookup)(void *priv, struct node *parent, const char *name,
		      struct fuse_entry_param *e);
	void (*forget)(void *priv, struct node *n, uint64_t nlookup);
	int (*getattr)(void *priv, struct node *n, struct stat *st, double *timeout);
	int (*readlink)(void *priv, struct node *n, char *buf, size_t size);
	/* List @n from offset @off ("." and ".." included, offsets the view's own). */
	int (*readdir)(void *priv, struct node *n, off_t off, view_fill_fn fill, void *arg);

	int (*open)(void *priv, struct node *n, int flags, uid_t uid, pid_t pid,
		    struct view_open *o);
	/* Read up to @size bytes at @off into @buf: the count read (0 at the end) or -errno. */
	ssize_t (*read)(void *priv, struct node *n, void *fh, char *buf, size_t size, off_t off);
	ssize_t (*write)(void *priv, struct node *n, void *fh, const char *buf, size_t size,
			 off_t off);
	/* close(2) of a descriptor: its result is what close returns (e.g. a failed restore). */
	int (*flush)(void *priv, struct node *n, void *fh);
	void (*release)(void *priv, struct node *n, void *fh);
	/* Only truncation to 0 by open(O_TRUNC)/truncate is ever asked of a view. */
	int (*truncate)(void *priv, struct node *n, void *fh, off_t size);
};

/* A registered view, as live.c keeps it. */
struct view {
	const struct view_ops *ops;
	void *priv;
	struct sfs *fs;
};

/* The views the mount serves, in the order the root lists them (fs/views.c). */
extern const struct view_ops *const view_table[];

#endif
