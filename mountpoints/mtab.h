/*
 * mtab.h - the mount table: which top-level names statefs shows and what is behind each.
 *
 * The table is read from a config file in git-config syntax with libgit2's config parser, so
 * `git config -f statefs.conf` reads and edits it too. The format is documented in
 * docs/statefs.conf.md. Nothing here touches FUSE; fs/ and snapshot/ consume the table.
 */
#ifndef STATEFS_MTAB_H
#define STATEFS_MTAB_H

#include <stdbool.h>
#include <stddef.h>

#define MTAB_DEFAULT_CONFIG "/etc/statefs/statefs.conf"
#define MTAB_DEFAULT_STATE_DIR "/var/lib/statefs"

enum mtab_kind {
	MTAB_TREE,  /* a versioned directory tree: source = a directory */
	MTAB_FILES, /* a versioned file set: source = an absolute glob */
	MTAB_PLAIN, /* an unversioned tree (uploads), one or more "label:/dir" sources */
};

/* A parsed absolute glob such as /opt/ * /docker-compose.yml. */
struct mtab_glob {
	char *prefix;  /* the longest leading run of components without wildcards: "/opt" */
	char **parts;  /* the remaining components, each an fnmatch(3) pattern: "*", "docker-compose.yml" */
	size_t nparts; /* >= 1 */
};

struct mtab_plain_source {
	char *label; /* the name shown under the mount: "clemence" */
	char *path;  /* absolute directory */
};

struct mtab_entry {
	char *name; /* top-level name in the mount: "nginx"; one path component */
	enum mtab_kind kind;
	char *source;          /* MTAB_TREE: the directory; MTAB_FILES: the glob as written */
	struct mtab_glob glob; /* MTAB_FILES only */
	struct mtab_plain_source *plain; /* MTAB_PLAIN only */
	size_t nplain;
	char *check;     /* optional "check" command, NULL if none; "{}" = a changed file */
	char *on_change; /* optional "on-change" command, NULL if none */
	unsigned check_timeout; /* seconds each of those may run; 0 = MTAB_CHECK_TIMEOUT */
};

#define MTAB_CHECK_TIMEOUT 60
#define MTAB_PUSH_INTERVAL 60

/* [remote]: where the config history is pushed. url NULL = no remote. */
struct mtab_remote {
	char *url;         /* an absolute path, ssh://host/path, [user@]host:path or file:// */
	char *branch;      /* the branch written on the remote; default "main" */
	unsigned interval; /* seconds between pushes (batching); default MTAB_PUSH_INTERVAL */
};

struct mtab_database {
	char *name;        /* the database name, as in [database "NAME"] */
	char *host;        /* NULL when a socket is used */
	unsigned port;     /* 0 = default */
	char *socket;      /* NULL when host is used */
	char *option_file; /* MySQL option file with user and password; NULL = none */
};

struct mtab {
	char *path;      /* the config file it was read from */
	char *state_dir; /* [state] dir, default MTAB_DEFAULT_STATE_DIR */
	struct mtab_entry *entries;
	size_t nentries;
	struct mtab_database *dbs;
	size_t ndbs;
	unsigned keep_last, keep_daily, keep_weekly, keep_monthly; /* [snapshot]; 0 = unset */
	struct mtab_remote remote;
};

/*
 * Read and validate the config at @path. On success returns 0 and sets *out (free with
 * mtab_free). On failure returns a negative errno and writes a message for the operator into
 * err that names the file, the line where it can be found, the key and what was expected, e.g.
 * "statefs.conf:7: mount.nginx.kind: unknown kind 'tre' (expected tree, files or plain)".
 */
int mtab_load(const char *path, struct mtab **out, char *err, size_t errlen);
void mtab_free(struct mtab *tab);

/* The entry called @name, or NULL. */
const struct mtab_entry *mtab_find(const struct mtab *tab, const char *name);

/* Parse an absolute glob (no "." or ".." components, no empty components). 0 or -EINVAL. */
int mtab_glob_parse(const char *pattern, struct mtab_glob *out);
void mtab_glob_free(struct mtab_glob *g);

/* Does @name (one component) match glob part @level? Leading dots must be matched explicitly. */
bool mtab_glob_match_part(const struct mtab_glob *g, size_t level, const char *name);

/*
 * Does @rel, a path relative to g->prefix ("whisperx/docker-compose.yml"), match the whole glob?
 * Exactly nparts components, each matching its part.
 */
bool mtab_glob_match(const struct mtab_glob *g, const char *rel);

#endif
