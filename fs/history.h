/*
 * history.h - the history/ view (fs/view.h): one read-only directory per config commit, so a
 * version saved between two snapshots can be copied back with cp -a.
 *
 *     history/2025-10-01/14-03-22-abc1234/nginx/...    the configs as that commit left them
 *
 * Dates and times are local; the id is the commit's short id. Modes and owners are those the
 * commit's .statefs-meta recorded. The list of commits is built at the first look at
 * history/ and follows HEAD afterwards (history/ and the date directories have one-second
 * timeouts); a commit's tree is immutable and cached for a day. The trees are served by
 * fs/backups_tree.c and fs/backups_file.c, as for backups/.
 */
#ifndef STATEFS_HISTORY_H
#define STATEFS_HISTORY_H

#include "fs/view.h"

extern const struct view_ops history_view_ops;

#define HISTORY_DIR_TIMEOUT 1.0 /* seconds: history/ and its date directories */

#endif
