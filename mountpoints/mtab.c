/*
 * mtab.c - the mount table: reads statefs.conf (git-config syntax, parsed by libgit2) into a
 * struct mtab, rejects every unknown section, key or bad value, and matches "files" globs.
 *
 * libgit2 hands out entries without line numbers, yet every error names a line: once libgit2
 * has accepted the syntax, find_line() scans the file text for the section header and key.
 */
#include "mountpoints/mtab.h"

#include <errno.h>
#include <fnmatch.h>
#include <git2.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define DB_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$"
#define KEY_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A [mount] section's kind and sources are checked once the whole file is read. */
struct msect {
	bool has_kind;
	char **src; /* as written, in file order */
	size_t nsrc;
};

/* One mtab_load call. sect, sub, key and nth name the entry being handled, for errors. */
struct load {
	const char *path;
	char *text;
	struct mtab *tab;
	struct msect *ms; /* parallel to tab->entries */
	const char *sect, *sub, *key;
	int nth; /* which occurrence of key; -1: point at the section header */
	char *err;
	size_t errlen;
};

static const struct section {
	const char *name, *keys, *example; /* example: the name of a named section */
} sections[] = {
    {"state", "dir", NULL},
    {"mount", "kind, source, check, on-change or check-timeout", "nginx"},
    {"database", "host, port, socket or option-file", "clemence_db"},
    {"snapshot", "keep-last, keep-daily, keep-weekly or keep-monthly", NULL},
    {"remote", "url, branch or interval", NULL},
};

/* T_KIND and T_SOURCE are for [mount] only and also fill its struct msect. */
enum type { T_STR, T_PATH, T_PORT, T_COUNT, T_SECONDS, T_URL, T_BRANCH, T_KIND, T_SOURCE };

/* Every key, and where its value goes in its section's struct (mtab, mtab_entry, mtab_database). */
static const struct key {
	const char *sect, *name;
	enum type type;
	size_t off;
} keys[] = {
    {"state", "dir", T_PATH, offsetof(struct mtab, state_dir)},
    {"mount", "kind", T_KIND, 0},
    {"mount", "source", T_SOURCE, 0},
    {"mount", "check", T_STR, offsetof(struct mtab_entry, check)},
    {"mount", "on-change", T_STR, offsetof(struct mtab_entry, on_change)},
    {"mount", "check-timeout", T_SECONDS, offsetof(struct mtab_entry, check_timeout)},
    {"database", "host", T_STR, offsetof(struct mtab_database, host)},
    {"database", "port", T_PORT, offsetof(struct mtab_database, port)},
    {"database", "socket", T_PATH, offsetof(struct mtab_database, socket)},
    {"database", "option-file", T_PATH, offsetof(struct mtab_database, option_file)},
    {"snapshot", "keep-last", T_COUNT, offsetof(struct mtab, keep_last)},
    {"snapshot", "keep-daily", T_COUNT, offsetof(struct mtab, keep_daily)},
    {"snapshot", "keep-weekly", T_COUNT, offsetof(struct mtab, keep_weekly)},
    {"snapshot", "keep-monthly", T_COUNT, offsetof(struct mtab, keep_monthly)},
    {"remote", "url", T_URL, offsetof(struct mtab, remote.url)},
    {"remote", "branch", T_BRANCH, offsetof(struct mtab, remote.branch)},
    {"remote", "interval", T_COUNT, offsetof(struct mtab, remote.interval)},
};

static const char *const reserved[] = {"backups", "history", "db"};

/* Does the line at @s (just past '[') open the section [@sect "@sub"]? *after: past the ']'. */
static bool header_matches(const char *s, const char *sect, const char *sub, const char **after)
{
	const char *e = s + strcspn(s, " \t.]\"\n");
	bool ok = (size_t)(e - s) == strlen(sect) && !strncasecmp(s, sect, e - s);

	if (*e == '.') { /* old style [sect.sub], case-insensitive */
		s = e + 1;
		e = s + strcspn(s, "]\n");
		ok = ok && sub && strlen(sub) == (size_t)(e - s) && !strncasecmp(s, sub, e - s);
	} else if (*(e += strspn(e, " \t")) == '"') {
		const char *w = sub;

		for (e++; *e && *e != '"' && *e != '\n'; e++) {
			if (*e == '\\' && e[1] && e[1] != '\n')
				e++;
			if (w && *w == *e)
				w++;
			else
				w = NULL;
		}
		ok = ok && w && !*w;
	} else {
		ok = ok && !sub;
	}
	e += strcspn(e, "]\n");
	*after = *e == ']' ? e + 1 : e;
	return ok;
}

/* Does the value on this line go on to the next one (an unquoted trailing backslash)? */
static bool continued(const char *s, const char *eol)
{
	bool quoted = false;

	for (; s < eol; s++) {
		if (*s == '\\') {
			if (s + 1 == eol || (s[1] == '\r' && s + 2 == eol))
				return true;
			s++;
		} else if (*s == '"') {
			quoted = !quoted;
		} else if ((*s == ';' || *s == '#') && !quoted) {
			return false;
		}
	}
	return false;
}

/*
 * The line of the @nth (from 0) @key in sections [@sect "@sub"], or of the @nth such section
 * header when @key is NULL; 0 if not found. Only meant for text libgit2 has already accepted.
 */
static int find_line(const char *text, const char *sect, const char *sub, const char *key, int nth)
{
	bool in = false, cont = false;
	const char *p = text, *s, *eol;
	int line;

	for (line = 1; *p; line++, p = *eol ? eol + 1 : eol) {
		eol = strchrnul(p, '\n');
		s = p + strspn(p, " \t");
		if (cont) {
			cont = continued(s, eol);
			continue;
		}
		if (*s == '[') {
			in = header_matches(s + 1, sect, sub, &s);
			if (in && !key && nth-- == 0)
				return line;
			s += strspn(s, " \t");
		}
		if (in && key && strspn(s, KEY_CHARS) == strlen(key) &&
		    !strncasecmp(s, key, strlen(key)) && nth-- == 0)
			return line;
		cont = continued(s, eol);
	}
	return 0;
}

/* Write "FILE:LINE: sect.sub.key: message" for the current entry; returns -EINVAL. */
static int fail(struct load *ld, const char *fmt, ...)
{
	int line = find_line(ld->text, ld->sect, ld->sub, ld->nth < 0 ? NULL : ld->key,
			     ld->nth < 0 ? 0 : ld->nth);
	char msg[512], at[16] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(at, sizeof(at), "%d:", line);
	snprintf(ld->err, ld->errlen, "%s:%s %s%s%s%s%s: %s", ld->path, at, ld->sect,
		 ld->sub ? "." : "", ld->sub ? ld->sub : "", ld->key ? "." : "",
		 ld->key ? ld->key : "", msg);
	return -EINVAL;
}

static int oom(struct load *ld)
{
	snprintf(ld->err, ld->errlen, "%s: out of memory", ld->path);
	return -ENOMEM;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n && n <= NAME_MAX && *s != '.' && strspn(s, NAME_CHARS) == n;
}

/* A copy of @p without repeated or trailing slashes. -EINVAL unless absolute, without . or .. */
static int norm_path(const char *p, char **out)
{
	char *d;
	size_t n;

	*out = NULL;
	if (!p || *p != '/')
		return -EINVAL;
	d = *out = malloc(strlen(p) + 2);
	if (!d)
		return -ENOMEM;
	for (p += strspn(p, "/"); *p; p += n, p += strspn(p, "/")) {
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			free(*out);
			*out = NULL;
			return -EINVAL;
		}
		*d++ = '/';
		memcpy(d, p, n);
		d += n;
	}
	if (d == *out)
		*d++ = '/';
	*d = '\0';
	return 0;
}

static int set_path(struct load *ld, char **slot, const char *value)
{
	char *p;
	int ret = norm_path(value, &p);

	if (ret == -ENOMEM)
		return oom(ld);
	if (ret)
		return fail(ld, "'%s' is not an absolute path without . or .. components", value);
	free(*slot);
	*slot = p;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* @arr with a zeroed element added at index @n; NULL (and @arr intact) when out of memory. */
static void *grow(void *arr, size_t n, size_t size)
{
	char *a = reallocarray(arr, n + 1, size);

	if (a)
		memset(a + n * size, 0, size);
	return a;
}

/* The struct of the current [mount "sub"] or [database "sub"], added on the section's first key. */
static int named(struct load *ld, void **obj)
{
	struct mtab *tab = ld->tab;
	bool mount = ld->sect[0] == 'm';
	size_t i, len = strlen(ld->sub);
	const char *key = ld->key;
	char **name;
	int dup;

	for (i = 0; i < (mount ? tab->nentries : tab->ndbs); i++) {
		*obj = mount ? (void *)&tab->entries[i] : (void *)&tab->dbs[i];
		if (!strcmp(mount ? tab->entries[i].name : tab->dbs[i].name, ld->sub))
			return 0;
	}
	ld->key = NULL;
	if (mount && !valid_name(ld->sub))
		return fail(ld,
			    "bad mount name '%s' (expected one path component of letters, "
			    "digits, '.', '_' or '-', not starting with '.')",
			    ld->sub);
	for (i = 0; mount && i < ARRAY_SIZE(reserved); i++)
		if (!strcmp(ld->sub, reserved[i]))
			return fail(ld,
				    "the name '%s' is reserved (backups, history and db are "
				    "statefs's own views)",
				    ld->sub);
	if (!mount && (!len || len > 64 || strspn(ld->sub, DB_CHARS) != len))
		return fail(ld,
			    "bad database name '%s' (expected 1 to 64 letters, digits, '_' "
			    "or '$')",
			    ld->sub);
	dup = find_line(ld->text, ld->sect, ld->sub, NULL, 1);
	if (dup)
		return fail(ld, "[%s \"%s\"] is defined twice (again on line %d)", ld->sect,
			    ld->sub, dup);
	ld->key = key;
	if (mount) {
		struct mtab_entry *e = grow(tab->entries, tab->nentries, sizeof(*e));
		struct msect *ms = e ? grow(ld->ms, tab->nentries, sizeof(*ms)) : NULL;

		tab->entries = e ? e : tab->entries;
		ld->ms = ms ? ms : ld->ms;
		if (!ms)
			return oom(ld);
		*obj = e = &tab->entries[tab->nentries++];
		name = &e->name;
	} else {
		struct mtab_database *db = grow(tab->dbs, tab->ndbs, sizeof(*db));

		if (!db)
			return oom(ld);
		tab->dbs = db;
		*obj = db = &tab->dbs[tab->ndbs++];
		name = &db->name;
	}
	return (*name = strdup(ld->sub)) ? 0 : oom(ld);
}

static int set_str(struct load *ld, char **slot, const char *value)
{
	free(*slot);
	return (*slot = strdup(value)) ? 0 : oom(ld);
}

/* A push URL libgit2 can use without asking for a password: a path, ssh or scp-like. */
static bool remote_url_ok(const char *u)
{
	static const char *const schemes[] = {"ssh://", "git+ssh://", "ssh+git://", "file:///"};
	size_t colon = strcspn(u, ":");

	if (u[0] == '/')
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (!strncmp(u, schemes[i], strlen(schemes[i])))
			return u[strlen(schemes[i])] != '\0';
	/* [user@]host:path, as scp and git write it: no '/' before the colon */
	return colon && u[colon] == ':' && strcspn(u, "/") > colon && u[colon + 1] &&
	       !strstr(u, "://");
}

static bool branch_ok(const char *b)
{
	char ref[300];
	int valid = 0;

	if (strlen(b) > 250 || b[0] == '-')
		return false;
	snprintf(ref, sizeof(ref), "refs/heads/%s", b);
	return git_reference_name_is_valid(&valid, ref) == 0 && valid;
}

/* Store @value of key @k in @obj, the struct of its section. */
static int set(struct load *ld, const struct key *k, void *obj, const char *value)
{
	void *slot = (char *)obj + k->off;
	struct mtab_entry *ent = obj;
	struct msect *ms = k->type >= T_KIND ? &ld->ms[ent - ld->tab->entries] : NULL;
	char **src;

	switch (k->type) {
	case T_STR:
		return set_str(ld, slot, value);
	case T_PATH:
		return set_path(ld, slot, value);
	case T_PORT:
		if (parse_uint(value, 65535, slot) || !*(unsigned *)slot)
			return fail(ld, "bad port '%s' (expected 1 to 65535)", value);
		return 0;
	case T_COUNT:
		if (parse_uint(value, INT_MAX, slot))
			return fail(ld, "bad count '%s' (expected a non-negative integer)", value);
		return 0;
	case T_SECONDS:
		if (parse_uint(value, 86400, slot) || !*(unsigned *)slot)
			return fail(ld, "bad time '%s' (expected 1 to 86400 seconds)", value);
		return 0;
	case T_URL:
		if (!remote_url_ok(value))
			return fail(ld,
				    "bad url '%s' (expected an absolute path, ssh://host/path, "
				    "[user@]host:path or file:///path)",
				    value);
		return set_str(ld, slot, value);
	case T_BRANCH:
		if (!branch_ok(value))
			return fail(ld,
				    "bad branch name '%s' (expected a git branch name like main)",
				    value);
		return set_str(ld, slot, value);
	case T_KIND:
		ms->has_kind = true;
		if (!strcmp(value, "tree"))
			ent->kind = MTAB_TREE;
		else if (!strcmp(value, "files"))
			ent->kind = MTAB_FILES;
		else if (!strcmp(value, "plain"))
			ent->kind = MTAB_PLAIN;
		else
			return fail(ld, "unknown kind '%s' (expected tree, files or plain)", value);
		return 0;
	case T_SOURCE:
		if (!(src = grow(ms->src, ms->nsrc, sizeof(*src))))
			return oom(ld);
		ms->src = src;
		return (src[ms->nsrc++] = strdup(value)) ? 0 : oom(ld);
	}
	return -EINVAL;
}

/* Sort one libgit2 entry into the table; @name is a scratch copy of its name. */
static int take(struct load *ld, char *name, const char *value)
{
	char *dot = strchr(name, '.'), *last = strrchr(name, '.');
	const struct section *s = NULL;
	const struct key *k = NULL;
	struct mtab_database *db;
	void *obj = ld->tab;
	size_t i;
	int ret;

	*dot = *last = '\0';
	ld->sect = name;
	ld->sub = dot == last ? NULL : dot + 1;
	ld->key = last + 1;
	ld->nth = -1;
	for (i = 0; i < ARRAY_SIZE(sections); i++)
		s = strcmp(name, sections[i].name) ? s : &sections[i];
	if (!s)
		return fail(ld,
			    "unknown section [%s] (expected state, mount, database, snapshot or "
			    "remote)",
			    name);
	if (s->example && !ld->sub)
		return fail(ld, "[%s] needs a name, as in [%s \"%s\"]", name, name, s->example);
	if (!s->example && ld->sub)
		return fail(ld, "[%s] takes no name", name);
	if (s->example && (ret = named(ld, &obj)))
		return ret;
	ld->nth = 0;
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(name, keys[i].sect) && !strcmp(ld->key, keys[i].name))
			k = &keys[i];
	if (!k)
		return fail(ld, "unknown key '%s' in [%s%s%s%s] (expected %s)", ld->key, name,
			    ld->sub ? " \"" : "", ld->sub ? ld->sub : "", ld->sub ? "\"" : "",
			    s->keys);
	if (!value || !*value)
		return fail(ld, "no value (expected '%s = ...')", ld->key);
	if (k->type != T_SOURCE && find_line(ld->text, name, ld->sub, ld->key, 1)) {
		ld->nth = 1;
		return fail(ld, "given twice (first on line %d)",
			    find_line(ld->text, name, ld->sub, ld->key, 0));
	}
	ret = set(ld, k, obj, value);
	db = obj;
	if (!ret && !strcmp(name, "database") && db->host && db->socket)
		return fail(ld, "both host and socket given (expected one of them)");
	return ret;
}

/* Check and store source @src (occurrence ld->nth) of mount @ent, now that its kind is known. */
static int source(struct load *ld, struct mtab_entry *ent, const char *src)
{
	struct mtab_plain_source *ps;
	const char *colon;
	size_t i;
	int ret;

	if (ent->kind == MTAB_TREE)
		return set_path(ld, &ent->source, src);
	if (ent->kind == MTAB_FILES) {
		ret = mtab_glob_parse(src, &ent->glob);
		if (ret == -ENOMEM)
			return oom(ld);
		if (ret)
			return fail(ld,
				    "bad glob '%s' (expected an absolute pattern like "
				    "/opt/*/docker-compose.yml, without empty, . or .. parts)",
				    src);
		return (ent->source = strdup(src)) ? 0 : oom(ld);
	}
	colon = strchr(src, ':');
	if (!colon || colon == src)
		return fail(ld, "'%s' has no label (expected label:/absolute/dir)", src);
	ps = &ent->plain[ent->nplain++];
	if (!(ps->label = strndup(src, colon - src)))
		return oom(ld);
	if (!valid_name(ps->label))
		return fail(ld,
			    "bad label '%s' (expected letters, digits, '.', '_' or '-', not "
			    "starting with '.')",
			    ps->label);
	for (i = 0; i + 1 < ent->nplain; i++)
		if (!strcmp(ent->plain[i].label, ps->label))
			return fail(ld, "label '%s' used twice", ps->label);
	return set_path(ld, &ps->path, colon + 1);
}

/* [remote]: url is required once the section is there; branch and interval have defaults. */
static int finish_remote(struct load *ld)
{
	struct mtab_remote *r = &ld->tab->remote;

	ld->sect = "remote";
	ld->sub = NULL;
	ld->key = "url";
	ld->nth = -1;
	if (!r->url && (r->branch || find_line(ld->text, "remote", NULL, "interval", 0)))
		return fail(ld, "missing (expected a path, ssh://host/path or host:path)");
	if (!r->url)
		return 0;
	if (!r->branch && !(r->branch = strdup("main")))
		return oom(ld);
	if (!find_line(ld->text, "remote", NULL, "interval", 0))
		r->interval = MTAB_PUSH_INTERVAL;
	return 0;
}

/* Check what needs the whole file: each mount's kind against its sources, port with host. */
static int finish(struct load *ld)
{
	struct mtab *tab = ld->tab;
	size_t i, j;
	int ret;

	for (i = 0; i < tab->nentries; i++) {
		struct mtab_entry *ent = &tab->entries[i];
		struct msect *ms = &ld->ms[i];

		ld->sect = "mount";
		ld->sub = ent->name;
		ld->key = "kind";
		ld->nth = -1;
		if (!ms->has_kind)
			return fail(ld, "missing (expected tree, files or plain)");
		ld->key = "source";
		if (!ms->nsrc)
			return fail(ld, "missing (expected %s)",
				    ent->kind == MTAB_TREE    ? "an absolute directory"
				    : ent->kind == MTAB_FILES ? "an absolute glob"
							      : "one or more label:/absolute/dir");
		ld->nth = 1;
		if (ent->kind != MTAB_PLAIN && ms->nsrc > 1)
			return fail(ld, "given twice (a %s mount has one source)",
				    ent->kind == MTAB_TREE ? "tree" : "files");
		ld->key = ent->check ? "check" : "on-change";
		ld->nth = 0;
		if (ent->kind == MTAB_PLAIN && (ent->check || ent->on_change))
			return fail(ld, "only tree and files mounts run commands");
		ld->key = "check-timeout";
		if (ent->check_timeout && !ent->check && !ent->on_change)
			return fail(ld, "given without check or on-change");
		if (ent->kind == MTAB_PLAIN &&
		    !(ent->plain = calloc(ms->nsrc, sizeof(*ent->plain))))
			return oom(ld);
		ld->key = "source";
		for (j = 0; j < ms->nsrc; j++) {
			ld->nth = j;
			ret = source(ld, ent, ms->src[j]);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < tab->ndbs; i++) {
		ld->sect = "database";
		ld->sub = tab->dbs[i].name;
		ld->key = "port";
		ld->nth = 0;
		if (tab->dbs[i].port && !tab->dbs[i].host)
			return fail(ld, "port without host (expected host = 127.0.0.1 or similar)");
	}
	if (!tab->state_dir && !(tab->state_dir = strdup(MTAB_DEFAULT_STATE_DIR)))
		return oom(ld);
	return finish_remote(ld);
}

/* The file's text for find_line(); it ends at a NUL, which libgit2 rejects anyway. */
static int read_text(struct load *ld)
{
	FILE *f = fopen(ld->path, "re");
	size_t cap = 0;
	int ret = 0;

	if (!f)
		ret = -errno;
	else if (getdelim(&ld->text, &cap, '\0', f) < 0 && (ferror(f) || !ld->text))
		ret = errno ? -errno : -EIO;
	else if (feof(f) && ftell(f) == 0)
		ld->text[0] = '\0'; /* empty: getdelim allocated but wrote nothing */
	if (f)
		fclose(f);
	if (ret)
		snprintf(ld->err, ld->errlen, "cannot read %s: %s", ld->path, strerror(-ret));
	return ret;
}

/* libgit2's own error, e.g. "... (in statefs.conf:3)", as "statefs.conf:3: ...". */
static int git_fail(struct load *ld)
{
	const git_error *ge = git_error_last();
	const char *msg = ge && ge->message ? ge->message : "libgit2 failed";
	const char *in = strstr(msg, " (in "), *colon = in ? strrchr(in, ':') : NULL;
	int line = colon ? atoi(colon + 1) : 0;

	if (line > 0)
		snprintf(ld->err, ld->errlen, "%s:%d: %.*s", ld->path, line, (int)(in - msg), msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->path, msg);
	return -EINVAL;
}

int mtab_load(const char *path, struct mtab **out, char *err, size_t errlen)
{
	struct load ld = {.path = path, .err = err, .errlen = errlen};
	char scratch[1];
	git_config_iterator *it = NULL;
	git_config *cfg = NULL;
	git_config_entry *e;
	bool inited = false;
	char *name;
	size_t i;
	int ret;

	*out = NULL;
	if (!err || !errlen) {
		ld.err = scratch;
		ld.errlen = sizeof(scratch);
	}
	ld.err[0] = '\0';
	ret = read_text(&ld);
	if (ret)
		goto out;
	if (git_libgit2_init() < 0) {
		ret = git_fail(&ld);
		goto out;
	}
	inited = true;
	ld.tab = calloc(1, sizeof(*ld.tab));
	if (!ld.tab || !(ld.tab->path = strdup(path))) {
		ret = oom(&ld);
		goto out;
	}
	if (git_config_new(&cfg) < 0 ||
	    git_config_add_file_ondisk(cfg, path, GIT_CONFIG_LEVEL_APP, NULL, 0) < 0 ||
	    git_config_iterator_new(&it, cfg) < 0) {
		ret = git_fail(&ld);
		goto out;
	}
	while ((ret = git_config_next(&e, it)) == 0) {
		if (!(name = strdup(e->name))) {
			ret = oom(&ld);
			goto out;
		}
		ret = take(&ld, name, e->value);
		free(name);
		if (ret)
			goto out;
	}
	ret = ret == GIT_ITEROVER ? finish(&ld) : git_fail(&ld);
out:
	for (i = 0; ld.ms && i < ld.tab->nentries; i++) {
		while (ld.ms[i].nsrc)
			free(ld.ms[i].src[--ld.ms[i].nsrc]);
		free(ld.ms[i].src);
	}
	free(ld.ms);
	free(ld.text);
	git_config_iterator_free(it);
	git_config_free(cfg);
	if (inited)
		git_libgit2_shutdown();
	if (ret)
		mtab_free(ld.tab);
	else
		*out = ld.tab;
	return ret;
}

void mtab_free(struct mtab *tab)
{
	size_t i, j;

	if (!tab)
		return;
	for (i = 0; i < tab->nentries; i++) {
		struct mtab_entry *ent = &tab->entries[i];

		free(ent->name);
		free(ent->source);
		mtab_glob_free(&ent->glob);
		for (j = 0; j < ent->nplain; j++) {
			free(ent->plain[j].label);
			free(ent->plain[j].path);
		}
		free(ent->plain);
		free(ent->check);
		free(ent->on_change);
	}
	for (i = 0; i < tab->ndbs; i++) {
		free(tab->dbs[i].name);
		free(tab->dbs[i].host);
		free(tab->dbs[i].socket);
		free(tab->dbs[i].option_file);
	}
	free(tab->remote.url);
	free(tab->remote.branch);
	free(tab->entries);
	free(tab->dbs);
	free(tab->path);
	free(tab->state_dir);
	free(tab);
}

const struct mtab_entry *mtab_find(const struct mtab *tab, const char *name)
{
	size_t i;

	for (i = 0; tab && name && i < tab->nentries; i++)
		if (!strcmp(tab->entries[i].name, name))
			return &tab->entries[i];
	return NULL;
}

int mtab_glob_parse(const char *pattern, struct mtab_glob *out)
{
	const char *p, *start = NULL, *last = NULL;
	size_t n, count = 0;

	memset(out, 0, sizeof(*out));
	if (!pattern || *pattern != '/' || !pattern[1])
		return -EINVAL;
	for (p = pattern + 1;; p += n + 1) {
		n = strcspn(p, "/");
		if (!n || (n == 1 && *p == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (!start && strcspn(p, "*?[") < n)
			start = p;
		count += start != NULL;
		last = p;
		if (!p[n])
			break;
	}
	if (!start) { /* no wildcard: the file itself */
		start = last;
		count = 1;
	}
	out->prefix = start - 1 == pattern ? strdup("/") : strndup(pattern, start - 1 - pattern);
	out->parts = calloc(count, sizeof(*out->parts));
	if (!out->prefix || !out->parts)
		goto nomem;
	for (p = start; out->nparts < count; p += n + 1) {
		n = strcspn(p, "/");
		if (!(out->parts[out->nparts++] = strndup(p, n)))
			goto nomem;
	}
	return 0;
nomem:
	mtab_glob_free(out);
	return -ENOMEM;
}

void mtab_glob_free(struct mtab_glob *g)
{
	size_t i;

	if (!g)
		return;
	for (i = 0; g->parts && i < g->nparts; i++)
		free(g->parts[i]);
	free(g->parts);
	free(g->prefix);
	memset(g, 0, sizeof(*g));
}

bool mtab_glob_match_part(const struct mtab_glob *g, size_t level, const char *name)
{
	if (!g || level >= g->nparts || !name || !*name || strchr(name, '/') ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return fnmatch(g->parts[level], name, FNM_PERIOD) == 0;
}

bool mtab_glob_match(const struct mtab_glob *g, const char *rel)
{
	char buf[NAME_MAX + 1];
	size_t level, n;

	if (!g || !rel)
		return false;
	for (level = 0;; level++, rel += n + 1) {
		n = strcspn(rel, "/");
		if (level >= g->nparts || n > NAME_MAX)
			return false;
		memcpy(buf, rel, n);
		buf[n] = '\0';
		if (!mtab_glob_match_part(g, level, buf))
			return false;
		if (!rel[n])
			return level + 1 == g->nparts;
	}
}
