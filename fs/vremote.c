/*
 * vremote.c - the pusher thread: batching, the push through libgit2, backoff and reporting.
 *
 * The one thing to know: the pusher shares nothing with the committer but its own small lock
 * (held only to set or take the "dirty" flag), so a remote that hangs in connect(2) or fails
 * for hours never slows a save. Its repository handle is its own (libgit2 objects are not
 * shared across threads); the objects it reads are the committer's, made durable before the
 * branch moved, and a pack the committer merges away meanwhile is found again by libgit2.
 */
#include "fs/vremote.h"
#include "fs/vcs_int.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vremote {
	struct mtab_remote *cfg; /* copies: an abandoned pusher outlives the mount table */
	char *state_dir;
	git_repository *repo;
	pthread_t thread;
	int running;
	atomic_int stop;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int dirty;
	/* the pusher's own */
	unsigned failures;
	int64_t last_ok;
	int agent_tried, key_next;
	char rejected[512], cred_msg[256];
};

/*
 * A fresh repository handle for each push: libgit2 keeps every pack it has seen open, and the
 * background merges (vcs_maint.c) delete packs; a pusher running for weeks would hold them all.
 */
static void reopen(struct vremote *r)
{
	git_repository *repo = NULL;

	if (git_repository_open_bare(&repo, git_repository_path(r->repo)))
		return; /* the old handle still works */
	git_repository_free(r->repo);
	r->repo = repo;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned vremote_backoff(unsigned interval, unsigned failures)
{
	unsigned d = interval ? interval : 1;
	unsigned cap = interval > VREMOTE_BACKOFF_MAX ? interval : VREMOTE_BACKOFF_MAX;

	if (!failures)
		return interval;
	for (unsigned i = 1; i < failures && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

/* ssh authentication: the agent first, then the usual key files of the daemon's user. */
static int credentials(git_credential **out, const char *url, const char *user,
		       unsigned int allowed, void *payload)
{
	static const char *const keys[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
	struct vremote *r = payload;
	struct passwd pw, *res = NULL;
	char buf[2048], key[PATH_MAX], pub[PATH_MAX + 4];
	const char *name = user;

	(void)url;
	if (atomic_load(&r->stop))
		return GIT_EUSER;
	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) || !res) {
		snprintf(r->cred_msg, sizeof(r->cred_msg), "cannot find the daemon's user");
		return GIT_EUSER;
	}
	if (!name || !*name)
		name = pw.pw_name;
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, name);
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY)) {
		snprintf(
		    r->cred_msg, sizeof(r->cred_msg),
		    "the remote asks for a password; statefs authenticates with ssh keys only");
		return GIT_EUSER;
	}
	if (!r->agent_tried && getenv("SSH_AUTH_SOCK")) {
		r->agent_tried = 1;
		return git_credential_ssh_key_from_agent(out, name);
	}
	for (; r->key_next < (int)(sizeof(keys) / sizeof(keys[0])); r->key_next++) {
		snprintf(key, sizeof(key), "%s/.ssh/%s", pw.pw_dir, keys[r->key_next]);
		snprintf(pub, sizeof(pub), "%s.pub", key);
		if (access(key, R_OK))
			continue;
		r->key_next++;
		return git_credential_ssh_key_new(out, name, access(pub, R_OK) ? NULL : pub, key,
						  NULL);
	}
	snprintf(
	    r->cred_msg, sizeof(r->cred_msg),
	    "no ssh key was accepted for %s (tried the ssh-agent if any, and %s/.ssh/id_ed25519, "
	    "id_ecdsa, id_rsa)",
	    name, pw.pw_dir);
	return GIT_EUSER;
}

static int update_ref(const char *refname, const char *status, void *payload)
{
	struct vremote *r = payload;
	size_t n = strlen(r->rejected);

	if (status && n + 8 < sizeof(r->rejected))
		snprintf(r->rejected + n, sizeof(r->rejected) - n, "%s%s rejected: %s",
			 n ? "; " : "", refname, status);
	return 0;
}

/* Progress callbacks, used to cancel a push when statefs stops. */
static int push_progress(unsigned current, unsigned total, size_t bytes, void *payload)
{
	(void)current;
	(void)total;
	(void)bytes;
	return atomic_load(&((struct vremote *)payload)->stop) ? -1 : 0;
}

static int sideband(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	return atomic_load(&((struct vremote *)payload)->stop) ? -1 : 0;
}

static int transfer(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	return atomic_load(&((struct vremote *)payload)->stop) ? -1 : 0;
}

/* A remote given as a path that is not there: say so (libgit2 would say "unsupported URL
 * protocol"). */
static int missing_path(const char *url, char *msg, size_t msglen)
{
	const char *path = !strncmp(url, "file://", 7) ? url + 7 : url;

	if (path[0] != '/' || access(path, F_OK) == 0)
		return 0;
	snprintf(msg, msglen, "%s: %s", path, strerror(errno));
	return 1;
}

/* One push. 0, or -EIO with the reason in @msg. @hex: what refs/heads/main was. */
static int push_once(struct vremote *r, char *msg, size_t msglen, char hex[GIT_OID_HEXSZ + 1])
{
	static char notes[] = VHOOKS_NOTES_REF ":" VHOOKS_NOTES_REF;
	static char good[] = VHOOKS_LAST_GOOD_REF ":" VHOOKS_LAST_GOOD_REF;
	char main_spec[300], *specs[3];
	git_strarray arr = {.strings = specs};
	git_remote *rem = NULL;
	git_remote_create_options co;
	git_push_options po;
	git_oid oid;
	int err = 0;

	strcpy(hex, "-");
	if (git_reference_name_to_id(&oid, r->repo, "refs/heads/main"))
		return 0; /* no commit yet: nothing to push */
	git_oid_tostr(hex, GIT_OID_HEXSZ + 1, &oid);
	snprintf(main_spec, sizeof(main_spec), "refs/heads/main:refs/heads/%s", r->cfg->branch);
	specs[arr.count++] = main_spec;
	if (git_reference_name_to_id(&oid, r->repo, VHOOKS_NOTES_REF) == 0)
		specs[arr.count++] = notes;
	if (git_reference_name_to_id(&oid, r->repo, VHOOKS_LAST_GOOD_REF) == 0)
		specs[arr.count++] = good;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.pb_parallelism = 1;
	po.callbacks.payload = r;
	po.callbacks.credentials = credentials;
	po.callbacks.push_update_reference = update_ref;
	po.callbacks.push_transfer_progress = push_progress;
	po.callbacks.sideband_progress = sideband;
	po.callbacks.transfer_progress = transfer;
	r->agent_tried = 0;
	r->key_next = 0;
	r->rejected[0] = '\0';
	r->cred_msg[0] = '\0';
	git_remote_create_options_init(&co, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	co.repository = r->repo;
	/* anonymous, without url.*.insteadOf (whose lookup leaks in libgit2 1.5 with pcre2) */
	co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	if (missing_path(r->cfg->url, msg, msglen)) {
		err = -ENOENT;
	} else if (git_remote_create_with_opts(&rem, r->cfg->url, &co) ||
		   git_remote_push(rem, &arr, &po)) {
		const git_error *ge = git_error_last();

		snprintf(msg, msglen, "%s",
			 r->cred_msg[0]	     ? r->cred_msg
			 : ge && ge->message ? ge->message
					     : "unknown error");
		err = -EIO;
	} else if (r->rejected[0]) {
		snprintf(msg, msglen, "%s", r->rejected);
		err = -EIO;
	}
	git_remote_free(rem);
	return err;
}

static void report(struct vremote *r, int ok, const char *hex, const char *msg, int64_t ms,
		   unsigned next)
{
	char extra[4096], emsg[1100], url[600], m[1200], branch[300];
	struct vstatus st = {.kind = "push",
			     .ok = ok,
			     .duration_ms = ms,
			     .what = r->cfg->url,
			     .message = m,
			     .extra = extra};
	time_t now = time(NULL);
	int e;

	vstatus_escape(msg, emsg, sizeof(emsg));
	vstatus_escape(r->cfg->url, url, sizeof(url));
	vstatus_escape(r->cfg->branch, branch, sizeof(branch));
	if (ok)
		snprintf(m, sizeof(m), "pushed %.12s to %s", hex, r->cfg->url);
	else
		snprintf(m, sizeof(m), "push to %s failed: %s", r->cfg->url, msg);
	snprintf(extra, sizeof(extra),
		 "url %s\nbranch %s\npushed %s\nfailures %u\nnext_retry %lld\nlast_ok %lld\n"
		 "error %s\n",
		 url, branch, hex, r->failures, ok ? 0LL : (long long)now + next,
		 (long long)r->last_ok, ok ? "" : emsg);
	st.time = now;
	e = vstatus_write(r->state_dir, &st);
	if (e)
		vcs_log(4, "push: cannot write %s/status/last-push: %s", r->state_dir,
			strerror(-e));
}

static void *pusher(void *arg)
{
	struct vremote *r = arg;
	int64_t next = 0; /* no push starts before this (monotonic ms) */

	pthread_mutex_lock(&r->lock);
	while (!atomic_load(&r->stop)) {
		int64_t now = mono_ms(), t0;
		char msg[1024] = "", hex[GIT_OID_HEXSZ + 1];
		unsigned wait;
		int e;

		if (!r->dirty) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		if (now < next) {
			struct timespec ts = {.tv_sec = next / 1000,
					      .tv_nsec = next % 1000 * 1000000};

			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
			continue;
		}
		r->dirty = 0;
		pthread_mutex_unlock(&r->lock);
		t0 = mono_ms();
		reopen(r);
		e = push_once(r, msg, sizeof(msg), hex);
		if (atomic_load(&r->stop)) {
			pthread_mutex_lock(&r->lock);
			break;
		}
		if (e) {
			r->failures++;
			wait = vremote_backoff(r->cfg->interval, r->failures);
			vcs_log(3, "push to %s failed (%u in a row; next try in %u s): %s",
				r->cfg->url, r->failures, wait, msg);
		} else {
			if (r->failures)
				vcs_log(5, "push to %s works again after %u failures", r->cfg->url,
					r->failures);
			else
				vcs_log(6, "pushed %.12s to %s", hex, r->cfg->url);
			r->failures = 0;
			r->last_ok = time(NULL);
			wait = r->cfg->interval;
		}
		report(r, !e, hex, msg, mono_ms() - t0, wait);
		pthread_mutex_lock(&r->lock);
		r->dirty |= e != 0;
		next = (e ? mono_ms() : t0) + (int64_t)wait * 1000;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int vremote_open(struct vremote **out, const struct mtab *tab, char *err, size_t errlen)
{
	struct vremote *r;
	pthread_condattr_t ca;
	char path[PATH_MAX];

	*out = NULL;
	if (!tab->remote.url)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	git_libgit2_init();
	r->cfg = calloc(1, sizeof(*r->cfg));
	if (!r->cfg || !(r->cfg->url = strdup(tab->remote.url)) ||
	    !(r->cfg->branch = strdup(tab->remote.branch ? tab->remote.branch : "main")) ||
	    !(r->state_dir = strdup(tab->state_dir))) {
		vremote_close(r);
		return -ENOMEM;
	}
	r->cfg->interval = tab->remote.interval;
	r->dirty = 1; /* the backlog, if any, goes at start */
	snprintf(path, sizeof(path), "%s/config.git", tab->state_dir);
	if (git_repository_open_bare(&r->repo, path)) {
		const git_error *ge = git_error_last();

		snprintf(err, errlen, "push: cannot open %s: %s", path,
			 ge ? ge->message : "unknown error");
		vremote_close(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

int vremote_start(struct vremote *r, char *err, size_t errlen)
{
	int e;

	if (!r)
		return 0;
	e = pthread_create(&r->thread, NULL, pusher, r);
	if (e) {
		snprintf(err, errlen, "cannot start the push thread: %s", strerror(e));
		return -e;
	}
	r->running = 1;
	return 0;
}

void vremote_kick(struct vremote *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->dirty = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void vremote_close(struct vremote *r)
{
	if (!r)
		return;
	if (r->running) {
		struct timespec ts;

		pthread_mutex_lock(&r->lock);
		atomic_store(&r->stop, 1);
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (pthread_timedjoin_np(r->thread, NULL, &ts)) {
			/* Stuck in the network (libgit2 has no connect or read timeout): the
			 * process is about to exit anyway. It keeps r, which stays reachable from
			 * here. */
			static struct vremote *abandoned;

			vcs_log(4, "push to %s still running at stop; abandoned", r->cfg->url);
			pthread_detach(r->thread);
			abandoned = r;
			(void)abandoned;
			return;
		}
	}
	git_repository_free(r->repo);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	git_libgit2_shutdown();
	if (r->cfg) {
		free(r->cfg->url);
		free(r->cfg->branch);
		free(r->cfg);
	}
	free(r->state_dir);
	free(r);
}
