/*
 * vpack.c - keep the repository compact: pack the loose objects the committer wrote.
 *
 * Each run packs what is reachable from HEAD but not from the commit packed last time (a ref,
 * refs/statefs/packed), then deletes exactly the loose objects the new pack holds (checked
 * against the pack's own index, so a crash at any point loses nothing). When packs pile up,
 * everything is repacked into one and the old packs go.
 */
#include "fs/vcs_int.h"

#include <git2/sys/odb_backend.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PACKED_REF "refs/statefs/packed"
#define MAX_PACKS 8

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

int vpack(struct vcs *v)
{
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_oid packed;
	char objdir[PATH_MAX], packdir[PATH_MAX + 8], idx[PATH_MAX + 160];
	char **packs = NULL;
	size_t npacks = 0;
	int full, err = 0;

	if (!v->has_head)
		return 0;
	snprintf(objdir, sizeof(objdir), "%s/objects", git_repository_path(v->repo));
	snprintf(packdir, sizeof(packdir), "%s/pack", objdir);
	count_packs(packdir, &packs, &npacks);
	full = npacks >= MAX_PACKS;
	if (git_packbuilder_new(&pb, v->repo) || git_revwalk_new(&walk, v->repo) ||
	    git_revwalk_push(walk, &v->head)) {
		err = -EIO;
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	if (!full && git_reference_name_to_id(&packed, v->repo, PACKED_REF) == 0) {
		if (git_oid_equal(&packed, &v->head))
			goto out;
		git_revwalk_hide(walk, &packed);
	}
	if (git_packbuilder_insert_walk(pb, walk) ||
	    git_packbuilder_write(pb, packdir, 0, NULL, NULL)) {
		const git_error *ge = git_error_last();

		vcs_log(3, "packing failed: %s", ge ? ge->message : "unknown error");
		err = -EIO;
		goto out;
	}
	snprintf(idx, sizeof(idx), "%s/pack-%s.idx", packdir, git_packbuilder_name(pb));
	prune_loose(objdir, idx);
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
