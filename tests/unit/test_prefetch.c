/*
 * test_prefetch.c - the listing prefetcher (fs/prefetch.h): the files it is given end up in
 * the page cache, a symlink among the names is not followed, and stopping with requests
 * queued frees them (ASan checks the leaks).
 */
#include "fs/prefetch.h"
#include "tests/unit/unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE (64 * 1024)

/* How many of @path's pages are in the page cache. */
static size_t resident(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY);
	unsigned char vec[SIZE / 4096];
	size_t n = 0;
	void *m;

	if (fd < 0)
		return 0;
	m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED && !mincore(m, SIZE, vec))
		for (size_t i = 0; i < sizeof(vec); i++)
			n += vec[i] & 1;
	if (m != MAP_FAILED)
		munmap(m, SIZE);
	close(fd);
	return n;
}

static void evict(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY);

	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

int main(void)
{
	char dir[] = "/var/tmp/test_prefetch.XXXXXX", buf[SIZE];
	const char names[] = "a\0b\0link\0missing";
	struct prefetch *p;
	int dfd, fd;

	CHECK(mkdtemp(dir) != NULL);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	memset(buf, 'x', sizeof(buf));
	for (const char *n = "a"; n; n = *n == 'a' ? "b" : NULL) {
		fd = openat(dfd, n, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0 && write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
		close(fd);
		evict(dfd, n);
	}
	CHECK(symlinkat("/etc/passwd", dfd, "link") == 0);
	CHECK_MSG(resident(dfd, "a") == 0 && resident(dfd, "b") == 0,
		  "the files start out of the page cache (%zu, %zu pages)", resident(dfd, "a"),
		  resident(dfd, "b"));

	p = prefetch_start();
	CHECK(p != NULL);
	prefetch_dir(p, dfd, names, sizeof(names));
	for (int i = 0; i < 200 && (resident(dfd, "a") < SIZE / 4096 ||
				    resident(dfd, "b") < SIZE / 4096); i++)
		usleep(10 * 1000);
	CHECK_MSG(resident(dfd, "a") == SIZE / 4096, "a is read ahead (%zu pages)",
		  resident(dfd, "a"));
	CHECK_MSG(resident(dfd, "b") == SIZE / 4096, "b is read ahead (%zu pages)",
		  resident(dfd, "b"));

	/* Requests still queued at stop are dropped and freed. */
	for (int i = 0; i < 200; i++)
		prefetch_dir(p, dfd, names, sizeof(names));
	prefetch_stop(p);
	prefetch_stop(NULL);
	prefetch_dir(NULL, dfd, names, sizeof(names));

	unlinkat(dfd, "a", 0);
	unlinkat(dfd, "b", 0);
	unlinkat(dfd, "link", 0);
	close(dfd);
	CHECK(rmdir(dir) == 0);
	UNIT_DONE();
}
