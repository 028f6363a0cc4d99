/*
 * fuzz_packidx.c - store_index_parse (the lines of a pack index) on any bytes: never crashes;
 * whatever it accepts is canonical, so writing back what it reported gives the very same
 * bytes, one line per newline, each within the limits store.h states; what it rejects names a
 * line that exists; and a callback that stops it stops it there.
 */
#include "snapshot/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct echo {
	char *buf;
	size_t len, cap;
	size_t lines, stop_at; /* stop_at: return 7 at that line (0 = never) */
};

static int echo_line(void *arg, const struct store_hash *h, uint64_t off, uint64_t zlen)
{
	struct echo *e = arg;
	char hex[STORE_HEX_LEN + 1];
	int n;

	if (!zlen || off > STORE_OFF_LIMIT - zlen)
		abort(); /* outside what store.h promises */
	e->lines++;
	if (e->stop_at && e->lines == e->stop_at)
		return 7;
	if (e->cap - e->len < STORE_HEX_LEN + 48)
		abort(); /* no line is longer than the hex and two 19-digit numbers */
	store_hash_hex(h, hex);
	n = snprintf(e->buf + e->len, e->cap - e->len, "%s %llu %llu\n", hex,
		     (unsigned long long)off, (unsigned long long)zlen);
	e->len += (size_t)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct echo e = {0};
	size_t bad = 12345, newlines = 0;
	int ret;

	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	/* Every accepted line takes at least 69 bytes, and is echoed in at most 106. */
	e.cap = size * 2 + STORE_HEX_LEN + 48;
	e.buf = malloc(e.cap);
	if (!e.buf)
		return 0;
	ret = store_index_parse((const char *)data, size, echo_line, &e, &bad);
	if (ret == 0) {
		if (bad != 0 || e.lines != newlines || e.len != size || memcmp(e.buf, data, size))
			abort();
		if (e.lines > 1) {
			/* A callback's nonzero return stops the parse at that line. */
			struct echo s = {.buf = e.buf, .cap = e.cap, .stop_at = 2};

			if (store_index_parse((const char *)data, size, echo_line, &s, &bad) != 7 ||
			    s.lines != 2)
				abort();
		}
	} else if (ret == -EINVAL) {
		if (bad < 1 || bad > newlines + 1 || e.lines != bad - 1)
			abort();
	} else {
		abort();
	}
	free(e.buf);
	return 0;
}
