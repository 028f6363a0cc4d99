/*
 * backups_ahead.c - a ring of chunk hashes and a few threads that warm their frames into the
 * page cache. One mutex guards the ring; the store is asked outside it.
 */
#include "fs/backups_ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct backups_ahead {
	struct backups_store *s;
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct store_hash ring[BACKUPS_AHEAD_QUEUE];
	size_t head, len;
	unsigned busy, nthreads;
	bool started, stop;
	unsigned long warmed;
	pthread_t threads[BACKUPS_AHEAD_THREADS];
	const void *span_key; /* the last sequence of opens, and how far it was read ahead */
	size_t span_end;
};

int backups_ahead_new(struct backups_store *s, struct backups_ahead **out)
{
	struct backups_ahead *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->s = s;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->idle, NULL);
	*out = a;
	return 0;
}

static void *worker(void *arg)
{
	struct backups_ahead *a = arg;
	struct store_hash h;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stop && !a->len)
			pthread_cond_wait(&a->work, &a->lock);
		if (a->stop)
			break;
		h = a->ring[a->head];
		a->head = (a->head + 1) % BACKUPS_AHEAD_QUEUE;
		a->len--;
		a->busy++;
		pthread_mutex_unlock(&a->lock);
		backups_store_warm(a->s, &h);
		pthread_mutex_lock(&a->lock);
		a->busy--;
		a->warmed++;
		if (!a->len && !a->busy)
			pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

void backups_ahead_warm(struct backups_ahead *a, const struct store_hash *h)
{
	pthread_mutex_lock(&a->lock);
	if (a->stop || a->len == BACKUPS_AHEAD_QUEUE)
		goto out;
	if (!a->started) {
		a->started = true;
		for (unsigned i = 0; i < BACKUPS_AHEAD_THREADS; i++) {
			if (pthread_create(&a->threads[i], NULL, worker, a))
				break;
			a->nthreads++;
		}
	}
	if (!a->nthreads)
		goto out; /* no thread: nothing will warm it */
	a->ring[(a->head + a->len++) % BACKUPS_AHEAD_QUEUE] = *h;
	pthread_cond_signal(&a->work);
out:
	pthread_mutex_unlock(&a->lock);
}

size_t backups_ahead_span(struct backups_ahead *a, const void *key, size_t i, size_t want)
{
	size_t from = i;

	pthread_mutex_lock(&a->lock);
	if (a->span_key == key && a->span_end > i && a->span_end <= want)
		from = a->span_end;
	else if (a->span_key == key && a->span_end > want)
		from = want; /* all handed out already */
	a->span_key = key;
	a->span_end = want > a->span_end || from == i ? want : a->span_end;
	pthread_mutex_unlock(&a->lock);
	return from;
}

unsigned long backups_ahead_drain(struct backups_ahead *a)
{
	unsigned long n;

	pthread_mutex_lock(&a->lock);
	while (a->nthreads && (a->len || a->busy))
		pthread_cond_wait(&a->idle, &a->lock);
	n = a->warmed;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void backups_ahead_free(struct backups_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_broadcast(&a->work);
	pthread_mutex_unlock(&a->lock);
	for (unsigned i = 0; i < a->nthreads; i++)
		pthread_join(a->threads[i], NULL);
	pthread_cond_destroy(&a->idle);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
