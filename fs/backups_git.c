/*
 * backups_git.c - reading config commits for backups/ and history/: one read-only repository
 * handle behind a mutex, and a small cache of parsed .statefs-meta files by commit.
 */
#include "fs/backups_git.h"
#include "fs/meta.h"

#include <errno.h>
#include <fuse_log.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_CACHE 8

struct meta_slot {
	bool valid;
	git_oid commit;
	struct meta m;
	uint64_t used;
};

struct backups_git {
	pthread_mutex_t lock;
	char *path; /* STATE_DIR/config.git */
	git_repository *repo;
	struct meta_slot metas[META_CACHE];
	uint64_t clock;
};

int backups_git_new(const char *state_dir, struct backups_git **out)
{
	struct backups_git *g = calloc(1, sizeof(*g));

	if (!g || asprintf(&g->path, "%s/config.git", state_dir) < 0) {
		free(g);
		return -ENOMEM;
	}
	pthread_mutex_init(&g->lock, NULL);
	git_libgit2_init();
	*out = g;
	return 0;
}

void backups_git_free(struct backups_git *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < META_CACHE; i++)
		if (g->metas[i].valid)
			meta_free(&g->metas[i].m);
	git_repository_free(g->repo);
	git_libgit2_shutdown();
	pthread_mutex_destroy(&g->lock);
	free(g->path);
	free(g);
}

int backups_git_oid(const char *hex, git_oid *oid)
{
	if (strlen(hex) != GIT_OID_HEXSZ)
		return -EINVAL;
	for (const char *p = hex; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -EINVAL;
	return git_oid_fromstr(oid, hex) ? -EINVAL : 0;
}

static int gerr(int e)
{
	return e == GIT_ENOTFOUND ? -ENOENT : e == GIT_EBUFS ? -ENOMEM : -EIO;
}

/* The repository, opened on first use. Under g->lock. */
static int repo(struct backups_git *g)
{
	int e;

	if (g->repo)
		return 0;
	e = git_repository_open_bare(&g->repo, g->path);
	if (e) {
		g->repo = NULL;
		return -ENOENT; /* not made yet: the daemon makes it at its first commit */
	}
	return 0;
}

int backups_git_commit(struct backups_git *g, const git_oid *commit, git_oid *tree, int64_t *time)
{
	git_commit *c = NULL;
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (!ret && (ret = git_commit_lookup(&c, g->repo, commit)))
		ret = gerr(ret);
	if (!ret) {
		git_oid_cpy(tree, git_commit_tree_id(c));
		*time = (int64_t)git_commit_time(c);
	}
	git_commit_free(c);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

/* The parsed .statefs-meta of @commit (empty if it has none or it is bad). Under g->lock. */
static struct meta *meta_of(struct backups_git *g, const git_oid *commit)
{
	struct meta_slot *slot = &g->metas[0];
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_blob *b = NULL;
	const git_tree_entry *te;
	char err[256];

	for (size_t i = 0; i < META_CACHE; i++) {
		if (g->metas[i].valid && git_oid_equal(&g->metas[i].commit, commit)) {
			g->metas[i].used = ++g->clock;
			return &g->metas[i].m;
		}
		if (!g->metas[i].valid || g->metas[i].used < slot->used)
			slot = &g->metas[i];
	}
	if (slot->valid)
		meta_free(&slot->m);
	meta_init(&slot->m);
	slot->valid = true;
	slot->commit = *commit;
	slot->used = ++g->clock;
	if (git_commit_lookup(&c, g->repo, commit) || git_commit_tree(&t, c))
		goto out;
	te = git_tree_entry_byname(t, META_FILE);
	if (!te || git_tree_entry_type(te) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&b, g->repo, git_tree_entry_id(te)))
		goto out;
	if (meta_parse(&slot->m, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), err,
		       sizeof(err))) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof(hex), commit);
		fuse_log(FUSE_LOG_WARNING, "backups: %s of commit %s: %s\n", META_FILE, hex, err);
		meta_init(&slot->m);
	}
out:
	git_blob_free(b);
	git_tree_free(t);
	git_commit_free(c);
	return &slot->m;
}

static char type_of(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return 'd';
	case GIT_FILEMODE_LINK:
		return 'l';
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return 'f';
	default:
		return 0; /* a submodule: never committed by statefs */
	}
}

int backups_git_lookup(struct backups_git *g, const git_oid *commit, const git_oid *dir,
		       const char *dirpath, const char *name, struct backups_gent *out)
{
	const struct meta_entry *me;
	const git_tree_entry *te;
	git_tree *t = NULL;
	git_object_t otype;
	git_odb *odb = NULL;
	char *path = NULL;
	size_t size;
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (ret)
		goto out;
	if ((ret = git_tree_lookup(&t, g->repo, dir))) {
		ret = gerr(ret);
		goto out;
	}
	te = git_tree_entry_byname(t, name);
	if (!te || !(out->type = type_of(git_tree_entry_filemode(te)))) {
		ret = -ENOENT;
		goto out;
	}
	git_oid_cpy(&out->oid, git_tree_entry_id(te));
	out->size = 0;
	if (out->type != 'd') {
		if ((ret = git_repository_odb(&odb, g->repo)) ||
		    (ret = git_odb_read_header(&size, &otype, odb, &out->oid))) {
			ret = gerr(ret);
			goto out;
		}
		out->size = size;
	}
	out->mode = out->type == 'd'						  ? 0755
		    : out->type == 'l'						  ? 0777
		    : git_tree_entry_filemode(te) == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755
										  : 0644;
	out->uid = 0;
	out->gid = 0;
	if (asprintf(&path, "%s%s%s", dirpath, *dirpath ? "/" : "", name) < 0) {
		path = NULL;
		ret = -ENOMEM;
		goto out;
	}
	me = meta_get(meta_of(g, commit), path);
	if (me && me->type == out->type) {
		out->mode = me->mode;
		out->uid = me->uid;
		out->gid = me->gid;
	}
out:
	free(path);
	git_odb_free(odb);
	git_tree_free(t);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void backups_git_names_free(struct backups_gname *v, size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	free(idx);
}

int backups_git_list(struct backups_git *g, const git_oid *dir, size_t from,
		     struct backups_gname **out, size_t **idx, size_t *n)
{
	struct backups_gname *v = NULL;
	size_t *ix = NULL, count = 0, total;
	git_tree *t = NULL;
	int ret;

	*out = NULL;
	*idx = NULL;
	*n = 0;
	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (ret)
		goto out;
	if ((ret = git_tree_lookup(&t, g->repo, dir))) {
		ret = gerr(ret);
		goto out;
	}
	total = git_tree_entrycount(t);
	if (from >= total)
		goto out;
	v = calloc(total - from, sizeof(*v));
	ix = calloc(total - from, sizeof(*ix));
	if (!v || !ix) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = from; i < total; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		char type = type_of(git_tree_entry_filemode(te));

		if (!type)
			continue;
		v[count].name = strdup(git_tree_entry_name(te));
		if (!v[count].name) {
			ret = -ENOMEM;
			goto out;
		}
		v[count].type = type;
		ix[count++] = i;
	}
out:
	git_tree_free(t);
	pthread_mutex_unlock(&g->lock);
	if (ret) {
		backups_git_names_free(v, ix, count);
		return ret;
	}
	*out = v;
	*idx = ix;
	*n = count;
	return 0;
}

int backups_git_blob(struct backups_git *g, const git_oid *oid, void **data, size_t *len)
{
	git_blob *b = NULL;
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (!ret && (ret = git_blob_lookup(&b, g->repo, oid)))
		ret = gerr(ret);
	if (!ret) {
		*len = (size_t)git_blob_rawsize(b);
		*data = malloc(*len ? *len : 1);
		if (*data)
			memcpy(*data, git_blob_rawcontent(b), *len);
		else
			ret = -ENOMEM;
	}
	git_blob_free(b);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int backups_git_head(struct backups_git *g, git_oid *out)
{
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (!ret && git_reference_name_to_id(out, g->repo, "HEAD"))
		ret = -ENOENT;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int backups_git_walk(struct backups_git *g, const git_oid *head, const git_oid *hide,
		     int (*fn)(void *arg, const git_oid *commit, int64_t time), void *arg)
{
	git_revwalk *w = NULL;
	git_oid oid;
	int ret;

	pthread_mutex_lock(&g->lock);
	ret = repo(g);
	if (ret)
		goto out;
	if (git_revwalk_new(&w, g->repo) || git_revwalk_push(w, head) ||
	    (hide && git_revwalk_hide(w, hide))) {
		ret = -EIO;
		goto out;
	}
	git_revwalk_sorting(w, GIT_SORT_TIME);
	while (!ret && !git_revwalk_next(&oid, w)) {
		git_commit *c;

		if (git_commit_lookup(&c, g->repo, &oid)) {
			ret = -EIO;
			break;
		}
		ret = fn(arg, &oid, (int64_t)git_commit_time(c));
		git_commit_free(c);
	}
out:
	git_revwalk_free(w);
	pthread_mutex_unlock(&g->lock);
	return ret;
}
