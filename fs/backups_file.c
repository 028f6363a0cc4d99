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
	const uint64_t *zoff;
	uint64_t next; /* where a sequential reader reads next (atomic hint) */
	size_t warmed; /* chunks before this one were handed to read-ahead (hint) */
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

/*
 * Files are mostly read in the manifest's order: cp -a, tar and rsync go through a directory
 * in its listing order, which is the manifest's. So opening entry @i has the chunks of it
 * and of the files after it, up to AHEAD_BYTES or AHEAD_FILES, read ahead: a copy of many
 * small files does not wait on the disk for each one in turn.
 */
static void warm_following(struct backups_ctx *c, const struct manifest *m, size_t i)
{
	uint64_t bytes = 0;
	size_t end = i, files = 0;

	while (end < m->n && bytes < AHEAD_BYTES && files < AHEAD_FILES) {
		if (m->v[end].type == 'f') {
			bytes += m->v[end].size;
			files++;
		}
		end++;
	}
	for (size_t j = backups_ahead_span(c->ahead, m, i, end); j < end; j++)
		for (size_t k = 0; m->v[j].type == 'f' && k < m->v[j].nchunks; k++)
			backups_ahead_warm(c->ahead, &m->v[j].chunks[k].hash);
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
	fh->kind = FH_PLAIN;
	if (c->ahead && !backups_is_dump(n->path))
		warm_following(c, &fh->man->m, i);
	if (backups_is_dump(n->path)) {
		fh->kind = FH_DUMP;
		return backups_man_zoff(c->store, fh->man, fh->e, &fh->zoff);
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
	long i = manifest_chunk_at(e, off);

	while (pos < end) {
		const struct manifest_chunk *ch = &e->chunks[i++];
		const struct backups_chunk *d;
		uint64_t n = (end < ch->offset + ch->len ? end : ch->offset + ch->len) - pos;
		int ret = backups_cache_get(c->cache, &ch->hash, &d);

		if (ret)
			return ret;
		if (d->len != ch->len) {
			backups_cache_put(c->cache, d);
			return -EIO;
		}
		memcpy(buf + (pos - off), d->data + (pos - ch->offset), (size_t)n);
		backups_cache_put(c->cache, d);
		pos += n;
	}
	/* Sequential: have the next chunk decompressed while this one is copied out, and the
	 * files of those after it read ahead. */
	if ((size_t)i < e->nchunks && __atomic_load_n(&fh->next, __ATOMIC_RELAXED) == off) {
		size_t j = __atomic_load_n(&fh->warmed, __ATOMIC_RELAXED);

		backups_cache_prefetch(c->cache, &e->chunks[i].hash);
		for (j = j > (size_t)i + 1 ? j : (size_t)i + 1;
		     c->ahead && j < e->nchunks && e->chunks[j].offset < end + AHEAD_BYTES; j++)
			backups_ahead_warm(c->ahead, &e->chunks[j].hash);
		__atomic_store_n(&fh->warmed, j, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&fh->next, end, __ATOMIC_RELAXED);
	return (ssize_t)(end - off);
}

size_t backups_file_zchunk(const uint64_t *zoff, size_t n, uint64_t off)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (zoff[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static ssize_t read_dump(struct backups_ctx *c, struct backups_fh *fh, char *buf, size_t size,
			 uint64_t off)
{
	const struct manifest_entry *e = fh->e;
	const uint64_t *z = fh->zoff;
	uint64_t total = z[e->nchunks], pos = off, end = total - off < size ? total : off + size;
	size_t i = backups_file_zchunk(z, e->nchunks, off);
	struct backups_frames fr;
	int ret = 0;

	/* The frames of the request, gathered into runs that lie back to back in one pack. */
	backups_frames_init(&fr, c->store);
	while (pos < end && !ret) {
		uint64_t stop = end < z[i + 1] ? end : z[i + 1];

		ret = backups_frames_read(&fr, &e->chunks[i].hash, z[i + 1] - z[i],
					  buf + (pos - off), (size_t)(stop - pos), pos - z[i]);
		pos = stop;
		i++;
	}
	if (!ret)
		ret = backups_frames_flush(&fr);
	backups_frames_done(&fr);
	if (ret)
		return ret; /* swept away, or damaged: logged */
	if (c->ahead && __atomic_load_n(&fh->next, __ATOMIC_RELAXED) == off) {
		/*
		 * A dump's frames lie (almost) back to back in a pack, in order: one hint for the
		 * byte range of the next AHEAD_BYTES, renewed when half of it has been read, not
		 * one per ~1 KiB frame.
		 */
		size_t j = __atomic_load_n(&fh->warmed, __ATOMIC_RELAXED), k;

		if (j < e->nchunks && z[j] < end + AHEAD_BYTES / 2) {
			j = j > i ? j : i;
			for (k = j; k < e->nchunks && z[k] < end + AHEAD_BYTES; k++)
				;
			if (k > j)
				backups_store_warm_range(c->store, &e->chunks[j].hash, z[k] - z[j],
							 k - j);
			__atomic_store_n(&fh->warmed, k, __ATOMIC_RELAXED);
		}
	}
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
		if ((uint64_t)off >= fh->zoff[fh->e->nchunks])
			return 0;
		return read_dump(c, fh, buf, size, (uint64_t)off);
	}
	return -EINVAL;
}
