/*
 * backups_file.c - open files of backups/ and history/: a copied buffer (configs, the
 * .statefs-snapshot text), a manifest file read through the chunk cache, or a dump read as
 * its stored frames.
 *
 * A handle is used by several threads at once (the kernel reads ahead in parallel); all it
 * holds is immutable except @next, a hint written without a lock.
 */
#include "fs/backups_file.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum fh_kind {
	FH_MEM,	  /* @mem */
	FH_PLAIN, /* a manifest file, decompressed */
	FH_DUMP,  /* a manifest file, as stored */
};

struct backups_fh {
	enum fh_kind kind;
	char *mem;
	size_t len;
	struct backups_man *man; /* a reference, for FH_PLAIN and FH_DUMP */
	const struct manifest_entry *e;
	size_t entry;	/* e's index in man->m */
	uint64_t zsize; /* FH_DUMP: the stored frames' size */
	uint64_t next;	/* where a sequential reader reads next (atomic hint) */
	size_t warmed;	/* chunks before this one were handed to read-ahead (hint) */
};

#define AHEAD_BYTES (4u << 20) /* a sequential reader has this much read ahead */
#define AHEAD_FILES 64	       /* and an open, at most this many files after it */

int backups_file_info(struct backups_ctx *c, struct backups_root *r, char **out, size_t *len)
{
	struct backups_man *m;
	char when[64] = "";
	struct tm tm;
	time_t t;
	FILE *f;
	int ret;

	if (!r->snap)
		return -ENOENT;
	ret = backups_snap_manifest(c->snaps, r->snap, &m);
	if (ret)
		return ret;
	t = (time_t)m->m.time;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
	*out = NULL;
	f = open_memstream(out, len);
	if (!f) {
		backups_man_put(m);
		return -ENOMEM;
	}
	fprintf(f, "snapshot %s\ntime %s (%lld)\ncommit %s\nstatus %s\n", r->snap->name, when,
		(long long)m->m.time, m->m.commit[0] ? m->m.commit : "none",
		m->m.nreasons ? "incomplete" : "complete");
	for (size_t i = 0; i < m->m.nreasons; i++)
		fprintf(f, "reason %s\n", m->m.reasons[i]);
	backups_man_put(m);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A cursor on file entry @entry of @m, or -errno (a damaged manifest is logged, -EIO). */
static int cursor(const struct backups_man *m, size_t entry, enum backups_by by, uint64_t key,
		  struct backups_citer *it)
{
	int ret = backups_citer_start(it, m->chunks, m->fd, &m->m, entry, by, key);

	if (ret == -EIO)
		fuse_log(FUSE_LOG_ERR,
			 "backups: the chunk lines of %s in its manifest are damaged\n",
			 m->m.v[entry].path);
	return ret;
}

/* The next chunk of @it, as backups_citer_next; a damaged line is logged. */
static int next_chunk(const struct backups_man *m, size_t entry, struct backups_citer *it,
		      struct manifest_chunk *c, uint64_t *zoff)
{
	int ret = backups_citer_next(it, c, zoff);

	if (ret == -EIO)
		fuse_log(FUSE_LOG_ERR,
			 "backups: the chunk lines of %s in its manifest are damaged\n",
			 m->m.v[entry].path);
	return ret;
}

/*
 * Files are mostly read in the manifest's order: cp -a, tar and rsync go through a directory
 * in its listing order, which is the manifest's. So opening entry @i has the chunks of it
 * and of the files after it, up to AHEAD_BYTES or AHEAD_FILES, read ahead: a copy of many
 * small files does not wait on the disk for each one in turn.
 */
static void warm_following(struct backups_ctx *c, const struct backups_man *bm, size_t i)
{
	const struct manifest *m = &bm->m;
	uint64_t bytes = 0;
	size_t end = i, files = 0;

	while (end < m->n && bytes < AHEAD_BYTES && files < AHEAD_FILES) {
		if (m->v[end].type == 'f') {
			bytes += m->v[end].size;
			files++;
		}
		end++;
	}
	for (size_t j = backups_ahead_span(c->ahead, m, i, end); j < end; j++) {
		struct backups_citer it;
		struct manifest_chunk ch;

		if (m->v[j].type != 'f' || cursor(bm, j, BACKUPS_BY_INDEX, 0, &it))
			continue;
		while (next_chunk(bm, j, &it, &ch, NULL) > 0)
			backups_ahead_warm(c->ahead, &ch.hash);
	}
}

static int open_man(struct backups_ctx *c, struct backups_node *n, struct backups_fh *fh)
{
	size_t i;
	int ret;

	ret = backups_snap_manifest(c->snaps, n->root->snap, &fh->man);
	if (ret)
		return ret;
	backups_store_readers(c->store, 1);
	i = backups_man_lower_bound(&fh->man->m, 0, fh->man->m.n, n->path);
	if (i == fh->man->m.n || strcmp(fh->man->m.v[i].path, n->path) ||
	    fh->man->m.v[i].type != 'f')
		return -EIO; /* the manifest is not what the node was made from */
	fh->e = &fh->man->m.v[i];
	fh->entry = i;
	fh->kind = FH_PLAIN;
	if (c->ahead && !backups_is_dump(n->path))
		warm_following(c, fh->man, i);
	if (backups_is_dump(n->path)) {
		fh->kind = FH_DUMP;
		fh->zsize = backups_chunks_zsize(fh->man->chunks, i);
	}
	return 0;
}

int backups_file_open(struct backups_ctx *c, struct backups_node *n, struct view_open *o)
{
	struct backups_fh *fh;
	int ret = 0;

	if (S_ISDIR(n->a.mode))
		return -EISDIR;
	if (!S_ISREG(n->a.mode))
		return -EINVAL;
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	switch (n->kind) {
	case BN_CFG:
		fh->kind = FH_MEM;
		ret = backups_git_blob(c->git, &n->oid, (void **)&fh->mem, &fh->len);
		break;
	case BN_INFO:
		fh->kind = FH_MEM;
		ret = backups_file_info(c, n->root, &fh->mem, &fh->len);
		break;
	case BN_MAN:
		ret = open_man(c, n, fh);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret) {
		backups_file_release(c, fh);
		return ret;
	}
	o->fh = fh;
	o->keep_cache = 1; /* immutable */
	return 0;
}

void backups_file_release(struct backups_ctx *c, void *p)
{
	struct backups_fh *fh = p;

	if (!fh)
		return;
	if (fh->man)
		backups_store_readers(c->store, -1);
	backups_man_put(fh->man);
	free(fh->mem);
	free(fh);
}

static ssize_t read_plain(struct backups_ctx *c, struct backups_fh *fh, char *buf, size_t size,
			  uint64_t off)
{
	const struct manifest_entry *e = fh->e;
	uint64_t pos = off, end = e->size - off < size ? e->size : off + size;
	struct backups_citer it;
	struct manifest_chunk ch;
	int ret;

	ret = cursor(fh->man, fh->entry, BACKUPS_BY_OFF, off, &it);
	while (!ret && pos < end) {
		const struct backups_chunk *d;
		uint64_t n;

		ret = next_chunk(fh->man, fh->entry, &it, &ch, NULL);
		if (ret <= 0) {
			ret = ret ? ret : -EIO;
			break;
		}
		ret = backups_cache_get(c->cache, &ch.hash, &d);
		if (ret)
			break;
		if (d->len != ch.len) {
			backups_cache_put(c->cache, d);
			ret = -EIO;
			break;
		}
		n = (end < ch.offset + ch.len ? end : ch.offset + ch.len) - pos;
		memcpy(buf + (pos - off), d->data + (pos - ch.offset), (size_t)n);
		backups_cache_put(c->cache, d);
		pos += n;
	}
	if (ret)
		return ret;
	/* Sequential: have the next chunk decompressed while this one is copied out, and the
	 * files of those after it read ahead. */
	if (it.i < e->nchunks && __atomic_load_n(&fh->next, __ATOMIC_RELAXED) == off &&
	    next_chunk(fh->man, fh->entry, &it, &ch, NULL) > 0) {
		size_t j = __atomic_load_n(&fh->warmed, __ATOMIC_RELAXED);

		backups_cache_prefetch(c->cache, &ch.hash);
		if (c->ahead &&
		    (j <= it.i || !cursor(fh->man, fh->entry, BACKUPS_BY_INDEX, j, &it))) {
			for (j = it.i; next_chunk(fh->man, fh->entry, &it, &ch, NULL) > 0 &&
				       ch.offset < end + AHEAD_BYTES;
			     j = it.i)
				backups_ahead_warm(c->ahead, &ch.hash);
			__atomic_store_n(&fh->warmed, j, __ATOMIC_RELAXED);
		}
	}
	__atomic_store_n(&fh->next, end, __ATOMIC_RELAXED);
	return (ssize_t)(end - off);
}

static ssize_t read_dump(struct backups_ctx *c, struct backups_fh *fh, char *buf, size_t size,
			 uint64_t off)
{
	const struct manifest_entry *e = fh->e;
	uint64_t pos = off, end = fh->zsize - off < size ? fh->zsize : off + size, z;
	struct backups_citer it;
	struct backups_frames fr;
	struct manifest_chunk ch;
	int ret;

	/* The frames of the request, gathered into runs that lie back to back in one pack. */
	backups_frames_init(&fr, c->store);
	ret = cursor(fh->man, fh->entry, BACKUPS_BY_ZOFF, off, &it);
	while (!ret && pos < end) {
		uint64_t stop;

		ret = next_chunk(fh->man, fh->entry, &it, &ch, &z);
		if (ret <= 0) {
			ret = ret ? ret : -EIO;
			break;
		}
		stop = end < z + ch.zlen ? end : z + ch.zlen;
		ret = backups_frames_read(&fr, &ch.hash, ch.zlen, buf + (pos - off),
					  (size_t)(stop - pos), pos - z);
		pos = stop;
	}
	if (!ret)
		ret = backups_frames_flush(&fr);
	backups_frames_done(&fr);
	if (ret)
		return ret; /* swept away, or damaged: logged */
	if (c->ahead && __atomic_load_n(&fh->next, __ATOMIC_RELAXED) == off) {
		/*
		 * A dump's frames lie (almost) back to back in a pack, in order: one hint for the
		 * byte range up to the first checkpoint past the next AHEAD_BYTES, renewed when
		 * half of it has been read, not one per ~1 KiB frame.
		 */
		size_t j = __atomic_load_n(&fh->warmed, __ATOMIC_RELAXED), k;
		uint64_t zj, zk;

		if (j > it.i &&
		    (j >= e->nchunks || cursor(fh->man, fh->entry, BACKUPS_BY_INDEX, j, &it)))
			goto out; /* all of it hinted at already (or a damaged line: logged) */
		j = it.i;
		zj = it.zoff;
		if (j < e->nchunks && zj < end + AHEAD_BYTES / 2 &&
		    next_chunk(fh->man, fh->entry, &it, &ch, NULL) > 0) {
			uint64_t ta, tb;

			k = backups_chunks_zmark(fh->man->chunks, fh->entry, e->nchunks,
						 end + AHEAD_BYTES, &zk);
			if (k > j) {
				backups_store_warm_range(c->store, &ch.hash, zk - zj, k - j);
				/* and the manifest's lines that will name those frames */
				backups_chunks_text(fh->man->chunks, fh->entry, j, k, &ta, &tb);
				posix_fadvise(fh->man->fd, (off_t)ta, (off_t)(tb - ta),
					      POSIX_FADV_WILLNEED);
			}
			__atomic_store_n(&fh->warmed, k, __ATOMIC_RELAXED);
		}
	}
out:
	__atomic_store_n(&fh->next, end, __ATOMIC_RELAXED);
	return (ssize_t)(end - off);
}

ssize_t backups_file_read(struct backups_ctx *c, void *p, char *buf, size_t size, off_t off)
{
	struct backups_fh *fh = p;

	if (off < 0)
		return -EINVAL;
	switch (fh->kind) {
	case FH_MEM:
		if ((uint64_t)off >= fh->len)
			return 0;
		if (size > fh->len - (size_t)off)
			size = fh->len - (size_t)off;
		memcpy(buf, fh->mem + off, size);
		return (ssize_t)size;
	case FH_PLAIN:
		if ((uint64_t)off >= fh->e->size)
			return 0;
		return read_plain(c, fh, buf, size, (uint64_t)off);
	case FH_DUMP:
		if ((uint64_t)off >= fh->zsize)
			return 0;
		return read_dump(c, fh, buf, size, (uint64_t)off);
	}
	return -EINVAL;
}
