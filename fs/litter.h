/*
 * litter.h - editor and package-manager litter that is never committed.
 */
#ifndef STATEFS_LITTER_H
#define STATEFS_LITTER_H

#include <stdbool.h>

/*
 * Is @name (one path component) editor or tool litter: vim swap files (.*.swp, .*.swx, .*.swo
 * and the .sw? family), backups ending in "~", vim's write test "4913", emacs lock and autosave
 * files (.#*, #*#), dpkg leftovers (*.dpkg-old, *.dpkg-new, *.dpkg-dist, *.dpkg-tmp, ...)?
 */
bool litter_is(const char *name);

#endif
