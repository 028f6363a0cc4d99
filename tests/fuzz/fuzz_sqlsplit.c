/*
 * fuzz_sqlsplit.c - the statement splitter on any bytes: it never crashes; fed whole or in
 * random-sized pieces it returns the same statements (text, numbers, lines) and the same end;
 * every statement is non-empty, NUL-terminated, starts with no white space and fits the limit;
 * its memory stays within twice the limit plus a slice. Each statement then goes through the
 * tokenizer (which must move forward and stay in bounds) and the classifier (restore/stmt.h),
 * whose head-only classification and later check must give its whole answer.
 * The limit and the pieces are drawn from a hash of the input, so seeds are plain SQL.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "restore/sqlsplit.h"
#include "restore/stmt.h"

struct sum {
	uint64_t hash, count, last_line;
	size_t max;
	const struct sqlsplit *s;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

static void check_tokens(const char *sql, size_t len)
{
	static const char *const others[] = {"mysql", "other"};
	struct restore_guard g = {"live", others, 2, 101106};
	struct restore_stmt st, head;
	struct sqlsplit_tok t;
	bool unchecked;
	int rc, rc2;
	size_t pos = 0, prev;
	char name[RESTORE_NAME_MAX], err[256];

	for (;;) {
		prev = pos;
		if (sqlsplit_token(sql, len, &pos, 101106, &t) == SQLSPLIT_TOK_END)
			break;
		if (pos <= prev || pos > len || t.p < sql || t.p + t.len > sql + len || !t.len)
			abort();
		if (!sqlsplit_tok_name(&t, name, sizeof(name)) && strlen(name) >= sizeof(name))
			abort();
	}
	rc = restore_stmt_classify(sql, len, &g, &st, err, sizeof(err));
	if (!rc && strlen(st.name) >= sizeof(st.name))
		abort();
	/* the head, then the check it leaves out, give the same answer */
	rc2 = restore_stmt_classify_head(sql, len, &g, &head, &unchecked, err, sizeof(err));
	if (!rc2 && unchecked)
		rc2 = restore_stmt_check(sql, len, &g, err, sizeof(err));
	if (rc != rc2 || (!rc && (st.kind != head.kind || strcmp(st.name, head.name))))
		abort();
}

static int on_stmt(void *arg, const struct sqlsplit_stmt *st)
{
	struct sum *s = arg;
	unsigned char c = st->len ? (unsigned char)st->sql[0] : ' ';

	if (!st->len || st->len > s->max || st->sql[st->len] != '\0' || c == ' ' || c == '\n' ||
	    c == '\t' || c == '\r' || st->number != s->count + 1 || st->line < s->last_line)
		abort();
	if (sqlsplit_memory(s->s) > 2 * (s->max + 2 * SQLSPLIT_SLICE + SQLSPLIT_LINE_MAX))
		abort();
	s->count++;
	s->last_line = st->line;
	s->hash = fnv(s->hash, &st->len, sizeof(st->len));
	s->hash = fnv(s->hash, &st->line, sizeof(st->line));
	s->hash = fnv(s->hash, st->sql, st->len);
	check_tokens(st->sql, st->len);
	return 0;
}

/* Split @data in pieces: 0 = all at once, else sizes from the generator seeded with @seed. */
static int run(const uint8_t *data, size_t size, size_t max, uint64_t seed, struct sum *out)
{
	struct sqlsplit *s = sqlsplit_new(max);
	char err[256];
	size_t off = 0, k;
	int rc = 0;

	if (!s)
		return -1;
	*out = (struct sum){.hash = 0xcbf29ce484222325ull, .max = max, .s = s};
	while (!rc && off < size) {
		if (seed) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			k = 1 + (size_t)(seed >> 33) % 97;
			k = k < size - off ? k : size - off;
		} else {
			k = size - off;
		}
		rc = sqlsplit_feed(s, data + off, k, on_stmt, out, err, sizeof(err));
		off += k;
	}
	if (!rc)
		rc = sqlsplit_end(s, on_stmt, out, err, sizeof(err));
	if (rc && !err[0])
		abort(); /* every error has a message */
	sqlsplit_free(s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, data, size);
	size_t max = 16 + (size_t)(h % 4096);
	struct sum whole, pieces;
	int rc1, rc2;

	rc1 = run(data, size, max, 0, &whole);
	rc2 = run(data, size, max, h | 1, &pieces);
	if (rc1 != rc2 || whole.count != pieces.count || whole.hash != pieces.hash)
		abort();
	return 0;
}
