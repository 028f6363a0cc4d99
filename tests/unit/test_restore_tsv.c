/*
 * test_restore_tsv.c - a statefs dump's INSERTs as LOAD DATA lines (restore/tsv.h): which
 * tables and statements are taken, what the lines hold, and that anything outside the known
 * shape is left to the INSERT.
 */
#include "restore/tsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

static const char create_t[] = "CREATE TABLE `t` (\n"
			       "  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n"
			       "  `s` varchar(20) DEFAULT NULL,\n"
			       "  `b` blob DEFAULT NULL,\n"
			       "  `d` double DEFAULT NULL,\n"
			       "  `e` enum('0','a') DEFAULT NULL,\n"
			       "  `g` int(11) GENERATED ALWAYS AS (`id` + 1) VIRTUAL,\n"
			       "  `w``q` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',\n"
			       "  PRIMARY KEY (`id`),\n"
			       "  UNIQUE KEY `s` (`s`),\n"
			       "  KEY `d` (`d`)\n"
			       ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";

static const char head_t[] = "INSERT INTO `t` (`id`,`s`,`b`,`d`,`e`,`w``q`) VALUES\n";

static struct tsv_cols *cols_of(const char *sql)
{
	return restore_tsv_cols(sql, strlen(sql));
}

/* The lines for one INSERT on `t`, or NULL when it is not in the shape. */
static char *lines(const struct tsv_cols *c, const char *sql, uint64_t *rows)
{
	unsigned char kinds[256];
	struct tsv_buf b = {0};
	size_t head, n = 0;
	char *out;
	int rc;

	*rows = 0;
	head = restore_tsv_head(c, sql, strlen(sql), kinds, &n);
	if (!head)
		return NULL;
	rc = restore_tsv_rows(sql, strlen(sql), head, kinds, n, &b, rows);
	if (rc != 1) {
		CHECK_MSG(b.len == 0, "a refused statement leaves the buffer as it was");
		restore_tsv_buf_free(&b);
		return NULL;
	}
	out = strndup(b.p, b.len);
	restore_tsv_buf_free(&b);
	return out;
}

#define TAKEN(sql, want, nrows)                                                                   \
	do {                                                                                       \
		uint64_t r_;                                                                       \
		char *l_ = lines(c, sql, &r_);                                                     \
		CHECK_MSG(l_ && !strcmp(l_, want) && r_ == (nrows), "%s -> [%s] (got [%s], %llu)", \
			  sql, want, l_ ? l_ : "(refused)", (unsigned long long)r_);               \
		free(l_);                                                                          \
	} while (0)

#define REFUSED(sql)                                                                               \
	do {                                                                                       \
		uint64_t r_;                                                                       \
		char *l_ = lines(c, sql, &r_);                                                     \
		CHECK_MSG(!l_, "refused: %s (got [%s])", sql, l_ ? l_ : "");                       \
		free(l_);                                                                          \
	} while (0)

static void test_tables(void)
{
	struct tsv_cols *c = cols_of(create_t);
	static const char *const refused[] = {
	    "CREATE TABLE `a` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=Aria",
	    "CREATE TABLE `a` (\n  `id` int(11) NOT NULL,\n  `f` bit(3) DEFAULT NULL\n"
	    ") ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `y` year(4) DEFAULT NULL\n) ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `p` point NOT NULL\n) ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin "
	    "DEFAULT NULL CHECK (json_valid(`j`))\n) ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `i` int(11) DEFAULT NULL,\n  CONSTRAINT `c` CHECK (`i` > 0)\n"
	    ") ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `i` int(11) DEFAULT NULL,\n  FULLTEXT KEY `f` (`i`)\n"
	    ") ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `i` int(11) NOT NULL,\n  PRIMARY KEY (`i`)\n) ENGINE=InnoDB\n"
	    " PARTITION BY HASH (`i`)\nPARTITIONS 2",
	    "CREATE TABLE `a` (\n  `i` int(11) DEFAULT NULL\n) ENGINE=InnoDB WITH SYSTEM "
	    "VERSIONING",
	    "CREATE TABLE `a` (\n  `i` inet6 DEFAULT NULL\n) ENGINE=InnoDB",
	    "CREATE TABLE `a` (\n  `i` int(11) DEFAULT NULL,\n  KEY `k` (`i`),\n  CONSTRAINT `f` "
	    "FOREIGN KEY (`i`) REFERENCES `b` (`i`)\n) ENGINE=InnoDB",
	    "CREATE SEQUENCE `s` start with 1 ENGINE=InnoDB",
	};
	size_t i;

	CHECK(c != NULL);
	CHECK(c && restore_tsv_ncols(c) == 7);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct tsv_cols *x = cols_of(refused[i]);

		CHECK_MSG(!x, "left to INSERT: %.60s", refused[i]);
		restore_tsv_cols_free(x);
	}
	restore_tsv_cols_free(c);
}

static void test_heads(void)
{
	struct tsv_cols *c = cols_of(create_t);
	unsigned char k[256];
	size_t n = 0;
	char sql[512];

	snprintf(sql, sizeof(sql), "%s(1,'a',NULL,1,'a','2020-01-01 00:00:00')", head_t);
	CHECK(restore_tsv_head(c, sql, strlen(sql), k, &n) == strlen(head_t) && n == 6);
	CHECK(k[0] == TSV_NUM && k[1] == TSV_STR && k[2] == TSV_BIN && k[3] == TSV_NUM &&
	      k[4] == TSV_STR && k[5] == TSV_STR);
#define NOHEAD(s) CHECK_MSG(!restore_tsv_head(c, s, strlen(s), k, &n), "no head: %s", s)
	NOHEAD("INSERT INTO `t` VALUES (1,'a',NULL,1,'a','x')");
	NOHEAD("INSERT INTO `t` (`id`,`g`) VALUES\n(1,2)");	   /* generated */
	NOHEAD("INSERT INTO `t` (`id`,`id`) VALUES\n(1,2)");   /* twice */
	NOHEAD("INSERT INTO `t` (`id`,`nope`) VALUES\n(1,2)"); /* unknown */
	NOHEAD("INSERT INTO `t` (`id`) VALUES (1)");
	NOHEAD("REPLACE INTO `t` (`id`) VALUES\n(1)");
	NOHEAD("INSERT INTO t (`id`) VALUES\n(1)");
	NOHEAD("INSERT INTO `t` (`id` VALUES\n(1)");
#undef NOHEAD
	restore_tsv_cols_free(c);
}

static void test_values(void)
{
	struct tsv_cols *c = cols_of(create_t);
	char sql[1024], want[512];

#define ROW(vals) (snprintf(sql, sizeof(sql), "%s(%s)", head_t, vals), sql)
	TAKEN(ROW("1,'a',NULL,1.5,'a','2020-01-01 00:00:00'"),
	      "1\ta\t\\N\t1.5\ta\t2020-01-01 00:00:00\n", 1);
	/*
	 * mysql_real_escape_string's escapes, kept (LOAD DATA reads them as the same bytes); a raw
	 * tab, newline or NUL escaped; bytes of hex escaped where needed
	 */
	TAKEN(ROW("2,'x\\0y\\n\\r\\\\\\'\\\"\\Z\tz',0x00095C0A41,-1.7976931348623157e308,'','N'"),
	      "2\tx\\0y\\n\\r\\\\\\'\\\"\\Z\\tz\t\\0\\t\\\\\\nA\t-1.7976931348623157e308\t\tN\n", 1);
	TAKEN(ROW("4,'a\nb\tc',NULL,NULL,NULL,'x'"), "4\ta\\nb\\tc\t\\N\t\\N\t\\N\tx\n", 1);
	/* a string that reads \N is not NULL; '' and an empty blob are empty */
	TAKEN(ROW("3,'\\\\N','',1e-300,NULL,'0000-00-00 00:00:00'"),
	      "3\t\\\\N\t\t1e-300\t\\N\t0000-00-00 00:00:00\n", 1);
	snprintf(sql, sizeof(sql), "%s(1,NULL,NULL,NULL,NULL,'x'),\n(2,NULL,NULL,-0.5,NULL,'y')",
		 head_t);
	snprintf(want, sizeof(want), "1\t\\N\t\\N\t\\N\t\\N\tx\n2\t\\N\t\\N\t-0.5\t\\N\ty\n");
	TAKEN(sql, want, 2);
	/* a quoted value into a numeric column is stored as a string both ways */
	TAKEN(ROW("'7','a',NULL,'',NULL,'x'"), "7\ta\t\\N\t\t\\N\tx\n", 1);

	REFUSED(ROW("1,'a',NULL,1,0,'x'"));	      /* an ENUM's unquoted 0 */
	REFUSED(ROW("1,'a',NULL,-0,'a','x'"));	      /* a negative zero */
	REFUSED(ROW("1,'a',NULL,-0.0e5,'a','x'"));     /* a negative zero */
	REFUSED(ROW("1,1,NULL,1,'a','x'"));	      /* a number into a string */
	REFUSED(ROW("1,0x41,NULL,1,'a','x'"));	      /* hex into a string */
	REFUSED(ROW("0x01,'a',NULL,1,'a','x'"));       /* hex into a number */
	REFUSED(ROW("1,'a',0x4,1,'a','x'"));	      /* odd hex */
	REFUSED(ROW("1,'a''b',NULL,1,'a','x'"));       /* a doubled quote: not ours */
	REFUSED(ROW("1,'a\\%',NULL,1,'a','x'"));       /* an escape we do not write */
	REFUSED(ROW("1,'a',NULL,1,'a'"));	      /* a value missing */
	REFUSED(ROW("1,'a',NULL,1,'a','x',3"));	      /* one too many */
	REFUSED(ROW("1,'a',NULL,1.,'a','x'"));	      /* not a number */
	REFUSED(ROW("1,'a',NULL,1e,'a','x'"));	      /* not a number */
	REFUSED(ROW("1,'a',NULL,1+1,'a','x'"));	      /* an expression */
	REFUSED(ROW("1,'a',NULL,@v,'a','x'"));	      /* a variable */
	REFUSED(ROW("1,'a',NULL,NULLIF(1,1),'a','x'")); /* a function */
	REFUSED(ROW("1 ,'a',NULL,1,'a','x'"));	      /* not our spacing */
	REFUSED(ROW("1,'a',NULL,1,'a','unterminated"));
	snprintf(sql, sizeof(sql), "%s(1,NULL,NULL,NULL,NULL,'x'),(2,NULL,NULL,1,NULL,'y')",
		 head_t);
	REFUSED(sql); /* rows not on lines of their own */
	snprintf(sql, sizeof(sql), "%s(1,NULL,NULL,NULL,NULL,'x') ON DUPLICATE KEY UPDATE d=1",
		 head_t);
	REFUSED(sql);
#undef ROW
	restore_tsv_cols_free(c);
}

static void test_load_sql(void)
{
	static const char head[] = "INSERT INTO `we``ird (``x` (`a`,`b``c`) VALUES\n";
	struct tsv_buf b = {0};

	CHECK(restore_tsv_load_sql(head, strlen(head), "f", &b) == 0);
	CHECK_STR(b.p, "LOAD DATA LOCAL INFILE 'f' INTO TABLE `we``ird (``x` CHARACTER SET utf8mb4 "
		       "FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES "
		       "STARTING BY '' TERMINATED BY '\\n' (`a`,`b``c`)");
	restore_tsv_buf_free(&b);
}

int main(void)
{
	test_tables();
	test_heads();
	test_values();
	test_load_sql();
	UNIT_DONE();
}
