/*
 * test_dump_esc.c - the dumper's string quoting (dbuf_str, snapshot/dump_buf.c) gives exactly
 * what mysql_real_escape_string() gives, on every byte value, in runs and alone.
 */
#include "snapshot/dump_int.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the library alone makes of @s: the reference. */
static size_t reference(MYSQL *m, const char *s, size_t n, char *out)
{
	unsigned long k;

	out[0] = '\'';
	k = mysql_real_escape_string(m, out + 1, s, (unsigned long)n);
	out[1 + k] = '\'';
	return k + 2;
}

static int same(MYSQL *m, const char *s, size_t n)
{
	struct dbuf b = {0};
	char *want = malloc(2 * n + 3);
	size_t k = reference(m, s, n, want);
	int ok = !dbuf_str(&b, m, s, n) && b.len == k && !memcmp(b.p, want, k);

	free(want);
	dbuf_free(&b);
	return ok;
}

static void test_every_byte(MYSQL *m)
{
	char s[3] = "a?b";

	for (int c = 0; c < 256; c++) {
		s[1] = (char)c;
		CHECK_MSG(same(m, s + 1, 1), "byte %d alone", c);
		CHECK_MSG(same(m, s, 3), "byte %d inside a run", c);
	}
}

static void test_random_strings(MYSQL *m)
{
	/* Text-like strings with UTF-8 sequences (2 to 4 bytes) and every special byte. */
	static const char *parts[] = {"post ", "\n", "\r\n", "'", "\"", "\\", "\x1a", "é", "€",
				      "😀", "<p class=\"x\">", "\xff", "\xc3", " ", "\0"};
	unsigned seed = 7, bad = 0;

	for (int t = 0; t < 20000; t++) {
		char s[512];
		size_t n = 0;

		while (n < 400) {
			const char *p;
			size_t k;

			seed = seed * 1103515245u + 12345u;
			p = parts[(seed >> 16) % (sizeof(parts) / sizeof(*parts))];
			k = *p ? strlen(p) : 1;
			memcpy(s + n, p, k);
			n += k;
		}
		bad += !same(m, s, n);
	}
	CHECK_MSG(!bad, "%u random strings differ from the library's escaping", bad);
}

static void test_empty(MYSQL *m)
{
	struct dbuf b = {0};

	CHECK(!dbuf_str(&b, m, "", 0));
	CHECK_STR(b.p, "''");
	dbuf_free(&b);
}

int main(void)
{
	MYSQL *m = mysql_init(NULL);

	CHECK(m != NULL);
	if (!m)
		UNIT_DONE();
	CHECK_MSG(dbuf_ascii_safe(m), "the default character set is ASCII-safe");
	test_every_byte(m);
	test_random_strings(m);
	test_empty(m);
	mysql_close(m);
	UNIT_DONE();
}
