/*
 * store_lean.c - the lean index of a read-only store (store_opts.lean): 20-byte slots sorted by
 * key (the hash's first 8 bytes) in buckets by the key's first 16 bits, nothing else per chunk.
 *
 * Built in two passes over packs/ *.idx, so that the table is exactly as large as what it holds
 * and nothing twice that size is ever allocated: the first pass counts the lines of each bucket
 * (by their first characters: cheap), the second parses them and puts each line in its bucket.
 * Each bucket is then sorted by key, pack and offset; the lines of a damaged index go (as the
 * exact index skips them), and a key met twice is kept once, at its first pack's copy. A key met twice may also be two chunks whose hashes
 * begin alike: their indexes are read again, and the chunks of such a key are kept by whole
 * hash in a short sorted list (ixtable.shared) to which the slot points (IX_SHARED).
 */
#include "snapshot/store_int.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS (1u << 16)

/* A key (8 bytes of a hash) as a number that orders as the bytes do (a memcmp, inlined). */
static uint64_t key_num(const void *key)
{
	uint64_t v;

	memcpy(&v, key, sizeof(v));
	return be64toh(v);
}

static unsigned bucket_of(const void *key)
{
	const unsigned char *b = key;

	return (unsigned)b[0] << 8 | b[1];
}

/* A load: the table, the lines put in each bucket so far, the pack being read. */
struct build {
	struct ixtable *t;
	uint32_t *fill;
	uint32_t pack;
};

static unsigned nibble(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 0;
}

#define COUNT_BLOCK (256u * 1024)

/*
 * The first pass over the index of pack @no: count its lines into their buckets by their first
 * four characters, in @buf (COUNT_BLOCK bytes), without reading them further. A line that is
 * not sound is counted somewhere all the same: the second pass reads the lines for real and
 * finds a damaged index; counting too many only leaves room unused. 0, -ENOENT, or -errno.
 */
static int count_pack(int dfd, const struct pack *packs, uint32_t no, uint32_t *fill, char *buf)
{
	size_t have = 0, lines = 0;
	char name[24];
	int fd, ret = 0;

	snprintf(name, sizeof(name), "%s.idx", packs[no].name);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + have, COUNT_BLOCK - have);
		const char *p = buf, *end, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : 0;
			break;
		}
		have += (size_t)n;
		end = buf + have;
		for (; (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1)
			if (lines++ && nl - p >= 4) /* (the first line is the header) */
				fill[nibble(p[0]) << 12 | nibble(p[1]) << 8 | nibble(p[2]) << 4 |
				     nibble(p[3])]++;
		have = (size_t)(end - p);
		if (have == COUNT_BLOCK)
			have = 0; /* a line that long is not sound: the second pass says so */
		memmove(buf, p, have);
	}
	close(fd);
	return ret;
}

static int put_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct build *b = arg;
	struct ixloc loc = {.off = off, .zlen = (uint32_t)zlen, .pack = b->pack};
	unsigned k = bucket_of(h->b);

	if (b->t->fan[k] + b->fill[k] == b->t->fan[k + 1])
		return 0; /* more lines than counted: an index changed meanwhile (they never do) */
	ix_slot_set(&b->t->tab[b->t->fan[k] + b->fill[k]++], h, &loc);
	return 0;
}

/* Parse the index of pack @no with @fn. 0, -EINVAL (damaged), -ENOENT (gone), or -errno. */
static int parse_pack(int dfd, const struct pack *packs, uint32_t no, store_index_fn fn, void *arg)
{
	char name[24];
	int fd, ret;

	snprintf(name, sizeof(name), "%s.idx", packs[no].name);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ret = store_index_parse_fd(fd, fn, arg);
	close(fd);
	return ret;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct ixslot *x = a, *y = b;
	uint64_t kx = key_num(x->key), ky = key_num(y->key);

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->hi != y->hi) /* pack, then the offset's high bits */
		return x->hi < y->hi ? -1 : 1;
	return x->off_lo < y->off_lo ? -1 : x->off_lo > y->off_lo;
}

/* Append @item (@size bytes) to the array *@v of *@n items (room for *@cap). 0 or -ENOMEM. */
static int push(void *v, size_t *n, size_t *cap, size_t size, const void *item)
{
	void **pv = v;

	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		void *nv = reallocarray(*pv, ncap, size);

		if (!nv)
			return -ENOMEM;
		*pv = nv;
		*cap = ncap;
	}
	memcpy((char *)*pv + *n * size, item, size);
	(*n)++;
	return 0;
}

/* The keys met twice, and the packs of their lines. */
struct twice {
	uint64_t *keys;
	size_t nkeys, capkeys;
	uint32_t *packs;
	size_t npacks, cappacks;
};

/*
 * Sort each bucket and keep a key once (its first pack's copy), noting the keys met twice;
 * the buckets close up, and the table gives back what the lines it did not put leave unused.
 */
static int settle(struct ixtable *t, const uint32_t *fill, const bool *damaged,
		  struct twice *tw)
{
	size_t w = 0;
	int ret = 0;

	for (unsigned k = 0; k < BUCKETS && !ret; k++) {
		struct ixslot *v = t->tab + t->fan[k];
		size_t n = fill[k];

		t->fan[k] = (uint32_t)w;
		qsort(v, n, sizeof(*v), cmp_slot);
		for (size_t i = 0; i < n && !ret; i++) {
			uint32_t pack;
			uint64_t key;

			if (damaged[v[i].hi >> 8])
				continue;
			if (w > t->fan[k] && key_num(v[i].key) == key_num(t->tab[w - 1].key)) {
				memcpy(&key, v[i].key, sizeof(key));
				pack = v[i].hi >> 8;
				ret = push(&tw->keys, &tw->nkeys, &tw->capkeys, sizeof(key), &key);
				if (!ret)
					ret = push(&tw->packs, &tw->npacks, &tw->cappacks,
						   sizeof(pack), &pack);
				pack = t->tab[w - 1].hi >> 8;
				if (!ret)
					ret = push(&tw->packs, &tw->npacks, &tw->cappacks,
						   sizeof(pack), &pack);
				continue;
			}
			t->tab[w++] = v[i];
		}
	}
	t->fan[BUCKETS] = (uint32_t)w;
	t->n = t->cap = w;
	if (w) {
		struct ixslot *v = reallocarray(t->tab, w, sizeof(*v));

		if (v)
			t->tab = v;
	}
	return ret;
}

/* The slot of key @key (the first 8 bytes of a hash) in @t, or SIZE_MAX. */
static size_t slot_of(const struct ixtable *t, const void *key)
{
	unsigned k = bucket_of(key);
	size_t lo = t->fan[k], hi = t->fan[k + 1];
	uint64_t want = key_num(key);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_num(t->tab[mid].key) < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->fan[k + 1] && key_num(t->tab[lo].key) == want ? lo : SIZE_MAX;
}

/* A line of an index whose key was met twice. */
struct seen {
	struct store_hash h;
	struct ixloc loc;
	size_t seq; /* in the order of the load: the first copy of a chunk wins */
};

struct collecting {
	const uint64_t *keys;
	size_t nkeys;
	uint32_t pack;
	struct seen *v;
	size_t n, cap;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x < y ? -1 : x > y;
}

static int cmp_u32(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	int c = memcmp(&x->h, &y->h, sizeof(x->h));

	return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_shared(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct store_hash));
}

/* Sort @v (@n items of @size) and drop repeats; the new count. */
static size_t sort_unique(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *p = v;
	size_t k = 0;

	qsort(v, n, size, cmp);
	for (size_t i = 0; i < n; i++)
		if (!k || cmp(p + (k - 1) * size, p + i * size))
			memmove(p + k++ * size, p + i * size, size);
	return k;
}

static int collect_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct collecting *c = arg;
	struct seen e = {.h = *h, .loc = {.off = off, .zlen = (uint32_t)zlen, .pack = c->pack}};
	uint64_t key;

	memcpy(&key, h->b, sizeof(key));
	if (!bsearch(&key, c->keys, c->nkeys, sizeof(key), cmp_u64))
		return 0;
	e.seq = c->n;
	return push(&c->v, &c->n, &c->cap, sizeof(e), &e);
}

/*
 * Keys were met twice: the same chunk stored twice, or two chunks whose hashes begin alike.
 * Read the indexes of those lines again, and give each chunk of a key that two chunks share
 * its place in the table's list of shared keys, by whole hash.
 */
static int resolve_shared(struct ixtable *t, int dfd, const struct pack *packs, struct twice *tw)
{
	struct collecting c = {0};
	size_t cap = 0;
	int ret = 0;

	if (!tw->nkeys)
		return 0;
	c.nkeys = sort_unique(tw->keys, tw->nkeys, sizeof(*tw->keys), cmp_u64);
	c.keys = tw->keys;
	tw->npacks = sort_unique(tw->packs, tw->npacks, sizeof(*tw->packs), cmp_u32);
	for (size_t i = 0; i < tw->npacks && !ret; i++) {
		size_t n0 = c.n;

		c.pack = tw->packs[i];
		ret = parse_pack(dfd, packs, c.pack, collect_line, &c);
		if (ret == -EINVAL || ret == -ENOENT) {
			c.n = n0; /* skipped by the load too, or gone since */
			ret = 0;
		}
	}
	if (!ret)
		qsort(c.v, c.n, sizeof(*c.v), cmp_seen);
	for (size_t i = 0, j; !ret && i < c.n; i = j) {
		size_t distinct = 1, slot;

		for (j = i + 1; j < c.n && !memcmp(c.v[j].h.b, c.v[i].h.b, 8); j++)
			distinct += !!memcmp(&c.v[j].h, &c.v[j - 1].h, sizeof(c.v[j].h));
		slot = slot_of(t, c.v[i].h.b);
		if (distinct < 2 || slot == SIZE_MAX)
			continue; /* one chunk, stored twice: the slot has its first copy */
		t->tab[slot].zlen |= IX_SHARED;
		for (size_t k = i; k < j && !ret; k++) {
			struct ixshared e = {.h = c.v[k].h, .loc = c.v[k].loc};

			if (k == i || memcmp(&c.v[k].h, &c.v[k - 1].h, sizeof(c.v[k].h)))
				ret = push(&t->shared, &t->nshared, &cap, sizeof(e), &e);
		}
	}
	free(c.v);
	return ret;
}

int store_lean_load(struct ixtable *t, int dfd, const struct pack *packs, size_t npacks)
{
	struct build b = {.t = t};
	struct twice tw = {0};
	bool *damaged = calloc(npacks ? npacks : 1, sizeof(*damaged));
	char *buf = malloc(COUNT_BLOCK);
	uint64_t n = 0;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	t->fan = calloc(BUCKETS + 1, sizeof(*t->fan));
	b.fill = calloc(BUCKETS, sizeof(*b.fill));
	if (!damaged || !buf || !t->fan || !b.fill) {
		ret = -ENOMEM;
		goto out;
	}
	/* First pass: count. */
	for (uint32_t i = 0; i < npacks && !ret; i++) {
		ret = count_pack(dfd, packs, i, b.fill, buf);
		if (ret == -ENOENT) {
			damaged[i] = true; /* gone meanwhile: a sweep */
			ret = 0;
		}
	}
	for (unsigned k = 0; k < BUCKETS; k++) {
		t->fan[k] = (uint32_t)n;
		n += b.fill[k];
		b.fill[k] = 0;
	}
	t->fan[BUCKETS] = (uint32_t)n;
	if (ret || n > UINT32_MAX) {
		ret = ret ? ret : -ENOMEM;
		goto out;
	}
	t->tab = malloc((n ? n : 1) * sizeof(*t->tab));
	if (!t->tab) {
		ret = -ENOMEM;
		goto out;
	}
	/* Second pass: put. settle() drops the lines of an index found damaged. */
	for (uint32_t i = 0; i < npacks && !ret; i++) {
		if (damaged[i])
			continue;
		b.pack = i;
		ret = parse_pack(dfd, packs, i, put_line, &b);
		if (ret == -EINVAL || ret == -ENOENT) {
			damaged[i] = true;
			ret = 0;
		}
	}
	if (!ret)
		ret = settle(t, b.fill, damaged, &tw);
	if (!ret)
		ret = resolve_shared(t, dfd, packs, &tw);
out:
	free(tw.keys);
	free(tw.packs);
	free(b.fill);
	free(buf);
	free(damaged);
	if (ret)
		store_ixtable_free(t);
	return ret;
}

bool store_lean_find(const struct ixtable *t, const struct store_hash *h, struct ixloc *out)
{
	const struct ixshared *e;
	size_t i;

	if (!t->fan)
		return false;
	i = slot_of(t, h->b);
	if (i == SIZE_MAX)
		return false;
	if (!(t->tab[i].zlen & IX_SHARED)) {
		ix_slot_loc(&t->tab[i], out);
		return true;
	}
	e = bsearch(h, t->shared, t->nshared, sizeof(*t->shared), cmp_shared);
	if (e)
		*out = e->loc;
	return e != NULL;
}
