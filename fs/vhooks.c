/*
 * vhooks.c - the checker thread: which mounts a commit touched, their checks and on-change
 * actions, and what is recorded of them (note, last-good, status/last-check, log).
 *
 * The one thing to know: the worker keeps two facts between rounds, the commit it checked last
 * (base) and the checks failing at base ("nginx" for a whole-mount check, "compose/blog/
 * docker-compose.yml" for a per-file one). A round diffs base..newest, re-runs what the diff
 * touches, and last-good moves to the newest commit when nothing is failing. At start, base is
 * last-good and nothing is failing, so whatever changed since last-good is checked again.
 *
 * When no mount has a check, last-good is always the newest commit: it can be told from HEAD,
 * so it is not worth a synced ref update per commit (competing with the committer's own
 * fsyncs). It then moves at most once every LAZY_GOOD_MS, and when statefs stops; after a crash
 * it may lag HEAD by that much, which only means the next start "checks" (there is nothing to
 * check) a few more commits.
 */
#include "fs/vhooks.h"
#include "fs/vcs_int.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

#define LAZY_GOOD_MS 5000 /* no check anywhere: last-good moves at most this often */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct change {
	size_t mount; /* index in tab->entries */
	char *rel;    /* the path beneath the mount */
	int deleted;
	int ok; /* its check passed, or there is none */
};

/* What one round did, for the note and status/last-check. */
struct round {
	char hex[GIT_OID_HEXSZ + 1];
	int through_mount;
	struct vcs_sbuf note;
	int ran;
	/* the first failed check of the round, else the last one that ran */
	int set, ok;
	char what[PATH_MAX], desc[128], line[256], exit[32];
	double seconds;
};

struct vhooks {
	const struct mtab *tab;
	git_repository *repo;
	void (*changed)(void *);
	void *arg;
	size_t nhooked;	 /* mounts with check or on-change */
	size_t nchecked; /* mounts with check */
	atomic_int repacked; /* packs were merged: open the repository again */
	/* the worker's own: last-good waiting to be written (no check anywhere), and when it
	 * was written last */
	git_oid good_pending;
	int has_good_pending;
	int64_t good_written_ms;
	pthread_t thread;
	int running;
	atomic_int stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	git_oid target; /* the newest commit handed over */
	int has_target, through_mount;
	git_oid base; /* the commit checked last; under lock, written by the worker */
	int has_base;
	char **failing; /* the worker's own */
	size_t nfailing;
};

int vhooks_open(struct vhooks **out, const struct mtab *tab, void (*changed)(void *), void *arg,
		char *err, size_t errlen)
{
	struct vhooks *h = calloc(1, sizeof(*h));
	char path[PATH_MAX];

	*out = NULL;
	if (!h)
		return -ENOMEM;
	git_libgit2_init();
	h->tab = tab;
	h->changed = changed;
	h->arg = arg;
	for (size_t i = 0; i < tab->nentries; i++) {
		h->nhooked += tab->entries[i].check || tab->entries[i].on_change;
		h->nchecked += tab->entries[i].check != NULL;
	}
	h->good_written_ms = INT64_MIN / 2;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	snprintf(path, sizeof(path), "%s/config.git", tab->state_dir);
	if (git_repository_open_bare(&h->repo, path)) {
		const git_error *ge = git_error_last();

		snprintf(err, errlen, "checks: cannot open %s: %s", path,
			 ge ? ge->message : "unknown error");
		vhooks_close(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

void vhooks_repacked(struct vhooks *h)
{
	if (h)
		atomic_store(&h->repacked, 1);
}

/* Packs were deleted: a new handle, so as not to keep the deleted ones mapped (see vcs.c). */
static void reopen_repo(struct vhooks *h)
{
	git_repository *repo = NULL;

	if (!atomic_exchange(&h->repacked, 0))
		return;
	if (git_repository_open_bare(&repo, git_repository_path(h->repo)))
		return; /* the old handle still works */
	git_repository_free(h->repo);
	h->repo = repo;
}

/* Point last-good at @target. 1 if it moved. */
static int move_good(struct vhooks *h, const git_oid *target)
{
	git_reference *ref = NULL;
	git_oid good;

	h->has_good_pending = 0;
	if (git_reference_name_to_id(&good, h->repo, VHOOKS_LAST_GOOD_REF) == 0 &&
	    git_oid_equal(&good, target))
		return 0;
	h->good_written_ms = mono_ms();
	if (git_reference_create(&ref, h->repo, VHOOKS_LAST_GOOD_REF, target, 1,
				 "statefs: checks passed")) {
		const git_error *ge = git_error_last();

		vcs_log(3, "checks: cannot move %s: %s", VHOOKS_LAST_GOOD_REF,
			ge ? ge->message : "unknown");
	}
	git_reference_free(ref);
	return 1;
}

/* Write the last-good that waits, if any. */
static void flush_good(struct vhooks *h)
{
	if (h->has_good_pending && move_good(h, &h->good_pending) && h->changed)
		h->changed(h->arg);
}

void vhooks_commit(struct vhooks *h, const git_oid *id, int external)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->target = *id;
	h->has_target = 1;
	h->through_mount |= !external;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static ssize_t fail_find(struct vhooks *h, const char *key)
{
	for (size_t i = 0; i < h->nfailing; i++)
		if (!strcmp(h->failing[i], key))
			return (ssize_t)i;
	return -1;
}

/* Record that the check named @key failed (or passed). */
static int fail_set(struct vhooks *h, const char *key, int failed)
{
	ssize_t i = fail_find(h, key);
	char **v;

	if (!failed && i >= 0) {
		free(h->failing[i]);
		h->failing[i] = h->failing[--h->nfailing];
	} else if (failed && i < 0) {
		v = realloc(h->failing, (h->nfailing + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->failing = v;
		if (!(v[h->nfailing] = strdup(key)))
			return -ENOMEM;
		h->nfailing++;
	}
	return 0;
}

static int mount_failing(struct vhooks *h, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < h->nfailing; i++)
		if (!strncmp(h->failing[i], name, n) &&
		    (h->failing[i][n] == '\0' || h->failing[i][n] == '/'))
			return 1;
	return 0;
}

/* The changes base..@target beneath mounts with a check or an on-change. 0 or -errno. */
static int collect(struct vhooks *h, const git_oid *target, struct change **out, size_t *n)
{
	git_commit *c = NULL, *bc = NULL;
	git_tree *t = NULL, *bt = NULL;
	git_diff *diff = NULL;
	git_diff_options o;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (git_commit_lookup(&c, h->repo, target) || git_commit_tree(&t, c)) {
		err = -EIO;
		goto out;
	}
	/* a base that cannot be read (never, unless the repository was damaged): check all */
	if (h->has_base && (git_commit_lookup(&bc, h->repo, &h->base) || git_commit_tree(&bt, bc)))
		bt = NULL;
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	if (git_diff_tree_to_tree(&diff, h->repo, bt, t, &o)) {
		err = -EIO;
		goto out;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		int del = d->status == GIT_DELTA_DELETED;
		const char *path = del ? d->old_file.path : d->new_file.path;
		const char *slash = strchr(path, '/');
		struct change *v;
		size_t m;

		if (!slash)
			continue; /* .statefs-meta */
		for (m = 0; m < h->tab->nentries; m++) {
			const struct mtab_entry *e = &h->tab->entries[m];

			if ((e->check || e->on_change) &&
			    strlen(e->name) == (size_t)(slash - path) &&
			    !strncmp(e->name, path, (size_t)(slash - path)))
				break;
		}
		if (m == h->tab->nentries)
			continue;
		v = realloc(*out, (*n + 1) * sizeof(*v));
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		*out = v;
		v[*n] = (struct change){.mount = m, .deleted = del, .rel = strdup(slash + 1)};
		if (!v[*n].rel) {
			err = -ENOMEM;
			goto out;
		}
		(*n)++;
	}
out:
	if (err == -EIO) {
		const git_error *ge = git_error_last();

		vcs_log(3, "checks: cannot read the changes: %s", ge ? ge->message : "unknown");
	}
	git_diff_free(diff);
	git_tree_free(t);
	git_tree_free(bt);
	git_commit_free(c);
	git_commit_free(bc);
	return err;
}

static void free_env(char **env, size_t owned)
{
	for (size_t i = owned; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* The daemon's environment, without STATEFS_*, plus STATEFS_COMMIT, _MOUNT and _FILE. The
 * strings from index *owned on are allocated. NULL when out of memory. */
static char **make_env(const char *hex, const char *mount, const char *file, size_t *owned)
{
	static char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	size_t n = 0, k = 0;
	int has_path = 0;
	char **env, *s;

	for (char **e = environ; *e; e++)
		n++;
	env = calloc(n + 5, sizeof(*env));
	if (!env)
		return NULL;
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "STATEFS_", 8))
			continue;
		has_path |= !strncmp(*e, "PATH=", 5);
		env[k++] = *e;
	}
	if (!has_path)
		env[k++] = path;
	*owned = k;
	if (asprintf(&s, "STATEFS_COMMIT=%s", hex) < 0)
		goto fail;
	env[k++] = s;
	if (asprintf(&s, "STATEFS_MOUNT=%s", mount) < 0)
		goto fail;
	env[k++] = s;
	if (file && asprintf(&s, "STATEFS_FILE=%s", file) < 0)
		goto fail;
	if (file)
		env[k++] = s;
	return env;
fail:
	free_env(env, *owned);
	return NULL;
}

/* Run @tpl for mount @m (and file @rel beneath it when the command takes one). 1 = passed. */
static int run_one(struct vhooks *h, struct round *rd, const struct mtab_entry *m, const char *tpl,
		   const char *rel, struct vhooks_result *res)
{
	const char *base = m->kind == MTAB_TREE ? m->source : m->glob.prefix;
	char *cmd = NULL, *path = NULL, **env = NULL;
	size_t owned = 0;
	int ok = 0;

	if (rel && asprintf(&path, "%s/%s", strcmp(base, "/") ? base : "", rel) < 0)
		path = NULL;
	if ((rel && !path) || vhooks_expand(tpl, vhooks_per_file(tpl) ? path : NULL, &cmd) ||
	    !(env = make_env(rd->hex, m->name, path, &owned))) {
		memset(res, 0, sizeof(*res));
		res->end = VHOOKS_NOSPAWN;
		res->code = ENOMEM;
		goto out;
	}
	ok = vhooks_run(cmd, base, m->check_timeout ? m->check_timeout : MTAB_CHECK_TIMEOUT, env,
			&h->stop, res);
out:
	free_env(env, owned);
	free(cmd);
	free(path);
	return ok;
}

/* One block of the note: "check: passed (exit 0) in 0.004 s", where, what, the output. */
static void note_block(struct round *rd, const char *kind, const char *desc,
		       const struct mtab_entry *m, const char *rel, const char *tpl,
		       const struct vhooks_result *res)
{
	struct vcs_sbuf *b = &rd->note;

	vcs_sbprintf(b, "%s%s: %s\nmount: %s\n", b->len ? "\n" : "", kind, desc, m->name);
	if (rel && vhooks_per_file(tpl))
		vcs_sbprintf(b, "file: %s\n", rel);
	vcs_sbprintf(b, "command: %s\n", tpl);
	if (!res || !res->outlen)
		return;
	if (res->cut)
		vcs_sbprintf(b, "    [... only the last %d bytes of the output are kept]\n",
			     VHOOKS_OUTPUT_MAX);
	for (const char *p = res->out, *e; p < res->out + res->outlen; p = e + 1) {
		e = memchr(p, '\n', (size_t)(res->out + res->outlen - p));
		if (!e)
			e = res->out + res->outlen;
		vcs_sbprintf(b, "    %.*s\n", (int)(e - p), p);
	}
}

/* Log, note and remember one command's outcome. */
static void outcome(struct round *rd, const char *kind, const struct mtab_entry *m, const char *rel,
		    const char *tpl, const struct vhooks_result *res, int ok)
{
	char desc[128], line[256], what[PATH_MAX];

	vhooks_describe(res, desc, sizeof(desc));
	vhooks_last_line(res->out, res->outlen, line, sizeof(line));
	if (res->end == VHOOKS_EXITED && res->code == 0 && !strcmp(kind, "on-change"))
		snprintf(desc, sizeof(desc), "ran (exit 0) in %.3f s", res->seconds);
	snprintf(what, sizeof(what), "%s%s%s", m->name, rel && vhooks_per_file(tpl) ? "/" : "",
		 rel && vhooks_per_file(tpl) ? rel : "");
	vcs_log(ok ? 6 : 3, "%s of %s %s at %.12s%s%s", kind, what, desc, rd->hex,
		line[0] ? ": " : "", line);
	note_block(rd, kind, desc, m, rel, tpl, res);
	rd->ran++;
	if (rd->set && !rd->ok)
		return; /* the first failure is what status shows */
	rd->set = 1;
	rd->ok = ok;
	snprintf(rd->what, sizeof(rd->what), "%s of %.4000s", kind, what);
	snprintf(rd->desc, sizeof(rd->desc), "%s", desc);
	snprintf(rd->line, sizeof(rd->line), "%s", line);
	rd->seconds = res->seconds;
	if (res->end == VHOOKS_EXITED)
		snprintf(rd->exit, sizeof(rd->exit), "%d", res->code);
	else if (res->end == VHOOKS_SIGNALED)
		snprintf(rd->exit, sizeof(rd->exit), "signal-%d", res->code);
	else
		snprintf(rd->exit, sizeof(rd->exit), "%s",
			 res->end == VHOOKS_TIMEOUT ? "timeout" : "not-run");
}

/* The checks, then the on-change action, of mount @mi for its changes @c[0..n). */
static int do_mount(struct vhooks *h, struct round *rd, size_t mi, struct change *c, size_t n)
{
	const struct mtab_entry *m = &h->tab->entries[mi];
	struct vhooks_result *res = malloc(sizeof(*res));
	char key[PATH_MAX + NAME_MAX + 2];
	int ok, err = 0;

	if (!res)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		c[i].ok = 1;
	if (m->check && vhooks_per_file(m->check)) {
		for (size_t i = 0; i < n && !err && !atomic_load(&h->stop); i++) {
			snprintf(key, sizeof(key), "%s/%s", m->name, c[i].rel);
			if (c[i].deleted) {
				err = fail_set(h, key, 0);
				continue;
			}
			c[i].ok = ok = run_one(h, rd, m, m->check, c[i].rel, res);
			if (res->end == VHOOKS_STOPPED)
				goto out; /* not a result: checked again at the next start */
			outcome(rd, "check", m, c[i].rel, m->check, res, ok);
			err = fail_set(h, key, !ok);
		}
	} else if (m->check) {
		ok = run_one(h, rd, m, m->check, NULL, res);
		if (res->end == VHOOKS_STOPPED)
			goto out;
		outcome(rd, "check", m, NULL, m->check, res, ok);
		err = fail_set(h, m->name, !ok);
		for (size_t i = 0; i < n; i++)
			c[i].ok = ok;
	}
	/* The action follows a save through the mount; an external change has its own. */
	if (err || !m->on_change || !rd->through_mount || atomic_load(&h->stop))
		goto out;
	if (vhooks_per_file(m->on_change)) {
		for (size_t i = 0; i < n && !atomic_load(&h->stop); i++) {
			if (c[i].deleted)
				continue;
			if (!c[i].ok) {
				note_block(rd, "on-change", "not run (the check failed)", m,
					   c[i].rel, m->on_change, NULL);
				continue;
			}
			ok = run_one(h, rd, m, m->on_change, c[i].rel, res);
			if (res->end == VHOOKS_STOPPED)
				goto out;
			outcome(rd, "on-change", m, c[i].rel, m->on_change, res, ok);
		}
	} else if (mount_failing(h, m->name)) {
		note_block(rd, "on-change", "not run (a check is failing)", m, NULL, m->on_change,
			   NULL);
	} else {
		ok = run_one(h, rd, m, m->on_change, NULL, res);
		if (res->end == VHOOKS_STOPPED)
			goto out;
		outcome(rd, "on-change", m, NULL, m->on_change, res, ok);
	}
out:
	free(res);
	return err;
}

static void write_status(struct vhooks *h, struct round *rd, const git_oid *good)
{
	char extra[1024], line[600], what[PATH_MAX + 64], msg[1024], lg[GIT_OID_HEXSZ + 1] = "-";
	struct vstatus st = {.kind = "check", .what = what, .message = msg, .extra = extra};
	int r;

	if (good)
		git_oid_tostr(lg, sizeof(lg), good);
	vstatus_escape(rd->line, line, sizeof(line));
	snprintf(what, sizeof(what), "%s", rd->what);
	snprintf(msg, sizeof(msg), "%.500s %s%s%s", rd->what, rd->desc, rd->line[0] ? ": " : "",
		 rd->line);
	snprintf(extra, sizeof(extra),
		 "commit %s\nexit %s\noutput %s\nlast_good %s\nfailing %zu\nchecks_run %d\n",
		 rd->hex, rd->exit, line, lg, h->nfailing, rd->ran);
	st.time = time(NULL);
	st.ok = rd->ok;
	st.duration_ms = (int64_t)(rd->seconds * 1000);
	r = vstatus_write(h->tab->state_dir, &st);
	if (r)
		vcs_log(4, "checks: cannot write %s/status/last-check: %s", h->tab->state_dir,
			strerror(-r));
}

/* Check what changed up to @target, record it, move last-good. 0 or -errno. */
static int do_round(struct vhooks *h, const git_oid *target, int through_mount)
{
	struct round *rd = calloc(1, sizeof(*rd));
	struct change *c = NULL;
	size_t n = 0, i, j;
	git_oid good;
	int err = 0, moved = 0;

	if (!rd)
		return -ENOMEM;
	git_oid_tostr(rd->hex, sizeof(rd->hex), target);
	rd->through_mount = through_mount;
	if (h->nhooked)
		err = collect(h, target, &c, &n);
	/* the changes come sorted by path, so each mount's are together */
	for (i = 0; i < n && !err; i = j) {
		for (j = i; j < n && c[j].mount == c[i].mount; j++)
			;
		err = do_mount(h, rd, c[i].mount, c + i, j - i);
	}
	if (err || atomic_load(&h->stop))
		goto out; /* checked again at the next round or start */
	if (rd->note.oom) {
		err = -ENOMEM;
		goto out;
	}
	if (rd->note.len) {
		git_signature *sig = NULL;
		git_oid note;

		if (git_signature_now(&sig, "statefs", "statefs@localhost") ||
		    git_note_create(&note, h->repo, VHOOKS_NOTES_REF, sig, sig, target, rd->note.s,
				    1)) {
			const git_error *ge = git_error_last();

			vcs_log(3, "checks: cannot write the note of %.12s: %s", rd->hex,
				ge ? ge->message : "unknown");
		}
		git_signature_free(sig);
		moved = 1;
	}
	if (!h->nfailing && !h->nchecked && mono_ms() - h->good_written_ms < LAZY_GOOD_MS) {
		h->good_pending = *target; /* written by the worker when the time comes */
		h->has_good_pending = 1;
	} else if (!h->nfailing) {
		moved |= move_good(h, target);
	}
	if (rd->ran && h->has_good_pending)
		write_status(h, rd, &h->good_pending);
	else if (rd->ran)
		write_status(
		    h, rd,
		    git_reference_name_to_id(&good, h->repo, VHOOKS_LAST_GOOD_REF) ? NULL : &good);
	if (moved && h->changed)
		h->changed(h->arg);
out:
	for (i = 0; i < n; i++)
		free(c[i].rel);
	free(c);
	free(rd->note.s);
	free(rd);
	return err;
}

static void *worker(void *arg)
{
	struct vhooks *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!atomic_load(&h->stop) &&
		       !(h->has_target && (!h->has_base || !git_oid_equal(&h->target, &h->base)))) {
			int64_t left = h->good_written_ms + LAZY_GOOD_MS - mono_ms();
			struct timespec ts;

			if (!h->has_good_pending) {
				pthread_cond_wait(&h->cond, &h->lock);
				continue;
			}
			if (left <= 0) {
				pthread_mutex_unlock(&h->lock);
				flush_good(h);
				pthread_mutex_lock(&h->lock);
				continue;
			}
			vcs_deadline(&ts, (long)left);
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
		}
		if (atomic_load(&h->stop))
			break;
		git_oid t = h->target;
		int through_mount = h->through_mount;
		int r;

		h->through_mount = 0;
		pthread_mutex_unlock(&h->lock);
		reopen_repo(h);
		r = do_round(h, &t, through_mount);
		if (r)
			vcs_log(3, "checks: the checks of %.12s were not recorded: %s",
				git_oid_tostr_s(&t), strerror(-r));
		pthread_mutex_lock(&h->lock);
		if (atomic_load(&h->stop))
			break;
		/* a failed round is not retried: the next commit checks its changes again */
		h->base = t;
		h->has_base = 1;
	}
	pthread_mutex_unlock(&h->lock);
	flush_good(h); /* statefs stops: last-good as it stands */
	return NULL;
}

int vhooks_start(struct vhooks *h, char *err, size_t errlen)
{
	int r;

	h->has_target = git_reference_name_to_id(&h->target, h->repo, "HEAD") == 0;
	h->has_base = git_reference_name_to_id(&h->base, h->repo, VHOOKS_LAST_GOOD_REF) == 0;
	r = pthread_create(&h->thread, NULL, worker, h);
	if (r) {
		snprintf(err, errlen, "cannot start the checker thread: %s", strerror(r));
		return -r;
	}
	h->running = 1;
	return 0;
}

void vhooks_close(struct vhooks *h)
{
	if (!h)
		return;
	if (h->running) {
		pthread_mutex_lock(&h->lock);
		atomic_store(&h->stop, 1);
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	for (size_t i = 0; i < h->nfailing; i++)
		free(h->failing[i]);
	free(h->failing);
	git_repository_free(h->repo);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	git_libgit2_shutdown();
	free(h);
}
