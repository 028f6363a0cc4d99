/*
 * store_index.c - the in-memory index of every stored chunk: hash -> (pack, offset, size).
 *
 * Built at open from packs/ *.idx (an index counts only when its pack exists too) and kept
 * under a reader-writer lock: the backups daemon reads from many threads, a snapshot's workers
 * add. The first index to name a chunk wins (two writers may both have stored it; the sweep
 * keeps one copy). Parsing trusts nothing: a bad line makes the whole index file be skipped,
 * and check then reports its chunks missing. The exact index is an open-addressing table of
 * 20-byte slots with the rest of each hash beside; a lean one is store_lean.c's.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The table: linear probing over any capacity (not only powers of two, so that it can be sized
 * to what the indexes hold), at most 7/8 full, the home slot by "fastrange" on the first 32
 * bits of the hash (a SHA-256 is uniform already).
 */
static size_t home(const uint32_t key[2], size_t cap)
{
	return (size_t)(((uint64_t)key[0] * cap) >> 32);
}

static size_t next(size_t i, size_t cap)
{
	return i + 1 == cap ? 0 : i + 1;
}

/* The slot of @h in @t, or the empty slot where it would go. */
static size_t probe(const struct ixtable *t, const struct store_hash *h)
{
	uint32_t key[2];
	size_t i;

	memcpy(key, h->b, sizeof(key));
	i = home(key, t->cap);
	while (t->tab[i].zlen && (memcmp(t->tab[i].key, key, sizeof(key)) ||
				  memcmp(t->rest[i], h->b + 8, sizeof(t->rest[i]))))
		i = next(i, t->cap);
	return i;
}

static void slot_set(struct ixtable *t, size_t i, const struct store_hash *h, const struct ixloc *l)
{
	ix_slot_set(&t->tab[i], h, l);
	memcpy(t->rest[i], h->b + 8, sizeof(t->rest[i]));
}

/* Can a slot hold @l? */
static bool fits(const struct ixloc *l)
{
	return l->pack < STORE_PACKS_MAX && l->zlen && l->zlen < IX_SHARED &&
	       l->off <= STORE_OFF_LIMIT - l->zlen;
}

void store_ixtable_free(struct ixtable *t)
{
	free(t->tab);
	free(t->rest);
	free(t->fan);
	free(t->shared);
	memset(t, 0, sizeof(*t));
}

/* An empty table of @cap slots. 0 or -ENOMEM. */
static int table_alloc(struct ixtable *t, size_t cap)
{
	memset(t, 0, sizeof(*t));
	t->tab = calloc(cap, sizeof(*t->tab));
	t->rest = calloc(cap, sizeof(*t->rest));
	if (!t->tab || !t->rest) {
		store_ixtable_free(t);
		return -ENOMEM;
	}
	t->cap = cap;
	return 0;
}

/* Capacity for @n entries (and a little room), at most 7/8 full; the table holds 2^32 at most. */
static size_t cap_for(size_t n)
{
	size_t cap = n + n / 7 + 64;

	return cap > UINT32_MAX ? UINT32_MAX : cap;
}

/* Copy @t's slots but those of pack @drop (PACK_NONE: none) into a new table of @cap slots. */
static int rebuild(struct ixtable *t, size_t cap, uint32_t drop)
{
	struct ixtable nt;

	if (table_alloc(&nt, cap))
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->tab[i].zlen || t->tab[i].hi >> 8 == drop)
			continue;
		for (j = home(t->tab[i].key, cap); nt.tab[j].zlen; j = next(j, cap))
			;
		nt.tab[j] = t->tab[i];
		memcpy(nt.rest[j], t->rest[i], sizeof(nt.rest[j]));
		nt.n++;
	}
	store_ixtable_free(t);
	*t = nt;
	return 0;
}

/* Make room for one more entry, to about 1.5 times what it needs when it grows. */
static int grow(struct ixtable *t)
{
	size_t n = t->n + 1, ncap;

	if (n * 8 <= t->cap * 7)
		return 0;
	ncap = cap_for(n + n / 2);
	if (n * 8 > ncap * 7)
		return -ENOMEM; /* 2^32 slots */
	return rebuild(t, ncap, PACK_NONE);
}

static int parse_u64(const char **p, const char *end, char stop, uint64_t *out)
{
	uint64_t v = 0;
	const char *q = *p;

	if (q == end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] != stop))
		return -EINVAL;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		if (v > (UINT64_MAX >> 1) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (q == end || *q != stop)
		return -EINVAL;
	*p = q + 1;
	*out = v;
	return 0;
}

int store_index_parse(const char *buf, size_t len, store_index_fn fn, void *arg, size_t *bad_line)
{
	const char *p = buf, *end = buf + len;
	size_t line = 0;

	while (p < end) {
		struct store_hash h;
		uint64_t off, zlen;
		int ret;

		line++;
		if (bad_line)
			*bad_line = line;
		if ((size_t)(end - p) < STORE_HEX_LEN + 1 || store_hash_parse(p, &h) ||
		    p[STORE_HEX_LEN] != ' ')
			return -EINVAL; /* (store_hash_parse takes lowercase digits only) */
		p += STORE_HEX_LEN + 1;
		if (parse_u64(&p, end, ' ', &off) || parse_u64(&p, end, '\n', &zlen) || !zlen ||
		    zlen > ZSTD_compressBound(STORE_CHUNK_LIMIT) || off > STORE_OFF_LIMIT - zlen)
			return -EINVAL;
		ret = fn(arg, &h, off, zlen);
		if (ret)
			return ret;
	}
	if (bad_line)
		*bad_line = 0;
	return 0;
}

int store_read_file(int dirfd, const char *rel, size_t limit, unsigned char **out, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, ret = 0;

	fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > limit) {
		ret = -EFBIG;
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO; /* shrank under us */
			goto out;
		}
		got += (size_t)n;
	}
out:
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*len = got;
	return 0;
}

/* The table being built by a load, and the pack whose index is being read. */
struct loading {
	struct ixtable t;
	uint32_t pack;
};

static int load_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct loading *l = arg;
	struct ixloc loc = {.off = off, .zlen = (uint32_t)zlen, .pack = l->pack};
	size_t i;

	if (grow(&l->t))
		return -ENOMEM;
	i = probe(&l->t, h);
	if (l->t.tab[i].zlen)
		return 0; /* an earlier index has it */
	slot_set(&l->t, i, h, &loc);
	l->t.n++;
	return 0;
}

/* Is @name "NAME.idx" with NAME 16 lowercase hex digits? Copies NAME into @out. */
static bool index_name(const char *name, char out[17])
{
	if (strlen(name) != 20 || strcmp(name + 16, ".idx"))
		return false;
	for (int i = 0; i < 16; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	memcpy(out, name, 16);
	out[16] = '\0';
	return true;
}
#define READ_BLOCK (256u * 1024) /* an index is read and parsed this much at a time */

int store_index_parse_fd(int fd, store_index_fn fn, void *arg)
{
	const size_t hlen = sizeof(STORE_INDEX_HEADER) - 1;
	size_t have = 0, used;
	bool header = false;
	char *buf = malloc(READ_BLOCK);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + have, READ_BLOCK - have);
		const char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		have += (size_t)n;
		if (!header) {
			if (have < hlen && n > 0)
				continue;
			if (have < hlen || memcmp(buf, STORE_INDEX_HEADER, hlen)) {
				ret = -EINVAL;
				break;
			}
			memmove(buf, buf + hlen, have - hlen);
			have -= hlen;
			header = true;
		}
		/* Whole lines only; at the end of the file, what is left must be whole too. */
		nl = have ? memrchr(buf, '\n', have) : NULL;
		used = n == 0 ? have : nl ? (size_t)(nl - buf) + 1 : 0;
		if (n > 0 && !used && have == READ_BLOCK) {
			ret = -EINVAL; /* a line longer than READ_BLOCK */
			break;
		}
		ret = store_index_parse(buf, used, fn, arg, NULL);
		if (ret || n == 0)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	free(buf);
	return ret;
}

/* Read packs/@name (an index) into @l. A damaged index is skipped. */
static int load_index(int dfd, const char *name, struct loading *l)
{
	size_t n0 = l->t.n;
	int fd, ret;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = store_index_parse_fd(fd, load_line, l);
	close(fd);
	if (ret != -EINVAL)
		return ret;
	/*
	 * Forget what this index added: its lines cannot all be trusted. Rebuilt at the same size:
	 * emptied slots would break other entries' probe runs.
	 */
	return l->t.n == n0 ? 0 : rebuild(&l->t, l->t.cap, l->pack);
}

/* The exact table of the indexes of @packs (in packs/, @dfd), @bytes of them in all. */
static int load_exact(struct ixtable *t, int dfd, const struct pack *packs, size_t npacks,
		      uint64_t bytes)
{
	struct loading l = {0};
	int ret;

	/* Sized once, from the indexes' sizes: a line is at least 69 bytes. */
	ret = table_alloc(&l.t, cap_for((size_t)(bytes / 69)));
	for (size_t i = 0; i < npacks && !ret; i++) {
		char name[24];

		snprintf(name, sizeof(name), "%s.idx", packs[i].name);
		l.pack = (uint32_t)i;
		ret = load_index(dfd, name, &l);
	}
	if (ret)
		store_ixtable_free(&l.t);
	else
		*t = l.t;
	return ret;
}

/* The load itself, with ixlock held for writing and the old index already dropped. */
static int load_locked(struct store *s, char *err, size_t errlen)
{
	struct ixtable t = {0};
	struct pack *packs = NULL;
	size_t npacks = 0, packcap = 0;
	struct timespec mtime = {0, -1};
	uint64_t bytes = 0;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int dfd, ret = 0;

	dfd = openat(s->fd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		if (errno == ENOENT && s->readonly)
			goto swap; /* an empty store */
		ret = -errno;
		store_msg(err, errlen, "store: opening packs: %s", strerror(errno));
		return ret;
	}
	if (fstat(dfd, &st) == 0) {
		struct timespec now;

		mtime = st.st_mtim;
		/*
		 * packs/ changed within the last second: a change in the same tick of the clock
		 * that stamps it would not move its mtime, so trust this load only until the next
		 * miss (git's "racy" index entries). tv_nsec -1 matches no mtime.
		 */
		if (clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec <= st.st_mtim.tv_sec + 1)
			mtime.tv_nsec = -1;
	}
	dir = fdopendir(dfd);
	if (!dir) {
		ret = -errno;
		close(dfd);
		store_msg(err, errlen, "store: opening packs: %s", strerror(-ret));
		return ret;
	}
	/* The packs with an index, numbered in the order they are listed. */
	while ((de = readdir(dir))) {
		char name[17], pname[32];
		struct stat ist;

		if (!index_name(de->d_name, name))
			continue;
		snprintf(pname, sizeof(pname), "%s.pack", name);
		if (fstatat(dirfd(dir), pname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* an index without its pack names nothing readable */
		if (!fstatat(dirfd(dir), de->d_name, &ist, AT_SYMLINK_NOFOLLOW))
			bytes += (uint64_t)ist.st_size;
		if (npacks == STORE_PACKS_MAX) {
			ret = -EOVERFLOW;
			break;
		}
		if (npacks == packcap) {
			size_t ncap = packcap ? 2 * packcap : 16;
			struct pack *np = realloc(packs, ncap * sizeof(*np));

			if (!np) {
				ret = -ENOMEM;
				break;
			}
			packs = np;
			packcap = ncap;
		}
		memcpy(packs[npacks].name, name, sizeof(name));
		packs[npacks].fd = -1;
		npacks++;
	}
	if (!ret)
		ret = s->lean ? store_lean_load(&t, dirfd(dir), packs, npacks)
			      : load_exact(&t, dirfd(dir), packs, npacks, bytes);
	closedir(dir);
	if (ret) {
		free(packs);
		store_msg(err, errlen, "store: loading the pack indexes: %s",
			  ret == -EOVERFLOW ? "too many packs" : strerror(-ret));
		return ret;
	}
swap:
	if (!t.tab && (s->lean ? store_lean_load(&t, -1, NULL, 0) : table_alloc(&t, cap_for(0)))) {
		free(packs); /* an empty store */
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	s->ix = t;
	s->packs = packs;
	s->npacks = npacks;
	s->packcap = packcap;
	s->packs_mtime = mtime;
	return 0;
}

/*
 * The old index goes before the new one is built, under the write lock: readers wait for the
 * reload (tens of milliseconds, after a snapshot or a prune) rather than the process holding
 * two indexes at once. A failed load leaves an empty index that the next miss loads again.
 */
int store_index_load(struct store *s, char *err, size_t errlen)
{
	int ret;

	if (s->op.no != PACK_NONE) {
		/* Its numbers would change under the writer: finish or abandon it first. */
		store_msg(err, errlen, "store: reloading the indexes with a pack open");
		return -EBUSY;
	}
	pthread_rwlock_wrlock(&s->ixlock);
	store_index_free(s);
	s->packs_mtime = (struct timespec){0, -1};
	ret = load_locked(s, err, errlen);
	pthread_rwlock_unlock(&s->ixlock);
	return ret;
}

bool store_index_find_locked(struct store *s, const struct store_hash *h, struct ixloc *out)
{
	const struct ixtable *t = &s->ix;
	size_t i;

	if (s->lean)
		return store_lean_find(t, h, out);
	if (!t->cap)
		return false;
	i = probe(t, h);
	if (!t->tab[i].zlen)
		return false;
	ix_slot_loc(&t->tab[i], out);
	return true;
}

bool store_index_find(struct store *s, const struct store_hash *h, struct ixloc *out)
{
	bool found;

	pthread_rwlock_rdlock(&s->ixlock);
	found = store_index_find_locked(s, h, out);
	pthread_rwlock_unlock(&s->ixlock);
	return found;
}

int store_index_put(struct store *s, const struct store_hash *h, const struct ixloc *loc,
		    bool only_new)
{
	size_t i;
	int ret = 0;

	if (!fits(loc))
		return -EOVERFLOW;
	pthread_rwlock_wrlock(&s->ixlock);
	if (s->lean) {
		ret = -EROFS; /* a table of keys cannot tell a new chunk from an old one */
		goto out;
	}
	if (grow(&s->ix)) {
		ret = -ENOMEM;
		goto out;
	}
	i = probe(&s->ix, h);
	if (s->ix.tab[i].zlen && only_new) {
		ret = 1;
		goto out;
	}
	if (!s->ix.tab[i].zlen)
		s->ix.n++;
	slot_set(&s->ix, i, h, loc);
out:
	pthread_rwlock_unlock(&s->ixlock);
	return ret;
}

int64_t store_index_add_pack(struct store *s, const char *name, int fd)
{
	if (s->npacks == STORE_PACKS_MAX)
		return -EOVERFLOW;
	if (s->npacks == s->packcap) {
		size_t ncap = s->packcap ? 2 * s->packcap : 16;
		struct pack *np = realloc(s->packs, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		s->packs = np;
		s->packcap = ncap;
	}
	snprintf(s->packs[s->npacks].name, sizeof(s->packs[0].name), "%s", name);
	s->packs[s->npacks].fd = fd;
	return (int64_t)s->npacks++;
}

int store_index_pack_fd_locked(struct store *s, uint32_t no)
{
	char rel[40];
	int fd, old = -1;

	if (no >= s->npacks)
		return -ENOENT;
	fd = __atomic_load_n(&s->packs[no].fd, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	snprintf(rel, sizeof(rel), "packs/%s.pack", s->packs[no].name);
	fd = openat(s->fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (!__atomic_compare_exchange_n(&s->packs[no].fd, &old, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd); /* another reader opened it meanwhile */
		fd = old;
	}
	return fd;
}

int store_each(struct store *s, store_each_fn fn, void *arg)
{
	struct store_loc loc;
	struct ixtable copy = {0};
	struct pack *packs;
	size_t npacks;
	int ret = 0;

	if (s->lean)
		return -EOPNOTSUPP; /* the hashes are not all here */
	/* Copies (table and pack names together), so that @fn may call back into the store. */
	pthread_rwlock_rdlock(&s->ixlock);
	npacks = s->npacks;
	packs = malloc((npacks ? npacks : 1) * sizeof(*packs));
	if (packs && !table_alloc(&copy, s->ix.cap)) {
		memcpy(copy.tab, s->ix.tab, copy.cap * sizeof(*copy.tab));
		memcpy(copy.rest, s->ix.rest, copy.cap * sizeof(*copy.rest));
		memcpy(packs, s->packs, npacks * sizeof(*packs));
	}
	pthread_rwlock_unlock(&s->ixlock);
	if (!copy.tab || !packs) {
		store_ixtable_free(&copy);
		free(packs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < copy.cap && !ret; i++) {
		struct store_hash h;
		struct ixloc l;

		if (!copy.tab[i].zlen)
			continue;
		ix_slot_loc(&copy.tab[i], &l);
		if (l.pack >= npacks)
			continue;
		memcpy(h.b, copy.tab[i].key, sizeof(copy.tab[i].key));
		memcpy(h.b + 8, copy.rest[i], sizeof(copy.rest[i]));
		snprintf(loc.pack, sizeof(loc.pack), "%s", packs[l.pack].name);
		loc.off = l.off;
		loc.zlen = l.zlen;
		ret = fn(arg, &h, &loc);
	}
	store_ixtable_free(&copy);
	free(packs);
	return ret;
}

void store_index_free(struct store *s)
{
	for (size_t i = 0; i < s->npacks; i++)
		if (s->packs[i].fd >= 0)
			close(s->packs[i].fd);
	free(s->packs);
	s->packs = NULL;
	s->npacks = s->packcap = 0;
	store_ixtable_free(&s->ix);
}
