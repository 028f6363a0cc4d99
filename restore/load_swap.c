/*
 * load_swap.c - after the load: check the kept object statements, call the caller's hook,
 * swap the tables in with one RENAME TABLE, put the objects in place, clean up.
 *
 * The commit point is the RENAME. Before it, any failure leaves the live database as it was
 * (the live triggers, which must be dropped for their tables to change database, are
 * re-created from SHOW CREATE TRIGGER if the RENAME fails). After it, a failure is reported
 * and the replaced tables stay in OLD. See load.h for the whole sequence and its window.
 */
#include "restore/load_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QQ (2 * RESTORE_QUOTED + 2) /* `db`.`name` */

enum { LIST_TABLES, LIST_VIEWS, LIST_TRIGGERS, LIST_ROUTINES, LIST_EVENTS };

/* Names in @schema, in a stable order; routines as "TYPE\tname". */
static int list(struct restore *r, int what, const char *schema, struct rnames *out, char *err,
		size_t errlen)
{
	static const char *const sql[] = {
	    [LIST_TABLES] = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA "
			     "= %s AND BINARY TABLE_SCHEMA = BINARY %s AND TABLE_TYPE <> 'VIEW' "
			     "ORDER BY BINARY TABLE_NAME"),
	    [LIST_VIEWS] = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
			    "%s AND BINARY TABLE_SCHEMA = BINARY %s AND TABLE_TYPE = 'VIEW' "
			    "ORDER BY BINARY TABLE_NAME"),
	    [LIST_TRIGGERS] = ("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE "
			       "TRIGGER_SCHEMA = %s AND BINARY TRIGGER_SCHEMA = BINARY %s ORDER BY "
			       "BINARY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, "
			       "ACTION_ORDER"),
	    [LIST_ROUTINES] = ("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES "
			       "WHERE ROUTINE_SCHEMA = %s AND BINARY ROUTINE_SCHEMA = BINARY %s "
			       "ORDER BY BINARY ROUTINE_NAME"),
	    [LIST_EVENTS] = ("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA "
			     "= %s AND BINARY EVENT_SCHEMA = BINARY %s ORDER BY BINARY EVENT_NAME"),
	};
	char lit[RESTORE_QUOTED], *q;
	int rc;

	restore_literal(r->coord, lit, schema);
	if (asprintf(&q, sql[what], lit, lit) < 0)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	rc = restore_query_names(r->coord, q, what == LIST_ROUTINES, out, err, errlen);
	free(q);
	return rc;
}

/* Every view, routine and trigger of @schema and every event of @events as "TYPE\tname". */
static int objects(struct restore *r, const char *schema, const char *events, struct rnames *out,
		   char *err, size_t errlen)
{
	static const char *const tag[] = {
	    [LIST_VIEWS] = "VIEW", [LIST_TRIGGERS] = "TRIGGER", [LIST_EVENTS] = "EVENT"};
	static const int what[] = {LIST_VIEWS, LIST_TRIGGERS, LIST_EVENTS};
	struct rnames n = {0};
	char *s;
	size_t i, k;
	int rc;

	rc = list(r, LIST_ROUTINES, schema, out, err, errlen);
	for (k = 0; !rc && k < 3; k++) {
		rc = list(r, what[k], what[k] == LIST_EVENTS ? events : schema, &n, err, errlen);
		for (i = 0; !rc && i < n.n; i++) {
			if (asprintf(&s, "%s\t%s", tag[what[k]], n.v[i]) < 0) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			rc = rnames_add(out, s);
			free(s);
		}
		rnames_free(&n);
	}
	return rc;
}

static int use(struct restore *r, const char *db, char *err, size_t errlen)
{
	if (!mysql_select_db(r->coord, db))
		return 0;
	snprintf(err, errlen, "USE %s: %s (error %u)", db, mysql_error(r->coord),
		 mysql_errno(r->coord));
	return restore_mysql_errno(r->coord);
}

/*
 * Run the kept statements in @db. Checking (@check): events go to OLD, which holds no table
 * yet, so one that fires finds nothing to act on.
 */
static int replay(struct restore *r, const char *db, bool check, char *err, size_t errlen)
{
	struct restore_stmt c;
	uint64_t h[3];
	char msg[RESTORE_MSG_MAX], *buf = NULL, *nb;
	size_t cap = 0;
	bool event;
	int rc = r->script ? use(r, db, err, errlen) : 0;

	if (rc || !r->script)
		return rc;
	rc = restore_session_defaults(r->coord, err, errlen);
	if (rc)
		return rc;
	rewind(r->script);
	while (!rc && fread(h, sizeof(h), 1, r->script) == 1) {
		if (h[2] + 1 > cap) {
			nb = realloc(buf, h[2] + 1);
			if (!nb) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = nb;
			cap = h[2] + 1;
		}
		if (fread(buf, 1, h[2], r->script) != h[2]) {
			rc = -EIO;
			snprintf(err, errlen, "reading back a temporary file");
			break;
		}
		buf[h[2]] = '\0';
		event = check && !restore_stmt_classify(buf, h[2], &r->guard, &c, msg, 1) &&
			c.kind == RESTORE_STMT_OBJECT && c.obj == RESTORE_OBJ_EVENT;
		rc = event ? use(r, r->old, err, errlen) : 0;
		if (!rc && (rc = restore_exec(r->coord, buf, h[2], NULL, msg, sizeof(msg))))
			snprintf(err, errlen, "statement %llu (line %llu): %.600s: %.100s",
				 (unsigned long long)h[0], (unsigned long long)h[1], msg, buf);
		if (!rc && event)
			rc = use(r, db, err, errlen);
	}
	if (!rc && ferror(r->script)) {
		rc = -EIO;
		snprintf(err, errlen, "reading back a temporary file");
	}
	free(buf);
	/* back to the session our own statements assume, whatever the dump's SETs left */
	if (!rc && (mysql_set_character_set(r->coord, "utf8mb4") ||
		    mysql_query(r->coord, "SET SESSION sql_mode = '', FOREIGN_KEY_CHECKS = 0"))) {
		snprintf(err, errlen, "resetting the session: %s", mysql_error(r->coord));
		rc = restore_mysql_errno(r->coord);
	}
	return rc;
}

struct saved_trigger {
	char *mode, *cs, *coll, *sql;
};

static void saved_free(struct saved_trigger *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].mode);
		free(t[i].cs);
		free(t[i].coll);
		free(t[i].sql);
	}
	free(t);
}

static bool plain_name(const char *s)
{
	return s && *s &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
		   strlen(s);
}

/* One live trigger's definition, read in its own client character set (as the dumper does). */
static int save_one(struct restore *r, const char *name, struct saved_trigger *t, char *err,
		    size_t errlen)
{
	char q[QQ], sql[QQ + 32];
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long *len;
	int rc;

	if (!plain_name(t->cs) || !plain_name(t->coll))
		return snprintf(err, errlen, "trigger %s: odd character set", name), -EIO;
	rc = restore_execf(r->coord, err, errlen, "SET character_set_results = %s", t->cs);
	if (rc)
		return rc;
	restore_ident(q, r->db->name);
	strcat(q, ".");
	restore_ident(q + strlen(q), name);
	snprintf(sql, sizeof(sql), "SHOW CREATE TRIGGER %s", q);
	if (mysql_query(r->coord, sql) || !(res = mysql_store_result(r->coord))) {
		snprintf(err, errlen, "%.300s: %.500s", sql, mysql_error(r->coord));
		rc = restore_mysql_errno(r->coord);
	} else if (!(row = mysql_fetch_row(res)) || mysql_num_fields(res) < 3 || !row[2]) {
		snprintf(err, errlen, "%.300s: no definition", sql);
		rc = -EIO;
	} else {
		len = mysql_fetch_lengths(res);
		t->sql = strndup(row[2], len[2]);
		rc = t->sql ? 0 : -ENOMEM;
	}
	if (res)
		mysql_free_result(res);
	return restore_execf(r->coord, err, errlen, "SET character_set_results = utf8mb4") ?: rc;
}

/* The live triggers, in firing order, with what re-creating them needs. */
static int save_triggers(struct restore *r, struct saved_trigger **out, struct rnames *names,
			 char *err, size_t errlen)
{
	struct rnames meta = {0};
	struct saved_trigger *t;
	char lit[RESTORE_QUOTED], *sql, *f[4], *p;
	size_t i, k;
	int rc;

	restore_literal(r->coord, lit, r->db->name);
	if (asprintf(&sql,
		     "SELECT CONCAT_WS('\\t', TRIGGER_NAME, SQL_MODE, CHARACTER_SET_CLIENT, "
		     "COLLATION_CONNECTION) FROM information_schema.TRIGGERS WHERE "
		     "TRIGGER_SCHEMA = %s AND BINARY TRIGGER_SCHEMA = BINARY %s ORDER BY "
		     "BINARY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, "
		     "ACTION_ORDER",
		     lit, lit) < 0)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	rc = restore_query_names(r->coord, sql, false, &meta, err, errlen);
	free(sql);
	*out = t = calloc(meta.n + 1, sizeof(*t));
	if (!rc && !t)
		rc = -ENOMEM;
	for (i = 0; !rc && i < meta.n; i++) {
		for (k = 0, p = meta.v[i]; k < 4; k++)
			f[k] = p ? strsep(&p, "\t") : NULL;
		if (!f[3] || rnames_add(names, f[0]) || !(t[i].mode = strdup(f[1])) ||
		    !(t[i].cs = strdup(f[2])) || !(t[i].coll = strdup(f[3]))) {
			rc = -ENOMEM;
			break;
		}
		rc = save_one(r, f[0], &t[i], err, errlen);
	}
	rnames_free(&meta);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* Put back the first @n saved triggers (the swap failed). */
static void restore_triggers(struct restore *r, struct saved_trigger *t, size_t n, char *err,
			     size_t errlen)
{
	char mode[2 * 1024 + 3], msg[512];
	size_t i;
	int rc = use(r, r->db->name, msg, sizeof(msg));

	for (i = 0; !rc && i < n; i++) {
		if (strlen(t[i].mode) > 1024)
			continue;
		restore_literal(r->coord, mode, t[i].mode);
		rc = restore_execf(r->coord, msg, sizeof(msg),
				   "SET SESSION sql_mode = %s, "
				   "character_set_client = %s, collation_connection = %s",
				   mode, t[i].cs, t[i].coll)
			 ?: restore_exec(r->coord, t[i].sql, strlen(t[i].sql), NULL, msg,
					 sizeof(msg));
	}
	restore_execf(r->coord, msg, sizeof(msg), "SET NAMES utf8mb4");
	if (rc) { /* say so after the first error */
		size_t k = strlen(err);

		snprintf(err + k, errlen - k,
			 "; re-creating the live triggers failed too (%s): "
			 "the pre-restore snapshot has them",
			 msg);
	}
}

/* Append "`a`.`b` TO `c`.`d`, " to the RENAME statement in *sql. */
static int rename_add(char **sql, size_t *len, const char *a, const char *b, const char *c,
		      const char *d)
{
	char qa[RESTORE_QUOTED], qb[RESTORE_QUOTED], qc[RESTORE_QUOTED], qd[RESTORE_QUOTED], *n;
	int k;

	restore_ident(qa, a);
	restore_ident(qb, b);
	restore_ident(qc, c);
	restore_ident(qd, d);
	k = asprintf(&n, "%s%s%s.%s TO %s.%s", *sql, *len ? ", " : "RENAME TABLE ", qa, qb, qc, qd);
	if (k < 0)
		return -ENOMEM;
	free(*sql);
	*sql = n;
	*len = (size_t)k;
	return 0;
}

/*
 * The commit point: drop the live triggers (saved), then one RENAME TABLE moves the live
 * tables to OLD, live views in the way aside, and the staged tables in. On failure the
 * triggers are put back and nothing else has changed.
 */
static int swap_tables(struct restore *r, struct rnames *aside, struct restore_stats *st, char *err,
		       size_t errlen)
{
	struct rnames staged = {0}, live = {0}, views = {0}, trig = {0};
	struct saved_trigger *saved = NULL;
	char *sql = calloc(1, 1), tmp[96], q[QQ];
	size_t len = 0, i, dropped = 0;
	const char *live_db = r->db->name;
	int rc = sql ? 0 : -ENOMEM;

	rc = rc ?: list(r, LIST_TABLES, r->stage, &staged, err, errlen);
	rc = rc ?: list(r, LIST_TABLES, live_db, &live, err, errlen);
	rc = rc ?: list(r, LIST_VIEWS, live_db, &views, err, errlen);
	for (i = 0; !rc && i < live.n; i++)
		rc = rename_add(&sql, &len, live_db, live.v[i], r->old, live.v[i]);
	for (i = 0; !rc && i < views.n; i++) {
		if (!rnames_has(&staged, views.v[i]))
			continue;
		snprintf(tmp, sizeof(tmp), "__statefs_view_%ld_%zu", (long)getpid(), aside->n + 1);
		rc = rnames_add(aside, tmp)
			 ?: rename_add(&sql, &len, live_db, views.v[i], live_db, tmp);
	}
	for (i = 0; !rc && i < staged.n; i++)
		rc = rename_add(&sql, &len, r->stage, staged.v[i], live_db, staged.v[i]);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	rc = rc
		 ?: restore_execf(r->coord, err, errlen, "SET SESSION lock_wait_timeout = %u",
				  r->opts.lock_wait_s);
	rc = rc ?: save_triggers(r, &saved, &trig, err, errlen);
	for (; !rc && dropped < trig.n; dropped++) {
		restore_ident(q, live_db);
		strcat(q, ".");
		restore_ident(q + strlen(q), trig.v[dropped]);
		rc = restore_execf(r->coord, err, errlen, "DROP TRIGGER %s", q);
	}
	if (!rc && len && (rc = restore_exec(r->coord, sql, len, NULL, err, errlen))) {
		size_t k = strlen(err);

		snprintf(err + k, errlen - k, " in the swap (RENAME TABLE of %zu tables)",
			 live.n + staged.n);
	}
	if (rc && dropped)
		restore_triggers(r, saved, dropped, err, errlen);
	st->tables = staged.n;
	st->replaced = live.n;
	saved_free(saved, trig.n);
	rnames_free(&staged);
	rnames_free(&live);
	rnames_free(&views);
	rnames_free(&trig);
	free(sql);
	return rc;
}

/*
 * After the swap: the live database's views, routines and events dropped (its triggers went
 * before the RENAME), then the dump's created by replaying the kept statements, so that the
 * live database ends with exactly the dump's objects and no name is taken twice.
 */
static int objects_in_place(struct restore *r, const struct rnames *aside, char *err, size_t errlen)
{
	struct rnames now = {0};
	char q[QQ];
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < aside->n; i++) {
		restore_ident(q, r->db->name);
		strcat(q, ".");
		restore_ident(q + strlen(q), aside->v[i]);
		rc = restore_execf(r->coord, err, errlen, "DROP VIEW IF EXISTS %s", q);
	}
	rc = rc ?: objects(r, r->db->name, r->db->name, &now, err, errlen);
	for (i = 0; !rc && i < now.n; i++) {
		char *tab = strchr(now.v[i], '\t');

		if (!tab)
			continue;
		*tab = '\0';
		restore_ident(q, r->db->name);
		strcat(q, ".");
		restore_ident(q + strlen(q), tab + 1);
		rc = restore_execf(r->coord, err, errlen, "DROP %s IF EXISTS %s", now.v[i], q);
	}
	rnames_free(&now);
	return rc ?: replay(r, r->db->name, false, err, errlen);
}

int restore_swap(struct restore *r, struct restore_stats *st, char *err, size_t errlen)
{
	struct rnames want = {0}, trig = {0}, aside = {0};
	char msg[RESTORE_MSG_MAX] = "", q[QQ];
	const char *name = r->db->name;
	bool committed = false;
	size_t i;
	int rc;

	rc = replay(r, r->stage, true, msg, sizeof(msg));
	if (rc) {
		snprintf(err, errlen,
			 "database %s: checking the views, routines, triggers and "
			 "events: %s",
			 name, msg);
		goto out;
	}
	rc = objects(r, r->stage, r->old, &want, msg, sizeof(msg))
		 ?: list(r, LIST_TRIGGERS, r->stage, &trig, msg, sizeof(msg));
	for (i = 0; !rc && i < trig.n; i++) {
		restore_ident(q, r->stage);
		strcat(q, ".");
		restore_ident(q + strlen(q), trig.v[i]);
		rc = restore_execf(r->coord, msg, sizeof(msg), "DROP TRIGGER %s", q);
	}
	st->objects = want.n;
	if (rc) {
		snprintf(err, errlen, "database %s: after the load: %s", name, msg);
		goto out;
	}
	if (r->opts.before_swap && (rc = r->opts.before_swap(r->opts.arg, msg, sizeof(msg)))) {
		rc = rc < 0 ? rc : -EIO;
		snprintf(err, errlen, "database %s: before the swap: %s", name, msg);
		goto out;
	}
	rc = swap_tables(r, &aside, st, msg, sizeof(msg));
	if (rc) {
		snprintf(err, errlen, "database %s: %s; the database is unchanged", name, msg);
		goto out;
	}
	committed = st->swapped = true;
	rc = objects_in_place(r, &aside, msg, sizeof(msg));
	if (rc)
		snprintf(err, errlen,
			 "database %s: the dump's tables are in place, but putting "
			 "its views, routines, triggers and events in place failed: %s; the "
			 "replaced tables are in database %s until the next clean-up (the "
			 "snapshot taken before the swap has them too)",
			 name, msg, r->old);
out:
	rnames_free(&want);
	rnames_free(&trig);
	rnames_free(&aside);
	if (!committed || !rc) {
		restore_drop_db(r->coord, r->old, msg, sizeof(msg));
		r->old[0] = '\0';
	}
	restore_drop_db(r->coord, r->stage, msg, sizeof(msg));
	r->stage[0] = '\0';
	return rc;
}
