/*
 * check.c - `statefs check`'s work (check.h): manifests, chunks, dictionaries, unused files.
 *
 * What a newcomer must know: chunks are checked in one pass over the manifests, each chunk the
 * first time a manifest names it; its verdict is kept in the refs set (0 = good, else the index
 * + 1 of its record in the list of bad chunks), so every later snapshot and path that names a
 * bad chunk is added to that chunk's record, and the report can say what each damage costs.
 */
#include "snapshot/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/lock.h"
#include "snapshot/manifest.h"
#include "snapshot/refs.h"
#include "snapshot/store.h"

#define REFS_KEPT 8 /* snapshot/path pairs remembered per bad chunk; the rest are counted */

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct need {
	size_t snap; /* index in the list of snapshot names */
	char *path;
};

struct bad {
	struct store_hash h;
	bool missing; /* else damaged */
	char *why;    /* "is missing", "is damaged: content hash mismatch", ... */
	struct need needs[REFS_KEPT];
	size_t nneeds;
	uint64_t total; /* how many (snapshot, path) pairs name it */
};

struct ctx {
	const struct check_opts *o;
	struct check_stats *st;
	int store_fd;
	struct store *store;	      /* read_data only */
	struct refs *named;	      /* every chunk seen, value = 0 or bad index + 1 */
	struct refs_ids dicts;	      /* ids of the dictionaries present (and sound) */
	struct refs_ids dicts_broken; /* ids of damaged dictionaries (read_data) */
	struct bad *bad;
	size_t nbad, badcap;
	char **names; /* the snapshots */
	size_t nnames;
};

/* @s, with control bytes, DEL and backslashes written \ooo as in manifests. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			fprintf(f, "\\%03o", c);
		else
			fputc(c, f);
	}
}

/* Record a bad chunk; its index + 1 goes into the refs set. */
static int bad_add(struct ctx *c, const struct store_hash *h, bool missing, const char *why)
{
	struct bad *b;

	if (c->nbad == c->badcap) {
		size_t ncap = c->badcap ? 2 * c->badcap : 16;
		struct bad *v = reallocarray(c->bad, ncap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->bad = v;
		c->badcap = ncap;
	}
	if (c->nbad >= REFS_VAL_MAX)
		return -ENOMEM;
	b = &c->bad[c->nbad];
	memset(b, 0, sizeof(*b));
	b->h = *h;
	b->missing = missing;
	b->why = strdup(why);
	if (!b->why)
		return -ENOMEM;
	c->nbad++;
	if (missing)
		c->st->missing++;
	else
		c->st->damaged++;
	return refs_set(c->named, h, (uint32_t)c->nbad);
}

static int bad_need(struct bad *b, size_t snap, const char *path)
{
	b->total++;
	if (b->nneeds == REFS_KEPT)
		return 0;
	b->needs[b->nneeds].path = strdup(path);
	if (!b->needs[b->nneeds].path)
		return -ENOMEM;
	b->needs[b->nneeds++].snap = snap;
	return 0;
}

/*
 * The verdict on chunk @ch: 0 if sound, 1 with *missing and @why if not, or -ENOMEM.
 */
static int verdict(struct ctx *c, const struct manifest_chunk *ch, bool *missing, char *why,
		   size_t whylen)
{
	const struct store_hash *h = &ch->hash;
	char name[40], store_msg[512];
	struct store_header hd;
	size_t plen;
	void *plain;
	int ret;

	*missing = false;
	ret = store_chunk_header(c->store, h, &hd);
	if (ret == -ENOENT) {
		*missing = true;
		msg(why, whylen, "is missing");
		return 1;
	}
	if (ret) {
		msg(why, whylen, "is damaged (%s)",
		    ret == -EIO	      ? "not a zstd frame"
		    : ret == -ENODATA ? "its pack is cut short"
				      : strerror(-ret));
		return 1;
	}
	if (hd.size != ch->len) {
		if (hd.size == UINT64_MAX)
			msg(why, whylen, "is damaged (its frame does not record its size)");
		else
			msg(why, whylen, "is damaged (holds %llu bytes, the manifest says %llu)",
			    (unsigned long long)hd.size, (unsigned long long)ch->len);
		return 1;
	}
	if (ch->zlen && hd.zlen != ch->zlen) {
		msg(why, whylen, "is damaged (a frame of %llu bytes, the manifest says %llu)",
		    (unsigned long long)hd.zlen, (unsigned long long)ch->zlen);
		return 1;
	}
	if (hd.dict_id && refs_ids_has(&c->dicts_broken, hd.dict_id)) {
		msg(why, whylen, "needs zstd dictionary id %u, which is damaged", hd.dict_id);
		return 1;
	}
	if (hd.dict_id && !refs_ids_has(&c->dicts, hd.dict_id)) {
		*missing = true;
		msg(why, whylen, "needs zstd dictionary id %u, which is not in dicts/", hd.dict_id);
		return 1;
	}
	if (!c->o->read_data)
		return 0;
	ret = store_get(c->store, h, &plain, &plen, store_msg, sizeof(store_msg));
	if (ret == -ENOMEM)
		return -ENOMEM;
	if (ret == -ENOENT) {
		*missing = true; /* removed since the header was read */
		msg(why, whylen, "is missing");
		return 1;
	}
	if (ret) {
		/* "store: chunk ab12... is damaged (...)" -> "is damaged (...)" */
		const char *rest = store_msg;
		size_t n;

		store_chunk_name(h, name, sizeof(name));
		n = strlen("store: ");
		if (!strncmp(rest, "store: ", n) && !strncmp(rest + n, name, strlen(name)))
			rest += n + strlen(name) + 1;
		msg(why, whylen, "%s", rest);
		return 1;
	}
	free(plain);
	c->st->bytes_read += plen;
	return 0;
}

static void progress(struct ctx *c, const char *snap, bool done)
{
	char n[32];

	if (!c->o->progress)
		return;
	if (done)
		fprintf(stderr, "\r\033[K");
	else
		fprintf(stderr, "\rcheck: %s: %s chunks", snap, refs_thousands(c->st->chunks, n));
	fflush(stderr);
}

static int check_manifest(struct ctx *c, size_t snap, const struct manifest *m)
{
	char why[600];
	uint32_t val;
	bool missing;
	int ret;

	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];

		for (size_t k = 0; k < e->nchunks; k++) {
			const struct manifest_chunk *ch = &e->chunks[k];

			ret = refs_add(c->named, &ch->hash);
			if (ret < 0)
				return ret;
			if (ret == 0) {
				c->st->chunks++;
				if (c->st->chunks % 1024 == 0)
					progress(c, c->names[snap], false);
				ret = verdict(c, ch, &missing, why, sizeof(why));
				if (ret < 0)
					return ret;
				if (ret && (ret = bad_add(c, &ch->hash, missing, why)))
					return ret;
			}
			refs_get(c->named, &ch->hash, &val);
			if (val && (ret = bad_need(&c->bad[val - 1], snap, e->path)))
				return ret;
		}
	}
	return 0;
}

static void report(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->o->out)
		return;
	va_start(ap, fmt);
	vfprintf(c->o->out, fmt, ap);
	va_end(ap);
}

static int check_snapshots(struct ctx *c, const char *state_dir)
{
	char why[512];
	int ret;

	for (size_t i = 0; i < c->nnames; i++) {
		struct manifest m;

		manifest_init(&m);
		ret = manifest_read(state_dir, c->names[i], &m, why, sizeof(why));
		if (ret == -ENOMEM) {
			manifest_free(&m);
			return ret;
		}
		if (ret) {
			c->st->snapshots_unreadable++;
			report(c, "snapshot %s cannot be read: %s\n", c->names[i], why);
			manifest_free(&m);
			continue;
		}
		if (m.nreasons) {
			c->st->snapshots_incomplete++;
			report(c, "info: snapshot %s is incomplete: ", c->names[i]);
			if (c->o->out)
				put_escaped(c->o->out, m.reasons[0]);
			if (m.nreasons > 1)
				report(c, " (and %zu more reasons)", m.nreasons - 1);
			report(c, "\n");
		}
		progress(c, c->names[i], false);
		ret = check_manifest(c, i, &m);
		manifest_free(&m);
		if (ret)
			return ret;
	}
	progress(c, NULL, true);
	return 0;
}

/* Read and hash a whole dictionary file: does it match its name? */
static bool dict_sound(int store_fd, const char *name, const struct store_hash *h)
{
	char rel[96];
	unsigned char *buf = NULL;
	struct store_hash got;
	size_t len = 0, cap = 0;
	bool ok = false;
	FILE *f;
	int fd;

	snprintf(rel, sizeof(rel), "dicts/%s", name);
	fd = openat(store_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			unsigned char *p =
			    cap >= STORE_DICT_LIMIT ? NULL : realloc(buf, cap ? 2 * cap : 65536);
			if (!p)
				goto out;
			buf = p;
			cap = cap ? 2 * cap : 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	ok = !ferror(f) && !store_hash_data(buf, len, &got) && !memcmp(&got, h, sizeof(got));
out:
	fclose(f);
	free(buf);
	return ok;
}

static int scan_dict(void *arg, const struct refs_file *f)
{
	struct ctx *c = arg;
	unsigned id;

	if (f->kind != REFS_NAMED)
		return 0;
	c->st->dicts++;
	if (refs_dict_id(c->store_fd, f->name, &id) || !id) {
		c->st->dicts_damaged++;
		report(c, "dicts/%s is damaged (not a zstd dictionary)\n", f->name);
		return 0;
	}
	if (c->o->read_data && !dict_sound(c->store_fd, f->name, &f->hash)) {
		c->st->dicts_damaged++;
		report(c, "dicts/%s is damaged (its content does not hash to its name)\n", f->name);
		return refs_ids_add(&c->dicts_broken, id);
	}
	return refs_ids_add(&c->dicts, id);
}

static int scan_unused(void *arg, const struct store_hash *h, const struct store_loc *loc)
{
	struct ctx *c = arg;

	if (!refs_get(c->named, h, NULL)) {
		c->st->unused++;
		c->st->unused_bytes += loc->zlen;
	}
	return 0;
}

static void report_bad(struct ctx *c)
{
	char hex[STORE_HEX_LEN + 1];

	for (size_t i = 0; i < c->nbad; i++) {
		struct bad *b = &c->bad[i];

		store_hash_hex(&b->h, hex);
		report(c, "chunk %s %s\n", hex, b->why);
		for (size_t k = 0; k < b->nneeds && c->o->out; k++) {
			report(c, "  needed by %s ", c->names[b->needs[k].snap]);
			put_escaped(c->o->out, b->needs[k].path);
			report(c, "\n");
		}
		if (b->total > b->nneeds)
			report(c, "  ... and %llu more\n",
			       (unsigned long long)(b->total - b->nneeds));
	}
}

static void report_summary(struct ctx *c)
{
	const struct check_stats *st = c->st;
	char n1[32], n2[32], hex[STORE_HEX_LEN + 1];
	const char *sep = "";

	if (st->unused && !st->snapshots_unreadable)
		report(c,
		       "info: %s chunk%s (%s) named by no snapshot; "
		       "`statefs prune` removes them\n",
		       refs_thousands(st->unused, n1), st->unused == 1 ? "" : "s",
		       refs_size(st->unused_bytes, n2));
	else if (st->unused)
		report(c, "info: %s chunk%s (%s) named by no readable snapshot\n",
		       refs_thousands(st->unused, n1), st->unused == 1 ? "" : "s",
		       refs_size(st->unused_bytes, n2));
	report(c, "%s snapshot%s, %s chunk%s %s: ", refs_thousands(st->snapshots, n1),
	       st->snapshots == 1 ? "" : "s", refs_thousands(st->chunks, n2),
	       st->chunks == 1 ? "" : "s", c->o->read_data ? "read and re-hashed" : "checked");
	if (check_clean(st)) {
		report(c, "no errors\n");
		return;
	}
	if (st->snapshots_unreadable) {
		report(c, "%zu unreadable snapshot%s", st->snapshots_unreadable,
		       st->snapshots_unreadable == 1 ? "" : "s");
		sep = ", ";
	}
	if (st->dicts_damaged) {
		report(c, "%s%u damaged dictionar%s", sep, st->dicts_damaged,
		       st->dicts_damaged == 1 ? "y" : "ies");
		sep = ", ";
	}
	if (st->missing) {
		report(c, "%s%s missing", sep, refs_thousands(st->missing, n1));
		sep = ", ";
	}
	if (st->damaged)
		report(c, "%s%s damaged", sep, refs_thousands(st->damaged, n1));
	if (c->nbad && c->o->out) {
		store_hash_hex(&c->bad[0].h, hex);
		report(c, " (chunk %.16s...", hex);
		if (c->bad[0].nneeds) {
			report(c, " needed by %s ", c->names[c->bad[0].needs[0].snap]);
			put_escaped(c->o->out, c->bad[0].needs[0].path);
		}
		if (c->nbad > 1)
			report(c, "; and %zu more", c->nbad - 1);
		report(c, ")");
	}
	report(c, "\n");
}

bool check_clean(const struct check_stats *st)
{
	return !st->snapshots_unreadable && !st->missing && !st->damaged && !st->dicts_damaged;
}

int check_run(const char *state_dir, const struct check_opts *opts, struct check_stats *stp,
	      char *err, size_t errlen)
{
	struct check_stats local;
	struct check_stats *st = stp ? stp : &local;
	struct store_lock *lock = NULL;
	struct ctx c = {.o = opts, .st = st, .store_fd = -1};
	int ret;

	memset(st, 0, sizeof(*st));
	c.store_fd = refs_open_store(state_dir, err, errlen);
	if (c.store_fd < 0)
		return c.store_fd;
	ret = lock_take(state_dir, LOCK_WRITER, 0, &lock, err, errlen);
	if (ret == -EWOULDBLOCK && !opts->no_wait) {
		report(&c, "waiting: %s\n", err);
		if (opts->out)
			fflush(opts->out);
		ret = lock_take(state_dir, LOCK_WRITER, 1, &lock, err, errlen);
	}
	if (ret)
		goto out;
	{
		struct store_opts so = {.readonly = true};

		ret = store_open(state_dir, &so, &c.store, err, errlen);
		if (ret)
			goto out;
		/* Load the sound dictionaries now: a damaged one is reported below, by name. */
		if (opts->read_data)
			store_dict_load(c.store, NULL, 0);
	}
	ret = refs_new(&c.named);
	if (!ret)
		ret = refs_walk_dir(c.store_fd, "dicts", scan_dict, &c, err, errlen);
	if (!ret)
		ret = manifest_list(state_dir, &c.names, &c.nnames, err, errlen);
	if (ret)
		goto out;
	st->snapshots = c.nnames;
	ret = check_snapshots(&c, state_dir);
	if (!ret)
		ret = store_each(c.store, scan_unused, &c);
	if (ret)
		goto out;
	report_bad(&c);
	report_summary(&c);
out:
	if (ret == -ENOMEM)
		msg(err, errlen, "out of memory");
	progress(&c, NULL, true);
	for (size_t i = 0; i < c.nbad; i++) {
		for (size_t k = 0; k < c.bad[i].nneeds; k++)
			free(c.bad[i].needs[k].path);
		free(c.bad[i].why);
	}
	free(c.bad);
	manifest_names_free(c.names, c.nnames);
	refs_ids_free(&c.dicts);
	refs_ids_free(&c.dicts_broken);
	refs_free(c.named);
	store_close(c.store);
	lock_release(lock);
	close(c.store_fd);
	return ret;
}
