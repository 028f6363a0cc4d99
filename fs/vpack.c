/*
 * vpack.c - how objects reach the disk, and how the repository stays compact.
 *
 * A commit's new objects gather in an in-memory backend (libgit2's mempack) and are written
 * as one small pack, fsync'd, before the branch moves: two fsyncs for the pack and its index
 * instead of two per loose object. Every pack_every commits the small packs are merged: a
 * pack of what is reachable from HEAD but not from the commit merged last time (a ref,
 * refs/statefs/packed), after which each small pack whose objects all sit in the merged one is
 * deleted (checked object by object, so a crash at any point loses nothing). When merged packs
 * pile up, everything is repacked into one and the old packs go. Loose objects (from older
 * versions, and the check notes, which the checker thread writes loose) are packed and removed
 * the same way; the notes have their own marker, refs/statefs/packed-notes.
 */
#include "fs/vcs_int.h"

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PACKED_REF "refs/statefs/packed"
#define PACKED_NOTES_REF "refs/statefs/packed-notes"
#define MAX_PACKS 16 /* merged packs before everything is repacked into one */

static int count_packs(const char *packdir, char ***names, size_t *n)
{
	DIR *dp = opendir(packdir);
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		char **v;

		if (l < 5 || strcmp(de->d_name + l - 5, ".pack") != 0)
			continue;
		v = realloc(*names, (*n + 1) * sizeof(*v));
		if (!v)
			break;
		*names = v;
		v[*n] = strndup(de->d_name, l - 5);
		if (v[*n])
			(*n)++;
	}
	closedir(dp);
	return 0;
}

/* Delete the loose objects that the pack @idx holds. */
static void prune_loose(const char *objdir, const char *idx)
{
	git_odb *odb = NULL;
	git_odb_backend *b = NULL;
	char dir[PATH_MAX + 8], file[PATH_MAX + 300];

	if (git_odb_new(&odb) || git_odb_backend_one_pack(&b, idx) || git_odb_add_backend(odb, b, 1)) {
		if (b && !odb)
			b->free(b);
		git_odb_free(odb);
		return;
	}
	for (int i = 0; i < 256; i++) {
		DIR *dp;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%02x", objdir, i);
		dp = opendir(dir);
		if (!dp)
			continue;
		while ((de = readdir(dp))) {
			char hex[GIT_OID_HEXSZ + 1];
			git_oid oid;

			if (strlen(de->d_name) != GIT_OID_HEXSZ - 2)
				continue;
			snprintf(hex, 3, "%02x", i);
			memcpy(hex + 2, de->d_name, GIT_OID_HEXSZ - 2);
			hex[GIT_OID_HEXSZ] = '\0';
			if (git_oid_fromstr(&oid, hex) || !git_odb_exists(odb, &oid))
				continue;
			snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
			unlink(file);
		}
		closedir(dp);
		rmdir(dir); /* only if empty */
	}
	git_odb_free(odb);
}

static void pack_dir(struct vcs *v, char *buf, size_t size)
{
	snprintf(buf, size, "%sobjects/pack", git_repository_path(v->repo));
}

int vpack_write_pending(struct vcs *v)
{
	git_buf pack = {0};
	git_indexer *idx = NULL;
	git_indexer_progress stats;
	git_odb *odb = NULL;
	char dir[PATH_MAX], **names;
	int err = 0;

	if (git_mempack_dump(&pack, v->repo, v->mempack)) {
		err = -ENOMEM;
		goto out;
	}
	pack_dir(v, dir, sizeof(dir));
	if (git_repository_odb(&odb, v->repo) || git_indexer_new(&idx, dir, 0444, odb, NULL) ||
	    git_indexer_append(idx, pack.ptr, pack.size, &stats) ||
	    git_indexer_commit(idx, &stats)) {
		const git_error *ge = git_error_last();

		vcs_log(3, "cannot write the commit's objects: %s",
			ge ? ge->message : "unknown error");
		err = -EIO;
		goto out;
	}
	names = realloc(v->small_packs, (v->nsmall + 1) * sizeof(*names));
	if (names) {
		v->small_packs = names;
		if (asprintf(&names[v->nsmall], "pack-%s", git_indexer_name(idx)) >= 0)
			v->nsmall++;
	}
	git_odb_refresh(odb);
out:
	git_mempack_reset(v->mempack);
	git_indexer_free(idx);
	git_odb_free(odb);
	git_buf_dispose(&pack);
	return err;
}

void vpack_discard_pending(struct vcs *v)
{
	git_mempack_reset(v->mempack);
}

struct contained {
	git_odb *in;
	int missing;
};

static int check_one(const git_oid *oid, void *arg)
{
	struct contained *c = arg;

	if (!git_odb_exists(c->in, oid)) {
		c->missing = 1;
		return GIT_EUSER;
	}
	return 0;
}

/* Delete pack @name if every object it holds is in the pack whose index is @merged_idx. */
static void drop_if_contained(const char *dir, const char *name, const char *merged_idx)
{
	git_odb *small = NULL, *merged = NULL;
	git_odb_backend *bs = NULL, *bm = NULL;
	char path[PATH_MAX + 300];
	struct contained c = {0};
	static const char *ext[] = {".pack", ".idx", ".rev"};

	snprintf(path, sizeof(path), "%s/%s.idx", dir, name);
	if (git_odb_new(&small) || git_odb_backend_one_pack(&bs, path) ||
	    git_odb_add_backend(small, bs, 1))
		goto out;
	bs = NULL;
	if (git_odb_new(&merged) || git_odb_backend_one_pack(&bm, merged_idx) ||
	    git_odb_add_backend(merged, bm, 1))
		goto out;
	bm = NULL;
	c.in = merged;
	if (git_odb_foreach(small, check_one, &c) || c.missing)
		goto out;
	for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext[k]);
		unlink(path);
	}
out:
	if (bs)
		bs->free(bs);
	if (bm)
		bm->free(bm);
	git_odb_free(small);
	git_odb_free(merged);
}

int vpack(struct vcs *v)
{
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_oid packed, notes, packed_notes;
	int has_notes, notes_done;
	char objdir[PATH_MAX], packdir[PATH_MAX + 8], idx[PATH_MAX + 160];
	char **packs = NULL;
	size_t npacks = 0;
	int full, err = 0;

	if (!v->has_head)
		return 0;
	snprintf(objdir, sizeof(objdir), "%s/objects", git_repository_path(v->repo));
	snprintf(packdir, sizeof(packdir), "%s/pack", objdir);
	count_packs(packdir, &packs, &npacks);
	full = npacks - (npacks >= v->nsmall ? v->nsmall : npacks) >= MAX_PACKS;
	if (git_packbuilder_new(&pb, v->repo) || git_revwalk_new(&walk, v->repo) ||
	    git_revwalk_push(walk, &v->head)) {
		err = -EIO;
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	has_notes = git_reference_name_to_id(&notes, v->repo, VHOOKS_NOTES_REF) == 0;
	notes_done = !has_notes ||
		     (git_reference_name_to_id(&packed_notes, v->repo, PACKED_NOTES_REF) == 0 &&
		      git_oid_equal(&packed_notes, &notes));
	if (has_notes && git_revwalk_push(walk, &notes)) {
		err = -EIO;
		goto out;
	}
	if (!full && git_reference_name_to_id(&packed, v->repo, PACKED_REF) == 0) {
		if (git_oid_equal(&packed, &v->head) && notes_done)
			goto out;
		git_revwalk_hide(walk, &packed);
	}
	if (!full && has_notes &&
	    git_reference_name_to_id(&packed_notes, v->repo, PACKED_NOTES_REF) == 0)
		git_revwalk_hide(walk, &packed_notes);
	if (git_packbuilder_insert_walk(pb, walk) ||
	    git_packbuilder_write(pb, packdir, 0, NULL, NULL)) {
		const git_error *ge = git_error_last();

		vcs_log(3, "packing failed: %s", ge ? ge->message : "unknown error");
		err = -EIO;
		goto out;
	}
	snprintf(idx, sizeof(idx), "%s/pack-%s.idx", packdir, git_packbuilder_name(pb));
	prune_loose(objdir, idx);
	for (size_t i = 0; i < v->nsmall; i++) {
		drop_if_contained(packdir, v->small_packs[i], idx);
		free(v->small_packs[i]);
	}
	v->nsmall = 0;
	if (full) {
		/* everything is in the new pack now: the old ones can go */
		char newname[128];

		snprintf(newname, sizeof(newname), "pack-%s", git_packbuilder_name(pb));
		for (size_t i = 0; i < npacks; i++) {
			static const char *ext[] = {".pack", ".idx", ".rev", ".keep"};
			char f[PATH_MAX + 256];

			if (strcmp(packs[i], newname) == 0)
				continue;
			for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
				snprintf(f, sizeof(f), "%s/%s%s", packdir, packs[i], ext[k]);
				unlink(f);
			}
		}
	}
	git_reference *ref = NULL;

	if (git_reference_create(&ref, v->repo, PACKED_REF, &v->head, 1, "statefs: packed") == 0)
		git_reference_free(ref);
	ref = NULL;
	if (has_notes && git_reference_create(&ref, v->repo, PACKED_NOTES_REF, &notes, 1,
					      "statefs: packed") == 0)
		git_reference_free(ref);
	git_odb *odb = NULL;

	if (git_repository_odb(&odb, v->repo) == 0) {
		git_odb_refresh(odb);
		git_odb_free(odb);
	}
	v->commits_since_pack = 0;
out:
	for (size_t i = 0; i < npacks; i++)
		free(packs[i]);
	free(packs);
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	return err;
}
