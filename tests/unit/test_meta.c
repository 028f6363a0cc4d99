/*
 * test_meta.c - the .statefs-meta format: set/get/remove, escapes, order, round trips, and every
 * way meta_parse refuses a file, with the line it names.
 */
#include "fs/meta.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H "# statefs-meta 1\n"

/* On a failed check, show @s as a TAP comment, control bytes escaped. */
static void diag(const char *label, const char *s, size_t len)
{
	size_t i;

	printf("# %s: \"", label);
	for (i = 0; s && i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			printf("\\n\"\n#   \"");
		else if (c < 0x20 || c == 0x7f || c == '"')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* Format @m and compare with @want. */
static void check_format(struct meta *m, const char *want, const char *what)
{
	char *out = NULL;
	size_t len = 0;
	int err;

	err = meta_format(m, &out, &len);
	CHECK_MSG(err == 0 && out && len == strlen(want) && memcmp(out, want, len) == 0,
		  "format %s", what);
	if (!(err == 0 && out && len == strlen(want) && memcmp(out, want, len) == 0)) {
		diag("want", want, strlen(want));
		diag("got", out, len);
	}
	CHECK_MSG(out && out[len] == '\0', "format %s is NUL-terminated", what);
	free(out);
}

/* @in parses, and formats back to exactly @in. */
static void check_roundtrip(const char *in, size_t len, const char *what)
{
	struct meta m;
	char err[256], *out = NULL;
	size_t olen = 0;
	int ret;

	meta_init(&m);
	ret = meta_parse(&m, in, len, err, sizeof(err));
	CHECK_MSG(ret == 0, "parse %s (%s)", what, ret ? err : "ok");
	if (ret == 0) {
		ret = meta_format(&m, &out, &olen);
		CHECK_MSG(ret == 0 && olen == len && memcmp(out, in, len) == 0, "round trip %s",
			  what);
		if (!(ret == 0 && olen == len && memcmp(out, in, len) == 0))
			diag("got", out, olen);
		free(out);
	}
	meta_free(&m);
}

/* @in is refused with -EINVAL and a message containing @want; @m is left empty. */
static void check_reject(const char *in, size_t len, const char *want)
{
	struct meta m;
	char err[256];
	int ret;

	meta_init(&m);
	strcpy(err, "(untouched)");
	ret = meta_parse(&m, in, len, err, sizeof(err));
	CHECK_MSG(ret == -EINVAL && strstr(err, want) != NULL, "reject: want \"%s\", got %d \"%s\"",
		  want, ret, err);
	CHECK_MSG(m.n == 0 && m.v == NULL, "rejected parse leaves the table empty (\"%s\")", want);
	meta_free(&m);
}

#define REJECT(lit, want) check_reject(lit, sizeof(lit) - 1, want)
#define ROUNDTRIP(lit) check_roundtrip(lit, sizeof(lit) - 1, "at line " LINE_STR(__LINE__))
#define LINE_STR(n) LINE_STR_(n)
#define LINE_STR_(n) #n

static void test_set_get(void)
{
	struct meta m;
	const struct meta_entry *e;

	meta_init(&m);
	CHECK_INT(meta_set(&m, 'd', 040755, 0, 0, "nginx"), 0);
	CHECK_INT(meta_set(&m, 'f', 0100600, 0, 33, "env/whisperx/.env"), 0);
	CHECK_INT(meta_set(&m, 'l', 0120777, 0, 0, "nginx/sites-enabled/clemence.conf"), 0);
	CHECK_INT(m.n, 3);
	e = meta_get(&m, "env/whisperx/.env");
	CHECK(e != NULL);
	if (e) {
		CHECK_INT(e->type, 'f');
		CHECK_INT(e->mode, 0600);
		CHECK_INT(e->gid, 33);
	}
	CHECK(meta_get(&m, "env") == NULL);
	CHECK(meta_get(&m, "nginx/") == NULL);

	/* replace keeps one entry */
	CHECK_INT(meta_set(&m, 'f', 04751, 1000, 1000, "env/whisperx/.env"), 0);
	CHECK_INT(m.n, 3);
	e = meta_get(&m, "env/whisperx/.env");
	CHECK(e && e->mode == 04751 && e->uid == 1000);

	check_format(&m,
		     H "f 4751 1000 1000 env/whisperx/.env\n"
		       "d 0755 0 0 nginx\n"
		       "l 0777 0 0 nginx/sites-enabled/clemence.conf\n",
		     "three entries");

	/* refused */
	CHECK_INT(meta_set(&m, 'x', 0644, 0, 0, "a"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, ""), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, NULL), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "/a"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "a/"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "a//b"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "a/./b"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "a/.."), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, 0, "."), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, (uid_t)-1, 0, "a"), -EINVAL);
	CHECK_INT(meta_set(&m, 'f', 0644, 0, (gid_t)-1, "a"), -EINVAL);
	CHECK_INT(m.n, 3);
	/* names that merely start with dots are fine */
	CHECK_INT(meta_set(&m, 'f', 0644, 4294967294u, 0, "a/.../..b/.c"), 0);
	CHECK_INT(m.n, 4);
	meta_free(&m);
	CHECK(m.n == 0 && m.v == NULL);
	meta_free(&m); /* twice is harmless */
}

static void test_order(void)
{
	struct meta m;

	meta_init(&m);
	/* strcmp order: '-' < '/' < '2' < 'a'; bytes >= 0x80 after ASCII */
	meta_set(&m, 'f', 0644, 0, 0, "nginx2");
	meta_set(&m, 'f', 0644, 0, 0, "\xc3\xa9t\xc3\xa9");
	meta_set(&m, 'f', 0644, 0, 0, "nginx/a");
	meta_set(&m, 'f', 0644, 0, 0, "nginx-a");
	meta_set(&m, 'd', 0755, 0, 0, "nginx");
	meta_set(&m, 'f', 0644, 0, 0, "Nginx");
	check_format(&m,
		     H "f 0644 0 0 Nginx\n"
		       "d 0755 0 0 nginx\n"
		       "f 0644 0 0 nginx-a\n"
		       "f 0644 0 0 nginx/a\n"
		       "f 0644 0 0 nginx2\n"
		       "f 0644 0 0 \xc3\xa9t\xc3\xa9\n",
		     "strcmp order");
	meta_free(&m);

	meta_init(&m);
	check_format(&m, H, "empty table");
	meta_free(&m);
}

static void test_remove(void)
{
	struct meta m;

	meta_init(&m);
	meta_set(&m, 'd', 0755, 0, 0, "nginx");
	meta_set(&m, 'f', 0644, 0, 0, "nginx-a");
	meta_set(&m, 'd', 0755, 0, 0, "nginx/sites");
	meta_set(&m, 'f', 0644, 0, 0, "nginx/sites/a.conf");
	meta_set(&m, 'f', 0644, 0, 0, "nginx/nginx.conf");
	meta_set(&m, 'f', 0644, 0, 0, "nginx2");
	meta_set(&m, 'f', 0644, 0, 0, "nginx2/x");
	meta_set(&m, 'f', 0644, 0, 0, "env");

	CHECK_INT(meta_remove(&m, "nginx/sites", 0), 1);
	CHECK(meta_get(&m, "nginx/sites/a.conf") != NULL);
	CHECK_INT(meta_remove(&m, "nginx/sites", 0), 0);
	CHECK_INT(meta_remove(&m, "nope", 1), 0);
	CHECK_INT(meta_remove(&m, "", 1), 0);
	CHECK_INT(meta_remove(&m, "nginx/", 1), 0);
	CHECK_INT(meta_remove(&m, NULL, 1), 0);
	CHECK_INT(m.n, 7);

	/* below a path that has no entry of its own */
	CHECK_INT(meta_remove(&m, "nginx/sites", 1), 1);
	CHECK(meta_get(&m, "nginx/sites/a.conf") == NULL);

	/* the whole tree, but not nginx-a (sorts between) nor nginx2 */
	CHECK_INT(meta_remove(&m, "nginx", 1), 2);
	check_format(&m,
		     H "f 0644 0 0 env\n"
		       "f 0644 0 0 nginx-a\n"
		       "f 0644 0 0 nginx2\n"
		       "f 0644 0 0 nginx2/x\n",
		     "after recursive remove");
	CHECK_INT(meta_remove(&m, "nginx2/x", 1), 1);
	CHECK_INT(meta_remove(&m, "env", 1), 1);
	CHECK_INT(meta_remove(&m, "nginx-a", 0), 1);
	CHECK_INT(meta_remove(&m, "nginx2", 1), 1);
	CHECK_INT(m.n, 0);
	check_format(&m, H, "after removing all");
	meta_free(&m);
}

static void test_escapes(void)
{
	struct meta m;
	struct meta m2;
	const struct meta_entry *e;
	char err[256], *out = NULL;
	size_t len = 0;
	int ret;

	meta_init(&m);
	meta_set(&m, 'f', 0644, 0, 0, " lead space");
	meta_set(&m, 'f', 0644, 0, 0, "a b  trailing ");
	meta_set(&m, 'f', 0644, 0, 0, "new\nline");
	meta_set(&m, 'f', 0644, 0, 0, "back\\slash");
	meta_set(&m, 'f', 0644, 0, 0, "tab\there");
	meta_set(&m, 'f', 0644, 0, 0, "del\x7f");
	meta_set(&m, 'f', 0644, 0, 0, "cr\r\x01\x1f");
	meta_set(&m, 'f', 0644, 0, 0, "utf8/\xc3\xa9\xe2\x82\xac\xff");
	meta_set(&m, 'f', 0644, 0, 0, "x/ y");
	check_format(&m,
		     H "f 0644 0 0 \\040lead space\n"
		       "f 0644 0 0 a b  trailing \n"
		       "f 0644 0 0 back\\134slash\n"
		       "f 0644 0 0 cr\\015\\001\\037\n"
		       "f 0644 0 0 del\\177\n"
		       "f 0644 0 0 new\\012line\n"
		       "f 0644 0 0 tab\\011here\n"
		       "f 0644 0 0 utf8/\xc3\xa9\xe2\x82\xac\xff\n"
		       "f 0644 0 0 x/ y\n",
		     "escapes");

	/* and back: the decoded paths are the originals */
	ret = meta_format(&m, &out, &len);
	CHECK_INT(ret, 0);
	meta_init(&m2);
	ret = meta_parse(&m2, out, len, err, sizeof(err));
	CHECK_MSG(ret == 0, "parse escapes (%s)", ret ? err : "ok");
	CHECK_INT(m2.n, 9);
	e = meta_get(&m2, "new\nline");
	CHECK(e != NULL);
	CHECK(meta_get(&m2, " lead space") != NULL);
	CHECK(meta_get(&m2, "back\\slash") != NULL);
	CHECK(meta_get(&m2, "del\x7f") != NULL);
	CHECK(meta_get(&m2, "tab\there") != NULL);
	CHECK(meta_get(&m2, "a b  trailing ") != NULL);
	CHECK(meta_get(&m2, "utf8/\xc3\xa9\xe2\x82\xac\xff") != NULL);
	free(out);
	meta_free(&m2);
	meta_free(&m);
}

static void test_roundtrips(void)
{
	ROUNDTRIP(H);
	ROUNDTRIP(H "d 0755 0 0 nginx\n");
	ROUNDTRIP(H "d 0755 0 0 env\n"
		    "f 0600 0 33 env/whisperx/.env\n"
		    "d 0755 0 0 nginx\n"
		    "l 0777 0 0 nginx/sites-enabled/clemence.conf\n");
	ROUNDTRIP(H "f 7777 4294967294 4294967294 a\n"
		    "f 0000 1 10 b\n");
	ROUNDTRIP(H "f 0644 0 0 \\040\n"
		    "f 0644 0 0 a \n"
		    "f 0644 0 0 b\\011\\134\\177\n"
		    "f 0644 0 0 \xe2\x82\xac\n");
	ROUNDTRIP(H "f 0644 0 0 ...\n"
		    "f 0644 0 0 .a/..b\n");
}

static void test_rejects(void)
{
	/* header */
	REJECT("", "line 1: missing header");
	REJECT("# statefs-meta 2\n", "line 1: bad header '# statefs-meta 2'");
	REJECT("# statefs-meta 1 \n", "line 1: bad header");
	REJECT("d 0755 0 0 nginx\n", "line 1: bad header");
	REJECT("# statefs-meta 1", "line 1: missing newline");
	REJECT("\n" H, "line 1: bad header ''");
	REJECT("# statefs-meta 1\r\n", "line 1: bad header '# statefs-meta 1\\015'");

	/* type */
	REJECT(H "x 0755 0 0 nginx\n", "line 2: bad type 'x'");
	REJECT(H "d 0755 0 0 a\nF 0644 0 0 b\n", "line 3: bad type 'F'");
	REJECT(H "dd 0755 0 0 nginx\n", "line 2: bad type 'dd'");
	REJECT(H "\n", "line 2: empty line");
	REJECT(H " d 0755 0 0 nginx\n", "line 2: bad type ''");

	/* mode */
	REJECT(H "d 0755 0 0 a\nd 0755 0 0 b\nf 999 0 0 c\n", "line 4: bad mode '999'");
	REJECT(H "f 999 0 0 c\n", "line 2: bad mode '999'");
	REJECT(H "f 755 0 0 c\n", "line 2: bad mode '755'");
	REJECT(H "f 00755 0 0 c\n", "line 2: bad mode '00755'");
	REJECT(H "f 0758 0 0 c\n", "line 2: bad mode '0758'");
	REJECT(H "f 17777 0 0 c\n", "line 2: bad mode '17777'");
	REJECT(H "f -755 0 0 c\n", "line 2: bad mode '-755'");
	REJECT(H "f\n", "line 2: missing mode");
	REJECT(H "f  0644 0 0 c\n", "line 2: bad mode ''");

	/* uid, gid */
	REJECT(H "f 0644 x 0 c\n", "line 2: bad uid 'x'");
	REJECT(H "f 0644 4294967295 0 c\n", "line 2: bad uid '4294967295'");
	REJECT(H "f 0644 99999999999 0 c\n", "line 2: bad uid '99999999999'");
	REJECT(H "f 0644 -1 0 c\n", "line 2: bad uid '-1'");
	REJECT(H "f 0644 +1 0 c\n", "line 2: bad uid '+1'");
	REJECT(H "f 0644 01 0 c\n", "line 2: bad uid '01'");
	REJECT(H "f 0644 0 4294967295 c\n", "line 2: bad gid '4294967295'");
	REJECT(H "f 0644 0 0x1 c\n", "line 2: bad gid '0x1'");
	REJECT(H "f 0644 0 00 c\n", "line 2: bad gid '00'");
	REJECT(H "f 0644\n", "line 2: missing uid");
	REJECT(H "f 0644 0\n", "line 2: missing gid");
	REJECT(H "f 0644 0 0\n", "line 2: missing path");
	REJECT(H "f 0644 0  0 c\n", "line 2: bad gid ''");

	/* path */
	REJECT(H "f 0644 0 0 \n", "line 2: empty path");
	REJECT(H "f 0644 0 0 /etc\n", "line 2: bad path '/etc': leading '/'");
	REJECT(H "f 0644 0 0 etc/\n", "line 2: bad path 'etc/': trailing '/'");
	REJECT(H "f 0644 0 0 a//b\n", "line 2: bad path 'a//b': empty component");
	REJECT(H "f 0644 0 0 .\n", "line 2: bad path '.': '.' component");
	REJECT(H "f 0644 0 0 a/./b\n", "line 2: bad path 'a/./b': '.' component");
	REJECT(H "f 0644 0 0 ..\n", "line 2: bad path '..': '..' component");
	REJECT(H "f 0644 0 0 a/../b\n", "line 2: bad path 'a/../b': '..' component");
	REJECT(H "f 0644 0 0 a/..\n", "line 2: bad path 'a/..': '..' component");
	REJECT(H "f 0644 0 0 /\n", "line 2: bad path '/'");

	/* NUL bytes, raw or escaped */
	REJECT(H "f 0644 0 0 a\0b\n", "line 2: NUL byte");
	REJECT(H "d 0755 0 0 a\nf 0644 0 0 b\n\0", "line 4: NUL byte");
	REJECT("# statefs\0-meta 1\n", "line 1: NUL byte");
	REJECT(H "f 0644 0 0 a\\000b\n", "line 2: NUL byte");

	/* escapes */
	REJECT(H "f 0644 0 0 a\\b\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 a\\01\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 a\\\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 a\\400\n", "line 2: bad escape '\\134400'");
	REJECT(H "f 0644 0 0 a\\018\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 a\\141\n", "line 2: bad escape '\\134141' in path: byte needs none");
	REJECT(H "f 0644 0 0 a\\040\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 a\\057b\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0 \\303\\251\n", "line 2: bad escape");
	REJECT(H "f 0644 0 0  lead\n", "line 2: bad path: byte 0x20 must be escaped");
	REJECT(H "f 0644 0 0 tab\there\n", "line 2: bad path: byte 0x09 must be escaped");
	REJECT(H "f 0644 0 0 del\x7f\n", "line 2: bad path: byte 0x7f must be escaped");
	REJECT(H "f 0644 0 0 crlf\r\n", "line 2: bad path: byte 0x0d must be escaped");

	/* order */
	REJECT(H "f 0644 0 0 b\nf 0644 0 0 a\n", "line 3: unsorted path 'a' (after 'b')");
	REJECT(H "f 0644 0 0 a\nf 0644 0 0 b\nd 0755 0 0 b\n", "line 4: duplicate path 'b'");
	REJECT(H "f 0644 0 0 nginx/a\nf 0644 0 0 nginx-a\n", "line 3: unsorted path 'nginx-a'");
	REJECT(H "f 0644 0 0 \xc3\xa9\nf 0644 0 0 z\n", "line 3: unsorted path 'z'");
	/* order is on decoded bytes: "\011" (tab) sorts before "a" */
	REJECT(H "f 0644 0 0 a\nf 0644 0 0 \\011\n", "line 3: unsorted path '\\011'");

	/* final newline */
	REJECT(H "f 0644 0 0 a", "line 2: missing newline at end of file");
	REJECT(H "f 0644 0 0 a\nf 0644 0 0 b", "line 3: missing newline");

	/* a message never carries raw control bytes, and is cut short for long fields */
	{
		struct meta m;
		char in[600], err[256];
		size_t i;
		int ret, clean = 1;

		memset(in, 'x', sizeof(in));
		memcpy(in, H "f 0644 0 0 \\001", strlen(H "f 0644 0 0 \\001"));
		memcpy(in + sizeof(in) - 4, "//y\n", 4);
		meta_init(&m);
		ret = meta_parse(&m, in, sizeof(in), err, sizeof(err));
		CHECK_INT(ret, -EINVAL);
		for (i = 0; err[i]; i++)
			clean &= (unsigned char)err[i] >= 0x20 && (unsigned char)err[i] < 0x7f;
		CHECK_MSG(clean && strlen(err) < 120 && strstr(err, "line 2: bad path '\\001xxx") &&
			      strstr(err, "...': empty component"),
			  "short printable message: %s", err);
		/* a tiny or absent err buffer is fine */
		CHECK_INT(meta_parse(&m, "x", 1, err, 1), -EINVAL);
		CHECK_INT(err[0], '\0');
		CHECK_INT(meta_parse(&m, "x", 1, NULL, 0), -EINVAL);
		CHECK_INT(meta_parse(&m, NULL, 0, NULL, 0), -EINVAL);
		meta_free(&m);
	}
}

static void test_many(void)
{
	enum { N = 10000 };
	struct meta m, m2;
	char path[64], err[256], *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0, i, k, sorted = 1;
	int ret, bad = 0;

	meta_init(&m);
	/* insert in a scrambled order: i * 7919 mod N visits every i once */
	for (i = 0; i < N; i++) {
		k = (i * 7919) % N;
		snprintf(path, sizeof(path), "srv/site%zu/conf.d/%05zu.conf", k % 37, k);
		bad += meta_set(&m, 'f', 0644, (uid_t)k, 33, path) != 0;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(m.n, N);
	for (i = 1; i < m.n; i++)
		sorted &= strcmp(m.v[i - 1].path, m.v[i].path) < 0;
	CHECK(sorted);
	bad = 0;
	for (k = 0; k < N; k++) {
		const struct meta_entry *e;

		snprintf(path, sizeof(path), "srv/site%zu/conf.d/%05zu.conf", k % 37, k);
		e = meta_get(&m, path);
		bad += !e || e->uid != (uid_t)k;
	}
	CHECK_INT(bad, 0);

	ret = meta_format(&m, &out, &len);
	CHECK_INT(ret, 0);
	meta_init(&m2);
	ret = meta_parse(&m2, out, len, err, sizeof(err));
	CHECK_MSG(ret == 0, "parse 10000 entries (%s)", ret ? err : "ok");
	CHECK_INT(m2.n, N);
	ret = meta_format(&m2, &out2, &len2);
	CHECK(ret == 0 && len2 == len && memcmp(out, out2, len) == 0);
	free(out2);
	meta_free(&m2);

	/* site0 holds every k with k % 37 == 0 */
	CHECK_INT(meta_remove(&m, "srv/site0", 1), (N + 36) / 37);
	CHECK_INT(meta_remove(&m, "srv", 1), N - (N + 36) / 37);
	CHECK_INT(m.n, 0);
	free(out);
	meta_free(&m);
}

int main(void)
{
	test_set_get();
	test_order();
	test_remove();
	test_escapes();
	test_roundtrips();
	test_rejects();
	test_many();
	UNIT_DONE();
}
