/*
 * manifest.h - the manifest of one snapshot: STATE_DIR/store/snapshots/<name>, a text file.
 *
 * A manifest says what a snapshot holds: every file, directory and symlink with its metadata,
 * and for a file the list of chunks (store.h) whose contents, concatenated, are the file. It is
 * written last, atomically, after the chunks are durable (store_flush), so a snapshot exists
 * exactly when its manifest does. It is meant to be read by awk and sed as well as by statefs
 * (docs/format.md, docs/recover-file.sh). The grammar, one item per line, every line ending
 * in "\n", fields separated by one space:
 *
 *     statefs-snapshot 1                      header, exactly
 *     time 1759284000                         seconds since the epoch when the snapshot began
 *     commit 3f2a...e1 | commit -             config.git commit (40 or 64 lowercase hex), or none
 *     status complete | status incomplete     incomplete: something could not be saved ...
 *     reason TEXT                             ... and why, one or more lines (only then)
 *     info KEY VALUE                          figures about the snapshot, zero or more, by KEY
 *     ENTRY*                                  sorted by path (bytewise), no path twice
 *     end                                     last line: a manifest without it is cut off
 *
 * where ENTRY is one of
 *
 *     f MODE UID GID SIZE MTIME CTIME INO PATH      a regular file, followed by
 *       c SHA256 LEN ZLEN                             its chunks in order (none if SIZE is 0),
 *       table OFFSET NAME                             then, for a database dump, where each
 *                                                     table's part starts (offsets
 *                                                     nondecreasing, <= SIZE)
 *     d MODE UID GID 0 MTIME CTIME INO PATH         a directory
 *     l MODE UID GID SIZE MTIME CTIME INO PATH      a symbolic link, followed by
 *       t TARGET                                      its target (SIZE = its length in bytes)
 *
 * (no indentation in the file). MODE: four octal digits, the permission, set-id and sticky
 * bits. UID, GID, SIZE, INO, LEN, ZLEN, OFFSET, VALUE: decimal, no leading zeros; UID and GID
 * at most 4294967294 ((uid_t)-1 is never an owner), as in .statefs-meta. MTIME, CTIME:
 * nanoseconds since the epoch, decimal, may be negative (CTIME 0 when unknown). SHA256: 64
 * lowercase hex digits, the chunk's name in the store (store.h). LEN >= 1; the LENs of a file add
 * up to its SIZE, so the chunk holding byte N is found by prefix sums. ZLEN >= 1 is the size
 * of the chunk's file in the store (its zstd frame): the chunk files of a file concatenated
 * are a zstd stream of the sum of its ZLENs bytes (what backups/ serves for a db/ dump). INO
 * is the inode number when the file was read (0 if unknown); the uploads walker compares
 * (SIZE, MTIME, CTIME, INO) with the previous snapshot to reuse a chunk list. KEY: 1 to 32 of
 * [a-z0-9_], starting with a letter, strictly increasing (bytewise), e.g. "bytes_read".
 * PATH (relative, '/'-separated, no empty, "." or ".." component), TEXT, TARGET and NAME run to
 * the end of the line and are escaped: a byte below 0x20, DEL (0x7f), a backslash, and a space
 * that comes first are written as \ooo (three octal digits); nothing else is. They are never
 * empty and never contain NUL.
 *
 * manifest_parse() accepts exactly what manifest_format() writes (so formatting a parsed
 * manifest gives the same bytes back) and rejects anything else with a message naming the line.
 *
 * Snapshot names are "YYYY-MM-DD" (local time), or "YYYY-MM-DD_HHMMSS" for a second snapshot
 * on the same day; both sort by time as strings.
 */
#ifndef STATEFS_MANIFEST_H
#define STATEFS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "snapshot/store.h"

#define MANIFEST_VERSION 1
#define MANIFEST_NAME_MAX 18 /* "YYYY-MM-DD_HHMMSS" + NUL */

struct manifest_chunk {
	struct store_hash hash;
	uint64_t len;	 /* plain bytes, >= 1 */
	uint64_t zlen;	 /* bytes of its zstd frame in the store; 0 = not known yet */
	uint64_t offset; /* where it starts in the file: the sum of the lens before it */
};

struct manifest_table {
	char *name;
	uint64_t offset; /* of the table's first byte in the file */
};

struct manifest_entry {
	char type;   /* 'f', 'd' or 'l' */
	mode_t mode; /* mode & 07777 */
	uid_t uid;
	gid_t gid;
	uint64_t size; /* 'f': sum of chunk lens; 'l': strlen(target); 'd': 0 */
	int64_t mtime_ns;
	int64_t ctime_ns; /* 0 = unknown; set by manifest_add_stat (or by hand) */
	uint64_t ino;
	char *path;
	char *target;		       /* 'l' only, else NULL */
	struct manifest_chunk *chunks; /* 'f' only */
	size_t nchunks, chunks_cap;
	struct manifest_table *tables; /* 'f' only */
	size_t ntables, tables_cap;
};

struct manifest_info {
	char key[33]; /* [a-z][a-z0-9_]{0,31} */
	uint64_t value;
};

struct manifest {
	int64_t time;	 /* seconds since the epoch */
	char commit[65]; /* lowercase hex, or "" for none */
	char **reasons;	 /* why it is incomplete; nreasons == 0 means complete */
	size_t nreasons;
	struct manifest_info *infos; /* sorted by key */
	size_t ninfos;
	struct manifest_entry *v;
	size_t n, cap;
	bool sorted; /* internal: v is sorted by path */
	bool lazy; /* parsed without its chunk lines (manifest_parse_read with a chunk function) */
};

/* An empty, complete manifest with time 0 and no commit. */
void manifest_init(struct manifest *m);
void manifest_free(struct manifest *m);

/* Set the config commit: 40 or 64 lowercase hex digits, or NULL / "" for none. 0 or -EINVAL. */
int manifest_set_commit(struct manifest *m, const char *hex);

/*
 * Mark the snapshot incomplete, with a reason for the operator (printf-style; one line, not
 * empty, no NUL; other control characters are escaped). 0, -EINVAL or -ENOMEM.
 */
int manifest_add_reason(struct manifest *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Set figure @key (see the grammar) to @value, replacing an earlier value. 0, -EINVAL for a bad
 * key, -ENOMEM.
 */
int manifest_set_info(struct manifest *m, const char *key, uint64_t value);

/* The value of figure @key: 0 and *value, or -ENOENT. */
int manifest_get_info(const struct manifest *m, const char *key, uint64_t *value);

/*
 * Add an entry, with CTIME 0 (set e->ctime_ns through @out if it is known). @type 'f', 'd' or
 * 'l'; @target is required for 'l' and must be NULL otherwise.
 * Sets *out (may be NULL) to the entry, valid until the next manifest_add*: add the chunks and
 * tables of a file before adding the next entry. 0; -EINVAL for a bad type, mode, path or
 * target, or a uid or gid of -1; -ENOMEM. Duplicate paths are detected by manifest_format().
 */
int manifest_add(struct manifest *m, char type, const char *path, mode_t mode, uid_t uid, gid_t gid,
		 int64_t mtime_ns, uint64_t ino, const char *target, struct manifest_entry **out);

/* The same with type, mode, owner, mtime, ctime and inode from @st; -EINVAL for other types. */
int manifest_add_stat(struct manifest *m, const char *path, const struct stat *st,
		      const char *target, struct manifest_entry **out);

/*
 * Append a chunk of @len (>= 1) plain bytes to file entry @e; grows e->size. Its stored size
 * (ZLEN) is left unknown: manifest_write() takes it from the store. 0, -EINVAL, -ENOMEM.
 */
int manifest_add_chunk(struct manifest_entry *e, const struct store_hash *h, uint64_t len);

/* The same when the chunk's stored size @zlen is known (0 = unknown). */
int manifest_add_chunk_z(struct manifest_entry *e, const struct store_hash *h, uint64_t len,
			 uint64_t zlen);

/*
 * Record that table @name starts at @offset of dump file @e. Offsets must come in nondecreasing
 * order; each must be <= the file's final size (checked by manifest_format). 0, -EINVAL, -ENOMEM.
 */
int manifest_add_table(struct manifest_entry *e, const char *name, uint64_t offset);

/*
 * Check @m and serialise it (entries sorted by path) into a malloc'd buffer (*out, *len).
 * 0; -EINVAL with a message if @m breaks a rule above (duplicate path, table offset past the
 * end, a chunk whose ZLEN is unknown) or was parsed lazily; -ENOMEM.
 */
int manifest_format(struct manifest *m, char **out, size_t *len, char *err, size_t errlen);

/*
 * Parse @len bytes (not NUL-terminated) into @m, which must be freshly initialised (on failure
 * it may hold part of the input; manifest_free it either way). 0, or -EINVAL with a message
 * "line N: ..." in @err; -ENOMEM.
 */
int manifest_parse(struct manifest *m, const char *buf, size_t len, char *err, size_t errlen);

/* Give up to @len bytes of the input: the count (0 at its end), or a negative errno. */
typedef ssize_t (*manifest_read_fn)(void *arg, void *buf, size_t len);

/*
 * Called by a lazy parse for each chunk line of file entry m->v[@entry], in order: @i is its
 * index in the file, @c the chunk (c->offset set), @at where its line ("c ...") starts in the
 * input. A nonzero return stops the parse and is returned.
 */
typedef int (*manifest_chunk_fn)(void *arg, size_t entry, size_t i, const struct manifest_chunk *c,
				 uint64_t at);

/*
 * manifest_parse of what @read gives, read a block at a time (the text is never held whole). With
 * @chunk, the parse is lazy: the chunk lines are checked as manifest_parse checks them and given
 * to @chunk, not kept: a file entry has its nchunks and size but no chunks (NULL), m->lazy is
 * set, and manifest_format refuses @m. 0, -EINVAL with a message, -ENOMEM, @read's error, or
 * @chunk's nonzero return.
 */
int manifest_parse_read(struct manifest *m, manifest_read_fn read, void *rarg,
			manifest_chunk_fn chunk, void *carg, char *err, size_t errlen);

/* manifest_parse_read from the file open as @fd, from its current offset. */
int manifest_parse_fd(struct manifest *m, int fd, manifest_chunk_fn chunk, void *carg, char *err,
		      size_t errlen);

/*
 * Parse what follows "c " on a chunk line: "SHA256 LEN ZLEN", @len bytes without the newline,
 * by the rules manifest_parse applies (for a reader that reads a lazy manifest's chunk lines
 * again). 0 with c->hash, c->len and c->zlen set, or -EINVAL with *what naming the bad field.
 */
int manifest_chunk_fields(const char *p, size_t len, struct manifest_chunk *c, const char **what);

/* The entry for @path, or NULL (binary search; sorts @m if it is not sorted). */
const struct manifest_entry *manifest_find(struct manifest *m, const char *path);

/* The index of the chunk of @e holding byte @offset, or -1 if @offset >= e->size. */
long manifest_chunk_at(const struct manifest_entry *e, uint64_t offset);

/*
 * Write @m as STATE_DIR/store/snapshots/@name (mode 0600) atomically: temp file "tmp.*" in the
 * same directory, fsync, rename without replacing, fsync the directory. The chunks it names must
 * be durable already (store_flush). A chunk whose ZLEN is unknown gets the size of its frame in
 * the store's packs (so @m is changed); a missing one is -ENOENT naming it. 0; -EEXIST if
 * that snapshot exists; -EINVAL for a bad name or manifest; another negative errno for an I/O
 * error, with a message.
 */
int manifest_write(const char *state_dir, const char *name, struct manifest *m, char *err,
		   size_t errlen);

/* Read and parse STATE_DIR/store/snapshots/@name into a fresh @m. 0 or a negative errno. */
int manifest_read(const char *state_dir, const char *name, struct manifest *m, char *err,
		  size_t errlen);

/* Is @name a snapshot name: "YYYY-MM-DD" or "YYYY-MM-DD_HHMMSS", a real date and time? */
bool manifest_name_valid(const char *name);

/*
 * The name for a snapshot taken at @t (local time): "YYYY-MM-DD", or "YYYY-MM-DD_HHMMSS" when
 * @exists says the date alone is taken. @exists returns 1 if a snapshot of that name exists,
 * 0 if not, or a negative errno, which is returned. @out holds MANIFEST_NAME_MAX bytes.
 * 0; -EEXIST if both forms are taken.
 */
int manifest_name_for(time_t t, int (*exists)(void *arg, const char *name), void *arg, char *out);

/* An @exists for manifest_name_for: @arg is the state dir. */
int manifest_exists(void *state_dir, const char *name);

/*
 * The snapshot names in STATE_DIR/store/snapshots, valid ones only, sorted oldest first, as a
 * malloc'd array of malloc'd strings (*names, *n; free with manifest_names_free). 0 or -errno.
 */
int manifest_list(const char *state_dir, char ***names, size_t *n, char *err, size_t errlen);
void manifest_names_free(char **names, size_t n);

#endif
