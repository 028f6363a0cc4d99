/*
 * backups_snaps.c - the snapshot list of backups/, headers read on demand, and an LRU of
 * parsed manifests.
 *
 * One mutex guards the list, the LRU and the snapshots' internal fields; no file is read
 * while it is held except the snapshots directory itself (a listing of names). A manifest is
 * parsed outside the lock, once: a second reader of the same snapshot waits for the first.
 */
#include "fs/backups_snaps.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LRU_MAX 64

struct backups_snaps {
	char *state_dir;
	char *snapdir; /* STATE_DIR/store/snapshots */
	unsigned max_parsed;
	size_t max_bytes;
	pthread_mutex_t lock;
	pthread_cond_t loaded;
	struct backups_snap **v; /* sorted by name */
	size_t n;
	bool listed;
	struct timespec mtime, listed_at;
	ino_t dir_ino;
	struct backups_snap *lru[LRU_MAX]; /* the snapshots whose manifest is parsed (a ref each) */
	size_t nlru, lru_bytes;
	uint64_t clock, parsed_total;
};

int backups_snaps_new(const char *state_dir, unsigned max_parsed, size_t max_bytes,
		      struct backups_snaps **out)
{
	struct backups_snaps *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->state_dir = strdup(state_dir);
	if (!s->state_dir || asprintf(&s->snapdir, "%s/store/snapshots", state_dir) < 0) {
		free(s->state_dir);
		free(s);
		return -ENOMEM;
	}
	s->max_parsed = max_parsed ? max_parsed : 4;
	if (s->max_parsed > LRU_MAX)
		s->max_parsed = LRU_MAX;
	s->max_bytes = max_bytes ? max_bytes : 8u << 20;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->loaded, NULL);
	*out = s;
	return 0;
}

static void man_free(struct backups_man *m)
{
	manifest_free(&m->m);
	backups_chunks_free(m->chunks);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

void backups_man_put(struct backups_man *m)
{
	if (m && !__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL))
		man_free(m);
}

void backups_snap_get(struct backups_snap *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

void backups_snap_put(struct backups_snap *p)
{
	if (p && !__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		free(p); /* p->man is NULL: the LRU holds a reference while it is set */
}

void backups_snaps_free(struct backups_snaps *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nlru; i++) {
		backups_man_put(s->lru[i]->man);
		s->lru[i]->man = NULL;
		backups_snap_put(s->lru[i]);
	}
	for (size_t i = 0; i < s->n; i++)
		backups_snap_put(s->v[i]);
	free(s->v);
	pthread_cond_destroy(&s->loaded);
	pthread_mutex_destroy(&s->lock);
	free(s->snapdir);
	free(s->state_dir);
	free(s);
}

static int cmp_snap(const void *a, const void *b)
{
	return strcmp((*(struct backups_snap *const *)a)->name,
		      (*(struct backups_snap *const *)b)->name);
}

/* Read the names of the snapshots directory into a sorted array of new snapshots. */
static int read_names(struct backups_snaps *s, struct backups_snap ***out, size_t *n)
{
	struct backups_snap **v = NULL, *p;
	size_t count = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	int ret = 0;
	DIR *d = opendir(s->snapdir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!manifest_name_valid(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (count == cap) {
			struct backups_snap **nv = reallocarray(v, cap ? 2 * cap : 64, sizeof(*v));

			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
			cap = cap ? 2 * cap : 64;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			ret = -ENOMEM;
			break;
		}
		memcpy(p->name, de->d_name, strlen(de->d_name) + 1); /* valid: it fits */
		p->file_ino = (uint64_t)st.st_ino;
		snprintf(p->id, sizeof(p->id), "%s#%llu", p->name, (unsigned long long)st.st_ino);
		p->refs = 1;
		v[count++] = p;
	}
	closedir(d);
	if (ret) {
		for (size_t i = 0; i < count; i++)
			free(v[i]);
		free(v);
		return ret;
	}
	if (count)
		qsort(v, count, sizeof(*v), cmp_snap);
	*out = v;
	*n = count;
	return 0;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Drop LRU entry @i. Under s->lock. */
static void lru_drop(struct backups_snaps *s, size_t i)
{
	struct backups_snap *p = s->lru[i];

	s->lru[i] = s->lru[--s->nlru];
	s->lru_bytes -= p->man->bytes;
	backups_man_put(p->man);
	p->man = NULL;
	backups_snap_put(p);
}

/*
 * Drop parsed manifests beyond the limits, least recently used first, and those of snapshots
 * no longer in the store (their files, held open, would keep their disk space). Under s->lock.
 */
static void evict(struct backups_snaps *s)
{
	for (size_t i = 0; i < s->nlru;)
		if (s->lru[i]->gone)
			lru_drop(s, i);
		else
			i++;
	while (s->nlru > 1 && (s->nlru > s->max_parsed || s->lru_bytes > s->max_bytes)) {
		size_t old = 0;

		for (size_t i = 1; i < s->nlru; i++)
			if (s->lru[i]->used < s->lru[old]->used)
				old = i;
		lru_drop(s, old);
	}
}

int backups_snaps_refresh(struct backups_snaps *s, bool *changed)
{
	struct backups_snap **v = NULL;
	struct timespec now;
	struct stat st;
	size_t n = 0, j = 0;
	bool diff = false;
	int ret = 0;

	if (changed)
		*changed = false;
	pthread_mutex_lock(&s->lock);
	if (stat(s->snapdir, &st)) {
		if (errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		memset(&st, 0, sizeof(st));
	} else if (s->listed && ns(&st.st_mtim) == ns(&s->mtime) && st.st_ino == s->dir_ino) {
		/*
		 * Unchanged, unless a change came within the same clock tick as the listing: trust
		 * the mtime once the listing is 2 s younger than it; until then list again, but at
		 * most every 100 ms (a listing of backups/ looks up every name: not 1000 times).
		 */
		clock_gettime(CLOCK_REALTIME, &now);
		if (ns(&s->listed_at) - ns(&s->mtime) > 2000000000 ||
		    ns(&now) - ns(&s->listed_at) < 100000000)
			goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	ret = read_names(s, &v, &n);
	if (ret)
		goto out;
	/* Keep the snapshots that are still there (same name, same manifest file). */
	for (size_t i = 0; i < n; i++) {
		while (j < s->n && strcmp(s->v[j]->name, v[i]->name) < 0) {
			s->v[j]->gone = true;
			backups_snap_put(s->v[j++]);
			diff = true;
		}
		if (j < s->n && strcmp(s->v[j]->name, v[i]->name) == 0) {
			if (s->v[j]->file_ino == v[i]->file_ino) {
				free(v[i]);
				v[i] = s->v[j];
			} else {
				s->v[j]->gone = true;
				backups_snap_put(s->v[j]);
				diff = true;
			}
			j++;
		} else {
			diff = true;
		}
	}
	for (; j < s->n; j++) {
		s->v[j]->gone = true;
		backups_snap_put(s->v[j]);
		diff = true;
	}
	free(s->v);
	s->v = v;
	s->n = n;
	s->listed = true;
	s->mtime = st.st_mtim;
	s->dir_ino = st.st_ino;
	s->listed_at = now;
	if (diff)
		evict(s);
	if (changed)
		*changed = diff;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

size_t backups_snaps_count(struct backups_snaps *s, struct timespec *mtime)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	if (mtime)
		*mtime = s->mtime;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int backups_snaps_at(struct backups_snaps *s, size_t i, struct backups_snap **out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	if (i < s->n) {
		*out = s->v[i];
		backups_snap_get(*out);
		ret = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int backups_snaps_find(struct backups_snaps *s, const char *name, struct backups_snap **out)
{
	size_t lo, hi;
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	for (lo = 0, hi = s->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid]->name, name);

		if (c == 0) {
			*out = s->v[mid];
			backups_snap_get(*out);
			ret = 0;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int backups_snaps_latest(struct backups_snaps *s, struct backups_snap **out)
{
	struct backups_snap *p, *newest = NULL;
	size_t n = backups_snaps_count(s, NULL);

	for (size_t i = n; i-- > 0;) {
		if (backups_snaps_at(s, i, &p))
			continue; /* the list shrank meanwhile */
		if (!newest) {
			newest = p;
			backups_snap_get(newest);
		}
		if (backups_snap_head(s, p) == 0 && p->complete) {
			backups_snap_put(newest);
			*out = p;
			return 0;
		}
		backups_snap_put(p);
	}
	if (!newest)
		return -ENOENT;
	*out = newest;
	return 0;
}

/* Open @p's manifest, checking that it is still the same file. A descriptor or -errno. */
static int open_manifest(struct backups_snaps *s, struct backups_snap *p, struct stat *st)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->snapdir, p->name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) || (uint64_t)st->st_ino != p->file_ino) {
		close(fd);
		return -ENOENT; /* pruned, and maybe taken again under the same name */
	}
	return fd;
}

/* Parse "KEY VALUE\n" at *p (advancing it) into @val (@cap bytes). */
static int head_line(const char **p, const char *end, const char *key, char *val, size_t cap)
{
	size_t kl = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (!nl || (size_t)(nl - *p) <= kl || memcmp(*p, key, kl) || (*p)[kl] != ' ' ||
	    (size_t)(nl - *p) - kl - 1 >= cap)
		return -EIO;
	memcpy(val, *p + kl + 1, (size_t)(nl - *p) - kl - 1);
	val[nl - *p - kl - 1] = '\0';
	*p = nl + 1;
	return 0;
}

int backups_snap_head(struct backups_snaps *s, struct backups_snap *p)
{
	char buf[512], ver[8], t[32], commit[80], status[16];
	const char *q = buf, *end;
	struct stat st;
	ssize_t len;
	int fd, ret;

	if (__atomic_load_n(&p->head_read, __ATOMIC_ACQUIRE))
		return 0;
	fd = open_manifest(s, p, &st);
	if (fd < 0)
		return fd;
	len = pread(fd, buf, sizeof(buf), 0);
	ret = len < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	end = buf + len;
	if (head_line(&q, end, "statefs-snapshot", ver, sizeof(ver)) || strcmp(ver, "1") ||
	    head_line(&q, end, "time", t, sizeof(t)) ||
	    head_line(&q, end, "commit", commit, sizeof(commit)) ||
	    head_line(&q, end, "status", status, sizeof(status)))
		return -EIO;
	pthread_mutex_lock(&s->lock);
	if (!p->head_read) {
		p->time = strtoll(t, NULL, 10);
		p->complete = strcmp(status, "complete") == 0;
		if (strcmp(commit, "-") && strlen(commit) < sizeof(p->commit))
			memcpy(p->commit, commit, strlen(commit) + 1);
		__atomic_store_n(&p->head_read, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Roughly the memory a lazily parsed manifest holds. */
static size_t held(const struct backups_man *m)
{
	size_t n = sizeof(*m) + m->m.cap * sizeof(*m->m.v) + backups_chunks_bytes(m->chunks);

	for (size_t i = 0; i < m->m.n; i++)
		n += strlen(m->m.v[i].path) + 1 + m->m.v[i].ntables * sizeof(*m->m.v[i].tables);
	return n;
}

/*
 * Read and parse @p's manifest into a new backups_man with one reference. Read a block at a
 * time and parsed lazily: a manifest of a large dump is tens of MiB of text, most of it chunk
 * lines, which stay in the file (held open) until a file is read.
 */
static int load(struct backups_snaps *s, struct backups_snap *p, struct backups_man **out)
{
	struct backups_man *m = NULL;
	char err[256] = "";
	struct stat st;
	int fd, ret;

	fd = open_manifest(s, p, &st);
	if (fd < 0)
		return fd;
	m = calloc(1, sizeof(*m));
	if (!m || backups_chunks_new(&m->chunks)) {
		ret = -ENOMEM;
		goto fail;
	}
	manifest_init(&m->m);
	m->fd = fd;
	ret = manifest_parse_fd(&m->m, fd, backups_chunks_add, m->chunks, err, sizeof(err));
	if (!ret)
		ret = backups_chunks_seal(m->chunks, m->m.n);
	if (!ret && m->m.n < m->m.cap) {
		/* Give back what doubling left unused: the entries live as long as the manifest. */
		struct manifest_entry *v = reallocarray(m->m.v, m->m.n, sizeof(*v));

		if (v) {
			m->m.v = v;
			m->m.cap = m->m.n;
		}
	}
	if (ret) {
		if (ret != -ENOMEM)
			fuse_log(FUSE_LOG_WARNING, "backups: snapshot %s: %s\n", p->name,
				 err[0] ? err : strerror(-ret));
		ret = ret == -ENOMEM ? ret : -EIO;
		goto fail;
	}
	m->refs = 1;
	m->bytes = held(m);
	*out = m;
	return 0;
fail:
	if (m) {
		m->fd = -1;
		man_free(m);
	}
	close(fd);
	return ret;
}

int backups_snap_manifest(struct backups_snaps *s, struct backups_snap *p, struct backups_man **out)
{
	struct backups_man *m = NULL;
	int ret;

	pthread_mutex_lock(&s->lock);
	while (p->loading)
		pthread_cond_wait(&s->loaded, &s->lock);
	if (p->damaged) {
		pthread_mutex_unlock(&s->lock);
		return -EIO;
	}
	if (p->man) {
		__atomic_add_fetch(&p->man->refs, 1, __ATOMIC_RELAXED);
		p->used = ++s->clock;
		*out = p->man;
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	p->loading = true;
	pthread_mutex_unlock(&s->lock);

	ret = load(s, p, &m);

	pthread_mutex_lock(&s->lock);
	p->loading = false;
	p->damaged = ret == -EIO;
	pthread_cond_broadcast(&s->loaded);
	if (!ret) {
		s->parsed_total++;
		if (s->nlru == LRU_MAX)
			evict(s); /* cannot happen with max_parsed <= LRU_MAX; kept for safety */
		if (s->nlru < LRU_MAX) {
			m->refs++; /* the LRU's */
			p->man = m;
			p->used = ++s->clock;
			backups_snap_get(p);
			s->lru[s->nlru++] = p;
			s->lru_bytes += m->bytes;
			evict(s);
		}
		*out = m;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void backups_snaps_parsed(struct backups_snaps *s, size_t *now, uint64_t *total)
{
	pthread_mutex_lock(&s->lock);
	*now = s->nlru;
	*total = s->parsed_total;
	pthread_mutex_unlock(&s->lock);
}

size_t backups_man_lower_bound(const struct manifest *m, size_t lo, size_t hi, const char *key)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
