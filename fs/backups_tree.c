/*
 * backups_tree.c - the names inside a snapshot or a config commit: lookups and listings over
 * a git tree and a manifest.
 *
 * A manifest lists every path sorted bytewise, so a directory's descendants are one run of
 * entries, found by binary search; listing a directory walks its children and jumps over each
 * subdirectory's run (never scanning it). Listing offsets are entry indexes (manifest) or tree
 * indexes (git), stable since neither ever changes: "." is 0, ".." is 1.
 */
#include "fs/backups_tree.h"
#include "fs/backups_file.h"
#include "fs/meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool backups_is_dump(const char *path)
{
	size_t n = strlen(path);

	return strncmp(path, "db/", 3) == 0 && !strchr(path + 3, '/') && n > 7 &&
	       strcmp(path + n - 4, ".zst") == 0;
}

void backups_entry(const struct backups_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = (fuse_ino_t)(uintptr_t)&n->n;
	backups_attr_stat(&n->a, &e->attr);
	e->attr_timeout = n->timeout;
	e->entry_timeout = n->timeout;
}

static mode_t type_bits(char type)
{
	return type == 'd' ? S_IFDIR : type == 'l' ? S_IFLNK : S_IFREG;
}

/* A node of @root at @path made from @t (kind, a, oid), with the reply in @e. */
static int make(struct backups_ctx *c, struct backups_root *root, const char *path,
		struct backups_node *t, struct fuse_entry_param *e)
{
	struct backups_node *n;

	t->timeout = BACKUPS_TTL;
	n = backups_nodes_get(c->nodes, root, path, t);
	if (!n)
		return -ENOMEM;
	backups_entry(n, e);
	return 0;
}

struct backups_node *backups_tree_root(struct backups_ctx *c, struct backups_root *root,
				       double timeout)
{
	struct backups_node t = {.kind = BN_ROOT};

	t.a.mode = S_IFDIR | 0555;
	t.a.mtime_ns = root->time * 1000000000;
	t.timeout = timeout;
	return backups_nodes_get(c->nodes, root, "", &t);
}

static char *join(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0 ? NULL : p;
}

static int lookup_cfg(struct backups_ctx *c, struct backups_root *r, const git_oid *dir,
		      const char *dirpath, const char *name, struct fuse_entry_param *e)
{
	struct backups_node t = {.kind = BN_CFG};
	struct backups_gent g;
	char *path;
	int ret;

	ret = backups_git_lookup(c->git, &r->commit, dir, dirpath, name, &g);
	if (ret)
		return ret;
	path = join(dirpath, name);
	if (!path)
		return -ENOMEM;
	t.oid = g.oid;
	t.a.mode = type_bits(g.type) | g.mode;
	t.a.uid = g.uid;
	t.a.gid = g.gid;
	t.a.size = g.size;
	t.a.mtime_ns = r->commit_time * 1000000000;
	ret = make(c, r, path, &t, e);
	free(path);
	return ret;
}

static int lookup_info(struct backups_ctx *c, struct backups_root *r, struct fuse_entry_param *e)
{
	struct backups_node t = {.kind = BN_INFO};
	char *text;
	size_t len;
	int ret = backups_file_info(c, r, &text, &len);

	if (ret)
		return ret;
	free(text);
	t.a.mode = S_IFREG | 0444;
	t.a.size = len;
	t.a.mtime_ns = r->time * 1000000000;
	return make(c, r, BACKUPS_INFO_FILE, &t, e);
}

static int lookup_man(struct backups_ctx *c, struct backups_root *r, const char *path,
		      struct fuse_entry_param *e)
{
	struct backups_node t = {.kind = BN_MAN};
	const struct manifest_entry *me;
	struct backups_man *m;
	size_t i, len = strlen(path);
	char *key = NULL;
	int ret;

	ret = backups_snap_manifest(c->snaps, r->snap, &m);
	if (ret)
		return ret;
	i = backups_man_lower_bound(&m->m, 0, m->m.n, path);
	if (i < m->m.n && strcmp(m->m.v[i].path, path) == 0) {
		me = &m->m.v[i];
		t.a.ino = backups_ino_entry(r->snap->file_ino, i, false);
		t.a.mode = type_bits(me->type) | me->mode;
		t.a.uid = me->uid;
		t.a.gid = me->gid;
		t.a.size = me->size;
		t.a.mtime_ns = me->mtime_ns;
		t.a.ctime_ns = me->ctime_ns;
		if (me->type == 'f' && backups_is_dump(me->path))
			t.a.size = backups_chunks_zsize(m->chunks, i);
	} else {
		/* a directory the manifest implies: does any path start with "path/"? */
		if (asprintf(&key, "%s/", path) < 0) {
			key = NULL;
			ret = -ENOMEM;
			goto out;
		}
		i = backups_man_lower_bound(&m->m, i, m->m.n, key);
		if (i == m->m.n || strncmp(m->m.v[i].path, key, len + 1) != 0) {
			ret = -ENOENT;
			goto out;
		}
		t.kind = BN_IMPL;
		t.a.ino = backups_ino_entry(r->snap->file_ino, i, true);
		t.a.mode = S_IFDIR | 0755;
		t.a.mtime_ns = r->time * 1000000000;
	}
	ret = make(c, r, path, &t, e);
out:
	free(key);
	backups_man_put(m);
	return ret;
}

int backups_tree_lookup(struct backups_ctx *c, struct backups_node *dir, const char *name,
			struct fuse_entry_param *e)
{
	struct backups_root *r = dir->root;
	char *path;
	int ret;

	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    backups_hide_child(&c->hide, dir->path, name))
		return -ENOENT;
	switch (dir->kind) {
	case BN_ROOT:
		if (r->has_commit && strcmp(name, META_FILE) != 0) {
			ret = lookup_cfg(c, r, &r->tree, "", name, e);
			if (ret != -ENOENT)
				return ret;
		}
		if (!r->snap)
			return -ENOENT;
		if (strcmp(name, BACKUPS_INFO_FILE) == 0)
			return lookup_info(c, r, e);
		return lookup_man(c, r, name, e);
	case BN_CFG:
		if (!S_ISDIR(dir->a.mode))
			return -ENOTDIR;
		return lookup_cfg(c, r, &dir->oid, dir->path, name, e);
	case BN_MAN:
	case BN_IMPL:
		if (!S_ISDIR(dir->a.mode))
			return -ENOTDIR;
		path = join(dir->path, name);
		if (!path)
			return -ENOMEM;
		ret = lookup_man(c, r, path, e);
		free(path);
		return ret;
	default:
		return -ENOTDIR;
	}
}

/*
 * The next child of the directory whose entries start with @pre (@plen bytes; "" for the
 * top), from entry *i on, advancing *i past it and its descendants. Sets *name (into @buf for
 * an implied directory), *type, and *at and *implied for its st_ino (backups_ino_entry).
 * 0 at the end of the directory.
 */
static int next_child(const struct manifest *m, size_t *i, size_t hi, const char *pre, size_t plen,
		      char *buf, size_t cap, const char **name, char *type, size_t *at,
		      bool *implied)
{
	while (*i < hi) {
		const char *p = m->v[*i].path + plen;
		const char *slash = strchr(p, '/');
		size_t len, j;

		if (!slash) {
			*name = p;
			*at = *i;
			*implied = false;
			*type = m->v[(*i)++].type;
			return 1;
		}
		len = (size_t)(slash - p);
		if (plen + len + 2 > cap) {
			(*i)++; /* cannot happen: paths are bounded by the manifest's lines */
			continue;
		}
		/* jump over the run of "pre/name/...", which starts here */
		*at = *i;
		*implied = true;
		memcpy(buf, pre, plen);
		memcpy(buf + plen, p, len);
		buf[plen + len] = '0'; /* the byte after '/' */
		buf[plen + len + 1] = '\0';
		*i = backups_man_lower_bound(m, *i, hi, buf);
		/* shown already if "pre/name" has a line of its own (it sorts before the run) */
		buf[plen + len] = '\0';
		j = backups_man_lower_bound(m, 0, hi, buf);
		if (j < hi && strcmp(m->v[j].path, buf) == 0)
			continue;
		memmove(buf, buf + plen, len + 1);
		*name = buf;
		*type = 'd';
		return 1;
	}
	return 0;
}

/* One entry of a listing, with st_ino @ino (0: hashed); nonzero when the reply is full. */
static int emit(struct backups_ctx *c, struct backups_root *r, const char *dirpath,
		const char *name, char type, uint64_t ino, off_t next, view_fill_fn fill, void *arg)
{
	struct stat st;
	char *path;

	if (backups_hide_child(&c->hide, dirpath, name))
		return 0;
	path = ino ? NULL : join(dirpath, name);
	if (!ino && !path)
		return -ENOMEM;
	memset(&st, 0, sizeof(st));
	st.st_mode = type_bits(type);
	st.st_ino = (ino_t)(ino ? ino : backups_nodes_ino(c->nodes, r, path));
	free(path);
	return fill(arg, name, &st, next) ? 1 : 0;
}

/* List the manifest directory @dirpath ("" for the top) of @r from @off. */
static int list_man(struct backups_ctx *c, struct backups_root *r, const char *dirpath, off_t off,
		    view_fill_fn fill, void *arg)
{
	struct backups_man *m;
	size_t lo, hi, i, plen;
	char *pre = NULL, *buf = NULL;
	const char *name;
	bool implied;
	size_t at;
	char type;
	int ret;

	ret = backups_snap_manifest(c->snaps, r->snap, &m);
	if (ret)
		return ret;
	if (asprintf(&pre, "%s%s", dirpath, *dirpath ? "/" : "") < 0) {
		pre = NULL;
		ret = -ENOMEM;
		goto out;
	}
	plen = strlen(pre);
	buf = malloc(65536);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	lo = backups_man_lower_bound(&m->m, 0, m->m.n, pre);
	if (plen) {
		pre[plen - 1] = '0';
		hi = backups_man_lower_bound(&m->m, lo, m->m.n, pre);
		pre[plen - 1] = '/';
	} else {
		hi = m->m.n;
	}
	i = off >= 3 && (size_t)(off - 3) > lo ? (size_t)(off - 3) : lo;
	while (next_child(&m->m, &i, hi, pre, plen, buf, 65536, &name, &type, &at, &implied)) {
		ret = emit(c, r, dirpath, name, type,
			   backups_ino_entry(r->snap->file_ino, at, implied), (off_t)i + 3, fill,
			   arg);
		if (ret)
			break;
	}
	ret = ret > 0 ? 0 : ret;
out:
	free(buf);
	free(pre);
	backups_man_put(m);
	return ret;
}

static int list_cfg(struct backups_ctx *c, struct backups_root *r, const git_oid *tree,
		    const char *dirpath, off_t off, view_fill_fn fill, void *arg)
{
	struct backups_gname *v;
	size_t n, *idx;
	int ret;

	ret = backups_git_list(c->git, tree, off >= 2 ? (size_t)off - 2 : 0, &v, &idx, &n);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && !ret; i++)
		if (*dirpath || strcmp(v[i].name, META_FILE) != 0)
			ret = emit(c, r, dirpath, v[i].name, v[i].type, 0, (off_t)idx[i] + 3, fill,
				   arg);
	backups_git_names_free(v, idx, n);
	return ret > 0 ? 0 : ret;
}

/* A tree's root lists its config mounts, .statefs-snapshot, then the manifest's top names. */
struct item {
	char *name;
	char type;
	uint64_t ino; /* 0: hashed */
};

struct items {
	struct item *v;
	size_t n;
	int err;
};

static int add_name(struct items *it, const char *name, char type, uint64_t ino)
{
	struct item *nv;

	for (size_t i = 0; i < it->n; i++)
		if (strcmp(it->v[i].name, name) == 0)
			return 0; /* a config name wins over the manifest's, as in lookup */
	nv = reallocarray(it->v, it->n + 1, sizeof(*nv));
	if (!nv || !(nv[it->n].name = strdup(name))) {
		it->v = nv ? nv : it->v;
		it->err = -ENOMEM;
		return 1;
	}
	it->v = nv;
	nv[it->n].ino = ino;
	nv[it->n++].type = type;
	return 0;
}

static int add_item(void *arg, const char *name, const struct stat *st, off_t next)
{
	char type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'f';

	(void)next;
	return add_name(arg, name, type, st->st_ino);
}

static int list_root(struct backups_ctx *c, struct backups_root *r, off_t off, view_fill_fn fill,
		     void *arg)
{
	struct items it = {0};
	int ret = 0;

	if (r->has_commit)
		ret = list_cfg(c, r, &r->tree, "", 0, add_item, &it);
	if (!ret && r->snap && !add_name(&it, BACKUPS_INFO_FILE, 'f', 0))
		ret = list_man(c, r, "", 0, add_item, &it);
	if (!ret)
		ret = it.err;
	for (size_t k = off >= 2 ? (size_t)off - 2 : 0; k < it.n && !ret; k++)
		ret = emit(c, r, "", it.v[k].name, it.v[k].type, it.v[k].ino, (off_t)k + 3, fill,
			   arg);
	for (size_t k = 0; k < it.n; k++)
		free(it.v[k].name);
	free(it.v);
	return ret > 0 ? 0 : ret;
}

int backups_tree_readdir(struct backups_ctx *c, struct backups_node *dir, off_t off,
			 view_fill_fn fill, void *arg)
{
	struct stat st;

	if (!S_ISDIR(dir->a.mode))
		return -ENOTDIR;
	backups_attr_stat(&dir->a, &st);
	if (off == 0 && fill(arg, ".", &st, 1))
		return 0;
	if (off <= 1 && fill(arg, "..", &st, 2))
		return 0;
	switch (dir->kind) {
	case BN_ROOT:
		return list_root(c, dir->root, off, fill, arg);
	case BN_CFG:
		return list_cfg(c, dir->root, &dir->oid, dir->path, off, fill, arg);
	case BN_MAN:
	case BN_IMPL:
		return list_man(c, dir->root, dir->path, off, fill, arg);
	default:
		return -ENOTDIR;
	}
}

int backups_tree_readlink(struct backups_ctx *c, struct backups_node *n, char *buf, size_t size)
{
	const struct manifest_entry *me;
	struct backups_man *m;
	void *data;
	size_t len, i;
	int ret;

	if (!S_ISLNK(n->a.mode))
		return -EINVAL;
	if (n->kind == BN_CFG) {
		ret = backups_git_blob(c->git, &n->oid, &data, &len);
		if (ret)
			return ret;
		if (len >= size || memchr(data, '\0', len)) {
			free(data);
			return len >= size ? -ENAMETOOLONG : -EIO;
		}
		memcpy(buf, data, len);
		buf[len] = '\0';
		free(data);
		return 0;
	}
	ret = backups_snap_manifest(c->snaps, n->root->snap, &m);
	if (ret)
		return ret;
	i = backups_man_lower_bound(&m->m, 0, m->m.n, n->path);
	me = i < m->m.n && strcmp(m->m.v[i].path, n->path) == 0 ? &m->m.v[i] : NULL;
	if (!me || me->type != 'l')
		ret = -EIO;
	else if (strlen(me->target) >= size)
		ret = -ENAMETOOLONG;
	else
		snprintf(buf, size, "%s", me->target);
	backups_man_put(m);
	return ret;
}
