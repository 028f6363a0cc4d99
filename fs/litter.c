/*
 * litter.c - tells editor and package-manager litter from real files by name alone.
 *
 * The versioning queue asks this before it commits a path: a swap file, a backup copy or
 * vim's write test must never become a commit. The rules look at one path component and
 * nothing else (no stat, no content), so they are cheap and the same on every machine;
 * litter.h lists them exactly.
 */
#include "fs/litter.h"

#include <stddef.h>
#include <string.h>

/* clang-format off */
static const char *const suffixes[] = {
	".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-tmp", ".dpkg-bak", ".dpkg-remove",
	".ucf-old",  ".ucf-new",  ".ucf-dist",
};
/* clang-format on */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * ".sw" and one letter a-p, or x: vim tries .swp, .swo, ... down to .swa while a name is taken,
 * and briefly creates .swx to see whether the filesystem truncates names to 8.3.
 */
static bool swap_suffix(const char *s)
{
	return s[0] == '.' && s[1] == 's' && s[2] == 'w' &&
	       ((s[3] >= 'a' && s[3] <= 'p') || s[3] == 'x');
}

/* vim's write test: "4913", then 4913 + 123k while the name is taken (k < 100 here). */
static bool vim_write_test(const char *name, size_t len)
{
	unsigned long v = 0;
	size_t i;

	if (len < 4 || len > 5 || name[0] == '0')
		return false;
	for (i = 0; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	return v >= 4913 && (v - 4913) % 123 == 0 && (v - 4913) / 123 < 100;
}

bool litter_is(const char *name)
{
	size_t len, i;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0)
		return false;

	/* vim swap: ".swp" (no-name buffer) or "." + anything + ".sw[a-p]" */
	if (len == 4 && swap_suffix(name))
		return true;
	if (len >= 5 && name[0] == '.' && swap_suffix(name + len - 4))
		return true;

	/* backup copies: "file~" (but not a lone "~") */
	if (len >= 2 && name[len - 1] == '~')
		return true;

	if (vim_write_test(name, len))
		return true;

	/* emacs lock ".#file" and auto-save "#file#" */
	if (len >= 3 && name[0] == '.' && name[1] == '#')
		return true;
	if (len >= 3 && name[0] == '#' && name[len - 1] == '#')
		return true;

	/* dpkg and ucf leftovers: need a base name before the suffix */
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(name, len, suffixes[i]) && len > strlen(suffixes[i]))
			return true;

	return false;
}
