/*
 * store_read.c - reading chunks back (store_get) and the zstd dictionaries frames may need.
 *
 * store_get trusts nothing on disk: the file must be exactly one zstd frame of known size, it
 * must decompress (zstd checks its own checksum), and the content must hash to the chunk's name.
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

static int read_file(int dirfd, const char *rel, size_t limit, unsigned char **out, size_t *len)
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
	ret = read_file(s->fd, rel, STORE_DICT_LIMIT, &buf, &len);
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

int store_get(struct store *s, const struct store_hash *h, void **out, size_t *len, char *err,
	      size_t errlen)
{
	char rel[96];
	unsigned char *buf = NULL, *plain = NULL;
	unsigned long long size;
	const struct dict *d = NULL;
	struct store_hash got;
	ZSTD_DCtx *dctx = NULL;
	size_t n, r;
	unsigned id;
	int ret;

	store_chunk_relpath(h, rel, sizeof(rel));
	ret = read_file(s->fd, rel, ZSTD_compressBound(STORE_CHUNK_LIMIT), &buf, &n);
	if (ret == -ENOENT) {
		store_msg(err, errlen, "store: chunk %s is missing", rel);
		return ret;
	}
	if (ret) {
		store_msg(err, errlen, "store: reading chunk %s: %s", rel, strerror(-ret));
		return ret == -EFBIG ? -EIO : ret;
	}
	ret = -EIO;
	r = ZSTD_findFrameCompressedSize(buf, n);
	size = ZSTD_getFrameContentSize(buf, n);
	if (ZSTD_isError(r) || r != n || size > STORE_CHUNK_LIMIT) {
		store_msg(err, errlen,
			  "store: chunk %s is damaged (not one zstd frame of known size)", rel);
		goto out;
	}
	id = ZSTD_getDictID_fromFrame(buf, n);
	if (id) {
		d = dict_find(s, NULL, id);
		if (!d && !store_dict_load(s, NULL, 0))
			d = dict_find(s, NULL, id);
		if (!d) {
			store_msg(err, errlen,
				  "store: chunk %s needs zstd dictionary id %u, not in dicts/", rel,
				  id);
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
		store_msg(err, errlen, "store: chunk %s is damaged: %s", rel,
			  ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short content");
		goto out;
	}
	if (store_hash_data(plain, size, &got)) {
		ret = -ENOMEM;
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	if (memcmp(&got, h, sizeof(got))) {
		store_msg(err, errlen, "store: chunk %s is damaged: content hash mismatch", rel);
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
