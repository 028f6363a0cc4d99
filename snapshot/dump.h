/*
 * dump.h - a consistent SQL dump of one MySQL/MariaDB database, through libmysqlclient.
 *
 * The output is SQL that the stock client restores into any (empty or existing) database:
 *
 *     zstdcat x.sql.zst | mariadb --comments TARGET_DB
 *
 * It never names the source database (no CREATE DATABASE, no USE), so it loads into a staging
 * database as well. Order, fixed whatever the parallelism:
 *
 *   1. a header (SET NAMES utf8mb4, TIME_ZONE='+00:00', FOREIGN_KEY_CHECKS=0, UNIQUE_CHECKS=0,
 *      SQL_MODE='NO_AUTO_VALUE_ON_ZERO', SQL_NOTES=0; the old values saved in user variables);
 *   2. every base table and sequence in byte order of its name: DROP TABLE IF EXISTS, the
 *      SHOW CREATE TABLE text, then its rows as multi-row INSERTs (sequences: a SETVAL);
 *   3. stored functions, then procedures (a view may call a function, so they come first);
 *   4. views, a view after the views it reads from (dependencies found by scanning each
 *      definition for the other views' quoted names; ties and cycles in name order);
 *   5. triggers, per table in their firing order (after the data, so loading fires none);
 *   6. events; 7. a footer that restores the session variables, then the last line
 *      "-- statefs: dump complete" (a dump without it was cut off).
 * Routines, triggers and events are wrapped in DELIMITER lines (a delimiter their text does not
 * hold) with their own sql_mode (and the event's time_zone), as mariadb-dump does; views,
 * routines, triggers and events get their character_set_client and collation_connection back,
 * and their text is written in that character set; definers are kept. --comments keeps the
 * comments inside routine bodies (the stock client strips them otherwise). Sequences are
 * restored with DO SETVAL(seq, next_not_cached_value, 0, cycle_count).
 *
 * A table dropped after the table list was read (before its definition is) is left out, as
 * is any other object dropped between listing and SHOW CREATE; a table altered under the
 * snapshot fails the dump (ER_TABLE_DEF_CHANGED), as it must. System-versioned tables keep
 * their current rows only (as mariadb-dump does by default).
 *
 * Rows: in primary-key order (ORDER BY the key columns, which InnoDB reads without sorting).
 * A table without a primary key is ordered by its first UNIQUE key whose columns are all NOT
 * NULL (the key InnoDB clusters on); failing that, rows come in the engine's scan order, which
 * for InnoDB is insertion order (its hidden row id): stable from day to day, and free, where
 * an ORDER BY over every column would sort the whole table. Generated columns (virtual and
 * stored) are left out of the column list; invisible columns are named and dumped. Values:
 * integers, DECIMAL, DOUBLE and YEAR as the server prints them; FLOAT through CAST(.. AS
 * DOUBLE), which prints every float exactly (the server's own FLOAT text keeps 6 digits);
 * BINARY, VARBINARY, BLOBs, BIT and spatial types as 0x hex; an ENUM's invalid value (index 0,
 * which reads as '' like a real '' member) as 0; everything else as a quoted string escaped by
 * mysql_real_escape_string() on a utf8mb4 connection; NULL as NULL. TIMESTAMPs are
 * read and written with time_zone '+00:00', so no value shifts with a DST change.
 *
 * Consistency: every table is read inside one REPEATABLE READ snapshot. With several
 * connections, the coordinator takes FLUSH TABLES WITH READ LOCK, each connection runs START
 * TRANSACTION WITH CONSISTENT SNAPSHOT, the table list is read, and the coordinator runs
 * UNLOCK TABLES: writes are blocked for a few milliseconds, and all the snapshots show the same
 * instant (the mydumper technique). The lock is not tried while another query has run for a
 * second or more (FTWRL would wait for it, and every writer would wait behind FTWRL), and it
 * may wait DUMP_LOCK_WAIT_S seconds at most. If it is not taken (that, a timeout, or no RELOAD
 * privilege) the dump uses a single connection and a single snapshot instead: as consistent,
 * only not parallel. Each connection rolls back to a savepoint taken at the start after each
 * table, as mariadb-dump does: that releases the table's metadata lock, so an ALTER TABLE on a
 * table already dumped does not wait for the whole dump. Non-transactional tables (MyISAM, Aria)
 * are read without a snapshot, as with mariadb-dump --single-transaction. Definitions (SHOW CREATE
 * ...) are not transactional.
 *
 * Chunk boundaries (for the store's deduplication): the output is a sequence of chunks, each
 * ended by sink->cut(). A chunk ends after the header, after each table's DDL, after each
 * row chosen below, at the end of each table, and after each later object. Each row is hashed
 * (FNV-1a 64 over its dumped text "(...)", finalised with the splitmix64 mixer) and the hash h
 * compared with 2^64 * row_len / avg: below it for avg = DUMP_CUT_AVG, a chunk ends after the
 * row (the next chunk starts with the ",\n" before the next row); below it for avg =
 * DUMP_STMT_AVG (a subset of those rows), the INSERT statement ends there too, with its ";\n".
 * So each row is a cut point with a probability proportional to its size: chunks hold about
 * DUMP_CUT_AVG bytes (small, so that about 1% of rows changing scattered over a table touches
 * few of them) while statements stay DUMP_STMT_AVG long (fewer for the server to parse on a
 * restore), and every boundary depends only on that row's content. A statement also ends once
 * it holds DUMP_STMT_MAX bytes (a single larger row makes one larger chunk) and at the end of
 * the table. An updated, inserted or deleted row therefore changes only the chunk it falls in
 * (or two, when the row itself is or was a cut point). The rule is part of the dump format:
 * changing it moves every boundary.
 *
 * Parallelism and memory: up to DUMP_JOBS_MAX connections dump tables in name order, each
 * table produced in full by one worker. The table at the head of the output order is written
 * straight to the sink; a worker that runs ahead spools its table to an unlinked temporary file
 * (in opts->tmpdir) until it becomes the head. Memory is bounded by about (jobs + 1) *
 * (DUMP_STMT_MAX + the largest row) whatever the database size (rows are streamed with
 * mysql_use_result); spool disk use is at most the size of the tables finished ahead of the
 * table being written.
 */
#ifndef STATEFS_DUMP_H
#define STATEFS_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mountpoints/mtab.h"

#define DUMP_CUT_AVG (4u * 1024)     /* average dump chunk size aimed at */
#define DUMP_STMT_AVG (16u * 1024)   /* average INSERT statement size aimed at */
#define DUMP_STMT_MAX (1024u * 1024) /* a statement ends once it holds this much */
#define DUMP_JOBS_DEFAULT 4u
#define DUMP_JOBS_MAX 16u
#define DUMP_LOCK_WAIT_S 5u	  /* how long FLUSH TABLES WITH READ LOCK may wait */
#define DUMP_NET_TIMEOUT_S 86400u /* net_write/read_timeout: the consumer may be slow */

/*
 * Where the dump goes. Calls are serialised (never two at once) but may come from different
 * threads. Each callback returns 0 or a negative errno, which stops the dump and is returned
 * by dump_database() (a message naming the failed callback goes to err).
 */
struct dump_sink {
	void *ctx;
	int (*write)(void *ctx, const void *buf, size_t len); /* required */
	/* The chunk written since the last cut is complete. Never called for an empty chunk. */
	int (*cut)(void *ctx);
	/* The next byte written is the first of table @table's part (its DROP TABLE line). */
	int (*table_begin)(void *ctx, const char *table);
};

struct dump_opts {
	unsigned jobs;	    /* connections; 0 = DUMP_JOBS_DEFAULT; 1 = a single connection */
	const char *tmpdir; /* spool directory; NULL = $TMPDIR, else /tmp */
};

struct dump_stats {
	uint64_t tables; /* base tables and sequences */
	uint64_t rows;	 /* rows dumped */
	uint64_t bytes;	 /* SQL bytes written to the sink */
	uint64_t chunks; /* cuts made */
	uint64_t views, routines, triggers, events;
	unsigned connections; /* connections used for the data */
	bool shared_snapshot; /* several connections shared one snapshot through FTWRL */
};

/*
 * Dump database @db (name, host/port or socket, option file) to @sink. @opts and @stats may be
 * NULL. Returns 0, or a negative errno with a message in @err naming the database and what
 * failed: -ECONNREFUSED (server unreachable), -ECONNRESET (connection lost), -EACCES (access
 * denied, or an option file readable by others), -ENOENT (unknown database, missing option
 * file), -EIO (the server failed a query), -ENOMEM, or the sink's own error.
 */
int dump_database(const struct mtab_database *db, const struct dump_opts *opts,
		  const struct dump_sink *sink, struct dump_stats *stats, char *err, size_t errlen);

struct st_mysql; /* MYSQL, from <mysql.h> */

/*
 * Connect to @db as the dumper does, for other modules (restore) that need the same rules:
 * credentials only from db->option_file (groups [client], [client-server] and [client-mariadb]
 * of that one file and what it !includes; no other option file is read; none at all without
 * option_file, and the login name is the user), which must be a regular file of mode 0600 or
 * stricter; the default database is @schema (NULL: none); the session uses utf8mb4, time_zone
 * '+00:00', sql_mode '' and DUMP_NET_TIMEOUT_S as its net and wait timeouts. Returns 0 and sets
 * *out (close with mysql_close), or a negative errno as above.
 */
int dump_connect(const struct mtab_database *db, const char *schema, struct st_mysql **out,
		 char *err, size_t errlen);

/* The rule above for one row's text: does a statement end after it? For tests and re-use. */
bool dump_row_ends_stmt(const void *row, size_t len);

/* The rule above for one row's text: does a chunk end after it (true whenever a statement does)? */
bool dump_row_ends_chunk(const void *row, size_t len);

#endif
