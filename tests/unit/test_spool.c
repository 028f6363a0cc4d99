/*
 * test_spool.c - the restore's spool (restore/spool.h): strings read back as they were put,
 * each on its own 4 KiB boundary, the file unlinked, and dropped strings' space given back
 * where the filesystem punches holes (the directory's: $TMPDIR, else /tmp).
 */
#include "restore/spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"

/* The spool's file, found as the only open file that is deleted: its blocks (512 bytes). */
static long long blocks_of_deleted(void)
{
	char link[300], target[4096];
	struct dirent *d;
	struct stat st;
	long long b = -1;
	DIR *dir = opendir("/proc/self/fd");
	ssize_t n;

	while (dir && (d = readdir(dir))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", d->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, " (deleted)") && !stat(link, &st))
			b = (long long)st.st_blocks;
	}
	if (dir)
		closedir(dir);
	return b;
}

int main(void)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	static char big[3 * SPOOL_ALIGN + 100], back[sizeof(big)];
	struct spool *s;
	uint64_t off[3];
	long long before, after;
	int fd;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 1);
	CHECK_INT(spool_size_of(0), 0);
	CHECK_INT(spool_size_of(1), SPOOL_ALIGN);
	CHECK_INT(spool_size_of(SPOOL_ALIGN), SPOOL_ALIGN);
	CHECK_INT(spool_size_of(SPOOL_ALIGN + 1), 2 * SPOOL_ALIGN);

	fd = spool_tmpfile(dir);
	CHECK_MSG(fd >= 0, "a temporary file in %s", dir);
	if (fd >= 0)
		close(fd);
	CHECK(spool_tmpfile("/nonexistent/dir") < 0);
	CHECK(spool_open("/nonexistent/dir", &s) < 0 && !s);

	CHECK(spool_open(dir, &s) == 0 && s);
	if (!s)
		UNIT_DONE();
	CHECK(spool_put(s, "hello", 5, &off[0]) == 0 && off[0] == 0);
	CHECK(spool_put(s, big, sizeof(big), &off[1]) == 0 && off[1] == SPOOL_ALIGN);
	CHECK(spool_put(s, "", 0, &off[2]) == 0 && off[2] == SPOOL_ALIGN + spool_size_of(sizeof(big)));
	CHECK(spool_get(s, off[1], back, sizeof(big)) == 0 && !memcmp(back, big, sizeof(big)));
	CHECK(spool_get(s, off[0], back, 5) == 0 && !memcmp(back, "hello", 5));
	CHECK(spool_get(s, off[2] + SPOOL_ALIGN, back, 10) == -EIO); /* past the end */

	before = blocks_of_deleted();
	if (spool_drop(s, off[1], sizeof(big))) {
		after = blocks_of_deleted();
		CHECK_MSG(before > 0 && after >= 0 && before - after >= (long long)(3 * SPOOL_ALIGN / 512),
			  "dropping gives its pages back (%lld blocks, then %lld)", before, after);
		CHECK(spool_get(s, off[0], back, 5) == 0 && !memcmp(back, "hello", 5));
	} else {
		CHECK_MSG(1, "# skip %s cannot punch holes", dir);
	}
	spool_close(s);
	spool_close(NULL);
	UNIT_DONE();
}
