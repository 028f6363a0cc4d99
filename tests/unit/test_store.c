/*
 * test_store.c - the chunk store: layout and modes, round trips, dedup, damage detected, injected
 * I/O errors (ENOSPC, EIO) leaving no named chunk, the worker pool, dictionaries, temp cleanup,
 * the zstd CLI reading chunks, and the recovery recipe (docs/recover-file.sh) end to end.
 */
#include "snapshot/manifest.h"
#include "snapshot/store.h"
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

static bool chunk_exists(const char *dir, const struct store_hash *h)
{
	char rel[96], path[512];

	store_chunk_relpath(h, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s/store/%s", dir, rel);
	return mode_of(path) >= 0;
}

/* Number of "tmp.*" names anywhere under dir/store/chunks. */
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
	struct store *s = NULL;
	void *out = NULL;
	size_t len = 0;
	char hex[STORE_HEX_LEN + 1];

	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_INT(mode_of(dir), 0700);
	snprintf(path, sizeof(path), "%s/store", dir);
	CHECK_INT(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/store/chunks/ab", dir);
	CHECK_INT(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/store/snapshots", dir);
	CHECK_INT(mode_of(path), 0700);

	CHECK_INT(store_put(s, "hello", 5, NULL, &h, err, sizeof(err)), 0);
	store_hash_hex(&h, hex);
	CHECK_STR(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	CHECK_INT(store_hash_parse(hex, &h2), 0);
	CHECK(!memcmp(&h, &h2, sizeof(h)));
	CHECK_INT(store_hash_parse(
		      "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824", &h2),
		  -EINVAL);
	snprintf(path, sizeof(path), "%s/store/chunks/2c/%s", dir, hex);
	CHECK_INT(mode_of(path), 0600);
	CHECK(store_has(s, &h));
	CHECK_INT(store_put(s, "hello", 5, NULL, &h2, err, sizeof(err)), 1); /* dup */
	CHECK_INT(store_put_async(s, "hello", 5, NULL, &h2, err, sizeof(err)), 1);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	store_get_stats(s, &stats);
	CHECK_INT(stats.chunks_new, 1);
	CHECK_INT(stats.chunks_dup, 2);
	CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), 0);
	CHECK(len == 5 && out && !memcmp(out, "hello", 5));
	free(out);
	/* The zstd CLI reads a chunk on its own. */
	CHECK_INT(sh("zstd -dcq '%s' | grep -qx hello", path), 0);

	/* The empty chunk is a valid frame too. */
	CHECK_INT(store_put(s, "", 0, NULL, &h2, err, sizeof(err)), 0);
	out = NULL;
	CHECK_INT(store_get(s, &h2, &out, &len, err, sizeof(err)), 0);
	CHECK_INT(len, 0);
	free(out);

	memset(&h2, 0x5a, sizeof(h2));
	CHECK_INT(store_get(s, &h2, &out, &len, err, sizeof(err)), -ENOENT);
	CHECK_MSG(strstr(err, "missing") != NULL, "missing chunk named: %s", err);
	store_close(s);

	/* Read-only: gets work, puts do not. */
	o.readonly = true;
	s = NULL;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (s) {
		out = NULL;
		CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), 0);
		free(out);
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

static void test_damage(void)
{
	char *dir = new_state_dir("damage"), path[512], rel[96];
	unsigned char data[20000], *frame;
	struct store *s = NULL;
	struct store_hash h, hb;
	void *out = NULL;
	size_t len, n;
	int fd;

	fill(data, sizeof(data));
	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	store_chunk_relpath(&h, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s/store/%s", dir, rel);

	/* A flipped byte in the middle of the frame. */
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	if (fd >= 0) {
		unsigned char b;

		CHECK(pread(fd, &b, 1, 200) == 1);
		b ^= 0x40;
		CHECK(pwrite(fd, &b, 1, 200) == 1);
		close(fd);
	}
	CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, rel) != NULL, "damage message names the chunk: %s", err);

	/* A valid frame of other content under this name: only the hash can tell. */
	data[0] ^= 1;
	store_hash_data(data, sizeof(data), &hb);
	frame = malloc(ZSTD_compressBound(sizeof(data)));
	n = ZSTD_compress(frame, ZSTD_compressBound(sizeof(data)), data, sizeof(data), 3);
	write_file(path, frame, n);
	CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), -EIO);
	CHECK_MSG(strstr(err, "hash mismatch") != NULL, "hash mismatch reported: %s", err);

	/* Truncated, and two frames in one file. */
	write_file(path, frame, n / 2);
	CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), -EIO);
	{
		unsigned char *two = malloc(2 * n);

		memcpy(two, frame, n);
		memcpy(two + n, frame, n);
		write_file(path, two, 2 * n);
		CHECK_INT(store_get(s, &h, &out, &len, err, sizeof(err)), -EIO);
		free(two);
	}
	free(frame);
	store_close(s);
	free(dir);
}

/* I/O that fails on demand. */
static atomic_int fail_write_after = -1; /* successful write calls left; -1 = never fail */
static atomic_int fail_errno = ENOSPC;
static atomic_bool fail_fsync, fail_rename;

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
	if (atomic_load(&fail_fsync)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int bad_renameat(int ofd, const char *o, int nfd, const char *n)
{
	if (atomic_load(&fail_rename)) {
		errno = EIO;
		return -1;
	}
	return renameat(ofd, o, nfd, n);
}

static void test_injected_errors(void)
{
	char *dir = new_state_dir("faults");
	struct store_io io = store_io_default;
	struct store_opts o = {.threads = 2, .queue = 2, .io = &io};
	unsigned char data[100000];
	struct store *s = NULL;
	struct store_hash h;
	int ret;

	io.write = bad_write;
	io.fsync = bad_fsync;
	io.renameat = bad_renameat;
	CHECK_INT(store_open(dir, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;

	fill(data, sizeof(data));
	atomic_store(&fail_write_after, 1);
	ret = store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err));
	CHECK_INT(ret, -ENOSPC);
	CHECK_MSG(strstr(err, "No space") != NULL, "ENOSPC message: %s", err);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(count_tmp(dir), 0);

	/* Asynchronous: the error comes out of store_flush, once. */
	atomic_store(&fail_write_after, 0);
	data[0]++;
	CHECK_INT(store_put_async(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	CHECK_INT(store_flush(s, err, sizeof(err)), -ENOSPC);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(count_tmp(dir), 0);
	atomic_store(&fail_write_after, -1);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);

	/* A failed put stops later async puts until the flush reports it. */
	atomic_store(&fail_write_after, 0);
	for (int i = 0; i < 20; i++) {
		data[1] = (unsigned char)i;
		ret = store_put_async(s, data, sizeof(data), NULL, &h, err, sizeof(err));
		if (ret < 0)
			break;
	}
	CHECK_INT(store_flush(s, err, sizeof(err)), -ENOSPC);
	atomic_store(&fail_write_after, -1);
	CHECK_INT(count_tmp(dir), 0);

	atomic_store(&fail_fsync, true);
	data[0]++;
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), -EIO);
	CHECK(!chunk_exists(dir, &h));
	atomic_store(&fail_fsync, false);

	atomic_store(&fail_rename, true);
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), -EIO);
	CHECK(!chunk_exists(dir, &h));
	CHECK_INT(count_tmp(dir), 0);
	atomic_store(&fail_rename, false);

	/* A directory fsync failing at flush time is reported too. */
	CHECK_INT(store_put(s, data, sizeof(data), NULL, &h, err, sizeof(err)), 0);
	atomic_store(&fail_fsync, true);
	CHECK_INT(store_flush(s, err, sizeof(err)), -EIO);
	atomic_store(&fail_fsync, false);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK(chunk_exists(dir, &h));
	store_close(s);
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
	char *dir = new_state_dir("dict"), rec[4096], hex[STORE_HEX_LEN + 1], path[512], rel[96];
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
	store_chunk_relpath(&h, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s/store/%s", dir, rel);
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
	snprintf(path, sizeof(path), "%s/store/chunks/ab/tmp.abcdef.1.1", dir);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2025-10-01.7", dir);
	write_file(path, "x", 1);
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(path, sizeof(path), "%s/store/chunks/ab/abcdef", dir);
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
	snprintf(path, sizeof(path), "%s/store/chunks/ab/tmp.abcdef.%d.3", dir, (int)dead);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2025-10-01.%d", dir, (int)dead);
	write_file(path, "x", 1);
	snprintf(path, sizeof(path), "%s/store/chunks/ab/tmp.abcdef.%d.4", dir, (int)getppid());
	write_file(path, "x", 1); /* a live writer */
	snprintf(path, sizeof(path), "%s/store/chunks/ab/tmp.abcdef.%d.5", dir, (int)getpid());
	write_file(path, "x", 1); /* ours */
	snprintf(path, sizeof(path), "%s/store/chunks/ab/tmp.nopid", dir);
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
	/* Concatenated chunks are one zstd stream: the short recipe of docs/format.md. */
	CHECK_INT(
	    sh("S='%s/store'; awk '$1 == \"f\" && $9 == \"uploads/clemence/big.bin\" "
	       "{ f = 1; next }\n f && $1 == \"c\" { print substr($2, 1, 2) \"/\" $2; next }\n"
	       " f { exit }' \"$S/snapshots/2025-10-01\" |\n"
	       "(cd \"$S/chunks\" && xargs cat) | zstd -d | cmp -s - '%s'",
	       dir, orig),
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
	test_pool();
	test_dict();
	test_cleanup();
	test_cleanup_orphans();
	test_recover_recipe();
	test_doc_matches_script();
	if (!unit_failed)
		sh("rm -rf '%s'", top);
	else
		printf("# left %s for inspection\n", top);
	UNIT_DONE();
}
