/*
 * snap_db.c - one database into a snapshot: the dump sink that turns the dumper's row-aware
 * chunks into store chunks and a manifest entry db/NAME.sql.zst.
 *
 * What a newcomer must know: the entry is built in a scratch manifest and copied into the
 * snapshot's only when the dump completed, so a failed dump leaves no half entry. A store
 * error inside the sink (ENOSPC...) is remembered apart from the dumper's own errors: it is
 * not "this database failed" but "the snapshot cannot be written".
 */
#include "snapshot/snap_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/dump.h"

struct dsink {
	struct snap_run *run;
	struct manifest_entry *e; /* in the scratch manifest */
	unsigned char *buf;	  /* the chunk being written */
	size_t len, cap;
	int fatal; /* a store or memory error: the snapshot fails */
	char msg[512];
};

/* Put the buffered piece as one chunk. */
static int piece_put(struct dsink *d)
{
	struct store_hash h;
	int ret;

	if (!d->len)
		return 0;
	ret = store_put_async(d->run->store, d->buf, d->len, NULL, &h, d->msg, sizeof(d->msg));
	if (ret >= 0) {
		ret = manifest_add_chunk(d->e, &h, d->len);
		if (ret)
			snprintf(d->msg, sizeof(d->msg), "out of memory for the manifest");
	}
	if (ret < 0) {
		d->fatal = ret;
		return ret;
	}
	d->len = 0;
	snap_progress(d->run);
	return 0;
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
	struct dsink *d = ctx;
	const unsigned char *p = buf;

	d->run->bytes_dumped += len;
	while (len) {
		size_t room, n;

		if (d->len == d->cap && d->cap < SNAP_PIECE_MAX) {
			size_t cap = d->cap ? 2 * d->cap : 64 * 1024;
			unsigned char *nb;

			if (cap > SNAP_PIECE_MAX)
				cap = SNAP_PIECE_MAX;
			nb = realloc(d->buf, cap);
			if (!nb) {
				snprintf(d->msg, sizeof(d->msg), "out of memory for a chunk");
				d->fatal = -ENOMEM;
				return -ENOMEM;
			}
			d->buf = nb;
			d->cap = cap;
		}
		if (d->len == d->cap) { /* SNAP_PIECE_MAX: a row that large is cut by size */
			int ret = piece_put(d);

			if (ret)
				return ret;
			continue;
		}
		room = d->cap - d->len;
		n = len < room ? len : room;
		memcpy(d->buf + d->len, p, n);
		d->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int sink_cut(void *ctx)
{
	return piece_put(ctx);
}

static int sink_table(void *ctx, const char *table)
{
	struct dsink *d = ctx;
	int ret = manifest_add_table(d->e, table, d->e->size + d->len);

	if (ret) {
		snprintf(d->msg, sizeof(d->msg), "cannot record table %s: %s", table,
			 strerror(-ret));
		d->fatal = ret == -ENOMEM ? ret : 0;
	}
	return ret;
}

/* Copy the finished entry @src into the snapshot's manifest. */
static int entry_copy(struct manifest *m, const struct manifest_entry *src)
{
	struct manifest_entry *e;
	int ret;

	ret = manifest_add(m, src->type, src->path, src->mode, src->uid, src->gid, src->mtime_ns,
			   src->ino, NULL, &e);
	for (size_t i = 0; !ret && i < src->nchunks; i++)
		ret = manifest_add_chunk_z(e, &src->chunks[i].hash, src->chunks[i].len,
					   src->chunks[i].zlen);
	for (size_t i = 0; !ret && i < src->ntables; i++)
		ret = manifest_add_table(e, src->tables[i].name, src->tables[i].offset);
	return ret;
}

int snap_database(struct snap_run *run, const struct mtab_database *db, char *err, size_t errlen)
{
	struct dsink d = {.run = run};
	struct dump_sink sink = {
	    .ctx = &d, .write = sink_write, .cut = sink_cut, .table_begin = sink_table};
	struct dump_opts dopts = {.jobs = run->o->dump_jobs, .tmpdir = run->tmpdir};
	char path[128], derr[1024] = "";
	struct manifest scratch;
	int ret;

	manifest_init(&scratch);
	snprintf(path, sizeof(path), "db/%s.sql.zst", db->name);
	snprintf(run->what, sizeof(run->what), "db %s", db->name);
	ret = manifest_add(&scratch, 'f', path, 0600, 0, 0, run->t0_ns, 0, NULL, &d.e);
	if (ret) {
		/* mtab allows letters, digits, '_' and '$' only: this is memory */
		snprintf(err, errlen, "database %s: out of memory", db->name);
		return -ENOMEM;
	}
	ret = dump_database(db, &dopts, &sink, NULL, derr, sizeof(derr));
	if (!ret)
		ret = piece_put(&d); /* the dumper cuts after its last line; just in case */
	if (d.fatal) {
		snprintf(err, errlen, "database %s: %s", db->name, d.msg);
		ret = d.fatal;
		goto out;
	}
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "%s", derr);
		goto out;
	}
	if (ret) {
		/* This database is left out; the snapshot goes on. */
		run->r->databases_failed++;
		snap_reason(run, "%s", derr[0] ? derr : "dump failed");
		ret = run->oom ? -ENOMEM : 0;
		if (ret)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = entry_copy(run->m, d.e);
	if (ret)
		snprintf(err, errlen, "database %s: out of memory", db->name);
out:
	free(d.buf);
	manifest_free(&scratch);
	return ret;
}
