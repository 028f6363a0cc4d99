/*
 * test_status_gather.c - status_gather on a real store in a temp dir: two snapshots (the newest
 * incomplete, with its reason and figures), the chunks the pack indexes name, the packs' sizes
 * and the dedup ratio, the commits of today in a real bare repository (made with the git CLI),
 * the event files; the cache (a packs/ directory whose mtime did not move is not read again,
 * one whose mtime moved is); and the text, JSON and Prometheus outputs carrying those facts.
 */
#include "snapshot/events.h"
#include "snapshot/manifest.h"
#include "snapshot/status.h"
#include "snapshot/store.h"
#include "tests/unit/packs.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char err[1024];
static char dir[] = "/tmp/statefs-gather.XXXXXX";

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

static struct store_hash put(struct store *s, const char *text, uint64_t *len)
{
	struct store_hash h;

	*len = strlen(text);
	store_put(s, text, strlen(text), NULL, &h, err, sizeof(err));
	return h;
}

/* The size of chunk @h's frame in its pack. */
static int64_t chunk_size(const struct store_hash *h)
{
	struct store_loc loc;

	return chunk_loc(dir, h, &loc) ? -1 : (int64_t)loc.zlen;
}

/* The mtime of packs/ in the past, always the same: the cache may trust it. */
static void age_chunk_dirs(void)
{
	struct timespec ts[2] = {{.tv_sec = 1700000000}, {.tv_sec = 1700000000}};
	char path[512];

	snprintf(path, sizeof(path), "%s/store/packs", dir);
	utimensat(AT_FDCWD, path, ts, 0);
}

/* A pack of 2 bytes whose index names one chunk, as packs/0000000000000000.{pack,idx}. */
static void add_pack(void)
{
	char path[600], line[128];
	int fd;

	snprintf(path, sizeof(path), "%s/store/packs/0000000000000000.pack", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "zz", 2) == 2);
	close(fd);
	snprintf(path, sizeof(path), "%s/store/packs/0000000000000000.idx", dir);
	snprintf(line, sizeof(line), "%s%064d 0 2\n", STORE_INDEX_HEADER, 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	close(fd);
}

static void commits(void)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "set -e; G='git --git-dir=%s/config.git'; git init -q --bare %s/config.git; "
		 "t=$($G mktree </dev/null); "
		 "a=$(GIT_AUTHOR_DATE=@$(($(date +%%s) - 3*86400)) "
		 "GIT_COMMITTER_DATE=@$(($(date +%%s) - 3*86400)) $G commit-tree $t -m old); "
		 "b=$($G commit-tree $t -p $a -m today1); c=$($G commit-tree $t -p $b -m today2); "
		 "$G update-ref refs/heads/main $c; $G symbolic-ref HEAD refs/heads/main",
		 dir, dir);
	if (sh(cmd))
		fprintf(stderr, "cannot make the repository\n");
}

int main(void)
{
	struct mtab tab = {.path = "/nonexistent/statefs.conf"};
	struct status_cache *cache = status_cache_new();
	struct status_opts so = {.skip_mount = true, .cache = cache};
	struct manifest m1, m2;
	struct manifest_entry *e;
	struct store_hash h1, h2, h3;
	uint64_t l1, l2, l3;
	struct store *s = NULL;
	struct status st, st2;
	char *text, *buf = NULL, path[600];
	size_t len, blen = 0;
	FILE *f;

	if (!mkdtemp(dir) || !cache)
		return 1;
	tab.state_dir = dir;

	/* nothing yet: no store, no repository, no events */
	CHECK_INT(status_gather(&tab, &so, &st, err, sizeof(err)), 0);
	CHECK_INT(st.snapshots, 0);
	CHECK(!st.has_last);
	CHECK_INT(st.store_bytes, 0);
	CHECK_INT(st.commits_today, 0);
	CHECK(!st.has_restore && !st.has_error);
	CHECK_INT(st.nproblems, 0);
	CHECK(st.mounted);

	CHECK_INT(store_open(dir, NULL, &s, err, sizeof(err)), 0);
	h1 = put(s, "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1),(2),(3);\n", &l1);
	h2 = put(s, "an upload, as it was on the first day", &l2);
	h3 = put(s, "INSERT INTO t VALUES (4);\n", &l3);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);

	manifest_init(&m1);
	m1.time = 1759284000;
	manifest_set_info(&m1, "duration_ms", 1500);
	manifest_add(&m1, 'f', "db/a.sql.zst", 0600, 0, 0, 0, 0, NULL, &e);
	manifest_add_chunk(e, &h1, l1);
	manifest_add(&m1, 'f', "uploads/x/a.jpg", 0644, 0, 0, 0, 0, NULL, &e);
	manifest_add_chunk(e, &h2, l2);
	CHECK_INT(manifest_write(dir, "2025-10-01", &m1, err, sizeof(err)), 0);

	manifest_init(&m2);
	m2.time = 1759370400;
	manifest_add_reason(&m2, "database b: connection refused");
	manifest_add_reason(&m2, "uploads/y: permission denied");
	manifest_set_info(&m2, "bytes_new", 77);
	manifest_set_info(&m2, "databases", 2);
	manifest_set_info(&m2, "databases_failed", 1);
	manifest_set_info(&m2, "duration_ms", 2500);
	manifest_set_info(&m2, "files", 1);
	manifest_add(&m2, 'd', "db", 0755, 0, 0, 0, 0, NULL, NULL);
	manifest_add(&m2, 'f', "db/a.sql.zst", 0600, 0, 0, 0, 0, NULL, &e);
	manifest_add_chunk(e, &h1, l1);
	manifest_add_chunk(e, &h3, l3);
	manifest_add(&m2, 'f', "uploads/x/a.jpg", 0644, 0, 0, 0, 0, NULL, &e);
	manifest_add_chunk(e, &h2, l2);
	CHECK_INT(manifest_write(dir, "2025-10-02", &m2, err, sizeof(err)), 0);
	manifest_free(&m1);
	manifest_free(&m2);
	store_close(s);
	commits();
	events_record(dir, "restore", EVENT_OK, 0.8, "db/a", err, sizeof(err), "restored");
	events_record(dir, "snapshot", EVENT_FAILED, 0.1, NULL, err, sizeof(err), "disk full");

	CHECK_INT(status_gather(&tab, &so, &st, err, sizeof(err)), 0);
	CHECK_INT(st.snapshots, 2);
	CHECK(st.has_last);
	CHECK_STR(st.last_name, "2025-10-02");
	CHECK_INT(st.last_time, 1759370400);
	CHECK(!st.last_complete);
	CHECK_STR(st.last_reasons, "database b: connection refused; uploads/y: permission denied");
	CHECK_INT(st.last_duration_ms, 2500);
	CHECK_INT(st.last_databases, 2);
	CHECK_INT(st.last_databases_failed, 1);
	CHECK_INT(st.last_files, 1);
	CHECK_INT(st.last_bytes_new, 77);
	CHECK_INT(st.last_logical, l1 + l3 + l2);
	CHECK_INT(st.logical_bytes, (l1 + l2) + (l1 + l3 + l2));
	CHECK_INT(st.chunks, 3);
	CHECK_INT(st.chunk_bytes, chunk_size(&h1) + chunk_size(&h2) + chunk_size(&h3));
	CHECK(chunk_size(&h1) > 0 && chunk_size(&h2) > 0 && chunk_size(&h3) > 0);
	CHECK(st.store_bytes >= st.chunk_bytes);
	CHECK(st.dedup_ratio > 0 &&
	      st.dedup_ratio == (double)st.logical_bytes / (double)st.chunk_bytes);
	CHECK_INT(st.commits_today, 2);
	CHECK(st.last_commit_time > 0 && llabs(st.last_commit_time - (int64_t)time(NULL)) < 60);
	CHECK(st.has_restore && st.restore.result == EVENT_OK);
	CHECK_STR(st.restore.what, "db/a");
	CHECK(st.has_snapshot_run && st.snapshot_run.result == EVENT_FAILED);
	CHECK(st.has_error);
	CHECK_STR(st.error.message, "disk full");
	CHECK(!st.has_verify);
	CHECK_INT(st.nproblems, 0);

	/* the cache: an old packs/ is trusted, a moved mtime is read again */
	age_chunk_dirs();
	CHECK_INT(status_gather(&tab, &so, &st2, err, sizeof(err)), 0); /* fills the cache */
	CHECK_INT(st2.chunks, 3);
	add_pack();
	age_chunk_dirs(); /* the same old mtime: the cache still says 3 */
	CHECK_INT(status_gather(&tab, &so, &st2, err, sizeof(err)), 0);
	CHECK_INT(st2.chunks, 3);
	snprintf(path, sizeof(path), "%s/store/packs/0000000000000000.idx", dir);
	unlink(path);
	add_pack(); /* now the mtime moves */
	CHECK_INT(status_gather(&tab, &so, &st2, err, sizeof(err)), 0);
	CHECK_INT(st2.chunks, 4);
	CHECK_INT(st2.chunk_bytes, st.chunk_bytes + 2);
	CHECK_INT(st2.logical_bytes, st.logical_bytes); /* manifests from the cache */
	CHECK_STR(st2.last_name, "2025-10-02");
	CHECK_INT(st2.last_duration_ms, 2500); /* the newest's header is read every time */

	/* the outputs */
	CHECK_INT(status_format_json(&st, &text, &len), 0);
	CHECK(strstr(text, "\"snapshots\": 2,"));
	CHECK(strstr(text, "\"complete\": false,"));
	CHECK(strstr(text, "\"reasons\": \"database b: connection refused; uploads/y: "
			   "permission denied\""));
	CHECK(strstr(text, "\"commits_today\": 2,"));
	CHECK(strstr(text, "\"last_verify\": null,"));
	CHECK(strstr(text, "\"result\": \"failed\""));
	free(text);
	CHECK_INT(status_format_prom(&st, true, &text, &len), 0);
	CHECK(strstr(text, "\nstatefs_snapshots 2\n"));
	CHECK(strstr(text, "\nstatefs_last_snapshot_complete 0\n"));
	CHECK(strstr(text, "\nstatefs_last_snapshot_timestamp_seconds 1759370400\n"));
	CHECK(strstr(text, "\nstatefs_last_snapshot_duration_seconds 2.5\n"));
	CHECK(strstr(text, "\nstatefs_commits_today 2\n"));
	CHECK(strstr(text, "\nstatefs_last_restore_success 1\n"));
	CHECK(strstr(text, "\nstatefs_last_snapshot_run_success 0\n"));
	CHECK(strstr(text, "# TYPE statefs_dedup_ratio gauge\n"));
	CHECK(!strstr(text, "statefs_last_verify")); /* unknown: left out */
	CHECK(!strncmp(text, "# HELP statefs_up ", 18) && strstr(text, "\nstatefs_up 1\n"));
	free(text);
	f = open_memstream(&buf, &blen);
	CHECK_INT(status_write_text(&st, f), 0);
	fclose(f);
	CHECK(strstr(buf, "INCOMPLETE"));
	CHECK(strstr(buf, "what failed: database b: connection refused"));
	CHECK(strstr(buf, "last restore:    ok,"));
	CHECK(strstr(buf, "last verify:     never\n"));
	CHECK(strstr(buf, "disk full"));
	free(buf);

	/* a damaged event file is named as a problem, the rest still gathered */
	snprintf(path, sizeof(path), "%s/status/last-verify", dir);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		CHECK(fd >= 0 && write(fd, "garbage\n", 8) == 8);
		close(fd);
	}
	CHECK_INT(status_gather(&tab, &so, &st2, err, sizeof(err)), 0);
	CHECK(!st2.has_verify);
	CHECK_INT(st2.nproblems, 1);
	CHECK(strstr(st2.problems[0], "last-verify"));
	CHECK_INT(st2.snapshots, 2);

	status_cache_free(cache);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	sh(path);
	UNIT_DONE();
}
