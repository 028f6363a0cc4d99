/*
 * meta.h - the metadata file recorded in every config commit (".statefs-meta").
 *
 * git keeps only file contents and an executable bit; this file keeps what git forgets, as
 * etckeeper does: the type, mode, owner and group of every path in the commit, empty
 * directories included, so history shows them truly and a restore can put them back.
 * The format (documented in docs/format.md) is line-based text, one entry a line, sorted by path:
 *
 *     # statefs-meta 1
 *     d 0755 0 0 nginx
 *     f 0600 0 33 env/whisperx/.env
 *     l 0777 0 0 nginx/sites-enabled/clemence.conf
 *
 * type (f, d, l), mode in octal (permission and set-id/sticky bits, 4 digits), uid, gid, then
 * the path, which runs to the end of the line. A path byte that is a control character, a
 * backslash or DEL, or a space at the start, is written as \ooo (three octal digits).
 * meta_parse accepts exactly what meta_format writes and rejects anything else with a message.
 *
 * Precisely: fields are separated by one space; uid and gid are decimal without sign or leading
 * zero, at most 4294967294 ((uid_t)-1 is never an owner); paths are sorted by strcmp on their
 * decoded bytes, each at most once; no path is empty, starts or ends with '/', or has an empty,
 * "." or ".." component; bytes >= 0x80 (UTF-8) and spaces after the first byte are written as
 * they are, and an escape of a byte that needs none, or of NUL, is an error. Every line, the
 * last included, ends with '\n'. So meta_format(meta_parse(x)) == x byte for byte.
 */
#ifndef STATEFS_META_H
#define STATEFS_META_H

#include <stddef.h>
#include <sys/types.h>

#define META_FILE ".statefs-meta"

struct meta_entry {
	char type; /* 'f', 'd' or 'l' */
	mode_t mode; /* permission bits only: mode & 07777 */
	uid_t uid;
	gid_t gid;
	char *path; /* relative, '/'-separated, no leading or trailing '/', never empty */
};

struct meta {
	struct meta_entry *v;
	size_t n, cap;
	int sorted; /* internal: v is sorted by path */
};

void meta_init(struct meta *m);
void meta_free(struct meta *m);

/*
 * Insert or replace the entry for @path. @mode is masked to mode & 07777, so st_mode may be
 * passed as it is. 0 or -ENOMEM / -EINVAL (bad type or path, or uid/gid (uid_t)-1).
 */
int meta_set(struct meta *m, char type, mode_t mode, uid_t uid, gid_t gid, const char *path);

/*
 * Remove @path and, if @recursive, every entry below it ("path/..."; "nginx2" is not below
 * "nginx"). Returns how many went; 0 for a path the format does not allow.
 */
size_t meta_remove(struct meta *m, const char *path, int recursive);

/* The entry for @path or NULL. */
const struct meta_entry *meta_get(struct meta *m, const char *path);

/*
 * Serialise, sorted by path, into a malloc'd buffer (*out, *len). 0 or -ENOMEM (*out NULL).
 * The buffer is also NUL-terminated, for convenience; *len does not count the NUL.
 */
int meta_format(struct meta *m, char **out, size_t *len);

/*
 * Parse @len bytes (not NUL-terminated) into @m, which must be freshly initialised.
 * 0 on success; -EINVAL with a message naming the line in err on malformed input
 * (bad header, bad field, duplicate or unsorted path, bad escape, NUL byte, no final newline),
 * e.g. "line 3: bad mode '999'"; the header is line 1. -ENOMEM if memory ran out. On any error
 * @m is left empty (no need to meta_free it, though that is harmless). @err may be NULL.
 */
int meta_parse(struct meta *m, const char *buf, size_t len, char *err, size_t errlen);

#endif
