/*
 * backups_chunks.h - the chunk lists of a manifest as backups/ keeps them: not in memory, but
 * as checkpoints into the manifest's text, read back a few lines at a time when a file is read.
 *
 * What a newcomer must know: the manifest of a 1 GiB dump names some 260,000 chunks, 20 MiB of
 * text that would be 14 MiB parsed. backups/ parses a manifest lazily (manifest_parse_fd with
 * backups_chunks_add) and keeps, for every BACKUPS_CHUNKS_EVERY-th chunk of each file, where its
 * line is and the plain and stored offsets it starts at: 24 bytes for 16 chunks. A cursor
 * (struct backups_citer) starts at the checkpoint before the chunk it is asked for and reads the
 * lines from there with pread, through the page cache, from the manifest file held open (a
 * snapshot pruned meanwhile stays readable). The lines were checked when the manifest was
 * parsed; a cursor checks them again (manifest_chunk_fields) and calls anything else damage.
 * The price: a cold read of a dump reads its lines too, some 7% more bytes (77 bytes of text
 * for a frame of about 1.1 KiB), which backups_chunks_text lets a reader ask for ahead.
 *
 * Thread safety: built by one thread (the parse); then read-only, and cursors, which belong to
 * one thread each, may read it from several.
 */
#ifndef STATEFS_BACKUPS_CHUNKS_H
#define STATEFS_BACKUPS_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/manifest.h"

#define BACKUPS_CHUNKS_EVERY 16 /* chunks of a file between two checkpoints */

struct backups_chunks;

/* An empty set of checkpoints. 0 or -ENOMEM. */
int backups_chunks_new(struct backups_chunks **out);
void backups_chunks_free(struct backups_chunks *k); /* NULL is a no-op */

/* A manifest_chunk_fn (@k is the struct backups_chunks) for a lazy parse. 0 or -ENOMEM. */
int backups_chunks_add(void *k, size_t entry, size_t i, const struct manifest_chunk *c,
		       uint64_t at);

/* The parse is over: the manifest has @n entries. 0 or -ENOMEM. */
int backups_chunks_seal(struct backups_chunks *k, size_t n);

/* The memory @k holds, in bytes. */
size_t backups_chunks_bytes(const struct backups_chunks *k);

/* The stored size of file entry @entry: the sum of its chunks' ZLENs. */
uint64_t backups_chunks_zsize(const struct backups_chunks *k, size_t entry);

/*
 * The first checkpoint of file entry @entry (@nchunks chunks) whose stored offset is at least
 * @zoff: its chunk index (a multiple of BACKUPS_CHUNKS_EVERY), and its stored offset in *at;
 * @nchunks and the file's stored size if there is none.
 */
size_t backups_chunks_zmark(const struct backups_chunks *k, size_t entry, size_t nchunks,
			    uint64_t zoff, uint64_t *at);

/*
 * Where in the text the lines of chunks @from to @to of file entry @entry lie, about: from the
 * checkpoint at or before @from to the one after @to (or a little past the last). For a
 * read-ahead hint.
 */
void backups_chunks_text(const struct backups_chunks *k, size_t entry, size_t from, size_t to,
			 uint64_t *start, uint64_t *end);

/* Where a cursor starts: at chunk @key, or at the chunk holding plain or stored byte @key. */
enum backups_by { BACKUPS_BY_INDEX, BACKUPS_BY_OFF, BACKUPS_BY_ZOFF };

/* A cursor over the chunks of one file. */
struct backups_citer {
	int fd;		    /* the manifest's text */
	size_t i, n;	    /* the next chunk's index; the file's chunks */
	uint64_t off, zoff; /* the next chunk's plain and stored offsets */
	uint64_t at;	    /* where buf[0] is in the text */
	size_t pos, len;    /* the next line is at buf[pos]; bytes in buf */
	char buf[16384];
};

/*
 * Start @it on file entry @entry of @m, a manifest parsed lazily into @k, whose text is open as
 * @fd. 0; -ERANGE if @key is past the end (no byte @key, or @key > nchunks: a cursor started
 * at chunk nchunks is at the end); -EIO if the text is not what was parsed; -errno.
 */
int backups_citer_start(struct backups_citer *it, const struct backups_chunks *k, int fd,
			const struct manifest *m, size_t entry, enum backups_by by, uint64_t key);

/*
 * The next chunk: 1 with *c (offset set) and its stored offset in *zoff (may be NULL); 0 at the
 * end of the file; -EIO if the text is not what was parsed; -errno.
 */
int backups_citer_next(struct backups_citer *it, struct manifest_chunk *c, uint64_t *zoff);

#endif
