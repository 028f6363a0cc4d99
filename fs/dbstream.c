/*
 * dbstream.c - the dumper on a thread, its output compressed with zstd's streaming API into a
 * ring buffer that the FUSE reads drain. The producer blocks while the ring is full, so a slow
 * reader slows the dump rather than growing memory.
 */
#define FUSE_USE_VERSION 34
#include "fs/dbstream.h"
#include "snapshot/dump.h"

#include <fuse_log.h>
#include <zstd.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_SIZE (1u << 20)

struct dbstream {
	const struct mtab_database *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *ring;
	size_t head, len; /* the oldest unread byte and how many are unread */
	off_t consumed;   /* stream offset of ring[head] */
	int done, failed, cancel;
	char err[512];
	ZSTD_CCtx *cctx;
	char *zbuf;
	size_t zcap;
};

/* Move @len compressed bytes into the ring, waiting for room. */
static int push(struct dbstream *s, const char *p, size_t len)
{
	pthread_mutex_lock(&s->lock);
	while (len) {
		while (s->len == RING_SIZE && !s->cancel)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->cancel) {
			pthread_mutex_unlock(&s->lock);
			return -ECANCELED;
		}
		size_t tail = (s->head + s->len) % RING_SIZE;
		size_t room = RING_SIZE - s->len, run = RING_SIZE - tail;
		size_t n = len < room ? len : room;

		if (n > run)
			n = run;
		memcpy(s->ring + tail, p, n);
		s->len += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int compress(struct dbstream *s, const void *buf, size_t len, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = {buf, len, 0};
	size_t r;

	do {
		ZSTD_outBuffer out = {s->zbuf, s->zcap, 0};

		r = ZSTD_compressStream2(s->cctx, &out, &in, end);
		if (ZSTD_isError(r)) {
			snprintf(s->err, sizeof(s->err), "zstd: %s", ZSTD_getErrorName(r));
			return -EIO;
		}
		if (out.pos && push(s, s->zbuf, out.pos))
			return -ECANCELED;
	} while (end == ZSTD_e_end ? r != 0 : in.pos < in.size);
	return 0;
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
	return compress(ctx, buf, len, ZSTD_e_continue);
}

static void *producer(void *arg)
{
	struct dbstream *s = arg;
	struct dump_sink sink = {.ctx = s, .write = sink_write};
	char err[512] = "";
	int r;

	r = dump_database(s->db, NULL, &sink, NULL, err, sizeof(err));
	if (!r)
		r = compress(s, NULL, 0, ZSTD_e_end);
	pthread_mutex_lock(&s->lock);
	if (r && !s->cancel) {
		s->failed = 1;
		if (!s->err[0])
			snprintf(s->err, sizeof(s->err), "%s", err[0] ? err : strerror(-r));
		fuse_log(FUSE_LOG_ERR, "statefs: db/%s.sql.zst: %s\n", s->db->name, s->err);
	}
	s->done = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int dbstream_open(const struct mtab_database *db, struct dbstream **out, char *err, size_t errlen)
{
	struct dbstream *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->db = db;
	s->zcap = ZSTD_CStreamOutSize();
	s->ring = malloc(RING_SIZE);
	s->zbuf = malloc(s->zcap);
	s->cctx = ZSTD_createCCtx();
	if (!s->ring || !s->zbuf || !s->cctx) {
		r = -ENOMEM;
		goto fail;
	}
	ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = pthread_create(&s->thread, NULL, producer, s);
	if (r) {
		r = -r;
		snprintf(err, errlen, "cannot start the dump: %s", strerror(-r));
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	ZSTD_freeCCtx(s->cctx);
	free(s->zbuf);
	free(s->ring);
	free(s);
	return r;
}

ssize_t dbstream_read(struct dbstream *s, char *buf, size_t size, off_t off)
{
	size_t got = 0;
	ssize_t ret;

	pthread_mutex_lock(&s->lock);
	if (off != s->consumed) {
		ret = -ESPIPE; /* a live dump only goes forward */
		goto out;
	}
	while (got < size) {
		while (s->len == 0 && !s->done)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->len == 0)
			break;
		size_t run = RING_SIZE - s->head, n = size - got;

		if (n > s->len)
			n = s->len;
		if (n > run)
			n = run;
		memcpy(buf + got, s->ring + s->head, n);
		s->head = (s->head + n) % RING_SIZE;
		s->len -= n;
		got += n;
		pthread_cond_broadcast(&s->cond);
		if (s->len == 0 && got)
			break; /* hand out what there is rather than wait for a full request */
	}
	s->consumed += (off_t)got;
	ret = (s->failed && got == 0) ? -EIO : (ssize_t)got;
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

const char *dbstream_error(struct dbstream *s)
{
	return s->err;
}

void dbstream_close(struct dbstream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->cancel = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	ZSTD_freeCCtx(s->cctx);
	free(s->zbuf);
	free(s->ring);
	free(s);
}
