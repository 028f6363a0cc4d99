/*
 * spool.h - byte strings set aside in an unlinked temporary file and read back by offset;
 * the space of what was read back is given back to the filesystem (a hole is punched) where
 * it supports that. A restore sets statements aside there when its loaders are behind, so that
 * it can read on to the next tables without holding them in memory (see load.h).
 *
 * One writer appends; any thread may read back and drop what was appended (pread and
 * fallocate are safe together on one file descriptor). Each string starts on a 4 KiB
 * boundary, so that dropping one frees its pages whole.
 */
#ifndef STATEFS_RESTORE_SPOOL_H
#define STATEFS_RESTORE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_ALIGN 4096u

struct spool;

/*
 * An unlinked file in @dir (O_TMPFILE, else a named file unlinked at once): an fd, or -errno.
 * The dumper's spool (snapshot/dump.c) is made here too.
 */
int spool_tmpfile(const char *dir);

/* A spool in @dir: 0, or -errno (-ENOMEM). */
int spool_open(const char *dir, struct spool **out);
void spool_close(struct spool *s); /* NULL is ok */

/* Append @len bytes: 0 and their offset in *off, or -errno (-ENOSPC: the disk is full). */
int spool_put(struct spool *s, const void *p, size_t len, uint64_t *off);

/* Read back @len bytes put at @off into @buf: 0, or -errno (-EIO if the file is short). */
int spool_get(struct spool *s, uint64_t off, void *buf, size_t len);

/*
 * The @len bytes put at @off are not needed any more. True when their space was given back;
 * false where the filesystem cannot punch holes (the file then only grows).
 */
bool spool_drop(struct spool *s, uint64_t off, size_t len);

/* The bytes a string of @len takes in the file (rounded up to SPOOL_ALIGN). */
uint64_t spool_size_of(size_t len);

#endif
