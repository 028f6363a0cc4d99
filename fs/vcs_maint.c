/*
 * vcs_maint.c - keeping the repository compact without holding a commit back.
 *
 * A thread of its own waits for the committer's kick (every pack_every commits) and runs each
 * merge as a child process, `statefs __pack GITDIR PPID` (fs/vpack.c), started with
 * posix_spawn: a merge may read and rewrite much of the history, and in a child its CPU time
 * is niced, its memory is never the daemon's, and the committer goes on committing meanwhile.
 * The child's stdout is a pipe whose lines the thread logs. The one thing to know: a merge may
 * be stopped at any point (statefs stops, the daemon is killed: the child gets SIGTERM) without
 * losing anything, so stopping never waits for one to finish.
 */
#include "fs/vcs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_GRACE_MS 10000 /* after SIGTERM, a merge that has not ended is killed */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log the child's complete lines ("LEVEL message") from @buf; keep a partial one. */
static void log_lines(char *buf, size_t *len)
{
	char *p = buf, *nl;

	while ((nl = memchr(p, '\n', *len - (size_t)(p - buf)))) {
		char *msg;
		long level;

		*nl = '\0';
		level = strtol(p, &msg, 10);
		if (msg == p || level < 0 || level > 7)
			level = 6;
		vcs_log((int)level, "packs: %s", msg + (*msg == ' '));
		p = nl + 1;
	}
	*len -= (size_t)(p - buf);
	memmove(buf, p, *len);
	if (*len == 1023) { /* a line too long: log what there is */
		buf[*len] = '\0';
		vcs_log(6, "packs: %s", buf);
		*len = 0;
	}
}

/* One merge: start the child, log what it says, wait for it. */
static void run_merge(struct vcs *v)
{
	char gitdir[PATH_MAX], ppid[24], buf[1024];
	char *argv[] = {"statefs", "__pack", gitdir, ppid, NULL};
	int64_t t0 = mono_ms(), term_at = 0;
	size_t len = 0;
	int pfd[2], status = 0, r;
	pid_t pid;

	snprintf(gitdir, sizeof(gitdir), "%s", v->maint.gitdir);
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	if (pipe2(pfd, O_CLOEXEC)) {
		vcs_log(4, "packs: cannot start a merge: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&v->maint.lock);
	/* the daemon's own binary, even if a newer one was installed since it started; stderr
	 * stays the daemon's, so that a sanitizer's report reaches the same log */
	r = v->maint.stop ? ECANCELED
			  : vhooks_spawn(&pid, "/proc/self/exe", argv, NULL, NULL, pfd[1], -1);
	if (!r)
		v->maint.child = pid;
	pthread_mutex_unlock(&v->maint.lock);
	close(pfd[1]);
	if (r) {
		close(pfd[0]);
		if (r != ECANCELED)
			vcs_log(4, "packs: cannot start a merge: %s", strerror(r));
		return;
	}
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		ssize_t n;

		r = poll(&p, 1, 1000);
		pthread_mutex_lock(&v->maint.lock);
		if (v->maint.stop && !term_at)
			term_at = mono_ms();
		pthread_mutex_unlock(&v->maint.lock);
		if (term_at && mono_ms() - term_at > STOP_GRACE_MS)
			kill(pid, SIGKILL);
		if (r <= 0)
			continue;
		n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		log_lines(buf, &len);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&v->maint.lock);
	v->maint.child = 0;
	if (v->maint.stop && !term_at)
		term_at = mono_ms();
	pthread_mutex_unlock(&v->maint.lock);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		/* packs may have gone: the committer and the checker drop their handles on them */
		atomic_fetch_add(&v->maint.merges, 1);
		vhooks_repacked(v->hooks);
		vcs_log(7, "packs: the merge ended in %.2f s", (double)(mono_ms() - t0) / 1000);
	} else if (WIFSIGNALED(status)) {
		vcs_log(term_at ? 6 : 4, "packs: the merge ended by signal %d%s", WTERMSIG(status),
			term_at ? " as statefs stops" : "; the next one starts again");
	} else {
		vcs_log(4, "packs: the merge failed (exit %d); the next one starts again",
			WEXITSTATUS(status));
	}
}

static void *maint_thread(void *arg)
{
	struct vcs *v = arg;

	pthread_mutex_lock(&v->maint.lock);
	for (;;) {
		while (!v->maint.kicked && !v->maint.stop)
			pthread_cond_wait(&v->maint.cond, &v->maint.lock);
		if (v->maint.stop)
			break;
		v->maint.kicked = 0;
		pthread_mutex_unlock(&v->maint.lock);
		run_merge(v);
		pthread_mutex_lock(&v->maint.lock);
	}
	pthread_mutex_unlock(&v->maint.lock);
	return NULL;
}

/* Packs and loose objects in the repository, counted up to @limit. */
static size_t count_files(const char *gitdir, size_t limit)
{
	char dir[PATH_MAX + 16];
	size_t n = 0;

	for (int i = -1; i < 256 && n <= limit; i++) {
		struct dirent *de;
		DIR *dp;

		if (i < 0)
			snprintf(dir, sizeof(dir), "%sobjects/pack", gitdir);
		else
			snprintf(dir, sizeof(dir), "%sobjects/%02x", gitdir, i);
		dp = opendir(dir);
		while (dp && (de = readdir(dp)))
			n += i < 0 ? strstr(de->d_name, ".pack") != NULL : de->d_name[0] != '.';
		if (dp)
			closedir(dp);
	}
	return n;
}

int vmaint_start(struct vcs *v, char *err, size_t errlen)
{
	int r;

	/* the committer may open the repository again meanwhile: the path is kept apart */
	snprintf(v->maint.gitdir, sizeof(v->maint.gitdir), "%s", git_repository_path(v->repo));
	pthread_mutex_init(&v->maint.lock, NULL);
	pthread_cond_init(&v->maint.cond, NULL);
	/* A merge at start only when there is work: statefs may be restarted more often than
	 * every pack_every commits, and a merge running at start would race with whoever
	 * inspects the repository then (git fsck lists packs before it reads them). */
	v->maint.kicked = count_files(v->maint.gitdir, v->opt.pack_every) > v->opt.pack_every;
	r = pthread_create(&v->maint.thread, NULL, maint_thread, v);
	if (r) {
		snprintf(err, errlen, "cannot start the pack maintenance thread: %s", strerror(r));
		pthread_cond_destroy(&v->maint.cond);
		pthread_mutex_destroy(&v->maint.lock);
		return -r;
	}
	v->maint.running = 1;
	return 0;
}

void vmaint_kick(struct vcs *v)
{
	if (!v->maint.running)
		return;
	pthread_mutex_lock(&v->maint.lock);
	v->maint.kicked = 1;
	pthread_cond_signal(&v->maint.cond);
	pthread_mutex_unlock(&v->maint.lock);
}

void vmaint_stop(struct vcs *v)
{
	if (!v->maint.running)
		return;
	pthread_mutex_lock(&v->maint.lock);
	v->maint.stop = 1;
	if (v->maint.child > 0)
		kill(v->maint.child, SIGTERM);
	pthread_cond_signal(&v->maint.cond);
	pthread_mutex_unlock(&v->maint.lock);
	pthread_join(v->maint.thread, NULL);
	pthread_cond_destroy(&v->maint.cond);
	pthread_mutex_destroy(&v->maint.lock);
	v->maint.running = 0;
}
