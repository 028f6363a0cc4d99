/*
 * dbview.h - the db/ view (fs/view.h): db/NAME.sql.zst for every [database "NAME"].
 * Read: a fresh consistent dump, zstd-compressed, made on demand. Write (cp a dump onto it):
 * restore that database atomically; close(2) reports the result.
 */
#ifndef STATEFS_DBVIEW_H
#define STATEFS_DBVIEW_H

#include "fs/view.h"

extern const struct view_ops db_view_ops;

#endif
