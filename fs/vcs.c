/*
 * vcs.c - the versioning module's life cycle and its committer thread.
 *
 * The one thing to know: only the committer thread touches v->repo once vcs_start has
 * returned. Other threads hand it notes through vcs_note under v->lock, and never wait for it.
 * Pack merges run in a child process (vcs_maint.c), which the committer only kicks.
 * After each commit it hands the commit id on to the checker (vhooks) and the pusher
 * (vremote), which run on threads of their own with repository handles of their own.
 */
#define FUSE_USE_VERSION 34
#include "fs/vcs_int.h"

#include <git2/sys/odb_backend.h>

#include <fuse_log.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void vcs_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fuse_log((enum fuse_log_level)level, "statefs: %s\n", buf);
}

void vcs_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vcs_who_fill(struct vcs_who *who, pid_t pid, uid_t uid, gid_t gid)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	memset(who, 0, sizeof(*who));
	who->uid = uid;
	who->gid = gid;
	who->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, who->comm, sizeof(who->comm) - 1);
		close(fd);
	}
	if (n <= 0) {
		strcpy(who->comm, "?");
		return;
	}
	who->comm[n] = '\0';
	who->comm[strcspn(who->comm, "\n")] = '\0';
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int load_head(struct vcs *v, char *err, size_t errlen)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	git_blob *b = NULL;
	const git_tree_entry *te;
	int ret = 0;

	if (git_reference_name_to_id(&v->head, v->repo, "HEAD"))
		return 0; /* a new repository */
	if (git_commit_lookup(&c, v->repo, &v->head) || git_commit_tree(&t, c) ||
	    git_index_read_tree(v->index, t)) {
		const git_error *ge = git_error_last();

		snprintf(err, errlen, "cannot read HEAD of %s: %s", git_repository_path(v->repo),
			 ge ? ge->message : "unknown error");
		ret = -EIO;
		goto out;
	}
	v->has_head = 1;
	v->head_tree = *git_tree_id(t);
	te = git_tree_entry_byname(t, META_FILE);
	if (te && git_blob_lookup(&b, v->repo, git_tree_entry_id(te)) == 0) {
		char msg[256];

		if (meta_parse(&v->meta, git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), msg,
			       sizeof(msg))) {
			/* the next commit writes it anew from what is on disk */
			vcs_log(4, "%s in HEAD is damaged (%s); recording it again", META_FILE, msg);
			meta_free(&v->meta);
			meta_init(&v->meta);
		}
	}
out:
	git_blob_free(b);
	git_tree_free(t);
	git_commit_free(c);
	return ret;
}

/* New objects go to @repo's memory first, and to disk as one pack per commit (vpack.c). */
static int add_pending(git_repository *repo, git_odb_backend **pending)
{
	git_odb *odb = NULL;
	int r;

	*pending = NULL;
	r = git_repository_odb(&odb, repo) ? -EIO : vpack_pending_new(pending);
	if (!r && git_odb_add_backend(odb, *pending, 1000))
		r = -ENOMEM;
	if (r && *pending) {
		(*pending)->free(*pending);
		*pending = NULL;
	}
	git_odb_free(odb);
	return r;
}

/*
 * A merge deleted packs: open the repository again. libgit2 never forgets a pack it has seen,
 * so without this the committer would keep every deleted pack's index mapped, and try each of
 * them on every lookup. Nothing is pending in memory between commits.
 */
static void reopen_repo(struct vcs *v)
{
	unsigned merges = atomic_load(&v->maint.merges);
	git_repository *repo = NULL;
	git_odb_backend *pending = NULL;

	if (git_repository_open_bare(&repo, git_repository_path(v->repo)) ||
	    add_pending(repo, &pending)) {
		vcs_log(4, "cannot open the repository again after a merge: %s",
			git_error_last() ? git_error_last()->message : "unknown error");
		git_repository_free(repo);
		return; /* the old handle still works: objects are found in the new packs */
	}
	git_repository_free(v->repo);
	v->repo = repo;
	v->pending = pending;
	v->repo_merges = merges;
}

int vcs_open(struct vcs **out, const struct mtab *tab, const struct vcs_options *opt, char *err,
	     size_t errlen)
{
	struct vcs *v = calloc(1, sizeof(*v));
	char path[PATH_MAX];
	int ret;

	if (!v)
		return -ENOMEM;
	v->lock_fd = -1;
	git_libgit2_init();
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	/* Keep the daemon small: libgit2 would cache up to 256 MiB of objects and map up to 8 GiB
	 * of packs by default. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(4 << 20));
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)(1 << 20));
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)(16 << 20));
	v->tab = tab;
	v->opt = *opt;
	if (!v->opt.quiet_ms)
		v->opt.quiet_ms = 150;
	if (!v->opt.max_delay_ms)
		v->opt.max_delay_ms = 5000;
	if (!v->opt.pack_every)
		v->opt.pack_every = 16; /* libgit2 reads the pack directory for each new object */
	if (!v->opt.max_file_size)
		v->opt.max_file_size = 16 << 20;
	meta_init(&v->meta);
	vq_init(&v->q);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	pthread_cond_init(&v->done_cond, NULL);
	gethostname(v->host, sizeof(v->host) - 1);
	if (!v->host[0])
		strcpy(v->host, "localhost");

	ret = mkdir_p(tab->state_dir, 0700);
	if (ret) {
		snprintf(err, errlen, "cannot create state directory %s: %s", tab->state_dir,
			 strerror(-ret));
		goto fail;
	}
	chmod(tab->state_dir, 0700);
	struct stat sst;

	if (stat(tab->state_dir, &sst) == 0) {
		v->state_dev = sst.st_dev;
		v->state_ino = sst.st_ino;
	}
	snprintf(path, sizeof(path), "%s/config.git", tab->state_dir);
	if (git_repository_open_bare(&v->repo, path)) {
		git_repository_init_options o;

		git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);

		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		o.initial_head = "main";
		o.description = "statefs: the history of the live configuration";
		if (git_repository_init_ext(&v->repo, path, &o)) {
			const git_error *ge = git_error_last();

			snprintf(err, errlen, "cannot create repository %s: %s", path,
				 ge ? ge->message : "unknown error");
			ret = -EIO;
			goto fail;
		}
	}
	/* One writer at a time: a second daemon on the same state directory would fork the
	 * history. The lock goes with the process, so a crash leaves nothing behind. */
	snprintf(path, sizeof(path), "%s/config.git/statefs.lock", tab->state_dir);
	v->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (v->lock_fd < 0 || flock(v->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EBUSY ? "another statefs already uses this state directory"
				       : strerror(-ret));
		goto fail;
	}
	/* Bound what packing may hold in memory (git's defaults allow 256 MiB of deltas). */
	git_config *cfg = NULL;

	if (git_repository_config(&cfg, v->repo) == 0) {
		git_config_set_int64(cfg, "pack.deltaCacheSize", 4 << 20);
		git_config_set_int64(cfg, "pack.windowMemory", 8 << 20);
		git_config_set_int64(cfg, "pack.bigFileThreshold", 4 << 20);
		git_config_free(cfg);
	}
	if (add_pending(v->repo, &v->pending)) {
		snprintf(err, errlen, "cannot set up the object writer");
		ret = -ENOMEM;
		goto fail;
	}
	if (git_index_new(&v->index)) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = load_head(v, err, errlen);
	if (ret)
		goto fail;
	v->base = malloc((tab->nentries ? tab->nentries : 1) * sizeof(int));
	if (!v->base) {
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < tab->nentries; i++) {
		const struct mtab_entry *m = &tab->entries[i];
		const char *dir = m->kind == MTAB_TREE ? m->source : m->glob.prefix;

		v->base[i] = -1;
		if (m->kind == MTAB_PLAIN)
			continue;
		v->base[i] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (v->base[i] < 0) {
			ret = -errno;
			snprintf(err, errlen, "mount %s: cannot open %s: %s", m->name, dir,
				 strerror(errno));
			for (size_t k = 0; k < i; k++)
				if (v->base[k] >= 0)
					close(v->base[k]);
			free(v->base);
			v->base = NULL;
			goto fail;
		}
	}
	*out = v;
	return 0;
fail:
	vcs_close(v);
	return ret;
}

/* Process one group of notes into at most one commit. */
static int commit_group(struct vcs *v, const struct vq_group *g, const char *how)
{
	struct timespec t0, t1;
	int err = 0, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (atomic_load(&v->maint.merges) != v->repo_merges)
		reopen_repo(v);
	for (size_t i = 0; i < g->n; i++) {
		r = vscan_path(v, g->notes[i].path, g->notes[i].recursive);
		if (r && !err) {
			vcs_log(3, "cannot record %s: %s", g->notes[i].path, strerror(-r));
			err = r;
		}
	}
	r = vcommit(v, &g->who, how);
	if (r < 0) {
		char msg[256];

		vcs_log(3, "commit failed: %s; it will be retried", strerror(-r));
		/* the index may name objects that were never written: start again from HEAD */
		git_index_clear(v->index);
		meta_free(&v->meta);
		meta_init(&v->meta);
		v->has_head = 0;
		if (load_head(v, msg, sizeof(msg)))
			vcs_log(3, "%s", msg);
		return r;
	}
	if (r > 0) {
		char hex[GIT_OID_HEXSZ + 1];

		vhooks_commit(v->hooks, &v->head, g->who.external);
		vremote_kick(v->remote);
		if (v->commits_since_pack >= v->opt.pack_every) {
			vmaint_kick(v); /* the merge runs in a child: never waited for */
			v->commits_since_pack = 0;
		}

		clock_gettime(CLOCK_MONOTONIC, &t1);
		git_oid_tostr(hex, sizeof(hex), &v->head);
		/* level 6 = info: the time from taking the save to the durable commit */
		vcs_log(6, "committed %.12s in %.3f ms (%s)", hex,
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
			g->who.external ? "external" : g->who.comm);
	}
	return err;
}

static void *committer(void *arg)
{
	struct vcs *v = arg;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		long wait = vq_wait_ms(&v->q, now_ms(), v->opt.quiet_ms, v->opt.max_delay_ms,
				       v->writers);

		if (wait < 0 && v->stop)
			break;
		if (wait != 0 && !(v->stop && wait > 0)) {
			if (wait < 0) {
				pthread_cond_wait(&v->cond, &v->lock);
			} else {
				struct timespec ts;

				vcs_deadline(&ts, wait);
				pthread_cond_timedwait(&v->cond, &v->lock, &ts);
			}
			continue;
		}
		struct vq_group *groups;
		size_t n;
		uint64_t seq = v->q.seq_pushed;
		int failed = 0;

		vq_take(&v->q, &groups, &n);
		pthread_mutex_unlock(&v->lock);
		for (size_t i = 0; i < n; i++)
			if (commit_group(v, &groups[i], "inotify") < 0)
				failed = 1;
		pthread_mutex_lock(&v->lock);
		if (failed && !v->stop) {
			/* keep the notes: retry after a quiet window */
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < groups[i].n; j++)
					vq_push(&v->q, groups[i].notes[j].path,
						groups[i].notes[j].recursive, &groups[i].who,
						now_ms() + 1000);
		}
		vq_groups_free(groups, n);
		v->seq_done = seq;
		pthread_cond_broadcast(&v->done_cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

int vcs_catch_up(struct vcs *v, char *err, size_t errlen)
{
	struct vq_group g = {.who = {.external = 1}};
	int r;

	/* Whatever changed while statefs was not running (or crashed) is committed first. */
	g.notes = calloc(v->tab->nentries + 1, sizeof(*g.notes));
	if (!g.notes)
		return -ENOMEM;
	for (size_t i = 0; i < v->tab->nentries; i++) {
		if (v->base[i] < 0)
			continue;
		g.notes[g.n].path = v->tab->entries[i].name;
		g.notes[g.n++].recursive = 1;
	}
	r = commit_group(v, &g, "found at start-up");
	free(g.notes);
	if (r < 0) {
		snprintf(err, errlen, "cannot record the trees at start-up: %s", strerror(-r));
		return r;
	}
	return 0;
}

static void kick_remote(void *arg)
{
	vremote_kick(((struct vcs *)arg)->remote);
}

int vcs_start(struct vcs *v, char *err, size_t errlen)
{
	int r;

	/* The checker and the pusher have repository handles of their own; they start first,
	 * so that they see what the start-up scan committed. */
	r = vremote_open(&v->remote, v->tab, err, errlen);
	if (!r)
		r = vremote_start(v->remote, err, errlen);
	if (!r)
		r = vhooks_open(&v->hooks, v->tab, kick_remote, v, err, errlen);
	if (!r)
		r = vhooks_start(v->hooks, err, errlen);
	if (!r)
		r = vmaint_start(v, err, errlen);
	if (r)
		return r;
	r = pthread_create(&v->thread, NULL, committer, v);
	if (r) {
		snprintf(err, errlen, "cannot start the committer thread: %s", strerror(r));
		return -r;
	}
	v->running = 1;
	return 0;
}

void vcs_note(struct vcs *v, const char *path, int recursive, const struct vcs_who *who)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	if (vq_push(&v->q, path, recursive, who, now_ms()))
		vcs_log(3, "out of memory: %s will be recorded at the next start", path);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

void vcs_writers(struct vcs *v, int delta)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->lock);
	v->writers += delta;
	if (v->writers <= 0) {
		v->writers = 0;
		pthread_cond_signal(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
}

void vcs_sync(struct vcs *v)
{
	pthread_mutex_lock(&v->lock);
	uint64_t want = v->q.seq_pushed;

	while (v->running && v->seq_done < want)
		pthread_cond_wait(&v->done_cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
}

void vcs_close(struct vcs *v)
{
	if (!v)
		return;
	if (v->running) {
		pthread_mutex_lock(&v->lock);
		v->stop = 1;
		pthread_cond_signal(&v->cond);
		pthread_mutex_unlock(&v->lock);
		pthread_join(v->thread, NULL);
		v->running = 0;
	}
	vmaint_stop(v); /* a merge under way is stopped: it is safe at any point */
	/* the checker may kick the pusher: it stops first */
	vhooks_close(v->hooks);
	v->hooks = NULL;
	vremote_close(v->remote);
	v->remote = NULL;
	if (v->base) {
		for (size_t i = 0; i < v->tab->nentries; i++)
			if (v->base[i] >= 0)
				close(v->base[i]);
		free(v->base);
	}
	vcs_changes_clear(v);
	free(v->chg);
	vq_free(&v->q);
	meta_free(&v->meta);
	git_index_free(v->index);
	git_repository_free(v->repo);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	pthread_cond_destroy(&v->done_cond);
	git_libgit2_shutdown();
	free(v);
}

int vcs_head_for_snapshot(const struct mtab *tab, char hex[41], char *err, size_t errlen)
{
	struct vcs_options opt = {0};
	struct vcs *v = NULL;
	git_repository *repo = NULL;
	git_oid oid;
	char path[PATH_MAX];
	int r;

	strcpy(hex, "-");
	r = vcs_open(&v, tab, &opt, err, errlen);
	if (r == 0) {
		r = vcs_catch_up(v, err, errlen);
		if (r == 0 && v->has_head)
			git_oid_tostr(hex, 41, &v->head);
		vcs_close(v);
		return r;
	}
	if (r != -EBUSY)
		return r;
	/* a daemon is running: its HEAD is current */
	git_libgit2_init();
	snprintf(path, sizeof(path), "%s/config.git", tab->state_dir);
	if (git_repository_open_bare(&repo, path) == 0 &&
	    git_reference_name_to_id(&oid, repo, "HEAD") == 0)
		git_oid_tostr(hex, 41, &oid);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return 0;
}
