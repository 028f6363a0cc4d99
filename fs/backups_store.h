/*
 * backups_store.h - the chunk store as backups/ reads it: chunks read and checked
 * (snapshot/store.h store_get), a dump's stored frames read as they are out of their packs,
 * frames read ahead into the page cache, and the store's lock held shared while files of
 * snapshots are open.
 *
 * What a newcomer must know: `statefs prune` removes manifests and then sweeps the chunks no
 * manifest names, under the store's lock taken exclusively (snapshot/lock.h). While any file
 * of backups/ is open, the daemon holds that lock shared (LOCK_WRITER), so prune waits: a file
 * being read, of a snapshot pruned meanwhile, keeps its chunks until it is closed. The lock is
 * never waited for here: if a sweep is running when a file is opened, the reader goes on
 * without that guarantee. A sweep run while no file was open may have moved the live chunks of
 * the other snapshots into new packs: the one read-only store of the daemon finds them again
 * (it looks at packs/ again when a chunk or a pack is not where its index said). Nothing is
 * opened before it is needed (the store may not exist yet).
 *
 * Thread safety: every function may be called from several threads, except that a struct
 * backups_frames belongs to one thread.
 */
#ifndef STATEFS_BACKUPS_STORE_H
#define STATEFS_BACKUPS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/store.h"

struct backups_store;

/* The store of @state_dir. 0 or -ENOMEM. */
int backups_store_new(const char *state_dir, struct backups_store **out);
void backups_store_free(struct backups_store *s); /* NULL is a no-op */

/*
 * Read and check chunk @h (store_get): a malloc'd buffer in *out, *len. 0 or -errno (a damaged
 * or missing chunk is -EIO, logged).
 */
int backups_store_get(struct backups_store *s, const struct store_hash *h, void **out, size_t *len);

/* Have chunk @h's frame read into the page cache soon (a hint: failures are ignored). */
void backups_store_warm(struct backups_store *s, const struct store_hash *h);

/*
 * The same for the @len bytes of @h's pack from @h's frame on (and an eighth more): the
 * @frames frames of a dump from @h on, stored one after the other, read ahead by one hint.
 */
void backups_store_warm_range(struct backups_store *s, const struct store_hash *h, uint64_t len,
			      size_t frames);

/* How many frames backups_store_warm_range has hinted at since the start (for the stats). */
unsigned long backups_store_warmed(struct backups_store *s);

/*
 * Reading stored frames as they are, for one read request. The pieces a request wants are
 * gathered first and then read in the order they lie in their packs: those that lie back to
 * back (the frames of a dump, appended one after the other, or nearly: parallel compression
 * swaps neighbours) are one preadv into the caller's buffer. The store is looked up once per
 * request; each pack is opened once per request, and no descriptor outlives the request (a
 * pack a sweep removes is not kept on disk by us).
 */
#define BACKUPS_FRAMES_PIECES 256 /* pieces gathered before they are read */
#define BACKUPS_FRAMES_PACKS 4	  /* packs open at once */

struct backups_frames {
	struct backups_store *s;
	struct store *st; /* the read-only store; NULL until the first piece */
	unsigned npacks;
	struct {
		char name[17];
		int fd;
	} packs[BACKUPS_FRAMES_PACKS];
	size_t n; /* pieces not read yet */
	struct backups_piece {
		char *buf;
		size_t len;
		uint64_t at;	     /* of its bytes in the pack */
		unsigned pack;	     /* in @packs */
		struct store_hash h; /* for messages */
	} v[BACKUPS_FRAMES_PIECES];
};

void backups_frames_init(struct backups_frames *f, struct backups_store *s);

/*
 * Have @len bytes at @off of chunk @h's stored frame copied into @buf, after checking that the
 * frame is @zlen bytes as the manifest says: now, or by a later call or backups_frames_flush()
 * (@buf must stay valid until then). 0 or -errno: -EIO if the chunk is missing or its
 * frame is not what the manifest says or is cut short (logged).
 */
int backups_frames_read(struct backups_frames *f, const struct store_hash *h, uint64_t zlen,
			char *buf, size_t len, uint64_t off);

/* Read what backups_frames_read() left pending. 0 or -errno (logged, as there). */
int backups_frames_flush(struct backups_frames *f);

/* Close the packs and drop what is pending. */
void backups_frames_done(struct backups_frames *f);

/* A file of a snapshot was opened (+1) or closed (-1): hold the lock while any is open. */
void backups_store_readers(struct backups_store *s, int delta);

#endif
