/*
 * test_store.c - the chunk store: layout and modes (packs/ 0700, packs and indexes 0600), round
 * trips, dedup, damage detected (a flipped byte, a foreign frame, an index naming half a frame
 * or two, a pack cut short), injected I/O errors (ENOSPC, EIO on fsync and rename, a torn write
 * of index lines) leaving no index naming what is not durably there, the worker pool,
 * dictionaries, temp cleanup, many chunks in one pack, a reader finding packs written after it
 * opened, crash leftovers, damaged indexes, the sweep (whole, rewritten, kept, dry run,
 * duplicates), the zstd CLI reading frames cut out of packs, and the recovery recipe
 * (docs/recover-file.sh and docs/format.md) end to end.
 */
#include "snapshot/manifest.h"
#include "snapshot/store.h"
#include "tests/unit/packs.h"
#include "tests/unit/unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zdict.h>
#include <zstd.h>

static char top[64];
static char err[512];

static uint64_t rng_state = 99;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Half random, half text: compressible but not trivially. */
static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (i / 512) % 2 ? (unsigned char)(rng() >> 56)
				     : (unsigned char)("abcdefgh"[rng() % 8]);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

/* Number of "tmp.*" names anywhere under dir/store. */
static int count_tmp(const char *dir)
{
	char cmd[512];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "find '%s/store' -name 'tmp.*' | wc -l", dir);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* Files in dir/store/packs named *.@ext (not temp files). */
static int count_packs(const char *dir, const char *ext)
{
	char cmd[512];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "find '%s/store/packs' -name '[0-9a-f]*.%s' | wc -l", dir, ext);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static char *new_state_dir(const char *name)
{
	char *dir = malloc(256);

	snprintf(dir, 256, "%s/%s", top, name);
	return dir;
}

static void test_layout_and_roundtrip(void)
{
	char *dir = new_state_dir("basic"), path[512];
	struct store_opts o = {.threads = 2};
	struct store_hash h, h2;
	struct store_stats stats;
	struct store_loc loc, loc2;
	struct store *s = NULL;
	void *out = NULL;
	size_t len = 0;
	char hex[STORE_HEX_LEN + 1], name[40];

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_INT(mode_of(dir), 0700);
	snprintf(path, sizeof(path), "%s/store", dir);
	CHECK_INT(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/store/packs", dir);
	CHECK_INT(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/store/dicts", dir);
	CHECK_INT(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/store/snapshots", dir);
	CHECK_INT(mode_of(path), 0700);

	CHECK_INT(store_put(s, "hello", 5, NULL, &h, err, sizeof(err)), 0);
	store_hash_hex(&h, hex);
	CHECK_STR(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	store_chunk_name(&h, name, sizeof(name));
	CHECK_STR(name, "chunk 2cf24dba5fb0a30e");
	CHECK_INT(store_hash_parse(hex, &h2), 0);
	CHECK(!memcmp(&h, &h2, sizeof(h)));
	CHECK_INT(store_hash_parse(
		      "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824", &h2),
		  -EINVAL);
	/* Known to the writer at once, to anyone else only once the flush made it durable. */
	CHECK(store_has(s, &h));
	CHECK_INT(store_stat(s, &h, &loc), 0);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(count_packs(dir, "idx"), 0);
	CHECK_INT(store_put(s, "hello", 5, NULL, &h2, err, sizeof(err)), 1); /* dup */
	CHECK_INT(store_put_async(s, "hello", 5, NULL, &h2, err, sizeof(err)), 1);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(chunk_exists(dir, &h));
	store_get_stats(s, &stats);
	CHECK_INT(stats.chunks_new, 1);
	CHECK_INT(stats.chunks_dup, 2);
	CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), 0);
	CHECK(len == 5 && out && !memcmp(out, "hello", 5));
	free(out);

	/* One pack and its index, both 0600; the index is the documented text. */
	CHECK_INT(store_stat(s, &h, &loc2), 0);
	CHECK(!strcmp(loc.pack, loc2.pack) && loc.off == loc2.off && loc.zlen == loc2.zlen);
	CHECK_INT(loc.off, 0);
	CHECK_INT(loc.zlen, stats.bytes_disk);
	CHECK_INT(count_packs(dir, "pack"), 1);
	CHECK_INT(count_packs(dir, "idx"), 1);
	pack_path(dir, loc.pack, "pack", path, sizeof(path));
	CHECK_INT(mode_of(path), 0600);
	CHECK_INT(sh("test $(stat -c %%s '%s') = %llu", path, (unsigned long long)loc.zlen), 0);
	/* The zstd CLI reads a chunk on its own, cut out of its pack. */
	CHECK_INT(sh("tail -c +%llu '%s' | head -c %llu | zstd -dcq | grep -qx hello",
		     (unsigned long long)loc.off + 1, path, (unsigned long long)loc.zlen),
		  0);
	pack_path(dir, loc.pack, "idx", path, sizeof(path));
	CHECK_INT(mode_of(path), 0600);
	CHECK_INT(sh("printf '%s%s 0 %llu\\n' | cmp -s - '%s'", STORE_INDEX_HEADER, hex,
		     (unsigned long long)loc.zlen, path),
		  0);

	/* The empty chunk is a valid frame too. */
	CHECK_INT(store_put(s, "", 0, NULL, &h2, err, sizeof(err)), 0);
	out = NULL;
	CHECK_INT(store_get(s, &h2, &out, &len, err, sizeof(err)), 0);
	CHECK_INT(len, 0);
	free(out);

	memset(&h2, 0x5a, sizeof(h2));
	CHECK_INT(store_get(s, &h2, &out, &len, err, sizeof(err)), -ENOENT);
	CHECK_MSG(strstr(err, "missing") != NULL, "missing chunk named: %s", err);
	CHECK_INT(store_stat(s, &h2, &loc), -ENOENT);
	store_close(s);

	/* Read-only: gets work, puts do not; what store_close finished is there. */
	o.readonly = true;
	s = NULL;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (s) {
		struct store_hash empty;
		struct store_header hd;

		out = NULL;
		CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), 0);
		free(out);
		CHECK_INT(store_chunk_header(s, &h, &hd), 0);
		CHECK(hd.size == 5 && hd.dict_id == 0 && hd.zlen == loc2.zlen);
		store_hash_data("", 0, &empty);
		CHECK(store_has(s, &empty));
		CHECK_INT(store_put(s, "x", 1, NULL, &h2, err, sizeof(err)), -EROFS);
		store_close(s);
	}
	free(dir);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

/* Append @len bytes to @path; the offset they start at. */
static uint64_t append_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	struct stat st;
	uint64_t at = 0;

	CHECK(fd >= 0 && fstat(fd, &st) == 0 && write(fd, buf, len) == (ssize_t)len);
	if (fd >= 0) {
		at = (uint64_t)st.st_size;
		close(fd);
	}
	return at;
}

static void test_damage(void)
{
	char *dir = new_state_dir("damage"), path[512], name[40];
	unsigned char data[20000], *frame;
	struct store *s = NULL;
	struct store_hash h, hb;
	struct store_loc loc;
	void *out = NULL;
	size_t len, n;
	uint64_t at;

	fill(data, sizeof(data));
	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_close(s);
	store_chunk_name(&h, name, sizeof(name));
	CHECK_INT(chunk_loc(dir, &h, &loc), 0);
	pack_path(dir, loc.pack, "pack", path, sizeof(path));

	/* A flipped byte in the middle of the frame. */
	CHECK_INT(chunk_flip(dir, &h, 200, 0x40), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, name) && strstr(err, loc.pack),
		  "damage message names the chunk and its pack: %s", err);
	CHECK_INT(chunk_flip(dir, &h, 200, 0x40), 0); /* put back: whole again */
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), 0);
	CHECK(out && len == sizeof(data) && !memcmp(out, data, len));
	free(out);

	/* A valid frame of other content under this name: only the hash can tell. */
	data[0] ^= 1;
	store_hash_data(data, sizeof(data), &hb);
	frame = malloc(ZSTD_compressBound(sizeof(data)));
	n = ZSTD_compress(frame, ZSTD_compressBound(sizeof(data)), data, sizeof(data), 3);
	at = append_file(path, frame, n);
	CHECK_INT(chunk_relocate(dir, &h, at, n), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "hash mismatch") != NULL, "hash mismatch reported: %s", err);

	/* Half a frame, and two frames where the index names one. */
	CHECK_INT(chunk_relocate(dir, &h, at, n / 2), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -EIO);
	append_file(path, frame, n);
	CHECK_INT(chunk_relocate(dir, &h, at, 2 * n), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "not one zstd frame") != NULL, "two frames reported: %s", err);

	/* The pack cut short inside the frame the index names. */
	CHECK_INT(chunk_relocate(dir, &h, loc.off, loc.zlen), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), 0);
	free(out);
	CHECK_INT(truncate(path, (off_t)(loc.off + loc.zlen - 1)), 0);
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "cut short") != NULL, "cut short reported: %s", err);

	/* The pack gone: its index names nothing any more. */
	CHECK_INT(unlink(path), 0);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(chunk_get_fresh(dir, &h, &out, &len, err, sizeof(err)), -ENOENT);
	free(frame);
	free(dir);
}

/* I/O that fails on demand. */
static atomic_int fail_write_after = -1; /* successful write calls left; -1 = never fail */
static atomic_int fail_errno = ENOSPC;
static atomic_bool fail_fsync, fail_fsync_dir, fail_rename, fail_rename_idx;

static ssize_t bad_write(int fd, const void *buf, size_t len)
{
	int left = atomic_load(&fail_write_after);

	if (left == 0) {
		errno = atomic_load(&fail_errno);
		return -1;
	}
	if (left > 0)
		atomic_fetch_sub(&fail_write_after, 1);
	/* A short write first, as a filling disk does. */
	return write(fd, buf, left == 1 && len > 100 ? len / 2 : len);
}

static int bad_fsync(int fd)
{
	struct stat st;

	if (atomic_load(&fail_fsync) ||
	    (atomic_load(&fail_fsync_dir) && !fstat(fd, &st) && S_ISDIR(st.st_mode))) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int bad_renameat(int ofd, const char *o, int nfd, const char *n)
{
	size_t len = strlen(n);

	if (atomic_load(&fail_rename) ||
	    (atomic_load(&fail_rename_idx) && len > 4 && !strcmp(n + len - 4, ".idx"))) {
		errno = EIO;
		return -1;
	}
	return renameat(ofd, o, nfd, n);
}

/* Nothing half done is visible: no temp file, every pack has its index and back. */
static void check_tidy(const char *dir, const char *when)
{
	int tmp = count_tmp(dir), packs = count_packs(dir, "pack"), idx = count_packs(dir, "idx");

	CHECK_MSG(tmp == 0 && packs == idx, "%s: %d temp files, %d packs, %d indexes", when, tmp,
		  packs, idx);
}

static bool same_content(const char *dir, const struct store_hash *h, const void *data, size_t len)
{
	void *out = NULL;
	size_t n = 0;
	bool ok = chunk_get_fresh(dir, h, &out, &n, err, sizeof(err)) == 0 && n == len &&
		  !memcmp(out, data, len);

	free(out);
	return ok;
}

static bool keep_all(void *arg, const struct store_hash *h)
{
	(void)arg;
	(void)h;
	return true;
}

static void test_injected_errors(void)
{
	char *dir = new_state_dir("faults");
	struct store_io io = store_io_default;
	struct store_opts o = {.threads = 2, .queue = 2, .io = &io};
	unsigned char data[100000];
	struct store *s = NULL;
	struct store_hash h;
	long stored;
	int ret;

	io.write = bad_write;
	io.fsync = bad_fsync;
	io.renameat = bad_renameat;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;

	/* A write fails after a short one: the put says so and nothing names the chunk. */
	fill(data, sizeof(data));
	atomic_store(&fail_write_after, 1);
	ret = store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err));
	CHECK_INT(ret, -ENOSPC);
	CHECK_MSG(strstr(err, "No space") != NULL, "ENOSPC message: %s", err);
	CHECK(!store_has(s, &h));
	CHECK(!chunk_exists(dir, &h));
	/* The store goes on: the same put, then the flush, write it whole. */
	atomic_store(&fail_write_after, -1);
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(same_content(dir, &h, data, sizeof(data)));
	check_tidy(dir, "after a failed put");

	/* Asynchronous: the error comes out of store_flush, once. */
	atomic_store(&fail_write_after, 0);
	data[0]++;
	CHECK_INT(store_put_async(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), -ENOSPC);
	CHECK(!chunk_exists(dir, &h));
	CHECK(!store_has(s, &h));
	check_tidy(dir, "after a failed async put");
	atomic_store(&fail_write_after, -1);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_put_async(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(same_content(dir, &h, data, sizeof(data)));

	/* A failed put stops later async puts until the flush reports it. */
	stored = chunks_stored(dir);
	atomic_store(&fail_write_after, 0);
	for (int i = 0; i < 20; i++) {
		data[1] = (unsigned char)i;
		ret = store_put_async(s, data, sizeof(data), NULL, &h, err, sizeof(err));
		if (ret < 0)
			break;
	}
	CHECK_INT(store_flush(s, err, sizeof(err)), -ENOSPC);
	atomic_store(&fail_write_after, -1);
	CHECK_INT(chunks_stored(dir), stored);
	check_tidy(dir, "after failed async puts");

	/* The pack's fsync fails at the flush: none of its chunks is named, and none is known. */
	atomic_store(&fail_fsync, true);
	data[0]++;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "syncing") != NULL, "fsync message: %s", err);
	CHECK(!chunk_exists(dir, &h));
	CHECK(!store_has(s, &h));
	check_tidy(dir, "after a failed fsync");
	atomic_store(&fail_fsync, false);
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0); /* not a dup */
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(same_content(dir, &h, data, sizeof(data)));

	/* The pack's rename fails. */
	atomic_store(&fail_rename, true);
	data[0]++;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "renaming") != NULL, "rename message: %s", err);
	CHECK(!chunk_exists(dir, &h));
	check_tidy(dir, "after a failed rename");
	atomic_store(&fail_rename, false);

	/* The index's rename fails: a pack without an index is left, which nothing reads. */
	atomic_store(&fail_rename_idx, true);
	stored = chunks_stored(dir);
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), -EIO);
	atomic_store(&fail_rename_idx, false);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(chunks_stored(dir), stored);
	CHECK_INT(count_tmp(dir), 0);
	CHECK_INT(count_packs(dir, "pack"), count_packs(dir, "idx") + 1);
	{
		struct store_sweep_opts so = {.keep = keep_all, .min_dead = 10};
		struct store_sweep_stats ss;

		CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
		CHECK_INT(store_flush(s, err, sizeof(err)), 0);
		CHECK(same_content(dir, &h, data, sizeof(data)));
		CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
		CHECK_INT(ss.packs_removed, 1);
		check_tidy(dir, "after the sweep");
		CHECK(same_content(dir, &h, data, sizeof(data)));
	}

	/* A directory fsync failing at flush time is reported too. */
	data[0]++;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	atomic_store(&fail_fsync_dir, true);
	CHECK_INT(store_flush(s, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "directory") != NULL, "dir fsync message: %s", err);
	atomic_store(&fail_fsync_dir, false);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(chunk_exists(dir, &h));
	store_close(s);
	free(dir);
}

/* A write of index lines that fails halfway, once (@armed), as a disk filling up does. */
static atomic_int torn_state; /* 1 = armed; 2 = half written, the next write fails; 0 = off */

static ssize_t torn_write(int fd, const void *buf, size_t len)
{
	if (len >= 16384 && atomic_load(&torn_state) == 1) {
		atomic_store(&torn_state, 2);
		return write(fd, buf, len / 2);
	}
	if (atomic_load(&torn_state) == 2) {
		atomic_store(&torn_state, 0);
		errno = ENOSPC;
		return -1;
	}
	return write(fd, buf, len);
}

/*
 * Hundreds of small chunks fill the writer's buffer of index lines; its write to the temp index
 * fails halfway through. The put says so; the store goes on, and the index it then finishes
 * names every other chunk, with no torn line in it.
 */
static void test_torn_index_write(void)
{
	char *dir = new_state_dir("torn");
	struct store_io io = store_io_default;
	struct store_opts o = {.threads = 1, .io = &io};
	enum { N = 1500 };
	struct store_hash *hs = calloc(N, sizeof(*hs));
	struct store *s = NULL;
	int failed = -1, bad = 0;
	char text[64];

	io.write = torn_write;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s || !hs)
		return;
	atomic_store(&torn_state, 1);
	for (int i = 0; i < N; i++) {
		int n = snprintf(text, sizeof(text), "small chunk number %d\n", i);

		if (store_put(s, text, (size_t)n, NULL, &hs[i], err, sizeof(err)) < 0) {
			CHECK_MSG(failed < 0, "one put failed (#%d): %s", i, err);
			failed = i;
		}
	}
	CHECK_MSG(failed > 0, "the index write failed at put #%d", failed);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_close(s);
	CHECK_INT(chunks_stored(dir), N - 1);
	for (int i = 0; i < N; i++) {
		int n = snprintf(text, sizeof(text), "small chunk number %d\n", i);

		if (i != failed && !same_content(dir, &hs[i], text, (size_t)n))
			bad++;
	}
	CHECK_MSG(!bad, "every other chunk reads back (%d do not)", bad);
	CHECK_INT(count_packs(dir, "idx"), 1);
	free(hs);
	free(dir);
}

static void test_pool(void)
{
	char *dir = new_state_dir("pool");
	struct store_opts o = {.threads = 3, .queue = 2};
	enum { N = 120, LEN = 40000 };
	struct store_hash *hs = calloc(N, sizeof(*hs));
	unsigned char *data = malloc(LEN);
	struct store_stats st;
	struct store *s = NULL;
	int fails = 0, ret;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	for (int i = 0; i < N; i++) {
		rng_state = 1000 + (uint64_t)(i % (N / 2)); /* every chunk twice */
		fill(data, LEN);
		ret = store_put_async(s, data, LEN, NULL, &hs[i], err, sizeof(err));
		if (ret < 0)
			fails++;
	}
	CHECK_INT(fails, 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_get_stats(s, &st);
	CHECK_MSG(st.chunks_new == N / 2 && st.chunks_new + st.chunks_dup == N,
		  "%llu new, %llu dup of %d", (unsigned long long)st.chunks_new,
		  (unsigned long long)st.chunks_dup, N);
	CHECK_MSG(st.bytes_disk < st.bytes_plain, "compressed %llu -> %llu",
		  (unsigned long long)st.bytes_plain, (unsigned long long)st.bytes_disk);
	fails = 0;
	for (int i = 0; i < N; i++) {
		void *out = NULL;
		size_t len = 0;

		rng_state = 1000 + (uint64_t)(i % (N / 2));
		fill(data, LEN);
		if (store_get(s, &hs[i], &out, &len, err, sizeof(err)) || len != LEN ||
		    memcmp(out, data, LEN))
			fails++;
		free(out);
	}
	CHECK_MSG(!fails, "all %d async chunks read back (%d failed)", N, fails);
	store_close(s);

	/* A run of equal chunks (a file of zeros) is compressed and written once. */
	o.threads = 1;
	o.queue = 8;
	s = NULL;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (s) {
		memset(data, 0, LEN);
		for (int i = 0; i < 10; i++)
			store_put_async(s, data, LEN, NULL, &hs[0], err, sizeof(err));
		CHECK_INT(store_flush(s, err, sizeof(err)), 0);
		store_get_stats(s, &st);
		CHECK_MSG(st.chunks_new == 1 && st.chunks_dup == 9, "zeros: %llu new, %llu dup",
			  (unsigned long long)st.chunks_new, (unsigned long long)st.chunks_dup);
		store_close(s);
	}
	free(hs);
	free(data);
	free(dir);
}

/* A zstd dictionary trained on small JSON-ish records. */
static void *train_dict(size_t *len)
{
	enum { NS = 400 };
	char *samples = malloc(NS * 200);
	size_t sizes[NS], off = 0, cap = 4096, n;
	void *dict = malloc(cap);

	for (int i = 0; i < NS; i++) {
		int k = snprintf(samples + off, 200,
				 "{\"id\":%d,\"user\":\"user%d\",\"email\":\"user%d@example.com\","
				 "\"status\":\"%s\",\"post\":%d}",
				 i, i * 7, i * 13, i % 3 ? "publish" : "draft", i * 31);

		sizes[i] = (size_t)k;
		off += (size_t)k;
	}
	n = ZDICT_trainFromBuffer(dict, cap, samples, sizes, NS);
	free(samples);
	if (ZDICT_isError(n)) {
		free(dict);
		return NULL;
	}
	*len = n;
	return dict;
}

static void test_dict(void)
{
	char *dir = new_state_dir("dict"), rec[4096], hex[STORE_HEX_LEN + 1], path[512], pack[512];
	struct store_loc loc;
	struct store_hash id, h, h2;
	struct store *s = NULL;
	size_t dlen = 0, len, off = 0;
	void *dict = train_dict(&dlen), *out = NULL;

	CHECK_MSG(dict != NULL, "trained a dictionary of %zu bytes", dlen);
	if (!dict)
		return;
	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_INT(store_dict_add(s, "not a dict", 10, &id, err, sizeof(err)), -EINVAL);
	CHECK_INT(store_dict_add(s, dict, dlen, &id, err, sizeof(err)), 0);
	CHECK_INT(store_dict_add(s, dict, dlen, &h, err, sizeof(err)), 0); /* again: fine */
	for (int i = 0; i < 20; i++)
		off += (size_t)snprintf(rec + off, sizeof(rec) - off,
					"{\"id\":%d,\"user\":\"user%d\",\"status\":\"publish\"}",
					5000 + i, i);
	CHECK_INT(store_put(s, rec, off, &id, &h, err, sizeof(err)), 0);
	memset(&h2, 1, sizeof(h2));
	CHECK_INT(store_put(s, rec, 10, &h2, &h2, err, sizeof(err)), -ENOENT); /* unknown dict */
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_close(s);

	store_hash_hex(&id, hex);
	/* The frame, cut out of its pack, is what the zstd CLI reads with the dictionary. */
	CHECK_INT(chunk_loc(dir, &h, &loc), 0);
	pack_path(dir, loc.pack, "pack", pack, sizeof(pack));
	snprintf(path, sizeof(path), "%s/frame.zst", top);
	CHECK_INT(sh("tail -c +%llu '%s' | head -c %llu > '%s'", (unsigned long long)loc.off + 1,
		     pack, (unsigned long long)loc.zlen, path),
		  0);
	CHECK_INT(sh("zstd -lv '%s' 2>/dev/null | grep -q '^DictID: [1-9]'", path), 0);
	CHECK_MSG(sh("zstd -dcq '%s' >/dev/null 2>&1", path) != 0, "without -D zstd refuses");
	CHECK_INT(sh("zstd -dcq -D '%s/store/dicts/%s' '%s' | grep -q 'user19'", dir, hex, path),
		  0);

	/* A fresh store finds the dictionary by the frame's dictionary id. */
	s = NULL;
	CHECK_INT(store_open(dir, &(struct store_opts){.readonly = true}, &s, err, sizeof(err)), 0);
	if (s) {
		CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), 0);
		CHECK(out && len == off && !memcmp(out, rec, off));
		free(out);
		store_close(s);
	}
	free(dict);
	free(dir);
}

static void test_cleanup(void)
{
	char *dir = new_state_dir("cleanup"), path[512];
	struct store *s = NULL;
	unsigned removed = 99;
	struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	snprintf(path, sizeof(path), "%s/store/packs/tmp.abcdef.1.1", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2025-10-01.7", dir);
	write_file(path, "x", 1);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/store/packs/abcdef0123456789.pack", dir);
	write_file(path, "x", 1);
	CHECK_INT(store_cleanup_tmp(s, 3600, &removed, err, sizeof(err)), 0);
	CHECK_INT(removed, 1); /* only the old one */
	CHECK_INT(count_tmp(dir), 1);
	CHECK_INT(store_cleanup_tmp(s, 0, &removed, err, sizeof(err)), 0);
	CHECK_INT(removed, 1);
	CHECK_INT(count_tmp(dir), 0);
	CHECK_INT(mode_of(path), 0600); /* a real name is never touched */
	store_close(s);
	free(dir);
}

/* Orphans: temp files whose writer (the pid in the name) is gone, whatever their age. */
static void test_cleanup_orphans(void)
{
	char *dir = new_state_dir("orphans"), path[512];
	struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	struct store *s = NULL;
	unsigned removed = 99;
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s || dead < 0)
		return;
	snprintf(path, sizeof(path), "%s/store/packs/tmp.abcdef.%d.3", dir, (int)dead);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2025-10-01.%d", dir, (int)dead);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/packs/tmp.abcdef.%d.4", dir, (int)getppid());
	write_file(path, "x", 1); /* a live writer */
	snprintf(path, sizeof(path), "%s/store/packs/tmp.abcdef.%d.5", dir, (int)getpid());
	write_file(path, "x", 1); /* ours */
	snprintf(path, sizeof(path), "%s/store/packs/tmp.nopid", dir);
	write_file(path, "x", 1); /* no pid, new */
	snprintf(path, sizeof(path), "%s/store/dicts/tmp.nopid.x", dir);
	write_file(path, "x", 1); /* no pid, old */
	utimensat(AT_FDCWD, path, old, 0);
	CHECK_INT(store_cleanup_orphans(s, &removed, err, sizeof(err)), 0);
	CHECK_INT(removed, 3);
	CHECK_INT(count_tmp(dir), 3);
	store_close(s);
	free(dir);
}

/* Chunk @i of a family @seed: @len bytes, half random, distinct per (seed, i). */
static void chunk_data(uint64_t seed, int i, unsigned char *buf, size_t len)
{
	rng_state = seed * 100003 + (uint64_t)i + 1;
	fill(buf, len);
}

/* Put chunks @from .. @to - 1 of family @seed (@len bytes each) into @hs[i]. */
static void put_family(struct store *s, uint64_t seed, int from, int to, size_t len,
		       struct store_hash *hs)
{
	unsigned char *buf = malloc(len);
	int fails = 0;

	for (int i = from; i < to; i++) {
		chunk_data(seed, i, buf, len);
		if (store_put_async(s, buf, len, NULL, &hs[i], err, sizeof(err)) < 0)
			fails++;
	}
	CHECK_MSG(!fails, "family %llu: %d puts of %d failed", (unsigned long long)seed, fails,
		  to - from);
	free(buf);
}

/* How many of chunks @from .. @to - 1 of family @seed read back, as they were, from @dir. */
static int family_readable(const char *dir, uint64_t seed, int from, int to, size_t len,
			   const struct store_hash *hs)
{
	unsigned char *buf = malloc(len);
	int ok = 0;

	for (int i = from; i < to; i++) {
		chunk_data(seed, i, buf, len);
		ok += same_content(dir, &hs[i], buf, len);
	}
	free(buf);
	return ok;
}

static int sum_zlen(void *arg, const struct store_hash *h, const struct store_loc *loc)
{
	(void)h;
	*(uint64_t *)arg += loc->zlen;
	return 0;
}

/* Many chunks put in one flush: one pack, one index naming them all, read by a new reader. */
static void test_one_pack(void)
{
	char *dir = new_state_dir("onepack"), path[512], first[17] = "";
	struct store_opts o = {.threads = 3, .queue = 4};
	enum { N = 500, LEN = 3000 };
	struct store_hash *hs = calloc(N, sizeof(*hs));
	struct store *s = NULL, *r;
	int samepack = 0;
	uint64_t zsum = 0;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	put_family(s, 1, 0, N, LEN, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_close(s);
	CHECK_INT(count_packs(dir, "pack"), 1);
	CHECK_INT(count_packs(dir, "idx"), 1);
	CHECK_INT(count_tmp(dir), 0);

	r = packs_reader(dir);
	CHECK(r != NULL);
	if (!r)
		return;
	for (int i = 0; i < N; i++) {
		struct store_loc loc;

		if (store_stat(r, &hs[i], &loc))
			continue;
		if (!first[0])
			memcpy(first, loc.pack, sizeof(first));
		samepack += !strcmp(first, loc.pack);
	}
	CHECK_MSG(samepack == N, "%d of %d chunks in pack %s", samepack, N, first);
	CHECK_INT(store_each(r, sum_zlen, &zsum), 0);
	pack_path(dir, first, "pack", path, sizeof(path));
	CHECK_INT(sh("test $(stat -c %%s '%s') = %llu", path, (unsigned long long)zsum), 0);
	pack_path(dir, first, "idx", path, sizeof(path));
	CHECK_INT(sh("test $(wc -l < '%s') = %d", path, N + 1), 0);
	store_close(r);
	CHECK_INT(chunks_stored(dir), N);
	CHECK_INT(family_readable(dir, 1, 0, N, LEN, hs), N);
	free(hs);
	free(dir);
}

/*
 * A reader opened before a pack was written finds the pack's chunks: it looks at packs/ again
 * on a miss. Many rounds, each pack written right after the reader loaded, so that a change of
 * packs/ within the same tick of its mtime clock is caught too.
 */
static void test_reader_reloads(void)
{
	char *dir = new_state_dir("reload");
	struct store_opts o = {.threads = 1};
	enum { ROUNDS = 40 };
	struct store_hash hs[ROUNDS], none;
	struct store *s = NULL;
	int found = 0, got = 0;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	for (int i = 0; i < ROUNDS; i++) {
		struct store *r = packs_reader(dir);
		unsigned char buf[200];
		void *out = NULL;
		size_t len = 0;

		if (!r)
			break;
		put_family(s, 2, i, i + 1, sizeof(buf), hs);
		if (store_flush(s, err, sizeof(err)))
			break;
		found += store_stat(r, &hs[i], NULL) == 0;
		chunk_data(2, i, buf, sizeof(buf));
		got += store_get(r, &hs[i], &out, &len, err, sizeof(err)) == 0 &&
		       len == sizeof(buf) && !memcmp(out, buf, len);
		free(out);
		store_close(r);
	}
	CHECK_MSG(found == ROUNDS && got == ROUNDS,
		  "a reader finds a pack written after it opened: %d stat, %d get of %d", found,
		  got, ROUNDS);
	/*
	 * The same, with packs/ stamped back to the mtime the reader saw, as a clock that ticks
	 * every few milliseconds would have left it: the reader must not trust it.
	 */
	{
		struct store_hash late[ROUNDS + 1];
		struct store *r = packs_reader(dir);
		struct stat st;
		struct timespec ts[2];
		char path[512];

		snprintf(path, sizeof(path), "%s/store/packs", dir);
		CHECK(r && stat(path, &st) == 0);
		put_family(s, 2, ROUNDS, ROUNDS + 1, 200, late);
		CHECK_INT(store_flush(s, err, sizeof(err)), 0);
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
		CHECK_MSG(r && store_stat(r, &late[ROUNDS], NULL) == 0,
			  "a reader finds a pack written in the same tick of packs/' mtime");
		store_close(r);
	}
	memset(&none, 0x33, sizeof(none));
	{
		struct store *r = packs_reader(dir);

		CHECK(r && store_stat(r, &none, NULL) == -ENOENT);
		CHECK(r && store_has(r, &hs[ROUNDS - 1]));
		store_close(r);
	}
	store_close(s);
	free(dir);
}

/*
 * What a crash leaves in packs/: temp files of a dead writer, a pack whose index was never
 * renamed in, an index whose pack is gone. Readers see none of it; store_cleanup_orphans
 * removes the temp files, store_sweep the pack without an index.
 */
static void test_crash_leftovers(void)
{
	char *dir = new_state_dir("leftovers"), path[512], src[512], hex[STORE_HEX_LEN + 1];
	struct store_opts o = {.threads = 1};
	struct store_sweep_opts so = {.keep = keep_all, .min_dead = 10};
	struct store_sweep_stats ss;
	struct store_hash hs[20], lost;
	struct store_loc loc;
	struct store *s = NULL;
	unsigned removed = 0;
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s || dead < 0)
		return;
	put_family(s, 3, 0, 10, 1000, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_stat(s, &hs[0], &loc), 0);

	/* A dead writer's open pack: its frames and its index lines, never finished. */
	pack_path(dir, loc.pack, "pack", src, sizeof(src));
	snprintf(path, sizeof(path), "%s/store/packs/tmp.0123456789abcdef.%d.1", dir, (int)dead);
	CHECK_INT(sh("cp '%s' '%s'", src, path), 0);
	snprintf(path, sizeof(path), "%s/store/packs/tmp.0123456789abcdef.%d.2", dir, (int)dead);
	memset(&lost, 0x44, sizeof(lost));
	store_hash_hex(&lost, hex);
	CHECK_INT(sh("printf '%s%s 0 100\\n' > '%s'", STORE_INDEX_HEADER, hex, path), 0);
	/* A pack renamed in, its index not: another copy of the same frames, and one more. */
	put_family(s, 3, 10, 11, 1000, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_stat(s, &hs[10], &loc), 0);
	pack_path(dir, loc.pack, "idx", path, sizeof(path));
	CHECK_INT(unlink(path), 0);
	/* An index whose pack is gone (an operator's rm): names nothing readable. */
	snprintf(path, sizeof(path), "%s/store/packs/fedcba9876543210.idx", dir);
	CHECK_INT(sh("printf '%s%s 0 100\\n' > '%s'", STORE_INDEX_HEADER, hex, path), 0);
	store_close(s);

	CHECK_INT(chunks_stored(dir), 10);
	CHECK(!chunk_exists(dir, &hs[10]) && !chunk_exists(dir, &lost));
	CHECK_INT(family_readable(dir, 3, 0, 10, 1000, hs), 10);

	s = NULL;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK(!store_has(s, &hs[10]) && !store_has(s, &lost));
	CHECK_INT(store_cleanup_orphans(s, &removed, err, sizeof(err)), 0);
	CHECK_INT(removed, 2);
	CHECK_INT(count_tmp(dir), 0);
	CHECK_INT(count_packs(dir, "pack"), 2);
	CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
	CHECK_INT(ss.packs_removed, 1);
	CHECK_INT(ss.chunks_removed, 0);
	CHECK_INT(ss.packs, 1);
	CHECK(ss.bytes_removed > 0);
	CHECK_INT(count_packs(dir, "pack"), 1);
	CHECK_INT(family_readable(dir, 3, 0, 10, 1000, hs), 10);
	/* The chunk that was lost is put again, not taken for stored. */
	put_family(s, 3, 10, 11, 1000, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(family_readable(dir, 3, 10, 11, 1000, hs), 1);
	store_close(s);
	free(dir);
}

/* An index with a bad line, or a bad header, is skipped whole; the other packs are read. */
static void test_damaged_index(void)
{
	char *dir = new_state_dir("badidx"), path[512], other[512];
	struct store_opts o = {.threads = 1};
	struct store_hash hs[30];
	struct store_loc a, b;
	struct store *s = NULL, *r;
	int seen = 0;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	put_family(s, 4, 0, 10, 500, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 4, 10, 20, 500, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 4, 20, 30, 500, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_stat(s, &hs[0], &a), 0);
	CHECK_INT(store_stat(s, &hs[10], &b), 0);
	store_close(s);

	/* Pack a: its 5th line gets an upper-case digit. Pack b: its header a wrong version. */
	pack_path(dir, a.pack, "idx", path, sizeof(path));
	CHECK_INT(sh("sed -i '6s/^\\(.\\)[0-9a-f]/\\1A/' '%s' && sed -n 6p '%s' | grep -q '^.A'",
		     path, path),
		  0);
	pack_path(dir, b.pack, "idx", other, sizeof(other));
	CHECK_INT(sh("sed -i '1s/index 1:/index 9:/' '%s'", other), 0);
	r = packs_reader(dir);
	CHECK(r != NULL);
	if (!r)
		return;
	for (int i = 0; i < 30; i++)
		seen += store_has(r, &hs[i]);
	CHECK_MSG(seen == 10, "only the sound index's 10 chunks are seen: %d", seen);
	CHECK(!store_has(r, &hs[0]) && !store_has(r, &hs[9]) && !store_has(r, &hs[10]));
	store_close(r);
	CHECK_INT(family_readable(dir, 4, 20, 30, 500, hs), 10);
	free(dir);
}

static int count_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	(void)h;
	(void)off;
	(void)zlen;
	(*(int *)arg)++;
	return 0;
}

/* An index line's frame ends at most STORE_OFF_LIMIT (2^40) bytes into its pack. */
static void test_index_limits(void)
{
	char hex[STORE_HEX_LEN + 1], line[128];
	struct store_hash h;
	size_t bad = 0;
	int n = 0;

	memset(&h, 0xab, sizeof(h));
	store_hash_hex(&h, hex);
	snprintf(line, sizeof(line), "%s %llu 10\n", hex, STORE_OFF_LIMIT - 10);
	CHECK_INT(store_index_parse(line, strlen(line), count_line, &n, &bad), 0);
	CHECK_INT(n, 1);
	snprintf(line, sizeof(line), "%s %llu 10\n", hex, STORE_OFF_LIMIT - 9);
	CHECK_INT(store_index_parse(line, strlen(line), count_line, &n, &bad), -EINVAL);
	CHECK_INT(bad, 1);
}

/* A hash with the first 8 bytes of @h and the rest @fill. */
static struct store_hash same_key(const struct store_hash *h, unsigned char fill)
{
	struct store_hash o;

	memset(&o, fill, sizeof(o));
	memcpy(o.b, h->b, 8);
	return o;
}

/*
 * A lean reader finds every stored chunk where an exact one does, tells apart two stored chunks
 * whose hashes share their first 64 bits (and then finds no third), takes a chunk stored twice
 * at its first copy, and takes a hash that is not stored for a stored chunk with the same first
 * 64 bits (the documented price), which store_get then refuses.
 */
static void test_lean_index(void)
{
	char *dir = new_state_dir("lean"), path[512], hex[STORE_HEX_LEN + 1],
	     fhex[STORE_HEX_LEN + 1];
	struct store_opts lean = {.readonly = true, .lean = true};
	struct store_hash hs[30], f, g, absent;
	struct store_loc a, b, c, x, y;
	struct store *s = NULL, *r = NULL, *e;
	const char *twin = "0123456789abcdef";
	int same = 0;
	void *out = NULL;
	size_t len;
	FILE *idx;

	CHECK_INT(store_open(dir, &(struct store_opts){.threads = 1}, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	put_family(s, 7, 0, 15, 700, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 7, 15, 30, 700, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_stat(s, &hs[0], &a), 0);
	CHECK_INT(store_stat(s, &hs[1], &b), 0);
	CHECK_INT(store_stat(s, &hs[2], &c), 0);
	store_close(s);
	CHECK_INT(store_open(dir, &(struct store_opts){.lean = true}, &s, err, sizeof(err)),
		  -EINVAL);

	/* A second pack, a copy of hs[0]'s: f (hs[0]'s first 8 bytes) at hs[1]'s frame; hs[2]. */
	f = same_key(&hs[0], 0xf0);
	CHECK_INT(
	    sh("cp '%s/store/packs/%s.pack' '%s/store/packs/%s.pack'", dir, a.pack, dir, twin), 0);
	snprintf(path, sizeof(path), "%s/store/packs/%s.idx", dir, twin);
	idx = fopen(path, "w");
	if (!idx)
		return;
	store_hash_hex(&f, fhex);
	store_hash_hex(&hs[2], hex);
	fprintf(idx, "%s%s %llu %llu\n%s %llu %llu\n", STORE_INDEX_HEADER, fhex,
		(unsigned long long)b.off, (unsigned long long)b.zlen, hex,
		(unsigned long long)c.off, (unsigned long long)c.zlen);
	fclose(idx);

	CHECK_INT(store_open(dir, &lean, &r, err, sizeof(err)), 0);
	e = packs_reader(dir);
	if (!r || !e)
		return;
	for (int i = 0; i < 30; i++)
		same += !store_stat(r, &hs[i], &x) && !store_stat(e, &hs[i], &y) &&
			!strcmp(x.pack, y.pack) && x.off == y.off && x.zlen == y.zlen;
	CHECK_MSG(same == 30, "the lean reader finds all 30 chunks where the exact one does: %d",
		  same);
	CHECK(!store_stat(r, &hs[0], &x) && !strcmp(x.pack, a.pack) && x.off == a.off);
	CHECK(!store_stat(r, &f, &x) && !strcmp(x.pack, twin) && x.off == b.off &&
	      x.zlen == b.zlen);
	g = same_key(&hs[0], 0x0f);
	CHECK_INT(store_stat(r, &g, &x), -ENOENT);
	CHECK(!store_stat(r, &hs[2], &x) && x.off == c.off && x.zlen == c.zlen);

	absent = same_key(&hs[3], 0x33);
	CHECK_INT(store_stat(e, &absent, &x), -ENOENT);
	CHECK_MSG(!store_stat(r, &absent, &x), "lean: a hash not stored, with a stored chunk's "
					       "first 64 bits, is taken for it");
	CHECK_INT(store_get(r, &absent, &out, &len, err, sizeof(err)), -EIO);
	CHECK_INT(store_get(r, &hs[5], &out, &len, err, sizeof(err)), 0);
	free(out);
	CHECK_INT(store_each(r, sum_zlen, &(uint64_t){0}), -EOPNOTSUPP);
	CHECK_INT(store_put(r, "x", 1, NULL, &g, err, sizeof(err)), -EROFS);
	store_close(r);
	store_close(e);

	/* A damaged index: skipped by both, the lean one as the exact one. */
	CHECK_INT(chunk_loc(dir, &hs[20], &x), 0);
	pack_path(dir, x.pack, "idx", path, sizeof(path));
	CHECK_INT(sh("sed -i '6s/^\\(.\\)[0-9a-f]/\\1A/' '%s'", path), 0);
	r = NULL;
	CHECK_INT(store_open(dir, &lean, &r, err, sizeof(err)), 0);
	e = packs_reader(dir);
	if (!r || !e)
		return;
	same = 0;
	for (int i = 0; i < 30; i++) {
		int a1 = store_stat(r, &hs[i], &x), a2 = store_stat(e, &hs[i], &y);

		same += a1 == a2 && (a1 || (!strcmp(x.pack, y.pack) && x.off == y.off));
	}
	CHECK_MSG(same == 30, "with a damaged index, the lean reader agrees on all 30: %d", same);
	CHECK_INT(store_stat(r, &hs[20], &x), -ENOENT);
	CHECK(!store_stat(r, &f, &x) && !strcmp(x.pack, twin));
	store_close(r);
	store_close(e);
	free(dir);
}

/* The sweep's verdicts, by a set of chunks to keep. */
struct keepset {
	const struct store_hash *v;
	size_t n;
};

static bool keep_in(void *arg, const struct store_hash *h)
{
	const struct keepset *k = arg;

	for (size_t i = 0; i < k->n; i++)
		if (!memcmp(&k->v[i], h, sizeof(*h)))
			return true;
	return false;
}

/* A listing of packs/: names and sizes, to see that a dry run changed nothing. */
static char *list_packs(const char *dir)
{
	char cmd[512], *buf = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cd '%s/store/packs' && ls -l --time-style=+%%s.%%N", dir);
	f = popen(cmd, "r");
	if (f) {
		if (getdelim(&buf, &cap, '\0', f) < 0) {
			free(buf);
			buf = NULL;
		}
		pclose(f);
	}
	return buf;
}

/*
 * store_sweep on four packs: A all dead (removed whole), B half dead (rewritten: its live
 * chunks copied, still readable, the dead ones gone), C one chunk in 40 dead (kept, its dead
 * chunk counted and still there), D all live (untouched). A dry run first changes nothing.
 */
static void test_sweep(void)
{
	char *dir = new_state_dir("sweep"), *before, *after, path[512];
	struct store_opts o = {.threads = 2};
	enum { LEN = 2000 };
	struct store_hash a[4], b[10], c[40], d[5], *live = calloc(60, sizeof(*live));
	struct keepset k = {.v = live};
	struct store_sweep_opts so = {.keep = keep_in, .arg = &k, .min_dead = 10};
	struct store_sweep_stats ss, dry;
	struct store_loc la, lb, lc, ld;
	struct store *s = NULL;
	uint64_t copied = 0;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s || !live)
		return;
	put_family(s, 10, 0, 4, LEN, a);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 11, 0, 10, LEN, b);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 12, 0, 40, LEN, c);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 13, 0, 5, LEN, d);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	for (int i = 5; i < 10; i++)
		live[k.n++] = b[i];
	for (int i = 1; i < 40; i++)
		live[k.n++] = c[i];
	for (int i = 0; i < 5; i++)
		live[k.n++] = d[i];
	for (int i = 5; i < 10; i++) {
		struct store_loc l;

		CHECK_INT(store_stat(s, &b[i], &l), 0);
		copied += l.zlen;
	}
	CHECK_INT(store_stat(s, &a[0], &la), 0);
	CHECK_INT(store_stat(s, &b[0], &lb), 0);
	CHECK_INT(store_stat(s, &c[0], &lc), 0);
	CHECK_INT(store_stat(s, &d[0], &ld), 0);

	/* A dry run: the counts of the real one, and not a byte changed. */
	before = list_packs(dir);
	so.dry_run = true;
	CHECK_INT(store_sweep(s, &so, &dry, err, sizeof(err)), 0);
	after = list_packs(dir);
	CHECK_MSG(before && after && !strcmp(before, after), "a dry run changes nothing");
	free(after);
	CHECK_INT(chunks_stored(dir), 59);
	CHECK(store_has(s, &a[0]) && store_has(s, &b[0]));
	CHECK_INT(dry.chunks, 59);
	CHECK_INT(dry.packs, 4);
	CHECK_INT(dry.packs_removed, 1);
	CHECK_INT(dry.packs_rewritten, 1);
	CHECK_INT(dry.chunks_removed, 4 + 5);
	CHECK_INT(dry.chunks_kept_dead, 1);
	CHECK_INT(dry.bytes_kept_dead, lc.zlen);
	CHECK_INT(dry.bytes_copied, copied);

	so.dry_run = false;
	CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
	CHECK(!memcmp(&ss, &dry, sizeof(ss)));
	CHECK_INT(count_tmp(dir), 0);
	CHECK_INT(count_packs(dir, "pack"), 3); /* C, D, and B's live chunks in a new one */
	CHECK_INT(count_packs(dir, "idx"), 3);
	pack_path(dir, la.pack, "pack", path, sizeof(path));
	CHECK(access(path, F_OK) < 0);
	pack_path(dir, lb.pack, "idx", path, sizeof(path));
	CHECK(access(path, F_OK) < 0);
	after = list_packs(dir);
	{
		/* C and D are the very same files: a kept pack is not rewritten. */
		char *save = NULL, *q;
		int same = 0;

		for (q = strtok_r(before, "\n", &save); q; q = strtok_r(NULL, "\n", &save))
			if ((strstr(q, lc.pack) || strstr(q, ld.pack)) && strstr(after, q))
				same++;
		CHECK_INT(same, 4);
	}
	free(before);
	free(after);

	CHECK_INT(chunks_stored(dir), 59 - 9);
	CHECK_INT(family_readable(dir, 11, 5, 10, LEN, b), 5);
	CHECK_INT(family_readable(dir, 12, 0, 40, LEN, c), 40); /* c[0] too: it stays */
	CHECK_INT(family_readable(dir, 13, 0, 5, LEN, d), 5);
	for (int i = 0; i < 4; i++)
		CHECK(!chunk_exists(dir, &a[i]) && !store_has(s, &a[i]));
	for (int i = 0; i < 5; i++)
		CHECK(!chunk_exists(dir, &b[i]) && !store_has(s, &b[i]));
	{
		struct store_loc l;

		CHECK_INT(store_stat(s, &b[7], &l), 0);
		CHECK(strcmp(l.pack, lb.pack) != 0);
	}
	/* The writer goes on after a sweep: a put of a swept chunk writes it again. */
	put_family(s, 10, 0, 1, LEN, a);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(family_readable(dir, 10, 0, 1, LEN, a), 1);
	live[k.n++] = a[0];

	/* Again: only C's dead chunk is left, still not worth a rewrite. */
	CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
	CHECK_INT(ss.chunks_removed + ss.packs_removed + ss.packs_rewritten, 0);
	CHECK_INT(ss.chunks_kept_dead, 1);
	/* A lower threshold rewrites C too. */
	so.min_dead = 1;
	CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
	CHECK_INT(ss.chunks_removed, 1);
	CHECK_INT(ss.packs_rewritten, 1);
	CHECK(!chunk_exists(dir, &c[0]));
	CHECK_INT(family_readable(dir, 12, 1, 40, LEN, c), 39);
	store_close(s);

	/* Read-only stores do not sweep. */
	{
		struct store *r = packs_reader(dir);

		CHECK(r && store_sweep(r, &so, &ss, err, sizeof(err)) == -EROFS);
		store_close(r);
	}
	free(live);
	free(dir);
}

/* Lines naming @h in all of dir's indexes. */
static int index_lines_of(const char *dir, const struct store_hash *h)
{
	char hex[STORE_HEX_LEN + 1], cmd[512];
	int n = -1;
	FILE *f;

	store_hash_hex(h, hex);
	snprintf(cmd, sizeof(cmd), "cat '%s'/store/packs/*.idx | grep -c '^%s '", dir, hex);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/*
 * Two writers that did not see each other's packs stored the same chunk twice. Whichever copy
 * the index took, the sweep keeps one: the other pack is half dead and rewritten without it.
 */
static void test_sweep_duplicates(void)
{
	char *dir = new_state_dir("dups");
	struct store_opts o = {.threads = 1};
	struct store_sweep_opts so = {.keep = keep_all, .min_dead = 10};
	struct store_sweep_stats ss;
	struct store_hash x[1], y[1], z[1];
	struct store *s1 = NULL, *s2 = NULL;

	CHECK_INT(store_open(dir, &o, &s1, err, sizeof(err)), 0);
	CHECK_INT(store_open(dir, &o, &s2, err, sizeof(err)), 0);
	if (!s1 || !s2)
		return;
	put_family(s1, 20, 0, 1, 3000, x);
	put_family(s1, 21, 0, 1, 3000, y);
	put_family(s2, 20, 0, 1, 3000, x);
	put_family(s2, 22, 0, 1, 3000, z);
	CHECK_INT(store_flush(s1, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s2, err, sizeof(err)), 0);
	store_close(s2);
	CHECK_INT(index_lines_of(dir, x), 2);
	CHECK_INT(chunks_stored(dir), 3);

	CHECK_INT(store_sweep(s1, &so, &ss, err, sizeof(err)), 0);
	CHECK_INT(ss.chunks, 3);
	CHECK_INT(ss.chunks_removed, 0); /* a second copy is no chunk removed */
	CHECK_INT(ss.packs_rewritten, 1);
	CHECK(ss.bytes_removed > 0);
	CHECK_INT(index_lines_of(dir, x), 1);
	CHECK_INT(index_lines_of(dir, y), 1);
	CHECK_INT(index_lines_of(dir, z), 1);
	CHECK_INT(family_readable(dir, 20, 0, 1, 3000, x), 1);
	CHECK_INT(family_readable(dir, 21, 0, 1, 3000, y), 1);
	CHECK_INT(family_readable(dir, 22, 0, 1, 3000, z), 1);
	CHECK_INT(count_packs(dir, "pack"), 2);
	store_close(s1);
	free(dir);
}

/* A pack index whose lines cannot all be read is left alone by the sweep: it is check's. */
static void test_sweep_keeps_damaged_index(void)
{
	char *dir = new_state_dir("sweepbad"), path[512];
	struct store_opts o = {.threads = 1};
	struct store_sweep_opts so = {.keep = keep_all, .min_dead = 10};
	struct store_sweep_stats ss;
	struct store_hash hs[10];
	struct store_loc loc;
	struct store *s = NULL;

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	put_family(s, 30, 0, 5, 800, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	put_family(s, 30, 5, 10, 800, hs);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(store_stat(s, &hs[0], &loc), 0);
	pack_path(dir, loc.pack, "idx", path, sizeof(path));
	CHECK_INT(sh("echo 'not an index line' >> '%s'", path), 0);
	CHECK_INT(store_sweep(s, &so, &ss, err, sizeof(err)), 0);
	CHECK_INT(ss.packs_removed + ss.packs_rewritten, 0);
	CHECK_INT(ss.chunks_removed, 0);
	CHECK(access(path, F_OK) == 0);
	pack_path(dir, loc.pack, "pack", path, sizeof(path));
	CHECK(access(path, F_OK) == 0);
	CHECK_INT(family_readable(dir, 30, 5, 10, 800, hs), 5);
	store_close(s);
	free(dir);
}

static int add_chunk(void *arg, const struct store_hash *h, uint64_t size)
{
	return manifest_add_chunk(arg, h, size);
}

/* Put @len bytes as file @path of @m through store_put_fd, with dictionary @dict. */
static void put_file(struct store *s, struct manifest *m, const char *path, const void *buf,
		     size_t len, const struct store_hash *dict)
{
	char tmp[512];
	struct manifest_entry *e = NULL;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/input", top);
	write_file(tmp, buf, len);
	fd = open(tmp, O_RDONLY);
	CHECK_INT(manifest_add(m, 'f', path, 0644, 1000, 1000, 1759284000000000000LL, 42, NULL, &e),
		  0);
	if (fd < 0 || !e)
		return;
	CHECK_INT(store_put_fd(s, fd, NULL, dict, add_chunk, e, err, sizeof(err)), 0);
	CHECK_INT(e->size, len);
	close(fd);
}

static void test_recover_recipe(void)
{
	char *dir = new_state_dir("recipe"), orig[512], out[512];
	static const char *odd = "uploads/clemence/2025/a b\\c\t \xc3\xa9.jpg";
	enum { BIG = 3 * 1024 * 1024 + 12345 };
	unsigned char *big = malloc(BIG);
	struct store *s = NULL;
	struct store_hash id;
	struct manifest m;
	size_t dlen = 0;
	void *dict = train_dict(&dlen);
	char rec[2000];
	size_t off = 0;

	fill(big, BIG);
	manifest_init(&m);
	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s || !dict)
		return;
	put_file(s, &m, "uploads/clemence/big.bin", big, BIG, NULL);
	put_file(s, &m, odd, big, 100000, NULL);
	put_file(s, &m, "uploads/empty", "", 0, NULL);
	CHECK_INT(store_dict_add(s, dict, dlen, &id, err, sizeof(err)), 0);
	for (int i = 0; i < 30; i++)
		off += (size_t)snprintf(rec + off, sizeof(rec) - off,
					"{\"id\":%d,\"status\":\"draft\"}", i);
	put_file(s, &m, "db/wp.sql", rec, off, &id);
	CHECK_INT(manifest_find(&m, "uploads/clemence/big.bin")->nchunks > 10, 1);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(manifest_write(dir, "2025-10-01", &m, err, sizeof(err)), 0);
	store_close(s);

	snprintf(orig, sizeof(orig), "%s/orig", top);
	snprintf(out, sizeof(out), "%s/out", top);
	write_file(orig, big, BIG);
	CHECK_INT(
	    sh("docs/recover-file.sh '%s' 2025-10-01 uploads/clemence/big.bin > '%s'", dir, out),
	    0);
	CHECK_INT(sh("cmp -s '%s' '%s'", orig, out), 0);
	/* Frames cut out of their packs and concatenated are one zstd stream: the short recipe of
	 * docs/format.md, as it is written there. */
	CHECK_INT(
	    sh("S='%s/store'\n"
	       "awk '$1 == \"f\" && $9 == \"uploads/clemence/big.bin\" { f = 1; next }\n"
	       "     f && $1 == \"c\" { print $2; next }\n"
	       "     f { exit }' \"$S/snapshots/2025-10-01\" > '%s/chunks'\n"
	       "for h in $(cat '%s/chunks'); do\n"
	       "\tgrep -H \"^$h \" \"$S\"/packs/*.idx | head -n 1 | sed 's/\\.idx:[^ ]*//' |\n"
	       "\twhile read -r pack off zlen; do tail -c +$((off + 1)) \"$pack.pack\" | "
	       "head -c \"$zlen\"; done\n"
	       "done | zstd -d | cmp -s - '%s'",
	       dir, top, top, orig),
	    0);

	write_file(orig, big, 100000);
	setenv("ODD_PATH", odd, 1);
	CHECK_INT(sh("docs/recover-file.sh '%s' 2025-10-01 \"$ODD_PATH\" > '%s'", dir, out), 0);
	CHECK_INT(sh("cmp -s '%s' '%s'", orig, out), 0);

	write_file(orig, rec, off);
	CHECK_INT(sh("docs/recover-file.sh '%s' 2025-10-01 db/wp.sql > '%s'", dir, out), 0);
	CHECK_INT(sh("cmp -s '%s' '%s'", orig, out), 0);

	CHECK_INT(sh("docs/recover-file.sh '%s' 2025-10-01 uploads/empty > '%s'", dir, out), 0);
	CHECK_INT(mode_of(out) >= 0 && !sh("test ! -s '%s'", out), 1);
	CHECK_MSG(sh("docs/recover-file.sh '%s' 2025-10-01 uploads/nope > '%s' 2>/dev/null", dir,
		     out) != 0,
		  "a missing path fails");
	CHECK_MSG(sh("docs/recover-file.sh '%s' 2025-10-01 uploads > '%s' 2>/dev/null", dir, out) !=
		      0,
		  "a prefix is not a match");
	manifest_free(&m);
	free(dict);
	free(big);
	free(dir);
}

/* docs/format.md shows the same commands as docs/recover-file.sh: each code line is in it. */
static void test_doc_matches_script(void)
{
	FILE *sf = fopen("docs/recover-file.sh", "r"), *df = fopen("docs/format.md", "r");
	char *doc = NULL, line[1024];
	size_t cap = 0, missing = 0, checked = 0;

	CHECK(sf && df);
	if (!sf || !df)
		goto out;
	if (getdelim(&doc, &cap, '\0', df) < 0)
		goto out;
	while (fgets(line, sizeof(line), sf)) {
		const char *p = line + strspn(line, " \t");

		if (*p == '#' || *p == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		checked++;
		if (!strstr(doc, p)) {
			missing++;
			printf("# not in docs/format.md: %s\n", p);
		}
	}
	CHECK_MSG(checked > 10 && !missing, "%zu script lines are in docs/format.md (%zu missing)",
		  checked, missing);
out:
	free(doc);
	if (sf)
		fclose(sf);
	if (df)
		fclose(df);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/statefs-test-store.XXXXXX");
	if (!mkdtemp(top)) {
		CHECK_MSG(0, "mkdtemp");
		UNIT_DONE();
	}
	test_layout_and_roundtrip();
	test_damage();
	test_injected_errors();
	test_torn_index_write();
	test_pool();
	test_dict();
	test_cleanup();
	test_cleanup_orphans();
	test_one_pack();
	test_reader_reloads();
	test_crash_leftovers();
	test_damaged_index();
	test_index_limits();
	test_lean_index();
	test_sweep();
	test_sweep_duplicates();
	test_sweep_keeps_damaged_index();
	test_recover_recipe();
	test_doc_matches_script();
	if (!unit_failed)
		sh("rm -rf '%s'", top);
	else
		printf("# left %s for inspection\n", top);
	UNIT_DONE();
}
