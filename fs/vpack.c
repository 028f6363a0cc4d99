/*
 * vpack.c - how objects reach the disk, and how the repository stays compact.
 *
 * On the committer thread, a commit's new objects gather in an in-memory backend and go to
 * disk as one small pack, fsync'd, before the branch moves: two fsyncs for the pack and its
 * index instead of two per loose object.
 *
 * Compaction never runs on the committer. Every pack_every commits, vcs_maint.c starts
 * `statefs __pack GITDIR PPID`, a child process that runs vcs_pack_main: the daemon's memory
 * stays as it was, and a slow merge never holds a commit back. The child merges geometrically,
 * as `git repack --geometric=2` does: sorted by object count, each pack must hold at least
 * twice as many objects as all the smaller ones together; the smallest packs that break this
 * progression, and all loose objects (the check notes, older versions), are rolled up into
 * one new pack. So a merge mostly rewrites recent objects, and the pack of the old history is
 * rewritten only when what came after it has grown to half its size.
 *
 * The one thing to know: nothing is deleted before the new pack is written and fsync'd, and a
 * pack or a loose object is deleted only once each of its objects was found in the new pack,
 * so a crash or a kill at any point loses nothing (some objects may be held twice until the
 * next merge), and git fsck stays clean.
 */
#include "fs/vcs_int.h"

#include <git2/sys/odb_backend.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GEOMETRIC_FACTOR 2
#define STALE_TEMP_S 3600 /* a temporary pack this old was left by a killed writer */
/* Refs of the former reachability-based packing: no longer used, removed by the next merge. */
#define OLD_PACKED_REFS {"refs/statefs/packed", "refs/statefs/packed-notes"}

/* ---- the committer's side: one pack per commit ---- */

/*
 * The objects of the commit being made, in memory until vpack_write_pending. Unlike libgit2's
 * mempack, whose dump packs the commit's whole tree, this packs only what is new: the pack of
 * a one-file save holds the commit, the trees on the file's path and the blob, whatever the
 * size of the tree.
 */
struct pobj {
	git_oid id;
	git_object_t type;
	size_t len;
	unsigned char *data;
};

struct pending {
	git_odb_backend parent;
	struct pobj *slot; /* open addressing; cap a power of two */
	size_t n, cap;
};

static struct pobj *pending_find(struct pending *p, const git_oid *id)
{
	size_t i;

	if (!p->cap)
		return NULL;
	for (i = (size_t)id->id[0] << 8 | id->id[1];; i++) {
		struct pobj *o = &p->slot[i & (p->cap - 1)];

		if (!o->data || git_oid_equal(&o->id, id))
			return o;
	}
}

static int pending_grow(struct pending *p)
{
	struct pending old = *p;

	p->cap = old.cap ? old.cap * 2 : 64;
	p->slot = calloc(p->cap, sizeof(*p->slot));
	if (!p->slot) {
		*p = old;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].data)
			*pending_find(p, &old.slot[i].id) = old.slot[i];
	free(old.slot);
	return 0;
}

static int pending_write(git_odb_backend *b, const git_oid *id, const void *data, size_t len,
			 git_object_t type)
{
	struct pending *p = (struct pending *)b;
	struct pobj *o;

	if ((p->n + 1) * 2 > p->cap && pending_grow(p)) {
		git_error_set_oom();
		return -1;
	}
	o = pending_find(p, id);
	if (o->data)
		return 0;
	o->data = malloc(len ? len : 1);
	if (!o->data) {
		git_error_set_oom();
		return -1;
	}
	memcpy(o->data, data, len);
	o->id = *id;
	o->len = len;
	o->type = type;
	p->n++;
	return 0;
}

static int pending_read(void **data, size_t *len, git_object_t *type, git_odb_backend *b,
			const git_oid *id)
{
	struct pobj *o = pending_find((struct pending *)b, id);

	if (!o || !o->data)
		return GIT_ENOTFOUND;
	*data = git_odb_backend_data_alloc(b, o->len ? o->len : 1);
	if (!*data)
		return -1;
	memcpy(*data, o->data, o->len);
	*len = o->len;
	*type = o->type;
	return 0;
}

static int pending_read_header(size_t *len, git_object_t *type, git_odb_backend *b,
			       const git_oid *id)
{
	struct pobj *o = pending_find((struct pending *)b, id);

	if (!o || !o->data)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int pending_exists(git_odb_backend *b, const git_oid *id)
{
	struct pobj *o = pending_find((struct pending *)b, id);

	return o && o->data;
}

static void pending_reset(struct pending *p)
{
	for (size_t i = 0; i < p->cap; i++)
		free(p->slot[i].data);
	free(p->slot);
	p->slot = NULL;
	p->n = p->cap = 0;
}

static void pending_free(git_odb_backend *b)
{
	pending_reset((struct pending *)b);
	free(b);
}

int vpack_pending_new(git_odb_backend **out)
{
	struct pending *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || git_odb_init_backend(&p->parent, GIT_ODB_BACKEND_VERSION)) {
		free(p);
		return -ENOMEM;
	}
	p->parent.read = pending_read;
	p->parent.read_header = pending_read_header;
	p->parent.write = pending_write;
	p->parent.exists = pending_exists;
	p->parent.free = pending_free;
	*out = &p->parent;
	return 0;
}

static void pack_dir(struct vcs *v, char *buf, size_t size)
{
	snprintf(buf, size, "%sobjects/pack", git_repository_path(v->repo));
}

int vpack_write_pending(struct vcs *v)
{
	struct pending *p = (struct pending *)v->pending;
	git_packbuilder *pb = NULL;
	git_buf pack = {0};
	git_indexer *idx = NULL;
	git_indexer_progress stats;
	git_odb *odb = NULL;
	char dir[PATH_MAX];
	int err = 0;

	if (git_packbuilder_new(&pb, v->repo)) {
		err = -ENOMEM;
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	for (size_t i = 0; i < p->cap; i++)
		if (p->slot[i].data && git_packbuilder_insert(pb, &p->slot[i].id, NULL))
			goto fail;
	if (git_packbuilder_write_buf(&pack, pb))
		goto fail;
	pack_dir(v, dir, sizeof(dir));
	if (git_repository_odb(&odb, v->repo) || git_indexer_new(&idx, dir, 0444, odb, NULL) ||
	    git_indexer_append(idx, pack.ptr, pack.size, &stats) ||
	    git_indexer_commit(idx, &stats))
		goto fail;
	git_odb_refresh(odb);
	goto out;
fail:
	vcs_log(3, "cannot write the commit's objects: %s",
		git_error_last() ? git_error_last()->message : "unknown error");
	err = -EIO;
out:
	pending_reset(p);
	git_packbuilder_free(pb);
	git_indexer_free(idx);
	git_odb_free(odb);
	git_buf_dispose(&pack);
	return err;
}

void vpack_discard_pending(struct vcs *v)
{
	pending_reset((struct pending *)v->pending);
}

/* ---- the maintenance child: geometric merges ---- */

static volatile sig_atomic_t stopping;

/* One line for the daemon's log: "LEVEL message" on stdout, which the daemon reads. */
static void say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int level, const char *fmt, ...)
{
	va_list ap;

	printf("%d ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static const char *git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

struct pk {
	char name[96]; /* "pack-<hex>" */
	uint32_t count;
};

struct merge {
	git_repository *repo;
	/* A handle of its own to read the commits and trees: libgit2 keeps a cache of delta
	 * bases per pack (up to 16 MiB each) for as long as the handle lives. */
	git_repository *walk;
	char objdir[PATH_MAX], packdir[PATH_MAX + 8];
	struct pk *packs;
	size_t npacks, roll; /* packs[0..roll) are rolled up */
	size_t nloose;
	git_oid *oids; /* the objects of what is rolled up, sorted */
	unsigned char *taken;
	size_t noids, capoids;
	git_packbuilder *pb;
	char path[PATH_MAX];
};

/* The number of objects in pack index @path (the last entry of its fan-out table). */
static int idx_objects(const char *path, uint32_t *count)
{
	unsigned char h[8 + 256 * 4];
	const unsigned char *last;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n >= (ssize_t)sizeof(h) && memcmp(h, "\377tOc", 4) == 0)
		last = h + 8 + 255 * 4; /* version 2 */
	else if (n >= 256 * 4 && memcmp(h, "\377tOc", 4) != 0)
		last = h + 255 * 4; /* version 1 */
	else
		return -EINVAL;
	*count = (uint32_t)last[0] << 24 | (uint32_t)last[1] << 16 | (uint32_t)last[2] << 8 |
		 last[3];
	return 0;
}

static int cmp_pk(const void *a, const void *b)
{
	const struct pk *x = a, *y = b;

	return x->count < y->count ? -1 : x->count > y->count;
}

/* The packs that may be merged (complete, not .keep), by object count; stale temporary files
 * of killed writers are removed on the way. */
static int list_packs(struct merge *m)
{
	DIR *dp = opendir(m->packdir);
	struct dirent *de;
	time_t now = time(NULL);
	int err = 0;

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		const char *d = de->d_name;
		size_t l = strlen(d);
		struct stat st;
		char f[sizeof(m->packdir) + 300];
		struct pk *v;

		if (!strncmp(d, "pack_git2_", 10) || !strncmp(d, "tmp_pack_", 9)) {
			if (fstatat(dirfd(dp), d, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_mtime < now - STALE_TEMP_S)
				unlinkat(dirfd(dp), d, 0);
			continue;
		}
		if (l < 10 || strncmp(d, "pack-", 5) || strcmp(d + l - 4, ".idx") ||
		    l - 4 >= sizeof(v->name))
			continue;
		snprintf(f, sizeof(f), "%.*s.pack", (int)(l - 4), d);
		if (fstatat(dirfd(dp), f, &st, 0))
			continue; /* being written: the index comes first */
		snprintf(f, sizeof(f), "%.*s.keep", (int)(l - 4), d);
		if (fstatat(dirfd(dp), f, &st, 0) == 0)
			continue;
		v = realloc(m->packs, (m->npacks + 1) * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			break;
		}
		m->packs = v;
		v += m->npacks;
		snprintf(v->name, sizeof(v->name), "%.*s", (int)(l - 4), d);
		snprintf(f, sizeof(f), "%s/%s", m->packdir, d);
		if (idx_objects(f, &v->count))
			continue; /* not a pack index we can read: leave it alone */
		m->npacks++;
	}
	closedir(dp);
	qsort(m->packs, m->npacks, sizeof(*m->packs), cmp_pk);
	return err;
}

/*
 * How many of the smallest packs (@p sorted by count, @n of them) to roll up, with @nloose
 * loose objects, so that the packs left and the new one form a geometric progression.
 */
size_t vpack_geometric_split(const uint32_t *count, size_t n, size_t nloose)
{
	uint64_t total = nloose;
	size_t split = 0, i;

	if (n == 0)
		return 0;
	/* the largest packs that already are a progression stay */
	for (i = n - 1; i > 0; i--)
		if ((uint64_t)count[i] < (uint64_t)GEOMETRIC_FACTOR * count[i - 1])
			break;
	split = i ? i + 1 : 0;
	for (i = 0; i < split; i++)
		total += count[i];
	/* and those of them too small for what is rolled up below them join it */
	for (i = split; i < n && (uint64_t)count[i] < (uint64_t)GEOMETRIC_FACTOR * total; i++) {
		total += count[i];
		split++;
	}
	return split;
}

static int collect_oid(const git_oid *id, void *arg)
{
	struct merge *m = arg;

	if (stopping)
		return GIT_EUSER;
	if (m->noids == m->capoids) {
		size_t cap = m->capoids ? m->capoids * 2 : 1024;
		git_oid *v = realloc(m->oids, cap * sizeof(*v));

		if (!v)
			return GIT_EUSER;
		m->oids = v;
		m->capoids = cap;
	}
	m->oids[m->noids++] = *id;
	return 0;
}

static int count_loose(const git_oid *id, void *arg)
{
	(void)id;
	(*(size_t *)arg)++;
	return stopping ? GIT_EUSER : 0;
}

static int cmp_oid(const void *a, const void *b)
{
	return git_oid_cmp(a, b);
}

static ssize_t find_oid(const struct merge *m, const git_oid *id)
{
	size_t lo = 0, hi = m->noids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = git_oid_cmp(&m->oids[mid], id);

		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* An object database of the loose objects only. */
static int loose_odb(git_odb **out, const char *objdir)
{
	git_odb_backend *b = NULL;

	*out = NULL;
	if (git_odb_new(out) || git_odb_backend_loose(&b, objdir, -1, 0, 0, 0) ||
	    git_odb_add_backend(*out, b, 1)) {
		if (b && *out)
			b->free(b);
		git_odb_free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

/* An object database of the single pack whose index is @idx. */
static int pack_odb(git_odb **out, const char *idx)
{
	git_odb_backend *b = NULL;

	*out = NULL;
	if (git_odb_new(out) || git_odb_backend_one_pack(&b, idx) ||
	    git_odb_add_backend(*out, b, 1)) {
		if (b)
			b->free(b);
		git_odb_free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

/* The objects to roll up: every object of packs[0..roll) and the loose ones, sorted, unique. */
static int gather(struct merge *m)
{
	git_odb *set = NULL, *one = NULL;
	char idx[sizeof(m->packdir) + 128];
	int err = 0;

	for (size_t i = 0; i < m->roll && !err; i++) {
		snprintf(idx, sizeof(idx), "%s/%s.idx", m->packdir, m->packs[i].name);
		err = pack_odb(&one, idx);
		if (!err && git_odb_foreach(one, collect_oid, m))
			err = stopping ? -ECANCELED : -EIO;
		git_odb_free(one);
		one = NULL;
	}
	if (!err && m->nloose) {
		err = loose_odb(&set, m->objdir);
		if (!err && git_odb_foreach(set, collect_oid, m))
			err = stopping ? -ECANCELED : -EIO;
		git_odb_free(set);
	}
	if (err)
		return err;
	qsort(m->oids, m->noids, sizeof(*m->oids), cmp_oid);
	size_t k = 0;

	for (size_t i = 0; i < m->noids; i++)
		if (!k || !git_oid_equal(&m->oids[k - 1], &m->oids[i]))
			m->oids[k++] = m->oids[i];
	m->noids = k;
	m->taken = calloc(m->noids ? m->noids : 1, 1);
	return m->taken ? 0 : -ENOMEM;
}

/* Add object @id if it is one to roll up and not added yet, with its path as a delta hint. */
static int take(struct merge *m, const git_oid *id, const char *name, int *fresh)
{
	ssize_t i = find_oid(m, id);

	*fresh = 0;
	if (i < 0 || m->taken[i])
		return 0;
	m->taken[i] = 1;
	*fresh = 1;
	return git_packbuilder_insert(m->pb, id, name) ? -EIO : 0;
}

/* Add tree @id and what beneath it is rolled up, each under its path (m->path, @len long):
 * the versions of one file then sit side by side when deltas are sought. */
static int take_tree(struct merge *m, const git_oid *id, size_t len)
{
	git_tree *t = NULL;
	int fresh, err;

	err = take(m, id, len ? m->path : NULL, &fresh);
	if (err || !fresh)
		return err; /* an older tree: what it holds is older too */
	if (git_tree_lookup(&t, m->walk, id))
		return -EIO;
	for (size_t k = 0; k < git_tree_entrycount(t) && !err && !stopping; k++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, k);
		const char *name = git_tree_entry_name(e);
		size_t nl = strlen(name), l = len;
		git_object_t type = git_tree_entry_type(e);

		if ((type != GIT_OBJECT_TREE && type != GIT_OBJECT_BLOB) ||
		    len + nl + 2 > sizeof(m->path))
			continue; /* a submodule; or added later, without a path */
		if (l)
			m->path[l++] = '/';
		memcpy(m->path + l, name, nl + 1);
		if (type == GIT_OBJECT_TREE)
			err = take_tree(m, git_tree_entry_id(e), l + nl);
		else
			err = take(m, git_tree_entry_id(e), m->path, &fresh);
		m->path[len] = '\0';
	}
	git_tree_free(t);
	return err;
}

static int on_pack_progress(int stage, uint32_t cur, uint32_t total, void *arg)
{
	(void)stage, (void)cur, (void)total, (void)arg;
	return stopping ? -1 : 0;
}

static int on_index_progress(const git_indexer_progress *stats, void *arg)
{
	(void)stats, (void)arg;
	return stopping ? -1 : 0;
}

struct cinfo {
	size_t at;	 /* in m->oids */
	ssize_t parent;	 /* its first parent's index in the array, -1 if not rolled up */
	int64_t time;
	int has_child, done;
	git_oid tree;
};

static int cmp_head(const void *a, const void *b)
{
	const struct cinfo *x = *(struct cinfo *const *)a, *y = *(struct cinfo *const *)b;

	return x->time > y->time ? -1 : x->time < y->time;
}

/*
 * The commits to roll up, newest first along each line of history (the branch, the notes).
 * Their trees are added in that order, so consecutive versions of a tree sit side by side in
 * the delta search, whose window is small: in the order of their ids, a tree would be compared
 * with unrelated versions only, and not be stored as a delta at all.
 */
static int order_commits(struct merge *m, git_odb *odb, struct cinfo **out, size_t *nout)
{
	struct cinfo *c = NULL, **heads = NULL;
	ssize_t *slot = malloc((m->noids ? m->noids : 1) * sizeof(*slot));
	size_t n = 0, nh = 0;
	int err = 0;

	*out = NULL;
	*nout = 0;
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->noids; i++)
		slot[i] = -1;
	for (size_t i = 0; i < m->noids && !err && !stopping; i++) {
		git_object_t type;
		size_t size;
		git_commit *cm = NULL;

		if (git_odb_read_header(&size, &type, odb, &m->oids[i]) ||
		    type != GIT_OBJECT_COMMIT || git_commit_lookup(&cm, m->walk, &m->oids[i]))
			continue;
		if (n % 256 == 0) {
			struct cinfo *v = realloc(c, (n + 256) * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				git_commit_free(cm);
				break;
			}
			c = v;
		}
		c[n] = (struct cinfo){.at = i, .time = git_commit_time(cm), .parent = -1};
		c[n].tree = *git_commit_tree_id(cm);
		if (git_commit_parentcount(cm))
			/* its index in m->oids for now, in c[] below */
			c[n].parent = find_oid(m, git_commit_parent_id(cm, 0));
		git_commit_free(cm);
		slot[i] = (ssize_t)n++;
	}
	heads = err ? NULL : malloc((n ? n : 1) * sizeof(*heads));
	if (!heads && !err)
		err = -ENOMEM;
	for (size_t k = 0; k < n && !err; k++) {
		c[k].parent = c[k].parent >= 0 ? slot[c[k].parent] : -1;
		if (c[k].parent >= 0)
			c[c[k].parent].has_child = 1;
	}
	for (size_t k = 0; k < n && !err; k++)
		if (!c[k].has_child)
			heads[nh++] = &c[k];
	if (!err)
		qsort(heads, nh, sizeof(*heads), cmp_head);
	/* c[] reordered: each head, then its ancestors that are rolled up too */
	struct cinfo *o = err ? NULL : malloc((n ? n : 1) * sizeof(*o));
	size_t k = 0;

	if (!o && !err)
		err = -ENOMEM;
	for (size_t h = 0; h < nh && !err; h++)
		for (struct cinfo *x = heads[h]; x && !x->done;
		     x = x->parent >= 0 ? &c[x->parent] : NULL) {
			x->done = 1;
			o[k++] = *x;
		}
	for (size_t j = 0; j < n && !err; j++) /* a cycle: not in git, but never lose one */
		if (!c[j].done)
			o[k++] = c[j];
	free(slot);
	free(heads);
	free(c);
	if (err) {
		free(o);
		return err;
	}
	*out = o;
	*nout = k;
	return stopping ? -ECANCELED : 0;
}

/* Write the new pack of every object gathered: commits with their trees first. */
static int build(struct merge *m)
{
	git_odb *odb = NULL;
	struct cinfo *c = NULL;
	size_t nc = 0;
	int fresh, err = 0;

	if (git_packbuilder_new(&m->pb, m->repo) || git_repository_odb(&odb, m->repo) ||
	    git_repository_open_bare(&m->walk, git_repository_path(m->repo))) {
		git_odb_free(odb);
		return -ENOMEM;
	}
	git_packbuilder_set_threads(m->pb, 1);
	git_packbuilder_set_callbacks(m->pb, on_pack_progress, NULL);
	err = order_commits(m, odb, &c, &nc);
	for (size_t i = 0; i < nc && !err && !stopping; i++) {
		err = take(m, &m->oids[c[i].at], NULL, &fresh);
		m->path[0] = '\0';
		if (!err)
			err = take_tree(m, &c[i].tree, 0);
	}
	free(c);
	git_repository_free(m->walk);
	m->walk = NULL;
	for (size_t i = 0; i < m->noids && !err && !stopping; i++)
		err = take(m, &m->oids[i], NULL, &fresh);
	git_odb_free(odb);
	if (stopping)
		return -ECANCELED;
	if (err) {
		say(3, "cannot read the objects to merge: %s", git_msg());
		return err;
	}
	if (git_packbuilder_write(m->pb, m->packdir, 0444, on_index_progress, NULL)) {
		if (stopping)
			return -ECANCELED;
		say(3, "cannot write the merged pack: %s", git_msg());
		return -EIO;
	}
	return 0;
}

struct contained {
	git_odb *in;
	int missing;
};

static int check_one(const git_oid *oid, void *arg)
{
	struct contained *c = arg;

	if (!git_odb_exists(c->in, oid)) {
		c->missing = 1;
		return GIT_EUSER;
	}
	return 0;
}

/* Delete pack @name if every object it holds is in @merged. 1 = deleted. */
static int drop_if_contained(const char *dir, const char *name, git_odb *merged)
{
	static const char *ext[] = {".pack", ".idx", ".rev"};
	struct contained c = {.in = merged};
	git_odb *small = NULL;
	char path[PATH_MAX + 300];
	int ok;

	snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
	if (pack_odb(&small, path))
		return 0;
	ok = git_odb_foreach(small, check_one, &c) == 0 && !c.missing;
	git_odb_free(small);
	if (!ok)
		return 0;
	for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext[k]);
		unlink(path);
	}
	return 1;
}

/* Delete the loose objects that @merged holds (the empty fan-out directories stay: a loose
 * object being written by the checker may need one). The number deleted. */
static size_t prune_loose(const char *objdir, git_odb *merged)
{
	char dir[PATH_MAX + 8], file[PATH_MAX + 300];
	size_t n = 0;

	for (int i = 0; i < 256; i++) {
		DIR *dp;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%02x", objdir, i);
		dp = opendir(dir);
		if (!dp)
			continue;
		while ((de = readdir(dp))) {
			char hex[GIT_OID_HEXSZ + 1];
			git_oid oid;

			if (strlen(de->d_name) != GIT_OID_HEXSZ - 2)
				continue;
			snprintf(hex, 3, "%02x", i);
			memcpy(hex + 2, de->d_name, GIT_OID_HEXSZ - 2);
			hex[GIT_OID_HEXSZ] = '\0';
			if (git_oid_fromstr(&oid, hex) || !git_odb_exists(merged, &oid))
				continue;
			snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
			n += unlink(file) == 0;
		}
		closedir(dp);
	}
	return n;
}

/* For the tests: wait this long between writing the merged pack and deleting what it holds,
 * so that a test can commit, or kill the daemon, while a merge is under way. */
static void test_pause(void)
{
	const char *s = getenv("STATEFS_TEST_PACK_PAUSE_MS");
	long ms = s ? atol(s) : 0;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	if (ms <= 0)
		return;
	say(6, "merged pack written; pausing %ld ms before deleting what it holds (test)", ms);
	while (!stopping && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* This process's peak resident memory in KiB (VmHWM), or -1. */
static long peak_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void drop_old_refs(git_repository *repo)
{
	static const char *refs[] = OLD_PACKED_REFS;

	git_oid id;

	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (git_reference_name_to_id(&id, repo, refs[i]) == 0)
			git_reference_remove(repo, refs[i]);
}

static int merge(const char *gitdir)
{
	struct merge m = {0};
	struct timespec t0, t1;
	git_odb *merged = NULL, *loose = NULL;
	char idx[sizeof(m.packdir) + 128];
	size_t dropped = 0, pruned = 0;
	uint32_t *counts = NULL;
	uint64_t nobj = 0;
	struct stat st;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (git_repository_open_bare(&m.repo, gitdir)) {
		say(3, "cannot open %s: %s", gitdir, git_msg());
		return -EIO;
	}
	snprintf(m.objdir, sizeof(m.objdir), "%sobjects", git_repository_path(m.repo));
	snprintf(m.packdir, sizeof(m.packdir), "%s/pack", m.objdir);
	err = list_packs(&m);
	if (!err && !loose_odb(&loose, m.objdir) && git_odb_foreach(loose, count_loose, &m.nloose))
		err = stopping ? -ECANCELED : -EIO;
	git_odb_free(loose);
	if (err)
		goto out;
	counts = malloc((m.npacks ? m.npacks : 1) * sizeof(*counts));
	if (!counts) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m.npacks; i++)
		counts[i] = m.packs[i].count;
	m.roll = vpack_geometric_split(counts, m.npacks, m.nloose);
	if (m.roll < 2 && !m.nloose) {
		drop_old_refs(m.repo);
		goto out; /* already a geometric progression */
	}
	for (size_t i = 0; i < m.roll; i++)
		nobj += m.packs[i].count;
	err = gather(&m);
	if (!err && !m.noids)
		goto out;
	if (!err)
		err = build(&m);
	if (err)
		goto out;
	snprintf(idx, sizeof(idx), "%s/pack-%s.idx", m.packdir, git_packbuilder_name(m.pb));
	test_pause();
	if (stopping || pack_odb(&merged, idx)) {
		err = stopping ? -ECANCELED : -EIO;
		goto out;
	}
	for (size_t i = 0; i < m.roll && !stopping; i++)
		if (strcmp(m.packs[i].name + 5, git_packbuilder_name(m.pb)))
			dropped += (size_t)drop_if_contained(m.packdir, m.packs[i].name, merged);
	if (m.nloose && !stopping)
		pruned = prune_loose(m.objdir, merged);
	drop_old_refs(m.repo);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(idx, sizeof(idx), "%s/pack-%s.pack", m.packdir, git_packbuilder_name(m.pb));
	say(6, "merged %zu of %zu packs (%llu objects) and %zu loose objects into pack-%.12s "
	       "(%zu objects, %lld KiB) in %.2f s, peak RSS %.1f MiB; %zu packs now",
	    dropped, m.npacks, (unsigned long long)nobj, pruned, git_packbuilder_name(m.pb),
	    git_packbuilder_object_count(m.pb),
	    stat(idx, &st) == 0 ? (long long)st.st_size / 1024 : -1LL,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    (double)peak_rss_kib() / 1024, m.npacks - dropped + 1);
out:
	if (err == -ECANCELED)
		say(6, "stopped before the end; the next merge starts again");
	git_odb_free(merged);
	git_packbuilder_free(m.pb);
	git_repository_free(m.repo);
	free(counts);
	free(m.packs);
	free(m.oids);
	free(m.taken);
	return err;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

int vcs_pack_main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: a pause ends at once */
	int lock = -1, r;
	char path[PATH_MAX];

	if (argc != 3) {
		fprintf(stderr, "statefs: __pack is run by the daemon itself\n");
		return 2;
	}
	/* End with the daemon: a merge left half done is safe, and done again at its next start. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != (pid_t)atol(argv[2]))
		return 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Commits come first: the lowest CPU share and the lowest best-effort I/O priority. */
	setpriority(PRIO_PROCESS, 0, 10);
	syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (2 << 13) | 7 /* BE, level 7 */);
	/* One merge at a time, even across a restart of the daemon. */
	snprintf(path, sizeof(path), "%s/statefs-pack.lock", argv[1]);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB)) {
		if (lock >= 0)
			close(lock);
		say(6, "another merge is under way");
		return 0;
	}
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(4 << 20));
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)(1 << 20));
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)(16 << 20));
	r = merge(argv[1]);
	git_libgit2_shutdown();
	close(lock);
	return r && r != -ECANCELED ? 1 : 0;
}
