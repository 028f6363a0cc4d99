/*
 * node.h - the inode table of the live tree.
 *
 * Every object the kernel knows is a node: the virtual root, the virtual directory of a plain
 * mount, or a real file or directory held open by an O_PATH descriptor. A real node is keyed
 * by (mount index, st_dev, st_ino): the same directory may be shown under two mounts with
 * different filters (compose/x and env/x are both /opt/x), and each is its own node.
 * The FUSE inode number is the node's address, as in libfuse's passthrough_ll.
 */
#ifndef STATEFS_NODE_H
#define STATEFS_NODE_H

#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/stat.h>

enum node_kind {
	NODE_ROOT,  /* the mount's root: lists the mount table's names */
	NODE_PLAIN, /* a plain mount's own directory: lists its labels */
	NODE_REAL,  /* a backing object, held by fd */
	NODE_VIEW,  /* a node of a view (fs/view.h): backups/, history/, db/ ... */
};

struct view;

struct node {
	enum node_kind kind;
	int fd;       /* O_PATH|O_NOFOLLOW; -1 for virtual nodes */
	dev_t dev;
	ino_t ino;
	int mnt;      /* index in the mount table; -1 for the root */
	int depth;    /* components below the mount's base directory (base = 0) */
	uint64_t nlookup;
	/* Where the kernel last saw it, for naming changes in commits (guarded by the table lock). */
	struct node *parent;
	char *name;
	struct node *hnext;
	/* NODE_VIEW only: the view that owns the node, and the view's own data. */
	struct view *view;
	void *priv;
};

struct node_table;

int node_table_new(struct node_table **out);
void node_table_free(struct node_table *t);

/* The root node (FUSE_ROOT_ID). */
struct node *node_root(struct node_table *t);

/*
 * Find the real node for (mnt, st) or make one that takes ownership of @fd (closed if a node
 * already existed). Adds one kernel lookup reference. Returns NULL on ENOMEM (fd closed).
 */
struct node *node_get_real(struct node_table *t, int mnt, int depth, int fd, const struct stat *st,
			   struct node *parent, const char *name);

/* The virtual node of plain mount @mnt, adding a lookup reference. NULL on ENOMEM. */
struct node *node_get_plain(struct node_table *t, int mnt);

/*
 * Remember that the object (mnt, dev, ino) was made through the mount, so a files view shows
 * it though the glob does not match (an editor's temp file), even after the kernel forgot its
 * node. The memory is bounded (the last NODE_CREATED_MAX objects).
 */
#define NODE_CREATED_MAX 4096
void node_mark_created(struct node_table *t, int mnt, dev_t dev, ino_t ino);
int node_was_created(struct node_table *t, int mnt, dev_t dev, ino_t ino);

/*
 * The FUSE inode number of the real node (mnt, dev, ino), or 0: for threads that are not
 * serving a request (the watcher), which must not touch a node the kernel may forget at any
 * moment. The number may be stale by the time it is used; only cache invalidations take it.
 */
uint64_t node_find_id(struct node_table *t, int mnt, dev_t dev, ino_t ino);

/* Find without adding a reference (NULL if unknown). */
struct node *node_find(struct node_table *t, int mnt, dev_t dev, ino_t ino);

/* Drop @n kernel references; frees the node when none remain. */
void node_forget(struct node_table *t, struct node *n, uint64_t count);

/* After a rename: the node of (mnt, dev, ino), if any, is now @name in @parent. */
void node_renamed(struct node_table *t, int mnt, dev_t dev, ino_t ino, struct node *parent,
		  const char *name);

/* Record that @n is now known as @name in @parent (after a lookup or a rename). */
void node_set_name(struct node_table *t, struct node *n, struct node *parent, const char *name);

/*
 * The path of real node @dir (a directory, or a file by the name it was last seen under)
 * relative to its mount's base ("" for the base itself), written to @buf under the lock.
 * Returns the length, or -ENAMETOOLONG if it does not fit, -ENOENT for a virtual node.
 */
int node_relpath(struct node_table *t, struct node *dir, char *buf, size_t size);

#endif
