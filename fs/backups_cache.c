/*
 * backups_cache.c - the decompressed-chunk cache: a hash table of entries, an LRU list of the
 * ready ones, a byte budget, and one read-ahead worker.
 *
 * One mutex guards everything; loads (decompression) run outside it. An entry is in the table
 * while LOADING or READY; the table holds one reference and each reader one more, so an entry
 * evicted or failed is unlinked at once and freed by whoever drops the last reference.
 */
#include "fs/backups_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024
#define QUEUE 8

struct centry {
	struct backups_chunk pub; /* first: a backups_chunk * is a struct centry * */
	struct store_hash h;
	struct centry *hnext;
	struct centry *prev, *next; /* LRU, READY entries only; head = most recent */
	unsigned refs;
	bool loading;
	int err;
};

struct backups_cache {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a load finished */
	pthread_cond_t work; /* the queue changed */
	backups_load_fn load;
	void *arg;
	size_t max_bytes;
	struct centry *buckets[NBUCKETS];
	struct centry *head, *tail;
	struct backups_cache_stats st;
	/* the read-ahead worker */
	struct store_hash queue[QUEUE];
	size_t qhead, qlen;
	bool started, stop, busy;
	pthread_t worker;
};

static size_t bucket(const struct store_hash *h)
{
	uint64_t v;

	memcpy(&v, h->b, sizeof(v));
	return (size_t)(v % NBUCKETS);
}

int backups_cache_new(size_t max_bytes, backups_load_fn load, void *arg, struct backups_cache **out)
{
	struct backups_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->max_bytes = max_bytes ? max_bytes : 4u << 20;
	c->load = load;
	c->arg = arg;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->work, NULL);
	*out = c;
	return 0;
}

static void entry_unref(struct centry *e)
{
	if (--e->refs == 0) {
		free((void *)e->pub.data);
		free(e);
	}
}

static void lru_unlink(struct backups_cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct backups_cache *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void table_unlink(struct backups_cache *c, struct centry *e)
{
	struct centry **p;

	for (p = &c->buckets[bucket(&e->h)]; *p; p = &(*p)->hnext) {
		if (*p == e) {
			*p = e->hnext;
			break;
		}
	}
}

/* Evict least recently used entries beyond the budget, sparing @keep. Under c->lock. */
static void evict(struct backups_cache *c, struct centry *keep)
{
	while (c->st.bytes > c->max_bytes && c->tail && c->tail != keep) {
		struct centry *e = c->tail;

		lru_unlink(c, e);
		table_unlink(c, e);
		c->st.bytes -= e->pub.len;
		c->st.count--;
		c->st.evictions++;
		entry_unref(e);
	}
}

static struct centry *find(struct backups_cache *c, const struct store_hash *h)
{
	struct centry *e;

	for (e = c->buckets[bucket(h)]; e; e = e->hnext)
		if (memcmp(&e->h, h, sizeof(*h)) == 0)
			return e;
	return NULL;
}

/* The body of get; @prefetch: counted as the worker's. */
static int get(struct backups_cache *c, const struct store_hash *h, struct centry **out,
	       bool prefetch)
{
	struct centry *e;
	void *data = NULL;
	size_t len = 0;
	int err;

	pthread_mutex_lock(&c->lock);
	e = find(c, h);
	if (e) {
		e->refs++;
		while (e->loading)
			pthread_cond_wait(&c->cond, &c->lock);
		err = e->err;
		if (err) {
			entry_unref(e);
		} else {
			lru_unlink(c, e);
			lru_push(c, e);
			c->st.hits++;
			*out = e;
		}
		pthread_mutex_unlock(&c->lock);
		return err;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	e->h = *h;
	e->refs = 2; /* the table's and ours */
	e->loading = true;
	e->hnext = c->buckets[bucket(h)];
	c->buckets[bucket(h)] = e;
	if (prefetch)
		c->st.prefetches++;
	else
		c->st.misses++;
	pthread_mutex_unlock(&c->lock);

	err = c->load(c->arg, h, &data, &len);

	pthread_mutex_lock(&c->lock);
	e->loading = false;
	if (err) {
		e->err = err;
		table_unlink(c, e);
		e->refs--; /* the table's */
		entry_unref(e);
	} else {
		e->pub.data = data;
		e->pub.len = len;
		lru_push(c, e);
		c->st.bytes += len;
		c->st.count++;
		evict(c, e);
		*out = e;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int backups_cache_get(struct backups_cache *c, const struct store_hash *h,
		      const struct backups_chunk **out)
{
	struct centry *e;
	int err = get(c, h, &e, false);

	if (!err)
		*out = &e->pub;
	return err;
}

void backups_cache_put(struct backups_cache *c, const struct backups_chunk *ch)
{
	if (!ch)
		return;
	pthread_mutex_lock(&c->lock);
	entry_unref((struct centry *)ch);
	pthread_mutex_unlock(&c->lock);
}

static void *worker(void *arg)
{
	struct backups_cache *c = arg;
	struct store_hash h;
	struct centry *e;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->qlen)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stop)
			break;
		h = c->queue[c->qhead];
		c->qhead = (c->qhead + 1) % QUEUE;
		c->qlen--;
		if (find(c, &h)) {
			pthread_cond_broadcast(&c->work); /* for drain */
			continue;			  /* cached or being loaded by a reader */
		}
		c->busy = true;
		pthread_mutex_unlock(&c->lock);
		if (get(c, &h, &e, true) == 0)
			backups_cache_put(c, &e->pub);
		pthread_mutex_lock(&c->lock);
		c->busy = false;
		pthread_cond_broadcast(&c->work);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void backups_cache_prefetch(struct backups_cache *c, const struct store_hash *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->stop || find(c, h) || c->qlen == QUEUE)
		goto out;
	for (size_t i = 0; i < c->qlen; i++)
		if (memcmp(&c->queue[(c->qhead + i) % QUEUE], h, sizeof(*h)) == 0)
			goto out;
	if (!c->started) {
		if (pthread_create(&c->worker, NULL, worker, c))
			goto out;
		c->started = true;
	}
	c->queue[(c->qhead + c->qlen++) % QUEUE] = *h;
	pthread_cond_broadcast(&c->work);
out:
	pthread_mutex_unlock(&c->lock);
}

void backups_cache_drain(struct backups_cache *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->started && (c->qlen || c->busy))
		pthread_cond_wait(&c->work, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void backups_cache_stats(struct backups_cache *c, struct backups_cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}

void backups_cache_free(struct backups_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	if (c->started)
		pthread_join(c->worker, NULL);
	while (c->head) {
		struct centry *e = c->head;

		lru_unlink(c, e);
		entry_unref(e);
	}
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
