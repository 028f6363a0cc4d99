/*
 * prefetch.h - reading ahead the small files a directory listing names, on a thread of its own.
 *
 * A cold `grep -r` through the mount waits, file after file, for an OPEN, a READ that goes to
 * the disk, and a RELEASE. When a versioned tree (config files: small) is listed with
 * READDIRPLUS, the daemon asks the backing filesystem to read the start of each regular file
 * ahead (readahead(2), PREFETCH_BYTES per file), so the READ that follows finds the page cache
 * warm. Best effort: a full queue drops the request; nothing waits for it.
 */
#ifndef STATEFS_PREFETCH_H
#define STATEFS_PREFETCH_H

#include <stddef.h>

#define PREFETCH_BYTES (128u * 1024)

struct prefetch;

/* Start the thread; NULL if it cannot be started (prefetching is then skipped). */
struct prefetch *prefetch_start(void);

/* Stop and join the thread, dropping what is queued. NULL is fine. */
void prefetch_stop(struct prefetch *p);

/*
 * Read ahead the files @names (@len bytes of NUL-terminated names) in directory @dirfd, which
 * is duplicated: the caller keeps its own. Returns at once.
 */
void prefetch_dir(struct prefetch *p, int dirfd, const char *names, size_t len);

#endif
