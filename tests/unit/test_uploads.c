/*
 * test_uploads.c - the uploads walker without a database: what it records (dirs, files,
 * symlinks never followed, modes, owners, times), what it skips (FIFO, socket) with a warning,
 * incremental reuse (an unchanged file is not read; a content change behind a restored mtime
 * is caught by ctime; a missing chunk makes it read again), a missing root as a reason, and
 * a full disk as a fatal error. The recorded files come back byte for byte through
 * docs/recover-file.sh.
 */
#include "snapshot/manifest.h"
#include "snapshot/store.h"
#include "snapshot/uploads.h"
#include "tests/unit/packs.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char top[256], err[512];
static char warnings[8192];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		CHECK_MSG(0, "writing %s", path);
	if (fd >= 0)
		close(fd);
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (unsigned char)(seed >> 56);
	}
}

static void on_warn(void *arg, const char *m)
{
	(void)arg;
	if (strlen(warnings) + strlen(m) + 2 < sizeof(warnings)) {
		strcat(warnings, m);
		strcat(warnings, "\n");
	}
}

/* Walk @root as "uploads/clemence" into a fresh @m with @prev; the return value of the walk. */
static int walk(struct store *s, const char *root, struct manifest *prev, struct manifest *m,
		struct uploads_stats *st)
{
	struct uploads_opts o = {.store = s, .prev = prev, .warn = on_warn};

	warnings[0] = '\0';
	memset(st, 0, sizeof(*st));
	manifest_init(m);
	return uploads_record(root, "uploads/clemence", &o, m, st, err, sizeof(err));
}

static char root[512], state[512];
enum { BIG = 1024 * 1024 + 777 };
static unsigned char big[BIG];

static void make_tree(void)
{
	char p[700];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int sfd;

	snprintf(root, sizeof(root), "%s/uploads", top);
	snprintf(state, sizeof(state), "%s/state", top);
	CHECK_INT(sh("mkdir -p '%s/2025/10' '%s/empty dir'", root, root), 0);
	fill(big, BIG, 1);
	snprintf(p, sizeof(p), "%s/2025/10/big.jpg", root);
	write_file(p, big, BIG);
	snprintf(p, sizeof(p), "%s/2025/10/small.txt", root);
	write_file(p, "hello\n", 6);
	snprintf(p, sizeof(p), "%s/2025/10/same-size.txt", root);
	write_file(p, "AAAA", 4);
	snprintf(p, sizeof(p), "%s/empty", root);
	write_file(p, "", 0);
	chmod(p, 0600);
	snprintf(p, sizeof(p), "%s/odd\tname \\x", root);
	write_file(p, "odd", 3);
	snprintf(p, sizeof(p), "%s/2025/10/small.txt", root);
	CHECK_INT(chown(p, 33, 33), 0);
	snprintf(p, sizeof(p), "%s/escape", root);
	CHECK_INT(symlink("/etc", p), 0); /* a dir symlink out of the tree: never followed */
	snprintf(p, sizeof(p), "%s/passwd", root);
	CHECK_INT(symlink("../../../../../../etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/2025/fifo", root);
	CHECK_INT(mkfifo(p, 0644), 0);
	if (strlen(root) + 6 > sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, root, strlen(root));
	memcpy(sa.sun_path + strlen(root), "/sock", 6);
	sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(sfd >= 0 && bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (sfd >= 0)
		close(sfd);
}

static void test_first_walk(struct store *s, struct manifest *m)
{
	const struct manifest_entry *e;
	struct uploads_stats st;
	char out[700];

	CHECK_INT(walk(s, root, NULL, m, &st), 0);
	CHECK_INT(st.files, 5);
	CHECK_INT(st.files_read, 5);
	CHECK_INT(st.files_reused, 0);
	CHECK_INT(st.dirs, 4); /* the root, 2025, 2025/10, empty dir */
	CHECK_INT(st.symlinks, 2);
	CHECK_INT(st.skipped, 2);
	CHECK_INT(st.failed, 0);
	CHECK_INT(st.bytes, BIG + 6 + 4 + 3);
	CHECK_INT(st.bytes_read, BIG + 6 + 4 + 3);
	CHECK_INT(m->nreasons, 0);
	CHECK_MSG(strstr(warnings, "uploads/clemence/2025/fifo: a FIFO, skipped") &&
		      strstr(warnings, "uploads/clemence/sock: a socket, skipped"),
		  "FIFO and socket skipped with a warning");
	e = manifest_find(m, "uploads/clemence");
	CHECK(e && e->type == 'd');
	e = manifest_find(m, "uploads/clemence/escape");
	CHECK(e && e->type == 'l' && !strcmp(e->target, "/etc"));
	CHECK_MSG(!manifest_find(m, "uploads/clemence/escape/passwd"), "a symlink is not followed");
	e = manifest_find(m, "uploads/clemence/2025/10/small.txt");
	CHECK(e && e->type == 'f' && e->uid == 33 && e->gid == 33 && e->size == 6 &&
	      e->nchunks == 1 && e->ino && e->ctime_ns && e->mode == 0644);
	e = manifest_find(m, "uploads/clemence/empty");
	CHECK(e && e->size == 0 && !e->nchunks && e->mode == 0600);
	e = manifest_find(m, "uploads/clemence/2025/10/big.jpg");
	CHECK(e && e->size == BIG && e->nchunks > 4);
	CHECK(manifest_find(m, "uploads/clemence/empty dir") != NULL);
	CHECK(!manifest_find(m, "uploads/clemence/2025/fifo") &&
	      !manifest_find(m, "uploads/clemence/sock"));

	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_INT(manifest_write(state, "2025-10-01", m, err, sizeof(err)), 0);
	e = manifest_find(m, "uploads/clemence/2025/10/big.jpg");
	CHECK_MSG(e && e->nchunks && e->chunks[0].zlen > 0, "stored sizes filled by the write");
	snprintf(out, sizeof(out), "%s/out", top);
	CHECK_INT(sh("docs/recover-file.sh '%s' 2025-10-01 uploads/clemence/2025/10/big.jpg > "
		     "'%s' && cmp -s '%s' '%s/2025/10/big.jpg'",
		     state, out, out, root),
		  0);
	setenv("ODD", "uploads/clemence/odd\tname \\x", 1);
	CHECK_INT(sh("docs/recover-file.sh '%s' 2025-10-01 \"$ODD\" | grep -qx odd", state), 0);
}

static void test_incremental(struct store **sp)
{
	struct store *s = *sp;
	struct manifest prev, m;
	struct uploads_stats st;
	struct timespec keep[2];
	struct store_hash gone;
	struct stat sb;
	char p[700];
	long nrm;

	manifest_init(&prev);
	CHECK_INT(manifest_read(state, "2025-10-01", &prev, err, sizeof(err)), 0);

	/* Nothing changed: nothing is read. */
	CHECK_INT(walk(s, root, &prev, &m, &st), 0);
	CHECK_INT(st.files, 5);
	CHECK_INT(st.files_reused, 5);
	CHECK_INT(st.files_read, 0);
	CHECK_INT(st.bytes_read, 0);
	CHECK(manifest_find(&m, "uploads/clemence/2025/10/big.jpg")->nchunks ==
	      manifest_find(&prev, "uploads/clemence/2025/10/big.jpg")->nchunks);
	manifest_free(&m);

	/* Same size, mtime put back: ctime tells. Plus one append. */
	snprintf(p, sizeof(p), "%s/2025/10/same-size.txt", root);
	CHECK_INT(stat(p, &sb), 0);
	keep[0] = sb.st_atim;
	keep[1] = sb.st_mtim;
	usleep(20000);
	write_file(p, "BBBB", 4);
	CHECK_INT(utimensat(AT_FDCWD, p, keep, 0), 0);
	snprintf(p, sizeof(p), "%s/2025/10/small.txt", root);
	CHECK_INT(sh("echo more >> '%s'", p), 0);
	CHECK_INT(walk(s, root, &prev, &m, &st), 0);
	CHECK_INT(st.files_read, 2);
	CHECK_INT(st.files_reused, 3);
	CHECK_INT(st.bytes_read, 4 + 11);
	manifest_free(&m);

	/*
	 * A chunk gone from the store (its pack index forgot it) before the next snapshot opens
	 * the store: the file is read again, and the chunk put back.
	 */
	{
		const struct manifest_entry *e =
		    manifest_find(&prev, "uploads/clemence/2025/10/big.jpg");

		gone = e->chunks[1].hash;
	}
	store_close(s);
	nrm = chunk_forget(state, &gone) == 0;
	CHECK_INT(nrm, 1);
	CHECK(!chunk_exists(state, &gone));
	s = *sp = NULL;
	CHECK_INT(store_open(state, NULL, sp, err, sizeof(err)), 0);
	s = *sp;
	if (!s) {
		manifest_free(&prev);
		return;
	}
	CHECK_INT(walk(s, root, &prev, &m, &st), 0);
	CHECK_INT(st.files_read, 3);
	CHECK_INT(st.bytes_read, BIG + 4 + 11);
	CHECK_INT(store_flush(s, err, sizeof(err)), 0);
	CHECK_MSG(chunk_exists(state, &gone), "the missing chunk is stored again");
	manifest_free(&m);
	manifest_free(&prev);
}

static void test_missing_root(struct store *s)
{
	struct manifest m;
	struct uploads_stats st;
	char p[700];

	snprintf(p, sizeof(p), "%s/nope", top);
	CHECK_INT(walk(s, p, NULL, &m, &st), 0);
	CHECK_INT(m.n, 0);
	CHECK_INT(m.nreasons, 1);
	CHECK_MSG(m.nreasons && strstr(m.reasons[0], "uploads/clemence: cannot open") &&
		      strstr(m.reasons[0], "No such file"),
		  "the reason names the tree: %s", m.nreasons ? m.reasons[0] : "");
	manifest_free(&m);
}

/* A write that fails with ENOSPC, as a full disk does. */
static ssize_t full_write(int fd, const void *buf, size_t len)
{
	(void)fd;
	(void)buf;
	(void)len;
	errno = ENOSPC;
	return -1;
}

static void test_full_disk(void)
{
	struct store_io io = store_io_default;
	struct store *s = NULL;
	struct manifest m;
	struct uploads_stats st;
	char dir[600];
	int r1, r2;

	io.write = full_write;
	snprintf(dir, sizeof(dir), "%s/full", top);
	CHECK_INT(
	    store_open(dir, &(struct store_opts){.io = &io, .threads = 1}, &s, err, sizeof(err)),
	    0);
	if (!s)
		return;
	r1 = walk(s, root, NULL, &m, &st);
	r2 = store_flush(s, err, sizeof(err));
	CHECK_MSG(r1 == -ENOSPC || (r1 == 0 && r2 == -ENOSPC),
		  "ENOSPC comes out of the walk or the flush (%d, %d)", r1, r2);
	CHECK_MSG(strstr(err, "No space") != NULL, "the message says so: %s", err);
	manifest_free(&m);
	store_close(s);
}

int main(void)
{
	struct store *s = NULL;
	struct manifest m;

	snprintf(top, sizeof(top), "/tmp/statefs-test-uploads.XXXXXX");
	if (!mkdtemp(top)) {
		CHECK_MSG(0, "mkdtemp");
		UNIT_DONE();
	}
	make_tree();
	CHECK_INT(store_open(state, NULL, &s, err, sizeof(err)), 0);
	if (!s)
		UNIT_DONE();
	test_first_walk(s, &m);
	manifest_free(&m);
	test_incremental(&s);
	if (s)
		test_missing_root(s);
	store_close(s);
	test_full_disk();
	if (!unit_failed)
		sh("rm -rf '%s'", top);
	else
		printf("# left %s for inspection\n", top);
	UNIT_DONE();
}
