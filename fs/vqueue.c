/*
 * vqueue.c - grouping change notes into saves. See vqueue.h for the rules.
 */
#include "fs/vqueue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vq_init(struct vq *q)
{
	memset(q, 0, sizeof(*q));
}

static void group_clear(struct vq_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->notes[i].path);
	free(g->notes);
}

void vq_groups_free(struct vq_group *groups, size_t n)
{
	for (size_t i = 0; i < n; i++)
		group_clear(&groups[i]);
	free(groups);
}

void vq_free(struct vq *q)
{
	vq_groups_free(q->groups, q->ngroups);
	vq_init(q);
}

static int same_writer(const struct vcs_who *a, const struct vcs_who *b)
{
	if (a->external || b->external)
		return a->external && b->external;
	return a->uid == b->uid && strcmp(a->comm, b->comm) == 0;
}

int vq_push(struct vq *q, const char *path, int recursive, const struct vcs_who *who,
	    uint64_t now_ms)
{
	struct vq_group *g = NULL;
	int was_empty = q->ngroups == 0;
	size_t i;

	for (i = 0; i < q->ngroups; i++)
		if (same_writer(&q->groups[i].who, who))
			g = &q->groups[i];
	if (!g) {
		if (q->ngroups == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 4;
			struct vq_group *v = realloc(q->groups, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			q->groups = v;
			q->cap = cap;
		}
		g = &q->groups[q->ngroups++];
		memset(g, 0, sizeof(*g));
		g->who = *who;
	}
	for (i = 0; i < g->n; i++) {
		if (strcmp(g->notes[i].path, path) == 0) {
			g->notes[i].recursive |= recursive;
			goto out;
		}
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct vq_note *v = realloc(g->notes, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->notes = v;
		g->cap = cap;
	}
	g->notes[g->n].path = strdup(path);
	if (!g->notes[g->n].path)
		return -ENOMEM;
	g->notes[g->n++].recursive = recursive;
out:
	if (was_empty)
		q->first_ms = now_ms;
	q->last_ms = now_ms;
	q->seq_pushed++;
	return 0;
}

long vq_wait_ms(const struct vq *q, uint64_t now_ms, unsigned quiet_ms, unsigned max_delay_ms,
		int writers)
{
	uint64_t due;

	if (q->ngroups == 0)
		return -1;
	due = q->last_ms + quiet_ms;
	if (writers > 0) {
		/* a save still being written: wait for its close, but not forever */
		uint64_t cap = q->first_ms + max_delay_ms;

		if (now_ms >= cap)
			return 0;
		return (long)((due > cap ? due : cap) - now_ms);
	}
	return now_ms >= due ? 0 : (long)(due - now_ms);
}

static int touched_by_writer(const struct vq_group *groups, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		if (groups[i].who.external)
			continue;
		for (size_t j = 0; j < groups[i].n; j++)
			if (strcmp(groups[i].notes[j].path, path) == 0)
				return 1;
	}
	return 0;
}

int vq_take(struct vq *q, struct vq_group **groups, size_t *ngroups)
{
	struct vq_group *g = q->groups;
	size_t n = q->ngroups, ext = n;

	/* external last */
	for (size_t i = 0; i < n; i++) {
		if (g[i].who.external) {
			ext = i;
			break;
		}
	}
	if (ext < n) {
		struct vq_group e = g[ext];
		size_t k = 0;

		memmove(&g[ext], &g[ext + 1], (n - ext - 1) * sizeof(*g));
		g[n - 1] = e;
		for (size_t j = 0; j < e.n; j++) {
			if (!e.notes[j].recursive && touched_by_writer(g, n - 1, e.notes[j].path))
				free(e.notes[j].path);
			else
				e.notes[k++] = e.notes[j];
		}
		e.n = k;
		g[n - 1] = e;
		if (k == 0) {
			group_clear(&g[n - 1]);
			n--;
		}
	}
	*groups = g;
	*ngroups = n;
	q->groups = NULL;
	q->ngroups = q->cap = 0;
	q->first_ms = q->last_ms = 0;
	return 0;
}
