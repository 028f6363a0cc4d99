/*
 * snap.c - taking a snapshot (snap.h): the lock, the name, the config commit, the databases,
 * the plain trees, then store_flush and the manifest, in that order.
 *
 * What a newcomer must know: the manifest is the snapshot. Everything before manifest_write
 * only adds chunks, which are harmless if the snapshot dies (prune sweeps chunks no manifest
 * names), so any error that makes the store untrustworthy just returns before the manifest
 * is written. Errors of one part (a database, a file) become reason lines instead.
 */
#include "snapshot/snap_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/vcs.h"
#include "snapshot/lock.h"

static void warn(struct snap_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct snap_run *run, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!run->o->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	run->o->warn(run->o->arg, buf);
}

void snap_reason(struct snap_run *run, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (run->o->warn)
		run->o->warn(run->o->arg, buf);
	if (manifest_add_reason(run->m, "%s", buf[0] ? buf : "?"))
		run->oom = true;
}

void snap_progress(struct snap_run *run)
{
	struct snap_progress p = {
	    .name = run->r->name,
	    .what = run->what,
	    .bytes_read = run->bytes_dumped + run->up.bytes_read,
	    .files = run->up.files,
	};

	if (run->o->progress)
		run->o->progress(run->o->arg, &p);
}

static void up_warn(void *arg, const char *msg)
{
	warn(arg, "%s", msg);
}

static void up_progress(void *arg, const struct uploads_stats *st)
{
	(void)st;
	snap_progress(arg);
}

/* The latest snapshot, for incremental uploads. 0 with prev->n == 0 if there is none. */
static void load_prev(struct snap_run *run, struct manifest *prev)
{
	char **names = NULL, err[512];
	size_t n = 0;
	int ret;

	ret = manifest_list(run->tab->state_dir, &names, &n, err, sizeof(err));
	if (ret) {
		warn(run, "%s; every file is read", err);
		return;
	}
	if (n) {
		ret = manifest_read(run->tab->state_dir, names[n - 1], prev, err, sizeof(err));
		if (ret) {
			warn(run, "previous snapshot %s: %s; every file is read", names[n - 1],
			     err);
			manifest_free(prev);
			manifest_init(prev);
		}
	}
	manifest_names_free(names, n);
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A made-up directory: "db", or a plain mount's name. */
static int add_top_dir(struct snap_run *run, const char *name)
{
	struct manifest_entry *e;
	int ret;

	if (manifest_find(run->m, name))
		return 0;
	ret = manifest_add(run->m, 'd', name, 0755, 0, 0, run->t0_ns, 0, NULL, &e);
	if (!ret)
		e->ctime_ns = run->t0_ns;
	return ret;
}

static int plain_mount(struct snap_run *run, const struct mtab_entry *me, struct manifest *prev,
		       char *err, size_t errlen)
{
	struct uploads_opts uo = {
	    .store = run->store,
	    .prev = prev->n ? prev : NULL,
	    .warn = up_warn,
	    .progress = up_progress,
	    .arg = run,
	};
	int ret = add_top_dir(run, me->name);

	if (ret) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	for (size_t i = 0; i < me->nplain; i++) {
		char prefix[512];

		snprintf(prefix, sizeof(prefix), "%s/%s", me->name, me->plain[i].label);
		snprintf(run->what, sizeof(run->what), "%s", prefix);
		ret = uploads_record(me->plain[i].path, prefix, &uo, run->m, &run->up, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Does @tab have a versioned mount? Without one there is no config history to name. */
static bool versioned(const struct mtab *tab)
{
	for (size_t i = 0; i < tab->nentries; i++)
		if (tab->entries[i].kind != MTAB_PLAIN)
			return true;
	return false;
}

/* Does @tab have a plain mount? Only those need the previous snapshot. */
static bool has_plain(const struct mtab *tab)
{
	for (size_t i = 0; i < tab->nentries; i++)
		if (tab->entries[i].kind == MTAB_PLAIN)
			return true;
	return false;
}

/* Everything between the lock and the manifest. */
static int take(struct snap_run *run, char *err, size_t errlen)
{
	const struct mtab *tab = run->tab;
	struct snap_result *r = run->r;
	struct manifest prev;
	char hex[41], verr[1024];
	unsigned removed = 0;
	int ret;

	manifest_init(&prev);
	ret = store_cleanup_orphans(run->store, &removed, verr, sizeof(verr));
	if (ret)
		warn(run, "%s", verr);
	/* Both the date and this second's name taken (snapshots in a row): wait for the next. */
	for (int i = 0; i < 3; i++) {
		ret = manifest_name_for((time_t)(run->t0_ns / 1000000000), manifest_exists,
					(void *)tab->state_dir, r->name);
		if (ret != -EEXIST)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 1000000000 - run->t0_ns % 1000000000},
			  NULL);
		run->t0_ns = now_ns(CLOCK_REALTIME);
		run->m->time = run->t0_ns / 1000000000;
	}
	if (ret) {
		snprintf(err, errlen, "cannot name the snapshot: %s",
			 ret == -EEXIST ? "this second's name is taken" : strerror(-ret));
		return ret;
	}
	if (has_plain(tab))
		load_prev(run, &prev);

	snprintf(run->what, sizeof(run->what), "config history");
	snap_progress(run);
	strcpy(hex, "-");
	ret = versioned(tab) ? vcs_head_for_snapshot(tab, hex, verr, sizeof(verr)) : 0;
	if (ret)
		snap_reason(run, "config history: %s", verr);
	else if (manifest_set_commit(run->m, strcmp(hex, "-") ? hex : NULL))
		snap_reason(run, "config history: bad commit id '%s'", hex);

	r->databases = (unsigned)tab->ndbs;
	if (tab->ndbs && (ret = add_top_dir(run, "db"))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < tab->ndbs; i++) {
		ret = snap_database(run, &tab->dbs[i], err, errlen);
		if (ret)
			goto out;
	}
	for (size_t i = 0; i < tab->nentries; i++) {
		if (tab->entries[i].kind != MTAB_PLAIN)
			continue;
		ret = plain_mount(run, &tab->entries[i], &prev, err, errlen);
		if (ret)
			goto out;
	}
	ret = run->oom ? -ENOMEM : 0;
	if (ret)
		snprintf(err, errlen, "out of memory");
out:
	manifest_free(&prev);
	return ret;
}

static int finish(struct snap_run *run, int64_t mono0, char *err, size_t errlen)
{
	struct snap_result *r = run->r;
	struct manifest *m = run->m;
	struct store_stats ss;
	int ret;

	snprintf(run->what, sizeof(run->what), "syncing");
	snap_progress(run);
	ret = store_flush(run->store, err, errlen);
	if (ret)
		return ret;
	/* Each chunk's ZLEN from the index we hold (else manifest_write loads a second one). */
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < m->v[i].nchunks; k++) {
			struct manifest_chunk *c = &m->v[i].chunks[k];
			struct store_loc loc;

			if (!c->zlen && !store_stat(run->store, &c->hash, &loc))
				c->zlen = loc.zlen;
		}
	store_get_stats(run->store, &ss);
	r->files = run->up.files;
	r->files_read = run->up.files_read;
	r->files_reused = run->up.files_reused;
	r->dirs = run->up.dirs;
	r->symlinks = run->up.symlinks;
	r->skipped = run->up.skipped;
	r->bytes_read = run->bytes_dumped + run->up.bytes_read;
	r->bytes_new = ss.bytes_disk;
	r->chunks_new = ss.chunks_new;
	r->incomplete = m->nreasons > 0;
	r->seconds = (double)(now_ns(CLOCK_MONOTONIC) - mono0) / 1e9;
	if (manifest_set_info(m, "bytes_new", r->bytes_new) ||
	    manifest_set_info(m, "bytes_read", r->bytes_read) ||
	    manifest_set_info(m, "chunks_new", r->chunks_new) ||
	    manifest_set_info(m, "databases", r->databases) ||
	    manifest_set_info(m, "databases_failed", r->databases_failed) ||
	    manifest_set_info(m, "duration_ms", (uint64_t)(r->seconds * 1000)) ||
	    manifest_set_info(m, "files", r->files) ||
	    manifest_set_info(m, "files_read", r->files_read) ||
	    manifest_set_info(m, "files_reused", r->files_reused)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return manifest_write(run->tab->state_dir, r->name, m, err, errlen);
}

int snap_take(const struct mtab *tab, const struct snap_opts *o, struct snap_result *r, char *err,
	      size_t errlen)
{
	static const struct snap_opts defaults = {.wait = true};
	struct store_opts so = {0};
	struct store_lock *lk = NULL;
	struct manifest m;
	struct snap_run run = {.tab = tab, .o = o ? o : &defaults, .r = r, .m = &m};
	int64_t mono0 = now_ns(CLOCK_MONOTONIC);
	int ret;

	memset(r, 0, sizeof(*r));
	manifest_init(&m);
	ret = lock_take(tab->state_dir, LOCK_SNAPSHOT, run.o->wait, &lk, err, errlen);
	if (ret)
		return ret;
	/* The time and name are taken once the lock is ours: a waiting snapshot is later. */
	run.t0_ns = now_ns(CLOCK_REALTIME);
	m.time = run.t0_ns / 1000000000;
	so.io = run.o->io;
	ret = store_open(tab->state_dir, &so, &run.store, err, errlen);
	if (ret)
		goto out;
	snprintf(run.tmpdir, sizeof(run.tmpdir), "%s/store", tab->state_dir);
	ret = take(&run, err, errlen);
	if (!ret)
		ret = finish(&run, mono0, err, errlen);
out:
	store_close(run.store);
	lock_release(lk);
	manifest_free(&m);
	return ret;
}
