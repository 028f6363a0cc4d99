/*
 * backups_node.c - the node table of backups/ and history/: nodes hashed by their st_ino,
 * which is itself a hash of what they show, so a name always finds its node again.
 *
 * One mutex guards the table and the reference counts; it is never held while calling out.
 * The table grows with the number of nodes the kernel holds (it may hold many after a find).
 */
#include "fs/backups_node.h"
#include "fs/backups_snaps.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_BUCKETS 1024

struct backups_nodes {
	pthread_mutex_t lock;
	struct view *v;
	char name[32];
	struct backups_node **buckets;
	size_t nbuckets, count;
};

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull; /* a separator no string contains */
}

uint64_t backups_ino(const char *name, const char *root_id, const char *path)
{
	uint64_t h = fnv(fnv(fnv(0xcbf29ce484222325ull, name), root_id), path);

	/* splitmix64's finaliser: FNV's low bits are weak, and buckets use them */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	h &= ~(1ull << 63);
	return h < (1u << 20) ? h + (1u << 20) : h;
}

uint64_t backups_ino_entry(uint64_t file_ino, size_t index, bool implied)
{
	return 1ull << 63 | (file_ino & 0x7fffffffu) << 32 |
	       (((uint64_t)index * 2 + implied) & 0xffffffffu);
}

static const char *root_id(const struct backups_root *r)
{
	return r ? r->id : "";
}

void backups_attr_stat(const struct backups_attr *a, struct stat *st)
{
	int64_t c = a->ctime_ns ? a->ctime_ns : a->mtime_ns;

	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a->ino;
	st->st_mode = a->mode;
	st->st_nlink = 1; /* directories too: "not counted", so find(1) does not rely on it */
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	/* floor division: times before 1970 are negative */
	st->st_mtim.tv_sec = (time_t)(a->mtime_ns / 1000000000 - (a->mtime_ns % 1000000000 < 0));
	st->st_mtim.tv_nsec = (long)(a->mtime_ns - (int64_t)st->st_mtim.tv_sec * 1000000000);
	st->st_ctim.tv_sec = (time_t)(c / 1000000000 - (c % 1000000000 < 0));
	st->st_ctim.tv_nsec = (long)(c - (int64_t)st->st_ctim.tv_sec * 1000000000);
	st->st_atim = st->st_mtim;
}

uint64_t backups_nodes_ino(struct backups_nodes *t, const struct backups_root *root,
			   const char *path)
{
	return backups_ino(t->name, root_id(root), path);
}

int backups_nodes_new(struct view *v, const char *name, struct backups_nodes **out)
{
	struct backups_nodes *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->buckets = calloc(MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->nbuckets = MIN_BUCKETS;
	t->v = v;
	snprintf(t->name, sizeof(t->name), "%s", name);
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

static void node_free(struct backups_node *n)
{
	backups_root_put(n->root);
	free(n->path);
	free(n);
}

void backups_nodes_free(struct backups_nodes *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct backups_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Double the buckets when chains grow long; on ENOMEM keep the old ones (slower, not wrong). */
static void grow(struct backups_nodes *t)
{
	size_t nb = t->nbuckets * 2;
	struct backups_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct backups_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->a.ino & (nb - 1)];
			b[n->a.ino & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

struct backups_node *backups_nodes_get(struct backups_nodes *t, struct backups_root *root,
				       const char *path, const struct backups_node *tmpl)
{
	uint64_t ino = tmpl->a.ino ? tmpl->a.ino : backups_nodes_ino(t, root, path);
	struct backups_node *n;

	pthread_mutex_lock(&t->lock);
	for (n = t->buckets[ino & (t->nbuckets - 1)]; n; n = n->hnext)
		if (n->a.ino == ino && strcmp(root_id(n->root), root_id(root)) == 0 &&
		    strcmp(n->path, path) == 0)
			break;
	if (n) {
		n->refs++;
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		free(n);
		n = NULL;
		goto out;
	}
	n->n.kind = NODE_VIEW;
	n->n.fd = -1;
	n->n.mnt = -1;
	n->n.view = t->v;
	n->n.priv = n;
	n->kind = tmpl->kind;
	n->a = tmpl->a;
	n->a.ino = ino;
	n->oid = tmpl->oid;
	n->timeout = tmpl->timeout;
	n->refs = 1;
	if (root) {
		backups_root_get(root);
		n->root = root;
	}
	n->hnext = t->buckets[ino & (t->nbuckets - 1)];
	t->buckets[ino & (t->nbuckets - 1)] = n;
	if (++t->count > 2 * t->nbuckets)
		grow(t);
out:
	pthread_mutex_unlock(&t->lock);
	return n;
}

void backups_nodes_forget(struct backups_nodes *t, struct backups_node *n, uint64_t count)
{
	struct backups_node **p;

	pthread_mutex_lock(&t->lock);
	n->refs = n->refs > count ? n->refs - count : 0;
	if (n->refs) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	for (p = &t->buckets[n->a.ino & (t->nbuckets - 1)]; *p; p = &(*p)->hnext) {
		if (*p == n) {
			*p = n->hnext;
			t->count--;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	node_free(n);
}

size_t backups_nodes_count(struct backups_nodes *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct backups_root *backups_root_new(const char *id, struct backups_snap *snap)
{
	struct backups_root *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (snap) {
		backups_snap_get(snap);
		r->snap = snap;
	}
	r->refs = 1;
	return r;
}

void backups_root_get(struct backups_root *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

void backups_root_put(struct backups_root *r)
{
	if (!r || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
		return;
	backups_snap_put(r->snap);
	free(r);
}
