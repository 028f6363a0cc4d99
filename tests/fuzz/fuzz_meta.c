/*
 * fuzz_meta.c - meta_parse on any bytes: never crashes or leaks, and whatever it accepts,
 * meta_format writes back byte for byte (the format has one spelling for each table).
 */
#include "fs/meta.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta m;
	char err[256], *out = NULL;
	size_t len = 0;

	meta_init(&m);
	if (meta_parse(&m, (const char *)data, size, err, sizeof(err)) == 0) {
		if (meta_format(&m, &out, &len) != 0)
			abort();
		if (len != size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	} else if (m.n != 0 || m.v != NULL || strncmp(err, "line ", 5) != 0) {
		abort(); /* a refusal leaves the table empty and names the line */
	}
	meta_free(&m);
	return 0;
}
