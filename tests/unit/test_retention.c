/*
 * test_retention.c - the retention policy on made-up dates: restic's keep-last/daily/weekly/
 * monthly (60 dailies under 7/4/12 keep exactly the expected set, the oldest kept while a rule
 * has count left), the newest of two snapshots on one day, ISO weeks across year ends,
 * incomplete and unreadable snapshots, no policy, input order not mattering.
 */
#include "snapshot/retention.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define MAXN 512

static struct retention_item items[MAXN];
static char names[MAXN][24];
static size_t nitems;
static char err[256];

/* The time of a name, in UTC (only the order matters here). */
static int64_t time_of(const char *name)
{
	struct tm tm = {0};

	sscanf(name, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (name[10] == '_')
		sscanf(name + 11, "%2d%2d%2d", &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	else
		tm.tm_hour = 3; /* the nightly run */
	return (int64_t)timegm(&tm);
}

static struct retention_item *add(const char *name)
{
	struct retention_item *it = &items[nitems];

	snprintf(names[nitems], sizeof(names[0]), "%s", name);
	*it = (struct retention_item){.name = names[nitems], .time = time_of(name)};
	nitems++;
	return it;
}

/* @n consecutive days ending with @y-@m-@d, newest last. */
static void add_days(int y, int m, int d, int n)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
	time_t end = timegm(&tm);

	for (int i = n - 1; i >= 0; i--) {
		time_t t = end - (time_t)i * 86400;
		char name[24];

		gmtime_r(&t, &tm);
		strftime(name, sizeof(name), "%Y-%m-%d", &tm);
		add(name);
	}
}

static void reset(void)
{
	nitems = 0;
}

static const struct retention_item *find(const char *name)
{
	for (size_t i = 0; i < nitems; i++)
		if (!strcmp(items[i].name, name))
			return &items[i];
	return NULL;
}

static int cmp_desc(const void *a, const void *b)
{
	return strcmp(*(const char *const *)b, *(const char *const *)a);
}

/* The kept names, newest (by name) first, space-separated. */
static const char *kept(void)
{
	static char buf[8192];
	const char *v[MAXN];
	size_t n = 0, used = 0;

	for (size_t i = 0; i < nitems; i++)
		if (items[i].why)
			v[n++] = items[i].name;
	qsort(v, n, sizeof(v[0]), cmp_desc);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used +=
		    (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? " " : "", v[i]);
	return buf;
}

static const char *why(const char *name)
{
	static char buf[128];
	const struct retention_item *it = find(name);

	if (!it)
		return "(no such item)";
	retention_why_str(it, buf, sizeof(buf));
	return buf;
}

static int apply(unsigned last, unsigned daily, unsigned weekly, unsigned monthly)
{
	struct retention_policy p = {last, daily, weekly, monthly};

	return retention_apply(&p, items, nitems, err, sizeof(err));
}

static void test_buckets(void)
{
	static const struct {
		const char *name;
		int64_t week;
	} cases[] = {
	    {"2021-01-03", 202053}, {"2021-01-04", 202101}, {"2024-12-30", 202501},
	    {"2026-01-01", 202601}, {"2027-01-01", 202653}, {"2020-12-31", 202053},
	    {"2000-02-29", 200009}, {"1970-01-01", 197001}, {"2026-03-01_235959", 202609},
	};
	int64_t d, w, m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(retention_buckets(cases[i].name, &d, &w, &m), 0);
		CHECK_MSG(w == cases[i].week, "ISO week of %s is %lld (got %lld)", cases[i].name,
			  (long long)cases[i].week, (long long)w);
	}
	CHECK_INT(retention_buckets("1970-01-02", &d, &w, &m), 0);
	CHECK_INT(d, 1);
	CHECK_INT(m, 1970 * 12);
	CHECK_INT(retention_buckets("2026-12-31_120000", &d, &w, &m), 0);
	CHECK_INT(m, 2026 * 12 + 11);
	CHECK_INT(retention_buckets("2026-02-30", &d, &w, &m), -EINVAL);
	CHECK_INT(retention_buckets("tmp.x", &d, &w, &m), -EINVAL);
}

/* restic's example policy on 60 dailies, 2026-01-01 (a Thursday) to 2026-03-01 (a Sunday). */
static void test_sixty_dailies(void)
{
	reset();
	add_days(2026, 3, 1, 60);
	CHECK_INT(nitems, 60);
	CHECK_STR(items[0].name, "2026-01-01");
	CHECK_INT(apply(0, 7, 4, 12), 0);
	/*
	 * daily 7: 03-01 .. 02-23; weekly 4: the Sundays ending ISO weeks 9, 8, 7, 6 (03-01,
	 * 02-22, 02-15, 02-08); monthly 12: the last day of March (so far), February, January,
	 * and with 9 months left, the oldest snapshot.
	 */
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27 2026-02-26 2026-02-25 2026-02-24 "
			  "2026-02-23 2026-02-22 2026-02-15 2026-02-08 2026-01-31 2026-01-01");
	CHECK_STR(why("2026-03-01"), "daily, weekly, monthly");
	CHECK_STR(why("2026-02-28"), "daily, monthly");
	CHECK_STR(why("2026-02-23"), "daily");
	CHECK_STR(why("2026-02-22"), "weekly");
	CHECK_STR(why("2026-01-31"), "monthly");
	CHECK_STR(why("2026-01-01"), "oldest monthly");
	CHECK_STR(why("2026-01-02"), "");

	/* The same with keep-last 10 on top: the 10 newest, nothing else changes. */
	CHECK_INT(apply(10, 7, 4, 12), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27 2026-02-26 2026-02-25 2026-02-24 "
			  "2026-02-23 2026-02-22 2026-02-21 2026-02-20 2026-02-15 2026-02-08 "
			  "2026-01-31 2026-01-01");
	CHECK_STR(why("2026-02-20"), "last");
	CHECK_STR(why("2026-02-22"), "last, weekly");

	/* Filled rules keep no oldest: keep-monthly 2 stops at February. */
	CHECK_INT(apply(0, 0, 0, 2), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28");

	/* keep-last alone. */
	CHECK_INT(apply(3, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27");
	CHECK_STR(why("2026-02-27"), "last");

	/* A rule larger than the history keeps everything it can see. */
	CHECK_INT(apply(0, 100, 0, 0), 0);
	CHECK_INT(strlen(kept()), 60 * 11 - 1);
}

static void test_same_day(void)
{
	reset();
	add("2026-02-27");
	add("2026-02-28");
	add("2026-03-01_180000"); /* listed before the earlier one: order of input is no order */
	add("2026-03-01");
	CHECK_INT(apply(0, 1, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000");
	CHECK_INT(apply(0, 2, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000 2026-02-28");
	/* The oldest is kept while the rule has count left, as in restic. */
	CHECK_INT(apply(0, 5, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000 2026-02-28 2026-02-27");
	CHECK_STR(why("2026-02-27"), "daily");
	/* All four are in ISO week 9: weekly 1 is filled at once, weekly 2 keeps the oldest. */
	CHECK_INT(apply(0, 0, 1, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000");
	CHECK_INT(apply(0, 0, 2, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000 2026-02-27");
	CHECK_STR(why("2026-02-27"), "oldest weekly");

	/* Time orders, not the name: a manifest time later than its name says still counts. */
	reset();
	add("2026-03-01")->time += 20 * 3600;
	add("2026-03-01_180000");
	CHECK_INT(apply(0, 1, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01");
	/* Equal times: the name decides. */
	items[0].time = items[1].time;
	CHECK_INT(apply(1, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01_180000");
}

static void test_year_end(void)
{
	reset();
	add_days(2021, 1, 10, 14); /* 2020-12-28 (Monday of 2020-W53) .. 2021-01-10 */
	CHECK_STR(items[0].name, "2020-12-28");
	CHECK_INT(apply(0, 0, 3, 0), 0);
	CHECK_STR(kept(), "2021-01-10 2021-01-03 2020-12-28");
	CHECK_STR(why("2021-01-03"), "weekly");
	CHECK_STR(why("2020-12-28"), "oldest weekly");
	CHECK_INT(apply(0, 0, 0, 2), 0);
	CHECK_STR(kept(), "2021-01-10 2020-12-31");
	CHECK_INT(apply(0, 0, 0, 3), 0);
	CHECK_STR(kept(), "2021-01-10 2020-12-31 2020-12-28");
	CHECK_STR(why("2020-12-28"), "oldest monthly");
}

static void test_incomplete(void)
{
	reset();
	add("2026-02-26");
	add("2026-02-27");
	add("2026-02-28")->incomplete = true;
	add("2026-03-01")->incomplete = true;
	CHECK_INT(apply(0, 7, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27 2026-02-26");
	CHECK_STR(why("2026-03-01"), "newest, incomplete");
	CHECK_STR(why("2026-02-28"), "newest, incomplete");
	CHECK_STR(why("2026-02-26"), "daily");

	/* A complete snapshot after them supersedes both; they filled no day. */
	add("2026-03-02");
	CHECK_INT(apply(0, 7, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-02 2026-02-27 2026-02-26");
	CHECK_INT(apply(2, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-02 2026-02-27");

	/* An incomplete one on the day of a complete one, taken later: kept while it is newest. */
	add("2026-03-02_120000")->incomplete = true;
	CHECK_INT(apply(0, 1, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-02_120000 2026-03-02");

	/* Nothing complete at all: nothing is removed. */
	reset();
	add("2026-02-28")->incomplete = true;
	add("2026-03-01")->incomplete = true;
	CHECK_INT(apply(1, 1, 1, 1), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28");
}

static void test_unreadable_and_no_policy(void)
{
	struct retention_item *bad;

	reset();
	add_days(2026, 3, 1, 5);
	bad = &items[3]; /* 2026-02-28 */
	bad->unreadable = true;
	CHECK_INT(apply(1, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28");
	CHECK_STR(why("2026-02-28"), "unreadable manifest");
	/* The unreadable one is not counted: keep-last 2 keeps two readable ones. */
	CHECK_INT(apply(2, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27");

	CHECK_INT(apply(0, 0, 0, 0), 0);
	CHECK_STR(kept(), "2026-03-01 2026-02-28 2026-02-27 2026-02-26 2026-02-25");
	CHECK_STR(why("2026-02-26"), "no policy");
	CHECK(!retention_policy_set(&(struct retention_policy){0, 0, 0, 0}));
	CHECK(retention_policy_set(&(struct retention_policy){0, 0, 0, 1}));

	/* Empty input, and a bad name. */
	CHECK_INT(
	    retention_apply(&(struct retention_policy){1, 1, 1, 1}, items, 0, err, sizeof(err)), 0);
	reset();
	add("2026-03-01");
	snprintf(names[0], sizeof(names[0]), "2026-3-1");
	CHECK_INT(apply(1, 0, 0, 0), -EINVAL);
	CHECK(strstr(err, "2026-3-1") != NULL);
}

static void test_why_str_truncates(void)
{
	struct retention_item it = {.why = RETENTION_LAST | RETENTION_DAILY | RETENTION_WEEKLY,
				    .oldest = RETENTION_WEEKLY};
	char small[9];
	char buf[64];

	retention_why_str(&it, buf, sizeof(buf));
	CHECK_STR(buf, "last, daily, oldest weekly");
	retention_why_str(&it, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
}

int main(void)
{
	test_buckets();
	test_sixty_dailies();
	test_same_day();
	test_year_end();
	test_incomplete();
	test_unreadable_and_no_policy();
	test_why_str_truncates();
	UNIT_DONE();
}
