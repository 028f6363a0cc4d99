/*
 * refs.h - what the snapshots refer to and what the store holds: the ground that prune's sweep
 * and check stand on.
 *
 * A struct refs is a set of chunk hashes (the chunks some manifests name), each with a small
 * value its user may set (check keeps a status there). Memory is about 48 to 96 bytes per
 * distinct chunk (open addressing, at most 3/4 full): 1 million chunks, some 64 GiB of data,
 * take under 100 MiB.
 *
 * The walker lists the files of one of the store's directories (STATE_DIR/store/packs,
 * dicts/, snapshots/) and says what each one is: a stored name (64 lowercase hex digits: a
 * dictionary), a temp file ("tmp.*", store.h), or something else (packs are read through
 * store.h). Chunks themselves are listed by store_each (store.h). Nothing here deletes: callers do, by name, with unlinkat.
 */
#ifndef STATEFS_REFS_H
#define STATEFS_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "snapshot/manifest.h"
#include "snapshot/store.h"

#define REFS_VAL_MAX 0x7fffffffu /* the largest value an entry holds */

struct refs;

/* A new, empty set. 0 or -ENOMEM. */
int refs_new(struct refs **out);
void refs_free(struct refs *r);

/* Add @h with value 0. 1 if it was in the set already (its value unchanged), 0, or -ENOMEM. */
int refs_add(struct refs *r, const struct store_hash *h);

/* Is @h in the set? If so and @val is not NULL, *val = its value. */
bool refs_get(const struct refs *r, const struct store_hash *h, uint32_t *val);

/* Set the value (<= REFS_VAL_MAX) of @h; -ENOENT if @h is not in the set. */
int refs_set(struct refs *r, const struct store_hash *h, uint32_t val);

/* How many distinct hashes the set holds. */
size_t refs_count(const struct refs *r);

/* Add every chunk of every file of @m. 0 or -ENOMEM. */
int refs_add_manifest(struct refs *r, const struct manifest *m);

/* Open STATE_DIR/store (O_DIRECTORY). The fd, or a negative errno with a message. */
int refs_open_store(const char *state_dir, char *err, size_t errlen);

enum refs_kind {
	REFS_NAMED, /* 64 lowercase hex digits: a dictionary */
	REFS_TMP,   /* "tmp.*": a write in progress or cut short */
	REFS_OTHER, /* anything else: not the store's */
};

struct refs_file {
	int dirfd;	  /* the directory that holds it: unlinkat(dirfd, name, 0) removes it */
	const char *dir;  /* that directory relative to the store: "packs", "dicts" */
	const char *name; /* the file name */
	const struct stat *st; /* lstat of the file */
	enum refs_kind kind;
	struct store_hash hash; /* REFS_NAMED: the hash its name spells */
};

/*
 * Called for each file; a nonzero return stops the walk and is returned. The file may be
 * removed from within the callback; the directory must not be changed otherwise.
 */
typedef int (*refs_walk_fn)(void *arg, const struct refs_file *f);

/*
 * Call @fn for every entry of the store directory @dir ("dicts", "snapshots", "packs")
 * that is not a directory. A missing @dir is empty. 0, @fn's nonzero return, or a negative errno
 * with a message.
 */
int refs_walk_dir(int store_fd, const char *dir, refs_walk_fn fn, void *arg, char *err,
		  size_t errlen);

/*
 * The zstd dictionary id recorded in dicts/@name (read from its first 8 bytes): *id, 0 if the
 * file is not a zstd dictionary. 0 or a negative errno.
 */
int refs_dict_id(int store_fd, const char *name, unsigned *id);

/*
 * A list of distinct small integers (dictionary ids): few, searched linearly.
 */
struct refs_ids {
	unsigned *v;
	size_t n, cap;
};

/* Add @id unless it is there. 0 or -ENOMEM. */
int refs_ids_add(struct refs_ids *s, unsigned id);
bool refs_ids_has(const struct refs_ids *s, unsigned id);
void refs_ids_free(struct refs_ids *s);

/* "1,234,567" into @buf (>= 27 bytes): numbers for the operator. Returns @buf. */
char *refs_thousands(uint64_t n, char *buf);

/* "512 bytes", "3.4 KiB", "12.0 MiB", "1.5 GiB" into @buf (>= 32 bytes). Returns @buf. */
char *refs_size(uint64_t bytes, char *buf);

#endif
