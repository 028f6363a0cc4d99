/*
 * spool.c - an append-only unlinked temporary file of byte strings (see spool.h).
 *
 * Strings start on SPOOL_ALIGN boundaries: the gap after each is a hole (never written), and
 * dropping a string punches exactly its pages, so the file holds on disk about what is still
 * to be read back.
 */
#include "restore/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct spool {
	int fd;
	uint64_t end; /* where the next string goes */
};

int spool_tmpfile(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	if ((size_t)snprintf(path, sizeof(path), "%s/statefs-tmp.XXXXXX", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int spool_open(const char *dir, struct spool **out)
{
	struct spool *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->fd = spool_tmpfile(dir);
	if (s->fd < 0) {
		int rc = s->fd;

		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

uint64_t spool_size_of(size_t len)
{
	return ((uint64_t)len + SPOOL_ALIGN - 1) / SPOOL_ALIGN * SPOOL_ALIGN;
}

int spool_put(struct spool *s, const void *p, size_t len, uint64_t *off)
{
	const char *q = p;
	size_t done = 0;
	ssize_t k;

	while (done < len) {
		k = pwrite(s->fd, q + done, len - done, (off_t)(s->end + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (size_t)k;
	}
	*off = s->end;
	s->end += spool_size_of(len);
	return 0;
}

int spool_get(struct spool *s, uint64_t off, void *buf, size_t len)
{
	char *q = buf;
	size_t done = 0;
	ssize_t k;

	while (done < len) {
		k = pread(s->fd, q + done, len - done, (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (size_t)k;
	}
	return 0;
}

bool spool_drop(struct spool *s, uint64_t off, size_t len)
{
	return !fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			  (off_t)spool_size_of(len));
}
