/*
 * test_vpack.c - the geometric merge rule: which packs a merge rolls up, and what that costs
 * over a long history (few packs, and the old history rewritten only now and then).
 */
#include "fs/vcs_int.h"
#include "tests/unit/unit.h"

#include <stdlib.h>

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	/* a progression already: nothing to roll up */
	uint32_t prog[] = {4, 10, 40, 100};
	CHECK_INT(vpack_geometric_split(prog, 4, 0), 0);
	CHECK_INT(vpack_geometric_split(prog, 1, 0), 0);
	CHECK_INT(vpack_geometric_split(NULL, 0, 0), 0);
	/* loose objects roll up with the smallest packs that are not twice what is below them */
	CHECK_INT(vpack_geometric_split(prog, 4, 3), 2); /* 3+4 < 2*10 */
	CHECK_INT(vpack_geometric_split(prog, 4, 30), 4);

	/* many small packs and one big one: the small ones go, the big one stays */
	uint32_t small[65];
	for (int i = 0; i < 64; i++)
		small[i] = 4;
	small[64] = 10000;
	CHECK_INT(vpack_geometric_split(small, 65, 0), 64);
	/* ...until together they are half its size */
	small[64] = 500;
	CHECK_INT(vpack_geometric_split(small, 65, 0), 65);

	/* 20,000 commits of 4 objects, a merge after every 64: simulate the packs */
	uint32_t packs[128];
	size_t n = 0, most = 0, full = 0;
	uint64_t rewritten = 0, total = 0;
	for (int round = 0; round < 20000 / 64; round++) {
		for (int i = 0; i < 64 && n < 128; i++)
			packs[n++] = 4;
		total += 64 * 4;
		qsort(packs, n, sizeof(*packs), cmp_u32);
		size_t roll = vpack_geometric_split(packs, n, 0);
		uint32_t merged = 0;

		for (size_t i = 0; i < roll; i++)
			merged += packs[i];
		rewritten += merged;
		full += roll == n;
		memmove(packs, packs + roll, (n - roll) * sizeof(*packs));
		n -= roll;
		packs[n++] = merged;
		if (n > most)
			most = n;
	}
	CHECK_MSG(most <= 16, "packs stay few (at most %zu)", most);
	CHECK_MSG(full <= 12, "the whole history is rewritten rarely (%zu times in 312 merges)",
		  full);
	CHECK_MSG(rewritten <= total * 12,
		  "each object is rewritten a few times, not once per merge (%.1f on average)",
		  (double)rewritten / (double)total);
	UNIT_DONE();
}
