/*
 * packs.h - what unit tests need to look at and damage the pack store from outside, as an
 * operator or a failing disk would: where a chunk is (a fresh read-only store_stat, so only
 * what packs/ *.idx durably say counts), a flipped byte in a pack, an index line removed or
 * rewritten. Static inline so that a test that uses some of them does not warn about the rest.
 */
#ifndef STATEFS_TEST_PACKS_H
#define STATEFS_TEST_PACKS_H

#include "snapshot/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A read-only store of @dir: what a new reader (check, the backups daemon) would see. */
static inline struct store *packs_reader(const char *dir)
{
	struct store_opts o = {.readonly = true};
	struct store *s = NULL;
	char e[512];

	if (store_open(dir, &o, &s, e, sizeof(e))) {
		printf("# opening %s read-only: %s\n", dir, e);
		return NULL;
	}
	return s;
}

/* Where chunk @h is, as a fresh reader finds it: 0 and *loc, or -ENOENT. */
static inline int chunk_loc(const char *dir, const struct store_hash *h, struct store_loc *loc)
{
	struct store *s = packs_reader(dir);
	int ret;

	if (!s)
		return -EIO;
	ret = store_stat(s, h, loc);
	store_close(s);
	return ret;
}

/* Is chunk @h stored (named by a pack index whose pack exists)? */
static inline bool chunk_exists(const char *dir, const struct store_hash *h)
{
	struct store_loc loc;

	return chunk_loc(dir, h, &loc) == 0;
}

static int packs_count_one(void *arg, const struct store_hash *h, const struct store_loc *loc)
{
	(void)h;
	(void)loc;
	++*(long *)arg;
	return 0;
}

/* How many distinct chunks the indexes of @dir name (each once, however many copies). */
static inline long chunks_stored(const char *dir)
{
	struct store *s = packs_reader(dir);
	long n = 0;

	if (!s)
		return -1;
	store_each(s, packs_count_one, &n);
	store_close(s);
	return n;
}

/* Read chunk @h with a fresh reader; the store_get return, its message in @e. */
static inline int chunk_get_fresh(const char *dir, const struct store_hash *h, void **out,
				  size_t *len, char *e, size_t elen)
{
	struct store *s = packs_reader(dir);
	int ret;

	if (!s)
		return -EIO;
	*out = NULL;
	ret = store_get(s, h, out, len, e, elen);
	store_close(s);
	return ret;
}

static inline void pack_path(const char *dir, const char *name, const char *ext, char *buf,
			     size_t len)
{
	snprintf(buf, len, "%s/store/packs/%s.%s", dir, name, ext);
}

/* XOR @mask into the byte @at of chunk @h's frame (@at < 0: counting from its end). */
static inline int chunk_flip(const char *dir, const struct store_hash *h, long at,
			     unsigned char mask)
{
	struct store_loc loc;
	char path[4096];
	unsigned char b;
	off_t off;
	int fd, ret = -EIO;

	if (chunk_loc(dir, h, &loc))
		return -ENOENT;
	pack_path(dir, loc.pack, "pack", path, sizeof(path));
	off = (off_t)loc.off + (at < 0 ? (off_t)loc.zlen + at : at);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	if (pread(fd, &b, 1, off) == 1) {
		b ^= mask;
		if (pwrite(fd, &b, 1, off) == 1)
			ret = 0;
	}
	close(fd);
	return ret;
}

/*
 * Rewrite the index of chunk @h's pack with its line replaced by @line ("HASH OFF ZLEN\n", as
 * is) or dropped (@line NULL), header and other lines kept; through a temp file and a rename,
 * as the store writes. 0, or -ENOENT if no index names @h.
 */
static inline int index_edit(const char *dir, const struct store_hash *h, const char *line)
{
	char hex[STORE_HEX_LEN + 1], path[4096], tmp[4200], *buf = NULL;
	struct store_loc loc;
	size_t cap = 0;
	ssize_t n;
	FILE *in, *out;
	int found = 0;

	if (chunk_loc(dir, h, &loc))
		return -ENOENT;
	store_hash_hex(h, hex);
	pack_path(dir, loc.pack, "idx", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.edit", path);
	in = fopen(path, "r");
	out = fopen(tmp, "w");
	if (!in || !out) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -EIO;
	}
	while ((n = getline(&buf, &cap, in)) > 0) {
		if (!strncmp(buf, hex, STORE_HEX_LEN) && buf[STORE_HEX_LEN] == ' ') {
			found = 1;
			if (line)
				fputs(line, out);
			continue;
		}
		fwrite(buf, 1, (size_t)n, out);
	}
	free(buf);
	fclose(in);
	if (fclose(out) || rename(tmp, path))
		return -EIO;
	return found ? 0 : -ENOENT;
}

/* "Remove" chunk @h: its pack index forgets it (the frame stays in the pack, unnamed). */
static inline int chunk_forget(const char *dir, const struct store_hash *h)
{
	return index_edit(dir, h, NULL);
}

/* Point chunk @h's index line at @off, @zlen (its pack stays as it is). */
static inline int chunk_relocate(const char *dir, const struct store_hash *h, uint64_t off,
				 uint64_t zlen)
{
	char hex[STORE_HEX_LEN + 1], line[128];

	store_hash_hex(h, hex);
	snprintf(line, sizeof(line), "%s %llu %llu\n", hex, (unsigned long long)off,
		 (unsigned long long)zlen);
	return index_edit(dir, h, line);
}

#endif
