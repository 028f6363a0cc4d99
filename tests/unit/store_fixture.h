/*
 * store_fixture.h - helpers the prune and check unit tests share: a store in a temp dir, daily
 * snapshots built with store_put and manifest_write (one pack per snapshot: each is flushed),
 * and the reports of prune and check run into memory. Chunks are looked at through packs.h.
 * Static inline so that a test that uses some of them does not warn about the rest.
 */
#ifndef STATEFS_STORE_FIXTURE_H
#define STATEFS_STORE_FIXTURE_H

#include "snapshot/check.h"
#include "snapshot/manifest.h"
#include "snapshot/prune.h"
#include "snapshot/refs.h"
#include "snapshot/store.h"
#include "tests/unit/packs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

static char err[1024];
static struct store *S;

static inline char *new_state_dir(void)
{
	char *dir = strdup("/tmp/statefs-prune.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	return dir;
}

static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* How many lines `find ARGS` prints. */
static inline int count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int count(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n = -1;
	FILE *f;

	va_start(ap, fmt);
	strcpy(cmd, "find ");
	vsnprintf(cmd + 5, sizeof(cmd) - 20, fmt, ap);
	va_end(ap);
	strcat(cmd, " | wc -l");
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

/* Chunks the pack indexes name. */
static inline long chunks_in(const char *dir)
{
	return chunks_stored(dir);
}

/* Pack files (NAME.pack with its NAME.idx) in the store. */
static inline int packs_in(const char *dir)
{
	return count("'%s/store/packs' -name '*.idx'", dir);
}

static inline bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline bool exists(const char *fmt, ...)
{
	char path[4096];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return lstat(path, &st) == 0;
}

static inline struct store_hash put(const char *text, const struct store_hash *dict)
{
	struct store_hash h;
	int r = store_put(S, text, strlen(text), dict, &h, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "store_put: %s\n", err);
		exit(1);
	}
	return h;
}

/* Add file @path made of the chunks @parts (NULL-terminated) to @m. */
static inline void add_file(struct manifest *m, const char *path, const struct store_hash *dict,
			    ...)
{
	struct manifest_entry *e;
	const char *part;
	va_list ap;

	if (manifest_add(m, 'f', path, 0600, 0, 0, 0, 0, NULL, &e))
		exit(1);
	va_start(ap, dict);
	while ((part = va_arg(ap, const char *))) {
		struct store_hash h = put(part, dict);

		manifest_add_chunk(e, &h, strlen(part));
	}
	va_end(ap);
}

static inline int64_t time_of(const char *name)
{
	struct tm tm = {0};

	sscanf(name, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = name[10] == '_' ? 18 : 3;
	return (int64_t)timegm(&tm);
}

static inline void write_snap(const char *dir, const char *name, struct manifest *m)
{
	m->time = time_of(name);
	if (store_flush(S, err, sizeof(err)) || manifest_write(dir, name, m, err, sizeof(err))) {
		fprintf(stderr, "writing %s: %s\n", name, err);
		exit(1);
	}
	manifest_free(m);
}

/* The daily snapshot @name: a shared chunk and one of its own, and a dump of its own. */
static inline void daily(const char *dir, const char *name, bool incomplete)
{
	char own[64], rows[64];
	struct manifest m;

	manifest_init(&m);
	snprintf(own, sizeof(own), "uploads of %s\n", name);
	snprintf(rows, sizeof(rows), "INSERT rows of %s;\n", name);
	add_file(&m, "uploads/a.txt", NULL, "shared content, the same every day\n", own, NULL);
	add_file(&m, "db/x.sql", NULL, rows, NULL);
	if (incomplete)
		manifest_add_reason(&m, "database y: connection refused");
	write_snap(dir, name, &m);
}

static inline struct store_hash hash_of(const char *text)
{
	struct store_hash h;

	store_hash_data(text, strlen(text), &h);
	return h;
}

/* Is the chunk of content @text in the store? */
static inline bool stored(const char *dir, const char *text)
{
	struct store_hash h = hash_of(text);

	return chunk_exists(dir, &h);
}

static inline void set_mtime_ago(const char *path, int seconds)
{
	struct timeval tv[2];

	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	utimes(path, tv);
}

/* Does the report @out hold @needle? If not, show the report as TAP comments. */
static inline bool has(const char *out, const char *needle)
{
	if (out && strstr(out, needle))
		return true;
	printf("# looked for: %s\n# in the report:\n", needle);
	for (const char *p = out ? out : ""; *p;) {
		size_t n = strcspn(p, "\n");

		printf("#   %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	return false;
}

/* Run prune; the report in *report (free it). */
static inline int prune(const char *dir, struct prune_opts o, struct prune_stats *st, char **report)
{
	size_t len;
	FILE *f = open_memstream(report, &len);
	int r;

	o.out = f;
	r = prune_run(dir, &o, st, err, sizeof(err));
	fclose(f);
	return r;
}

static inline int check(const char *dir, bool read_data, struct check_stats *st, char **report)
{
	struct check_opts o = {.read_data = read_data};
	size_t len;
	int r;

	o.out = open_memstream(report, &len);
	r = check_run(dir, &o, st, err, sizeof(err));
	fclose(o.out);
	return r;
}

#endif
