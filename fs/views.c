/*
 * views.c - the views the mount serves beside the mount table's names (see fs/view.h).
 * A view is listed in the root in this order; its name is reserved in the config.
 */
#include "fs/backups.h"
#include "fs/dbview.h"
#include "fs/history.h"
#include "fs/statusview.h"
#include "fs/view.h"

const struct view_ops *const view_table[] = {
	&db_view_ops,
	&backups_view_ops,
	&history_view_ops,
	&status_view_ops,
	NULL,
};
