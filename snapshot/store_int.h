/*
 * store_int.h - what the store's own files (store.c, store_put.c, store_read.c) share.
 *
 * Not an interface: nothing outside snapshot/store*.c includes this; store.h is the interface.
 */
#ifndef STATEFS_STORE_INT_H
#define STATEFS_STORE_INT_H

#include <dirent.h>
#include <pthread.h>
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

struct job {
	struct store_hash hash;
	const struct dict *dict;
	size_t len;
	unsigned char data[];
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
	bool stop;
	pthread_t *workers;
	unsigned nworkers;

	/* Under lock: */
	int error; /* first error since the last store_flush */
	char errmsg[STORE_ERRMSG_LEN];
	uint8_t dirty[256 / 8]; /* chunks/xx directories with new names, by first hash byte */
	bool dirty_dicts;
	struct store_stats stats;
	struct dict *dicts; /* loaded dictionaries; freed by store_close only */
	unsigned long tmp_seq;
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

#endif
