/*
 * prefetch.c - see prefetch.h. A bounded ring of (directory, names) requests and one thread
 * that opens each name beneath its directory (O_NOFOLLOW: a name is never followed out),
 * calls readahead(2) and closes it.
 */
#include "fs/prefetch.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING 64

struct req {
	int dirfd;
	char *names;
	size_t len;
};

struct prefetch {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct req ring[RING];
	unsigned head, count;
	bool stop;
};

static void req_run(const struct req *r)
{
	for (size_t i = 0; i < r->len; i += strlen(r->names + i) + 1) {
		int fd = openat(r->dirfd, r->names + i,
				O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);

		if (fd < 0)
			continue;
		(void)readahead(fd, 0, PREFETCH_BYTES);
		close(fd);
	}
}

static void req_free(struct req *r)
{
	close(r->dirfd);
	free(r->names);
}

static void *run(void *arg)
{
	struct prefetch *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct req r;

		while (!p->count && !p->stop)
			pthread_cond_wait(&p->cv, &p->lock);
		if (p->stop)
			break;
		r = p->ring[p->head];
		p->head = (p->head + 1) % RING;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		req_run(&r);
		req_free(&r);
		pthread_mutex_lock(&p->lock);
	}
	while (p->count) {
		req_free(&p->ring[p->head]);
		p->head = (p->head + 1) % RING;
		p->count--;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct prefetch *prefetch_start(void)
{
	struct prefetch *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, run, p)) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cv);
		free(p);
		return NULL;
	}
	return p;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cv);
	free(p);
}

void prefetch_dir(struct prefetch *p, int dirfd, const char *names, size_t len)
{
	struct req r;

	if (!p || !len)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->count == RING) { /* behind already: this listing goes without */
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	r.dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	r.names = malloc(len);
	r.len = len;
	if (r.dirfd < 0 || !r.names) {
		if (r.dirfd >= 0)
			close(r.dirfd);
		free(r.names);
		return;
	}
	memcpy(r.names, names, len);
	pthread_mutex_lock(&p->lock);
	if (p->count == RING || p->stop) {
		pthread_mutex_unlock(&p->lock);
		req_free(&r);
		return;
	}
	p->ring[(p->head + p->count) % RING] = r;
	p->count++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
}
