/*
 * test_verify_scan.c - the dump scanner `statefs verify` compares a snapshot's dump and the
 * scratch database's re-dump with: rows per table (only the lines of INSERT statements, rows
 * holding "(", "--" and ";" inside strings included), the same digests whatever the pieces the
 * stream comes in (down to one byte), a changed row or definition changing that table's digest
 * only, a changed view changing only the rest's, and the first line (the database's name)
 * ignored. And the scratch database's names.
 */
#include "snapshot/verify.h"
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <string.h>

static const char *const dump_a =
    "-- statefs 0.1.0 dump of database `shop`, server 10.11\n"
    "\n"
    "SET NAMES utf8mb4;\n";
static const char *const part_a1 = /* table a's part, from where the dumper says it begins */
    "\n--\n-- Table `a`\n--\n\n"
    "DROP TABLE IF EXISTS `a`;\n"
    "CREATE TABLE `a` (\n"
    "  `id` int(11) NOT NULL,\n"
    "  `t` text,\n"
    "  PRIMARY KEY (`id`)\n"
    ") ENGINE=InnoDB;\n"
    "INSERT INTO `a` (`id`,`t`) VALUES\n"
    "(1,'plain'),\n"
    "(2,'with (parens) and -- dashes'),\n"
    "(3,'ends with a semicolon;');\n";
static const char *const part_b = /* table b: two statements, the second a single row */
    "\n--\n-- Table `b`\n--\n\n"
    "DROP TABLE IF EXISTS `b`;\n"
    "CREATE TABLE `b` (\n  `x` int\n);\n"
    "INSERT INTO `b` (`x`) VALUES\n"
    "(10),\n"
    "(11);\n"
    "INSERT INTO `b` (`x`) VALUES\n"
    "(12);\n";
static const char *const rest =
    "\n--\n-- View `v`\n--\n\n"
    "DROP VIEW IF EXISTS `v`;\n"
    "CREATE VIEW `v` AS select 1 AS `(not a row`;\n"
    "INSERT INTO `log` VALUES (1);\n"
    "(not a row either)\n"
    "\n-- statefs: dump complete\n";

struct result {
	uint64_t rows[2], total;
	unsigned char da[32], db[32], other[32];
	size_t ntables;
	int rc;
};

/* Scan header + a + b + rest, fed in pieces of @step bytes (0: each part whole). */
static struct result scan(const char *header, const char *a, const char *b, const char *tail,
			  size_t step)
{
	const char *parts[] = {header, a, b, tail};
	struct verify_scan s;
	struct result r = {0};

	r.rc = verify_scan_init(&s);
	for (int i = 0; i < 4 && !r.rc; i++) {
		size_t n = strlen(parts[i]), k;

		if (i == 1)
			verify_scan_table(&s, "a");
		if (i == 2)
			verify_scan_table(&s, "b");
		for (k = 0; k < n; k += step ? step : n)
			verify_scan_feed(&s, parts[i] + k, step && n - k > step ? step : n - k);
	}
	r.rc = r.rc ? r.rc : verify_scan_end(&s);
	r.ntables = s.ntables;
	if (s.ntables == 2) {
		r.rows[0] = s.tables[0].rows;
		r.rows[1] = s.tables[1].rows;
		memcpy(r.da, s.tables[0].digest, 32);
		memcpy(r.db, s.tables[1].digest, 32);
	}
	memcpy(r.other, s.other, 32);
	r.total = s.rows;
	verify_scan_free(&s);
	return r;
}

static bool same(const unsigned char *x, const unsigned char *y)
{
	return !memcmp(x, y, 32);
}

/* @s with the first @from replaced by @to (static buffer per slot). */
static const char *edit(int slot, const char *s, const char *from, const char *to)
{
	static char buf[4][2048];
	const char *p = strstr(s, from);

	if (!p)
		return s;
	snprintf(buf[slot], sizeof(buf[slot]), "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return buf[slot];
}

int main(void)
{
	struct result base = scan(dump_a, part_a1, part_b, rest, 0), r;
	char name[65];

	CHECK_INT(base.rc, 0);
	CHECK_INT(base.ntables, 2);
	CHECK_INT(base.rows[0], 3);
	CHECK_INT(base.rows[1], 3);
	CHECK_INT(base.total, 6);

	/* the same whatever the pieces */
	for (size_t step = 1; step < 40; step += step < 14 ? 1 : 7) {
		r = scan(dump_a, part_a1, part_b, rest, step);
		CHECK_MSG(r.rc == 0 && r.rows[0] == 3 && r.rows[1] == 3 && same(r.da, base.da) &&
			      same(r.db, base.db) && same(r.other, base.other),
			  "pieces of %zu bytes give the same rows and digests", step);
	}

	/* another database's name on the first line: nothing differs */
	r = scan(edit(0, dump_a, "`shop`", "`shop__statefs_verify_1`"), part_a1, part_b, rest, 0);
	CHECK(same(r.da, base.da) && same(r.db, base.db) && same(r.other, base.other));

	/* one value of table a changed: a's digest only */
	r = scan(dump_a, edit(1, part_a1, "'plain'", "'plaiN'"), part_b, rest, 0);
	CHECK(!same(r.da, base.da) && same(r.db, base.db) && same(r.other, base.other));
	CHECK_INT(r.rows[0], 3);

	/* a row lost from b: b's digest and count */
	r = scan(dump_a, part_a1, edit(2, part_b, "(10),\n", ""), rest, 0);
	CHECK(same(r.da, base.da) && !same(r.db, base.db) && same(r.other, base.other));
	CHECK_INT(r.rows[1], 2);

	/* a's definition changed */
	r = scan(dump_a, edit(1, part_a1, "`t` text", "`t` mediumtext"), part_b, rest, 0);
	CHECK(!same(r.da, base.da) && same(r.db, base.db));

	/* the view changed: the rest's digest only; its lines are no table's rows */
	r = scan(dump_a, part_a1, part_b, edit(3, rest, "select 1", "select 2"), 0);
	CHECK(same(r.da, base.da) && same(r.db, base.db) && !same(r.other, base.other));
	CHECK_INT(r.total, 6);

	/* the header's SETs count as the rest */
	r = scan(edit(0, dump_a, "utf8mb4", "latin1"), part_a1, part_b, rest, 0);
	CHECK(same(r.da, base.da) && !same(r.other, base.other));

	/* a dump that does not end with a newline */
	r = scan(dump_a, part_a1, part_b, "\n-- end without newline", 0);
	CHECK_INT(r.rc, 0);
	CHECK(same(r.da, base.da) && same(r.db, base.db));

	/* scratch names: NAME__statefs_verify_PID, a long NAME shortened, within 64 bytes */
	verify_scratch_name("shop", 4242, name);
	CHECK_STR(name, "shop__statefs_verify_4242");
	verify_scratch_name("a_database_name_that_is_much_longer_than_thirty_bytes_x", 2147483647,
			    name);
	CHECK(strlen(name) <= 64);
	CHECK(!strncmp(name, "a_database_name_that_", 21) && strstr(name, "__statefs_verify_"));
	verify_scratch_name("caf\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
			    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
			    1, name);
	CHECK_MSG(((unsigned char)name[strcspn(name, "_")] == '_') &&
		      ((unsigned char)name[strcspn(name, "_") - 1] & 0xc0) != 0xc0,
		  "a long name is cut between characters (%s)", name);
	UNIT_DONE();
}
