/*
 * dbrestore.h - a restore written onto db/NAME.sql.zst: the bytes stream into the restore
 * library as cp writes them; the flush at close(2) is the commit point, and its result is
 * what close returns. One restore per database at a time (EBUSY for a second).
 */
#ifndef STATEFS_DBRESTORE_H
#define STATEFS_DBRESTORE_H

#include <stddef.h>
#include <sys/types.h>

#include "mountpoints/mtab.h"

struct dbrestore;

int dbrestore_open(const struct mtab *tab, const struct mtab_database *db, pid_t writer,
		   struct dbrestore **out, char *err, size_t errlen);
/* Bytes at @off, which must follow the previous write (-ESPIPE otherwise). */
ssize_t dbrestore_write(struct dbrestore *r, const char *buf, size_t size, off_t off);
/* Finish (first call after data) or report the earlier result. 0 or -EIO / -EBUSY / ... */
int dbrestore_finish(struct dbrestore *r);
/* Abort if not finished; free. NULL is fine. */
void dbrestore_close(struct dbrestore *r);

#endif
