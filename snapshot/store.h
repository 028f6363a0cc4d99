/*
 * store.h - the content-addressed chunk store: STATE_DIR/store/packs/ and STATE_DIR/store/dicts/.
 *
 * A chunk is a run of bytes (a piece of a file or of a dump) stored once, whatever how many
 * snapshots name it. It is named by the SHA-256 of its plain content and stored as exactly one
 * complete zstd frame of that content (content size and checksum recorded, dictionary id
 * recorded when a dictionary was used), appended to a pack file:
 *
 *     STATE_DIR/store/packs/NAME.pack   zstd frames, one per chunk, back to back (0600)
 *     STATE_DIR/store/packs/NAME.idx    text: a header line, then "HASH OFFSET ZLEN" per chunk
 *
 * NAME is 16 random hex digits. A pack counts only once its .idx exists: a writer fills
 * "tmp.*" files, fsyncs the pack, renames it to NAME.pack, fsyncs and renames the index to
 * NAME.idx, then fsyncs packs/. So an index never names bytes that are not durably there, and a
 * crash leaves only temp files or a pack without index, both of which nothing reads. A chunk is
 * recovered without statefs by cutting its frame out of the pack (dd skip=OFFSET count=ZLEN
 * with iflag=skip_bytes,count_bytes) into `zstd -d` (with `-D STATE_DIR/store/dicts/<hash>`
 * when the frame needs a dictionary); docs/format.md has the recipe.
 *
 * Why packs and not a file per chunk: row-aware dump chunks average a few KiB, so a file per
 * chunk costs a create, an fsync and a rename each (tens of thousands per snapshot) and rounds
 * every chunk up to the filesystem block; a pack costs three fsyncs per snapshot and no rounding.
 *
 * The store keeps an index of every chunk in memory (44 bytes a slot, about 55 a chunk: 1
 * million chunks, some 4 GiB of compressed data, take 55 MiB), loaded from packs/ *.idx at open.
 * A lean read-only store (store_opts.lean) keeps 20 bytes a slot: the hash's first 64 bits and
 * where the frame is. Chunks put since the last store_flush() are in the open pack and become
 * durable at the next store_flush(), which a caller must see return 0 before it writes a
 * manifest naming them.
 *
 * Compression can run on worker threads (store_put_async): the queue is bounded, so memory is
 * bounded by about (threads + queue) * chunk size whatever the input size. Errors of
 * asynchronous puts are reported by the next store_flush().
 *
 * Thread safety: store_get(), store_has(), store_stat() and store_put() may be called from
 * several threads; store_put_async(), store_put_fd(), store_flush() and store_sweep() from one
 * producer thread at a time.
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
#define STORE_LEVEL_DEFAULT 1		      /* zstd level */
#define STORE_CHUNK_LIMIT (64u * 1024 * 1024) /* largest chunk put or get accepts */
#define STORE_DICT_LIMIT (16u * 1024 * 1024)  /* largest dictionary */
#define STORE_OFF_LIMIT (1ull << 40)	      /* a frame ends at most this far into its pack */

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
	/*
	 * With readonly: index chunks by the first 64 bits of their hashes only (20 bytes a slot,
	 * not 44). Every stored chunk is still found by its own hash (stored chunks whose first 64
	 * bits are equal are told apart at open, from their indexes), but a hash that is not
	 * stored is taken for a stored one that shares those 64 bits: with n chunks stored, a
	 * chance of n in 2^64. For a reader of chunks that manifests name, which either checks
	 * what it reads (store_get hashes the content) or serves the frames as they are.
	 * store_each gives -EOPNOTSUPP.
	 */
	bool lean;
	const struct store_io *io; /* NULL = &store_io_default; must outlive the store */
};

struct store_stats {
	uint64_t chunks_new;  /* chunks written (or queued, until store_flush) */
	uint64_t chunks_dup;  /* puts that found the chunk already stored */
	uint64_t bytes_plain; /* plain bytes of the chunks written */
	uint64_t bytes_disk;  /* compressed bytes of the chunks written */
};

struct store;

/*
 * Open the store of @state_dir (STATE_DIR/store) and load its pack indexes. Unless
 * opts->readonly, creates what is missing (the state dir itself, store/, store/packs,
 * store/dicts, store/snapshots, all 0700; existing directories keep their modes) and starts
 * the workers. A damaged index is skipped with its chunks (check reports them missing). @opts may be NULL for defaults.
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

/* "chunk ab12cd34ef56..." (the first 16 hex digits), for messages. @buf: 32 bytes or more. */
void store_chunk_name(const struct store_hash *h, char *buf, size_t buflen);

/* Is the chunk stored? (An index names it; the content is checked only by store_get.) */
bool store_has(struct store *s, const struct store_hash *h);

/* Where a stored chunk's frame is. */
struct store_loc {
	char pack[17];	/* NAME of packs/NAME.pack */
	uint64_t off;	/* of its zstd frame in the pack */
	uint64_t zlen;	/* the frame's size: what manifests record as ZLEN */
};

/*
 * Where chunk @h is stored. 0, or -ENOENT. A read-only store looks at packs/ again first when
 * @h is unknown and packs/ changed since it last looked (a snapshot or a sweep ran meanwhile).
 */
int store_stat(struct store *s, const struct store_hash *h, struct store_loc *loc);

/*
 * A read-only store: look at packs/ again if it changed since the indexes were loaded (a
 * snapshot or a sweep ran), reloading them; descriptors of packs a sweep removed are closed
 * then. 1 if it reloaded, 0 if nothing changed (or the store is writable).
 */
int store_refresh(struct store *s);

/*
 * An open descriptor of chunk @h's pack (owned by the store: do not close it) and its location,
 * for posix_fadvise read-ahead. 0, -ENOENT, or another negative errno.
 */
int store_pack_fd(struct store *s, const struct store_hash *h, int *fd, struct store_loc *loc);

/* The zstd frame header of a stored chunk: a few bytes are read, not the content. */
struct store_header {
	unsigned dict_id; /* the zstd dictionary id the frame records; 0 = none */
	uint64_t size;	  /* its content size; UINT64_MAX if the frame does not record it */
	uint64_t zlen;	  /* the frame's size as the index records it */
};

/*
 * 0; -ENOENT if not stored; -EIO if the pack holds no zstd frame header there; -ENODATA if the
 * pack ends before the frame does (cut short: found without reading the frame).
 */
int store_chunk_header(struct store *s, const struct store_hash *h, struct store_header *out);

/* Called by store_each for each stored chunk, in no particular order; nonzero stops. */
typedef int (*store_each_fn)(void *arg, const struct store_hash *h, const struct store_loc *loc);

/*
 * Call @fn for every chunk the indexes name (each once). 0, -ENOMEM, -EOPNOTSUPP (a lean store),
 * or @fn's nonzero return.
 */
int store_each(struct store *s, store_each_fn fn, void *arg);

/* Does a sweep keep chunk @h? */
typedef bool (*store_keep_fn)(void *arg, const struct store_hash *h);

struct store_sweep_opts {
	store_keep_fn keep;
	void *arg;
	bool dry_run;	   /* count only */
	unsigned min_dead; /* percent of a pack's bytes that must be dead before it is rewritten */
};

struct store_sweep_stats {
	uint64_t chunks;	/* chunks the indexes name */
	uint64_t chunks_removed; /* dead chunks whose bytes went (dry run: would go) */
	uint64_t bytes_removed;
	uint64_t chunks_kept_dead; /* dead chunks left in packs not worth rewriting */
	uint64_t bytes_kept_dead;
	unsigned packs;		/* packs with an index */
	unsigned packs_rewritten; /* their live chunks copied to a new pack, then removed */
	unsigned packs_removed;	  /* removed whole: nothing live in them, or no index */
	uint64_t bytes_copied;	  /* of live frames into new packs */
};

/*
 * Remove the chunks for which opts->keep returns false: a pack whose dead bytes are at least
 * opts->min_dead percent of it has its live frames copied (not recompressed) into a new pack,
 * which is made durable before the old pack and index go; a pack with nothing live goes whole;
 * so do packs left without an index by a crash. A pack whose index is damaged is left alone
 * (its chunks are missing to the store; a repair could still read its frames). The caller holds the sweep lock (lock.h: no
 * other writer). 0 or a negative errno with a message; a failure leaves every live chunk
 * readable.
 */
int store_sweep(struct store *s, const struct store_sweep_opts *opts, struct store_sweep_stats *st,
		char *err, size_t errlen);

/*
 * Parse the text of a pack index (everything after its header line): "HASH OFFSET ZLEN\n" per
 * chunk, decimal numbers, OFFSET + ZLEN <= STORE_OFF_LIMIT (2^40), ZLEN > 0. Calls @fn per line; a
 * nonzero return stops and is returned. 0, or -EINVAL with the 1-based line number in *bad_line.
 * (For the store and for fuzzing: these are bytes a disk hands us.)
 */
typedef int (*store_index_fn)(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen);
int store_index_parse(const char *buf, size_t len, store_index_fn fn, void *arg, size_t *bad_line);

#define STORE_INDEX_HEADER "statefs pack index 1: HASH OFFSET ZLEN\n"

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
 * Wait until every queued put is written, make the open pack durable (pack, index, packs/, as
 * above) and dicts/ if a dictionary was added, and return the first error since the last
 * store_flush() (0 if none) with its message. Clears it.
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
 * chunk and its pack if it is damaged (not one zstd frame, bad checksum, hash mismatch, cut
 * short) or needs a dictionary that is not in dicts/; -ENOMEM.
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
 * Remove temp files ("tmp.*") left in packs/, dicts/ and snapshots/ by a crash, if their mtime
 * is at least @min_age seconds old (0 = all: only when nothing else writes to the store).
 * Sets *removed (may be NULL). 0 or a negative errno with a message.
 */
int store_cleanup_tmp(struct store *s, unsigned min_age, unsigned *removed, char *err,
		      size_t errlen);

/*
 * Remove the temp files ("tmp.*") of packs/, dicts/ and snapshots/ whose writer is gone: the
 * process whose pid the name holds (as the store and manifest_write name them: "tmp.NAME.PID"
 * or "tmp.NAME.PID.SEQ") runs no more, or the name holds no pid and the file is a day old.
 * Safe while other processes write: their temp files carry live pids. Sets *removed (may be
 * NULL). 0 or a negative errno with a message.
 */
int store_cleanup_orphans(struct store *s, unsigned *removed, char *err, size_t errlen);

/* Counters since store_open (a consistent copy). */
void store_get_stats(struct store *s, struct store_stats *out);

#endif
