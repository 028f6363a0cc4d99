/*
 * json.c - the tiny JSON writer (json.h): escapes, UTF-8 checking, sticky errors.
 */
#include "snapshot/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
}

void json_free(struct json *j)
{
	free(j->buf);
	j->buf = NULL;
	j->len = j->cap = 0;
}

static void put(struct json *j, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (j->err)
		return;
	if (j->len + n + 2 > j->cap) {
		cap = j->cap ? j->cap : 256;
		while (j->len + n + 2 > cap)
			cap *= 2;
		nb = realloc(j->buf, cap);
		if (!nb) {
			j->err = -ENOMEM;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void puts_(struct json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void newline(struct json *j)
{
	if (!j->indent)
		return;
	put(j, "\n", 1);
	for (unsigned i = 0; i < j->depth * (unsigned)j->indent; i++)
		put(j, " ", 1);
}

/* The length of the valid UTF-8 sequence at @s (@n bytes left), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, or a surrogate */
	return len;
}

static void put_quoted(struct json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, k;
	char esc[8];

	put(j, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(j, esc, 2);
			i++;
		} else if (c < 0x20) {
			if (c == '\n')
				puts_(j, "\\n");
			else if (c == '\t')
				puts_(j, "\\t");
			else if (c == '\r')
				puts_(j, "\\r");
			else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(j, esc, 6);
			}
			i++;
		} else if ((k = utf8_len(s + i, n - i)) > 0) {
			put(j, (const char *)s + i, k);
			i += k;
		} else {
			puts_(j, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
			i++;
		}
	}
	put(j, "\"", 1);
}

/* The separator and key before a value at the current level. */
static void member(struct json *j, const char *key)
{
	if (j->err)
		return;
	if (j->depth == 0) {
		if (key || j->len) /* one top-level value, no name */
			j->err = -EINVAL;
		return;
	}
	if (j->in_array[j->depth - 1] == (key != NULL)) {
		j->err = -EINVAL; /* a key in an array, or a value without one in an object */
		return;
	}
	if (!j->first[j->depth - 1])
		put(j, ",", 1);
	j->first[j->depth - 1] = false;
	newline(j);
	if (key) {
		put_quoted(j, key);
		put(j, j->indent ? ": " : ":", j->indent ? 2 : 1);
	}
}

static void begin(struct json *j, const char *key, bool array)
{
	member(j, key);
	if (j->err)
		return;
	if (j->depth >= JSON_DEPTH_MAX) {
		j->err = -EINVAL;
		return;
	}
	put(j, array ? "[" : "{", 1);
	j->in_array[j->depth] = array;
	j->first[j->depth] = true;
	j->depth++;
}

static void end(struct json *j, bool array)
{
	bool empty;

	if (j->err)
		return;
	if (j->depth == 0 || j->in_array[j->depth - 1] != array) {
		j->err = -EINVAL;
		return;
	}
	empty = j->first[j->depth - 1];
	j->depth--;
	if (!empty)
		newline(j);
	put(j, array ? "]" : "}", 1);
}

void json_begin_object(struct json *j, const char *key)
{
	begin(j, key, false);
}

void json_end_object(struct json *j)
{
	end(j, false);
}

void json_begin_array(struct json *j, const char *key)
{
	begin(j, key, true);
}

void json_end_array(struct json *j)
{
	end(j, true);
}

void json_string(struct json *j, const char *key, const char *value)
{
	member(j, key);
	if (!value)
		puts_(j, "null");
	else
		put_quoted(j, value);
}

void json_int(struct json *j, const char *key, int64_t value)
{
	char b[32];

	member(j, key);
	snprintf(b, sizeof(b), "%" PRId64, value);
	puts_(j, b);
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
	char b[32];

	member(j, key);
	snprintf(b, sizeof(b), "%" PRIu64, value);
	puts_(j, b);
}

void json_double(struct json *j, const char *key, double value)
{
	char b[40];

	member(j, key);
	if (!isfinite(value)) {
		puts_(j, "null");
		return;
	}
	/* %.17g round-trips; %g may print "1e+20", which is valid JSON */
	snprintf(b, sizeof(b), "%.17g", value);
	if (strtod(b, NULL) == value) {
		char s[40];

		for (int p = 1; p <= 17; p++) { /* the shortest text that reads back the same */
			snprintf(s, sizeof(s), "%.*g", p, value);
			if (strtod(s, NULL) == value) {
				memcpy(b, s, sizeof(b));
				break;
			}
		}
	}
	puts_(j, b);
}

void json_bool(struct json *j, const char *key, bool value)
{
	member(j, key);
	puts_(j, value ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	puts_(j, "null");
}

int json_finish(struct json *j, char **out, size_t *len)
{
	int rc;

	*out = NULL;
	*len = 0;
	if (!j->err && (j->depth || !j->len))
		j->err = -EINVAL;
	put(j, "\n", 1);
	rc = j->err;
	if (rc) {
		json_free(j);
		return rc;
	}
	j->buf[j->len] = '\0'; /* put() keeps room for it */
	*out = j->buf;
	*len = j->len;
	j->buf = NULL;
	j->len = j->cap = 0;
	return 0;
}
