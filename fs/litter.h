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
 *
 * Exactly, where "*" is one or more bytes:
 *   vim swap      "." + any bytes + ".sw[a-px]", ".sw[a-px]"  (".a.swp", ".swp"; not "a.swpx")
 *   backup        "*~"                                        ("nginx.conf~"; not "~file", "~")
 *   vim write     "4913" + 123k for k = 0..99, in decimal      ("4913", "5036", ... "17090")
 *   emacs         ".#*" (lock), "#*#" (auto-save)
 *   dpkg, ucf     "*.dpkg-old", "*.dpkg-new", "*.dpkg-dist", "*.dpkg-tmp", "*.dpkg-bak",
 *                 "*.dpkg-remove", "*.ucf-old", "*.ucf-new", "*.ucf-dist"
 * NULL and "" are not litter.
 */
bool litter_is(const char *name);

#endif
