/*
 * refs.c - the set of chunks the snapshots name, and walking what the store holds (refs.h).
 *
 * What a newcomer must know: the set is open addressing with linear probing, keyed by the
 * first 8 bytes of the SHA-256 itself (already uniform, no further hashing needed); the top bit
 * of an entry's value marks the slot as used, so the all-zero hash is a valid member.
 */
#include "snapshot/refs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define USED 0x80000000u
#define FRAME_HEADER_MAX 18 /* ZSTD_FRAMEHEADERSIZE_MAX, which zstd.h keeps static-only */

struct slot {
	struct store_hash h;
	uint32_t val; /* USED | the user's value */
};

struct refs {
	struct slot *v;
	size_t cap; /* a power of two */
	size_t n;
};

int refs_new(struct refs **out)
{
	struct refs *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->cap = 1024;
	r->v = calloc(r->cap, sizeof(*r->v));
	if (!r->v) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void refs_free(struct refs *r)
{
	if (!r)
		return;
	free(r->v);
	free(r);
}

static size_t home(const struct store_hash *h, size_t cap)
{
	uint64_t k;

	memcpy(&k, h->b, sizeof(k));
	return (size_t)k & (cap - 1);
}

/* The slot holding @h, or the free slot where it would go. */
static struct slot *probe(const struct slot *v, size_t cap, const struct store_hash *h)
{
	size_t i = home(h, cap);

	while ((v[i].val & USED) && memcmp(&v[i].h, h, sizeof(*h)))
		i = (i + 1) & (cap - 1);
	return (struct slot *)&v[i];
}

static int grow(struct refs *r)
{
	size_t ncap = r->cap * 2;
	struct slot *nv;

	if (ncap > SIZE_MAX / sizeof(*nv))
		return -ENOMEM;
	nv = calloc(ncap, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < r->cap; i++)
		if (r->v[i].val & USED)
			*probe(nv, ncap, &r->v[i].h) = r->v[i];
	free(r->v);
	r->v = nv;
	r->cap = ncap;
	return 0;
}

int refs_add(struct refs *r, const struct store_hash *h)
{
	struct slot *s = probe(r->v, r->cap, h);

	if (s->val & USED)
		return 1;
	if ((r->n + 1) * 4 > r->cap * 3) {
		if (grow(r))
			return -ENOMEM;
		s = probe(r->v, r->cap, h);
	}
	s->h = *h;
	s->val = USED;
	r->n++;
	return 0;
}

bool refs_get(const struct refs *r, const struct store_hash *h, uint32_t *val)
{
	const struct slot *s = probe(r->v, r->cap, h);

	if (!(s->val & USED))
		return false;
	if (val)
		*val = s->val & ~USED;
	return true;
}

int refs_set(struct refs *r, const struct store_hash *h, uint32_t val)
{
	struct slot *s = probe(r->v, r->cap, h);

	if (!(s->val & USED) || val > REFS_VAL_MAX)
		return s->val & USED ? -EINVAL : -ENOENT;
	s->val = USED | val;
	return 0;
}

size_t refs_count(const struct refs *r)
{
	return r->n;
}

int refs_add_manifest(struct refs *r, const struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];

		for (size_t k = 0; k < e->nchunks; k++)
			if (refs_add(r, &e->chunks[k].hash) < 0)
				return -ENOMEM;
	}
	return 0;
}

int refs_open_store(const char *state_dir, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/store", state_dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		snprintf(err, errlen, "cannot open the store %s: %s", path, strerror(errno));
	}
	return fd;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int refs_walk_dir(int store_fd, const char *dir, refs_walk_fn fn, void *arg, char *err,
		  size_t errlen)
{
	struct dirent *de;
	int fd, ret = 0;
	DIR *d;

	fd = openat(store_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(err, errlen, "cannot open store/%s: %s", dir, strerror(errno));
		return ret;
	}
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		snprintf(err, errlen, "cannot list store/%s: %s", dir, strerror(-ret));
		return ret;
	}
	for (;;) {
		struct refs_file f = {.dirfd = fd, .dir = dir};
		struct stat st;
		size_t len;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				ret = -errno;
				snprintf(err, errlen, "cannot list store/%s: %s", dir,
					 strerror(errno));
			}
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(st.st_mode))
			continue;
		len = strlen(de->d_name);
		f.name = de->d_name;
		f.st = &st;
		f.kind = REFS_OTHER;
		if (!strncmp(de->d_name, "tmp.", 4))
			f.kind = REFS_TMP;
		else if (len == STORE_HEX_LEN && all_hex(de->d_name, len) &&
			 !store_hash_parse(de->d_name, &f.hash))
			f.kind = REFS_NAMED;
		ret = fn(arg, &f);
		if (ret)
			break;
	}
	closedir(d);
	return ret;
}

/*
 * Read up to @len bytes from the start of store-relative @rel into @buf; *got = how many, and
 * the file's size in *size if @size is not NULL.
 */
static int read_head(int store_fd, const char *rel, void *buf, size_t len, size_t *got,
		     uint64_t *size)
{
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	fd = openat(store_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EIO : -errno;
	if (size) {
		if (fstat(fd, &st) < 0) {
			ret = -errno;
			goto out;
		}
		*size = (uint64_t)st.st_size;
	}
	do
		n = pread(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		ret = -errno;
	else
		*got = (size_t)n;
out:
	close(fd);
	return ret;
}


int refs_dict_id(int store_fd, const char *name, unsigned *id)
{
	unsigned char buf[8];
	char rel[96];
	size_t n = 0;
	int ret;

	snprintf(rel, sizeof(rel), "dicts/%s", name);
	ret = read_head(store_fd, rel, buf, sizeof(buf), &n, NULL);
	if (ret)
		return ret;
	*id = ZSTD_getDictID_fromDict(buf, n);
	return 0;
}

int refs_ids_add(struct refs_ids *s, unsigned id)
{
	if (refs_ids_has(s, id))
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 8;
		unsigned *v = reallocarray(s->v, ncap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = ncap;
	}
	s->v[s->n++] = id;
	return 0;
}

bool refs_ids_has(const struct refs_ids *s, unsigned id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return true;
	return false;
}

void refs_ids_free(struct refs_ids *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *refs_thousands(uint64_t n, char *buf)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n), o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

char *refs_size(uint64_t bytes, char *buf)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, 32, "%llu byte%s", (unsigned long long)bytes, bytes == 1 ? "" : "s");
		return buf;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, "%.1f %s", v, units[u]);
	return buf;
}
