/*
 * store_put.c - putting chunks in the store: compression, dedup, and the worker pool.
 *
 * A put hashes in the caller's thread (so the caller learns the chunk's name at once), skips
 * chunks already stored, and compresses either in the caller's thread (store_put) or on a worker
 * (store_put_async) fed through a bounded ring, so memory stays bounded however much is put.
 * Compressed frames are appended to the open pack (store_pack.c). The first error of a worker
 * is kept and reported by store_flush(), which also makes the open pack durable.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd_errors.h>

#define READ_BUF (256u * 1024)

/* Record an error of the pool; the first one since the last flush is the one reported. */
static void set_error(struct store *s, int e, const char *m)
{
	pthread_mutex_lock(&s->lock);
	if (!s->error) {
		s->error = e;
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", m);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Count what a put did, for store_stats. */
static void count(struct store *s, size_t dups, size_t news, size_t plain, size_t disk)
{
	pthread_mutex_lock(&s->lock);
	s->stats.chunks_dup += dups;
	s->stats.chunks_new += news;
	s->stats.bytes_plain += plain;
	s->stats.bytes_disk += disk;
	pthread_mutex_unlock(&s->lock);
}

/* Wait for the turn of job @seq to append (UINT64_MAX: a put not queued, no turn to wait). */
static void turn_wait(struct store *s, uint64_t seq)
{
	if (seq == UINT64_MAX)
		return;
	pthread_mutex_lock(&s->olock);
	while (s->append_next != seq)
		pthread_cond_wait(&s->ocv, &s->olock);
	pthread_mutex_unlock(&s->olock);
}

/* Job @seq has appended (or had nothing to append): the next one's turn. */
static void turn_done(struct store *s, uint64_t seq)
{
	if (seq == UINT64_MAX)
		return;
	pthread_mutex_lock(&s->olock);
	s->append_next = seq + 1;
	pthread_cond_broadcast(&s->ocv);
	pthread_mutex_unlock(&s->olock);
}

/* A worker's (or a put's) buffer for compressed frames. */
struct zbuf {
	unsigned char *p;
	size_t len, cap;
};

/* A compression context whose parameters are set once: a per-frame reset costs a sixth. */
struct zctx {
	ZSTD_CCtx *cctx;
	bool ready;
	const struct dict *dict; /* the one referenced now */
};

/* Compress @len bytes of @data as one frame at the end of @z; its length in *zlen. */
static int compress_frame(struct store *s, struct zctx *zc, struct zbuf *z, const void *data,
			  size_t len, const struct dict *d, size_t *zlen, char *err, size_t errlen)
{
	ZSTD_CCtx *cctx = zc->cctx;
	size_t bound = ZSTD_compressBound(len), n;

	if (z->cap - z->len < bound) {
		size_t cap = z->len + bound;
		unsigned char *np = realloc(z->p, cap);

		if (!np) {
			store_msg(err, errlen, "store: no memory to compress a chunk of %zu bytes",
				  len);
			return -ENOMEM;
		}
		z->p = np;
		z->cap = cap;
	}
	if (!zc->ready) {
		ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, s->level);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
		zc->ready = true;
		zc->dict = NULL;
	}
	if (d != zc->dict) {
		ZSTD_CCtx_refCDict(cctx, d ? d->cdict : NULL);
		zc->dict = d;
	}
	n = ZSTD_compress2(cctx, z->p + z->len, bound, data, len); /* resets the session */
	if (ZSTD_isError(n)) {
		store_msg(err, errlen, "store: compressing a chunk of %zu bytes: %s", len,
			  ZSTD_getErrorName(n));
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	}
	z->len += n;
	*zlen = n;
	return 0;
}

/*
 * Compress and append job @j's chunks that are not stored yet, in turn @j->seq (UINT64_MAX =
 * no turn). 0 or -errno. The turn is always passed on, whatever happens.
 */
static int write_job(struct store *s, struct zctx *zc, struct zbuf *z, const struct job *j,
		     char *err, size_t errlen)
{
	struct frame f[JOB_CHUNKS];
	size_t dups = 0, news = 0, plain = 0;
	int ret = 0;

	z->len = 0;
	for (unsigned i = 0; i < j->n && !ret; i++) {
		const struct job_chunk *c = &j->c[i];

		f[i].hash = c->hash;
		f[i].zlen = 0;
		if (store_has(s, &c->hash)) { /* written meanwhile */
			dups++;
			continue;
		}
		ret = compress_frame(s, zc, z, j->data + c->off, c->len, c->dict, &f[i].zlen,
				     err, errlen);
		news++;
		plain += c->len;
	}
	turn_wait(s, j->seq);
	if (!ret)
		ret = store_pack_append(s, f, j->n, z->p, err, errlen);
	turn_done(s, j->seq);
	if (!ret)
		count(s, dups, news, plain, z->len);
	return ret;
}

static int put_check(struct store *s, size_t len, char *err, size_t errlen)
{
	if (s->readonly) {
		store_msg(err, errlen, "store: opened read-only");
		return -EROFS;
	}
	if (len > STORE_CHUNK_LIMIT) {
		store_msg(err, errlen, "store: chunk of %zu bytes is over the limit of %u", len,
			  STORE_CHUNK_LIMIT);
		return -EINVAL;
	}
	return 0;
}

int store_put(struct store *s, const void *data, size_t len, const struct store_hash *dict,
	      struct store_hash *out, char *err, size_t errlen)
{
	const struct dict *d;
	struct zbuf z = {0};
	struct zctx zc = {0};
	struct frame f;
	int ret;

	ret = put_check(s, len, err, errlen);
	if (ret)
		return ret;
	ret = store_dict_lookup(s, dict, &d, err, errlen);
	if (ret)
		return ret;
	if (store_hash_data(data, len, out)) {
		store_msg(err, errlen, "store: out of memory to hash a chunk");
		return -ENOMEM;
	}
	if (store_has(s, out)) {
		count(s, 1, 0, 0, 0);
		return 1;
	}
	zc.cctx = ZSTD_createCCtx();
	if (!zc.cctx) {
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	f.hash = *out;
	ret = compress_frame(s, &zc, &z, data, len, d, &f.zlen, err, errlen);
	ZSTD_freeCCtx(zc.cctx);
	if (!ret)
		ret = store_pack_append(s, &f, 1, z.p, err, errlen);
	if (!ret)
		count(s, 0, 1, len, f.zlen);
	free(z.p);
	return ret;
}

static void *worker(void *arg)
{
	struct store *s = arg;
	struct zctx zc = {.cctx = ZSTD_createCCtx()};
	struct zbuf z = {0};
	char err[STORE_ERRMSG_LEN];

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct job *j, **slot;
		bool skip;
		int ret = 0;

		while (!s->qlen && !s->stop)
			pthread_cond_wait(&s->cv_job, &s->lock);
		if (!s->qlen)
			break;
		j = s->q[s->qhead];
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		s->busy++;
		for (slot = s->inflight; *slot; slot++)
			; /* a free slot exists: one per worker */
		*slot = j;
		skip = s->error != 0;
		pthread_cond_signal(&s->cv_space);
		pthread_mutex_unlock(&s->lock);

		if (!skip && zc.cctx) {
			ret = write_job(s, &zc, &z, j, err, sizeof(err));
		} else {
			if (!skip) {
				snprintf(err, sizeof(err),
					 "store: out of memory for a compression context");
				ret = -ENOMEM;
			}
			turn_wait(s, j->seq); /* pass the turn on */
			turn_done(s, j->seq);
		}
		if (ret < 0)
			set_error(s, ret, err);

		pthread_mutex_lock(&s->lock);
		*slot = NULL;
		free(j);
		s->busy--;
		if (!s->qlen && !s->busy)
			pthread_cond_broadcast(&s->cv_idle);
	}
	pthread_mutex_unlock(&s->lock);
	ZSTD_freeCCtx(zc.cctx);
	free(z.p);
	return NULL;
}

int store_pool_start(struct store *s, unsigned threads, unsigned queue, char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	s->nworkers = 0;
	threads = threads ? threads : ncpu > 0 ? (unsigned)ncpu : 1;
	if (threads > 64)
		threads = 64;
	s->qcap = queue ? queue : 2 * threads;
	s->q = calloc(s->qcap, sizeof(*s->q));
	s->workers = calloc(threads, sizeof(*s->workers));
	s->inflight = calloc(threads, sizeof(*s->inflight));
	s->nslots = threads;
	if (!s->q || !s->workers || !s->inflight) {
		store_msg(err, errlen, "store: out of memory");
		return -ENOMEM;
	}
	for (; s->nworkers < threads; s->nworkers++) {
		ret = -pthread_create(&s->workers[s->nworkers], NULL, worker, s);
		if (ret) {
			store_msg(err, errlen, "store: starting a worker: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void store_pool_stop(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cv_job);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	s->nworkers = 0;
	free(s->q);
	free(s->workers);
	free(s->inflight);
	free(s->pending); /* never flushed: nothing was promised */
	s->q = NULL;
	s->workers = NULL;
	s->inflight = NULL;
	s->pending = NULL;
}

static bool in_job(const struct job *j, const struct store_hash *h)
{
	if (!j)
		return false;
	for (unsigned i = 0; i < j->n; i++)
		if (!memcmp(&j->c[i].hash, h, sizeof(*h)))
			return true;
	return false;
}

/*
 * Is a chunk of hash @h queued or being written? Then putting it again is a dup (a run of equal
 * chunks, e.g. zeros, is common). A chunk written meanwhile is caught by write_job's check.
 * Under lock.
 */
static bool queued(struct store *s, const struct store_hash *h)
{
	for (unsigned i = 0; i < s->qlen; i++)
		if (in_job(s->q[(s->qhead + i) % s->qcap], h))
			return true;
	for (unsigned i = 0; i < s->nslots; i++)
		if (in_job(s->inflight[i], h))
			return true;
	return false;
}

/* Queue the producer's batch (waiting while the ring is full). */
static void submit(struct store *s)
{
	struct job *j = s->pending;

	if (!j)
		return;
	s->pending = NULL;
	pthread_mutex_lock(&s->lock);
	while (s->qlen == s->qcap)
		pthread_cond_wait(&s->cv_space, &s->lock);
	j->seq = s->seq_next++;
	s->q[(s->qhead + s->qlen) % s->qcap] = j;
	s->qlen++;
	pthread_cond_signal(&s->cv_job);
	pthread_mutex_unlock(&s->lock);
}

int store_put_async(struct store *s, const void *data, size_t len, const struct store_hash *dict,
		    struct store_hash *out, char *err, size_t errlen)
{
	const struct dict *d;
	struct job *j;
	bool dup;
	int ret;

	ret = put_check(s, len, err, errlen);
	if (ret)
		return ret;
	ret = store_dict_lookup(s, dict, &d, err, errlen);
	if (ret)
		return ret;
	if (store_hash_data(data, len, out)) {
		store_msg(err, errlen, "store: out of memory to hash a chunk");
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	ret = s->error;
	if (ret)
		store_msg(err, errlen, "%s", s->errmsg);
	dup = !ret && (in_job(s->pending, out) || queued(s, out));
	if (dup)
		s->stats.chunks_dup++;
	pthread_mutex_unlock(&s->lock);
	if (ret)
		return ret;
	if (dup)
		return 1;
	if (store_has(s, out)) {
		count(s, 1, 0, 0, 0);
		return 1;
	}
	j = s->pending;
	if (j && (j->n == JOB_CHUNKS || j->cap - j->used < len)) {
		submit(s);
		j = NULL;
	}
	if (!j) {
		size_t cap = len > JOB_BYTES ? len : JOB_BYTES;

		j = malloc(sizeof(*j) + cap);
		if (!j) {
			store_msg(err, errlen, "store: no memory to queue a chunk of %zu bytes", len);
			return -ENOMEM;
		}
		j->n = 0;
		j->used = 0;
		j->cap = cap;
		s->pending = j;
	}
	j->c[j->n] = (struct job_chunk){.hash = *out, .dict = d, .off = j->used, .len = len};
	j->n++;
	memcpy(j->data + j->used, data, len);
	j->used += len;
	if (j->n == JOB_CHUNKS || j->used >= JOB_BYTES)
		submit(s);
	return 0;
}

int store_flush(struct store *s, char *err, size_t errlen)
{
	bool dirty_dicts;
	int ret, r;

	if (s->readonly)
		return 0;
	submit(s);
	pthread_mutex_lock(&s->lock);
	while (s->qlen || s->busy)
		pthread_cond_wait(&s->cv_idle, &s->lock);
	ret = s->error;
	if (ret)
		store_msg(err, errlen, "%s", s->errmsg);
	s->error = 0;
	dirty_dicts = s->dirty_dicts;
	s->dirty_dicts = false;
	pthread_mutex_unlock(&s->lock);

	if (ret) {
		/* What the open pack holds cannot be promised whole: drop it. */
		store_pack_abandon(s);
		r = store_index_load(s, NULL, 0);
		(void)r;
		return ret;
	}
	ret = store_pack_finish(s, err, errlen);
	if (ret) {
		store_pack_abandon(s);
		r = store_index_load(s, NULL, 0);
		(void)r;
	}
	if (dirty_dicts) {
		r = store_fsync_dir(s, "dicts", ret ? NULL : err, errlen);
		if (!ret)
			ret = r;
	}
	return ret;
}

int store_put_fd(struct store *s, int fd, const struct chunker_params *params,
		 const struct store_hash *dict, store_chunk_fn fn, void *arg, char *err,
		 size_t errlen)
{
	struct chunker c;
	unsigned char *rbuf = NULL, *cbuf = NULL;
	size_t have = 0;
	int ret;

	ret = chunker_init(&c, params ? params : &chunker_default_params);
	if (ret) {
		store_msg(err, errlen, "store: bad chunker parameters");
		return ret;
	}
	rbuf = malloc(READ_BUF);
	cbuf = malloc(c.p.max);
	if (!rbuf || !cbuf) {
		store_msg(err, errlen, "store: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct store_hash h;
		ssize_t n = read(fd, rbuf, READ_BUF);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			store_msg(err, errlen, "store: reading: %s", strerror(errno));
			goto out;
		}
		while (off < (size_t)n || (n == 0 && have)) {
			bool cut = n == 0;
			size_t k = n ? chunker_scan(&c, rbuf + off, (size_t)n - off, &cut) : 0;

			memcpy(cbuf + have, rbuf + off, k);
			have += k;
			off += k;
			if (!cut)
				continue;
			ret = store_put_async(s, cbuf, have, dict, &h, err, errlen);
			if (ret < 0)
				goto out;
			ret = fn(arg, &h, have);
			if (ret)
				goto out;
			have = 0;
		}
		if (n == 0)
			break;
	}
	ret = 0;
out:
	free(rbuf);
	free(cbuf);
	return ret;
}
