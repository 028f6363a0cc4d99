/*
 * store_sweep.c - removing dead chunks from packs: prune's sweep.
 *
 * A pack is immutable, so a dead chunk's bytes go only with its whole pack. Each pack is read
 * through its index: a line is live when the sweep keeps its chunk and the in-memory index
 * points at this very copy (a chunk stored twice keeps one copy). A pack with nothing live is
 * removed; one whose dead bytes reach min_dead percent has its live frames copied, still
 * compressed, into a new pack; the others stay as they are, their dead bytes counted. Nothing
 * is removed before the new pack is durable, and an index goes before its pack, so a crash at
 * any point leaves every live chunk readable (at worst twice). Packs a crash left without an
 * index are removed too; a pack whose index is damaged is left alone. The caller holds the sweep
 * lock: no writer runs meanwhile.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct line {
	struct store_hash h;
	uint64_t off, zlen;
	bool live;
};

struct pass {
	struct store *s;
	const struct store_sweep_opts *o;
	uint32_t pack;
	struct line *v;
	size_t n, cap;
	uint64_t live, dead, dead_chunks;
};

static int collect(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct pass *p = arg;
	struct ixloc e;
	struct line *l;
	bool indexed;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 1024;
		struct line *nv = realloc(p->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = ncap;
	}
	l = &p->v[p->n++];
	l->h = *h;
	l->off = off;
	l->zlen = zlen;
	/* The copy the index points at: else this line is a second copy. */
	indexed = store_index_find(p->s, h, &e) && e.pack == p->pack && e.off == off;
	l->live = indexed && p->o->keep(p->o->arg, h);
	if (l->live) {
		p->live += zlen;
	} else {
		p->dead += zlen;
		if (indexed)
			p->dead_chunks++; /* a chunk that goes, not a second copy */
	}
	return 0;
}

/* Copy pack @no's live frames into the open pack. */
static int copy_live(struct store *s, struct pass *p, const char *name, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t cap = 0;
	int fd, ret = 0;

	pthread_rwlock_rdlock(&s->ixlock);
	fd = store_index_pack_fd_locked(s, p->pack);
	pthread_rwlock_unlock(&s->ixlock);
	if (fd < 0) {
		store_msg(err, errlen, "store: opening pack %s: %s", name, strerror(-fd));
		return fd;
	}
	for (size_t i = 0; i < p->n && !ret; i++) {
		struct line *l = &p->v[i];
		ssize_t n;

		if (!l->live)
			continue;
		if (l->zlen > cap) {
			unsigned char *nb = realloc(buf, l->zlen);

			if (!nb) {
				ret = -ENOMEM;
				store_msg(err, errlen, "store: out of memory");
				break;
			}
			buf = nb;
			cap = l->zlen;
		}
		do
			n = pread(fd, buf, l->zlen, (off_t)l->off);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)l->zlen) {
			/* Keep the old pack: what cannot be read now is for check to report. */
			ret = n < 0 ? -errno : -EIO;
			store_msg(err, errlen, "store: reading pack %s at %llu: %s", name,
				  (unsigned long long)l->off, n < 0 ? strerror(errno) : "cut short");
			break;
		}
		struct frame f = {.hash = l->h, .zlen = l->zlen};

		ret = store_pack_append(s, &f, 1, buf, err, errlen);
	}
	free(buf);
	return ret;
}

/* Unlink packs/@name.idx then packs/@name.pack. */
static int remove_pack(struct store *s, const char *name, char *err, size_t errlen)
{
	char rel[40];

	snprintf(rel, sizeof(rel), "packs/%s.idx", name);
	if (s->io->unlinkat(s->fd, rel, 0) < 0 && errno != ENOENT)
		goto fail;
	snprintf(rel, sizeof(rel), "packs/%s.pack", name);
	if (s->io->unlinkat(s->fd, rel, 0) < 0 && errno != ENOENT)
		goto fail;
	return 0;
fail:
	store_msg(err, errlen, "store: removing %s: %s", rel, strerror(errno));
	return -errno;
}

/* Remove NAME.pack files that have no NAME.idx (a crash between the two renames). */
static int remove_orphan_packs(struct store *s, const struct store_sweep_opts *o,
			       struct store_sweep_stats *st, char *err, size_t errlen)
{
	DIR *dir = store_open_subdir(s, "packs");
	struct dirent *de;
	int ret = 0;

	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir)) && !ret) {
		size_t len = strlen(de->d_name);
		char idx[40], rel[300];
		struct stat sb;

		if (len != 21 || strcmp(de->d_name + 16, ".pack"))
			continue;
		snprintf(idx, sizeof(idx), "%.16s.idx", de->d_name);
		if (fstatat(dirfd(dir), idx, &sb, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		st->packs_removed++;
		st->bytes_removed += (uint64_t)sb.st_size;
		if (o->dry_run)
			continue;
		snprintf(rel, sizeof(rel), "packs/%s", de->d_name);
		if (s->io->unlinkat(s->fd, rel, 0) < 0 && errno != ENOENT) {
			ret = -errno;
			store_msg(err, errlen, "store: removing %s: %s", rel, strerror(errno));
		}
	}
	closedir(dir);
	return ret;
}

int store_sweep(struct store *s, const struct store_sweep_opts *o, struct store_sweep_stats *st,
		char *err, size_t errlen)
{
	char (*names)[17] = NULL, (*gone)[17] = NULL;
	size_t npacks, ngone = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	if (s->readonly) {
		store_msg(err, errlen, "store: opened read-only");
		return -EROFS;
	}
	ret = store_index_load(s, err, errlen);
	if (ret)
		return ret;
	pthread_rwlock_rdlock(&s->ixlock);
	npacks = s->npacks;
	st->chunks = s->ix.n;
	names = calloc(npacks ? npacks : 1, sizeof(*names));
	gone = calloc(npacks ? npacks : 1, sizeof(*gone));
	for (size_t i = 0; names && i < npacks; i++)
		memcpy(names[i], s->packs[i].name, sizeof(names[i]));
	pthread_rwlock_unlock(&s->ixlock);
	if (!names || !gone) {
		ret = -ENOMEM;
		store_msg(err, errlen, "store: out of memory");
		goto out;
	}
	st->packs = (unsigned)npacks;
	for (size_t i = 0; i < npacks && !ret; i++) {
		const size_t hlen = sizeof(STORE_INDEX_HEADER) - 1;
		struct pass p = {.s = s, .o = o, .pack = (uint32_t)i};
		unsigned char *buf;
		char rel[40];
		size_t len;

		snprintf(rel, sizeof(rel), "packs/%s.idx", names[i]);
		ret = store_read_file(s->fd, rel, (size_t)1 << 32, &buf, &len);
		if (ret) {
			store_msg(err, errlen, "store: reading %s: %s", rel, strerror(-ret));
			break;
		}
		/*
		 * A damaged index was skipped by the load, so nothing of its pack is indexed; but
		 * its frames may be what a manifest needs, and what a repair would recover. Not
		 * the sweep's to judge: the pack is left alone (check reports its chunks missing).
		 */
		if (len < hlen || memcmp(buf, STORE_INDEX_HEADER, hlen))
			ret = -EINVAL;
		else
			ret = store_index_parse((const char *)buf + hlen, len - hlen, collect, &p,
						NULL);
		free(buf);
		if (ret == -EINVAL) {
			free(p.v);
			ret = 0;
			continue;
		}
		if (ret) {
			store_msg(err, errlen, "store: out of memory");
			free(p.v);
			break;
		}
		if (!p.live || (p.dead && p.dead * 100 >= (p.live + p.dead) * o->min_dead)) {
			if (p.live) {
				st->packs_rewritten++;
				st->bytes_copied += p.live;
				if (!o->dry_run)
					ret = copy_live(s, &p, names[i], err, errlen);
			} else {
				st->packs_removed++;
			}
			st->chunks_removed += p.dead_chunks;
			st->bytes_removed += p.dead;
			memcpy(gone[ngone++], names[i], sizeof(gone[0]));
		} else if (p.dead) {
			st->chunks_kept_dead += p.dead_chunks;
			st->bytes_kept_dead += p.dead;
		}
		free(p.v);
	}
	if (o->dry_run || ret)
		goto out_orphans;
	/* The copies must be durable before any original goes. */
	ret = store_pack_finish(s, err, errlen);
	if (ret)
		goto out;
	for (size_t i = 0; i < ngone && !ret; i++)
		ret = remove_pack(s, gone[i], err, errlen);
	if (!ret && ngone)
		ret = store_fsync_dir(s, "packs", err, errlen);
out_orphans:
	if (!ret)
		ret = remove_orphan_packs(s, o, st, err, errlen);
out:
	if (!o->dry_run) {
		int r;

		if (ret)
			store_pack_abandon(s);
		r = store_index_load(s, ret ? NULL : err, errlen);
		if (!ret)
			ret = r;
	}
	free(names);
	free(gone);
	return ret;
}
