/*
 * store_read.c - reading chunks back (store_get) and the zstd dictionaries frames may need.
 *
 * store_get trusts nothing on disk: the bytes the index points at must be exactly one zstd frame
 * of known size, it must decompress (zstd checks its own checksum), and the content must hash
 * to the chunk's name. A read-only store (the backups daemon, check) looks at packs/ again when
 * a chunk is unknown and packs/ changed: a snapshot or a sweep ran since it loaded.
 * A frame that needs a dictionary names it by zstd dictionary id; dictionaries are stored as
 * dicts/<sha256 of the dictionary> and loaded when first needed.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The loaded dictionary with hash @h or zstd id @id (@h NULL), or NULL. Takes the lock. */
static struct dict *dict_find(struct store *s, const struct store_hash *h, unsigned id)
{
	struct dict *d;

	pthread_mutex_lock(&s->lock);
	for (d = s->dicts; d; d = d->next)
		if (h ? !memcmp(&d->hash, h, sizeof(*h)) : d->id == id)
			break;
	pthread_mutex_unlock(&s->lock);
	return d;
}

int store_dict_lookup(struct store *s, const struct store_hash *h, const struct dict **out,
		      char *err, size_t errlen)
{
	char hex[STORE_HEX_LEN + 1];
	int ret;

	*out = NULL;
	if (!h)
		return 0;
	*out = dict_find(s, h, 0);
	if (*out)
		return 0;
	ret = store_dict_load(s, err, errlen);
	if (ret)
		return ret;
	*out = dict_find(s, h, 0);
	if (*out)
		return 0;
	store_hash_hex(h, hex);
	store_msg(err, errlen, "store: no dictionary dicts/%s", hex);
	return -ENOENT;
}

static int load_one_dict(struct store *s, const char *hex, char *err, size_t errlen)
{
	struct store_hash h, got;
	unsigned char *buf = NULL;
	struct dict *d = NULL, *other;
	char rel[96];
	size_t len;
	int ret;

	if (strlen(hex) != STORE_HEX_LEN || store_hash_parse(hex, &h) || dict_find(s, &h, 0))
		return 0;
	snprintf(rel, sizeof(rel), "dicts/%s", hex);
	ret = store_read_file(s->fd, rel, STORE_DICT_LIMIT, &buf, &len);
	if (ret) {
		store_msg(err, errlen, "store: reading %s: %s", rel, strerror(-ret));
		return ret == -EFBIG ? -EIO : ret;
	}
	ret = store_hash_data(buf, len, &got);
	if (ret) {
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	ret = -EIO;
	if (memcmp(&got, &h, sizeof(h))) {
		store_msg(err, errlen,
			  "store: %s is damaged (its content does not hash to its name)", rel);
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		ret = -ENOMEM;
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	d->hash = h;
	d->id = ZSTD_getDictID_fromDict(buf, len);
	d->ddict = ZSTD_createDDict(buf, len);
	if (!s->readonly)
		d->cdict = ZSTD_createCDict(buf, len, s->level);
	if (!d->id || !d->ddict || (!s->readonly && !d->cdict)) {
		store_msg(err, errlen, "store: %s is not a zstd dictionary with an id", rel);
		goto out;
	}
	ret = 0;
	pthread_mutex_lock(&s->lock);
	for (other = s->dicts; other; other = other->next)
		if (!memcmp(&other->hash, &h, sizeof(h)))
			break;
	if (!other) { /* else another thread loaded it meanwhile */
		d->next = s->dicts;
		s->dicts = d;
		d = NULL;
	}
	pthread_mutex_unlock(&s->lock);
out:
	if (d) {
		ZSTD_freeCDict(d->cdict);
		ZSTD_freeDDict(d->ddict);
		free(d);
	}
	free(buf);
	return ret;
}

int store_dict_load(struct store *s, char *err, size_t errlen)
{
	DIR *dir = store_open_subdir(s, "dicts");
	struct dirent *de;
	int ret = 0;

	if (!dir) {
		if (errno == ENOENT)
			return 0;
		store_msg(err, errlen, "store: opening dicts: %s", strerror(errno));
		return -errno;
	}
	/* Load what can be loaded; report the first failure. */
	while ((de = readdir(dir))) {
		int r = load_one_dict(s, de->d_name, ret ? NULL : err, errlen);

		if (!ret)
			ret = r;
	}
	closedir(dir);
	return ret;
}

int store_dict_add(struct store *s, const void *dict, size_t len, struct store_hash *id, char *err,
		   size_t errlen)
{
	char hex[STORE_HEX_LEN + 1];
	unsigned zid = ZSTD_getDictID_fromDict(dict, len);
	struct dict *other;
	int ret;

	if (s->readonly) {
		store_msg(err, errlen, "store: opened read-only");
		return -EROFS;
	}
	if (!zid || len > STORE_DICT_LIMIT) {
		store_msg(err, errlen, "store: not a zstd dictionary with an id (or over %u bytes)",
			  STORE_DICT_LIMIT);
		return -EINVAL;
	}
	if (store_hash_data(dict, len, id)) {
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	store_hash_hex(id, hex);
	ret = store_dict_load(s, err, errlen);
	if (ret)
		return ret;
	if (dict_find(s, id, 0))
		return 0;
	other = dict_find(s, NULL, zid);
	if (other) {
		store_msg(err, errlen, "store: dictionary id %u is taken by another dictionary",
			  zid);
		return -EEXIST;
	}
	ret = store_write_atomic(s, "dicts", hex, dict, len, err, errlen);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->lock);
	s->dirty_dicts = true;
	pthread_mutex_unlock(&s->lock);
	return load_one_dict(s, hex, err, errlen);
}

/*
 * Has packs/ changed since the index was loaded? Then load it again. true if it did. One
 * reload at a time (rlock), the mtime looked at again once it is ours: two reloads racing
 * could otherwise leave the older table with the newer mtime.
 */
static bool reload_if_changed(struct store *s)
{
	struct stat st;
	bool same, done = false;

	pthread_mutex_lock(&s->rlock);
	if (fstatat(s->fd, "packs", &st, 0) == 0) {
		pthread_rwlock_rdlock(&s->ixlock);
		same = st.st_mtim.tv_sec == s->packs_mtime.tv_sec &&
		       st.st_mtim.tv_nsec == s->packs_mtime.tv_nsec;
		pthread_rwlock_unlock(&s->ixlock);
		done = !same && store_index_load(s, NULL, 0) == 0;
	}
	pthread_mutex_unlock(&s->rlock);
	return done;
}

int store_refresh(struct store *s)
{
	if (!s->readonly)
		return 0;
	return reload_if_changed(s) ? 1 : 0;
}

/*
 * Read @len bytes at @off of chunk @h's pack into @buf, under the index lock (so no reload
 * closes the descriptor meanwhile). *e gets where the chunk is, *got how many bytes were read,
 * and *pack_size (unless NULL) the pack's size. 0, -ENOENT, or -errno.
 */
static int read_at(struct store *s, const struct store_hash *h, struct ixloc *e, void *buf,
		   size_t len, uint64_t off, size_t *got, uint64_t *pack_size)
{
	int fd, ret = 0;

	for (int pass = 0; pass < 2; pass++) {
		pthread_rwlock_rdlock(&s->ixlock);
		if (store_index_find_locked(s, h, e)) {
			fd = store_index_pack_fd_locked(s, e->pack);
			if (fd >= 0) {
				struct stat st;

				if (pack_size && fstat(fd, &st) < 0)
					ret = -errno;
				else if (pack_size)
					*pack_size = (uint64_t)st.st_size;
				*got = 0;
				while (*got < len) {
					ssize_t n = pread(fd, (char *)buf + *got, len - *got,
							  (off_t)(e->off + off + *got));

					if (n < 0 && errno == EINTR)
						continue;
					if (n < 0)
						ret = -errno;
					if (n <= 0)
						break;
					*got += (size_t)n;
				}
				pthread_rwlock_unlock(&s->ixlock);
				return ret;
			}
			ret = fd;
		} else {
			ret = -ENOENT;
		}
		pthread_rwlock_unlock(&s->ixlock);
		if (ret != -ENOENT || !s->readonly || pass || !reload_if_changed(s))
			return ret;
	}
	return ret;
}

/* Find @h and name its pack under one hold of the lock (a reload renumbers packs). */
static bool find_loc(struct store *s, const struct store_hash *h, struct store_loc *loc)
{
	struct ixloc e;
	bool found;

	pthread_rwlock_rdlock(&s->ixlock);
	found = store_index_find_locked(s, h, &e) && e.pack < s->npacks;
	if (found && loc) {
		memcpy(loc->pack, s->packs[e.pack].name, sizeof(loc->pack)); /* (per chunk read) */
		loc->off = e.off;
		loc->zlen = e.zlen;
	}
	pthread_rwlock_unlock(&s->ixlock);
	return found;
}

int store_stat(struct store *s, const struct store_hash *h, struct store_loc *loc)
{
	if (find_loc(s, h, loc))
		return 0;
	if (!s->readonly || !reload_if_changed(s) || !find_loc(s, h, loc))
		return -ENOENT;
	return 0;
}

int store_pack_fd(struct store *s, const struct store_hash *h, int *fd, struct store_loc *loc)
{
	struct ixloc e;
	int ret;

	ret = store_stat(s, h, NULL);
	if (ret)
		return ret;
	pthread_rwlock_rdlock(&s->ixlock);
	ret = store_index_find_locked(s, h, &e) ? store_index_pack_fd_locked(s, e.pack) : -ENOENT;
	if (ret >= 0) {
		*fd = ret;
		if (loc) {
			memcpy(loc->pack, s->packs[e.pack].name, sizeof(loc->pack)); /* (per chunk read) */
			loc->off = e.off;
			loc->zlen = e.zlen;
		}
		ret = 0;
	}
	pthread_rwlock_unlock(&s->ixlock);
	return ret;
}

int store_chunk_header(struct store *s, const struct store_hash *h, struct store_header *out)
{
	unsigned char buf[18]; /* ZSTD_FRAMEHEADERSIZE_MAX */
	unsigned long long cs;
	uint64_t psize = 0;
	struct ixloc e;
	size_t got;
	int ret;

	ret = read_at(s, h, &e, buf, sizeof(buf), 0, &got, &psize);
	if (ret)
		return ret;
	if (got > e.zlen)
		got = e.zlen;
	cs = ZSTD_getFrameContentSize(buf, got);
	if (cs == ZSTD_CONTENTSIZE_ERROR)
		return -EIO;
	if (psize < e.off + e.zlen)
		return -ENODATA; /* the pack ends before the frame does */
	out->dict_id = ZSTD_getDictID_fromFrame(buf, got);
	out->size = cs == ZSTD_CONTENTSIZE_UNKNOWN ? UINT64_MAX : (uint64_t)cs;
	out->zlen = e.zlen;
	return 0;
}

int store_get(struct store *s, const struct store_hash *h, void **out, size_t *len, char *err,
	      size_t errlen)
{
	char name[40];
	const char *pack;
	struct store_loc loc;
	unsigned char *buf = NULL, *plain = NULL;
	unsigned long long size;
	const struct dict *d = NULL;
	struct store_hash got;
	ZSTD_DCtx *dctx = NULL;
	struct ixloc e;
	size_t n, r;
	unsigned id;
	int ret;

	store_chunk_name(h, name, sizeof(name));
	if (store_stat(s, h, &loc)) { /* which looks at packs/ again if it must */
		store_msg(err, errlen, "store: %s is missing", name);
		return -ENOENT;
	}
	buf = malloc(loc.zlen);
	if (!buf) {
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	pack = loc.pack;
	ret = read_at(s, h, &e, buf, loc.zlen, 0, &n, NULL);
	if (ret == -ENOENT) {
		store_msg(err, errlen, "store: %s is missing (pack %s is gone)", name, pack);
		goto out;
	}
	if (ret) {
		store_msg(err, errlen, "store: reading %s in pack %s: %s", name, pack,
			  strerror(-ret));
		goto out;
	}
	ret = -EIO;
	if (n != loc.zlen) {
		store_msg(err, errlen, "store: %s is damaged (pack %s is cut short)", name, pack);
		goto out;
	}
	r = ZSTD_findFrameCompressedSize(buf, n);
	size = ZSTD_getFrameContentSize(buf, n);
	if (ZSTD_isError(r) || r != n || size > STORE_CHUNK_LIMIT) {
		store_msg(err, errlen,
			  "store: %s is damaged (not one zstd frame of known size at %llu in "
			  "pack %s)",
			  name, (unsigned long long)e.off, pack);
		goto out;
	}
	id = ZSTD_getDictID_fromFrame(buf, n);
	if (id) {
		d = dict_find(s, NULL, id);
		if (!d && !store_dict_load(s, NULL, 0))
			d = dict_find(s, NULL, id);
		if (!d) {
			store_msg(err, errlen,
				  "store: %s needs zstd dictionary id %u, not in dicts/", name, id);
			goto out;
		}
	}
	plain = malloc(size ? size : 1);
	dctx = ZSTD_createDCtx();
	if (!plain || !dctx) {
		ret = -ENOMEM;
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	r = d ? ZSTD_decompress_usingDDict(dctx, plain, size, buf, n, d->ddict)
	      : ZSTD_decompressDCtx(dctx, plain, size, buf, n);
	if (ZSTD_isError(r) || r != size) {
		store_msg(err, errlen, "store: %s is damaged (pack %s): %s", name, pack,
			  ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short content");
		goto out;
	}
	if (store_hash_data(plain, size, &got)) {
		ret = -ENOMEM;
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	if (memcmp(&got, h, sizeof(got))) {
		store_msg(err, errlen, "store: %s is damaged (pack %s): content hash mismatch",
			  name, pack);
		goto out;
	}
	*out = plain;
	*len = size;
	plain = NULL;
	ret = 0;
out:
	ZSTD_freeDCtx(dctx);
	free(plain);
	free(buf);
	return ret;
}

void store_dicts_free(struct store *s)
{
	struct dict *d, *next;

	for (d = s->dicts; d; d = next) {
		next = d->next;
		ZSTD_freeCDict(d->cdict);
		ZSTD_freeDDict(d->ddict);
		free(d);
	}
	s->dicts = NULL;
}
