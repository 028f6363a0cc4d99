/*
 * backups_hide.c - where the state directory would appear in the trees of backups/ and
 * history/, found by comparing canonical paths once, at mount.
 */
#include "fs/backups_hide.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * @path made canonical: realpath(3), or, for a path that does not exist yet (the state
 * directory is made after the views start), its parent's realpath and its last component.
 */
static char *canonical(const char *path)
{
	char buf[PATH_MAX], *slash, *out;

	if (realpath(path, buf))
		return strdup(buf);
	slash = strrchr(path, '/');
	if (!slash || !slash[1] || (size_t)(slash - path) >= sizeof(buf))
		return NULL;
	memcpy(buf, path, (size_t)(slash - path));
	buf[slash - path] = '\0';
	out = realpath(*buf ? buf : "/", NULL);
	if (out) {
		char *full;

		if (asprintf(&full, "%s/%s", strcmp(out, "/") ? out : "", slash + 1) < 0)
			full = NULL;
		free(out);
		out = full;
	}
	return out;
}

/* If canonical @state is beneath @source, add "@prefix/REL" to @h. */
static int add_if_beneath(struct backups_hide *h, const char *state, const char *source,
			  const char *prefix)
{
	char *src = canonical(source), **nv, *p;
	size_t n;
	int ret = 0;

	if (!src)
		return 0; /* a source that is not there holds nothing */
	n = strlen(src);
	if (strcmp(src, "/") == 0)
		n = 0;
	if (strncmp(state, src, n) || state[n] != '/' || !state[n + 1])
		goto out;
	nv = reallocarray(h->paths, h->n + 1, sizeof(*nv));
	if (!nv || asprintf(&p, "%s/%s", prefix, state + n + 1) < 0) {
		if (nv)
			h->paths = nv;
		ret = -ENOMEM;
		goto out;
	}
	h->paths = nv;
	h->paths[h->n++] = p;
out:
	free(src);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int backups_hide_build(const struct mtab *tab, struct backups_hide *out)
{
	char *state = canonical(tab->state_dir), prefix[512];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!state)
		return 0;
	for (size_t i = 0; i < tab->nentries && !ret; i++) {
		const struct mtab_entry *m = &tab->entries[i];

		if (m->kind == MTAB_TREE) {
			ret = add_if_beneath(out, state, m->source, m->name);
		} else if (m->kind == MTAB_FILES) {
			ret = add_if_beneath(out, state, m->glob.prefix, m->name);
		} else {
			for (size_t j = 0; j < m->nplain && !ret; j++) {
				snprintf(prefix, sizeof(prefix), "%s/%s", m->name,
					 m->plain[j].label);
				ret = add_if_beneath(out, state, m->plain[j].path, prefix);
			}
		}
	}
	free(state);
	if (ret) {
		backups_hide_free(out);
		return ret;
	}
	if (out->n)
		qsort(out->paths, out->n, sizeof(*out->paths), cmp_str);
	return 0;
}

void backups_hide_free(struct backups_hide *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->paths[i]);
	free(h->paths);
	memset(h, 0, sizeof(*h));
}

bool backups_hide_is(const struct backups_hide *h, const char *path)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->paths[i], path) == 0)
			return true;
	return false;
}

bool backups_hide_child(const struct backups_hide *h, const char *dir, const char *name)
{
	size_t dl = strlen(dir);

	for (size_t i = 0; i < h->n; i++) {
		const char *p = h->paths[i];

		if (dl && (strncmp(p, dir, dl) || p[dl] != '/'))
			continue;
		if (strcmp(p + (dl ? dl + 1 : 0), name) == 0)
			return true;
	}
	return false;
}
