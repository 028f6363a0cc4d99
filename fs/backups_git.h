/*
 * backups_git.h - the config history as backups/ and history/ show it: the trees of commits
 * of STATE_DIR/config.git, with the type, mode, owner and group of each path taken from the
 * commit's own .statefs-meta (fs/meta.h), so a 0600 .env is shown 0600 with its owner.
 *
 * What a newcomer must know: the daemon's committer writes to the same repository through its
 * own handle; this module opens a read-only handle of its own when first needed (the
 * repository may not exist yet at mount) and serialises every use of it with a mutex, since
 * a libgit2 repository must not be used by two threads at once. Objects committed later are
 * found (libgit2 rereads the object database when an object is missing). Nothing returned
 * points into libgit2: names and contents are copied.
 *
 * Thread safety: every function may be called from several threads.
 */
#ifndef STATEFS_BACKUPS_GIT_H
#define STATEFS_BACKUPS_GIT_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An object of a config tree with the metadata it is shown with. */
struct backups_gent {
	char type; /* 'f', 'd' or 'l' */
	git_oid oid;
	mode_t mode; /* permission bits: from .statefs-meta, else git's (0644, 0755, 0777) */
	uid_t uid;   /* from .statefs-meta, else 0 */
	gid_t gid;
	uint64_t size; /* a file's or link target's length; 0 for a directory */
};

/* A name of a tree listing. */
struct backups_gname {
	char *name;
	char type; /* 'f', 'd' or 'l' */
};

struct backups_git;

/* Serve STATE_DIR/config.git (opened when first needed). 0 or -ENOMEM. */
int backups_git_new(const char *state_dir, struct backups_git **out);
void backups_git_free(struct backups_git *g);

/* Parse 40 hex digits into @oid. 0 or -EINVAL. */
int backups_git_oid(const char *hex, git_oid *oid);

/* The tree and committer time (seconds) of @commit. 0; -ENOENT (no repository or commit). */
int backups_git_commit(struct backups_git *g, const git_oid *commit, git_oid *tree, int64_t *time);

/*
 * Look up @name in tree @dir, which is the directory @dirpath ("" for the top) of @commit:
 * its object and metadata. 0; -ENOENT; -ENOMEM; -EIO.
 */
int backups_git_lookup(struct backups_git *g, const git_oid *commit, const git_oid *dir,
		       const char *dirpath, const char *name, struct backups_gent *out);

/*
 * The entries of tree @dir from index @from on (git's order, stable: a tree never changes),
 * without submodules: a malloc'd array (*out, *n) to free with backups_git_names_free;
 * (*idx)[i] is entry i's index in the tree, for resuming. 0 or -errno.
 */
int backups_git_list(struct backups_git *g, const git_oid *dir, size_t from,
		     struct backups_gname **out, size_t **idx, size_t *n);
void backups_git_names_free(struct backups_gname *v, size_t *idx, size_t n);

/* Blob @oid's content, copied into a malloc'd buffer (*data, *len). 0 or -errno. */
int backups_git_blob(struct backups_git *g, const git_oid *oid, void **data, size_t *len);

/* The commit HEAD names. 0; -ENOENT if there is no repository or no commit yet. */
int backups_git_head(struct backups_git *g, git_oid *out);

/*
 * Call @fn for every commit reachable from @head and not from @hide (NULL: all), newest first;
 * a nonzero return of @fn stops the walk and is returned. The repository is locked meanwhile.
 */
int backups_git_walk(struct backups_git *g, const git_oid *head, const git_oid *hide,
		     int (*fn)(void *arg, const git_oid *commit, int64_t time), void *arg);

#endif
