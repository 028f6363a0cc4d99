/*
 * test_backups.c - the backups/ and history/ views called as live.c calls them, on a fixture
 * state directory: config commits made with the git CLI, a chunk store and manifests made with
 * the snapshot library. Covers the listing and latest, the shape of a snapshot (configs with
 * their recorded modes and owners, implied directories, names that sort around '/'), reads at
 * random offsets against the original data, the dump as a zstd stream, listings resumed at
 * every offset, st_ino stable across mounts and distinct, EROFS, lazy manifests and their LRU,
 * a snapshot appearing and one pruned while a file of it is open, and history/.
 */
#include "fs/backups.h"
#include "fs/backups_snaps.h"
#include "fs/history.h"
#include "fs/live.h"
#include "fs/meta.h"
#include "snapshot/lock.h"
#include "snapshot/manifest.h"
#include "snapshot/store.h"
#include "tests/unit/packs.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char top[64], state[128], err[1024];
static char commit[3][41];
static unsigned char *dump, *jpg;
static size_t dump_len, jpg_len;
static struct sfs fs;
static struct view vb, vh;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

/* Commit the work tree W with .statefs-meta @meta at @when; the id into @out. */
static void git_commit(const char *meta, long when, char *out)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/w/.statefs-meta", top);
	put_file(path, meta);
	CHECK_INT(
	    sh("cd %s/w && export GIT_DIR=%s/config.git GIT_WORK_TREE=. "
	       "GIT_COMMITTER_DATE='@%ld +0000' GIT_AUTHOR_DATE='@%ld +0000' && git add -A && "
	       "git -c user.name=t -c user.email=t@t commit -qm save",
	       top, state, when, when),
	    0);
	snprintf(path, sizeof(path), "git --git-dir=%s/config.git rev-parse HEAD", state);
	f = popen(path, "r");
	CHECK(f && fscanf(f, "%40s", out) == 1);
	pclose(f);
}

static void make_commits(void)
{
	const char *meta = "# statefs-meta 1\n"
			   "d 0755 0 0 compose\n"
			   "d 0755 0 0 compose/whisperx\n"
			   "f 0640 0 33 compose/whisperx/docker-compose.yml\n"
			   "d 0755 0 0 env\n"
			   "d 0750 1000 33 env/whisperx\n"
			   "f 0600 1000 33 env/whisperx/.env\n"
			   "d 0755 0 0 nginx\n"
			   "f 0644 0 0 nginx/nginx.conf\n"
			   "d 0755 0 0 nginx/sites-available\n"
			   "f 0644 0 0 nginx/sites-available/clemence.conf\n"
			   "d 0755 0 0 nginx/sites-enabled\n"
			   "l 0777 0 0 nginx/sites-enabled/clemence.conf\n";

	CHECK_INT(
	    sh("git init -q --bare %s/config.git && mkdir -p %s/w/nginx/sites-available "
	       "%s/w/nginx/sites-enabled %s/w/env/whisperx %s/w/compose/whisperx && "
	       "ln -s ../sites-available/clemence.conf %s/w/nginx/sites-enabled/clemence.conf",
	       state, top, top, top, top, top),
	    0);
	sh("cd %s/w && printf 'user www-data;\\n' > nginx/nginx.conf && "
	   "printf 'root /var/www/old;\\n' > nginx/sites-available/clemence.conf && "
	   "printf 'API_KEY=s3cret\\n' > env/whisperx/.env && "
	   "printf 'services: {}\\n' > compose/whisperx/docker-compose.yml",
	   top);
	git_commit(meta, 1759276800 + 36000, commit[0]); /* 2025-10-01 10:00:00 UTC */
	sh("printf 'root /var/www/between;\\n' > %s/w/nginx/sites-available/clemence.conf", top);
	git_commit(meta, 1759276800 + 45000, commit[1]); /* 12:30:00 */
	sh("printf 'root /var/www/new;\\n' > %s/w/nginx/sites-available/clemence.conf", top);
	git_commit(meta, 1759363200 + 3600, commit[2]); /* 2025-10-02 01:00:00 */
}

static void add_chunks(struct store *s, struct manifest_entry *e, const unsigned char *p,
		       size_t len, size_t step)
{
	struct store_hash h;
	int bad = 0;

	for (size_t off = 0; off < len;) {
		size_t n = step + (off * 7919) % step; /* uneven sizes */

		n = n > len - off ? len - off : n;
		bad += store_put(s, p + off, n, NULL, &h, err, sizeof(err)) < 0;
		bad += manifest_add_chunk(e, &h, n) != 0;
		off += n;
	}
	CHECK_MSG(!bad, "%s stored", e->path);
}

static void add(struct manifest *m, char type, const char *path, mode_t mode, uid_t uid,
		const char *target, struct manifest_entry **e)
{
	CHECK_INT(manifest_add(m, type, path, mode, uid, uid, 1759300000000000000LL, 0, target, e),
		  0);
}

/* Snapshot @name at @time with @commit, the dump and the uploads; @reason: incomplete. */
static void make_snapshot(struct store *s, const char *name, long time, const char *com,
			  const char *reason)
{
	struct manifest m;
	struct manifest_entry *e;

	manifest_init(&m);
	m.time = time;
	CHECK_INT(manifest_set_commit(&m, com), 0);
	if (reason)
		CHECK_INT(manifest_add_reason(&m, "%s", reason), 0);
	add(&m, 'd', "db", 0755, 0, NULL, NULL);
	add(&m, 'f', "db/clemence_db.sql.zst", 0600, 0, NULL, &e);
	add_chunks(s, e, dump, dump_len, 20000);
	add(&m, 'd', "uploads", 0755, 0, NULL, NULL);
	add(&m, 'd', "uploads/clemence", 0755, 33, NULL, NULL);
	add(&m, 'd', "uploads/clemence/2025/10", 0755, 33, NULL, NULL); /* 2025: implied */
	add(&m, 'f', "uploads/clemence/2025/10/a.jpg", 0644, 33, NULL, &e);
	add_chunks(s, e, jpg, jpg_len, 65536);
	add(&m, 'f', "uploads/clemence/empty", 0640, 33, NULL, NULL);
	add(&m, 'l', "uploads/clemence/latest", 0777, 33, "2025/10", NULL);
	add(&m, 'f', "uploads/clemence/a-b", 0644, 33, NULL, &e);
	add_chunks(s, e, (const unsigned char *)"ab\n", 3, 10);
	add(&m, 'f', "uploads/clemence/a.c", 0644, 33, NULL, &e);
	add_chunks(s, e, (const unsigned char *)"ac\n", 3, 10);
	add(&m, 'f', "uploads/clemence/a/x", 0644, 33, NULL, NULL); /* a: implied */
	add(&m, 'd', "uploads/clemence/b", 0700, 33, NULL, NULL);
	add(&m, 'f', "uploads/clemence/b-c", 0644, 33, NULL, NULL);
	add(&m, 'f', "uploads/clemence/b/y", 0600, 33, NULL, NULL);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_MSG(manifest_write(state, name, &m, err, sizeof(err)) == 0, "write %s: %s", name,
		  err);
	manifest_free(&m);
}

static void make_fixture(void)
{
	struct store *s;
	char path[256];

	snprintf(top, sizeof(top), "/tmp/statefs-ub.XXXXXX");
	CHECK(mkdtemp(top) != NULL);
	snprintf(state, sizeof(state), "%s/state", top);
	dump_len = 3u << 20;
	dump = malloc(dump_len);
	for (size_t i = 0; i < dump_len; i++)
		dump[i] =
		    (unsigned char)("INSERT INTO t VALUES (1,'x');\n"[i % 30] + (i / 4096) % 3);
	jpg_len = 700000;
	jpg = malloc(jpg_len);
	for (size_t i = 0; i < jpg_len; i++)
		jpg[i] = (unsigned char)((i * 2654435761u) >> 13);
	make_commits();
	CHECK_INT(store_open(state, NULL, &s, err, sizeof(err)), 0);
	make_snapshot(s, "2025-10-01", 1759320000, commit[1], NULL);
	make_snapshot(s, "2025-10-02", 1759406400, commit[2],
		      "database solidarlink_db: connection refused");
	store_close(s);
	snprintf(path, sizeof(path), "%s/statefs.conf", top);
	sh("mkdir -p %s/src && printf '[state]\\n\\tdir = %s\\n[mount \"nginx\"]\\n\\tkind = "
	   "tree\\n"
	   "\\tsource = %s/src\\n' > %s",
	   top, state, top, path);
	CHECK_MSG(mtab_load(path, &fs.tab, err, sizeof(err)) == 0, "config: %s", err);
}

/* Helpers over the view operations. */
static struct node *look(struct view *v, struct node *dir, const char *name, struct stat *st)
{
	struct fuse_entry_param e;
	int r = v->ops->lookup(v->priv, dir, name, &e);

	if (r)
		return NULL;
	if (st)
		*st = e.attr;
	return (struct node *)(uintptr_t)e.ino;
}

static struct node *walk(struct view *v, const char *path, struct stat *st)
{
	char buf[512], *save, *tok;
	struct node *n = look(v, NULL, v->ops->name, st);

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok && n; tok = strtok_r(NULL, "/", &save))
		n = look(v, n, tok, st);
	return n;
}

struct lister {
	char names[8192];
	int limit, added;
	off_t next;
	uint64_t inos[64];
};

static int fill(void *arg, const char *name, const struct stat *st, off_t next)
{
	struct lister *l = arg;

	if (l->added == l->limit)
		return 1;
	if (strcmp(name, ".") && strcmp(name, "..")) {
		size_t n = strlen(l->names);

		snprintf(l->names + n, sizeof(l->names) - n, "%s%s", n ? " " : "", name);
	}
	if (l->added < 64)
		l->inos[l->added] = st->st_ino;
	l->added++;
	l->next = next;
	return 0;
}

static struct lister last_list;

/* The names of @dir listed @per entries per call ("." and ".." left out); see last_list. */
static const char *list(struct view *v, struct node *dir, int per)
{
	struct lister *l = &last_list;
	off_t off = 0;

	memset(l, 0, sizeof(*l));
	for (int calls = 0; calls < 1000; calls++) {
		l->limit = l->added + per;
		if (v->ops->readdir(v->priv, dir, off, fill, l) || l->added < l->limit)
			break;
		off = l->next;
	}
	return l->names;
}

static ssize_t read_at(struct view *v, struct node *n, void *fh, void *buf, size_t size, off_t off)
{
	return v->ops->read(v->priv, n, fh, buf, size, off);
}

/* The whole content of file @n, read in uneven pieces. */
/* A pause between slurp's reads, in µs: gives the read-ahead worker time to get ahead. */
static unsigned slurp_pause_us;

static unsigned char *slurp(struct view *v, struct node *n, size_t *len)
{
	struct view_open o = {0};
	size_t cap = 1 << 20, got = 0;
	unsigned char *buf = malloc(cap);
	ssize_t r;

	if (!n || v->ops->open(v->priv, n, O_RDONLY, 0, 0, &o)) {
		free(buf);
		return NULL;
	}
	for (;;) {
		if (cap - got < 200000)
			buf = realloc(buf, cap *= 2);
		r = read_at(v, n, o.fh, buf + got, 1 + (got * 31) % 131072, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (slurp_pause_us)
			usleep(slurp_pause_us);
	}
	v->ops->release(v->priv, n, o.fh);
	*len = got;
	return r < 0 ? (free(buf), NULL) : buf;
}

static int same(const unsigned char *a, size_t alen, const void *b, size_t blen)
{
	return a && alen == blen && memcmp(a, b, blen) == 0;
}

static void test_listing(void)
{
	struct node *b, *n;
	char buf[64];
	struct stat st;

	b = look(&vb, NULL, "backups", &st);
	CHECK(b && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0555);
	CHECK_STR(list(&vb, b, 100), "latest 2025-10-01 2025-10-02");
	CHECK_STR(list(&vb, b, 1), "latest 2025-10-01 2025-10-02");
	n = look(&vb, b, "latest", &st);
	CHECK(n && S_ISLNK(st.st_mode) && st.st_size == 10);
	CHECK_INT(vb.ops->readlink(vb.priv, n, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "2025-10-01"); /* the newest complete one: 2025-10-02 is incomplete */
	n = look(&vb, b, "2025-10-01", &st);
	CHECK(n && S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mtim.tv_sec, 1759320000);
	CHECK(look(&vb, b, "2025-10-03", NULL) == NULL);
	CHECK(look(&vb, b, "nonsense", NULL) == NULL);
	CHECK_STR(list(&vb, n, 100), "compose env nginx .statefs-snapshot db uploads");
	CHECK_STR(list(&vb, n, 1), "compose env nginx .statefs-snapshot db uploads");
	CHECK(look(&vb, n, ".statefs-meta", NULL) == NULL);
}

static void test_configs(void)
{
	struct stat st;
	struct node *n;
	unsigned char *data;
	size_t len;
	char buf[128];

	n = walk(&vb, "2025-10-01/env/whisperx/.env", &st);
	CHECK(n && S_ISREG(st.st_mode));
	CHECK_MSG((st.st_mode & 07777) == 0600 && st.st_uid == 1000 && st.st_gid == 33,
		  "a 0600 .env is shown 0600 with its owner (got %o %u:%u)", st.st_mode & 07777,
		  st.st_uid, st.st_gid);
	CHECK_INT(st.st_size, 15);
	data = slurp(&vb, n, &len);
	CHECK(same(data, len, "API_KEY=s3cret\n", 15));
	free(data);
	walk(&vb, "2025-10-01/env/whisperx", &st);
	CHECK((st.st_mode & 07777) == 0750 && st.st_uid == 1000);
	walk(&vb, "2025-10-01/compose/whisperx/docker-compose.yml", &st);
	CHECK((st.st_mode & 07777) == 0640 && st.st_gid == 33);
	n = walk(&vb, "2025-10-01/nginx/sites-available/clemence.conf", &st);
	CHECK_INT(st.st_mtim.tv_sec, 1759276800 + 45000); /* the commit's time */
	data = slurp(&vb, n, &len);
	CHECK_MSG(same(data, len, "root /var/www/between;\n", 23),
		  "configs at the snapshot's commit");
	free(data);
	n = walk(&vb, "2025-10-02/nginx/sites-available/clemence.conf", NULL);
	data = slurp(&vb, n, &len);
	CHECK(same(data, len, "root /var/www/new;\n", 19));
	free(data);
	n = walk(&vb, "2025-10-01/nginx/sites-enabled/clemence.conf", &st);
	CHECK(n && S_ISLNK(st.st_mode));
	CHECK_INT(vb.ops->readlink(vb.priv, n, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "../sites-available/clemence.conf");
	CHECK_INT(vb.ops->readlink(vb.priv, n, buf, 5), -ENAMETOOLONG);
	CHECK_STR(list(&vb, walk(&vb, "2025-10-01/nginx", NULL), 1),
		  "nginx.conf sites-available sites-enabled");
}

static void test_uploads(void)
{
	struct node *n, *u = walk(&vb, "2025-10-01/uploads/clemence", NULL);
	struct backups_view_stats vs;
	struct view_open o = {0};
	unsigned char *data, buf[200000];
	struct stat st;
	size_t len;
	int bad = 0;
	char t[64];

	CHECK_STR(list(&vb, u, 100), "2025 a-b a.c a b b-c empty latest");
	for (int i = 3; i < 10; i++)
		bad += last_list.inos[i] <= last_list.inos[i - 1];
	CHECK_MSG(!bad, "st_ino follows the listing (cp -a reads a directory in st_ino order)");
	CHECK_STR(list(&vb, u, 1), "2025 a-b a.c a b b-c empty latest");
	/* b has a line of its own and entries below: listed once */
	CHECK_STR(list(&vb, walk(&vb, "2025-10-01/uploads/clemence", NULL), 100),
		  "2025 a-b a.c a b b-c empty latest");
	n = look(&vb, u, "a", &st);
	CHECK(n && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == 0);
	CHECK_STR(list(&vb, n, 10), "x");
	n = look(&vb, u, "b", &st);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == 33);
	CHECK_STR(list(&vb, n, 10), "y");
	walk(&vb, "2025-10-01/uploads/clemence/b/y", &st);
	CHECK((st.st_mode & 07777) == 0600 && st.st_uid == 33 && st.st_gid == 33);
	CHECK_INT(st.st_mtim.tv_sec, 1759300000);
	n = look(&vb, u, "latest", &st);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(vb.ops->readlink(vb.priv, n, t, sizeof(t)), 0);
	CHECK_STR(t, "2025/10");
	n = look(&vb, u, "empty", &st);
	CHECK(S_ISREG(st.st_mode) && st.st_size == 0);
	data = slurp(&vb, n, &len);
	CHECK(data && len == 0);
	free(data);
	data = slurp(&vb, look(&vb, u, "a-b", NULL), &len);
	CHECK(same(data, len, "ab\n", 3));
	free(data);

	n = walk(&vb, "2025-10-01/uploads/clemence/2025/10/a.jpg", &st);
	CHECK_INT(st.st_size, (long long)jpg_len);
	slurp_pause_us = 20000; /* a reader slower than the worker, whatever the machine's load */
	data = slurp(&vb, n, &len);
	slurp_pause_us = 0;
	CHECK_MSG(same(data, len, jpg, jpg_len), "a multi-chunk file reads back whole");
	free(data);
	backups_view_stats(vb.priv, &vs);
	CHECK_MSG(
	    vs.cache.prefetches > 0 && vs.warmed > 0,
	    "a sequential reader gets the next chunk decompressed ahead (%llu) and files read "
	    "ahead (%lu)",
	    (unsigned long long)vs.cache.prefetches, vs.warmed);
	CHECK_INT(vb.ops->open(vb.priv, n, O_RDONLY, 0, 0, &o), 0);
	CHECK(o.keep_cache);
	srand(3);
	for (int i = 0; i < 300; i++) {
		off_t off = rand() % (long)(jpg_len + 1000);
		size_t size = 1 + (size_t)rand() % sizeof(buf);
		ssize_t r = read_at(&vb, n, o.fh, buf, size, off);
		size_t want = (size_t)off >= jpg_len	     ? 0
			      : size < jpg_len - (size_t)off ? size
							     : jpg_len - (size_t)off;

		bad +=
		    r != (ssize_t)want || memcmp(buf, jpg + (off < (off_t)jpg_len ? off : 0), want);
	}
	CHECK_MSG(!bad, "300 reads at random offsets match the original (%d differ)", bad);
	vb.ops->release(vb.priv, n, o.fh);
}

static void test_dump(void)
{
	struct backups_view_stats s;
	struct node *n = walk(&vb, "2025-10-01/db/clemence_db.sql.zst", NULL);
	unsigned char *z, *plain;
	struct view_open o = {0};
	unsigned char buf[70000];
	struct stat st;
	size_t zlen;
	int bad = 0;

	walk(&vb, "2025-10-01/db/clemence_db.sql.zst", &st);
	CHECK((st.st_mode & 07777) == 0600 && st.st_uid == 0 && st.st_gid == 0);
	z = slurp(&vb, n, &zlen);
	CHECK_MSG(z && (off_t)zlen == st.st_size && zlen < dump_len / 4,
		  "the dump is its compressed frames (%zu bytes of %zu)", zlen, dump_len);
	plain = malloc(dump_len + 1);
	CHECK_MSG(z && ZSTD_decompress(plain, dump_len + 1, z, zlen) == dump_len &&
		      memcmp(plain, dump, dump_len) == 0,
		  "the frames concatenated are one zstd stream of the dump");
	free(plain);
	CHECK_INT(vb.ops->open(vb.priv, n, O_RDONLY, 0, 0, &o), 0);
	srand(4);
	for (int i = 0; z && i < 300; i++) {
		off_t off = rand() % (long)zlen;
		size_t size = 1 + (size_t)rand() % sizeof(buf);
		ssize_t r = read_at(&vb, n, o.fh, buf, size, off);
		size_t want = size < zlen - (size_t)off ? size : zlen - (size_t)off;

		bad += r != (ssize_t)want || memcmp(buf, z + off, want);
	}
	CHECK_MSG(!bad, "300 random reads of the dump match (%d differ)", bad);
	CHECK_INT(read_at(&vb, n, o.fh, buf, 10, (off_t)zlen), 0);
	vb.ops->release(vb.priv, n, o.fh);
	free(z);
	backups_view_stats(vb.priv, &s);
	CHECK_MSG(s.warmed > 100,
		  "a sequential reader of the dump has its chunk files read ahead "
		  "(%lu)",
		  s.warmed);
}

static void test_info_and_erofs(void)
{
	struct node *n = walk(&vb, "2025-10-02/.statefs-snapshot", NULL);
	struct view_open o = {0};
	unsigned char *data;
	struct stat st;
	size_t len;

	data = slurp(&vb, n, &len);
	CHECK(data && len);
	if (data) {
		data[len - 1] = '\0';
		CHECK_MSG(strstr((char *)data, "status incomplete") &&
			      strstr((char *)data, "reason database solidarlink_db: connection") &&
			      strstr((char *)data, commit[2]),
			  ".statefs-snapshot says what failed");
	}
	free(data);
	walk(&vb, "2025-10-02/.statefs-snapshot", &st);
	CHECK((st.st_mode & 0777) == 0444 && (off_t)len == st.st_size);
	n = walk(&vb, "2025-10-01/env/whisperx/.env", NULL);
	CHECK_INT(vb.ops->open(vb.priv, n, O_WRONLY, 0, 0, &o), -EROFS);
	CHECK_INT(vb.ops->open(vb.priv, n, O_RDWR, 0, 0, &o), -EROFS);
	CHECK_INT(vb.ops->open(vb.priv, n, O_RDONLY | O_TRUNC, 0, 0, &o), -EROFS);
	CHECK(vb.ops->write == NULL && vb.ops->truncate == NULL && vh.ops->write == NULL);
	CHECK_INT(vb.ops->open(vb.priv, walk(&vb, "2025-10-01/nginx", NULL), O_RDONLY, 0, 0, &o),
		  -EISDIR);
}

/* Every node of a tree has a distinct st_ino, the same from lookup and readdir. */
static int inos_of(struct view *v, struct node *dir, uint64_t *seen, size_t *n, int depth)
{
	struct lister l;
	char names[8192], *save, *tok;
	int bad = 0, i = 2;

	memset(&l, 0, sizeof(l));
	l.limit = 64;
	v->ops->readdir(v->priv, dir, 0, fill, &l);
	snprintf(names, sizeof(names), "%s", l.names);
	for (tok = strtok_r(names, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
		struct stat st;
		struct node *c = look(v, dir, tok, &st);

		bad += !c || st.st_ino != l.inos[i];
		for (size_t k = 0; k < *n; k++)
			bad += seen[k] == st.st_ino;
		seen[(*n)++] = st.st_ino;
		if (c && S_ISDIR(st.st_mode) && depth < 10)
			bad += inos_of(v, c, seen, n, depth + 1);
	}
	return bad;
}

static void test_inos(void)
{
	static uint64_t seen[1000];
	size_t n = 0;
	struct stat a, b;
	int bad = inos_of(&vb, walk(&vb, "2025-10-01", NULL), seen, &n, 0);

	bad += inos_of(&vb, walk(&vb, "2025-10-02", NULL), seen, &n, 0);
	CHECK_MSG(!bad && n > 40, "%zu st_inos, distinct and the same in readdir (%d bad)", n, bad);
	walk(&vb, "2025-10-01/uploads/clemence/2025/10/a.jpg", &a);
	vb.ops->destroy(vb.priv);
	CHECK_INT(vb.ops->init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
	walk(&vb, "2025-10-01/uploads/clemence/2025/10/a.jpg", &b);
	CHECK_MSG(a.st_ino == b.st_ino, "st_ino is the same after a remount");
}

static void test_lazy(void)
{
	struct backups_view_stats s;
	struct store *st;
	char name[32];

	vb.ops->destroy(vb.priv);
	CHECK_INT(vb.ops->init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
	CHECK_INT(store_open(state, NULL, &st, err, sizeof(err)), 0);
	for (int i = 1; i <= 8; i++) {
		snprintf(name, sizeof(name), "2025-11-0%d", i);
		make_snapshot(st, name, 1761955200 + i * 86400, commit[2], NULL);
	}
	store_close(st);
	list(&vb, look(&vb, NULL, "backups", NULL), 100);
	walk(&vb, "2025-11-03/nginx/nginx.conf", NULL);
	backups_view_stats(vb.priv, &s);
	CHECK_INT(s.snapshots, 10);
	CHECK_MSG(s.parsed_total == 0, "listing backups/ and reading configs parse no manifest");
	for (int i = 1; i <= 8; i++) {
		snprintf(name, sizeof(name), "2025-11-0%d/uploads", i);
		CHECK(walk(&vb, name, NULL) != NULL);
	}
	backups_view_stats(vb.priv, &s);
	CHECK_MSG(s.parsed <= 4 && s.parsed_total == 8, "8 looked into, %zu parsed now, %llu ever",
		  s.parsed, (unsigned long long)s.parsed_total);
}

static void test_appear_and_prune(void)
{
	struct node *b = look(&vb, NULL, "backups", NULL), *n;
	struct backups_view_stats vs;
	size_t parsed;
	struct store_lock *lk = NULL;
	struct view_open o = {0};
	unsigned char buf[100000];
	struct store *st;
	char path[256];
	ssize_t r;
	size_t got = 0;

	CHECK_INT(store_open(state, NULL, &st, err, sizeof(err)), 0);
	make_snapshot(st, "2025-12-01", 1764547200, commit[2], NULL);
	store_close(st);
	CHECK_MSG(strstr(list(&vb, b, 100), "2025-12-01") != NULL, "a new snapshot appears");
	CHECK(look(&vb, b, "2025-12-01", NULL) != NULL);
	n = walk(&vb, "latest", NULL);
	CHECK_INT(vb.ops->readlink(vb.priv, n, path, sizeof(path)), 0);
	CHECK_STR(path, "2025-12-01");

	n = walk(&vb, "2025-12-01/uploads/clemence/2025/10/a.jpg", NULL);
	CHECK_INT(vb.ops->open(vb.priv, n, O_RDONLY, 0, 0, &o), 0);
	CHECK_INT(read_at(&vb, n, o.fh, buf, 1000, 0), 1000);
	snprintf(path, sizeof(path), "%s/store/snapshots/2025-12-01", state);
	backups_view_stats(vb.priv, &vs);
	parsed = vs.parsed;
	CHECK_INT(unlink(path), 0);
	CHECK_MSG(!strstr(list(&vb, b, 100), "2025-12-01"), "a pruned snapshot goes");
	CHECK(look(&vb, b, "2025-12-01", NULL) == NULL);
	backups_view_stats(vb.priv, &vs);
	CHECK_MSG(vs.parsed == parsed - 1,
		  "its parsed manifest (and the file held open) is let go: %zu of %zu", vs.parsed,
		  parsed);
	while ((r = read_at(&vb, n, o.fh, buf, sizeof(buf), (off_t)got)) > 0)
		got += (size_t)r;
	CHECK_MSG(got == jpg_len, "a file open in it reads to its end (%zu)", got);
	CHECK_MSG(lock_take(state, LOCK_SWEEP, 0, &lk, err, sizeof(err)) == -EWOULDBLOCK,
		  "while a file is open, prune's sweep waits");
	vb.ops->release(vb.priv, n, o.fh);
	CHECK_MSG(lock_take(state, LOCK_SWEEP, 0, &lk, err, sizeof(err)) == 0,
		  "once it is closed, the sweep may run");
	lock_release(lk);
	n = walk(&vb, "latest", NULL);
	CHECK_INT(vb.ops->readlink(vb.priv, n, path, sizeof(path)), 0);
	CHECK_STR(path, "2025-11-08");
}

static bool keep_but(void *arg, const struct store_hash *h)
{
	return memcmp(arg, h, sizeof(*h)) != 0;
}

/* Read @path of the backups view as a whole: 0 and the bytes, or the first error. */
static int read_whole(const char *path, unsigned char **out, size_t *len)
{
	struct node *n = walk(&vb, path, NULL);
	struct view_open o = {0};
	unsigned char *buf = NULL;
	size_t cap = 0;
	ssize_t r;
	int ret;

	*len = 0;
	if (!n)
		return -ENOENT;
	ret = vb.ops->open(vb.priv, n, O_RDONLY, 0, 0, &o);
	if (ret)
		return ret;
	do {
		if (*len + 65536 > cap) {
			cap = 2 * cap + 65536;
			buf = realloc(buf, cap);
		}
		r = read_at(&vb, n, o.fh, (char *)buf + *len, 65536, (off_t)*len);
		if (r > 0)
			*len += (size_t)r;
	} while (r > 0);
	vb.ops->release(vb.priv, n, o.fh);
	*out = buf;
	if (r < 0)
		free(buf);
	return r < 0 ? (int)r : 0;
}

/*
 * A sweep while mounted, as when it started while no file was open and a file was opened
 * meanwhile (the daemon goes on without the lock then): the daemon's index, loaded before,
 * still names the pack the sweep rewrote and removed. Reads of what is left must find the
 * chunks in their new pack.
 */
static void test_sweep_while_mounted(void)
{
	const char *dumpf = "2025-10-01/db/clemence_db.sql.zst";
	const char *jpgf = "2025-10-01/uploads/clemence/2025/10/a.jpg";
	struct store_hash gone, first;
	struct store_sweep_opts so = {.keep = keep_but, .arg = &gone, .min_dead = 0};
	struct store_sweep_stats ss;
	struct store_loc before, after;
	struct view_open ho = {0};
	struct node *held;
	unsigned char *z0 = NULL, *z1 = NULL, *data = NULL;
	size_t zlen0 = 0, zlen1 = 0, len;
	struct store *st;

	vb.ops->destroy(vb.priv);
	CHECK_INT(vb.ops->init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
	CHECK_INT(read_whole(dumpf, &z0, &zlen0), 0); /* loads the daemon's index */
	held = walk(&vb, "2025-10-01/uploads/clemence/a-b", NULL);
	CHECK_INT(vb.ops->open(vb.priv, held, O_RDONLY, 0, 0, &ho), 0);
	CHECK_INT(store_hash_data(jpg, 65536, &first), 0);
	CHECK_INT(chunk_loc(state, &first, &before), 0);
	CHECK_INT(store_hash_data("ac\n", 3, &gone), 0);
	CHECK_INT(store_open(state, NULL, &st, err, sizeof(err)), 0);
	CHECK_MSG(store_sweep(st, &so, &ss, err, sizeof(err)) == 0, "sweep: %s", err);
	store_close(st);
	CHECK_MSG(ss.packs_rewritten == 1 && ss.chunks_removed == 1,
		  "the sweep rewrote the pack of the dump (%u) without one chunk (%llu)",
		  ss.packs_rewritten, (unsigned long long)ss.chunks_removed);
	CHECK_MSG(!chunk_exists(state, &gone), "the chunk swept is gone");
	CHECK_INT(chunk_loc(state, &first, &after), 0);
	CHECK_MSG(strcmp(before.pack, after.pack) != 0, "the others are in a new pack");
	CHECK_INT(read_whole(dumpf, &z1, &zlen1), 0);
	CHECK_MSG(z0 && z1 && zlen1 == zlen0 && !memcmp(z0, z1, zlen0),
		  "the dump reads the same from the pack its frames moved to");
	CHECK_INT(read_whole(jpgf, &data, &len), 0);
	CHECK_MSG(same(data, len, jpg, jpg_len), "so does a file");
	free(data);
	vb.ops->release(vb.priv, held, ho.fh);
	CHECK_MSG(read_whole("2025-10-01/uploads/clemence/a.c", &data, &len) == -EIO,
		  "a file whose chunk was swept away is an I/O error");
	free(z0);
	free(z1);
}

/* A dump or a file whose chunk the store lost is an I/O error, not a crash or a short read. */
static void test_missing_chunk(void)
{
	const char *dumpf = "2025-10-02/db/clemence_db.sql.zst";
	const char *jpgf = "2025-10-02/uploads/clemence/2025/10/a.jpg";
	struct store_hash h[2];
	struct store_loc loc;
	unsigned char *data = NULL;
	char path[512], saved[600];
	size_t len;

	CHECK_INT(store_hash_data(dump + 20000, 20000, &h[0]), 0); /* its 2nd chunk */
	CHECK_INT(store_hash_data(jpg, 65536, &h[1]), 0);	   /* its 1st chunk */
	for (int i = 0; i < 2; i++) {
		CHECK_INT(chunk_loc(state, &h[i], &loc), 0);
		pack_path(state, loc.pack, "idx", path, sizeof(path));
		snprintf(saved, sizeof(saved), "%s.saved", path);
		CHECK_INT(sh("cp -p %s %s", path, saved), 0);
		CHECK_INT(chunk_forget(state, &h[i]), 0);
		vb.ops->destroy(vb.priv);
		CHECK_INT(vb.ops->init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
		CHECK_MSG(read_whole(i ? jpgf : dumpf, &data, &len) == -EIO,
			  "%s with a chunk missing from the store is an I/O error",
			  i ? "a file" : "a dump");
		CHECK_INT(rename(saved, path), 0);
	}
	vb.ops->destroy(vb.priv);
	CHECK_INT(vb.ops->init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
	CHECK_INT(read_whole(dumpf, &data, &len), 0);
	free(data);
}

static void test_damaged(void)
{
	struct node *b = look(&vb, NULL, "backups", NULL), *n;
	struct lister l;
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/store/snapshots/2025-09-01", state);
	put_file(path, "statefs-snapshot 1\ngarbage\n");
	CHECK_MSG(strstr(list(&vb, b, 100), "2025-09-01") != NULL,
		  "a damaged manifest does not break the listing");
	n = look(&vb, b, "2025-09-01", &st);
	CHECK_MSG(n && st.st_mtim.tv_sec == 1756684800, "it is dated by its name");
	memset(&l, 0, sizeof(l));
	l.limit = 100;
	CHECK_INT(vb.ops->readdir(vb.priv, n, 2, fill, &l), -EIO);
	CHECK(look(&vb, n, "uploads", NULL) == NULL);
	n = walk(&vb, "latest", NULL);
	CHECK_INT(vb.ops->readlink(vb.priv, n, path, sizeof(path)), 0);
	CHECK_STR(path, "2025-11-08");
	snprintf(path, sizeof(path), "%s/store/snapshots/2025-09-01", state);
	unlink(path);
}

static void test_history(void)
{
	struct node *h = look(&vh, NULL, "history", NULL), *n;
	unsigned char *data;
	char name[256], hc[3][32];
	struct stat st;
	size_t len;

	CHECK(h != NULL);
	CHECK_STR(list(&vh, h, 1), "2025-10-01 2025-10-02");
	for (int i = 0; i < 3; i++)
		snprintf(hc[i], sizeof(hc[i]), "%s-%.7s",
			 i == 0	  ? "10-00-00"
			 : i == 1 ? "12-30-00"
				  : "01-00-00",
			 commit[i]);
	snprintf(name, sizeof(name), "%s %s", hc[0], hc[1]);
	CHECK_STR(list(&vh, look(&vh, h, "2025-10-01", NULL), 1), name);
	snprintf(name, sizeof(name), "2025-10-01/%s", hc[1]);
	n = walk(&vh, name, &st);
	CHECK(n && S_ISDIR(st.st_mode) && st.st_mtim.tv_sec == 1759276800 + 45000);
	CHECK_STR(list(&vh, n, 100), "compose env nginx");
	snprintf(name, sizeof(name), "2025-10-01/%s/nginx/sites-available/clemence.conf", hc[1]);
	data = slurp(&vh, walk(&vh, name, NULL), &len);
	CHECK_MSG(same(data, len, "root /var/www/between;\n", 23),
		  "history/ shows the version between two commits");
	free(data);
	snprintf(name, sizeof(name), "2025-10-02/%s/env/whisperx/.env", hc[2]);
	walk(&vh, name, &st);
	CHECK((st.st_mode & 07777) == 0600 && st.st_uid == 1000);
	CHECK(walk(&vh, "2025-10-01/10-00-00-0000000", NULL) == NULL);
	CHECK(walk(&vh, "2025-09-30", NULL) == NULL);
	/* a new commit shows up */
	sh("printf 'root /var/www/newer;\\n' > %s/w/nginx/sites-available/clemence.conf", top);
	git_commit("# statefs-meta 1\n", 1759449600 + 60, name);
	CHECK_STR(list(&vh, h, 100), "2025-10-01 2025-10-02 2025-10-03");
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	make_fixture();
	CHECK_INT(backups_view_ops.init(&fs, &vb, &vb.priv, err, sizeof(err)), 0);
	vb.ops = &backups_view_ops;
	vb.fs = &fs;
	CHECK_INT(history_view_ops.init(&fs, &vh, &vh.priv, err, sizeof(err)), 0);
	vh.ops = &history_view_ops;
	vh.fs = &fs;
	test_listing();
	test_configs();
	test_uploads();
	test_dump();
	test_info_and_erofs();
	test_inos();
	test_lazy();
	test_appear_and_prune();
	test_missing_chunk();
	test_sweep_while_mounted();
	test_damaged();
	test_history();
	vb.ops->destroy(vb.priv);
	vh.ops->destroy(vh.priv);
	mtab_free(fs.tab);
	free(dump);
	free(jpg);
	if (!getenv("KEEP"))
		sh("rm -rf %s", top);
	UNIT_DONE();
}
