/*
 * vcommit.c - turn the index and the recorded changes into one commit with a message that says
 * what changed, who changed it and with which program.
 *
 * The message's last lines are git trailers (Statefs-User, Statefs-Program, Statefs-Source)
 * so that `git log --format='%(trailers)'` and scripts can read them.
 */
#include "fs/vcs_int.h"

#include <errno.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vcs_changes_clear(struct vcs *v)
{
	for (size_t i = 0; i < v->nchg; i++)
		free(v->chg[i].path);
	v->nchg = 0;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct vcs_change *)a)->path, ((const struct vcs_change *)b)->path);
}

void vcs_sbprintf(struct vcs_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->s && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

static const char *verb(char what)
{
	switch (what) {
	case 'A':
		return "Add";
	case 'D':
		return "Delete";
	case 'T':
		return "Change mode or owner of";
	default:
		return "Edit";
	}
}

/* A rename is a delete and an add of the same content in one save. */
static int find_rename(struct vcs *v, size_t *from, size_t *to)
{
	size_t nd = 0, na = 0;

	for (size_t i = 0; i < v->nchg; i++) {
		if (v->chg[i].what == 'D') {
			nd++;
			*from = i;
		} else if (v->chg[i].what == 'A') {
			na++;
			*to = i;
		} else if (v->chg[i].what != 'T') {
			return 0;
		}
	}
	return nd == 1 && na == 1 && git_oid_equal(&v->chg[*from].oid, &v->chg[*to].oid);
}

static void subject(struct vcs *v, struct vcs_sbuf *b, const char *prefix)
{
	size_t from = 0, to = 0;

	vcs_sbprintf(b, "%s", prefix);
	if (find_rename(v, &from, &to)) {
		vcs_sbprintf(b, "Rename %s -> %s", v->chg[from].path, v->chg[to].path);
		return;
	}
	if (v->nchg == 1) {
		vcs_sbprintf(b, "%s %s", verb(v->chg[0].what), v->chg[0].path);
		return;
	}
	char what = v->chg[0].what;

	for (size_t i = 1; i < v->nchg; i++)
		if (v->chg[i].what != what)
			what = 'M';
	vcs_sbprintf(b, "%s %zu paths:", verb(what), v->nchg);
	for (size_t i = 0; i < v->nchg && b->len < 72; i++)
		vcs_sbprintf(b, "%s %s", i ? "," : "", v->chg[i].path);
	if (b->len >= 72 && !b->oom) {
		b->len = 69;
		vcs_sbprintf(b, "...");
	}
}

static int signature(struct vcs *v, const struct vcs_who *who, git_signature **out, char *name,
		     size_t size)
{
	struct passwd pw, *res = NULL;
	char buf[1024], email[256];
	time_t now = time(NULL);
	struct tm tm;

	if (who->external) {
		snprintf(name, size, "external");
	} else if (getpwuid_r(who->uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
		snprintf(name, size, "%s", pw.pw_name);
	} else {
		snprintf(name, size, "uid %u", (unsigned)who->uid);
	}
	snprintf(email, sizeof(email), "%s@%s", who->external ? "external" : name, v->host);
	for (char *p = email; *p; p++)
		if (*p == ' ')
			*p = '-';
	localtime_r(&now, &tm);
	return git_signature_new(out, name, email, now, (int)(tm.tm_gmtoff / 60)) ? -ENOMEM : 0;
}

int vcommit(struct vcs *v, const struct vcs_who *who, const char *how)
{
	git_signature *author = NULL, *committer = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;
	struct vcs_sbuf msg = {0};
	char *mbuf = NULL, uname[128];
	size_t mlen;
	git_oid blob, tree_oid, commit_oid;
	git_index_entry e;
	int err = 0;

	err = meta_format(&v->meta, &mbuf, &mlen);
	if (err)
		goto out;
	if (git_blob_create_from_buffer(&blob, v->repo, mbuf, mlen)) {
		err = -EIO;
		goto out;
	}
	memset(&e, 0, sizeof(e));
	e.path = META_FILE;
	e.mode = GIT_FILEMODE_BLOB;
	e.id = blob;
	if (git_index_add(v->index, &e) || git_index_write_tree_to(&tree_oid, v->index, v->repo)) {
		err = -EIO;
		goto out;
	}
	if (v->has_head && git_oid_equal(&tree_oid, &v->head_tree)) {
		err = 0; /* nothing changed: the notes were echoes or litter */
		vpack_discard_pending(v);
		goto out;
	}
	if (v->nchg)
		qsort(v->chg, v->nchg, sizeof(*v->chg), cmp_change);
	err = signature(v, who, &author, uname, sizeof(uname));
	if (err)
		goto out;
	if (git_signature_now(&committer, "statefs", "statefs@localhost")) {
		err = -ENOMEM;
		goto out;
	}
	if (v->nchg == 0)
		vcs_sbprintf(&msg, "%sRecord metadata", who->external ? "External: " : "");
	else
		subject(v, &msg, who->external ? "External: " : "");
	vcs_sbprintf(&msg, "\n\n");
	for (size_t i = 0; i < v->nchg; i++)
		vcs_sbprintf(&msg, "%c %s\n", v->chg[i].what, v->chg[i].path);
	vcs_sbprintf(&msg, "\n");
	if (who->external) {
		vcs_sbprintf(&msg, "Statefs-Source: external (%s)\n", how ? how : "inotify");
	} else {
		vcs_sbprintf(&msg, "Statefs-User: %s (uid %u)\n", uname, (unsigned)who->uid);
		vcs_sbprintf(&msg, "Statefs-Program: %s (pid %d)\n", who->comm[0] ? who->comm : "?",
			     (int)who->pid);
		vcs_sbprintf(&msg, "Statefs-Source: mount\n");
	}
	if (msg.oom) {
		err = -ENOMEM;
		goto out;
	}
	if (git_tree_lookup(&tree, v->repo, &tree_oid) ||
	    (v->has_head && git_commit_lookup(&parent, v->repo, &v->head))) {
		err = -EIO;
		goto out;
	}
	const git_commit *parents[1] = {parent};

	if (git_commit_create(&commit_oid, v->repo, NULL, author, committer, NULL, msg.s, tree,
			      parent ? 1 : 0, parents)) {
		const git_error *ge = git_error_last();

		vcs_log(3, "commit failed: %s", ge ? ge->message : "unknown error");
		err = -EIO;
		goto out;
	}
	/* The objects are durable before the branch names them. */
	err = vpack_write_pending(v);
	if (err)
		goto out;
	git_reference *ref = NULL;

	if (git_reference_create(&ref, v->repo, "refs/heads/main", &commit_oid, 1, NULL)) {
		const git_error *ge = git_error_last();

		vcs_log(3, "cannot move the branch: %s", ge ? ge->message : "unknown error");
		err = -EIO;
		goto out;
	}
	git_reference_free(ref);
	v->head = commit_oid;
	v->head_tree = tree_oid;
	v->has_head = 1;
	v->commits_since_pack++;
	err = 1;
out:
	if (err < 0)
		vpack_discard_pending(v);
	vcs_changes_clear(v);
	free(msg.s);
	free(mbuf);
	git_tree_free(tree);
	git_commit_free(parent);
	git_signature_free(author);
	git_signature_free(committer);
	return err;
}
