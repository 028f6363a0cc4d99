/*
 * history_index.h - the config commits by date, for history/: every commit reachable from
 * HEAD of STATE_DIR/config.git, sorted by time, grouped by local date, each named
 * "HH-MM-SS-abc1234" (its local time and short id) within "YYYY-MM-DD".
 *
 * Built on first use by walking the history once (a few hundred milliseconds for tens of
 * thousands of commits), then kept up to date by walking only what HEAD gained since. Memory:
 * about 32 bytes a commit.
 *
 * Thread safety: every function may be called from several threads; what is returned is a
 * copy.
 */
#ifndef STATEFS_HISTORY_INDEX_H
#define STATEFS_HISTORY_INDEX_H

#include <git2.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/backups_git.h"

#define HISTORY_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */
#define HISTORY_NAME_LEN 17 /* "HH-MM-SS-abc1234" + NUL */

struct history_commit {
	git_oid oid;
	int64_t time;
};

struct history_index;

int history_index_new(struct backups_git *g, struct history_index **out);
void history_index_free(struct history_index *x);

/* Take in the commits HEAD gained since the last call (all of them the first time). 0 or -errno. */
int history_index_refresh(struct history_index *x);

/* The number of dates, and the newest commit's time (0 if none). */
size_t history_index_ndates(struct history_index *x, int64_t *newest);

/*
 * Date @i (oldest first) into @date, with the time of its newest commit in *time. 0 or -ENOENT
 * past the end.
 */
int history_index_date(struct history_index *x, size_t i, char *date, int64_t *time);

/*
 * The commits of @date, oldest first: a malloc'd array (*out, *n; free()). 0 or -ENOENT if no
 * commit has that date.
 */
int history_index_commits(struct history_index *x, const char *date, struct history_commit **out,
			  size_t *n);

/* The name of commit @c within its date: "HH-MM-SS-abc1234" into @name. */
void history_index_name(const struct history_commit *c, char *name);

/* The local date of @time: "YYYY-MM-DD" into @date. */
void history_index_date_of(int64_t time, char *date);

#endif
