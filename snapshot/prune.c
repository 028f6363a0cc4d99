/*
 * prune.c - `statefs prune`'s work (prune.h): retention, manifest removal, the sweep.
 *
 * What a newcomer must know: everything happens under the exclusive store lock, taken first,
 * so that no snapshot adds chunks or a manifest while the set of named chunks is computed and
 * unnamed ones are deleted; and manifests go (durably) before chunks do. A chunk is deleted
 * only when every manifest present could be read and none names it: when in doubt, keep.
 */
#include "snapshot/prune.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/lock.h"
#include "snapshot/manifest.h"
#include "snapshot/refs.h"

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void report(const struct prune_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(const struct prune_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (!o->out)
		return;
	va_start(ap, fmt);
	vfprintf(o->out, fmt, ap);
	va_end(ap);
}

/* The snapshots and what the policy says of each. */
struct plan {
	char **names;
	size_t n;
	struct retention_item *items;
	char **problems; /* why a manifest could not be read, or NULL */
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; p->problems && i < p->n; i++)
		free(p->problems[i]);
	free(p->problems);
	free(p->items);
	manifest_names_free(p->names, p->n);
	memset(p, 0, sizeof(*p));
}

/* When a snapshot of this name was taken, by the name alone (local time). */
static int64_t time_of_name(const char *name)
{
	struct tm tm = {.tm_isdst = -1};

	tm.tm_year = atoi(name) - 1900;
	tm.tm_mon = atoi(name + 5) - 1;
	tm.tm_mday = atoi(name + 8);
	if (name[10] == '_') {
		tm.tm_hour = (name[11] - '0') * 10 + name[12] - '0';
		tm.tm_min = (name[13] - '0') * 10 + name[14] - '0';
		tm.tm_sec = (name[15] - '0') * 10 + name[16] - '0';
	}
	return (int64_t)mktime(&tm);
}

/* List and read every manifest into @p. 0 or a negative errno (only for what stops prune). */
static int plan_read(const char *state_dir, struct plan *p, char *err, size_t errlen)
{
	char why[512];
	int ret;

	ret = manifest_list(state_dir, &p->names, &p->n, err, errlen);
	if (ret)
		return ret;
	p->items = calloc(p->n ? p->n : 1, sizeof(*p->items));
	p->problems = calloc(p->n ? p->n : 1, sizeof(*p->problems));
	if (!p->items || !p->problems)
		goto oom;
	for (size_t i = 0; i < p->n; i++) {
		struct retention_item *it = &p->items[i];
		struct manifest m;

		manifest_init(&m);
		it->name = p->names[i];
		ret = manifest_read(state_dir, p->names[i], &m, why, sizeof(why));
		if (!ret) {
			it->time = m.time;
			it->incomplete = m.nreasons > 0;
		}
		manifest_free(&m);
		if (ret == -ENOMEM)
			goto oom;
		if (ret) {
			it->unreadable = true;
			it->time = time_of_name(p->names[i]);
			p->problems[i] = strdup(why);
			if (!p->problems[i])
				goto oom;
		}
	}
	return 0;
oom:
	msg(err, errlen, "out of memory");
	return -ENOMEM;
}

struct sweep {
	const struct prune_opts *o;
	struct prune_stats *st;
	int store_fd;
	struct store *store;
	time_t now;
	unsigned tmp_age;
	struct refs *named;	/* the chunks the remaining manifests name */
	bool have_dicts;	/* dicts/ holds a dictionary: find which ones chunks need */
	bool keep_all_dicts;	/* a kept chunk's header could not be read */
	struct refs_ids needed; /* dictionary ids kept chunks need */
	int error;		/* first failure to remove something */
	char errmsg[512];
};

/* Remove one file of the store (or count it, in a dry run). 1 if removed, 0 if not. */
static int sweep_remove(struct sweep *sw, const struct refs_file *f)
{
	if (!sw->o->dry_run && unlinkat(f->dirfd, f->name, 0) < 0) {
		if (errno != ENOENT && !sw->error) {
			sw->error = -errno;
			msg(sw->errmsg, sizeof(sw->errmsg), "cannot remove store/%s/%s: %s", f->dir,
			    f->name, strerror(errno));
		}
		return 0;
	}
	sw->st->bytes_removed += (uint64_t)f->st->st_size;
	return 1;
}

static void sweep_tmp(struct sweep *sw, const struct refs_file *f)
{
	if (sw->now - f->st->st_mtime >= (time_t)sw->tmp_age)
		sw->st->tmp_removed += (unsigned)sweep_remove(sw, f);
}

static bool keep_named(void *arg, const struct store_hash *h)
{
	struct sweep *sw = arg;

	return refs_get(sw->named, h, NULL);
}

/* Note the dictionary a kept chunk needs. */
static int need_dict(void *arg, const struct store_hash *h, const struct store_loc *loc)
{
	struct sweep *sw = arg;
	struct store_header hd;

	(void)loc;
	if (sw->keep_all_dicts || !refs_get(sw->named, h, NULL))
		return 0;
	if (store_chunk_header(sw->store, h, &hd))
		sw->keep_all_dicts = true; /* damaged? check's business; keep every dictionary */
	else if (hd.dict_id && refs_ids_add(&sw->needed, hd.dict_id))
		return -ENOMEM;
	return 0;
}

/* The packs: dead chunks out (store_sweep), then the dictionaries no kept chunk needs. */
static int sweep_packs(struct sweep *sw, char *err, size_t errlen)
{
	struct store_sweep_opts so = {
	    .keep = keep_named, .arg = sw, .dry_run = sw->o->dry_run, .min_dead = PRUNE_MIN_DEAD};
	struct store_sweep_stats ss;
	int ret;

	ret = store_sweep(sw->store, &so, &ss, err, errlen);
	if (ret)
		return ret;
	sw->st->chunks = ss.chunks;
	sw->st->chunks_removed = ss.chunks_removed;
	sw->st->bytes_removed += ss.bytes_removed;
	sw->st->packs_rewritten = ss.packs_rewritten;
	sw->st->packs_removed = ss.packs_removed;
	sw->st->chunks_kept_dead = ss.chunks_kept_dead;
	sw->st->bytes_kept_dead = ss.bytes_kept_dead;
	if (sw->have_dicts)
		return store_each(sw->store, need_dict, sw);
	return 0;
}

static int sweep_dict(void *arg, const struct refs_file *f)
{
	struct sweep *sw = arg;
	unsigned id;

	if (f->kind == REFS_TMP)
		sweep_tmp(sw, f);
	if (f->kind != REFS_NAMED || sw->keep_all_dicts)
		return 0;
	/* Not a dictionary with an id (or unreadable): not ours to judge here. */
	if (refs_dict_id(sw->store_fd, f->name, &id) || !id || refs_ids_has(&sw->needed, id))
		return 0;
	sw->st->dicts_removed += (unsigned)sweep_remove(sw, f);
	return 0;
}

static int count_dicts(void *arg, const struct refs_file *f)
{
	if (f->kind == REFS_NAMED)
		*(bool *)arg = true;
	return 0;
}

/* packs/ and snapshots/: only their stale temp files are the sweep's (packs: store_sweep). */
static int sweep_tmps(void *arg, const struct refs_file *f)
{
	if (f->kind == REFS_TMP)
		sweep_tmp(arg, f);
	return 0;
}

/*
 * Collect the chunks named by the manifests @names (those with @keep[i], if @keep is not NULL),
 * then walk the store. -EAGAIN with a message if a manifest cannot be read.
 */
static int sweep(const char *state_dir, struct sweep *sw, char **names, size_t n,
		 const struct retention_item *keep, char *err, size_t errlen)
{
	char why[512];
	int ret;

	ret = refs_new(&sw->named);
	if (ret)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		struct manifest m;

		if (keep && !keep[i].why)
			continue;
		manifest_init(&m);
		ret = manifest_read(state_dir, names[i], &m, why, sizeof(why));
		if (!ret)
			ret = refs_add_manifest(sw->named, &m);
		manifest_free(&m);
		if (ret == -ENOMEM)
			goto oom;
		if (ret) {
			msg(err, errlen,
			    "snapshot %s cannot be read (%s): no chunk was swept; "
			    "see `statefs check`",
			    names[i], why);
			return -EAGAIN;
		}
	}
	ret = refs_walk_dir(sw->store_fd, "dicts", count_dicts, &sw->have_dicts, err, errlen);
	if (!ret)
		ret = sweep_packs(sw, err, errlen);
	if (!ret)
		ret = refs_walk_dir(sw->store_fd, "packs", sweep_tmps, sw, err, errlen);
	if (!ret)
		ret = refs_walk_dir(sw->store_fd, "dicts", sweep_dict, sw, err, errlen);
	if (!ret)
		ret = refs_walk_dir(sw->store_fd, "snapshots", sweep_tmps, sw, err, errlen);
	if (ret == -ENOMEM)
		goto oom;
	if (ret)
		return ret;
	sw->st->swept = true;
	if (sw->error)
		msg(err, errlen, "%s", sw->errmsg);
	return sw->error;
oom:
	msg(err, errlen, "out of memory");
	return -ENOMEM;
}

/* Remove the manifests not kept, then make that durable. */
static int remove_manifests(const char *state_dir, struct plan *p, struct prune_stats *st,
			    char *err, size_t errlen)
{
	char path[4096];
	int dfd, ret = 0;

	snprintf(path, sizeof(path), "%s/store/snapshots", state_dir);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		msg(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i].why)
			continue;
		if (unlinkat(dfd, p->names[i], 0) == 0) {
			st->snapshots_removed++;
		} else if (errno != ENOENT && !ret) {
			ret = -errno;
			msg(err, errlen, "cannot remove snapshot %s: %s", p->names[i],
			    strerror(errno));
		}
	}
	/* Before any chunk goes: a removed manifest must not come back after a crash. */
	if (fsync(dfd) < 0) {
		ret = -errno;
		msg(err, errlen, "cannot sync %s: %s", path, strerror(errno));
	}
	close(dfd);
	return ret;
}

static void print_plan(const struct prune_opts *o, const struct plan *p)
{
	char why[128];

	if (!retention_policy_set(&o->policy))
		report(o, "no retention policy is set (keep-last, keep-daily, keep-weekly, "
			  "keep-monthly in [snapshot] of the config, or options): keeping every "
			  "snapshot\n");
	for (size_t i = 0; i < p->n; i++) {
		retention_why_str(&p->items[i], why, sizeof(why));
		if (!p->items[i].why) {
			report(o, "remove  %s\n", p->names[i]);
			continue;
		}
		report(o, "keep    %-17s  %s%s%s%s\n", p->names[i], why, p->problems[i] ? " (" : "",
		       p->problems[i] ? p->problems[i] : "", p->problems[i] ? ")" : "");
	}
}

static void print_summary(const struct prune_opts *o, const struct prune_stats *st)
{
	char n1[32], n2[32], size[32];

	if (!st->swept) {
		report(o, "%s %zu snapshot%s (%zu kept); no chunk was swept\n",
		       o->dry_run ? "dry run: would remove" : "removed", st->snapshots_removed,
		       st->snapshots_removed == 1 ? "" : "s",
		       st->snapshots - st->snapshots_removed);
		return;
	}
	report(o, "%s %zu snapshot%s (%zu kept), %s chunk%s (of %s)",
	       o->dry_run ? "dry run: would remove" : "removed", st->snapshots_removed,
	       st->snapshots_removed == 1 ? "" : "s", st->snapshots - st->snapshots_removed,
	       refs_thousands(st->chunks_removed, n1), st->chunks_removed == 1 ? "" : "s",
	       refs_thousands(st->chunks, n2));
	if (st->dicts_removed)
		report(o, ", %u dictionar%s", st->dicts_removed,
		       st->dicts_removed == 1 ? "y" : "ies");
	if (st->tmp_removed)
		report(o, ", %u temp file%s", st->tmp_removed, st->tmp_removed == 1 ? "" : "s");
	report(o, ", %s %s\n", refs_size(st->bytes_removed, size),
	       o->dry_run ? "would be freed; nothing was changed" : "freed");
	if (st->packs_rewritten || st->packs_removed)
		report(o, "packs: %u %s whole, %u %s without their unneeded chunks\n",
		       st->packs_removed, o->dry_run ? "to remove" : "removed",
		       st->packs_rewritten, o->dry_run ? "to rewrite" : "rewritten");
	if (st->chunks_kept_dead)
		report(o,
		       "%s unneeded chunk%s (%s) stay in packs less than %u%% unneeded; a "
		       "later prune removes them\n",
		       refs_thousands(st->chunks_kept_dead, n1),
		       st->chunks_kept_dead == 1 ? "" : "s", refs_size(st->bytes_kept_dead, size),
		       PRUNE_MIN_DEAD);
}

int prune_run(const char *state_dir, const struct prune_opts *opts, struct prune_stats *stp,
	      char *err, size_t errlen)
{
	struct prune_stats local;
	struct prune_stats *st = stp ? stp : &local;
	struct sweep sw = {.o = opts};
	struct store_lock *lock = NULL;
	struct plan p = {0}, now = {0};
	int store_fd, ret;

	memset(st, 0, sizeof(*st));
	store_fd = refs_open_store(state_dir, err, errlen);
	if (store_fd < 0)
		return store_fd;
	ret = lock_take(state_dir, LOCK_SWEEP, 0, &lock, err, errlen);
	if (ret == -EWOULDBLOCK && !opts->no_wait) {
		report(opts, "waiting: %s\n", err);
		if (opts->out)
			fflush(opts->out);
		ret = lock_take(state_dir, LOCK_SWEEP, 1, &lock, err, errlen);
	}
	if (ret)
		goto out;

	ret = plan_read(state_dir, &p, err, errlen);
	if (!ret)
		ret = retention_apply(&opts->policy, p.items, p.n, err, errlen);
	if (ret)
		goto out;
	st->snapshots = p.n;
	print_plan(opts, &p);

	{
		struct store_opts so = {.threads = 1};

		ret = store_open(state_dir, &so, &sw.store, err, errlen);
		if (ret)
			goto out;
	}
	sw.st = st;
	sw.store_fd = store_fd;
	sw.now = time(NULL);
	sw.tmp_age = opts->tmp_age ? opts->tmp_age : PRUNE_TMP_AGE;
	if (opts->dry_run) {
		for (size_t i = 0; i < p.n; i++)
			st->snapshots_removed += !p.items[i].why;
		ret = sweep(state_dir, &sw, p.names, p.n, p.items, err, errlen);
	} else {
		ret = remove_manifests(state_dir, &p, st, err, errlen);
		if (ret)
			goto out;
		/* Sweep by what is there now, whatever it is: only a named chunk is safe. */
		ret = manifest_list(state_dir, &now.names, &now.n, err, errlen);
		if (!ret)
			ret = sweep(state_dir, &sw, now.names, now.n, NULL, err, errlen);
	}
	print_summary(opts, st);
out:
	store_close(sw.store);
	refs_free(sw.named);
	refs_ids_free(&sw.needed);
	plan_free(&p);
	manifest_names_free(now.names, now.n);
	lock_release(lock);
	close(store_fd);
	return ret;
}
