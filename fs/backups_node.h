/*
 * backups_node.h - the nodes of the read-only views backups/ and history/, and the roots of
 * the trees they show (a snapshot, a config commit).
 *
 * A node is named by (root, path): the root is a tree the view serves (its id: "2025-10-01#812"
 * for a snapshot, the manifest's name and inode; a commit's hex for history) or none above the
 * trees, and the path is the path beneath it ("" for the root itself; "latest" or a date for
 * the view's own names). The same name always gives the same node while the kernel knows it,
 * and always the same st_ino, stable across mounts and distinct (find(1) sees no loop): for
 * what a snapshot's manifest holds, the manifest file's inode number and the entry's index in
 * it (backups_ino_entry: so st_ino follows the manifest's order, and cp -a, which opens a
 * directory's files in st_ino order, opens them in the order read-ahead expects); for
 * everything else a 63-bit hash of the view's name, the root's id and the path (backups_ino).
 * The two never meet (the top bit tells them apart). The FUSE inode number is the node's
 * address (fs/view.h). What a node shows is fixed when it is made: the trees are
 * immutable; only the view's own directories (backups/, history/, latest) change, and those
 * nodes are given short timeouts.
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_NODE_H
#define STATEFS_BACKUPS_NODE_H

#include <git2.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/node.h"

struct view;
struct backups_snap;

/* What a node is. */
enum backups_kind {
	BN_TOP,	   /* the view's directory: backups/, history/ */
	BN_LATEST, /* backups/latest */
	BN_DATE,   /* history/YYYY-MM-DD */
	BN_ROOT,   /* the root of a tree: backups/<snapshot>, history/<date>/<time-id> */
	BN_CFG,	   /* a config file, directory or symlink from git (oid) */
	BN_MAN,	   /* an entry of a snapshot's manifest (path) */
	BN_IMPL,   /* a directory a manifest implies (it has entries below, no line of its own) */
	BN_INFO,   /* backups/<snapshot>/.statefs-snapshot */
};

/* What a node's stat(2) shows, kept compact: there is a node per object the kernel holds. */
struct backups_attr {
	uint64_t ino; /* st_ino: set by backups_nodes_get */
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns; /* 0: the mtime */
	mode_t mode;	  /* type and permission bits */
	uid_t uid;
	gid_t gid;
};

/* @a as a struct stat: one link, times from mtime (atime too) and ctime, 512-byte blocks. */
void backups_attr_stat(const struct backups_attr *a, struct stat *st);

/* A tree the view shows: a snapshot (its manifest and config commit) or a config commit. */
struct backups_root {
	char id[96];	/* unique in the view; hashed into st_ino */
	int has_commit; /* the configs come from @commit, whose tree is @tree */
	git_oid commit, tree;
	int64_t commit_time;	   /* seconds: the commit's time (the configs' mtime) */
	int64_t time;		   /* seconds: the snapshot's or the commit's time */
	struct backups_snap *snap; /* backups/: the snapshot (a reference), else NULL */
	int refs;		   /* atomic */
};

struct backups_node {
	struct node n; /* what live.c sees: kind NODE_VIEW, view, priv = this */
	enum backups_kind kind;
	struct backups_root *root; /* a reference; NULL above the trees */
	char *path;
	struct backups_attr a;
	git_oid oid;	/* BN_CFG: the blob or tree */
	double timeout; /* entry and attribute timeout, seconds */
	/* Internal to the table. */
	struct backups_node *hnext;
	uint64_t refs;
};

struct backups_nodes;

/* A table for view @v named @name (which goes into every st_ino). 0 or -ENOMEM. */
int backups_nodes_new(struct view *v, const char *name, struct backups_nodes **out);

/* Free the table and every node left in it (at unmount). NULL is a no-op. */
void backups_nodes_free(struct backups_nodes *t);

/* The st_ino of (@name, @root_id, @path): top bit clear, never below 2^20 (live.c's own). */
uint64_t backups_ino(const char *name, const char *root_id, const char *path);

/*
 * The st_ino of entry @index of the manifest whose file has inode @file_ino (@implied: the
 * directory that entry @index, its first descendant, implies): top bit set. Distinct for
 * manifests whose inode numbers differ in their low 31 bits, and up to 2^31 entries each.
 */
uint64_t backups_ino_entry(uint64_t file_ino, size_t index, bool implied);

/* The st_ino a node (@root, @path) of table @t has or will have, unless made with its own. */
uint64_t backups_nodes_ino(struct backups_nodes *t, const struct backups_root *root,
			   const char *path);

/*
 * The node (@root, @path), taking one reference: the existing one, or a new one made from
 * @tmpl (kind, a, oid, timeout; a.ino, if 0, is set to backups_nodes_ino) that takes a
 * reference on @root.
 * NULL on ENOMEM.
 */
struct backups_node *backups_nodes_get(struct backups_nodes *t, struct backups_root *root,
				       const char *path, const struct backups_node *tmpl);

/* Drop @count references; the node is freed when none remain. */
void backups_nodes_forget(struct backups_nodes *t, struct backups_node *n, uint64_t count);

/* How many nodes the table holds (for tests and figures). */
size_t backups_nodes_count(struct backups_nodes *t);

/*
 * A new root (one reference) with @id; @snap (may be NULL) gets a reference of its own.
 * NULL on ENOMEM.
 */
struct backups_root *backups_root_new(const char *id, struct backups_snap *snap);
void backups_root_get(struct backups_root *r);
void backups_root_put(struct backups_root *r);

#endif
