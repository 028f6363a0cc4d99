/*
 * node.c - the inode table: a hash of real nodes by (mount, dev, ino), plus the virtual ones.
 *
 * One mutex guards the table and the parent/name links; lookups are short, so contention is
 * not a concern at the scale of a config tree. A node lives while the kernel holds lookups.
 */
#include "fs/node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define NBUCKETS 4096

struct node_table {
	pthread_mutex_t lock;
	struct node root;
	struct node **buckets;
	struct node **plain; /* virtual plain-mount nodes, by mount index (grown on demand) */
	size_t nplain;
	struct created {
		int mnt;
		dev_t dev;
		ino_t ino;
	} created[NODE_CREATED_MAX];
	size_t ncreated, next_created;
};

void node_mark_created(struct node_table *t, int mnt, dev_t dev, ino_t ino)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->ncreated; i++) {
		struct created *c = &t->created[i];

		if (c->ino == ino && c->dev == dev && c->mnt == mnt)
			goto out;
	}
	t->created[t->next_created] = (struct created){mnt, dev, ino};
	t->next_created = (t->next_created + 1) % NODE_CREATED_MAX;
	if (t->ncreated < NODE_CREATED_MAX)
		t->ncreated++;
out:
	pthread_mutex_unlock(&t->lock);
}

int node_was_created(struct node_table *t, int mnt, dev_t dev, ino_t ino)
{
	int found = 0;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->ncreated && !found; i++) {
		struct created *c = &t->created[i];

		found = c->ino == ino && c->dev == dev && c->mnt == mnt;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

static size_t bucket(int mnt, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full ^
		     (uint64_t)(mnt + 1);
	return (size_t)(h >> 32) % NBUCKETS;
}

int node_table_new(struct node_table **out)
{
	struct node_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->buckets = calloc(NBUCKETS, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->root.kind = NODE_ROOT;
	t->root.fd = -1;
	t->root.mnt = -1;
	t->root.nlookup = 1;
	*out = t;
	return 0;
}

static void node_free(struct node *n)
{
	if (n->fd >= 0)
		close(n->fd);
	free(n->name);
	free(n);
}

void node_table_free(struct node_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	for (size_t i = 0; i < t->nplain; i++)
		if (t->plain[i])
			node_free(t->plain[i]);
	free(t->plain);
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct node *node_root(struct node_table *t)
{
	return &t->root;
}

static struct node *find_locked(struct node_table *t, int mnt, dev_t dev, ino_t ino)
{
	struct node *n = t->buckets[bucket(mnt, dev, ino)];

	for (; n; n = n->hnext)
		if (n->mnt == mnt && n->ino == ino && n->dev == dev)
			return n;
	return NULL;
}

uint64_t node_find_id(struct node_table *t, int mnt, dev_t dev, ino_t ino)
{
	uint64_t id;

	pthread_mutex_lock(&t->lock);
	id = (uint64_t)(uintptr_t)find_locked(t, mnt, dev, ino);
	pthread_mutex_unlock(&t->lock);
	return id;
}

struct node *node_find(struct node_table *t, int mnt, dev_t dev, ino_t ino)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, mnt, dev, ino);
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void set_name_locked(struct node *n, struct node *parent, const char *name)
{
	char *copy;

	if (n->name && parent == n->parent && strcmp(n->name, name) == 0)
		return;
	copy = strdup(name);
	if (!copy)
		return; /* keeps the old name; only commit messages use it */
	free(n->name);
	n->name = copy;
	n->parent = parent;
}

struct node *node_get_real(struct node_table *t, int mnt, int depth, int fd, const struct stat *st,
			   struct node *parent, const char *name)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, mnt, st->st_dev, st->st_ino);
	if (n) {
		close(fd);
		n->nlookup++;
		if (name)
			set_name_locked(n, parent, name);
		goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		close(fd);
		goto out;
	}
	n->kind = NODE_REAL;
	n->fd = fd;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->mnt = mnt;
	n->depth = depth;
	n->nlookup = 1;
	if (name)
		set_name_locked(n, parent, name);
	size_t b = bucket(mnt, st->st_dev, st->st_ino);
	n->hnext = t->buckets[b];
	t->buckets[b] = n;
out:
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct node *node_get_plain(struct node_table *t, int mnt)
{
	struct node *n = NULL;

	pthread_mutex_lock(&t->lock);
	if ((size_t)mnt >= t->nplain) {
		struct node **p = realloc(t->plain, (mnt + 1) * sizeof(*p));

		if (!p)
			goto out;
		memset(p + t->nplain, 0, (mnt + 1 - t->nplain) * sizeof(*p));
		t->plain = p;
		t->nplain = mnt + 1;
	}
	n = t->plain[mnt];
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			goto out;
		n->kind = NODE_PLAIN;
		n->fd = -1;
		n->mnt = mnt;
		n->depth = -1;
		n->parent = &t->root;
		t->plain[mnt] = n;
	}
	n->nlookup++;
out:
	pthread_mutex_unlock(&t->lock);
	return n;
}

static void unlink_locked(struct node_table *t, struct node *n)
{
	struct node **pp = &t->buckets[bucket(n->mnt, n->dev, n->ino)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			return;
		}
	}
}

void node_forget(struct node_table *t, struct node *n, uint64_t count)
{
	if (n->kind != NODE_REAL) {
		pthread_mutex_lock(&t->lock);
		n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
		pthread_mutex_unlock(&t->lock);
		return; /* virtual nodes live as long as the table */
	}
	pthread_mutex_lock(&t->lock);
	n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
	if (n->nlookup) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	unlink_locked(t, n);
	/* Children keep a stale parent pointer only while they are looked up themselves;
	 * the kernel forgets children before parents, so none should remain. Be safe anyway. */
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct node *c = t->buckets[i]; c; c = c->hnext)
			if (c->parent == n)
				c->parent = NULL;
	pthread_mutex_unlock(&t->lock);
	node_free(n);
}

void node_renamed(struct node_table *t, int mnt, dev_t dev, ino_t ino, struct node *parent,
		  const char *name)
{
	struct node *n;

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, mnt, dev, ino);
	if (n)
		set_name_locked(n, parent, name);
	pthread_mutex_unlock(&t->lock);
}

void node_set_name(struct node_table *t, struct node *n, struct node *parent, const char *name)
{
	if (n->kind != NODE_REAL)
		return;
	pthread_mutex_lock(&t->lock);
	set_name_locked(n, parent, name);
	pthread_mutex_unlock(&t->lock);
}

int node_relpath(struct node_table *t, struct node *dir, char *buf, size_t size)
{
	const char *parts[512];
	size_t np = 0, len = 0;
	int ret;

	if (dir->kind != NODE_REAL)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	for (struct node *n = dir; n && n->depth > 0; n = n->parent) {
		if (np == sizeof(parts) / sizeof(parts[0]) || !n->name || !n->parent) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		parts[np++] = n->name;
	}
	if (size == 0) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	buf[0] = '\0';
	while (np--) {
		size_t l = strlen(parts[np]);

		if (len + l + 2 > size) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		if (len)
			buf[len++] = '/';
		memcpy(buf + len, parts[np], l + 1);
		len += l;
	}
	ret = (int)len;
out:
	pthread_mutex_unlock(&t->lock);
	return ret;
}
