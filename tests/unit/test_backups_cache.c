/*
 * test_backups_cache.c - the pieces of backups/ that need no store: the chunk cache (hits,
 * LRU eviction within the budget, chunks held across eviction, one load for concurrent
 * readers, errors not cached, read-ahead), the offset -> frame mapping of dumps, the node
 * table (same name, same node and st_ino; distinct st_inos; freeing on forget), and where the
 * state directory would appear in a tree (never shown).
 */
#include "fs/backups_cache.h"
#include "fs/backups_file.h"
#include "fs/backups_hide.h"
#include "fs/backups_node.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define CHUNK 1000

static int loads, fail_next, slow_ms;
static pthread_mutex_t loads_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fake store: chunk h is CHUNK bytes of h->b[0]. */
static int fake_load(void *arg, const struct store_hash *h, void **out, size_t *len)
{
	(void)arg;
	pthread_mutex_lock(&loads_lock);
	loads++;
	if (fail_next) {
		fail_next = 0;
		pthread_mutex_unlock(&loads_lock);
		return -EIO;
	}
	pthread_mutex_unlock(&loads_lock);
	if (slow_ms)
		usleep((useconds_t)slow_ms * 1000);
	*out = malloc(CHUNK);
	if (!*out)
		return -ENOMEM;
	memset(*out, h->b[0], CHUNK);
	*len = CHUNK;
	return 0;
}

static struct store_hash hh(int i)
{
	struct store_hash h;

	memset(&h, 0, sizeof(h));
	h.b[0] = (uint8_t)i;
	h.b[9] = (uint8_t)(i * 7);
	return h;
}

static int load_count(void)
{
	int n;

	pthread_mutex_lock(&loads_lock);
	n = loads;
	pthread_mutex_unlock(&loads_lock);
	return n;
}

static void test_lru(void)
{
	struct backups_cache *c;
	const struct backups_chunk *ch, *held;
	struct backups_cache_stats st;
	struct store_hash h;

	loads = 0;
	CHECK_INT(backups_cache_new(4 * CHUNK, fake_load, NULL, &c), 0);
	h = hh(1);
	CHECK_INT(backups_cache_get(c, &h, &held), 0);
	CHECK(held->len == CHUNK && held->data[0] == 1 && held->data[CHUNK - 1] == 1);
	for (int i = 2; i <= 6; i++) {
		h = hh(i);
		CHECK_INT(backups_cache_get(c, &h, &ch), 0);
		backups_cache_put(c, ch);
	}
	backups_cache_stats(c, &st);
	CHECK_INT(loads, 6);
	CHECK_MSG(st.bytes <= 4 * CHUNK && st.count == 4, "the budget holds: %zu bytes, %zu chunks",
		  st.bytes, st.count);
	CHECK_INT(st.evictions, 2);
	CHECK_MSG(held->data[500] == 1, "a chunk held by a reader survives its eviction");
	backups_cache_put(c, held);
	h = hh(6);
	CHECK_INT(backups_cache_get(c, &h, &ch), 0);
	backups_cache_put(c, ch);
	CHECK_INT(loads, 6); /* the newest is a hit */
	h = hh(3);
	CHECK_INT(backups_cache_get(c, &h, &ch), 0); /* 3 was used after 1 and 2: still there */
	backups_cache_put(c, ch);
	CHECK_INT(loads, 6);
	h = hh(1);
	CHECK_INT(backups_cache_get(c, &h, &ch), 0); /* the oldest was evicted: loaded again */
	CHECK(ch->data[0] == 1);
	backups_cache_put(c, ch);
	CHECK_INT(loads, 7);
	backups_cache_stats(c, &st);
	CHECK_INT(st.hits, 2);
	CHECK_INT(st.misses, 7);

	fail_next = 1;
	h = hh(42);
	CHECK_INT(backups_cache_get(c, &h, &ch), -EIO);
	CHECK_INT(backups_cache_get(c, &h, &ch), 0); /* an error is not cached */
	CHECK(ch->data[0] == 42);
	backups_cache_put(c, ch);
	backups_cache_free(c);
}

struct reader {
	struct backups_cache *c;
	int ok;
};

static void *read_same(void *arg)
{
	struct reader *r = arg;
	const struct backups_chunk *ch;
	struct store_hash h = hh(9);

	r->ok = backups_cache_get(r->c, &h, &ch) == 0 && ch->data[CHUNK / 2] == 9;
	if (r->ok)
		backups_cache_put(r->c, ch);
	return NULL;
}

static void test_concurrent(void)
{
	struct reader r[8];
	pthread_t t[8];
	struct backups_cache *c;
	int all = 1;

	loads = 0;
	slow_ms = 50;
	CHECK_INT(backups_cache_new(0, fake_load, NULL, &c), 0);
	for (int i = 0; i < 8; i++) {
		r[i].c = c;
		pthread_create(&t[i], NULL, read_same, &r[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		all &= r[i].ok;
	}
	CHECK_MSG(all, "8 concurrent readers of one chunk all get it");
	CHECK_INT(load_count(), 1);
	slow_ms = 0;
	backups_cache_free(c);
}

static void test_prefetch(void)
{
	struct backups_cache *c;
	const struct backups_chunk *ch;
	struct backups_cache_stats st;
	struct store_hash h = hh(77);

	loads = 0;
	CHECK_INT(backups_cache_new(0, fake_load, NULL, &c), 0);
	backups_cache_prefetch(c, &h);
	backups_cache_prefetch(c, &h); /* queued once */
	backups_cache_drain(c);
	CHECK_INT(load_count(), 1);
	CHECK_INT(backups_cache_get(c, &h, &ch), 0);
	backups_cache_put(c, ch);
	backups_cache_stats(c, &st);
	CHECK_INT(st.prefetches, 1);
	CHECK_INT(st.hits, 1);
	CHECK_INT(st.misses, 0);
	backups_cache_prefetch(c, &h); /* cached: nothing to do */
	backups_cache_drain(c);
	CHECK_INT(load_count(), 1);
	backups_cache_free(c);
}

static void test_nodes(void)
{
	struct backups_nodes *t;
	struct backups_node tmpl = {.kind = BN_MAN}, *a, *b, *c;
	struct backups_root *r1 = backups_root_new("2025-10-01#12", NULL);
	struct backups_root *r2 = backups_root_new("2025-10-02#13", NULL);
	struct backups_root *r1b = backups_root_new("2025-10-01#12", NULL);
	int distinct = 1;

	CHECK_INT(backups_nodes_new(NULL, "backups", &t), 0);
	tmpl.a.mode = S_IFREG | 0600;
	a = backups_nodes_get(t, r1, "db/x.sql.zst", &tmpl);
	b = backups_nodes_get(t, r1b, "db/x.sql.zst", &tmpl);
	c = backups_nodes_get(t, r2, "db/x.sql.zst", &tmpl);
	CHECK_MSG(a && a == b, "the same (root, path) is the same node");
	CHECK(c && c != a && c->a.ino != a->a.ino);
	CHECK(a->a.ino == backups_ino("backups", "2025-10-01#12", "db/x.sql.zst"));
	CHECK(a->a.ino != backups_ino("history", "2025-10-01#12", "db/x.sql.zst"));
	CHECK(a->n.kind == NODE_VIEW && a->n.priv == a);
	CHECK_INT(backups_nodes_count(t), 2);
	backups_nodes_forget(t, a, 1);
	CHECK_INT(backups_nodes_count(t), 2); /* one reference left */
	backups_nodes_forget(t, b, 1);
	backups_nodes_forget(t, c, 1);
	CHECK_INT(backups_nodes_count(t), 0);
	/* many nodes: the table grows, every st_ino distinct, every node found again */
	for (int i = 0; i < 20000; i++) {
		char path[32];

		snprintf(path, sizeof(path), "uploads/f%d", i);
		a = backups_nodes_get(t, r2, path, &tmpl);
		b = backups_nodes_get(t, r2, path, &tmpl);
		distinct &= a == b && a->refs == 2;
	}
	CHECK_MSG(distinct, "20000 nodes each found again");
	CHECK_INT(backups_nodes_count(t), 20000);
	backups_root_put(r1);
	backups_root_put(r1b);
	backups_root_put(r2);
	backups_nodes_free(t); /* frees the nodes and, through them, r2 */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_ino_distinct(void)
{
	size_t n = 200000, dup = 0, low = 0;
	uint64_t *v = malloc(n * sizeof(*v));
	char path[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "uploads/clemence/2025/%zu/img%zu.jpg", i % 12, i);
		v[i] = backups_ino("backups", i % 2 ? "2025-10-01#1" : "2025-10-02#2", path);
		low += v[i] < (1u << 20);
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 1; i < n; i++)
		dup += v[i] == v[i - 1];
	CHECK_MSG(!dup && !low, "200000 st_inos distinct (%zu equal), none below 2^20 (%zu)", dup,
		  low);
	CHECK(backups_ino("backups", "a", "bc") != backups_ino("backups", "ab", "c"));
	CHECK(backups_ino("backups", "", "x") == backups_ino("backups", "", "x"));
	free(v);
}

/* A config with the state directory at @state (relative to @top) loaded into *tab. */
static int load_conf(const char *top, const char *state, struct mtab **tab)
{
	char path[512], err[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/statefs.conf", top);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(
	    f,
	    "[state]\n\tdir = %s/%s\n[mount \"nginx\"]\n\tkind = tree\n\tsource = %s/etc/nginx\n"
	    "[mount \"env\"]\n\tkind = files\n\tsource = %s/opt/*/.env\n"
	    "[mount \"uploads\"]\n\tkind = plain\n\tsource = a:%s/up/a\n\tsource = b:%s/up/b\n",
	    top, state, top, top, top, top);
	fclose(f);
	return mtab_load(path, tab, err, sizeof(err));
}

static void test_hide(void)
{
	char top[] = "/tmp/statefs-uh.XXXXXX", cmd[256];
	struct backups_hide h;
	struct mtab *tab;

	CHECK(mkdtemp(top) != NULL);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/etc/nginx %s/opt/x %s/up/a %s/up/b/lib %s/var", top,
		 top, top, top, top);
	CHECK_INT(system(cmd), 0);
	CHECK_INT(load_conf(top, "var/statefs", &tab), 0);
	CHECK_INT(backups_hide_build(tab, &h), 0);
	CHECK_MSG(h.n == 0, "a state directory beneath no source hides nothing");
	backups_hide_free(&h);
	mtab_free(tab);
	CHECK_INT(load_conf(top, "up/b/lib/state", &tab), 0); /* does not exist yet */
	CHECK_INT(backups_hide_build(tab, &h), 0);
	CHECK_INT(h.n, 1);
	CHECK(h.n && strcmp(h.paths[0], "uploads/b/lib/state") == 0);
	CHECK(backups_hide_is(&h, "uploads/b/lib/state"));
	CHECK(!backups_hide_is(&h, "uploads/b/lib"));
	CHECK(backups_hide_child(&h, "uploads/b/lib", "state"));
	CHECK(!backups_hide_child(&h, "uploads/b/lib", "states"));
	CHECK(!backups_hide_child(&h, "uploads/b", "state"));
	CHECK(!backups_hide_child(&h, "", "state"));
	backups_hide_free(&h);
	mtab_free(tab);
	CHECK_INT(load_conf(top, "etc/nginx/.state", &tab), 0);
	CHECK_INT(backups_hide_build(tab, &h), 0);
	CHECK(h.n == 1 && backups_hide_child(&h, "nginx", ".state"));
	backups_hide_free(&h);
	mtab_free(tab);
	CHECK_INT(load_conf(top, "opt/.st", &tab), 0);
	CHECK_INT(backups_hide_build(tab, &h), 0);
	CHECK_MSG(h.n == 1 && backups_hide_child(&h, "env", ".st"),
		  "under a files mount's prefix: beneath its name");
	backups_hide_free(&h);
	mtab_free(tab);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	CHECK_INT(system(cmd), 0);
}

int main(void)
{
	test_lru();
	test_concurrent();
	test_prefetch();
	test_nodes();
	test_ino_distinct();
	test_hide();
	UNIT_DONE();
}
