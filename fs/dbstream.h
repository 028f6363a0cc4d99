/*
 * dbstream.h - a live dump as a byte stream: reading db/NAME.sql.zst runs the dumper on a
 * thread and hands out its zstd-compressed output in order, through a bounded buffer.
 *
 * The reader can only go forward (the file is shown nonseekable and uncached); memory stays
 * bounded whatever the database size; closing early cancels the dump.
 */
#ifndef STATEFS_DBSTREAM_H
#define STATEFS_DBSTREAM_H

#include <stddef.h>
#include <sys/types.h>

#include "mountpoints/mtab.h"

struct dbstream;

/* Start dumping @db (which must outlive the stream). 0 or -errno with a message. */
int dbstream_open(const struct mtab_database *db, struct dbstream **out, char *err, size_t errlen);

/*
 * Read up to @size bytes at @off, which must be where the previous read ended (-ESPIPE
 * otherwise). Blocks until data comes. Returns the count, 0 at the end, or -EIO if the dump
 * failed (the reason is logged and kept in dbstream_error).
 */
ssize_t dbstream_read(struct dbstream *s, char *buf, size_t size, off_t off);

const char *dbstream_error(struct dbstream *s);

/* Stop the dump if it still runs and free everything. */
void dbstream_close(struct dbstream *s);

#endif
