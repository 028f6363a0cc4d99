/*
 * verify.h - `statefs verify`: the monthly test restore, automated. Each database dump of a
 * snapshot is rebuilt from its chunks, loaded into a scratch database on its own server, and
 * read back; each other file of the snapshot is rebuilt from its chunks. Nothing live changes.
 *
 * For each db/NAME.sql.zst of the snapshot:
 *   1. its chunks are read in order with store_get, which checks each one against its hash
 *      (a damaged or missing chunk fails the database, naming the chunk);
 *   2. the SQL streams into restore_db_begin/write/finish (restore/load.h) aimed at the
 *      scratch database NAME__statefs_verify_<pid> (NAME shortened with a hash when long),
 *      created empty with NAME's character set first: the load must succeed;
 *   3. while it streams, the dump is scanned (verify_scan below): per table, the rows its
 *      INSERTs hold and a SHA-256 of its part; then SELECT COUNT(*) of every loaded table must
 *      equal the rows of the dump, and the scratch tables must be exactly the dump's;
 *   4. the scratch database is dumped again (one connection, so no global read lock) and
 *      scanned the same way: every table's part (its CREATE TABLE and every row, as the dumper
 *      writes them) and the rest (views, routines, triggers, events) must be the same bytes as
 *      in the snapshot. The dump is deterministic (dump.h), so this is the fidelity bar of the
 *      design (every table's CHECKSUM TABLE and every object's definition match) checked
 *      against what the snapshot recorded at dump time: its own bytes;
 *   5. the scratch database is dropped, whatever happened. A verify killed midway leaves it
 *      behind: the next verify of that database drops scratch databases whose pid is gone
 *      (verify_cleanup_stale), with their staging leftovers.
 * The files (uploads) are checked by reading every chunk back (store_get re-hashes each).
 *
 * The store is held with the shared writer lock (lock.h), so prune cannot sweep chunks away
 * meanwhile. The user of a database's option file needs the rights a restore needs, on the
 * NAME__statefs_% databases: CREATE, DROP, and what the dump holds.
 */
#ifndef STATEFS_VERIFY_H
#define STATEFS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mountpoints/mtab.h"
#include "snapshot/manifest.h"

#define VERIFY_REASON_MAX 1024

struct verify_item {
	char *name; /* "db/NAME" for a database, "files" for the rest of the snapshot */
	bool ok;
	char reason[VERIFY_REASON_MAX]; /* why not, for the operator ("" when ok) */
	uint64_t tables, rows;		/* a database: in the dump */
	uint64_t files, bytes;		/* bytes: plain bytes read back */
	double seconds;
};

struct verify_result {
	char snapshot[MANIFEST_NAME_MAX];
	struct verify_item *items; /* the databases in manifest order, then "files" */
	size_t nitems;
	bool ok; /* every item passed */
	double seconds;
};

struct verify_opts {
	unsigned jobs;		  /* loading connections; 0 = restore's default */
	bool skip_files;	  /* check the databases only */
	const volatile int *stop; /* when it becomes nonzero (a signal), stop and clean up */
	/* One line about what is being done ("db/shop: loading"), for a progress display. */
	void (*progress)(void *arg, const char *what);
	/* Called when an item is done, for reporting as it goes. */
	void (*done)(void *arg, const struct verify_item *it);
	void *arg;
};

/*
 * Verify snapshot @name (NULL = the newest) of @tab's store. @o may be NULL. Returns 0 when
 * the verification ran to its end (r->ok says whether everything passed; free r with
 * verify_result_free), or a negative errno with a message when it could not run at all (no
 * snapshot, an unreadable manifest, no store): that is a failed verify too.
 */
int verify_snapshot(const struct mtab *tab, const char *name, const struct verify_opts *o,
		    struct verify_result *r, char *err, size_t errlen);
void verify_result_free(struct verify_result *r);

/*
 * Verify one dump (the manifest entry @e of a snapshot, read from @store) against database
 * @db's server: steps 1 to 5 above. Fills @it. 0 when it ran (it->ok says how it went), or a
 * negative errno for what stops everything (-ENOMEM).
 */
struct store;
int verify_database(struct store *store, const struct manifest_entry *e,
		    const struct mtab_database *db, const struct verify_opts *o,
		    struct verify_item *it);

/*
 * Drop the scratch databases of verifies of @db whose process is gone (and what their loads
 * left). 0 (*dropped says how many) or a negative errno with a message.
 */
int verify_cleanup_stale(const struct mtab_database *db, unsigned *dropped, char *err,
			 size_t errlen);

/* The scratch database's name for @db and process @pid into @out (65 bytes). */
void verify_scratch_name(const char *db, long pid, char *out);

/*
 * The scanner of steps 3 and 4: fed a statefs dump in pieces of any size, told where each
 * table's part begins (at a line start), it keeps per table the rows of its INSERTs (lines
 * starting with "(" inside an INSERT INTO statement) and a SHA-256 of its part (from where
 * it begins, its comment included, up to the next table or the first comment line, "--",
 * after its statements), and one SHA-256 of everything else but the first line (which names
 * the dumped database).
 */
struct verify_table {
	char *name;
	uint64_t rows;
	unsigned char digest[32];
};

struct verify_scan {
	struct verify_table *tables;
	size_t ntables, cap;
	unsigned char other[32]; /* set by verify_scan_end */
	uint64_t rows;		 /* all tables */
	int err;		 /* the first error (-ENOMEM): every later call does nothing */
	void *priv;		 /* the scanner's state */
};

int verify_scan_init(struct verify_scan *s);
/* Table @name's part begins with the next byte fed. 0 or -ENOMEM. */
int verify_scan_table(struct verify_scan *s, const char *name);
int verify_scan_feed(struct verify_scan *s, const void *buf, size_t len);
/* The input is complete: the digests are set. 0 or the first error. */
int verify_scan_end(struct verify_scan *s);
void verify_scan_free(struct verify_scan *s);

#endif
