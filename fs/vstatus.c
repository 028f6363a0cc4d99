/*
 * vstatus.c - STATE_DIR/status/last-check and last-push: what the checker and the pusher did
 * last, for `statefs status` and the metrics.
 *
 * The files use the event format of snapshot/events.h ("statefs-event 1", then "KEY VALUE"
 * lines, "end"), with keys of their own after the common ones; a reader ignores keys it does
 * not know. Each is replaced atomically (temp file, fsync, rename), so a reader sees the old
 * record or the new one. A failure is also written as last-error, as events_record does.
 */
#include "fs/vcs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void vstatus_escape(const char *in, char *out, size_t size)
{
	size_t k = 0;

	if (!size)
		return;
	for (; in && *in && k + 5 < size; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c == 0x7f || c == '\\')
			k += (size_t)snprintf(out + k, size - k, "\\%03o", c);
		else
			out[k++] = (char)c;
	}
	out[k] = '\0';
}

static int write_one(const char *dir, const char *name, const char *text, size_t len)
{
	static unsigned seq;
	unsigned k = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.%u.tmp", dir, name, (int)getpid(), k);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd))
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int vstatus_write(const char *state_dir, const struct vstatus *st)
{
	char dir[PATH_MAX], what[512], msg[1024], dur[48] = "", *text = NULL;
	int n, err;

	snprintf(dir, sizeof(dir), "%s/status", state_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	vstatus_escape(st->what, what, sizeof(what));
	vstatus_escape(st->message, msg, sizeof(msg));
	if (st->duration_ms >= 0)
		snprintf(dur, sizeof(dur), "duration_ms %" PRId64 "\n", st->duration_ms);
	n = asprintf(&text,
		     "statefs-event 1\nkind %s\ntime %" PRId64 "\nresult %s\n%swhat %s\n"
		     "message %s\n%send\n",
		     st->kind, st->time, st->ok ? "ok" : "failed", dur, what, msg,
		     st->extra ? st->extra : "");
	if (n < 0)
		return -ENOMEM;
	snprintf(what, sizeof(what), "last-%s", st->kind);
	err = write_one(dir, what, text, (size_t)n);
	if (!err && !st->ok)
		err = write_one(dir, "last-error", text, (size_t)n);
	free(text);
	return err;
}
