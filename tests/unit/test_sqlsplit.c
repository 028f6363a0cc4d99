/*
 * test_sqlsplit.c - the statement splitter and the tokenizer: quotes, comments, executable
 * comments, DELIMITER, lines, limits, truncation, and the same statements whatever the pieces.
 */
#include "restore/sqlsplit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#define MAXST 256

struct got {
	char *sql[MAXST];
	unsigned long long line[MAXST];
	size_t n;
	int stop_at; /* return 99 at this statement number, 0 = never */
};

static int collect(void *arg, const struct sqlsplit_stmt *st)
{
	struct got *g = arg;

	if (g->n < MAXST) {
		g->sql[g->n] = strndup(st->sql, st->len);
		g->line[g->n] = st->line;
		g->n++;
	}
	if (st->sql[st->len] != '\0')
		return 98;
	return g->stop_at && (int)st->number == g->stop_at ? 99 : 0;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->sql[i]);
	memset(g, 0, sizeof(*g));
}

/* Split @in fed in pieces of @piece bytes (0 = all at once); returns the end's rc. */
static int split(const char *in, size_t len, size_t piece, size_t max, struct got *g, char *err)
{
	struct sqlsplit *s = sqlsplit_new(max ? max : 1u << 20);
	size_t off = 0, k;
	int rc = 0;

	err[0] = '\0';
	while (!rc && off < len) {
		k = piece && len - off > piece ? piece : len - off;
		rc = sqlsplit_feed(s, in + off, k, collect, g, err, 256);
		off += k;
	}
	if (!rc)
		rc = sqlsplit_end(s, collect, g, err, 256);
	sqlsplit_free(s);
	return rc;
}

static int split_str(const char *in, struct got *g, char *err)
{
	return split(in, strlen(in), 0, 0, g, err);
}

/* The statements of @in joined with '|', checked fed whole and one byte at a time. */
static char *joined(const char *in, int *rc_out)
{
	static char out[8192];
	struct got g = {0}, h = {0};
	char err[256];
	int rc, rc1;
	size_t i;

	out[0] = '\0';
	rc = split_str(in, &g, err);
	rc1 = split(in, strlen(in), 1, 0, &h, err);
	if (rc1 != rc || g.n != h.n)
		strcpy(out, "<differs by piece>");
	for (i = 0; i < g.n && !strcmp(out, ""); i++)
		if (strcmp(g.sql[i], h.sql[i]) || g.line[i] != h.line[i])
			strcpy(out, "<differs by piece>");
	for (i = 0; i < g.n && strcmp(out, "<differs by piece>"); i++) {
		strcat(out, g.sql[i]);
		if (i + 1 < g.n)
			strcat(out, "|");
	}
	got_free(&g);
	got_free(&h);
	*rc_out = rc;
	return out;
}

#define SPLITS_TO(in, want)                                                                        \
	do {                                                                                       \
		int rc_;                                                                           \
		const char *o_ = joined(in, &rc_);                                                 \
		CHECK_MSG(rc_ == 0 && !strcmp(o_, want), "split %s -> %s (got %s, rc %d)", #in,    \
			  want, o_, rc_);                                                          \
	} while (0)

static void test_basics(void)
{
	SPLITS_TO("SELECT 1; SELECT 2;", "SELECT 1|SELECT 2");
	SPLITS_TO("  \n\nSELECT 1  \n ;\n", "SELECT 1");
	SPLITS_TO(";;; SELECT 1;;", "SELECT 1");
	SPLITS_TO("", "");
	SPLITS_TO("-- only a comment", "");
	SPLITS_TO("INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);",
		  "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)");
	SPLITS_TO("SELECT 'it\\'s;', 'it''s;', 'x\\\\';SELECT 2;",
		  "SELECT 'it\\'s;', 'it''s;', 'x\\\\'|SELECT 2");
	SPLITS_TO("SELECT \"a\\\";\";", "SELECT \"a\\\";\"");
	SPLITS_TO("SELECT `a\\`;`x`;", "SELECT `a\\`|`x`"); /* no escapes in backticks: cut */
}

static void test_comments(void)
{
	SPLITS_TO("-- c;\nSELECT 1;", "SELECT 1");
	SPLITS_TO("# c;\nSELECT 1;", "SELECT 1");
	SPLITS_TO("/* c; */ SELECT 1;", "SELECT 1");
	SPLITS_TO("SELECT 1--1;", "SELECT 1--1");
	SPLITS_TO("SELECT 1 -- x;\n;", "SELECT 1 -- x;");
	SPLITS_TO("SELECT 1 #x;\n+2;", "SELECT 1 #x;\n+2");
	SPLITS_TO("SELECT /* ; */ 1;", "SELECT /* ; */ 1");
	SPLITS_TO("SELECT 2*/3;", "SELECT 2*/3");
	SPLITS_TO("/*!40101 SET x=1 */;", "/*!40101 SET x=1 */");
	SPLITS_TO("/*M!100108 SET x=1 */;\n/*M SET */ SELECT 1;", "/*M!100108 SET x=1 */|SELECT 1");
	SPLITS_TO("/*!40101 SET a=1; */;", "/*!40101 SET a=1|*/"); /* as the client cuts it */
	SPLITS_TO("--\nSELECT 1;", "SELECT 1");
	SPLITS_TO("SELECT 1;--", "SELECT 1");
}

static void test_delimiter(void)
{
	SPLITS_TO("DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;;\n"
		  "DELIMITER ;\nSELECT 3;",
		  "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END|SELECT 3");
	SPLITS_TO("delimiter $$\nSELECT 1$$ SELECT '$$'$$\nDelimiter ;\n", "SELECT 1|SELECT '$$'");
	SPLITS_TO("DELIMITER //\nSELECT 1//\n-- x //\nSELECT 2 // DELIMITER ;\nSELECT 3;",
		  "SELECT 1|SELECT 2|SELECT 3");
	SPLITS_TO("DELIMITER ;;\r\nSELECT 1;;\r\nDELIMITER ;\r\n", "SELECT 1");
	SPLITS_TO("DELIMITER ';;' extra\nSELECT 1;;", "SELECT 1");
	SPLITS_TO("SELECT 'x;;\nDELIMITER ;\n;;';", "SELECT 'x;;\nDELIMITER ;\n;;'");
	SPLITS_TO("DELIMITERX;", "DELIMITERX");
	SPLITS_TO("SELECT 1;\nDELIMITER ;;\nSELECT 2;\nSELECT 3;;", "SELECT 1|SELECT 2;\nSELECT 3");
	SPLITS_TO("DELIMITER ;;;;;;;;;;;;\nSELECT ';;'x;;;;;;;;;;;;", "SELECT ';;'x");
}

static void test_errors(void)
{
	struct got g = {0};
	char err[256];
	int rc;

	rc = split_str("DELIMITER \nSELECT 1;", &g, err);
	CHECK_MSG(rc == -EINVAL && strstr(err, "line 1"), "DELIMITER without one: %d %s", rc, err);
	got_free(&g);
	rc = split_str("SELECT 1;\nDELIMITER a\\b\n", &g, err);
	CHECK_MSG(rc == -EINVAL && strstr(err, "line 2"), "DELIMITER with a backslash: %s", err);
	got_free(&g);
	rc = split_str("DELIMITER 0123456789abcdef\n", &g, err);
	CHECK_MSG(rc == -EINVAL, "DELIMITER too long: %s", err);
	got_free(&g);
	rc = split_str("DELIMITER", &g, err);
	CHECK_MSG(rc == -EINVAL, "DELIMITER at the end: %s", err);
	got_free(&g);

	rc = split_str("SELECT 1;\nSELECT 2", &g, err);
	CHECK_MSG(rc == -EPIPE && g.n == 1 && strstr(err, "statement 2 (line 2)"),
		  "cut mid-statement: %d %s", rc, err);
	got_free(&g);
	rc = split_str("SELECT 'abc;", &g, err);
	CHECK_MSG(rc == -EPIPE && strstr(err, "string"), "cut in a string: %s", err);
	got_free(&g);
	rc = split_str("SELECT 1; /* abc", &g, err);
	CHECK_MSG(rc == -EPIPE && strstr(err, "comment"), "cut in a comment: %s", err);
	got_free(&g);
	rc = split_str("SELECT 1 /* x */", &g, err);
	CHECK_MSG(rc == -EPIPE, "no closing delimiter: %s", err);
	got_free(&g);

	rc = split("SELECT 123456789;", 17, 0, 10, &g, err);
	CHECK_MSG(rc == -E2BIG && g.n == 0, "statement over the limit: %d %s", rc, err);
	got_free(&g);
	rc = split("SELECT 12345;", 13, 0, 12, &g, err);
	CHECK_MSG(rc == 0 && g.n == 1, "statement at the limit: %d %s", rc, err);
	got_free(&g);

	g.stop_at = 2;
	rc = split_str("SELECT 1; SELECT 2; SELECT 3;", &g, err);
	CHECK_MSG(rc == 99 && g.n == 2, "the callback's return stops the split (%d, %zu)", rc, g.n);
	got_free(&g);
}

static void test_lines(void)
{
	struct got g = {0};
	char err[256];
	int rc;

	rc = split_str("\n-- c\nSELECT 1;\n\nSELECT\n'a\nb';SELECT 3;\n/* x\n*/\nSELECT 4;", &g,
		       err);
	CHECK(rc == 0 && g.n == 4);
	CHECK(g.line[0] == 3 && g.line[1] == 5 && g.line[2] == 7 && g.line[3] == 10);
	got_free(&g);
}

/* A big input with every construct, fed in pieces of many sizes: the same result each time. */
static void test_pieces(void)
{
	static const char unit[] =
	    "-- Table `t`\nDROP TABLE IF EXISTS `t`;\n/*!40101 SET @a=1 */;\n"
	    "INSERT INTO `t` VALUES (1,'a;b\\'c','x''y',\"q;\"),(2,0x00,NULL);\n"
	    "DELIMITER ;;\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN\n"
	    "  SET NEW.a = 1; -- ;; in a comment\n  SET NEW.b = ';;'; /* ;; */\nEND;;\n"
	    "DELIMITER ;\n# hash;\nSELECT 1--2\n;\n";
	size_t n = 40 * (sizeof(unit) - 1), i, pieces[] = {0, 1, 2, 3, 7, 64, 1000, 65537};
	char *in = malloc(n + 1), err[256];
	struct got ref = {0}, g;
	int rc;

	for (i = 0; i < 40; i++)
		memcpy(in + i * (sizeof(unit) - 1), unit, sizeof(unit) - 1);
	in[n] = '\0';
	rc = split(in, n, 0, 0, &ref, err);
	CHECK_MSG(rc == 0 && ref.n == 200, "the reference split: %d %s (%zu)", rc, err, ref.n);
	for (i = 1; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t j, same = 1;

		memset(&g, 0, sizeof(g));
		rc = split(in, n, pieces[i], 0, &g, err);
		for (j = 0; j < g.n && j < ref.n; j++)
			same &= !strcmp(g.sql[j], ref.sql[j]) && g.line[j] == ref.line[j];
		CHECK_MSG(rc == 0 && same && g.n == ref.n, "pieces of %zu bytes give the same",
			  pieces[i]);
		got_free(&g);
	}
	CHECK_STR(ref.sql[3],
		  "CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN\n"
		  "  SET NEW.a = 1; -- ;; in a comment\n  SET NEW.b = ';;'; /* ;; */\nEND");
	CHECK_STR(ref.sql[4], "SELECT 1--2");
	got_free(&ref);
	free(in);
}

static int count_only(void *arg, const struct sqlsplit_stmt *st)
{
	*(size_t *)arg += st->len;
	return 0;
}

/* A 6 MiB statement in 4 KiB pieces: returned whole, memory about twice its size at most. */
static void test_big(void)
{
	size_t n = 6u << 20, total = 0, i;
	char *in = malloc(n + 64), err[256];
	struct sqlsplit *s = sqlsplit_new(8u << 20);
	int rc = 0;

	memcpy(in, "INSERT INTO b VALUES ('", 23);
	for (i = 23; i < n - 3; i++)
		in[i] = "ab;\\'\n"[i % 3];
	memcpy(in + n - 3, "');", 3);
	for (i = 0; !rc && i < n; i += 4096)
		rc = sqlsplit_feed(s, in + i, n - i < 4096 ? n - i : 4096, count_only, &total, err,
				   sizeof(err));
	rc = rc ?: sqlsplit_end(s, count_only, &total, err, sizeof(err));
	CHECK_MSG(rc == 0 && total == n - 1, "a 6 MiB statement (%d %s, %zu)", rc, err, total);
	CHECK_MSG(sqlsplit_memory(s) <= 2 * (n + 2 * SQLSPLIT_SLICE),
		  "memory stays near the statement's size (%zu)", sqlsplit_memory(s));
	sqlsplit_free(s);
	free(in);
}

static void test_tokens(void)
{
	const char *sql = "CREATE /*!50017 DEFINER=`r``x`@`h`*/ /*!99999 SECRET */ VIEW "
			  "\"an\"\"si\" AS SELECT 'x;y', 1.5e3, @@global.x FROM db.t -- end";
	const char *want[] = {
	    "CREATE",	"DEFINER", "=",	    "`r``x`", "@",  "`h`", "VIEW", "\"an\"\"si\"",
	    "AS",	"SELECT",  "'x;y'", ",",      "1",  ".",   "5e3",  ",",
	    "@@global", ".",	   "x",	    "FROM",   "db", ".",   "t"};
	struct sqlsplit_tok t;
	size_t pos = 0, i = 0, bad = 0;
	char name[64];

	while (sqlsplit_token(sql, strlen(sql), &pos, 50600, &t) != SQLSPLIT_TOK_END) {
		if (i >= sizeof(want) / sizeof(want[0]) || strlen(want[i]) != t.len ||
		    strncmp(want[i], t.p, t.len))
			bad++;
		i++;
	}
	CHECK_MSG(!bad && i == sizeof(want) / sizeof(want[0]), "tokens (%zu bad of %zu)", bad, i);
	pos = 0;
	i = 0;
	while (sqlsplit_token(sql, strlen(sql), &pos, 0, &t) != SQLSPLIT_TOK_END)
		i += sqlsplit_tok_is(&t, "secret");
	CHECK_MSG(i == 1, "version 0 runs every executable comment");

	t = (struct sqlsplit_tok){SQLSPLIT_TOK_IDENT, "`a``b`", 6};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == 0 && !strcmp(name, "a`b"));
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_STRING, "\"q\"\"r\"", 6};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == 0 && !strcmp(name, "q\"r"));
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_STRING, "'s'", 3};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == -EINVAL);
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_WORD, "123", 3};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == -EINVAL);
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_WORD, "abcdef", 6};
	CHECK(sqlsplit_tok_name(&t, name, 4) == -ENAMETOOLONG);
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_IDENT, "`a\0b`", 5};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == -EINVAL);
	t = (struct sqlsplit_tok){SQLSPLIT_TOK_IDENT, "`ab", 3};
	CHECK(sqlsplit_tok_name(&t, name, sizeof(name)) == -EINVAL);
}

int main(void)
{
	test_basics();
	test_comments();
	test_delimiter();
	test_errors();
	test_lines();
	test_pieces();
	test_big();
	test_tokens();
	UNIT_DONE();
}
