/*
 * lock.h - who may touch the snapshot store at once.
 *
 * Two flock(2) locks under STATE_DIR/store/:
 *   snapshot.lock  exclusive while a snapshot (or a restore's pre-restore snapshot) is taken:
 *                  a second `statefs snapshot` waits for it or refuses (--no-wait);
 *   store.lock     shared by whoever adds chunks and manifests (snapshot, restore), exclusive
 *                  for prune's sweep, which deletes chunks no manifest names: a sweep never
 *                  runs while a snapshot is writing chunks its manifest will name.
 * Locks go with the process (flock), so a killed snapshot leaves nothing to clean up.
 */
#ifndef STATEFS_LOCK_H
#define STATEFS_LOCK_H

#include <stddef.h>

enum lock_kind {
	LOCK_SNAPSHOT, /* snapshot.lock exclusive + store.lock shared */
	LOCK_WRITER,   /* store.lock shared (adds chunks; several may) */
	LOCK_SWEEP,    /* store.lock exclusive */
};

struct store_lock;

/*
 * Take the locks of @kind for the store under @state_dir (created if needed, 0700). @wait: 1 =
 * block until free, 0 = fail at once with -EWOULDBLOCK and a message saying who holds it.
 */
int lock_take(const char *state_dir, enum lock_kind kind, int wait, struct store_lock **out,
	      char *err, size_t errlen);
void lock_release(struct store_lock *l);

#endif
