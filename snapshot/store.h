/*
 * store.h - the content-addressed chunk store: STATE_DIR/store/chunks/ and STATE_DIR/store/dicts/.
 *
 * A chunk is a run of bytes (a piece of a file or of a dump) stored once, whatever how many
 * snapshots name it, in
 *
 *     STATE_DIR/store/chunks/ab/ab12...ef      (mode 0600, directories 0700)
 *
 * named by the lowercase hex SHA-256 of its plain content ("ab" = the first two hex digits), and
 * holding exactly one complete zstd frame of that content (content size and checksum recorded,
 * dictionary id recorded when a dictionary was used). So `zstd -d < chunk` gives the content back
 * without statefs (with `-D STATE_DIR/store/dicts/<hash>` when the frame needs a dictionary).
 * docs/format.md describes the layout; manifests (manifest.h) list which chunks make a file.
 *
 * Writing a chunk: temp file "tmp.*" in the same directory, write, fsync, rename to its name.
 * A chunk name therefore never points at a partial file. The directory fsyncs are batched: a
 * chunk put since the last store_flush() may vanish in a crash, so a caller must store_flush()
 * (and see it return 0) before it writes a manifest that names the chunk.
 *
 * Compression can run on worker threads (store_put_async): the queue is bounded, so memory is
 * bounded by about (threads + queue) * chunk size whatever the input size. Errors of
 * asynchronous puts are reported by the next store_flush().
 *
 * Thread safety: store_get(), store_has() and store_put() may be called from several threads;
 * store_put_async(), store_put_fd() and store_flush() from one producer thread at a time.
 */
#ifndef STATEFS_STORE_H
#define STATEFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot/chunker.h"

#define STORE_HASH_LEN 32		      /* SHA-256 */
#define STORE_HEX_LEN (2 * STORE_HASH_LEN)    /* without the NUL */
#define STORE_LEVEL_DEFAULT 3		      /* zstd level */
#define STORE_CHUNK_LIMIT (64u * 1024 * 1024) /* largest chunk put or get accepts */
#define STORE_DICT_LIMIT (16u * 1024 * 1024)  /* largest dictionary */

struct store_hash {
	uint8_t b[STORE_HASH_LEN];
};

/*
 * The file operations the store writes with, in the calling convention of the system calls
 * (return -1 and set errno on failure). Tests replace them to make a write fail with ENOSPC or
 * an fsync with EIO, the way SQLite tests I/O errors. They are called from worker threads too,
 * so replacements must be thread-safe. Reads do not go through here.
 */
struct store_io {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
	int (*unlinkat)(int dirfd, const char *path, int flags);
};

/* The real system calls. */
extern const struct store_io store_io_default;

struct store_opts {
	int level;	  /* zstd level; 0 = STORE_LEVEL_DEFAULT */
	unsigned threads; /* compression workers; 0 = the number of online CPUs */
	unsigned queue;	  /* chunks waiting for a worker at most; 0 = 2 * threads */
	bool readonly;	  /* only get/has: creates nothing, starts no thread, put gives -EROFS */
	const struct store_io *io; /* NULL = &store_io_default; must outlive the store */
};

struct store_stats {
	uint64_t chunks_new;  /* chunks written */
	uint64_t chunks_dup;  /* puts that found the chunk already stored */
	uint64_t bytes_plain; /* plain bytes of the chunks written */
	uint64_t bytes_disk;  /* compressed bytes of the chunks written */
};

struct store;

/*
 * Open the store of @state_dir (STATE_DIR/store). Unless opts->readonly, creates what is missing
 * (the state dir itself, store/, store/chunks/00..ff, store/dicts, store/snapshots, all 0700;
 * existing directories keep their modes) and starts the workers. @opts may be NULL for defaults.
 * 0 and *out, or a negative errno with a message in @err.
 */
int store_open(const char *state_dir, const struct store_opts *opts, struct store **out, char *err,
	       size_t errlen);

/*
 * Finish the queued puts, stop the workers and free the store. Errors of queued puts are lost:
 * call store_flush() first to learn them. NULL is a no-op.
 */
void store_close(struct store *s);

/* SHA-256 of @len bytes: the name a chunk of that content has. 0, or -ENOMEM (libcrypto). */
int store_hash_data(const void *data, size_t len, struct store_hash *out);

/* Lowercase hex of @h into @hex (STORE_HEX_LEN + 1 bytes, NUL-terminated). */
void store_hash_hex(const struct store_hash *h, char *hex);

/* Parse exactly STORE_HEX_LEN lowercase hex digits (no NUL needed after them). 0 or -EINVAL. */
int store_hash_parse(const char *hex, struct store_hash *out);

/* The chunk's path relative to STATE_DIR/store: "chunks/ab/ab12...". @buf: 72 bytes or more. */
void store_chunk_relpath(const struct store_hash *h, char *buf, size_t buflen);

/* Is the chunk stored? (Its name exists; the content is checked only by store_get.) */
bool store_has(struct store *s, const struct store_hash *h);

/*
 * Store @len bytes (len <= STORE_CHUNK_LIMIT) as one chunk, compressing in the calling thread,
 * with the dictionary @dict (NULL = none; else one given to store_dict_add() or found by
 * store_dict_load()). Sets *out to the chunk's hash. Returns 1 if the chunk was stored already
 * (nothing written), 0 if it was written, or a negative errno (-ENOSPC, -EIO, ...) with a
 * message, in which case no chunk of that name was created and no temp file is left.
 * Durable after the next successful store_flush().
 */
int store_put(struct store *s, const void *data, size_t len, const struct store_hash *dict,
	      struct store_hash *out, char *err, size_t errlen);

/*
 * The same, but compression and writing happen on a worker: the data is copied, its hash is
 * set in *out at once, and the call blocks only while the queue is full. Returns 1 if the chunk
 * was stored already, 0 if it was queued, or a negative errno for what can fail now (-ENOMEM,
 * -EINVAL, an unknown @dict, or the error of an earlier put not yet reported by store_flush(),
 * after which queued puts are dropped until store_flush() reports it).
 */
int store_put_async(struct store *s, const void *data, size_t len, const struct store_hash *dict,
		    struct store_hash *out, char *err, size_t errlen);

/*
 * Wait until every queued put is written, fsync the directories that got new names, and
 * return the first error since the last store_flush() (0 if none) with its message. Clears it.
 */
int store_flush(struct store *s, char *err, size_t errlen);

/* Called by store_put_fd for each chunk, in file order; a nonzero return stops and is returned. */
typedef int (*store_chunk_fn)(void *arg, const struct store_hash *h, uint64_t size);

/*
 * Chunk what can be read from @fd until EOF with the chunker and @params (NULL = the defaults),
 * put every chunk asynchronously, and call @fn for each. 0 or a negative errno with a message.
 * The chunks are durable only after store_flush().
 */
int store_put_fd(struct store *s, int fd, const struct chunker_params *params,
		 const struct store_hash *dict, store_chunk_fn fn, void *arg, char *err,
		 size_t errlen);

/*
 * Read chunk @h: decompress it into a malloc'd buffer (*out, *len; free() it) and check that the
 * content hashes to @h. 0; -ENOENT if there is no such chunk; -EIO with a message naming the
 * chunk if it is damaged (not one zstd frame, bad checksum, hash mismatch) or needs a dictionary
 * that is not in dicts/; -ENOMEM.
 */
int store_get(struct store *s, const struct store_hash *h, void **out, size_t *len, char *err,
	      size_t errlen);

/*
 * Add a zstd dictionary (as trained by ZDICT_trainFromBuffer or `zstd --train`; it must carry a
 * nonzero dictionary id) as STATE_DIR/store/dicts/<sha256 of its bytes>, written like a chunk,
 * and load it. *id = its hash, which is what store_put takes. 0; -EINVAL if it is not a zstd
 * dictionary; -EEXIST if another stored dictionary has the same zstd dictionary id.
 */
int store_dict_add(struct store *s, const void *dict, size_t len, struct store_hash *id, char *err,
		   size_t errlen);

/* Load every dictionary in dicts/ (store_get does this by itself when a frame needs one). */
int store_dict_load(struct store *s, char *err, size_t errlen);

/*
 * Remove temp files ("tmp.*") left in chunks/, dicts/ and snapshots/ by a crash, if their mtime
 * is at least @min_age seconds old (0 = all: only when nothing else writes to the store).
 * Sets *removed (may be NULL). 0 or a negative errno with a message.
 */
int store_cleanup_tmp(struct store *s, unsigned min_age, unsigned *removed, char *err,
		      size_t errlen);

/*
 * Remove the temp files ("tmp.*") of chunks/, dicts/ and snapshots/ whose writer is gone: the
 * process whose pid the name holds (as the store and manifest_write name them: "tmp.NAME.PID"
 * or "tmp.NAME.PID.SEQ") runs no more, or the name holds no pid and the file is a day old.
 * Safe while other processes write: their temp files carry live pids. Sets *removed (may be
 * NULL). 0 or a negative errno with a message.
 */
int store_cleanup_orphans(struct store *s, unsigned *removed, char *err, size_t errlen);

/* Counters since store_open (a consistent copy). */
void store_get_stats(struct store *s, struct store_stats *out);

#endif
