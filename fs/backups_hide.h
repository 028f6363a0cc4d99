/*
 * backups_hide.h - the paths of backups/ and history/ trees that would be statefs's own state
 * directory, so that the views never show it.
 *
 * The state directory may be placed under a source (an uploads tree, /etc/nginx). The live
 * tree hides it; but a snapshot's manifest or a config commit may have recorded it, and then a
 * snapshot would show the store inside itself. From the mount table, each source that holds
 * the state directory gives the path it has in a tree: "uploads/LABEL/REL" for a plain mount,
 * "NAME/REL" for a tree mount (REL beneath the source) or a files mount (beneath its glob's
 * fixed prefix). Those paths, and so everything beneath them, are never looked up or listed.
 */
#ifndef STATEFS_BACKUPS_HIDE_H
#define STATEFS_BACKUPS_HIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "mountpoints/mtab.h"

struct backups_hide {
	char **paths; /* sorted; usually none */
	size_t n;
};

/* The paths @tab's state directory has in the trees. 0 or -ENOMEM. */
int backups_hide_build(const struct mtab *tab, struct backups_hide *out);
void backups_hide_free(struct backups_hide *h);

/* Is tree path @path one to hide? */
bool backups_hide_is(const struct backups_hide *h, const char *path);

/* The same for @name in directory @dir ("" for a tree's root). */
bool backups_hide_child(const struct backups_hide *h, const char *dir, const char *name);

#endif
