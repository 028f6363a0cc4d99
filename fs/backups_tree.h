/*
 * backups_tree.h - what is inside one tree of backups/ or history/: a snapshot
 * (backups/<snapshot>/) or a config commit (history/<date>/<time-id>/), with the live tree's
 * shape. Shared by the two views, which serve their own directories above the trees and hand
 * every node of a tree to these functions.
 *
 * A snapshot's root holds the config mounts of its commit (nginx/, compose/, env/: from git,
 * modes and owners from .statefs-meta), the names of its manifest (db/NAME.sql.zst, uploads/...)
 * and .statefs-snapshot (its time, commit, status and what failed); a commit's root holds its
 * config mounts. A directory the manifest only implies (it has entries below it but no line of
 * its own) is shown 0755 root. Nodes are made when looked up, from the manifest or the git
 * tree, which are read only then: a tree costs nothing until it is looked into.
 *
 * A database dump (a manifest file db/NAME.sql.zst) is shown as its stored zstd frames
 * concatenated: a standard zstd stream, served without decompressing. Every other file is
 * shown as its content (backups_file.h).
 */
#ifndef STATEFS_BACKUPS_TREE_H
#define STATEFS_BACKUPS_TREE_H

#include <stdbool.h>

#include "fs/backups_ahead.h"
#include "fs/backups_cache.h"
#include "fs/backups_git.h"
#include "fs/backups_hide.h"
#include "fs/backups_node.h"
#include "fs/backups_snaps.h"
#include "fs/view.h"

#define BACKUPS_INFO_FILE ".statefs-snapshot"
#define BACKUPS_TTL 86400.0 /* timeouts of what never changes: a day */

/* What a view shares with the tree functions. */
struct backups_ctx {
	const char *name; /* the view's name: "backups" */
	struct backups_nodes *nodes;
	struct backups_git *git;
	struct backups_snaps *snaps; /* backups/ only, else NULL */
	struct backups_store *store; /* backups/ only, else NULL */
	struct backups_cache *cache; /* backups/ only, else NULL */
	struct backups_ahead *ahead; /* backups/ only, else NULL */
	struct backups_hide hide;    /* where the state directory would be: never shown */
};

/* Is manifest path @path a database dump, served as stored (compressed)? */
bool backups_is_dump(const char *path);

/* Fill @e for node @n, on which the caller holds the reference the entry gives the kernel. */
void backups_entry(const struct backups_node *n, struct fuse_entry_param *e);

/*
 * The root node of tree @root (id, time and commit filled), with one reference: a directory
 * 0555 root with @root's time, given @timeout. NULL on ENOMEM.
 */
struct backups_node *backups_tree_root(struct backups_ctx *c, struct backups_root *root,
				       double timeout);

/* Look up @name in @dir, a directory node of a tree (kinds BN_ROOT, BN_CFG, BN_MAN, BN_IMPL). */
int backups_tree_lookup(struct backups_ctx *c, struct backups_node *dir, const char *name,
			struct fuse_entry_param *e);

/* List @dir from @off (view.h's readdir). */
int backups_tree_readdir(struct backups_ctx *c, struct backups_node *dir, off_t off,
			 view_fill_fn fill, void *arg);

/* The target of symlink node @n into @buf (NUL-terminated). 0, -EINVAL, -ENAMETOOLONG. */
int backups_tree_readlink(struct backups_ctx *c, struct backups_node *n, char *buf, size_t size);

#endif
