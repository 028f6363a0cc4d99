/*
 * fuzz_events.c - events_parse on any bytes: never crashes, and whatever it accepts,
 * events_format writes as a file that parses back to the same event (a reader ignores keys it
 * does not know, so the bytes need not be the same, the event must).
 */
#include "snapshot/events.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev, again;
	char err[256], *buf;
	size_t len;

	if (events_parse((const char *)data, size, &ev, err, sizeof(err)) != 0)
		return 0;
	buf = malloc(EVENTS_FILE_MAX);
	if (!buf)
		return 0;
	len = events_format(&ev, buf);
	if (len > EVENTS_FILE_MAX || events_parse(buf, len, &again, err, sizeof(err)) != 0)
		abort();
	if (strcmp(ev.kind, again.kind) || ev.time != again.time || ev.result != again.result ||
	    ev.duration_ms != again.duration_ms || strcmp(ev.what, again.what) ||
	    strcmp(ev.message, again.message))
		abort();
	free(buf);
	return 0;
}
