/*
 * store_index.c - the in-memory index of every stored chunk: hash -> (pack, offset, size).
 *
 * Built at open from packs/ *.idx (an index counts only when its pack exists too), kept in one
 * open-addressing table under a reader-writer lock: the backups daemon reads from many threads,
 * a snapshot's workers add. The first index to name a chunk wins (two writers may both have
 * stored it; the sweep keeps one copy). Parsing trusts nothing: a bad line makes the whole
 * index file be skipped, and check then reports its chunks missing.
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
static size_t slot_of(const struct store_hash *h, size_t cap)
{
	uint32_t v;

	memcpy(&v, h->b, sizeof(v));
	return (size_t)(((uint64_t)v * cap) >> 32);
}

static size_t next(size_t i, size_t cap)
{
	return i + 1 == cap ? 0 : i + 1;
}

static struct ixent *probe(struct ixent *tab, size_t cap, const struct store_hash *h)
{
	size_t i = slot_of(h, cap);

	while (tab[i].zlen && memcmp(&tab[i].h, h, sizeof(*h)))
		i = next(i, cap);
	return &tab[i];
}

/* Capacity for @n entries (and a little room), at most 7/8 full; the table holds 2^32 at most. */
static size_t cap_for(size_t n)
{
	size_t cap = n + n / 7 + 64;

	return cap > UINT32_MAX ? UINT32_MAX : cap;
}

/* Make room for one more entry than @n, to about 1.5 times what it needs when it grows. */
static int grow(struct ixent **tab, size_t *cap, size_t n)
{
	size_t ncap;
	struct ixent *nt;

	if ((n + 1) * 8 <= *cap * 7)
		return 0;
	ncap = cap_for((n + 1) + (n + 1) / 2);
	if ((n + 1) * 8 > ncap * 7)
		return -ENOMEM; /* 2^32 slots */
	nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < *cap; i++)
		if ((*tab)[i].zlen)
			*probe(nt, ncap, &(*tab)[i].h) = (*tab)[i];
	free(*tab);
	*tab = nt;
	*cap = ncap;
	return 0;
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
			return -EINVAL;
		for (int i = 0; i < STORE_HEX_LEN; i++)
			if (p[i] >= 'A' && p[i] <= 'F')
				return -EINVAL;
		p += STORE_HEX_LEN + 1;
		if (parse_u64(&p, end, ' ', &off) || parse_u64(&p, end, '\n', &zlen) || !zlen ||
		    zlen > ZSTD_compressBound(STORE_CHUNK_LIMIT) || off > (UINT64_MAX >> 1) - zlen)
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
	struct ixent *tab;
	size_t cap, n;
	uint32_t pack;
};

static int load_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct loading *l = arg;
	struct ixent *e;

	if (grow(&l->tab, &l->cap, l->n))
		return -ENOMEM;
	e = probe(l->tab, l->cap, h);
	if (e->zlen)
		return 0; /* an earlier index has it */
	e->h = *h;
	e->off = off;
	e->zlen = (uint32_t)zlen;
	e->pack = l->pack;
	l->n++;
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

#define READ_BLOCK (1u << 20) /* an index is read and parsed a MiB at a time */

/* Parse the index open as @fd into @l, a block at a time. 0, -EINVAL (damaged), or -errno. */
static int parse_stream(int fd, struct loading *l)
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
			ret = -EINVAL; /* a line of a MiB */
			break;
		}
		ret = store_index_parse(buf, used, load_line, l, NULL);
		if (ret || n == 0)
			break;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
	free(buf);
	return ret;
}

/* Read packs/@name (an index) into @l. A damaged index is skipped: 0 with *skipped set. */
static int load_index(int dfd, const char *name, struct loading *l, bool *skipped)
{
	size_t n0 = l->n;
	int fd, ret;

	*skipped = false;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = parse_stream(fd, l);
	close(fd);
	if (ret != -EINVAL)
		return ret;
	/* Forget what this index added: its lines cannot all be trusted. */
	*skipped = true;
	if (l->n == n0)
		return 0;
	{
		struct ixent *old = l->tab;
		size_t cap = l->cap;

		/* Rebuild at the same size: emptied slots would break other entries' probe runs. */
		l->tab = calloc(cap, sizeof(*l->tab));
		if (!l->tab) {
			l->tab = old;
			return -ENOMEM;
		}
		for (size_t i = 0; i < cap; i++)
			if (old[i].zlen && old[i].pack != l->pack)
				*probe(l->tab, cap, &old[i].h) = old[i];
		free(old);
		l->n = n0;
	}
	return 0;
}

/* The load itself, with ixlock held for writing and the old index already dropped. */
static int load_locked(struct store *s, char *err, size_t errlen)
{
	struct loading l = {0};
	struct pack *packs = NULL;
	size_t npacks = 0, packcap = 0;
	struct timespec mtime = {0, -1};
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
	/* Size the table once, from the indexes' sizes (a line is at least 69 bytes). */
	{
		uint64_t bytes = 0;
		char name[17];

		while ((de = readdir(dir)))
			if (index_name(de->d_name, name) &&
			    !fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
				bytes += (uint64_t)st.st_size;
		rewinddir(dir);
		l.cap = cap_for((size_t)(bytes / 69));
		l.tab = calloc(l.cap, sizeof(*l.tab));
		if (!l.tab) {
			closedir(dir);
			store_msg(err, errlen, "store: out of memory");
			return -ENOMEM;
		}
	}
	while ((de = readdir(dir))) {
		char name[17], pname[32];
		bool skipped;

		if (!index_name(de->d_name, name))
			continue;
		snprintf(pname, sizeof(pname), "%s.pack", name);
		if (fstatat(dirfd(dir), pname, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* an index without its pack names nothing readable */
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
		l.pack = (uint32_t)npacks;
		ret = load_index(dirfd(dir), de->d_name, &l, &skipped);
		if (ret)
			break;
		memcpy(packs[npacks].name, name, sizeof(name));
		packs[npacks].fd = -1;
		npacks++;
	}
	closedir(dir);
	if (ret) {
		free(l.tab);
		free(packs);
		store_msg(err, errlen, "store: loading the pack indexes: %s", strerror(-ret));
		return ret;
	}
swap:
	if (!l.tab && grow(&l.tab, &l.cap, 0)) { /* an empty store */
		free(packs);
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	s->tab = l.tab;
	s->cap = l.cap;
	s->n = l.n;
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
	for (size_t i = 0; i < s->npacks; i++)
		if (s->packs[i].fd >= 0)
			close(s->packs[i].fd);
	free(s->tab);
	free(s->packs);
	s->tab = NULL;
	s->packs = NULL;
	s->cap = s->n = s->npacks = s->packcap = 0;
	s->packs_mtime = (struct timespec){0, -1};
	ret = load_locked(s, err, errlen);
	pthread_rwlock_unlock(&s->ixlock);
	return ret;
}

struct ixent *store_index_find_locked(struct store *s, const struct store_hash *h)
{
	struct ixent *e;

	if (!s->cap)
		return NULL;
	e = probe(s->tab, s->cap, h);
	return e->zlen ? e : NULL;
}

bool store_index_find(struct store *s, const struct store_hash *h, struct ixent *out)
{
	struct ixent *e;

	pthread_rwlock_rdlock(&s->ixlock);
	e = store_index_find_locked(s, h);
	if (e)
		*out = *e;
	pthread_rwlock_unlock(&s->ixlock);
	return e != NULL;
}

int store_index_put(struct store *s, const struct ixent *e, bool only_new)
{
	struct ixent *slot;
	int ret = 0;

	pthread_rwlock_wrlock(&s->ixlock);
	if (grow(&s->tab, &s->cap, s->n)) {
		ret = -ENOMEM;
		goto out;
	}
	slot = probe(s->tab, s->cap, &e->h);
	if (slot->zlen && only_new) {
		ret = 1;
		goto out;
	}
	if (!slot->zlen)
		s->n++;
	*slot = *e;
out:
	pthread_rwlock_unlock(&s->ixlock);
	return ret;
}

int64_t store_index_add_pack(struct store *s, const char *name, int fd)
{
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

void store_index_free(struct store *s)
{
	for (size_t i = 0; i < s->npacks; i++)
		if (s->packs[i].fd >= 0)
			close(s->packs[i].fd);
	free(s->packs);
	free(s->tab);
	s->packs = NULL;
	s->tab = NULL;
	s->npacks = s->cap = s->n = 0;
}
