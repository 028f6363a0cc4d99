/*
 * test_manifest.c - snapshot manifests: the exact text, round trips, escaping, every kind of
 * malformed input rejected, snapshot names, and writing/reading/listing in a state dir.
 */
#include "snapshot/manifest.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void hash_of(const char *s, struct store_hash *h)
{
	store_hash_data(s, strlen(s), h);
}

/* A manifest with one of everything, built out of order. */
static void build(struct manifest *m)
{
	struct manifest_entry *e;
	struct store_hash h;

	manifest_init(m);
	m->time = 1759284000;
	CHECK_INT(manifest_set_commit(m, "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"), 0);
	CHECK_INT(manifest_add(m, 'f', "db/clemence_db.sql", 0600, 0, 0, 1759284000123456789LL, 0,
			       NULL, &e),
		  0);
	e->ctime_ns = 1759284000123456789LL;
	hash_of("hello", &h);
	CHECK_INT(manifest_add_chunk_z(e, &h, 5, 14), 0);
	hash_of("world!", &h);
	CHECK_INT(manifest_add_chunk_z(e, &h, 6, 15), 0);
	CHECK_INT(manifest_add_table(e, "posts", 0), 0);
	CHECK_INT(manifest_add_table(e, "wp users", 5), 0);
	CHECK_INT(manifest_add(m, 'd', "db", 0700, 0, 0, -1500000000, 12, NULL, &e), 0);
	e->ctime_ns = -1500000000;
	CHECK_INT(manifest_add(m, 'l', "uploads/latest", 0777, 33, 33, 0, 99, "2025/10", NULL), 0);
	CHECK_INT(manifest_add(m, 'f', "uploads/empty", 04755, 33, 4294967294u, 1, 7, NULL, &e), 0);
	e->ctime_ns = 2;
	CHECK_INT(manifest_set_info(m, "bytes_read", 7), 0);
	CHECK_INT(manifest_set_info(m, "bytes_new", 4096), 0);
	CHECK_INT(manifest_set_info(m, "bytes_read", 11), 0);
}

static const char golden[] =
    "statefs-snapshot 1\n"
    "time 1759284000\n"
    "commit 3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b\n"
    "status complete\n"
    "info bytes_new 4096\n"
    "info bytes_read 11\n"
    "d 0700 0 0 0 -1500000000 -1500000000 12 db\n"
    "f 0600 0 0 11 1759284000123456789 1759284000123456789 0 db/clemence_db.sql\n"
    "c 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 5 14\n"
    "c 711e9609339e92b03ddc0a211827dba421f38f9ed8b9d806e1ffdd8c15ffa03d 6 15\n"
    "table 0 posts\n"
    "table 5 wp users\n"
    "f 4755 33 4294967294 0 1 2 7 uploads/empty\n"
    "l 0777 33 33 7 0 0 99 uploads/latest\n"
    "t 2025/10\n"
    "end\n";

static void test_format_parse(void)
{
	struct manifest m, p;
	const struct manifest_entry *e;
	char *buf = NULL, *buf2 = NULL, err[256] = "";
	size_t len = 0, len2 = 0;

	build(&m);
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), 0);
	CHECK_MSG(buf && len == strlen(golden) && !memcmp(buf, golden, len),
		  "formatted manifest is the documented text");
	if (buf && (len != strlen(golden) || memcmp(buf, golden, len)))
		printf("# got:\n%.*s", (int)len, buf);

	manifest_init(&p);
	CHECK_INT(manifest_parse(&p, buf, len, err, sizeof(err)), 0);
	CHECK_INT(p.n, 4);
	CHECK_INT(p.time, 1759284000);
	CHECK_STR(p.commit, "3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b");
	e = manifest_find(&p, "db/clemence_db.sql");
	CHECK(e && e->type == 'f' && e->size == 11 && e->nchunks == 2 && e->ntables == 2);
	CHECK(e && e->mtime_ns == 1759284000123456789LL && e->mode == 0600);
	CHECK(e && !strcmp(e->tables[1].name, "wp users") && e->tables[1].offset == 5);
	CHECK(e && manifest_chunk_at(e, 0) == 0 && manifest_chunk_at(e, 4) == 0 &&
	      manifest_chunk_at(e, 5) == 1 && manifest_chunk_at(e, 10) == 1 &&
	      manifest_chunk_at(e, 11) == -1);
	CHECK(e && e->chunks[1].offset == 5 && e->chunks[1].len == 6 && e->chunks[1].zlen == 15);
	CHECK(e && e->ctime_ns == 1759284000123456789LL);
	{
		uint64_t v = 0;

		CHECK(p.ninfos == 2 && !manifest_get_info(&p, "bytes_read", &v) && v == 11);
		CHECK_INT(manifest_get_info(&p, "nope", &v), -ENOENT);
	}
	e = manifest_find(&p, "uploads/latest");
	CHECK(e && e->type == 'l' && e->target && !strcmp(e->target, "2025/10") && e->ino == 99);
	e = manifest_find(&p, "db");
	CHECK(e && e->type == 'd' && e->mtime_ns == -1500000000);
	e = manifest_find(&p, "uploads/empty");
	CHECK(e && e->mode == 04755 && e->gid == 4294967294u && e->size == 0 && !e->nchunks &&
	      e->ctime_ns == 2);
	CHECK(manifest_find(&p, "nope") == NULL);
	CHECK_INT(manifest_format(&p, &buf2, &len2, err, sizeof(err)), 0);
	CHECK_MSG(len2 == len && !memcmp(buf, buf2, len), "format(parse(x)) == x");
	free(buf);
	free(buf2);
	manifest_free(&m);
	manifest_free(&p);
}

static void test_escapes(void)
{
	static const char *paths[] = {
	    " lead",   "tab\there",	      "new\nline", "back\\slash",
	    "del\x7f", "caf\xc3\xa9 (1).jpg", "trail ",	   "a/b c/d",
	};
	struct manifest m, p;
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	bool all = true;

	manifest_init(&m);
	CHECK_INT(manifest_add_reason(&m, "db solidarlink_db: %s", "Can't connect\n(111)"), 0);
	CHECK_INT(manifest_add_reason(&m, " two"), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		all = all && !manifest_add(&m, 'f', paths[i], 0644, 0, 0, 0, 0, NULL, NULL);
	CHECK_MSG(all, "paths with odd bytes are accepted");
	CHECK_INT(manifest_add(&m, 'l', "sl", 0777, 0, 0, 0, 0, "\\x y\n", NULL), 0);
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), 0);
	CHECK(buf &&
	      strstr(buf, "status incomplete\nreason db solidarlink_db: Can't connect\\012(111)\n"
			  "reason \\040two\n"));
	CHECK(buf && strstr(buf, " \\040lead\n") && strstr(buf, " tab\\011here\n") &&
	      strstr(buf, " new\\012line\n") && strstr(buf, " back\\134slash\n") &&
	      strstr(buf, " del\\177\n") && strstr(buf, " trail \n") &&
	      strstr(buf, " caf\xc3\xa9 (1).jpg\n") && strstr(buf, "\nt \\134x y\\012\n"));
	manifest_init(&p);
	CHECK_INT(manifest_parse(&p, buf, len, err, sizeof(err)), 0);
	CHECK_INT(p.nreasons, 2);
	CHECK(p.nreasons && !strcmp(p.reasons[0], "db solidarlink_db: Can't connect\n(111)"));
	all = p.n == m.n;
	for (size_t i = 0; all && i < sizeof(paths) / sizeof(paths[0]); i++)
		all = manifest_find(&p, paths[i]) != NULL;
	CHECK_MSG(all, "escaped paths round-trip");
	CHECK(manifest_find(&p, "sl") && !strcmp(manifest_find(&p, "sl")->target, "\\x y\n"));
	free(buf);
	manifest_free(&m);
	manifest_free(&p);
}

static void test_builder_rejects(void)
{
	struct manifest m;
	struct manifest_entry *e;
	struct store_hash h = {{0}};
	char *buf = NULL, err[256] = "";
	size_t len;

	manifest_init(&m);
	CHECK(manifest_find(&m, "a") == NULL);
	CHECK_INT(manifest_add(&m, 'f', "", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "/abs", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a//b", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a/../b", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a/.", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "dir/", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'x', "a", 0644, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a", 010000, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a", 0644, (uid_t)-1, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'l', "a", 0777, 0, 0, 0, 0, NULL, NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'l', "a", 0777, 0, 0, 0, 0, "", NULL), -EINVAL);
	CHECK_INT(manifest_add(&m, 'f', "a", 0644, 0, 0, 0, 0, "t", NULL), -EINVAL);
	CHECK_INT(manifest_set_commit(&m, "ABCDEF"), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "", 1), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "Bytes", 1), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "1x", 1), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "a b", 1), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "abcdefghijklmnopqrstuvwxyz_01234567", 1), -EINVAL);
	CHECK_INT(manifest_set_info(&m, "abcdefghijklmnopqrstuvwxyz_01234", 1), 0);
	CHECK_INT(manifest_add(&m, 'f', "a", 0644, 0, 0, 0, 0, NULL, &e), 0);
	CHECK_INT(manifest_add_chunk(e, &h, 0), -EINVAL);
	CHECK_INT(manifest_add_table(e, "t2", 10), 0);
	CHECK_INT(manifest_add_table(e, "t1", 9), -EINVAL);
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), -EINVAL); /* 10 > size 0 */
	CHECK_INT(manifest_add_chunk(e, &h, 10), 0);
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), -EINVAL); /* zlen unknown */
	CHECK_MSG(strstr(err, "stored size") != NULL, "unknown stored size named: %s", err);
	e->chunks[0].zlen = 20;
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), 0);
	free(buf);
	buf = NULL;
	CHECK_INT(manifest_add(&m, 'd', "a", 0755, 0, 0, 0, 0, NULL, NULL), 0);
	CHECK_INT(manifest_format(&m, &buf, &len, err, sizeof(err)), -EINVAL);
	CHECK_MSG(strstr(err, "twice") != NULL, "duplicate path named: %s", err);
	manifest_free(&m);
}

#define D "d 0700 0 0 0 -1500000000 -1500000000 12 "

/* Each of these, put in place of the golden text, must be rejected. */
static void test_parse_rejects(void)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
	    {"statefs-snapshot 1\n", "statefs-snapshot 2\n"},
	    {"statefs-snapshot 1\n", ""},
	    {"time 1759284000\n", "time 01759284000\n"},
	    {"time 1759284000\n", "time  1759284000\n"},
	    {"time 1759284000\n", "time -0\n"},
	    {"time 1759284000\n", "time 99999999999999999999\n"},
	    {"commit 3f2a", "commit 3F2a"},
	    {"commit 3f2a9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b\n", "commit 3f2a\n"},
	    {"status complete\n", "status incomplete\n"},
	    {"status complete\n", "status complete\nreason x\n"},
	    {"status complete\n", "status done\n"},
	    {"d 0700 0 0 0", "d 0700 0 0 1"},
	    {D "db\n", "d 700 0 0 0 -1500000000 -1500000000 12 db\n"},
	    {D "db\n", "d 0800 0 0 0 -1500000000 -1500000000 12 db\n"},
	    {D "db\n", D "db/\n"},
	    {D "db\n", D "../db\n"},
	    {D "db\n", D "\n"},
	    {D "db\n", D " db\n"},
	    {D "db\n", D "d\\142\n"},
	    {D "db\n", D "d\tb\n"},
	    {D "db\n", D "d\\000b\n"},
	    {D "db\n", D "d\\4000b\n"},
	    {D "db\n", D "db\\01\n"},
	    {D "db\n", "x 0700 0 0 0 -1500000000 -1500000000 12 db\n"},
	    {D "db\n", "d 0700 0 0 0 -1500000000 12 db\n"},
	    {D "db\n", "d 0700 0 0 0 -1500000000 -01 12 db\n"},
	    {D "db\n", D "db\nc 00 1\n"},
	    {D "db\n", D "db\nd 0700 0 0 0 0 0 0 db\n"},
	    {D "db\n", D "zz\n"},
	    {"f 0600 0 0 11", "f 0600 0 0 12"},
	    {"f 0600 0 0 11", "f 0600 0 4294967296 11"},
	    {"f 0600 0 0 11", "f 0600 4294967295 0 11"},
	    {"c 2cf2", "c 2CF2"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 06 15\n"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 6 15 \n"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 6\n"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 6 0\n"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 6 015\n"},
	    {"e1ffdd8c15ffa03d 6 15\n", "e1ffdd8c15ffa03d 6  15\n"},
	    {"b9824 5 14\n", "b9824 0 14\n"},
	    {"info bytes_new 4096\n", "info bytes_new 04096\n"},
	    {"info bytes_new 4096\n", "info bytes_new\n"},
	    {"info bytes_new 4096\n", "info Bytes_new 4096\n"},
	    {"info bytes_new 4096\n", "info 9bytes 4096\n"},
	    {"info bytes_new 4096\n", "info bytes-new 4096\n"},
	    {"info bytes_new 4096\n", "info  bytes_new 4096\n"},
	    {"info bytes_new 4096\n", "info bytes_new 4096 1\n"},
	    {"info bytes_new 4096\n", "info bytes_new -1\n"},
	    {"info bytes_new 4096\n", "info bytes_read 4096\n"},
	    {"info bytes_new 4096\ninfo bytes_read 11\n",
	     "info bytes_read 11\ninfo bytes_new 4096\n"},
	    {"info bytes_new 4096\n", "info abcdefghijklmnopqrstuvwxyz_0123456 1\n"},
	    {"status complete\ninfo bytes_new 4096\n",
	     "status incomplete\ninfo bytes_new 4096\nreason x\n"},
	    {"table 0 posts\n", "table -1 posts\n"},
	    {"table 0 posts\n", "table 12 posts\n"},
	    {"table 5 wp users\n",
	     "table 5 wp users\nc 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 "
	     "5 14\n"},
	    {"f 4755 33 4294967294 0 1 2 7", "f 4755 33 4294967294 0 1 7"},
	    {"f 4755 33 4294967294 0 1 2 7", "f 4755 33 4294967294 0 1 +2 7"},
	    {"uploads/latest\n", "uploads/latest\ninfo a 1\n"},
	    {"table 5 wp users\n", "table 5 \n"},
	    {"table 5 wp users\n", "table 5 wp users\ntable 1 x\n"},
	    {"t 2025/10\n", ""},
	    {"t 2025/10\n", "t 2025/100\n"},
	    {"end\n", ""},
	    {"end\n", "end"},
	    {"end\n", "end\n\n"},
	    {"end\n", "end\nd 0755 0 0 0 0 0 zz\n"},
	    {"end\n", "END\n"},
	    {"uploads/empty\n", "uploads/empty\r\n"},
	};
	bool all = true;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(golden, edits[i].from);
		size_t pre, flen = strlen(edits[i].from), tlen = strlen(edits[i].to);
		char *buf, err[256] = "";
		struct manifest m;
		int ret;

		if (!at) {
			CHECK_MSG(0, "edit %zu: '%s' is in the golden text", i, edits[i].from);
			continue;
		}
		pre = (size_t)(at - golden);
		buf = malloc(sizeof(golden) + tlen);
		memcpy(buf, golden, pre);
		memcpy(buf + pre, edits[i].to, tlen);
		memcpy(buf + pre + tlen, at + flen, sizeof(golden) - 1 - pre - flen);
		manifest_init(&m);
		ret = manifest_parse(&m, buf, sizeof(golden) - 1 - flen + tlen, err, sizeof(err));
		if (ret != -EINVAL || !*err) {
			all = false;
			CHECK_MSG(0, "edit %zu ('%s' -> '%s') rejected (got %d)", i, edits[i].from,
				  edits[i].to, ret);
		}
		manifest_free(&m);
		free(buf);
	}
	CHECK_MSG(all, "%zu malformed variants of the golden manifest are rejected",
		  sizeof(edits) / sizeof(edits[0]));
	{
		struct manifest m;
		char err[256] = "";

		manifest_init(&m);
		CHECK_INT(manifest_parse(&m, golden, sizeof(golden) - 1, err, sizeof(err)), 0);
		manifest_free(&m);
		manifest_init(&m);
		CHECK_INT(manifest_parse(&m, golden, 40, err, sizeof(err)), -EINVAL);
		CHECK_MSG(!strncmp(err, "manifest line 3: ", 17), "message names the line: %s",
			  err);
		manifest_free(&m);
		manifest_init(&m);
		CHECK_INT(manifest_parse(&m, "", 0, err, sizeof(err)), -EINVAL);
		manifest_free(&m);
	}
}

/* The input a byte at a time. */
struct bytes {
	const char *p;
	size_t left;
	int fail; /* the error to give once the input is half read (0: none) */
	size_t half;
};

static ssize_t byte_read(void *arg, void *buf, size_t len)
{
	struct bytes *b = arg;

	if (b->fail && b->left <= b->half)
		return -b->fail;
	if (!b->left || !len)
		return 0;
	memcpy(buf, b->p++, 1);
	b->left--;
	return 1;
}

struct seen_chunks {
	size_t n;
	uint64_t at[4], len[4], offset[4];
};

static int see_chunk(void *arg, size_t entry, size_t i, const struct manifest_chunk *c, uint64_t at)
{
	struct seen_chunks *s = arg;

	(void)entry;
	if (s->n < 4) {
		s->at[s->n] = at;
		s->len[s->n] = c->len;
		s->offset[s->n] = c->offset + i * 1000;
	}
	s->n++;
	return 0;
}

/*
 * A manifest read a byte at a time parses as the whole text does, a line longer than the
 * reader's first buffer included; a lazy parse keeps no chunk and says where each chunk's
 * line is; a reader's error is returned.
 */
static void test_parse_read(void)
{
	static const char reason[] = "statefs-snapshot 1\ntime 5\ncommit -\nstatus incomplete\n"
				     "reason ";
	struct manifest m;
	struct seen_chunks seen = {0};
	struct bytes b = {.p = golden, .left = sizeof(golden) - 1};
	const char *c1 = strstr(golden, "\nc ") + 1;
	size_t n = sizeof(reason) - 1 + 300000 + 5, len;
	char err[256] = "", *buf = malloc(n + 1), *out = NULL;

	manifest_init(&m);
	CHECK_INT(manifest_parse_read(&m, byte_read, &b, NULL, NULL, err, sizeof(err)), 0);
	CHECK(m.n == 4 && m.v[1].nchunks == 2 && m.v[1].chunks && !m.lazy);
	CHECK_INT(manifest_format(&m, &out, &len, err, sizeof(err)), 0);
	CHECK(out && len == sizeof(golden) - 1 && !memcmp(out, golden, len));
	free(out);
	manifest_free(&m);

	b = (struct bytes){.p = golden, .left = sizeof(golden) - 1};
	manifest_init(&m);
	CHECK_INT(manifest_parse_read(&m, byte_read, &b, see_chunk, &seen, err, sizeof(err)), 0);
	CHECK(m.lazy && m.v[1].nchunks == 2 && !m.v[1].chunks && m.v[1].size == 11);
	CHECK(seen.n == 2 && seen.at[0] == (uint64_t)(c1 - golden) &&
	      seen.at[1] == (uint64_t)(strchr(c1, '\n') + 1 - golden));
	CHECK(seen.len[0] == 5 && seen.len[1] == 6 && seen.offset[0] == 0 &&
	      seen.offset[1] == 1005);
	CHECK_INT(manifest_format(&m, &out, &len, err, sizeof(err)), -EINVAL);
	manifest_free(&m);

	b = (struct bytes){.p = golden, .left = sizeof(golden) - 1, .fail = EIO, .half = 300};
	manifest_init(&m);
	CHECK_INT(manifest_parse_read(&m, byte_read, &b, NULL, NULL, err, sizeof(err)), -EIO);
	manifest_free(&m);

	memcpy(buf, reason, sizeof(reason) - 1);
	memset(buf + sizeof(reason) - 1, 'x', 300000);
	memcpy(buf + n - 5, "\nend\n", 5);
	b = (struct bytes){.p = buf, .left = n};
	manifest_init(&m);
	CHECK_INT(manifest_parse_read(&m, byte_read, &b, NULL, NULL, err, sizeof(err)), 0);
	CHECK(m.nreasons == 1 && strlen(m.reasons[0]) == 300000);
	manifest_free(&m);
	free(buf);
}

static int fake_exists(void *arg, const char *name)
{
	const char **taken = arg;

	for (; *taken; taken++)
		if (!strcmp(*taken, name))
			return 1;
	return 0;
}

static void test_names(void)
{
	static const char *good[] = {"2025-10-01", "2024-02-29", "2025-12-31_235959",
				     "2025-01-01_000000"};
	static const char *bad[] = {"2025-10-1",
				    "2025-13-01",
				    "2025-00-10",
				    "2025-02-29",
				    "1900-02-29",
				    "2025-04-31",
				    "2025-10-01_240000",
				    "2025-10-01_126000",
				    "2025-10-01-120000",
				    "2025-10-01_12000",
				    "latest",
				    "",
				    "tmp.2025-10-01.123",
				    "2025-1a-01"};
	const char *none[] = {NULL};
	const char *day[] = {"2025-10-01", NULL};
	const char *both[] = {"2025-10-01", "2025-10-01_143005", NULL};
	char name[MANIFEST_NAME_MAX];
	time_t t = 1759329005; /* 2025-10-01 14:30:05 UTC */
	bool all = true;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		all = all && manifest_name_valid(good[i]);
	CHECK_MSG(all, "valid snapshot names accepted");
	all = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (manifest_name_valid(bad[i])) {
			all = false;
			CHECK_MSG(0, "'%s' is not a snapshot name", bad[i]);
		}
	}
	CHECK_MSG(all, "invalid snapshot names rejected");
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK_INT(manifest_name_for(t, fake_exists, none, name), 0);
	CHECK_STR(name, "2025-10-01");
	CHECK_INT(manifest_name_for(t, fake_exists, day, name), 0);
	CHECK_STR(name, "2025-10-01_143005");
	CHECK_INT(manifest_name_for(t, fake_exists, both, name), -EEXIST);
}

static void test_files(void)
{
	char dir[] = "/tmp/statefs-test-manifest.XXXXXX", path[256], err[256] = "";
	char name[MANIFEST_NAME_MAX], **names = NULL;
	struct manifest m, r;
	struct stat st;
	size_t n = 0;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/store", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/store/snapshots", dir);
	mkdir(path, 0700);
	CHECK_INT(manifest_list(dir, &names, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 0);
	manifest_names_free(names, n);
	build(&m);
	CHECK_INT(manifest_write(dir, "2025-10-01", &m, err, sizeof(err)), 0);
	CHECK_INT(manifest_write(dir, "2025-10-01", &m, err, sizeof(err)), -EEXIST);
	CHECK_INT(manifest_write(dir, "../x", &m, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/store/snapshots/2025-10-01", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 &&
	      st.st_size == sizeof(golden) - 1);
	CHECK_INT(manifest_exists(dir, "2025-10-01"), 1);
	CHECK_INT(manifest_exists(dir, "2025-10-02"), 0);
	CHECK_INT(manifest_name_for(1759329005, manifest_exists, dir, name), 0);
	CHECK_STR(name, "2025-10-01_143005");
	CHECK_INT(manifest_write(dir, "2025-09-30", &m, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2025-10-02.1", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	CHECK_INT(manifest_list(dir, &names, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 2);
	CHECK_STR(n == 2 ? names[0] : NULL, "2025-09-30");
	CHECK_STR(n == 2 ? names[1] : NULL, "2025-10-01");
	manifest_names_free(names, n);

	manifest_init(&r);
	CHECK_INT(manifest_read(dir, "2025-10-01", &r, err, sizeof(err)), 0);
	CHECK_INT(r.n, 4);
	manifest_free(&r);
	manifest_init(&r);
	CHECK_INT(manifest_read(dir, "2025-10-05", &r, err, sizeof(err)), -ENOENT);
	manifest_free(&r);
	manifest_free(&m);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK_INT(system(path), 0);
}

int main(void)
{
	test_format_parse();
	test_escapes();
	test_builder_rejects();
	test_parse_rejects();
	test_parse_read();
	test_names();
	test_files();
	UNIT_DONE();
}
