/*
 * dbrestore.c - restores written through db/: not built yet. Opening db/NAME.sql.zst for
 * writing fails with EROFS until the restore library lands (issue: restore by cp).
 */
#include "fs/dbrestore.h"

#include <errno.h>
#include <stdio.h>

int dbrestore_open(const struct mtab *tab, const struct mtab_database *db, pid_t writer,
		   struct dbrestore **out, char *err, size_t errlen)
{
	(void)tab;
	(void)writer;
	(void)out;
	snprintf(err, errlen, "restoring %s through db/ is not available in this build", db->name);
	return -EROFS;
}

ssize_t dbrestore_write(struct dbrestore *r, const char *buf, size_t size, off_t off)
{
	(void)r;
	(void)buf;
	(void)size;
	(void)off;
	return -EROFS;
}

int dbrestore_finish(struct dbrestore *r)
{
	(void)r;
	return -EROFS;
}

void dbrestore_close(struct dbrestore *r)
{
	(void)r;
}
