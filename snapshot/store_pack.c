/*
 * store_pack.c - the pack a writer appends chunks to, and how it becomes durable.
 *
 * While open, a pack is two temp files in packs/: "tmp.NAME.PID.1" (the frames) and
 * "tmp.NAME.PID.2" (its index lines), so a crash leaves only files the orphan cleanup knows.
 * Finishing it (store_flush, or once it holds STORE_PACK_TARGET bytes): fsync the frames, rename
 * to NAME.pack, write out and fsync the index, rename to NAME.idx, fsync packs/. The index
 * appears last, and a pack counts only with its index, so no index ever names bytes a crash
 * could take back. Appends are serialised by plock; compression happens before, in parallel.
 */
#include "snapshot/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int store_pack_name(char name[17])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno;
	for (int i = 0; i < 8; i++) {
		name[2 * i] = digits[r[i] >> 4];
		name[2 * i + 1] = digits[r[i] & 15];
	}
	name[16] = '\0';
	return 0;
}

/* Open a new pack: its two temp files, and its number in the index. Under plock. */
static int pack_open(struct store *s, char *err, size_t errlen)
{
	struct open_pack *op = &s->op;
	const struct store_io *io = s->io;
	char name[17];
	int64_t no;
	int fd, ret;

	ret = store_pack_name(name);
	if (ret) {
		store_msg(err, errlen, "store: no random pack name: %s", strerror(-ret));
		return ret;
	}
	snprintf(op->tmp_pack, sizeof(op->tmp_pack), "packs/tmp.%s.%ld.1", name, (long)getpid());
	snprintf(op->tmp_idx, sizeof(op->tmp_idx), "packs/tmp.%s.%ld.2", name, (long)getpid());
	fd = io->openat(s->fd, op->tmp_pack, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0) {
		ret = -errno;
		store_msg(err, errlen, "store: creating %s: %s", op->tmp_pack, strerror(errno));
		return ret;
	}
	op->idx_fd = io->openat(s->fd, op->tmp_idx,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (op->idx_fd < 0) {
		ret = -errno;
		store_msg(err, errlen, "store: creating %s: %s", op->tmp_idx, strerror(errno));
		goto fail;
	}
	memcpy(op->ibuf, STORE_INDEX_HEADER, sizeof(STORE_INDEX_HEADER) - 1);
	op->ilen = sizeof(STORE_INDEX_HEADER) - 1;
	op->off = 0;
	pthread_rwlock_wrlock(&s->ixlock);
	no = store_index_add_pack(s, name, fd);
	pthread_rwlock_unlock(&s->ixlock);
	if (no < 0) {
		ret = (int)no;
		store_msg(err, errlen, "store: %s",
			  no == -EOVERFLOW ? "too many packs" : "out of memory");
		goto fail;
	}
	op->no = (uint32_t)no;
	return 0;
fail:
	if (op->idx_fd >= 0) {
		close(op->idx_fd);
		io->unlinkat(s->fd, op->tmp_idx, 0);
	}
	op->idx_fd = -1;
	close(fd);
	io->unlinkat(s->fd, op->tmp_pack, 0);
	return ret;
}

/*
 * Write out the buffered index lines. On failure they stay buffered and the file offset goes
 * back to where they started, so that the next try writes them over what part got out: a
 * short write followed by an error must not leave a torn line for a later finish to keep.
 */
static int flush_lines(struct store *s)
{
	off_t at = lseek(s->op.idx_fd, 0, SEEK_CUR);
	int ret = at < 0 ? -errno : store_write_all(s->io, s->op.idx_fd, s->op.ibuf, s->op.ilen);

	if (!ret)
		s->op.ilen = 0;
	else if (at >= 0 && lseek(s->op.idx_fd, at, SEEK_SET) < 0)
		ret = -errno;
	return ret;
}

static int pack_fd(struct store *s)
{
	int fd;

	pthread_rwlock_rdlock(&s->ixlock);
	fd = s->packs[s->op.no].fd;
	pthread_rwlock_unlock(&s->ixlock);
	return fd;
}

/* Under plock. */
static int finish_locked(struct store *s, char *err, size_t errlen)
{
	struct open_pack *op = &s->op;
	const struct store_io *io = s->io;
	const char *what = "syncing";
	char name[17], dst[40], rel[64];
	int fd, ret = 0;

	if (op->no == PACK_NONE)
		return 0;
	fd = pack_fd(s);
	pthread_rwlock_rdlock(&s->ixlock);
	memcpy(name, s->packs[op->no].name, sizeof(name));
	pthread_rwlock_unlock(&s->ixlock);
	snprintf(rel, sizeof(rel), "%s", op->tmp_pack);
	if (io->fsync(fd) < 0)
		goto fail;
	what = "renaming";
	snprintf(dst, sizeof(dst), "packs/%s.pack", name);
	if (io->renameat(s->fd, op->tmp_pack, s->fd, dst) < 0)
		goto fail;
	snprintf(op->tmp_pack, sizeof(op->tmp_pack), "%s", dst);
	snprintf(rel, sizeof(rel), "%s", op->tmp_idx);
	what = "writing";
	ret = flush_lines(s);
	if (ret) {
		errno = -ret;
		goto fail;
	}
	what = "syncing";
	if (io->fsync(op->idx_fd) < 0)
		goto fail;
	what = "renaming";
	snprintf(dst, sizeof(dst), "packs/%s.idx", name);
	if (io->renameat(s->fd, op->tmp_idx, s->fd, dst) < 0)
		goto fail;
	close(op->idx_fd);
	op->idx_fd = -1;
	op->no = PACK_NONE;
	return store_fsync_dir(s, "packs", err, errlen);
fail:
	ret = -errno;
	store_msg(err, errlen, "store: %s %s: %s", what, rel, strerror(errno));
	return ret;
}

int store_pack_finish(struct store *s, char *err, size_t errlen)
{
	int ret;

	pthread_mutex_lock(&s->plock);
	ret = finish_locked(s, err, errlen);
	pthread_mutex_unlock(&s->plock);
	return ret;
}

void store_pack_abandon(struct store *s)
{
	struct open_pack *op = &s->op;

	pthread_mutex_lock(&s->plock);
	if (op->no != PACK_NONE) {
		if (op->idx_fd >= 0)
			close(op->idx_fd);
		op->idx_fd = -1;
		/* tmp_pack may hold the final name already (finish failed later): keep that one,
		 * a pack without an index is not read and the next sweep removes it. */
		if (!strncmp(op->tmp_pack, "packs/tmp.", 10))
			s->io->unlinkat(s->fd, op->tmp_pack, 0);
		s->io->unlinkat(s->fd, op->tmp_idx, 0);
		op->no = PACK_NONE;
	}
	pthread_mutex_unlock(&s->plock);
}

int store_pack_append(struct store *s, const struct frame *f, unsigned n, const void *buf,
		      char *err, size_t errlen)
{
	struct open_pack *op = &s->op;
	char hex[STORE_HEX_LEN + 1];
	size_t total = 0;
	uint64_t off;
	struct ixloc e;
	int fd, ret = 0;

	for (unsigned i = 0; i < n; i++)
		total += f[i].zlen;
	if (!total)
		return 0;
	if ((size_t)n * (STORE_HEX_LEN + 48) > sizeof(op->ibuf)) {
		store_msg(err, errlen, "store: %u frames in one append", n);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->plock);
	if (op->no == PACK_NONE) {
		ret = pack_open(s, err, errlen);
		if (ret)
			goto out;
	}
	fd = pack_fd(s);
	/*
	 * Write at our own offset (readers use pread, which leaves the file offset alone): a failed
	 * append leaves no hole, the next one overwrites it. Through s->io, so tests can fail it.
	 */
	if (lseek(fd, (off_t)op->off, SEEK_SET) < 0)
		ret = -errno;
	else
		ret = store_write_all(s->io, fd, buf, total);
	if (ret) {
		store_msg(err, errlen, "store: writing %s: %s", op->tmp_pack, strerror(-ret));
		goto out;
	}
	/* Room for every line first, so that no line of this append is out before all are in. */
	if (op->ilen + (size_t)n * (STORE_HEX_LEN + 48) > sizeof(op->ibuf)) {
		ret = flush_lines(s);
		if (ret) {
			store_msg(err, errlen, "store: writing %s: %s", op->tmp_idx, strerror(-ret));
			goto out;
		}
	}
	off = op->off;
	for (unsigned i = 0; i < n; off += f[i].zlen, i++) {
		if (!f[i].zlen)
			continue;
		store_hash_hex(&f[i].hash, hex);
		op->ilen += (size_t)snprintf(op->ibuf + op->ilen, sizeof(op->ibuf) - op->ilen,
					     "%s %llu %zu\n", hex, (unsigned long long)off,
					     f[i].zlen);
	}
	/* The frames and their lines are in: only now do the chunks become findable. */
	off = op->off;
	op->off += total;
	for (unsigned i = 0; i < n; off += f[i].zlen, i++) {
		if (!f[i].zlen)
			continue;
		e.off = off;
		e.zlen = (uint32_t)f[i].zlen;
		e.pack = op->no;
		ret = store_index_put(s, &f[i].hash, &e, false);
		if (ret) {
			store_msg(err, errlen, "store: %s",
				  ret == -ENOMEM ? "out of memory"
						 : "a frame past what the index can hold");
			goto out;
		}
	}
	if (op->off >= STORE_PACK_TARGET)
		ret = finish_locked(s, err, errlen);
out:
	pthread_mutex_unlock(&s->plock);
	return ret;
}
