/*
 * test_vqueue.c - the coalescing rules: when notes become a save, and how they are grouped.
 */
#include "fs/vqueue.h"
#include "tests/unit/unit.h"

#include <stdlib.h>

static struct vcs_who writer(uid_t uid, const char *comm)
{
	struct vcs_who w = {.uid = uid, .pid = 100};

	snprintf(w.comm, sizeof(w.comm), "%s", comm);
	return w;
}

int main(void)
{
	struct vq q;
	struct vq_group *g;
	size_t n;
	struct vcs_who vim = writer(1000, "vim"), sed = writer(0, "sed"), ext = {.external = 1};

	vq_init(&q);
	CHECK_INT(vq_wait_ms(&q, 1000, 150, 5000, 0), -1);

	/* vim's save: backup copy, write, rename, chmod, all within a few ms */
	vq_push(&q, "nginx/a.conf~", 0, &vim, 1000);
	vq_push(&q, "nginx/4913", 0, &vim, 1001);
	vq_push(&q, "nginx/a.conf", 0, &vim, 1002);
	vq_push(&q, "nginx/a.conf", 0, &vim, 1003);
	CHECK_INT(vq_wait_ms(&q, 1003, 150, 5000, 0), 150);
	CHECK_INT(vq_wait_ms(&q, 1100, 150, 5000, 0), 53);
	CHECK_INT(vq_wait_ms(&q, 1152, 150, 5000, 0), 1);
	CHECK_INT(vq_wait_ms(&q, 1153, 150, 5000, 0), 0);
	/* an open writer holds the save back, up to the maximum delay */
	CHECK(vq_wait_ms(&q, 1200, 150, 5000, 1) > 0);
	CHECK_INT(vq_wait_ms(&q, 6000, 150, 5000, 1), 0);

	/* the inotify echo of the same path is dropped; another path stays external */
	vq_push(&q, "nginx/a.conf", 0, &ext, 1004);
	vq_push(&q, "nginx/b.conf", 0, &ext, 1005);
	vq_push(&q, "env/x/.env", 0, &sed, 1006);
	vq_take(&q, &g, &n);
	CHECK_INT(n, 3);
	CHECK_STR(g[0].who.comm, "vim");
	CHECK_INT(g[0].n, 3); /* duplicates merged */
	CHECK_STR(g[1].who.comm, "sed");
	CHECK(g[2].who.external);
	CHECK_INT(g[2].n, 1);
	CHECK_STR(g[2].notes[0].path, "nginx/b.conf");
	vq_groups_free(g, n);
	CHECK_INT(vq_wait_ms(&q, 2000, 150, 5000, 0), -1);

	/* an external group made only of echoes disappears */
	vq_push(&q, "nginx/a.conf", 0, &sed, 3000);
	vq_push(&q, "nginx/a.conf", 0, &ext, 3001);
	vq_take(&q, &g, &n);
	CHECK_INT(n, 1);
	CHECK(!g[0].who.external);
	vq_groups_free(g, n);

	/* a recursive external note is kept: a directory rescan is not an echo */
	vq_push(&q, "nginx/d", 1, &sed, 4000);
	vq_push(&q, "nginx/d", 1, &ext, 4001);
	vq_take(&q, &g, &n);
	CHECK_INT(n, 2);
	CHECK_INT(g[1].notes[0].recursive, 1);
	vq_groups_free(g, n);

	/* the same user with another program is another save */
	struct vcs_who vim2 = writer(1000, "nano");

	vq_push(&q, "a", 0, &vim, 5000);
	vq_push(&q, "b", 0, &vim2, 5001);
	vq_take(&q, &g, &n);
	CHECK_INT(n, 2);
	vq_groups_free(g, n);
	CHECK_INT(q.seq_pushed, 13);
	vq_free(&q);
	UNIT_DONE();
}
