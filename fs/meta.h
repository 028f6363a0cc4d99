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

/* Insert or replace the entry for @path. 0 or -ENOMEM / -EINVAL (bad type or path). */
int meta_set(struct meta *m, char type, mode_t mode, uid_t uid, gid_t gid, const char *path);

/* Remove @path and, if @recursive, every entry below it ("path/..."). Returns how many went. */
size_t meta_remove(struct meta *m, const char *path, int recursive);

/* The entry for @path or NULL. */
const struct meta_entry *meta_get(struct meta *m, const char *path);

/*
 * Serialise, sorted by path, into a malloc'd buffer (*out, *len). 0 or -ENOMEM.
 */
int meta_format(struct meta *m, char **out, size_t *len);

/*
 * Parse @len bytes (not NUL-terminated) into @m, which must be freshly initialised.
 * 0 on success; -EINVAL with a message naming the line in err on malformed input
 * (bad header, bad field, duplicate or unsorted path, bad escape, NUL byte).
 */
int meta_parse(struct meta *m, const char *buf, size_t len, char *err, size_t errlen);

#endif
