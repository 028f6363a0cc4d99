/*
 * store_int.h - what the store's own files (store.c, store_put.c, store_read.c) share.
 *
 * Not an interface: nothing outside snapshot/store*.c includes this; store.h is the interface.
 * store.c: layout and lifetime; store_index.c: the in-memory index of packs/ *.idx;
 * store_pack.c: the open pack a writer appends to; store_put.c / store_read.c: chunks in and out;
 * store_sweep.c: rewriting packs without their dead chunks.
 */
#ifndef STATEFS_STORE_INT_H
#define STATEFS_STORE_INT_H

#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <zstd.h>

#include "snapshot/store.h"

#define STORE_ERRMSG_LEN 512

struct dict {
	struct store_hash hash;
	unsigned id;	   /* zstd dictionary id, as frames record it */
	ZSTD_CDict *cdict; /* NULL in a read-only store */
	ZSTD_DDict *ddict;
	struct dict *next;
};

/*
 * A batch of chunks queued for the workers: compressed together and appended in one turn, so
 * the queue's locks, wake-ups and writes are paid per batch, not per chunk of a few KiB.
 */
#define JOB_BYTES (256u * 1024) /* a batch is queued once it holds this much */
#define JOB_CHUNKS 128u		/* or this many chunks */

struct job_chunk {
	struct store_hash hash;
	const struct dict *dict;
	size_t off, len; /* in job.data */
};

struct job {
	uint64_t seq; /* its place in the queue: frames are appended in this order */
	unsigned n;
	size_t used, cap; /* bytes of data */
	struct job_chunk c[JOB_CHUNKS];
	unsigned char data[];
};

/* A compressed frame ready to append: its chunk and its length in the frames' buffer. */
struct frame {
	struct store_hash hash;
	size_t zlen;
};

#define STORE_PACK_TARGET (64u * 1024 * 1024) /* a pack is closed once it holds this much */
#define PACK_NONE UINT32_MAX		      /* open_pack.no when no pack is open */
#define STORE_PACKS_MAX (1u << 24)	      /* packs the index can tell apart */

/* Where a chunk's frame is, as the index records it. */
struct ixloc {
	uint64_t off;  /* < STORE_OFF_LIMIT */
	uint32_t zlen; /* > 0 */
	uint32_t pack; /* into store.packs */
};

/*
 * A slot of the index, 20 bytes: the hash's first 8 bytes (its key) and where the frame is.
 * The exact index keeps the other 24 bytes of each hash beside (ixtable.rest).
 */
struct ixslot {
	uint32_t key[2];
	uint32_t off_lo; /* the frame's offset: low 32 bits */
	uint32_t hi;	 /* pack << 8 | offset >> 32 */
	uint32_t zlen;	 /* the frame's size (< 2^31); 0 = an empty slot; | IX_SHARED */
};

/* Lean: stored chunks whose hashes differ share this slot's key; ixtable.shared has them. */
#define IX_SHARED 0x80000000u

/* A chunk of a shared key, by whole hash. */
struct ixshared {
	struct store_hash h;
	struct ixloc loc;
};

/*
 * The in-memory index. Exact (store_index.c): an open-addressing table of @cap slots, @n used,
 * with the rest of each hash. Lean (store_lean.c): @n slots sorted by key, in buckets by the
 * key's first 16 bits (bucket b is tab[fan[b]] up to tab[fan[b + 1]]), and the chunks of the
 * keys two chunks share, sorted by hash.
 */
struct ixtable {
	struct ixslot *tab;
	unsigned char (*rest)[STORE_HASH_LEN - 8];
	size_t cap, n;
	uint32_t *fan;
	struct ixshared *shared;
	size_t nshared;
};

static inline void ix_slot_set(struct ixslot *e, const struct store_hash *h, const struct ixloc *l)
{
	memcpy(e->key, h->b, sizeof(e->key));
	e->off_lo = (uint32_t)l->off;
	e->hi = l->pack << 8 | (uint32_t)(l->off >> 32);
	e->zlen = l->zlen;
}

static inline void ix_slot_loc(const struct ixslot *e, struct ixloc *l)
{
	l->off = (uint64_t)(e->hi & 0xff) << 32 | e->off_lo;
	l->pack = e->hi >> 8;
	l->zlen = e->zlen & ~IX_SHARED;
}

struct pack {
	char name[17];
	int fd; /* -1 until first read; the open pack's write descriptor while it is open */
};

/* The pack a writer appends to: packs/tmp.NAME.PID.1 (frames) and .2 (index) until finished. */
struct open_pack {
	uint32_t no; /* its number in store.packs; PACK_NONE = no pack is open */
	int idx_fd;
	uint64_t off; /* where the next frame goes */
	char tmp_pack[64], tmp_idx[64];
	char ibuf[64 * 1024]; /* index lines not yet written to idx_fd */
	size_t ilen;
};

struct store {
	int fd; /* STATE_DIR/store */
	bool readonly;
	int level;
	const struct store_io *io;

	pthread_mutex_t lock;
	pthread_cond_t cv_job, cv_space, cv_idle;
	struct job **q; /* ring of qcap queued jobs */
	unsigned qcap, qhead, qlen, busy;
	struct job **inflight; /* the jobs the workers hold: nslots slots, NULL = free */
	unsigned nslots;
	struct job *pending; /* the producer's batch being filled (the producer's own) */
	bool stop;
	pthread_t *workers;
	unsigned nworkers;

	/* Under lock: */
	int error; /* first error since the last store_flush */
	char errmsg[STORE_ERRMSG_LEN];
	bool dirty_dicts;
	struct store_stats stats;
	struct dict *dicts; /* loaded dictionaries; freed by store_close only */
	unsigned long tmp_seq;

	/* The index: under ixlock (readers share it). */
	pthread_rwlock_t ixlock;
	bool lean; /* keys only (store_opts.lean) */
	struct ixtable ix;
	struct pack *packs;
	size_t npacks, packcap;
	struct timespec packs_mtime; /* of packs/ when last loaded (read-only stores reload) */
	pthread_mutex_t rlock;	     /* one reload at a time */

	/* Queued chunks are appended in queue order (a dump's frames back to back, in order). */
	pthread_mutex_t olock;
	pthread_cond_t ocv;
	uint64_t seq_next;    /* under lock: the next job's seq */
	uint64_t append_next; /* under olock: the seq whose turn it is to be appended */

	/* The open pack: under plock (appends are serial; compression is not). */
	pthread_mutex_t plock;
	struct open_pack op;
};

/* snprintf into @err if it is not NULL. */
void store_msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Write @len bytes as @dir/@name (relative to the store) through a fsynced temp file
 * "@dir/tmp.*" renamed into place. On failure nothing named @name was created and the temp file
 * is gone. The directory itself is not fsynced.
 */
int store_write_atomic(struct store *s, const char *dir, const char *name, const void *buf,
		       size_t len, char *err, size_t errlen);

/* write(2) all of @buf through @io, retrying short writes and EINTR. 0 or a negative errno. */
int store_write_all(const struct store_io *io, int fd, const void *buf, size_t len);

/* fsync the directory @rel (relative to the store) through s->io. */
int store_fsync_dir(struct store *s, const char *rel, char *err, size_t errlen);

/* opendir @rel relative to the store; NULL with errno. */
DIR *store_open_subdir(struct store *s, const char *rel);

/* The loaded dictionary of hash @h (NULL -> *out = NULL), loading dicts/ if needed. */
int store_dict_lookup(struct store *s, const struct store_hash *h, const struct dict **out,
		      char *err, size_t errlen);

/*
 * Start the compression workers (0 = one per online CPU) and their ring of @queue jobs
 * (0 = twice the workers). On failure the started ones are left for store_pool_stop.
 */
int store_pool_start(struct store *s, unsigned threads, unsigned queue, char *err, size_t errlen);

/* Let the workers finish the queue, join them, free the ring. Safe on a pool never started. */
void store_pool_stop(struct store *s);

/* Free every loaded dictionary (store_close). */
void store_dicts_free(struct store *s);

/* (Re)build the index from packs/ *.idx. 0 or a negative errno with a message. */
int store_index_load(struct store *s, char *err, size_t errlen);

/* Look up @h under the read lock: true and *out if indexed. */
bool store_index_find(struct store *s, const struct store_hash *h, struct ixloc *out);

/*
 * Add or replace chunk @h at @loc (takes the write lock). If @only_new and @h is indexed
 * already, does nothing and returns 1. 0, 1, -ENOMEM, -EOVERFLOW (@loc beyond what a slot
 * holds) or -EROFS (a lean index).
 */
int store_index_put(struct store *s, const struct store_hash *h, const struct ixloc *loc,
		    bool only_new);

/* Add a pack to store.packs (write lock held by the caller); its number, or -ENOMEM. */
int64_t store_index_add_pack(struct store *s, const char *name, int fd);

/* Where @h is: true and *out, or false; the caller holds ixlock (read or write). */
bool store_index_find_locked(struct store *s, const struct store_hash *h, struct ixloc *out);

/*
 * The descriptor of pack @no, opened on first use; the caller holds ixlock (a reload, which
 * closes descriptors, takes it for writing). -ENOENT if the pack is gone.
 */
int store_index_pack_fd_locked(struct store *s, uint32_t no);

/* Free the index and close the packs (store_close). */
void store_index_free(struct store *s);

/* Free the tables of @t and empty it. */
void store_ixtable_free(struct ixtable *t);

/*
 * Parse the pack index open as @fd, a block at a time: its header, then its lines with
 * store_index_parse and @fn. 0, -EINVAL (damaged), @fn's nonzero return, or -errno.
 */
int store_index_parse_fd(int fd, store_index_fn fn, void *arg);

/*
 * Build a lean table of the indexes of @packs (@npacks, numbered as there) in packs/, open as
 * @dfd, into @t: an index that is damaged is skipped. No packs: an empty table. 0 or -errno.
 */
int store_lean_load(struct ixtable *t, int dfd, const struct pack *packs, size_t npacks);

/* Where @h is in the lean table @t: true and *out, or false. */
bool store_lean_find(const struct ixtable *t, const struct store_hash *h, struct ixloc *out);

/* Read the whole file @rel (relative to @dirfd) up to @limit bytes into a malloc'd buffer. */
int store_read_file(int dirfd, const char *rel, size_t limit, unsigned char **out, size_t *len);

/*
 * Append @n compressed frames, back to back in @buf, to the open pack (opening one if none is)
 * with one write, index them, and close the pack once it reaches STORE_PACK_TARGET. 0 or a
 * negative errno with a message; on failure none of them is indexed.
 */
int store_pack_append(struct store *s, const struct frame *f, unsigned n, const void *buf,
		      char *err, size_t errlen);

/* Make the open pack durable and give it its name (see store.h); no pack open = 0. */
int store_pack_finish(struct store *s, char *err, size_t errlen);

/* Drop the open pack's temp files (store_close after an error: nothing was promised). */
void store_pack_abandon(struct store *s);

/* A fresh random pack NAME (16 hex digits) into @name (17 bytes). */
int store_pack_name(char name[17]);

#endif
