/*
 * test_check.c - check on a real store in a temp dir: a clean store with an unused chunk (info,
 * not an error); a flipped byte past the frame header found by --read-data only, with every
 * snapshot and path that needs the chunk; a chunk its pack index forgot (missing) and a pack
 * cut off inside a frame header found without --read-data; an index whose ZLEN is not the
 * manifest's; a pack cut short past a frame's header; an unreadable manifest, which check
 * reports and prune keeps, sweeping nothing; a damaged pack index, whose chunks are all
 * missing and whose pack prune leaves alone. And the refs set the sweep and check rest on.
 */
#include "tests/unit/store_fixture.h"
#include "tests/unit/unit.h"

#include <unistd.h>

static void test_refs(void)
{
	struct refs *r = NULL;
	struct store_hash h = {{0}};
	uint32_t val = 99;
	char buf[32];

	CHECK_INT(refs_new(&r), 0);
	CHECK(!refs_get(r, &h, NULL));
	CHECK_INT(refs_add(r, &h), 0); /* the all-zero hash is a member like any other */
	CHECK_INT(refs_add(r, &h), 1);
	CHECK(refs_get(r, &h, &val) && val == 0);
	CHECK_INT(refs_set(r, &h, 7), 0);
	CHECK(refs_get(r, &h, &val) && val == 7);
	for (uint32_t i = 1; i <= 100000; i++) {
		struct store_hash k;

		store_hash_data(&i, sizeof(i), &k);
		if (refs_add(r, &k) != 0)
			break;
	}
	CHECK_INT(refs_count(r), 100001);
	CHECK(refs_get(r, &h, &val) && val == 7);
	{
		uint32_t i = 4242;
		struct store_hash k, other = hash_of("not added");

		store_hash_data(&i, sizeof(i), &k);
		CHECK(refs_get(r, &k, NULL));
		CHECK(!refs_get(r, &other, NULL));
		CHECK_INT(refs_set(r, &other, 1), -ENOENT);
	}
	refs_free(r);
	CHECK_STR(refs_thousands(0, buf), "0");
	CHECK_STR(refs_thousands(999, buf), "999");
	CHECK_STR(refs_thousands(1234, buf), "1,234");
	CHECK_STR(refs_thousands(1234567, buf), "1,234,567");
}

static void test_check_damage(void)
{
	char *dir = new_state_dir(), *out = NULL, path[4096], name[16];
	struct store_loc loc;
	struct store_opts so = {.threads = 1};
	struct store_hash shared = hash_of("shared content, the same every day\n"),
			  own = hash_of("uploads of 2026-03-02\n"),
			  rows = hash_of("INSERT rows of 2026-03-01;\n"), orphan, tail;
	struct prune_opts po = {.policy = {.keep_last = 1}};
	struct prune_stats ps;
	struct check_stats cs;

	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	for (int d = 1; d <= 3; d++) {
		snprintf(name, sizeof(name), "2026-03-%02d", d);
		daily(dir, name, false);
	}
	orphan = put("unused\n", NULL);
	store_flush(S, err, sizeof(err));
	store_close(S);
	S = NULL;

	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK(check_clean(&cs));
	CHECK_INT(cs.chunks, 7);
	CHECK_INT(cs.unused, 1);
	CHECK(has(out, "info: 1 chunk (") &&
	      has(out, "3 snapshots, 7 chunks checked: no errors\n"));
	free(out);

	/* A flipped byte past the frame header: only --read-data sees it. */
	CHECK_INT(chunk_flip(dir, &shared, -6, 0xff), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK(check_clean(&cs));
	free(out);
	CHECK_INT(check(dir, true, &cs, &out), 0);
	CHECK(!check_clean(&cs));
	CHECK_INT(cs.damaged, 1);
	CHECK_INT(cs.missing, 0);
	CHECK(has(out, " is damaged") && has(out, "  needed by 2026-03-01 uploads/a.txt\n"
						  "  needed by 2026-03-02 uploads/a.txt\n"
						  "  needed by 2026-03-03 uploads/a.txt\n"));
	CHECK(has(out, "3 snapshots, 7 chunks read and re-hashed: 1 damaged (chunk ") &&
	      has(out, "... needed by 2026-03-01 uploads/a.txt)\n"));
	free(out);

	/* A missing chunk (its index line gone): found without --read-data. */
	CHECK_INT(chunk_forget(dir, &own), 0);
	CHECK(!chunk_exists(dir, &own));
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.missing, 1);
	CHECK_INT(cs.damaged, 0);
	CHECK(has(out, " is missing\n  needed by 2026-03-02 uploads/a.txt\n"));
	CHECK(has(out, "3 snapshots, 7 chunks checked: 1 missing (chunk "));
	free(out);

	/* A pack cut off 3 bytes into its last frame: not even a frame header. */
	CHECK_INT(chunk_loc(dir, &rows, &loc), 0);
	pack_path(dir, loc.pack, "pack", path, sizeof(path));
	CHECK_MSG(exists("%s", path) && count("'%s' -size %lluc", path,
					      (unsigned long long)(loc.off + loc.zlen)) == 1,
		  "the rows of day 1 end their pack");
	CHECK_INT(truncate(path, (off_t)loc.off + 3), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.missing, 1);
	CHECK_INT(cs.damaged, 1);
	CHECK(has(out, "is damaged (not a zstd frame)\n  needed by 2026-03-01 db/x.sql"));
	CHECK(has(out, "checked: 1 missing, 1 damaged (chunk ") && has(out, "; and 1 more)\n"));
	free(out);

	/* An index that gives a frame a size other than the manifest's ZLEN. */
	tail = hash_of("uploads of 2026-03-03\n");
	CHECK_INT(chunk_loc(dir, &tail, &loc), 0);
	CHECK_INT(chunk_relocate(dir, &tail, loc.off, loc.zlen - 1), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.damaged, 2);
	CHECK(has(out, " is damaged (a frame of "));
	CHECK(has(out, "  needed by 2026-03-03 uploads/a.txt\n"));
	CHECK(has(out, "checked: 1 missing, 2 damaged (chunk ") && has(out, "; and 2 more)\n"));
	free(out);

	/* A pack cut short past its last frame's header: its index names bytes that are gone. */
	tail = hash_of("INSERT rows of 2026-03-03;\n");
	CHECK_INT(chunk_loc(dir, &tail, &loc), 0);
	pack_path(dir, loc.pack, "pack", path, sizeof(path));
	CHECK_INT(truncate(path, (off_t)(loc.off + loc.zlen - 1)), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.damaged, 3);
	CHECK(has(out, "is damaged (its pack is cut short)\n  needed by 2026-03-03 db/x.sql\n"));
	free(out);

	/* An unreadable manifest: check says so; prune keeps it and sweeps nothing. */
	snprintf(path, sizeof(path), "%s/store/snapshots/2026-03-01", dir);
	CHECK_INT(sh("chmod u+w '%s' && echo garbage >> '%s'", path, path), 0);
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.snapshots_unreadable, 1);
	CHECK(has(out, "snapshot 2026-03-01 cannot be read: ") &&
	      has(out, "1 unreadable snapshot, "));
	free(out);
	CHECK_INT(prune(dir, po, &ps, &out), -EAGAIN);
	CHECK(!ps.swept);
	CHECK_INT(ps.snapshots_removed, 1);
	CHECK(strstr(err, "snapshot 2026-03-01 cannot be read") != NULL);
	CHECK(has(out, "keep    2026-03-01         unreadable manifest (manifest line "));
	CHECK(has(out, "remove  2026-03-02\n"));
	CHECK(has(out, "removed 1 snapshot (2 kept); no chunk was swept\n"));
	free(out);
	CHECK(exists("%s/store/snapshots/2026-03-01", dir));
	CHECK(!exists("%s/store/snapshots/2026-03-02", dir));
	CHECK(chunk_exists(dir, &orphan));
	sh("rm -rf '%s'", dir);
	free(dir);
}

/* A pack index with a bad line: skipped whole, its chunks missing; prune leaves its pack be. */
static void test_damaged_index(void)
{
	char *dir = new_state_dir(), *out = NULL, idx[4096], pack[4096];
	struct store_opts so = {.threads = 1};
	struct store_hash shared = hash_of("shared content, the same every day\n"),
			  own = hash_of("uploads of 2026-03-02\n"),
			  rows = hash_of("INSERT rows of 2026-03-02;\n");
	struct prune_opts po = {.policy = {.keep_last = 1}};
	struct prune_stats ps;
	struct check_stats cs;
	struct store_loc loc;

	CHECK_INT(store_open(dir, &so, &S, err, sizeof(err)), 0);
	daily(dir, "2026-03-01", false);
	daily(dir, "2026-03-02", false);
	store_close(S);
	S = NULL;
	CHECK_INT(chunk_loc(dir, &own, &loc), 0);
	pack_path(dir, loc.pack, "idx", idx, sizeof(idx));
	pack_path(dir, loc.pack, "pack", pack, sizeof(pack));
	/* The second line's offset gets a letter: that line, and so the whole index, is bad. */
	CHECK_INT(
	    sh("sed -i '3s/ \\([0-9]*\\) / \\1x /' '%s' && grep -q '^[0-9a-f]* [0-9]*x ' '%s'", idx,
	       idx),
	    0);
	CHECK(!chunk_exists(dir, &own) && !chunk_exists(dir, &rows));
	CHECK(chunk_exists(dir, &shared));
	CHECK_INT(check(dir, false, &cs, &out), 0);
	CHECK_INT(cs.missing, 2);
	CHECK_INT(cs.damaged, 0);
	CHECK(has(out, " is missing\n  needed by 2026-03-02 uploads/a.txt\n") &&
	      has(out, " is missing\n  needed by 2026-03-02 db/x.sql\n"));
	free(out);

	/* prune removes the first day; the damaged index's pack is not its to judge. */
	CHECK_INT(prune(dir, po, &ps, &out), 0);
	CHECK_INT(ps.snapshots_removed, 1);
	free(out);
	CHECK(exists("%s", idx) && exists("%s", pack));
	CHECK(chunk_exists(dir, &shared));
	sh("rm -rf '%s'", dir);
	free(dir);
}

int main(void)
{
	test_refs();
	test_check_damage();
	test_damaged_index();
	UNIT_DONE();
}
