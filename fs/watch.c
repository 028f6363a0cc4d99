/*
 * watch.c - the inotify watcher: one watch per directory of each versioned source.
 *
 * What a newcomer must know: inotify reports a directory by its watch descriptor, so we keep
 * each watch's path in the mount (mount name + relative path) and rewrite it when a directory
 * is moved; adding a watch on a directory already watched returns the same descriptor.
 */
#include "fs/watch.h"
#include "fs/live.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASK                                                                                       \
	(IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |        \
	 IN_ONLYDIR | IN_EXCL_UNLINK)

struct wentry {
	int wd;
	int mnt;
	int depth;
	int fd;     /* O_PATH of the directory, for invalidation */
	char *path; /* "nginx/sites-available" */
};

struct watch {
	struct sfs *fs;
	int ifd;
	int stop_pipe[2];
	pthread_t thread;
	struct wentry *v;
	size_t n, cap;
};

/* May a directory at @depth with this name hold versioned files of mount @m? */
static int worth_watching(const struct mtab_entry *m, int depth, const char *name)
{
	if (m->kind == MTAB_TREE || depth == 0)
		return 1;
	if (depth > (int)m->glob.nparts)
		return 1;
	return depth < (int)m->glob.nparts ? mtab_glob_match_part(&m->glob, depth - 1, name)
					   : mtab_glob_match_part(&m->glob, depth - 1, name);
}

/* The entry of watch @wd for mount @mnt: one directory may be watched for several mounts
 * (compose and env both watch /opt), and inotify gives it one descriptor. */
static struct wentry *find_wd_mnt(struct watch *w, int wd, int mnt)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].wd == wd && w->v[i].mnt == mnt)
			return &w->v[i];
	return NULL;
}

static int add_dir(struct watch *w, int mnt, int depth, int fd, const char *path)
{
	char proc[64];
	struct wentry *e;
	int wd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(w->ifd, proc, MASK);
	if (wd < 0)
		return -errno;
	e = find_wd_mnt(w, wd, mnt);
	if (e) {
		char *p = strdup(path);

		if (p) {
			free(e->path);
			e->path = p;
		}
		e->depth = depth;
		return 0;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct wentry *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	e = &w->v[w->n];
	e->path = strdup(path);
	e->fd = dup(fd);
	if (!e->path || e->fd < 0) {
		free(e->path);
		if (e->fd >= 0)
			close(e->fd);
		inotify_rm_watch(w->ifd, wd);
		return -ENOMEM;
	}
	e->wd = wd;
	e->mnt = mnt;
	e->depth = depth;
	w->n++;
	return 0;
}

/* Watch @fd (a directory at @path) and, recursively, its subdirectories worth watching. */
static int add_tree(struct watch *w, int mnt, int depth, int fd, char *path, size_t plen)
{
	const struct mtab_entry *m = &w->fs->tab->entries[mnt];
	DIR *dp;
	struct dirent *de;
	int dfd, err;

	err = add_dir(w, mnt, depth, fd, path);
	if (err)
		return err;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 0;
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(dp))) {
		size_t nl = strlen(de->d_name);
		struct stat st;
		int cfd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!worth_watching(m, depth + 1, de->d_name) || plen + nl + 2 >= PATH_MAX * 2)
			continue;
		cfd = openat(fd, de->d_name, O_PATH | O_NOFOLLOW | O_DIRECTORY);
		if (cfd < 0)
			continue;
		if (fstat(cfd, &st) == 0 && !(st.st_ino == w->fs->state_ino &&
					      st.st_dev == w->fs->state_dev)) {
			path[plen] = '/';
			memcpy(path + plen + 1, de->d_name, nl + 1);
			err = add_tree(w, mnt, depth + 1, cfd, path, plen + 1 + nl);
			path[plen] = '\0';
		}
		close(cfd);
		if (err == -ENOSPC) {
			fprintf(stderr, "statefs: out of inotify watches "
					"(raise fs.inotify.max_user_watches)\n");
			break;
		}
	}
	closedir(dp);
	return err == -ENOSPC ? err : 0;
}

static void handle_one(struct watch *w, struct wentry *e, const struct inotify_event *ev)
{
	struct sfs *fs = w->fs;
	struct vcs_who who = {.external = 1};
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", e->path, ev->name);
	vcs_note(fs->vcs, path, !!(ev->mask & IN_ISDIR), &who);
	live_invalidate(fs, e->mnt, e->fd, ev->name);
	if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
	    worth_watching(&fs->tab->entries[e->mnt], e->depth + 1, ev->name)) {
		int cfd = openat(e->fd, ev->name, O_PATH | O_NOFOLLOW | O_DIRECTORY);
		int mnt = e->mnt, depth = e->depth + 1;

		if (cfd >= 0) {
			add_tree(w, mnt, depth, cfd, path, strlen(path)); /* may move w->v */
			close(cfd);
		}
	}
}

static void handle(struct watch *w, const struct inotify_event *ev)
{
	struct sfs *fs = w->fs;
	struct vcs_who who = {.external = 1};

	if (ev->mask & IN_Q_OVERFLOW) {
		/* events were lost: rescan everything */
		for (size_t i = 0; i < fs->tab->nentries; i++)
			if (fs->tab->entries[i].kind != MTAB_PLAIN)
				vcs_note(fs->vcs, fs->tab->entries[i].name, 1, &who);
		return;
	}
	if (ev->mask & IN_IGNORED) {
		for (size_t i = 0; i < w->n;) {
			if (w->v[i].wd != ev->wd) {
				i++;
				continue;
			}
			close(w->v[i].fd);
			free(w->v[i].path);
			w->v[i] = w->v[--w->n];
		}
		return;
	}
	if (!ev->len)
		return;
	/* handle_one may add entries (and move the array): walk by mount, not by pointer */
	for (size_t mnt = 0; mnt < fs->tab->nentries; mnt++) {
		struct wentry *e = find_wd_mnt(w, ev->wd, (int)mnt);

		if (e)
			handle_one(w, e, ev);
	}
}

static void *watcher(void *arg)
{
	struct watch *w = arg;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = {{.fd = w->ifd, .events = POLLIN},
				      {.fd = w->stop_pipe[0], .events = POLLIN}};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		ssize_t len = read(w->ifd, buf, sizeof(buf));

		if (len <= 0)
			continue;
		for (char *ptr = buf; ptr < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)ptr;

			handle(w, ev);
			ptr += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

int watch_start(struct watch **out, struct sfs *fs, char *err, size_t errlen)
{
	struct watch *w = calloc(1, sizeof(*w));
	char path[PATH_MAX * 2];
	int r;

	if (!w)
		return -ENOMEM;
	w->fs = fs;
	w->stop_pipe[0] = w->stop_pipe[1] = -1;
	w->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (w->ifd < 0 || pipe2(w->stop_pipe, O_CLOEXEC)) {
		r = -errno;
		snprintf(err, errlen, "inotify: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < fs->tab->nentries; i++) {
		if (fs->tab->entries[i].kind == MTAB_PLAIN)
			continue;
		snprintf(path, sizeof(path), "%s", fs->tab->entries[i].name);
		r = add_tree(w, (int)i, 0, fs->base_fd[i][0], path, strlen(path));
		if (r) {
			snprintf(err, errlen, "cannot watch %s: %s", path, strerror(-r));
			goto fail;
		}
	}
	r = pthread_create(&w->thread, NULL, watcher, w);
	if (r) {
		r = -r;
		snprintf(err, errlen, "cannot start the watcher: %s", strerror(-r));
		goto fail;
	}
	*out = w;
	return 0;
fail:
	w->thread = 0;
	watch_stop(w);
	return r;
}

void watch_stop(struct watch *w)
{
	if (!w)
		return;
	if (w->thread) {
		if (write(w->stop_pipe[1], "x", 1) < 0)
			pthread_cancel(w->thread);
		pthread_join(w->thread, NULL);
	}
	for (size_t i = 0; i < w->n; i++) {
		close(w->v[i].fd);
		free(w->v[i].path);
	}
	free(w->v);
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->stop_pipe[0] >= 0) {
		close(w->stop_pipe[0]);
		close(w->stop_pipe[1]);
	}
	free(w);
}
