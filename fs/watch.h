/*
 * watch.h - changes made outside the mount (certbot, apt, a root shell), seen by inotify.
 *
 * Each versioned mount's source directories are watched; a change is noted to the committer as
 * external and the kernel's cached view of it is dropped. Changes made through the mount are
 * seen here too; the committer recognises them as echoes of the writer's own save.
 */
#ifndef STATEFS_WATCH_H
#define STATEFS_WATCH_H

#include <stddef.h>

struct sfs;
struct watch;

/* Watch every versioned mount of @fs and start the watcher thread. 0 or -errno + message. */
int watch_start(struct watch **out, struct sfs *fs, char *err, size_t errlen);
void watch_stop(struct watch *w);

#endif
