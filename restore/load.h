/*
 * load.h - restore a database from a dump, streamed: staging database, parallel load, one
 * atomic swap. No FUSE here: fs/ (the db/ node) and `statefs restore` both call this.
 *
 * The caller hands over the dump's bytes in order, in pieces of any size (restore_db_write),
 * then says it is complete (restore_db_finish, the commit point) or gives up (restore_db_abort).
 * The bytes are a zstd stream (recognised by its magic, 28 b5 2f fd, or a skippable frame's) or
 * plain SQL; see restore/sqlsplit.h for how SQL is cut and restore/stmt.h for what is run and
 * what is refused.
 *
 * How it goes (invariant 7 of DESIGN.md: a restore never destroys):
 *
 *   begin   connects, takes the server-side lock "statefs-restore:NAME" (a second restore of the
 *           same database gets -EBUSY), creates the empty databases STAGE = NAME__statefs_stage_
 *           <pid>_<n> and OLD = NAME__statefs_old_<pid>_<n> with NAME's character set and
 *           collation (NAME is shortened with a hash if these would exceed 64 bytes), and
 *           opens the loading connections.
 *   write   statements are read as the bytes arrive. Each table's part (from its DROP TABLE IF
 *           EXISTS, or its CREATE TABLE) is loaded into STAGE as soon as it arrives, on one of
 *           `jobs` connections; the INSERTs of a table with a primary key are cut into chunks
 *           of about RESTORE_CHUNK_BYTES that load in parallel once its CREATE TABLE is done
 *           (rows of a table without one go in order, on one connection, so the next dump
 *           lists them in the same order; so do rows that go through LOAD DATA into a table
 *           with an AUTO_INCREMENT column, unless the server's innodb_autoinc_lock_mode is 2:
 *           a LOAD holds the table's AUTO-INC lock until it ends, even when it gives every
 *           value, so its chunks would only queue for that lock, and measured here three of
 *           them take 28% more server CPU than one stream); its plain secondary keys are added
 *           after its rows.
 *           Session SETs (the dump's header, and any later) are replayed on every connection
 *           before the statements that follow them. Views, routines, triggers and events,
 *           with the SETs around them, are kept aside (a temporary file) for later. At most
 *           queue_bytes of statements wait in memory; when the loaders are behind, up to
 *           spool_bytes more wait in a temporary file (the spool, restore/spool.h), so that
 *           the next tables can start loading; beyond that, write blocks. A free loader takes
 *           the oldest job that may start.
 *   finish  checks the stream is complete (zstd frame ended, no statement cut off, and for a
 *           statefs dump its last line "-- statefs: dump complete"), waits for the loaders,
 *           then: (1) runs the views, routines and triggers in STAGE and the events in OLD
 *           (empty: an event that fires there finds no table), so that a bad definition fails
 *           here, before anything live changes; drops STAGE's triggers (a table with triggers
 *           cannot change database). (2) calls before_swap (the caller snapshots the live
 *           database; a failure aborts). (3) The swap: saves and drops the live tables'
 *           triggers, then ONE statement
 *               RENAME TABLE NAME.t1 TO OLD.t1, ..., STAGE.t1 TO NAME.t1, ...
 *           moves every live table and sequence to OLD (so NAME then holds exactly the dump's
 *           tables) and every staged one in; a live view named like a staged table is renamed
 *           aside in the same statement (views cannot change database). If the RENAME fails,
 *           the triggers are re-created and nothing else has changed. (4) After the commit
 *           point: NAME's views, routines and events are dropped, then the dump's views,
 *           routines, triggers and events are created by replaying the kept statements, so
 *           NAME holds exactly the dump's objects. (5) OLD and STAGE are dropped.
 *   abort   (or any failure before the commit point) stops the loaders, drops STAGE and OLD,
 *           and leaves NAME untouched.
 *
 * The window: between the live triggers' DROP and the RENAME, writes to the live tables fire
 * no trigger (those tables are being replaced, so only a trigger's effect on another database
 * could be lost); between the RENAME and the end of step (4) (milliseconds for a typical
 * site), the restored tables are in place without their triggers, and views, routines and
 * events are missing until they are created again. A crash inside that window leaves NAME
 * with the dump's tables and some of its objects; the pre-restore snapshot (before_swap) holds
 * the state before. A crash before the RENAME leaves STAGE and OLD behind:
 * restore_cleanup_stale drops them.
 *
 * Secondary keys: a table's plain KEYs (InnoDB, as SHOW CREATE TABLE prints it, no foreign
 * key; see restore_defer_keys in stmt.h) are left out of its CREATE TABLE and added by one
 * ALTER TABLE (a sorted build) once all its rows are in, while the next tables load, when its
 * rows are narrow: the first RESTORE_DEFER_SAMPLE bytes of its rows are held back until the
 * CREATE is chosen, and the keys are deferred when those rows average under
 * RESTORE_DEFER_ROW_MAX bytes. Measured on a 2-core VM with a 128 MiB buffer pool: WordPress's
 * postmeta and comments (100 and 300 bytes a row) load in about 60% of the time; its posts
 * (3 KB a row) would take longer, the ALTER reading the whole table again.
 *
 * Rows of a statefs dump go through LOAD DATA LOCAL INFILE where the text means the same
 * (restore/tsv.h, load_fast.c): served from memory, in transactions of about 4 MiB of
 * INSERTs, with unique_checks on (InnoDB's bulk-insert mode is slower here), each INSERT
 * converted as the server reads the data (it parses the last meanwhile); any error, warning or
 * missing row rolls the run back and runs its INSERTs as they are.
 *
 * Memory: about queue_bytes + 3 * the largest statement + zstd's window (at most 128 MiB,
 * 2 MiB for statefs dumps) + RESTORE_DEFER_SAMPLE + per connection about twice the largest
 * statement, whatever the size of the dump; on disk (tmpdir), at most spool_bytes (counted in
 * 4 KiB pages; where the filesystem cannot punch holes, all that went through the spool).
 */
#ifndef STATEFS_RESTORE_LOAD_H
#define STATEFS_RESTORE_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mountpoints/mtab.h"

#define RESTORE_JOBS_DEFAULT 3u
#define RESTORE_JOBS_MAX 8u
#define RESTORE_QUEUE_DEFAULT (32u << 20)
#define RESTORE_SPOOL_DEFAULT (256u << 20)
#define RESTORE_CHUNK_BYTES (16u << 20)
#define RESTORE_LOCK_WAIT_S 60u /* lock_wait_timeout of the swap's statements */

struct restore;

struct restore_opts {
	unsigned jobs;	      /* loading connections: 0 = RESTORE_JOBS_DEFAULT, at most _MAX */
	size_t queue_bytes;   /* statements waiting for the loaders: 0 = RESTORE_QUEUE_DEFAULT */
	size_t spool_bytes;   /* more of them on disk (tmpdir): 0 = RESTORE_SPOOL_DEFAULT, */
			      /* SIZE_MAX = none */
	const char *tmpdir;   /* for the spool and the kept object statements: NULL = $TMPDIR, */
			      /* else /tmp */
	unsigned lock_wait_s; /* 0 = RESTORE_LOCK_WAIT_S */
	/*
	 * Called once the whole dump has loaded, just before the swap: take the pre-restore
	 * snapshot of the live database here. A non-zero return (a negative errno, with a
	 * message in err) aborts the restore. NULL: no hook.
	 */
	int (*before_swap)(void *arg, char *err, size_t errlen);
	void *arg;
};

struct restore_stats {
	uint64_t bytes_in;   /* bytes given to restore_db_write */
	uint64_t bytes_sql;  /* SQL bytes after decompression */
	uint64_t statements; /* statements read */
	uint64_t rows;	     /* rows inserted (affected rows of the INSERTs) */
	uint64_t rows_loaded; /* of which through LOAD DATA (load_fast.c) */
	uint64_t spooled;     /* bytes of statements set aside in the spool */
	uint64_t tables;     /* tables and sequences swapped in */
	uint64_t replaced;   /* live tables moved out */
	uint64_t objects;    /* views, routines, triggers, events after the restore */
	unsigned connections;
	double load_s, swap_s; /* begin to loaded; loaded to done (hook included) */
	bool swapped;	       /* the commit point was passed: the dump's tables are live, even if
				  restore_db_finish() then failed (its message says what is left) */
};

/*
 * Start restoring database @db (its name, where it lives, its option file; it must exist and
 * outlive @r). @opts may be NULL. Returns 0 and *out, or a negative errno with a message in
 * @err: as dump_connect() (connection, credentials), -ENOENT (no such database), -EBUSY (a
 * restore of it runs), -EIO (the server refused to create the staging databases), -ENOMEM.
 */
int restore_db_begin(const struct mtab_database *db, const struct restore_opts *opts,
		     struct restore **out, char *err, size_t errlen);

/*
 * The next @len bytes of the dump. May block while the loaders catch up. Returns 0, or the
 * restore's first error (a negative errno: -EIO for corrupt input or an SQL error, -EPERM for
 * a refused statement, -ECONNRESET for a lost server, -ENOMEM, ...), after which every call
 * returns it again; restore_db_error() says what happened. Not thread-safe: one writer.
 */
int restore_db_write(struct restore *r, const void *buf, size_t len);

/* The first error's message ("" if none), valid until finish or abort. */
const char *restore_db_error(const struct restore *r);

/*
 * The input is complete: load, swap, and free @r. Returns 0 once NAME holds the dump, or a
 * negative errno with a message in @err naming the statement (its number and line) and the
 * server's error. Before the commit point any failure leaves NAME untouched and STAGE and OLD
 * dropped; after it (step 4 above), the error says what is left to do and OLD is kept.
 * @stats may be NULL.
 */
int restore_db_finish(struct restore *r, struct restore_stats *stats, char *err, size_t errlen);

/* Give up: stop the loaders (killing their queries), drop STAGE and OLD, free @r. NULL is ok. */
void restore_db_abort(struct restore *r);

/*
 * Drop what crashed restores of @db left on its server: the databases NAME__statefs_stage_P_N
 * and NAME__statefs_old_P_N, and the views __statefs_view_P_N set aside in NAME by a swap,
 * whose process P is not alive on this host. Call it at start-up.
 * Returns 0 (*dropped, if not NULL, says how many) or a negative errno with a message.
 */
int restore_cleanup_stale(const struct mtab_database *db, unsigned *dropped, char *err,
			  size_t errlen);

#endif
