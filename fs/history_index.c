/*
 * history_index.c - the config commits sorted by time and grouped by local date.
 *
 * One mutex guards the arrays; the walk of new commits runs under it (the first one is the
 * only long one), and readers get copies.
 */
#include "fs/history_index.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hdate {
	char name[HISTORY_DATE_LEN];
	size_t lo, hi; /* its commits: v[lo..hi) */
};

struct history_index {
	pthread_mutex_t lock;
	struct backups_git *g;
	bool has_head;
	git_oid head;
	struct history_commit *v; /* sorted by time, then id */
	size_t n, cap;
	struct hdate *dates;
	size_t ndates;
};

int history_index_new(struct backups_git *g, struct history_index **out)
{
	struct history_index *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->g = g;
	pthread_mutex_init(&x->lock, NULL);
	*out = x;
	return 0;
}

void history_index_free(struct history_index *x)
{
	if (!x)
		return;
	free(x->v);
	free(x->dates);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

void history_index_date_of(int64_t time, char *date)
{
	time_t t = (time_t)time;
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(date, HISTORY_DATE_LEN, "%Y-%m-%d", &tm))
		snprintf(date, HISTORY_DATE_LEN, "0000-00-00");
}

void history_index_name(const struct history_commit *c, char *name)
{
	char hex[GIT_OID_HEXSZ + 1];
	time_t t = (time_t)c->time;
	struct tm tm;

	git_oid_tostr(hex, sizeof(hex), &c->oid);
	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(name, HISTORY_NAME_LEN, "%02u-%02u-%02u-%.7s", (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, hex);
}

static int add(void *arg, const git_oid *oid, int64_t time)
{
	struct history_index *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 256;
		struct history_commit *nv = reallocarray(x->v, cap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		x->v = nv;
		x->cap = cap;
	}
	x->v[x->n].oid = *oid;
	x->v[x->n++].time = time;
	return 0;
}

static int cmp_commit(const void *a, const void *b)
{
	const struct history_commit *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return git_oid_cmp(&x->oid, &y->oid);
}

/* Sort the commits and group them by date. Under x->lock. */
static int regroup(struct history_index *x)
{
	struct hdate *d = NULL;
	size_t nd = 0, cap = 0;
	char date[HISTORY_DATE_LEN];

	qsort(x->v, x->n, sizeof(*x->v), cmp_commit);
	for (size_t i = 0; i < x->n; i++) {
		history_index_date_of(x->v[i].time, date);
		if (nd && strcmp(d[nd - 1].name, date) == 0) {
			d[nd - 1].hi = i + 1;
			continue;
		}
		if (nd == cap) {
			struct hdate *nv = reallocarray(d, cap ? 2 * cap : 16, sizeof(*nv));

			if (!nv) {
				free(d);
				return -ENOMEM;
			}
			d = nv;
			cap = cap ? 2 * cap : 16;
		}
		snprintf(d[nd].name, sizeof(d[nd].name), "%s", date);
		d[nd].lo = i;
		d[nd++].hi = i + 1;
	}
	free(x->dates);
	x->dates = d;
	x->ndates = nd;
	return 0;
}

int history_index_refresh(struct history_index *x)
{
	git_oid head;
	size_t before;
	int ret;

	ret = backups_git_head(x->g, &head);
	if (ret)
		return ret == -ENOENT ? 0 : ret; /* no commit yet: an empty history */
	pthread_mutex_lock(&x->lock);
	if (x->has_head && git_oid_equal(&head, &x->head))
		goto out;
	before = x->n;
	ret = backups_git_walk(x->g, &head, x->has_head ? &x->head : NULL, add, x);
	if (ret && x->has_head) {
		/* HEAD does not descend from the old one: index everything again */
		x->n = 0;
		ret = backups_git_walk(x->g, &head, NULL, add, x);
	}
	if (!ret)
		ret = regroup(x);
	if (ret) {
		x->n = x->has_head ? before : 0; /* try again next time */
		goto out;
	}
	x->head = head;
	x->has_head = true;
out:
	pthread_mutex_unlock(&x->lock);
	return ret;
}

size_t history_index_ndates(struct history_index *x, int64_t *newest)
{
	size_t n;

	pthread_mutex_lock(&x->lock);
	n = x->ndates;
	if (newest)
		*newest = x->n ? x->v[x->n - 1].time : 0;
	pthread_mutex_unlock(&x->lock);
	return n;
}

int history_index_date(struct history_index *x, size_t i, char *date, int64_t *time)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&x->lock);
	if (i < x->ndates) {
		memcpy(date, x->dates[i].name, HISTORY_DATE_LEN);
		*time = x->v[x->dates[i].hi - 1].time;
		ret = 0;
	}
	pthread_mutex_unlock(&x->lock);
	return ret;
}

int history_index_commits(struct history_index *x, const char *date, struct history_commit **out,
			  size_t *n)
{
	size_t lo = 0, hi;
	int ret = -ENOENT;

	pthread_mutex_lock(&x->lock);
	for (hi = x->ndates; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(x->dates[mid].name, date);

		if (c == 0) {
			const struct hdate *d = &x->dates[mid];

			*n = d->hi - d->lo;
			*out = malloc(*n * sizeof(**out));
			ret = *out ? 0 : -ENOMEM;
			if (*out)
				memcpy(*out, x->v + d->lo, *n * sizeof(**out));
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	pthread_mutex_unlock(&x->lock);
	return ret;
}
