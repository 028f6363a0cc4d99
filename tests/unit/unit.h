/*
 * unit.h - the smallest test harness that does the job.
 *
 * Each unit test is one binary; every CHECK prints a TAP line ("ok N - ..." or "not ok N - ...")
 * and UNIT_DONE() prints "N passed, N failed" and returns the exit status. tests/run adds up
 * the TAP lines of every test binary and script.
 */
#ifndef STATEFS_UNIT_H
#define STATEFS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
			printf("ok %d - ", unit_passed + unit_failed);                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("not ok %d - %s:%d: ", unit_passed + unit_failed, __FILE__,         \
			       __LINE__);                                                          \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

#define CHECK(cond) CHECK_MSG(cond, "%s", #cond)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "%s == \"%s\" (got \"%s\")", #a,        \
			  b_ ? b_ : "(null)", a_ ? a_ : "(null)");                                 \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		CHECK_MSG(a_ == b_, "%s == %lld (got %lld)", #a, b_, a_);                          \
	} while (0)

#define UNIT_DONE()                                                                                \
	do {                                                                                       \
		printf("%d passed, %d failed\n", unit_passed, unit_failed);                        \
		return unit_failed ? 1 : 0;                                                        \
	} while (0)

#endif
