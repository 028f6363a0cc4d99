/*
 * status.c - gather the facts of status.h: the mount, the manifests, the store's size, today's
 * commits, the last events.
 *
 * What a newcomer must know: nothing here may fail the whole: each fact is found on its own,
 * and one that cannot be found is left unknown with a line in st->problems. The cache (for the
 * daemon, which regenerates the metrics on every open) keeps what cannot change: the logical
 * size of each manifest (manifests are immutable; keyed by name, inode, size and mtime) and
 * the totals of each chunk directory whose mtime is over a second old (a directory's mtime
 * moves whenever a chunk is added or removed; the second covers the clock's coarse ticks).
 */
#include "snapshot/status.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMMITS_WALK_MAX 100000 /* commits looked at for "today", at most */

struct mcache {
	char name[MANIFEST_NAME_MAX];
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	int64_t logical;
};

struct dcache {
	bool valid;
	int64_t mtime_ns;
	int64_t files, bytes, blocks;
};

struct status_cache {
	pthread_mutex_t mu;
	struct mcache *m;
	size_t nm, capm;
	struct dcache dirs[256];
};

struct status_cache *status_cache_new(void)
{
	struct status_cache *c = calloc(1, sizeof(*c));

	if (c)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void status_cache_free(struct status_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->m);
	free(c);
}

static void problem(struct status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct status *st, const char *fmt, ...)
{
	va_list ap;

	if (st->nproblems >= STATUS_PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(st->problems[st->nproblems++], sizeof(st->problems[0]), fmt, ap);
	va_end(ap);
}

/* --- the mount ------------------------------------------------------------------------------ */

/* Undo mountinfo's \ooo escapes (space, tab, newline, backslash) of @s into @out. */
static void unoctal(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			out[o++] =
			    (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + s[i + 3] - '0');
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

static bool same_file(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (!strcmp(a, b))
		return true;
	if (!realpath(a, ra) || !realpath(b, rb)) /* a relative path: from our directory */
		return false;
	return !strcmp(ra, rb);
}

bool status_find_mount(const char *mountinfo, const char *config, char *mnt, size_t mntlen)
{
	const char *line = mountinfo, *nl, *f[5], *sep, *fstype, *src, *p;
	char source[PATH_MAX];
	size_t i;

	for (; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
		p = line;
		for (i = 0; i < 5; i++) {
			f[i] = p;
			p = memchr(p, ' ', (size_t)((nl ? nl : line + strlen(line)) - p));
			if (!p)
				break;
			p++;
		}
		if (i < 5)
			continue;
		sep = strstr(p, " - ");
		if (!sep || (nl && sep > nl))
			continue;
		fstype = sep + 3;
		if (strncmp(fstype, "fuse.statefs ", 13))
			continue;
		src = fstype + 13;
		p = strchr(src, ' ');
		if (!p || (nl && p > nl))
			continue;
		unoctal(src, (size_t)(p - src), source, sizeof(source));
		if (!same_file(source, config))
			continue;
		p = strchr(f[4], ' ');
		unoctal(f[4], (size_t)(p - f[4]), mnt, mntlen);
		return true;
	}
	return false;
}

static void gather_mount(struct status *st)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		problem(st, "mounted: /proc/self/mountinfo: %s",
			fd < 0 ? strerror(errno) : "out of memory");
		goto out;
	}
	for (;;) {
		if (len + 1 >= cap) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				problem(st, "mounted: out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	st->mounted = status_find_mount(buf, st->config, st->mountpoint, sizeof(st->mountpoint));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* --- manifests ------------------------------------------------------------------------------ */

/* Undo the \ooo escapes of a manifest text in place. */
static void unescape_inplace(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * Read manifest @name: the header into @st (when @header) and the sum of its files' plain
 * sizes. 0 or -errno.
 */
static int read_manifest(struct status *st, int dfd, const char *name, bool header,
			 const struct stat *sb, int64_t *logical)
{
	char *line = NULL, *v;
	size_t cap = 0, rl;
	ssize_t n;
	int64_t sum = 0;
	unsigned long long u;
	int fd, rc = 0;
	FILE *f;
	bool in_header = true;

	(void)sb;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == 'f' && line[1] == ' ') {
			in_header = false;
			/* f MODE UID GID SIZE ... */
			v = line;
			for (int i = 0; i < 4 && v; i++)
				v = strchr(v + 1, ' ');
			if (v && sscanf(v + 1, "%llu", &u) == 1)
				sum += (int64_t)u;
			continue;
		}
		if (line[0] && line[1] == ' ')
			in_header = false; /* an entry: the header is over */
		if (!header || !in_header)
			continue;
		if (!strcmp(line, "end")) {
			in_header = false;
		} else if (!strncmp(line, "time ", 5)) {
			st->last_time = strtoll(line + 5, NULL, 10);
		} else if (!strcmp(line, "status complete")) {
			st->last_complete = true;
		} else if (!strncmp(line, "reason ", 7)) {
			unescape_inplace(line + 7);
			rl = strlen(st->last_reasons);
			snprintf(st->last_reasons + rl, sizeof(st->last_reasons) - rl, "%s%s",
				 rl ? "; " : "", line + 7);
		} else if (!strncmp(line, "info ", 5) && (v = strchr(line + 5, ' '))) {
			int64_t val = strtoll(v + 1, NULL, 10);

			*v = '\0';
			if (!strcmp(line + 5, "duration_ms"))
				st->last_duration_ms = val;
			else if (!strcmp(line + 5, "databases"))
				st->last_databases = val;
			else if (!strcmp(line + 5, "databases_failed"))
				st->last_databases_failed = val;
			else if (!strcmp(line + 5, "files"))
				st->last_files = val;
			else if (!strcmp(line + 5, "bytes_new"))
				st->last_bytes_new = val;
		}
	}
	if (ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	*logical = sum;
	return rc;
}

/* The logical size of manifest @name, from the cache or read (and then cached). */
static int manifest_logical(struct status *st, struct status_cache *c, int dfd, const char *name,
			    bool header, int64_t *logical)
{
	struct stat sb;
	struct mcache *m, *nm;
	int64_t mt;
	size_t i;
	int rc;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW))
		return -errno;
	mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	for (i = 0; c && !header && i < c->nm; i++) {
		m = &c->m[i];
		if (!strcmp(m->name, name) && m->ino == sb.st_ino && m->size == sb.st_size &&
		    m->mtime_ns == mt) {
			*logical = m->logical;
			return 0;
		}
	}
	rc = read_manifest(st, dfd, name, header, &sb, logical);
	if (rc || !c)
		return rc;
	for (i = 0; i < c->nm && strcmp(c->m[i].name, name); i++)
		;
	if (i == c->nm) {
		if (c->nm == c->capm) {
			nm = realloc(c->m, (c->capm ? c->capm * 2 : 64) * sizeof(*nm));
			if (!nm)
				return 0; /* not cached: no harm */
			c->m = nm;
			c->capm = c->capm ? c->capm * 2 : 64;
		}
		c->nm++;
	}
	m = &c->m[i];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->ino = sb.st_ino;
	m->size = sb.st_size;
	m->mtime_ns = mt;
	m->logical = *logical;
	return 0;
}

static void gather_snapshots(struct status *st, struct status_cache *c)
{
	char dir[PATH_MAX], err[256] = "", **names = NULL;
	size_t n = 0, i;
	int64_t logical = 0, total = 0;
	int dfd, rc;

	rc = manifest_list(st->state_dir, &names, &n, err, sizeof(err));
	if (rc == -ENOENT || (!rc && !n)) {
		st->logical_bytes = 0;
		manifest_names_free(names, n);
		return;
	}
	if (rc) {
		problem(st, "snapshots: %s", err[0] ? err : strerror(-rc));
		return;
	}
	st->snapshots = n;
	snprintf(dir, sizeof(dir), "%s/store/snapshots", st->state_dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		problem(st, "snapshots: %s: %s", dir, strerror(errno));
		goto out;
	}
	/* The newest: its header too. A manifest pruned meanwhile is simply not counted. */
	for (i = n; i-- > 0;) {
		bool last = i == n - 1;

		if (last) {
			snprintf(st->last_name, sizeof(st->last_name), "%s", names[i]);
			st->has_last = true;
		}
		rc = manifest_logical(st, c, dfd, names[i], last, &logical);
		if (rc == -ENOENT)
			continue;
		if (rc) {
			problem(st, "snapshot %s: %s", names[i], strerror(-rc));
			total = -1;
			if (last)
				st->has_last = false;
			continue;
		}
		if (last)
			st->last_logical = logical;
		if (total >= 0)
			total += logical;
	}
	st->logical_bytes = total;
	close(dfd);
out:
	manifest_names_free(names, n);
}

/* --- the store's size ----------------------------------------------------------------------- */

/* Sum the entries of directory @path (not recursing). */
static int sum_dir(const char *path, int64_t *blocks)
{
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue; /* removed meanwhile */
		*blocks += (int64_t)sb.st_blocks * 512;
	}
	closedir(d);
	return 0;
}

/* Lines of index packs/@name, less its header: the chunks it names. */
static int64_t index_lines(int dfd, const char *name)
{
	char buf[65536];
	int64_t lines = 0;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines > 0 ? lines - 1 : 0;
}

/* The packs: chunks named by their indexes, bytes of packs that have an index, blocks of all. */
static int sum_packs(const char *path, int64_t *files, int64_t *bytes, int64_t *blocks)
{
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char idx[40];

		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode))
			continue;
		*blocks += (int64_t)sb.st_blocks * 512;
		if (len == 20 && !strcmp(de->d_name + 16, ".idx")) {
			*files += index_lines(dirfd(d), de->d_name);
		} else if (len == 21 && !strcmp(de->d_name + 16, ".pack")) {
			snprintf(idx, sizeof(idx), "%.16s.idx", de->d_name);
			if (!faccessat(dirfd(d), idx, F_OK, AT_SYMLINK_NOFOLLOW))
				*bytes += (int64_t)sb.st_size;
		}
	}
	closedir(d);
	return 0;
}

static void gather_store(struct status *st, struct status_cache *c)
{
	char store[PATH_MAX], path[PATH_MAX + 300];
	int64_t files = 0, bytes = 0, blocks = 0, f2, b2, k2, mt;
	struct dirent *de;
	struct stat sb;
	DIR *d;

	snprintf(store, sizeof(store), "%s/store", st->state_dir);
	if (lstat(store, &sb)) {
		if (errno == ENOENT) { /* no snapshot taken yet */
			st->store_bytes = st->chunk_bytes = st->chunks = 0;
			return;
		}
		problem(st, "store: %s: %s", store, strerror(errno));
		return;
	}
	blocks += (int64_t)sb.st_blocks * 512;
	d = opendir(store);
	if (!d) {
		problem(st, "store: %s: %s", store, strerror(errno));
		return;
	}
	/* store/ itself: lock files, dicts/, snapshots/ and what else is there, one level deep */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "packs"))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		blocks += (int64_t)sb.st_blocks * 512;
		if (S_ISDIR(sb.st_mode)) {
			snprintf(path, sizeof(path), "%s/%s", store, de->d_name);
			sum_dir(path, &blocks);
		}
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/packs", store);
	if (!lstat(path, &sb)) {
		struct dcache *dc = c ? &c->dirs[0] : NULL;

		blocks += (int64_t)sb.st_blocks * 512;
		mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
		if (dc && dc->valid && dc->mtime_ns == mt) {
			files += dc->files;
			bytes += dc->bytes;
			blocks += dc->blocks;
		} else {
			f2 = b2 = k2 = 0;
			if (sum_packs(path, &f2, &b2, &k2)) {
				problem(st, "store: %s: %s", path, strerror(errno));
				return;
			}
			files += f2;
			bytes += b2;
			blocks += k2;
			if (dc) /* trusted only once its mtime is clearly in the past */
				*dc = (struct dcache){.valid = sb.st_mtim.tv_sec + 1 < st->now,
						      .mtime_ns = mt,
						      .files = f2,
						      .bytes = b2,
						      .blocks = k2};
		}
	}
	st->store_bytes = blocks;
	st->chunk_bytes = bytes;
	st->chunks = files;
}

/* --- the config history --------------------------------------------------------------------- */

static void gather_commits(struct status *st)
{
	git_repository *repo = NULL;
	git_revwalk *walk = NULL;
	git_commit *commit;
	git_oid oid;
	struct tm tm;
	time_t now = (time_t)st->now, midnight;
	char path[PATH_MAX];
	int64_t n = 0, t;
	int rc, k = 0;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	midnight = mktime(&tm);
	snprintf(path, sizeof(path), "%s/config.git", st->state_dir);
	git_libgit2_init();
	rc = git_repository_open_bare(&repo, path);
	if (rc == GIT_ENOTFOUND) {
		st->commits_today = 0;
		goto out;
	}
	if (rc || git_revwalk_new(&walk, repo))
		goto fail;
	rc = git_revwalk_push_head(walk);
	if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
		st->commits_today = 0; /* no commit yet */
		goto out;
	}
	if (rc || git_revwalk_sorting(walk, GIT_SORT_TIME))
		goto fail;
	git_revwalk_simplify_first_parent(walk);
	while (k++ < COMMITS_WALK_MAX && !(rc = git_revwalk_next(&oid, walk))) {
		if (git_commit_lookup(&commit, repo, &oid))
			goto fail;
		t = (int64_t)git_commit_time(commit);
		git_commit_free(commit);
		if (st->last_commit_time < 0)
			st->last_commit_time = t;
		if (t < (int64_t)midnight)
			break;
		n++;
	}
	if (rc && rc != GIT_ITEROVER)
		goto fail;
	st->commits_today = n;
	goto out;
fail:
	problem(st, "commits: %s: %s", path,
		git_error_last() ? git_error_last()->message : "cannot read");
	st->last_commit_time = -1;
out:
	git_revwalk_free(walk);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

/* --- events --------------------------------------------------------------------------------- */

static void gather_event(struct status *st, const char *kind, struct event *ev, bool *has)
{
	char err[300] = "";
	int rc = events_read(st->state_dir, kind, ev, err, sizeof(err));

	*has = rc == 0;
	if (rc && rc != -ENOENT)
		problem(st, "last %s: %s", kind, err[0] ? err : strerror(-rc));
}

int status_gather(const struct mtab *tab, const struct status_opts *o, struct status *st, char *err,
		  size_t errlen)
{
	struct status_cache *c = o ? o->cache : NULL;

	(void)err;
	(void)errlen;
	memset(st, 0, sizeof(*st));
	st->config = tab->path;
	st->state_dir = tab->state_dir;
	st->now = (int64_t)time(NULL);
	st->last_duration_ms = st->last_databases = st->last_databases_failed = -1;
	st->last_files = st->last_bytes_new = st->last_logical = -1;
	st->store_bytes = st->chunk_bytes = st->chunks = st->logical_bytes = -1;
	st->commits_today = st->last_commit_time = -1;
	if (o && o->skip_mount)
		st->mounted = true;
	else
		gather_mount(st);
	if (c)
		pthread_mutex_lock(&c->mu);
	gather_snapshots(st, c);
	gather_store(st, c);
	if (c)
		pthread_mutex_unlock(&c->mu);
	if (st->logical_bytes >= 0 && st->chunk_bytes > 0)
		st->dedup_ratio = (double)st->logical_bytes / (double)st->chunk_bytes;
	gather_commits(st);
	gather_event(st, "snapshot", &st->snapshot_run, &st->has_snapshot_run);
	gather_event(st, "restore", &st->restore, &st->has_restore);
	gather_event(st, "verify", &st->verify, &st->has_verify);
	gather_event(st, "error", &st->error, &st->has_error);
	gather_event(st, "check", &st->check, &st->has_check);
	gather_event(st, "push", &st->push, &st->has_push);
	return 0;
}
