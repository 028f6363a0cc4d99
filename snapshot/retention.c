/*
 * retention.c - the retention policy (see retention.h): restic's keep-last/daily/weekly/monthly.
 *
 * What a newcomer must know: like restic's ApplyPolicy, each rule walks the snapshots newest
 * first and keeps a snapshot when its bucket (the snapshot itself, its day, ISO week or month)
 * differs from the bucket of the last snapshot that rule kept, until the rule's count runs
 * out; the oldest snapshot is kept by every rule that still has count left. Calendar buckets
 * come from the snapshot's name, by integer arithmetic, so no time zone is involved here.
 */
#include "snapshot/retention.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/manifest.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int retention_buckets(const char *name, int64_t *day, int64_t *week, int64_t *month)
{
	int y, m, d, wd;
	int64_t days, thu, iso_year;

	if (!name || !manifest_name_valid(name))
		return -EINVAL;
	y = num(name, 4);
	m = num(name + 5, 2);
	d = num(name + 8, 2);
	days = days_from_civil(y, m, d);
	/* ISO weekday, Monday = 1 ... Sunday = 7; 1970-01-01 was a Thursday. */
	wd = (int)(((days % 7) + 7 + 3) % 7) + 1;
	/* The ISO week belongs to the year of its Thursday. */
	thu = days - (wd - 1) + 3;
	iso_year = y;
	if (thu < days_from_civil(y, 1, 1))
		iso_year = y - 1;
	else if (thu >= days_from_civil(y + 1, 1, 1))
		iso_year = y + 1;
	*day = days;
	*week = iso_year * 100 + (thu - days_from_civil(iso_year, 1, 1)) / 7 + 1;
	*month = (int64_t)y * 12 + m - 1;
	return 0;
}

bool retention_policy_set(const struct retention_policy *p)
{
	return p->keep_last || p->keep_daily || p->keep_weekly || p->keep_monthly;
}

/* Newest first: by time, then by name (names sort by time). */
static int newer_first(const struct retention_item *a, const struct retention_item *b)
{
	int c;

	if (a->time != b->time)
		return a->time > b->time ? -1 : 1;
	c = strcmp(a->name, b->name);
	return c > 0 ? -1 : c < 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	return newer_first(*(struct retention_item *const *)a, *(struct retention_item *const *)b);
}

struct rule {
	unsigned bit;
	unsigned left; /* how many more buckets it may keep */
	bool have_last;
	int64_t last; /* the bucket of the last snapshot it kept */
};

int retention_apply(const struct retention_policy *p, struct retention_item *v, size_t n, char *err,
		    size_t errlen)
{
	struct rule rules[] = {
	    {RETENTION_LAST, p->keep_last, false, 0},
	    {RETENTION_DAILY, p->keep_daily, false, 0},
	    {RETENTION_WEEKLY, p->keep_weekly, false, 0},
	    {RETENTION_MONTHLY, p->keep_monthly, false, 0},
	};
	const struct retention_item *newest_complete = NULL;
	struct retention_item **ord;
	size_t nord = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t d, w, m;

		if (retention_buckets(v[i].name, &d, &w, &m)) {
			snprintf(err, errlen, "retention: '%s' is not a snapshot name",
				 v[i].name ? v[i].name : "(null)");
			return -EINVAL;
		}
		v[i].why = 0;
		v[i].oldest = 0;
	}
	if (!retention_policy_set(p)) {
		for (size_t i = 0; i < n; i++)
			v[i].why = RETENTION_NO_POLICY;
		return 0;
	}
	ord = malloc((n ? n : 1) * sizeof(*ord));
	if (!ord) {
		snprintf(err, errlen, "retention: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i].incomplete && !v[i].unreadable)
			ord[nord++] = &v[i];
	qsort(ord, nord, sizeof(*ord), cmp_ptr);

	for (size_t k = 0; k < nord; k++) {
		struct retention_item *it = ord[k];
		int64_t b[4];

		retention_buckets(it->name, &b[1], &b[2], &b[3]);
		b[0] = (int64_t)k; /* keep-last: every snapshot is its own bucket */
		for (size_t r = 0; r < 4; r++) {
			struct rule *ru = &rules[r];
			bool same = ru->have_last && ru->last == b[r];

			if (!ru->left || (same && k != nord - 1))
				continue;
			it->why |= ru->bit;
			if (same)
				it->oldest |= ru->bit;
			ru->have_last = true;
			ru->last = b[r];
			ru->left--;
		}
	}
	if (nord)
		newest_complete = ord[0];
	free(ord);

	for (size_t i = 0; i < n; i++) {
		if (v[i].unreadable)
			v[i].why = RETENTION_UNREADABLE;
		else if (v[i].incomplete &&
			 (!newest_complete || newer_first(&v[i], newest_complete) < 0))
			v[i].why = RETENTION_INCOMPLETE;
	}
	return 0;
}

void retention_why_str(const struct retention_item *it, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {RETENTION_LAST, "last"},
	    {RETENTION_DAILY, "daily"},
	    {RETENTION_WEEKLY, "weekly"},
	    {RETENTION_MONTHLY, "monthly"},
	    {RETENTION_NO_POLICY, "no policy"},
	    {RETENTION_INCOMPLETE, "newest, incomplete"},
	    {RETENTION_UNREADABLE, "unreadable manifest"},
	};
	size_t used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int k;

		if (!(it->why & names[i].bit))
			continue;
		k = snprintf(buf + used, len - used, "%s%s%s", used ? ", " : "",
			     (it->oldest & names[i].bit) ? "oldest " : "", names[i].name);
		if (k < 0 || (size_t)k >= len - used)
			return;
		used += (size_t)k;
	}
}
