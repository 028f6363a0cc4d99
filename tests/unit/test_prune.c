/*
 * test_prune.c - prune on real stores in temp dirs, built with store_put and manifest_write: a
 * dry run changes nothing and says what a real run then does; the sweep removes exactly the
 * chunks no kept manifest names (packs with nothing live go whole, others are rewritten), stale
 * temp files and dictionaries no kept chunk needs; a pack barely dead is kept and reported; an
 * unreadable manifest stops the sweep (in test_check.c); prune waits for a snapshot holding the
 * store lock while check runs beside it, and check waits for a sweep.
 */
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zdict.h>

static void test_prune_daily(void)
{
	char *dir = new_state_dir(), *out = NULL, path[4096], name[16];
	struct store_opts so = {.threads = 1};
	struct prune_opts o = {.policy = {.keep_daily = 3}};
	struct prune_stats st;
	struct check_stats cs;
	struct store_hash orphan;

	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	for (int d = 20; d <= 28; d++) {
		snprintf(name, sizeof(name), "2026-02-%02d", d);
		daily(dir, name, false);
	}
	daily(dir, "2026-03-01", false);
	daily(dir, "2026-03-01_180000", true); /* the newest, incomplete */
	orphan = put("a chunk a killed snapshot left\n", NULL);
	store_flush(S, err, sizeof(err));
	store_close(S);
	S = NULL;
	/* 11 snapshots: 1 shared + 2 each; and the orphan */
	CHECK_INT(chunks_in(dir), 1 + 22 + 1);
	CHECK_INT(packs_in(dir), 12); /* a pack per snapshot, and the orphan's */
	snprintf(path, sizeof(path), "%s/store/packs/tmp.old.1.1", dir);
	CHECK_INT(sh("echo x > '%s'", path), 0);
	set_mtime_ago(path, 2 * 3600);
	CHECK_INT(sh("echo x > '%s/store/packs/tmp.new.1.2'", dir), 0);
	CHECK_INT(sh("echo x > '%s/store/snapshots/tmp.2026-01-01.9'", dir), 0);
	set_mtime_ago(path, 2 * 3600);
	snprintf(path, sizeof(path), "%s/store/snapshots/tmp.2026-01-01.9", dir);
	set_mtime_ago(path, 7200);

	/* Dry run: the full report, nothing changed. */
	o.dry_run = true;
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.snapshots, 11);
	CHECK_INT(st.snapshots_removed, 7);
	CHECK_INT(st.chunks, 24);
	CHECK_INT(st.chunks_removed, 7 * 2 + 1);
	CHECK_INT(st.tmp_removed, 2);
	CHECK_INT(st.packs_removed, 7);	  /* 6 days' packs, and the orphan's: nothing live */
	CHECK_INT(st.packs_rewritten, 1); /* the first day's: the shared chunk lives */
	CHECK_INT(st.chunks_kept_dead, 0);
	CHECK(st.swept);
	CHECK(has(out, "remove  2026-02-20\n"));
	CHECK(has(out, "keep    2026-02-27         daily\n"));
	CHECK(has(out, "keep    2026-03-01_180000  newest, incomplete\n"));
	CHECK(has(out, "dry run: would remove 7 snapshots (4 kept), 15 chunks (of 24), "
		       "2 temp files"));
	CHECK(has(out, "nothing was changed"));
	free(out);
	CHECK_INT(count("'%s/store/snapshots' -type f ! -name 'tmp.*'", dir), 11);
	CHECK_INT(chunks_in(dir), 24);
	CHECK_INT(packs_in(dir), 12);
	CHECK(exists("%s/store/packs/tmp.old.1.1", dir));

	/* The real run does what the dry run said. */
	o.dry_run = false;
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.snapshots_removed, 7);
	CHECK_INT(st.chunks_removed, 15);
	CHECK_INT(st.tmp_removed, 2);
	CHECK_INT(st.packs_removed, 7);
	CHECK_INT(st.packs_rewritten, 1);
	CHECK(has(out, "removed 7 snapshots (4 kept), 15 chunks (of 24), 2 temp files, "));
	CHECK(has(out, " bytes freed\n"
		       "packs: 7 removed whole, 1 rewritten without their unneeded chunks\n"));
	free(out);
	CHECK_INT(count("'%s/store/snapshots' -type f", dir), 4);
	CHECK(exists("%s/store/snapshots/2026-02-27", dir));
	CHECK(!exists("%s/store/snapshots/2026-02-26", dir));
	CHECK_INT(chunks_in(dir), 1 + 4 * 2);
	CHECK_INT(packs_in(dir), 4 + 1); /* the kept days', and the shared chunk's new one */
	CHECK_INT(count("'%s/store/packs' -name '*.pack'", dir), 5);
	CHECK(stored(dir, "shared content, the same every day\n"));
	CHECK(stored(dir, "uploads of 2026-02-27\n"));
	CHECK(!stored(dir, "uploads of 2026-02-26\n"));
	CHECK(!stored(dir, "INSERT rows of 2026-02-20;\n"));
	CHECK(!chunk_exists(dir, &orphan));
	CHECK(!exists("%s/store/packs/tmp.old.1.1", dir));
	CHECK(exists("%s/store/packs/tmp.new.1.2", dir));
	CHECK(!exists("%s/store/snapshots/tmp.2026-01-01.9", dir));

	/* What is left is whole, and a second run has nothing to do. */
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(check_clean(&cs));
	CHECK_INT(cs.snapshots, 4);
	CHECK_INT(cs.chunks, 9);
	CHECK_INT(cs.snapshots_incomplete, 1);
	CHECK(has(out, "4 snapshots, 9 chunks read and re-hashed: no errors\n"));
	free(out);
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.snapshots_removed + st.chunks_removed + st.tmp_removed, 0);
	free(out);

	/* No policy: every snapshot stays, and says so. */
	o.policy = (struct retention_policy){0};
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK(has(out, "no retention policy is set"));
	CHECK(has(out, "keep    2026-02-27         no policy\n"));
	CHECK_INT(st.snapshots_removed, 0);
	free(out);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/*
 * A pack less than PRUNE_MIN_DEAD percent dead is not rewritten: its dead chunk stays, is
 * reported, and check calls it unused; once enough of the pack is dead, it goes.
 */
static void test_prune_kept_dead(void)
{
	char *dir = new_state_dir(), *out = NULL, parts[20][256];
	struct store_opts so = {.threads = 1};
	struct prune_opts o = {.policy = {.keep_last = 1}};
	struct prune_stats st;
	struct check_stats cs;
	struct manifest m;
	struct manifest_entry *e;

	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	for (int i = 0; i < 20; i++) {
		int k = snprintf(parts[i], sizeof(parts[i]), "part %d:", i);

		for (; k < 250; k++) /* little to compress: each part is its own text */
			parts[i][k] = (char)('a' + (unsigned)(k * 7 + i * 13 + k * k * i) % 26);
		parts[i][250] = '\0';
	}
	/* Day 1: the big file and a tiny one, in one pack; day 2: the big file alone. */
	for (int d = 1; d <= 2; d++) {
		manifest_init(&m);
		if (manifest_add(&m, 'f', "uploads/big", 0600, 0, 0, 0, 0, NULL, &e))
			exit(1);
		for (int i = 0; i < 20; i++) {
			struct store_hash h = put(parts[i], NULL);

			manifest_add_chunk(e, &h, strlen(parts[i]));
		}
		if (d == 1)
			add_file(&m, "uploads/tiny", NULL, "tiny\n", NULL);
		write_snap(dir, d == 1 ? "2026-03-01" : "2026-03-02", &m);
	}
	store_close(S);
	S = NULL;
	CHECK_INT(packs_in(dir), 1); /* day 2 wrote nothing new */

	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.snapshots_removed, 1);
	CHECK_INT(st.chunks_removed, 0);
	CHECK_INT(st.chunks_kept_dead, 1);
	CHECK(st.bytes_kept_dead > 0);
	CHECK_INT(st.packs_rewritten + st.packs_removed, 0);
	CHECK(has(out, "1 unneeded chunk (") &&
	      has(out, ") stay in packs less than 10% unneeded; a later prune removes them\n"));
	free(out);
	CHECK(stored(dir, "tiny\n"));
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(check_clean(&cs));
	CHECK_INT(cs.unused, 1);
	free(out);

	/* Day 3 names half the big file: now half the pack is dead and it is rewritten. */
	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	manifest_init(&m);
	if (manifest_add(&m, 'f', "uploads/big", 0600, 0, 0, 0, 0, NULL, &e))
		exit(1);
	for (int i = 0; i < 10; i++) {
		struct store_hash h = put(parts[i], NULL);

		manifest_add_chunk(e, &h, strlen(parts[i]));
	}
	write_snap(dir, "2026-03-03", &m);
	store_close(S);
	S = NULL;
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.chunks_removed, 11);
	CHECK_INT(st.chunks_kept_dead, 0);
	CHECK_INT(st.packs_rewritten, 1);
	free(out);
	CHECK_INT(chunks_in(dir), 10);
	CHECK(!stored(dir, "tiny\n") && !stored(dir, parts[10]) && stored(dir, parts[9]));
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(check_clean(&cs));
	CHECK_INT(cs.unused, 0);
	free(out);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* A zstd dictionary trained on records that mention @word. */
static void *train_dict(const char *word, size_t *len)
{
	enum { NS = 400 };
	char *samples = malloc(NS * 200);
	size_t sizes[NS], off = 0, cap = 4096, n;
	void *dict = malloc(cap);

	for (int i = 0; i < NS; i++) {
		int k = snprintf(samples + off, 200, "{\"id\":%d,\"%s\":\"%s%d\",\"n\":%d}", i,
				 word, word, i * 7, i * 31);

		sizes[i] = (size_t)k;
		off += (size_t)k;
	}
	n = ZDICT_trainFromBuffer(dict, cap, samples, sizes, NS);
	free(samples);
	if (ZDICT_isError(n)) {
		free(dict);
		return NULL;
	}
	*len = n;
	return dict;
}

static void test_dicts(void)
{
	char *dir = new_state_dir(), *out = NULL, hex_a[STORE_HEX_LEN + 1],
	     hex_b[STORE_HEX_LEN + 1];
	struct store_opts so = {.threads = 1};
	struct prune_opts o = {.policy = {.keep_last = 1}};
	struct store_hash da, db;
	size_t la = 0, lb = 0;
	void *a = train_dict("author", &la), *b = train_dict("comment", &lb);
	struct prune_stats st;
	struct check_stats cs;
	struct manifest m;

	CHECK(a && b);
	if (!a || !b)
		goto out;
	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	CHECK_INT(store_dict_add(S, a, la, &da, err, sizeof(err)), 0);
	CHECK_INT(store_dict_add(S, b, lb, &db, err, sizeof(err)), 0);
	store_hash_hex(&da, hex_a);
	store_hash_hex(&db, hex_b);
	manifest_init(&m);
	add_file(&m, "db/wp.sql", &db, "{\"id\":1,\"comment\":\"comment1\",\"n\":5}", NULL);
	write_snap(dir, "2026-02-28", &m);
	manifest_init(&m);
	add_file(&m, "db/wp.sql", &da, "{\"id\":1,\"author\":\"author1\",\"n\":5}", NULL);
	write_snap(dir, "2026-03-01", &m);
	store_close(S);
	S = NULL;

	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK(check_clean(&cs));
	CHECK_INT(cs.dicts, 2);
	free(out);
	/* The older snapshot goes, and with it the only chunk that needed dictionary b. */
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_INT(st.dicts_removed, 1);
	CHECK(has(out, ", 1 dictionary, "));
	free(out);
	CHECK(exists("%s/store/dicts/%s", dir, hex_a));
	CHECK(!exists("%s/store/dicts/%s", dir, hex_b));
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(check_clean(&cs));
	free(out);

	/* A damaged dictionary: found by --read-data, with the chunk that needs it. */
	CHECK_INT(sh("printf 'XY' | dd of='%s/store/dicts/%s' bs=1 seek=40 conv=notrunc "
		     "status=none",
		     dir, hex_a),
		  0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK(check_clean(&cs));
	free(out);
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(!check_clean(&cs));
	CHECK_INT(cs.dicts_damaged, 1);
	CHECK_INT(cs.damaged, 1);
	CHECK(has(out, "is damaged (its content does not hash to its name)") &&
	      has(out, "which is damaged\n  needed by 2026-03-01 db/wp.sql\n"));
	free(out);

	/* A missing dictionary: found without --read-data, as a missing piece. */
	CHECK_INT(sh("rm '%s/store/dicts/%s'", dir, hex_a), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.missing, 1);
	CHECK(has(out, "which is not in dicts/\n  needed by 2026-03-01 db/wp.sql"));
	free(out);
out:
	free(a);
	free(b);
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* Is @path locked (flock) by someone else? */
static bool locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/* Hold STATE/store/store.lock with flock(1) for @seconds, @mode "-s" or "-x"; its pid. */
static pid_t hold_lock(const char *dir, const char *mode, const char *seconds)
{
	char path[4096];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/store/store.lock", dir);
	pid = fork();
	if (pid == 0) {
		execlp("flock", "flock", mode, path, "sleep", seconds, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !locked(path); i++)
		usleep(10000);
	return pid;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_waits_for_snapshot(void)
{
	char *dir = new_state_dir(), *out = NULL;
	struct store_opts so = {.threads = 1};
	struct prune_opts o = {.policy = {.keep_last = 1}};
	struct prune_stats st;
	struct check_stats cs;
	int status = -1;
	double t0;
	pid_t pid;

	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	daily(dir, "2026-03-01", false);
	daily(dir, "2026-03-02", false);
	store_close(S);
	S = NULL;

	/* A snapshot holds the store lock shared. */
	pid = hold_lock(dir, "-s", "2");
	CHECK(pid > 0);
	o.no_wait = true;
	CHECK_INT(prune(dir, o, &st, &out), -EWOULDBLOCK);
	CHECK_MSG(strstr(err, "a snapshot or restore is writing") != NULL, "err: %s", err);
	free(out);
	CHECK(exists("%s/store/snapshots/2026-03-01", dir));
	/* check shares the lock with a snapshot: it does not wait. */
	t0 = now();
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_MSG(now() - t0 < 1.0, "check ran beside the snapshot (%.2fs)", now() - t0);
	free(out);
	o.no_wait = false;
	t0 = now();
	CHECK_INT(prune(dir, o, &st, &out), 0);
	CHECK_MSG(now() - t0 > 1.0, "prune waited for the snapshot (%.2fs)", now() - t0);
	CHECK(has(out, "waiting: a snapshot or restore is writing to the store\n"));
	CHECK(!strncmp(out, "waiting: ", 9));
	free(out);
	CHECK_INT(st.snapshots_removed, 1);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* check waits for a sweep (the lock held exclusive). */
	pid = hold_lock(dir, "-x", "2");
	CHECK(pid > 0);
	{
		struct check_opts co = {.no_wait = true};

		CHECK_INT(check_run(dir, &co, &cs, err, sizeof(err)), -EWOULDBLOCK);
	}
	t0 = now();
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_MSG(now() - t0 > 1.0, "check waited for the sweep (%.2fs)", now() - t0);
	CHECK(check_clean(&cs));
	free(out);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	sh("rm -rf '%s'", dir);
	free(dir);
}

static void test_no_store(void)
{
	struct prune_opts po = {0};
	struct check_opts co = {0};

	CHECK_INT(prune_run("/nonexistent/statefs", &po, NULL, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open the store /nonexistent/statefs/store") != NULL);
	CHECK_INT(check_run("/nonexistent/statefs", &co, NULL, err, sizeof(err)), -ENOENT);
	CHECK(!exists("/nonexistent/statefs"));
}

int main(void)
{
	test_no_store();
	test_prune_daily();
	test_prune_kept_dead();
	test_dicts();
	test_waits_for_snapshot();
	UNIT_DONE();
}
