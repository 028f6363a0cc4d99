/*
 * events.c - STATE_DIR/status/last-KIND: write one event atomically, read it back (events.h).
 *
 * The files are tiny and written rarely (once per snapshot, restore or verify), so each write
 * is a plain temp file + fsync + rename + directory fsync; the temp name carries the pid and a
 * counter, so two writers (the daemon and a verb) never share one.
 */
#include "snapshot/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *events_result_name(enum event_result r)
{
	switch (r) {
	case EVENT_OK:
		return "ok";
	case EVENT_INCOMPLETE:
		return "incomplete";
	default:
		return "failed";
	}
}

bool events_kind_valid(const char *kind)
{
	size_t n = kind ? strlen(kind) : 0;

	if (n == 0 || n >= EVENTS_KIND_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (kind[i] < 'a' || kind[i] > 'z')
			return false;
	return true;
}

/* Append "KEY " then @s escaped (\ooo for control bytes, DEL, backslash), then "\n". */
static size_t put_text(char *buf, size_t o, const char *key, const char *s)
{
	o += (size_t)sprintf(buf + o, "%s ", key);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)sprintf(buf + o, "\\%03o", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '\n';
	return o;
}

size_t events_format(const struct event *ev, char *buf)
{
	size_t o;

	/* what and message are NUL-terminated within their arrays: at most 4 bytes per byte */
	o = (size_t)sprintf(buf, "statefs-event %d\nkind %s\ntime %lld\nresult %s\n",
			    EVENTS_VERSION, ev->kind, (long long)ev->time,
			    events_result_name(ev->result));
	if (ev->duration_ms >= 0)
		o += (size_t)sprintf(buf + o, "duration_ms %lld\n", (long long)ev->duration_ms);
	if (ev->what[0])
		o = put_text(buf, o, "what", ev->what);
	if (ev->message[0])
		o = put_text(buf, o, "message", ev->message);
	memcpy(buf + o, "end\n", 4);
	return o + 4;
}

/* Undo the \ooo escapes of @s (@n bytes) into @out (@cap bytes, NUL-terminated). */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0, i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (i + 3 >= n)
				return -EINVAL;
			if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' || s[i + 2] > '7' ||
			    s[i + 3] < '0' || s[i + 3] > '7')
				return -EINVAL;
			c = (unsigned char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
					    (s[i + 3] - '0'));
			i += 3;
		}
		if (c == 0)
			return -EINVAL;
		if (o + 1 < cap) /* cut, never overflow */
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_int(const char *s, size_t n, int64_t *out)
{
	char tmp[24], *end;
	long long v;

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno || *end || (tmp[0] != '-' && (tmp[0] < '0' || tmp[0] > '9')))
		return -EINVAL;
	*out = v;
	return 0;
}

int events_parse(const char *buf, size_t len, struct event *ev, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len, *nl, *sp, *v;
	unsigned seen = 0; /* bits: 1 kind, 2 time, 4 result */
	size_t line = 0, klen, vlen;
	bool ended = false;
	int rc = 0;

	memset(ev, 0, sizeof(*ev));
	ev->duration_ms = -1;
	while (p < end && !ended) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			msg(err, errlen, "line %zu: no newline at the end", line);
			return -EINVAL;
		}
		sp = memchr(p, ' ', (size_t)(nl - p));
		klen = (size_t)((sp ? sp : nl) - p);
		v = sp ? sp + 1 : nl;
		vlen = (size_t)(nl - v);
		if (line == 1) {
			if (!sp || klen != 13 || memcmp(p, "statefs-event", 13) || vlen != 1 ||
			    *v != '0' + EVENTS_VERSION)
				rc = -EINVAL;
		} else if (klen == 3 && !memcmp(p, "end", 3) && !sp) {
			ended = true;
		} else if (klen == 4 && !memcmp(p, "kind", 4) && sp) {
			if (vlen == 0 || vlen >= EVENTS_KIND_MAX)
				rc = -EINVAL;
			else
				memcpy(ev->kind, v, vlen);
			rc = rc ?: (events_kind_valid(ev->kind) ? 0 : -EINVAL);
			seen |= 1;
		} else if (klen == 4 && !memcmp(p, "time", 4) && sp) {
			rc = parse_int(v, vlen, &ev->time);
			seen |= 2;
		} else if (klen == 6 && !memcmp(p, "result", 6) && sp) {
			if (vlen == 2 && !memcmp(v, "ok", 2))
				ev->result = EVENT_OK;
			else if (vlen == 6 && !memcmp(v, "failed", 6))
				ev->result = EVENT_FAILED;
			else if (vlen == 10 && !memcmp(v, "incomplete", 10))
				ev->result = EVENT_INCOMPLETE;
			else
				rc = -EINVAL;
			seen |= 4;
		} else if (klen == 11 && !memcmp(p, "duration_ms", 11) && sp) {
			rc = parse_int(v, vlen, &ev->duration_ms);
			if (!rc && ev->duration_ms < 0)
				rc = -EINVAL;
		} else if (klen == 4 && !memcmp(p, "what", 4) && sp) {
			rc = unescape(v, vlen, ev->what, sizeof(ev->what));
		} else if (klen == 7 && !memcmp(p, "message", 7) && sp) {
			rc = unescape(v, vlen, ev->message, sizeof(ev->message));
		} /* else: a key of a later version; ignored */
		if (rc) {
			msg(err, errlen, "line %zu: not an event line: %.*s", line,
			    (int)((nl - p) > 80 ? 80 : (nl - p)), p);
			return rc;
		}
		p = nl + 1;
	}
	if (!ended || p != end) {
		msg(err, errlen, "line %zu: %s", line,
		    ended ? "text after \"end\"" : "no \"end\" line: cut off");
		return -EINVAL;
	}
	if (seen != 7) {
		msg(err, errlen, "kind, time or result is missing");
		return -EINVAL;
	}
	return 0;
}

static int write_file(const char *dir, const char *name, const char *buf, size_t len, char *err,
		      size_t errlen)
{
	static unsigned seq;
	char tmp[64], path[4200];
	unsigned n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	int dfd = -1, fd = -1, rc = 0;
	ssize_t w;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "tmp.%s.%ld.%u", name, (long)getpid(), n);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		msg(err, errlen, "%s: %s", dir, strerror(-rc));
		goto out;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	while (off < len) {
		w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd)) {
		rc = -errno;
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name)) {
		rc = -errno;
		goto fail;
	}
	fsync(dfd);
	goto out;
fail:
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	msg(err, errlen, "writing %s: %s", path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
out:
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int events_write(const char *state_dir, const struct event *ev, char *err, size_t errlen)
{
	char dir[4096], name[EVENTS_KIND_MAX + 8], *buf;
	size_t len;
	int rc;

	if (!events_kind_valid(ev->kind)) {
		msg(err, errlen, "not an event kind: %s", ev->kind);
		return -EINVAL;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/status", state_dir) >= sizeof(dir)) {
		msg(err, errlen, "%s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	if ((mkdir(state_dir, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST)) {
		rc = -errno;
		msg(err, errlen, "creating %s: %s", dir, strerror(-rc));
		return rc;
	}
	buf = malloc(EVENTS_FILE_MAX);
	if (!buf) {
		msg(err, errlen, "out of memory");
		return -ENOMEM;
	}
	len = events_format(ev, buf);
	snprintf(name, sizeof(name), "last-%s", ev->kind);
	rc = write_file(dir, name, buf, len, err, errlen);
	if (!rc && ev->result != EVENT_OK && strcmp(ev->kind, "error"))
		rc = write_file(dir, "last-error", buf, len, err, errlen);
	free(buf);
	return rc;
}

/* Copy @s into @out (@cap bytes), without newlines' effect (they are escaped on write). */
static void copy_cut(char *out, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* not inside a UTF-8 character */
	}
	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
}

int events_record(const char *state_dir, const char *kind, enum event_result result, double seconds,
		  const char *what, char *err, size_t errlen, const char *fmt, ...)
{
	struct event *ev = calloc(1, sizeof(*ev));
	char *text = NULL;
	va_list ap;
	int rc;

	if (!ev) {
		msg(err, errlen, "out of memory");
		return -ENOMEM;
	}
	copy_cut(ev->kind, sizeof(ev->kind), kind);
	ev->time = (int64_t)time(NULL);
	ev->result = result;
	ev->duration_ms = seconds < 0 ? -1 : (int64_t)(seconds * 1000.0 + 0.5);
	copy_cut(ev->what, sizeof(ev->what), what);
	if (fmt) {
		va_start(ap, fmt);
		if (vasprintf(&text, fmt, ap) < 0)
			text = NULL;
		va_end(ap);
		if (!text) {
			free(ev);
			msg(err, errlen, "out of memory");
			return -ENOMEM;
		}
		copy_cut(ev->message, sizeof(ev->message), text);
		free(text);
	}
	rc = events_write(state_dir, ev, err, errlen);
	free(ev);
	return rc;
}

int events_read(const char *state_dir, const char *kind, struct event *ev, char *err, size_t errlen)
{
	char path[4200], *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	if (!events_kind_valid(kind)) {
		msg(err, errlen, "not an event kind: %s", kind);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/status/last-%s", state_dir, kind);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			msg(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(EVENTS_FILE_MAX + 1);
	if (!buf) {
		rc = -ENOMEM;
		msg(err, errlen, "out of memory");
		goto out;
	}
	while (len <= EVENTS_FILE_MAX) {
		n = read(fd, buf + len, EVENTS_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			msg(err, errlen, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > EVENTS_FILE_MAX) {
		rc = -EINVAL;
		msg(err, errlen, "%s: too long for an event file", path);
		goto out;
	}
	rc = events_parse(buf, len, ev, err, errlen);
	if (rc) {
		char m[300];

		snprintf(m, sizeof(m), "%s", err ? err : "");
		msg(err, errlen, "%s: %s", path, m);
	}
out:
	free(buf);
	close(fd);
	return rc;
}
