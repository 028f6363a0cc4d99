/*
 * tsv.h - a statefs dump's INSERT statements turned into LOAD DATA text, for the server's bulk
 * path (it parses a tab-separated line far faster than an INSERT's values).
 *
 * Only the exact shape our dumper writes is taken (snapshot/dump.h): "INSERT INTO `t` (`a`,
 * ...) VALUES\n(...),\n(...)", each value NULL, a 'string' escaped by mysql_real_escape_string,
 * a 0x hex string, or a plain number; and only where the text means the same either way, which
 * the column's type decides (restore_tsv_cols): a number only into a numeric column (an ENUM's
 * unquoted 0 would read as the member '0'), hex only into a binary one, a 'string' into any of
 * them (both ways store it as a string). Anything else, and a negative zero (an INSERT stores
 * -0 as 0), is "not in the shape": the caller runs the INSERT as it is. The values reach the
 * server's Field::store() as the same bytes in both cases; the loader still checks that a LOAD
 * gave no warning and every row, and falls back to the INSERTs if not (load_fast.c).
 */
#ifndef STATEFS_RESTORE_TSV_H
#define STATEFS_RESTORE_TSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tsv_kind {
	TSV_NONE, /* not a column an INSERT may name (generated) */
	TSV_NUM,  /* integers, DECIMAL, FLOAT, DOUBLE: numbers, 'strings', NULL */
	TSV_STR,  /* character strings, temporal types, ENUM, SET: 'strings', NULL */
	TSV_BIN,  /* BINARY, VARBINARY, BLOBs: 0x hex, 'strings', NULL */
};

struct tsv_cols; /* a table's columns and their kinds; immutable once made */

struct tsv_buf {
	char *p;
	size_t len, cap;
};

/*
 * The columns of CREATE TABLE @sql (@len bytes, as SHOW CREATE TABLE prints it). NULL when the
 * table's rows are better left to INSERT: not InnoDB (a LOAD must roll back when it warns), a
 * CHECK or any definition but columns and plain, primary and unique keys, partitions, system
 * versioning, a column type outside the lists above (BIT, YEAR, spatial, JSON's CHECK, INET6,
 * ...); or out of memory.
 */
struct tsv_cols *restore_tsv_cols(const char *sql, size_t len);
void restore_tsv_cols_free(struct tsv_cols *c);

/*
 * The length of @sql's head "INSERT INTO `t` (`a`,...) VALUES\n" when it has the shape above
 * for table @c (each column named once, none generated), with each column's kind in @kinds
 * (room for restore_tsv_ncols(c)) and their number in *n; 0 when it does not.
 */
size_t restore_tsv_head(const struct tsv_cols *c, const char *sql, size_t len,
			unsigned char *kinds, size_t *n);
size_t restore_tsv_ncols(const struct tsv_cols *c);

/*
 * Append the rows of @sql (@len bytes; its head is @head bytes, with the @n @kinds found by
 * restore_tsv_head) to @out as LOAD DATA lines (fields ended by a tab, lines by a newline,
 * escaped by a backslash, NULL as \N). 1, with the rows added to *rows; 0 when a value is
 * not in the shape (@out is left as it was); -ENOMEM.
 */
int restore_tsv_rows(const char *sql, size_t len, size_t head, const unsigned char *kinds,
		     size_t n, struct tsv_buf *out, uint64_t *rows);

/*
 * The LOAD DATA LOCAL INFILE statement (NUL-terminated, into @out) that reads those lines
 * into the table and columns named by the head @head (@len bytes) of an INSERT, from the
 * file name @file. 0 or -ENOMEM.
 */
int restore_tsv_load_sql(const char *head, size_t len, const char *file, struct tsv_buf *out);

void restore_tsv_buf_free(struct tsv_buf *b);

#endif
