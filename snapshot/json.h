/*
 * json.h - a tiny JSON writer into a growing buffer, for `statefs status --json`.
 *
 * What a newcomer must know: calls never fail one by one. The first allocation failure (or a
 * misuse: a key inside an array, nesting deeper than JSON_DEPTH_MAX) is remembered and every
 * later call does nothing; json_finish() reports it. Strings are taken as UTF-8 and written
 * with the escapes RFC 8259 requires (quote, backslash, control characters as \n, \t or
 * \u00XX); bytes that are not valid UTF-8 become U+FFFD, so the output is always valid JSON.
 * Numbers that JSON cannot hold (NaN, infinities) are written as null.
 *
 *     struct json j;
 *     json_init(&j);
 *     json_begin_object(&j, NULL);
 *     json_string(&j, "name", "2025-10-01");
 *     json_int(&j, "files", 203);
 *     json_end_object(&j);
 *     rc = json_finish(&j, &text, &len);     // text: malloc'd, NUL-terminated, ends in "\n"
 */
#ifndef STATEFS_JSON_H
#define STATEFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 16

struct json {
	char *buf;
	size_t len, cap;
	int err;		       /* the first error, 0 if none */
	unsigned depth;		       /* open objects and arrays */
	bool in_array[JSON_DEPTH_MAX]; /* per level: an array (values) or an object (members) */
	bool first[JSON_DEPTH_MAX];    /* per level: nothing written in it yet */
	int indent;		       /* spaces per level; 0 = all on one line (the default) */
};

void json_init(struct json *j);

/*
 * Each writer takes @key: the member's name inside an object, NULL inside an array or for the
 * top-level value.
 */
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value); /* NULL: null */
void json_int(struct json *j, const char *key, int64_t value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_double(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);

/*
 * End the document: 0 and the text in *out (malloc'd, NUL-terminated, a newline at the end;
 * *len without the NUL), or the first error (-ENOMEM, -EINVAL for a misuse or an unclosed
 * object), after which nothing is returned. Either way the writer's buffer is handed over or
 * freed: do not use @j again without json_init().
 */
int json_finish(struct json *j, char **out, size_t *len);

/* Free what @j holds without finishing (on an error path). */
void json_free(struct json *j);

#endif
