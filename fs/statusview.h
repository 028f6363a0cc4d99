/*
 * statusview.h - the .statefs/ view (fs/view.h): .statefs/metrics, the facts of `statefs
 * status` as Prometheus text (snapshot/status.h), read-only, made afresh at every open.
 */
#ifndef STATEFS_STATUSVIEW_H
#define STATEFS_STATUSVIEW_H

#include "fs/view.h"

extern const struct view_ops status_view_ops;

#endif
