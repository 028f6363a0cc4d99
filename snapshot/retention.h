/*
 * retention.h - which snapshots a retention policy keeps: pure logic, no I/O.
 *
 * The rules have restic's meaning (`restic forget --keep-*`, restic 0.17):
 *   keep-last N     the N newest snapshots;
 *   keep-daily N    for each of the last N days that have a snapshot, the newest snapshot of
 *                   that day; keep-weekly by ISO 8601 week (Monday to Sunday, the week's year
 *                   being its Thursday's), keep-monthly by calendar month;
 *   and as restic does, when a daily, weekly or monthly rule still has count left after the
 *   newest snapshot of every bucket, it keeps the oldest snapshot too ("oldest monthly"), so
 *   that a young store keeps its full history until the rule is filled.
 * A snapshot is kept if any rule keeps it. With no rule set (all counts 0), every snapshot is
 * kept.
 *
 * Days, weeks and months are those of the snapshot's name (YYYY-MM-DD, the local date when it
 * was taken, as the operator sees it under backups/); the order ("newest") is that of the
 * manifest's time, ties broken by name.
 *
 * Incomplete snapshots (a database was down, ...) take no part in the rules: they never fill a
 * day, week or month that a complete snapshot could fill. An incomplete snapshot is kept while
 * no complete snapshot is newer than it ("newest, incomplete"), so the latest attempt stays
 * visible until a complete one supersedes it, and if no complete snapshot exists at all nothing
 * is removed. Snapshots whose manifest cannot be read are kept and take no part either: prune
 * never decides on what it cannot read (check reports them).
 */
#ifndef STATEFS_RETENTION_H
#define STATEFS_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct retention_policy {
	unsigned keep_last, keep_daily, keep_weekly, keep_monthly; /* 0 = rule not used */
};

/* Why a snapshot is kept: bits of retention_item.why. 0 = removed. */
enum retention_why {
	RETENTION_LAST = 1u << 0,
	RETENTION_DAILY = 1u << 1,
	RETENTION_WEEKLY = 1u << 2,
	RETENTION_MONTHLY = 1u << 3,
	RETENTION_NO_POLICY = 1u << 4,	/* no rule is set: everything is kept */
	RETENTION_INCOMPLETE = 1u << 5, /* incomplete, and no complete snapshot is newer */
	RETENTION_UNREADABLE = 1u << 6, /* its manifest could not be read */
};

struct retention_item {
	/* In: */
	const char *name; /* a valid snapshot name (manifest_name_valid) */
	int64_t time;	  /* when it began (the manifest's time): orders the snapshots */
	bool incomplete;  /* the manifest says "status incomplete" */
	bool unreadable;  /* the manifest could not be read (time may then come from the name) */
	/* Out: */
	unsigned why;	 /* RETENTION_* bits; 0 = not kept */
	unsigned oldest; /* of why's DAILY/WEEKLY/MONTHLY bits, those that keep it only as the
			  * oldest snapshot (restic's "oldest daily") */
};

/* Is any rule set? */
bool retention_policy_set(const struct retention_policy *p);

/*
 * Decide for each of the @n items (in any order; they are not reordered) whether @p keeps it,
 * setting why and oldest. 0; -EINVAL with a message if a name is not a snapshot name;
 * -ENOMEM.
 */
int retention_apply(const struct retention_policy *p, struct retention_item *v, size_t n, char *err,
		    size_t errlen);

/*
 * Why @it is kept, for the operator: "daily, weekly, oldest monthly", "newest, incomplete",
 * "no policy", "unreadable manifest", or "" when it is not kept. Truncated to @len.
 */
void retention_why_str(const struct retention_item *it, char *buf, size_t len);

/*
 * The buckets of a snapshot name: *day (days since 1970-01-01), *week (ISO year * 100 + ISO
 * week), *month (year * 12 + month - 1). 0 or -EINVAL for a name that is not a snapshot name.
 */
int retention_buckets(const char *name, int64_t *day, int64_t *week, int64_t *month);

#endif
