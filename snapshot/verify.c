/*
 * verify.c - verify one snapshot (verify.h): which databases it holds and which the config
 * has, each dump through verify_database, then every other file's chunks read back.
 *
 * What a newcomer must know: a database configured but missing from the snapshot (a failed
 * dump made the snapshot incomplete) fails the verify: the snapshot cannot restore it. A dump
 * of a database the config no longer has fails too: there is no server to load it into.
 */
#include "snapshot/verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot/lock.h"
#include "snapshot/store.h"

#define FILE_PROBLEMS_MAX 5

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void verify_result_free(struct verify_result *r)
{
	for (size_t i = 0; i < r->nitems; i++)
		free(r->items[i].name);
	free(r->items);
	r->items = NULL;
	r->nitems = 0;
}

static struct verify_item *add_item(struct verify_result *r, const char *fmt, const char *arg)
{
	struct verify_item *it, *ni;

	ni = realloc(r->items, (r->nitems + 1) * sizeof(*ni));
	if (!ni)
		return NULL;
	r->items = ni;
	it = &r->items[r->nitems];
	memset(it, 0, sizeof(*it));
	if (asprintf(&it->name, fmt, arg) < 0)
		return NULL;
	it->ok = true;
	r->nitems++;
	return it;
}

static void done(const struct verify_opts *o, const struct verify_item *it)
{
	if (o && o->done)
		o->done(o->arg, it);
}

/* "db/NAME.sql.zst" -> NAME in @out; false for any other path. */
static bool dump_path(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);

	if (strncmp(path, "db/", 3) || n <= 3 + 8 || strcmp(path + n - 8, ".sql.zst") ||
	    memchr(path + 3, '/', n - 3 - 8) || n - 11 >= outlen)
		return false;
	memcpy(out, path + 3, n - 11);
	out[n - 11] = '\0';
	return true;
}

/* Every file but the dumps: read each chunk back (store_get checks it against its name). */
static int verify_files(struct store *s, struct manifest *m, const struct verify_opts *o,
			struct verify_item *it)
{
	char name[300], err[512], rel[80];
	unsigned problems = 0;
	double t0 = now_s();
	void *data;
	size_t len;
	int rc;

	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];
		bool bad = false;

		if (e->type != 'f' || dump_path(e->path, name, sizeof(name)))
			continue;
		if (o && o->stop && *o->stop) {
			snprintf(it->reason, sizeof(it->reason), "interrupted");
			it->ok = false;
			break;
		}
		it->files++;
		for (size_t k = 0; k < e->nchunks && !bad; k++) {
			err[0] = '\0';
			rc = store_get(s, &e->chunks[k].hash, &data, &len, err, sizeof(err));
			if (rc == -ENOMEM)
				return rc;
			if (!rc) {
				free(data);
				it->bytes += len;
				continue;
			}
			bad = true;
			it->ok = false;
			if (problems++ >= FILE_PROBLEMS_MAX)
				continue;
			store_chunk_name(&e->chunks[k].hash, rel, sizeof(rel));
			size_t n = strlen(it->reason);

			if (rc != -ENOENT && err[0] && strstr(err, rel)) /* it names the chunk */
				snprintf(it->reason + n, sizeof(it->reason) - n, "%s%s: %s",
					 n ? "; " : "", e->path, err);
			else
				snprintf(it->reason + n, sizeof(it->reason) - n,
					 "%s%s: %s: %s", n ? "; " : "", e->path, rel,
					 rc == -ENOENT ? "missing"
					 : err[0]      ? err
						       : strerror(-rc));
		}
	}
	if (problems > FILE_PROBLEMS_MAX) {
		size_t n = strlen(it->reason);

		snprintf(it->reason + n, sizeof(it->reason) - n, "; and %u more damaged file(s)",
			 problems - FILE_PROBLEMS_MAX);
	}
	it->seconds = now_s() - t0;
	return 0;
}

static const struct mtab_database *find_db(const struct mtab *tab, const char *name)
{
	for (size_t i = 0; i < tab->ndbs; i++)
		if (!strcmp(tab->dbs[i].name, name))
			return &tab->dbs[i];
	return NULL;
}

/* The snapshot's reason lines that name database @db, or all of them. */
static void reasons_for(const struct manifest *m, const char *db, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t pass = 0; pass < 2 && !out[0]; pass++)
		for (size_t i = 0; i < m->nreasons && o + 3 < len; i++) {
			if (pass == 0 && !strstr(m->reasons[i], db))
				continue;
			o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "; " : "",
					      m->reasons[i]);
			if (o >= len)
				o = len - 1;
		}
}

static int run(const struct mtab *tab, struct manifest *m, struct store *s,
	       const struct verify_opts *o, struct verify_result *r)
{
	struct verify_item *it;
	char name[300], why[VERIFY_REASON_MAX - 64];
	const struct mtab_database *db;
	bool *seen = calloc(tab->ndbs ? tab->ndbs : 1, sizeof(*seen));
	int rc = 0;

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; !rc && i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];

		if (e->type != 'f' || !dump_path(e->path, name, sizeof(name)))
			continue;
		it = add_item(r, "db/%s", name);
		if (!it) {
			rc = -ENOMEM;
			break;
		}
		db = find_db(tab, name);
		if (!db) {
			it->ok = false;
			snprintf(it->reason, sizeof(it->reason),
				 "no [database \"%s\"] in the config:"
				 " no server to load it into",
				 name);
		} else {
			seen[db - tab->dbs] = true;
			rc = verify_database(s, e, db, o, it);
		}
		done(o, it);
	}
	for (size_t i = 0; !rc && i < tab->ndbs; i++) {
		if (seen[i])
			continue;
		it = add_item(r, "db/%s", tab->dbs[i].name);
		if (!it) {
			rc = -ENOMEM;
			break;
		}
		it->ok = false;
		reasons_for(m, tab->dbs[i].name, why, sizeof(why));
		snprintf(it->reason, sizeof(it->reason), "not in this snapshot%s%s%s",
			 why[0] ? " (" : "", why, why[0] ? ")" : "");
		done(o, it);
	}
	if (!rc && !(o && o->skip_files)) {
		it = add_item(r, "%s", "files");
		if (!it)
			rc = -ENOMEM;
		else if (!(rc = verify_files(s, m, o, it)))
			done(o, it);
	}
	free(seen);
	return rc;
}

int verify_snapshot(const struct mtab *tab, const char *name, const struct verify_opts *o,
		    struct verify_result *r, char *err, size_t errlen)
{
	struct store_opts so = {.readonly = true};
	struct store_lock *lock = NULL;
	struct store *s = NULL;
	struct manifest m;
	char **names = NULL, e2[512];
	size_t n = 0;
	double t0 = now_s();
	int rc;

	memset(r, 0, sizeof(*r));
	manifest_init(&m);
	rc = lock_take(tab->state_dir, LOCK_WRITER, 1, &lock, err, errlen);
	if (rc)
		goto out;
	if (!name) {
		rc = manifest_list(tab->state_dir, &names, &n, err, errlen);
		if (rc == -ENOENT || (!rc && !n)) {
			rc = -ENOENT;
			msg(err, errlen, "no snapshot in %s/store/snapshots yet", tab->state_dir);
		}
		if (rc)
			goto out;
		name = names[n - 1];
	} else if (!manifest_name_valid(name)) {
		rc = -EINVAL;
		msg(err, errlen, "%s: not a snapshot name (YYYY-MM-DD or YYYY-MM-DD_HHMMSS)", name);
		goto out;
	}
	snprintf(r->snapshot, sizeof(r->snapshot), "%s", name);
	rc = manifest_read(tab->state_dir, name, &m, e2, sizeof(e2));
	if (rc) {
		msg(err, errlen, "snapshot %s: %s", name, rc == -ENOENT ? "no such snapshot" : e2);
		goto out;
	}
	rc = store_open(tab->state_dir, &so, &s, err, errlen);
	if (rc)
		goto out;
	rc = run(tab, &m, s, o, r);
	if (rc) {
		msg(err, errlen, "snapshot %s: %s", name, strerror(-rc));
		goto out;
	}
	r->ok = true;
	for (size_t i = 0; i < r->nitems; i++)
		r->ok = r->ok && r->items[i].ok;
out:
	r->seconds = now_s() - t0;
	store_close(s);
	manifest_free(&m);
	manifest_names_free(names, n);
	lock_release(lock);
	return rc;
}
