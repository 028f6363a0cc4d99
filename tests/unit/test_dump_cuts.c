/*
 * test_dump_cuts.c - the dump's row cut rule (snapshot/dump.h): chunks end after rows chosen by
 * their own text, statements at a subset of those rows, at about the promised sizes.
 */
#include "snapshot/dump.h"
#include "tests/unit/unit.h"

#include <stdio.h>
#include <string.h>

#define ROWS 200000

/* A row's text as the dumper writes it: "(id,'text ...',n)". */
static size_t row(unsigned i, unsigned salt, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "(%u,'post_meta_%u value %u of some length',%u)", i,
				i * 7919u, salt, i % 97);
}

static void test_sizes_and_subset(void)
{
	unsigned long long bytes = 0, chunks = 0, stmts = 0, not_subset = 0;
	char buf[256];

	for (unsigned i = 0; i < ROWS; i++) {
		size_t n = row(i, 0, buf, sizeof(buf));
		bool c = dump_row_ends_chunk(buf, n), st = dump_row_ends_stmt(buf, n);

		bytes += n;
		chunks += c;
		stmts += st;
		not_subset += st && !c;
	}
	CHECK_MSG(!not_subset, "every statement end is a chunk end (%llu are not)", not_subset);
	CHECK_MSG(chunks && bytes / chunks > DUMP_CUT_AVG * 7 / 10 &&
		      bytes / chunks < DUMP_CUT_AVG * 13 / 10,
		  "chunks average about DUMP_CUT_AVG bytes (%llu)", chunks ? bytes / chunks : 0);
	CHECK_MSG(stmts && bytes / stmts > DUMP_STMT_AVG * 7 / 10 &&
		      bytes / stmts < DUMP_STMT_AVG * 13 / 10,
		  "statements average about DUMP_STMT_AVG bytes (%llu)", stmts ? bytes / stmts : 0);
}

/* A row of DUMP_CUT_AVG bytes or more always ends its chunk; of DUMP_STMT_AVG, its statement. */
static void test_big_rows(void)
{
	static char big[DUMP_STMT_AVG];

	memset(big, 'x', sizeof(big));
	CHECK(dump_row_ends_chunk(big, DUMP_CUT_AVG));
	CHECK(dump_row_ends_stmt(big, DUMP_STMT_AVG));
	CHECK(!dump_row_ends_stmt(big, DUMP_CUT_AVG) || dump_row_ends_chunk(big, DUMP_CUT_AVG));
}

int main(void)
{
	test_sizes_and_subset();
	test_big_rows();
	UNIT_DONE();
}
