/*
 * dump_schema.c - everything in a dump but the rows: the table list, the header, each table's
 * DDL, and the trailer (routines, views, triggers, events, footer). dump.h gives the order.
 *
 * Definitions are copied from SHOW CREATE, with the session settings they were created under
 * (sql_mode, character_set_client, collation_connection, an event's time_zone) set around them
 * and restored after, as mariadb-dump does. A definition is written in its own client character
 * set: one created by a latin1 client is fetched again with character_set_results = latin1, so
 * the bytes the restoring client sends are read back as the same characters.
 */
#include "snapshot/dump_int.h"

#include <errno.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void dump_names_free(struct dump_names *n)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int names_add(struct dump_names *n, const char *s)
{
	char **v;

	v = realloc(n->v, (n->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	n->v = v;
	v[n->n] = strdup(s);
	if (!v[n->n])
		return -ENOMEM;
	n->n++;
	return 0;
}

static int oom(const char *db, char *err, size_t errlen)
{
	return dump_fail(err, errlen, -ENOMEM, "database %s: out of memory", db);
}

int dump_list_tables(MYSQL *m, const char *db, struct dump_names *tables, bool **is_seq,
		     struct dump_names *views, char *err, size_t errlen)
{
	struct dump_names seqs = {0};
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	size_t i;
	int rc;

	*is_seq = NULL;
	rc = dump_query(m, db, "SHOW FULL TABLES", &res, err, errlen);
	if (rc)
		return rc;
	while (!rc && (row = mysql_fetch_row(res))) {
		if (!row[0] || !row[1])
			continue;
		if (!strcmp(row[1], "VIEW"))
			rc = names_add(views, row[0]);
		else if (!strcmp(row[1], "SEQUENCE"))
			rc = names_add(&seqs, row[0]) ?: names_add(tables, row[0]);
		else
			rc = names_add(tables, row[0]); /* BASE TABLE, SYSTEM VERSIONED */
	}
	mysql_free_result(res);
	if (rc)
		goto out;
	if (tables->n)
		qsort(tables->v, tables->n, sizeof(char *), cmp_str);
	if (views->n)
		qsort(views->v, views->n, sizeof(char *), cmp_str);
	if (seqs.n)
		qsort(seqs.v, seqs.n, sizeof(char *), cmp_str);
	*is_seq = calloc(tables->n + 1, sizeof(bool));
	if (!*is_seq) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; seqs.n && i < tables->n; i++)
		(*is_seq)[i] = bsearch(&tables->v[i], seqs.v, seqs.n, sizeof(char *), cmp_str);
out:
	dump_names_free(&seqs);
	return rc ? oom(db, err, errlen) : 0;
}

static const char header_sql[] =
    "SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT;\n"
    "SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS;\n"
    "SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION;\n"
    "SET NAMES utf8mb4;\n"
    "SET @OLD_TIME_ZONE=@@TIME_ZONE;\n"
    "SET TIME_ZONE='+00:00';\n"
    "SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0;\n"
    "SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0;\n"
    "SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO';\n"
    "SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0;\n";

static const char footer_sql[] = "\nSET TIME_ZONE=@OLD_TIME_ZONE;\n"
				 "SET SQL_MODE=@OLD_SQL_MODE;\n"
				 "SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;\n"
				 "SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;\n"
				 "SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT;\n"
				 "SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS;\n"
				 "SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION;\n"
				 "SET SQL_NOTES=@OLD_SQL_NOTES;\n"
				 "\n-- statefs: dump complete\n";

int dump_header(MYSQL *m, const char *db, struct dump_out *o, char *err, size_t errlen)
{
	int rc;

	rc = dbuf_printf(&o->buf, "-- statefs %s dump of database `%s`, server %s\n\n",
			 STATEFS_VERSION, db, mysql_get_server_info(m))
		 ?: dbuf_puts(&o->buf, header_sql);
	if (rc)
		return oom(db, err, errlen);
	return dout_cut(o);
}

/* The kinds of object that SHOW CREATE describes; col_* are columns of its answer, -1: none. */
struct kind {
	const char *label, *what; /* "Function", "FUNCTION" */
	int col_create, col_mode, col_tz, col_cs, col_coll;
	bool delimiter; /* a compound body: wrap in DELIMITER lines */
};

static const struct kind k_table = {"Table", "TABLE", 1, -1, -1, -1, -1, false};
static const struct kind k_sequence = {"Sequence", "SEQUENCE", 1, -1, -1, -1, -1, false};
static const struct kind k_view = {"View", "VIEW", 1, -1, -1, 2, 3, false};
static const struct kind k_trigger = {"Trigger", "TRIGGER", 2, 1, -1, 3, 4, true};
static const struct kind k_event = {"Event", "EVENT", 3, 1, 2, 4, 5, true};
static const struct kind k_routines[] = {
    {"Function", "FUNCTION", 2, 1, -1, 3, 4, true},
    {"Procedure", "PROCEDURE", 2, 1, -1, 3, 4, true},
    {"Package", "PACKAGE", 2, 1, -1, 3, 4, true},
    {"Package body", "PACKAGE BODY", 2, 1, -1, 3, 4, true},
};

struct def {
	char *name, *create, *mode, *tz, *cs, *coll;
};

static void def_free(struct def *d)
{
	free(d->name);
	free(d->create);
	free(d->mode);
	free(d->tz);
	free(d->cs);
	free(d->coll);
	memset(d, 0, sizeof(*d));
}

static bool utf8_cs(const char *cs)
{
	return !strcasecmp(cs, "utf8mb4") || !strcasecmp(cs, "utf8mb3") ||
	       !strcasecmp(cs, "utf8") || !strcasecmp(cs, "ascii");
}

/* A character set or collation name goes into the dump unquoted: letters, digits, '_' only. */
static bool plain_name(const char *s)
{
	return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
			 strlen(s);
}

static int show_create(MYSQL *m, const char *db, const struct kind *k, const char *name,
		       struct def *d, char *err, size_t errlen)
{
	struct dbuf q = {0};
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	char what[80];
	int rc, i;
	char **slot[] = {&d->create, &d->mode, &d->tz, &d->cs, &d->coll};
	int cols[] = {k->col_create, k->col_mode, k->col_tz, k->col_cs, k->col_coll};

	snprintf(what, sizeof(what), "SHOW CREATE %s ", k->what);
	rc = dbuf_puts(&q, what) ?: dbuf_ident(&q, name);
	if (rc)
		return oom(db, err, errlen);
	rc = dump_query(m, db, q.p, &res, err, errlen);
	if (rc)
		goto out;
	row = mysql_fetch_row(res);
	if (!row || (int)mysql_num_fields(res) <= k->col_create || !row[k->col_create]) {
		rc = dump_fail(err, errlen, -EACCES,
			       "database %s: %s: no definition returned (missing privilege?)", db,
			       q.p);
		goto out;
	}
	for (i = 0; i < 5; i++) {
		free(*slot[i]);
		*slot[i] = NULL;
		if (cols[i] < 0 || cols[i] >= (int)mysql_num_fields(res) || !row[cols[i]])
			continue;
		*slot[i] = strdup(row[cols[i]]);
		if (!*slot[i]) {
			rc = oom(db, err, errlen);
			goto out;
		}
	}
	if ((d->cs && !plain_name(d->cs)) || (d->coll && !plain_name(d->coll)))
		rc = dump_fail(err, errlen, -EIO, "database %s: %s: odd character set name", db,
			       q.p);
out:
	if (res)
		mysql_free_result(res);
	dbuf_free(&q);
	return rc;
}

/* The object was dropped since it was listed. */
static bool gone(unsigned code)
{
	return code == ER_NO_SUCH_TABLE || code == ER_SP_DOES_NOT_EXIST ||
	       code == ER_TRG_DOES_NOT_EXIST || code == ER_EVENT_DOES_NOT_EXIST;
}

/*
 * Fetch a definition, in its own client character set when that is not a UTF-8 one.
 * 1 if the object is gone (dropped since it was listed): it is left out of the dump.
 */
static int fetch_def(MYSQL *m, const char *db, const struct kind *k, const char *name,
		     struct def *d, char *err, size_t errlen)
{
	char sql[128];
	int rc, rc2;

	d->name = strdup(name);
	if (!d->name)
		return oom(db, err, errlen);
	rc = show_create(m, db, k, name, d, err, errlen);
	if (rc && gone(mysql_errno(m))) {
		if (errlen)
			err[0] = '\0';
		return 1;
	}
	if (rc || !d->cs || utf8_cs(d->cs))
		return rc;
	snprintf(sql, sizeof(sql), "SET character_set_results = %s", d->cs);
	rc = dump_exec(m, db, sql, err, errlen);
	if (rc)
		return rc;
	rc = show_create(m, db, k, name, d, err, errlen);
	rc2 = dump_exec(m, db, "SET character_set_results = utf8mb4", err, errlen);
	return rc ?: rc2;
}

/* A DELIMITER that does not occur in @text. */
static const char *pick_delimiter(const char *text)
{
	static const char *const cands[] = {";;", "$$", "//", "!!", "%%", ";;;;;;;;;;;;"};
	size_t i;

	for (i = 0; i < sizeof(cands) / sizeof(cands[0]) - 1; i++)
		if (!strstr(text, cands[i]))
			break;
	return cands[i];
}

/* A name inside a -- comment: a newline in it must not end the comment. */
static int comment_ident(struct dbuf *b, const char *name)
{
	size_t start = b->len, i;
	int rc;

	rc = dbuf_ident(b, name);
	for (i = start; !rc && i < b->len; i++)
		if ((unsigned char)b->p[i] < 0x20 || b->p[i] == 0x7f)
			b->p[i] = '?';
	return rc;
}

static const char save_sql[] = "SET @saved_sql_mode=@@SQL_MODE, @saved_time_zone=@@TIME_ZONE, "
			       "@saved_cs_client=@@CHARACTER_SET_CLIENT, "
			       "@saved_cs_results=@@CHARACTER_SET_RESULTS, "
			       "@saved_col_connection=@@COLLATION_CONNECTION;\n";
static const char restore_sql[] = "SET SQL_MODE=@saved_sql_mode, TIME_ZONE=@saved_time_zone, "
				  "CHARACTER_SET_CLIENT=@saved_cs_client, "
				  "CHARACTER_SET_RESULTS=@saved_cs_results, "
				  "COLLATION_CONNECTION=@saved_col_connection;\n";

/* SET SQL_MODE='..', TIME_ZONE='..', CHARACTER_SET_CLIENT=..: what the object was made under. */
static int add_settings(struct dbuf *b, MYSQL *m, const struct def *d)
{
	int rc;

	rc = dbuf_puts(b, save_sql) ?: dbuf_puts(b, "SET ");
	if (!rc && d->mode)
		rc = dbuf_puts(b, "SQL_MODE=") ?: dbuf_str(b, m, d->mode, strlen(d->mode));
	if (!rc && d->tz)
		rc = dbuf_puts(b, d->mode ? ", TIME_ZONE=" : "TIME_ZONE=")
			 ?: dbuf_str(b, m, d->tz, strlen(d->tz));
	if (!rc && d->cs)
		rc = dbuf_printf(b,
				 "%sCHARACTER_SET_CLIENT=%s, CHARACTER_SET_RESULTS=%s, "
				 "COLLATION_CONNECTION=%s",
				 d->mode || d->tz ? ", " : "", d->cs, d->cs,
				 d->coll ? d->coll : d->cs);
	return rc ?: dbuf_puts(b, ";\n");
}

/* One object: a comment, DROP .. IF EXISTS, its settings, its CREATE, the settings back. */
static int emit_def(MYSQL *m, const struct kind *k, const struct def *d, struct dump_out *o)
{
	const char *drop = k == &k_sequence ? "SEQUENCE" : k == &k_table ? "TABLE" : k->what;
	bool settings = d->mode || d->cs || d->tz;
	const char *delim = k->delimiter ? pick_delimiter(d->create) : ";";
	struct dbuf *b = &o->buf;
	int rc;

	rc = dbuf_printf(b, "\n--\n-- %s ", k->label) ?: comment_ident(b, d->name);
	rc = rc ?: dbuf_printf(b, "\n--\n\nDROP %s IF EXISTS ", drop);
	rc = rc ?: dbuf_ident(b, d->name) ?: dbuf_puts(b, ";\n");
	if (!rc && settings)
		rc = add_settings(b, m, d);
	if (!rc && k->delimiter)
		rc = dbuf_printf(b, "DELIMITER %s\n", delim);
	rc = rc ?: dbuf_printf(b, "%s%s\n", d->create, delim);
	if (!rc && k->delimiter)
		rc = dbuf_puts(b, "DELIMITER ;\n");
	if (!rc && settings)
		rc = dbuf_puts(b, restore_sql);
	return rc;
}

int dump_table_ddl(MYSQL *m, const char *db, const char *table, bool is_seq, struct dump_out *o,
		   char *err, size_t errlen)
{
	const struct kind *k = is_seq ? &k_sequence : &k_table;
	struct def d = {0};
	int rc;

	rc = fetch_def(m, db, k, table, &d, err, errlen);
	if (rc)
		goto out;
	rc = emit_def(m, k, &d, o);
	if (rc) {
		rc = oom(db, err, errlen);
		goto out;
	}
	rc = dout_cut(o);
out:
	def_free(&d);
	return rc;
}

/* Names from a one-column query, in the order it gives. */
static int list_names(MYSQL *m, const char *db, const char *sql, struct dump_names *out, char *err,
		      size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	rc = dump_query(m, db, sql, &res, err, errlen);
	if (rc)
		return rc;
	while (!rc && (row = mysql_fetch_row(res)))
		if (row[0])
			rc = names_add(out, row[0]);
	mysql_free_result(res);
	return rc ? oom(db, err, errlen) : 0;
}

/* Fetch and emit, one object after another, each followed by a cut. */
static int dump_objects(MYSQL *m, const char *db, const struct kind *k,
			const struct dump_names *names, struct dump_out *o, uint64_t *count,
			char *err, size_t errlen)
{
	struct def d = {0};
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < names->n; i++) {
		rc = fetch_def(m, db, k, names->v[i], &d, err, errlen);
		if (rc == 1) {
			rc = 0;
			def_free(&d);
			continue;
		}
		if (!rc && emit_def(m, k, &d, o))
			rc = oom(db, err, errlen);
		rc = rc ?: dout_cut(o);
		def_free(&d);
		(*count)++;
	}
	return rc;
}

/* Does definition @text name view @v (as `v`, backticks doubled)? */
static bool mentions(const char *text, const char *v)
{
	struct dbuf q = {0};
	bool found;

	if (dbuf_ident(&q, v))
		return true; /* out of memory: an extra edge is harmless */
	found = strstr(text, q.p) != NULL;
	dbuf_free(&q);
	return found;
}

/*
 * Views in an order where each comes after the views its definition names: repeatedly take
 * the first view (in name order) whose remaining dependencies are all placed; on a cycle (or a
 * false match such as a column named like a view) take the first remaining one.
 */
static int order_views(struct def *defs, size_t n, size_t *order)
{
	bool *done = calloc(n + 1, sizeof(bool));
	size_t placed, i, j, pick;

	if (!done)
		return -ENOMEM;
	for (placed = 0; placed < n; placed++) {
		pick = n;
		for (i = 0; i < n && pick == n; i++) {
			if (done[i])
				continue;
			for (j = 0; j < n; j++)
				if (!done[j] && j != i && defs[i].create &&
				    mentions(defs[i].create, defs[j].name))
					break;
			if (j == n)
				pick = i;
		}
		for (i = 0; i < n && pick == n; i++)
			if (!done[i])
				pick = i;
		done[pick] = true;
		order[placed] = pick;
	}
	free(done);
	return 0;
}

static int dump_views(MYSQL *m, const char *db, const struct dump_names *views, struct dump_out *o,
		      uint64_t *count, char *err, size_t errlen)
{
	struct def *defs = calloc(views->n + 1, sizeof(*defs));
	size_t *order = calloc(views->n + 1, sizeof(*order));
	size_t i;
	int rc = 0;

	if (!defs || !order) {
		rc = oom(db, err, errlen);
		goto out;
	}
	for (i = 0; !rc && i < views->n; i++) {
		rc = fetch_def(m, db, &k_view, views->v[i], &defs[i], err, errlen);
		if (rc == 1)
			rc = 0; /* gone: create stays NULL */
	}
	if (rc)
		goto out;
	if (order_views(defs, views->n, order)) {
		rc = oom(db, err, errlen);
		goto out;
	}
	for (i = 0; !rc && i < views->n; i++) {
		if (!defs[order[i]].create)
			continue;
		if (emit_def(m, &k_view, &defs[order[i]], o))
			rc = oom(db, err, errlen);
		rc = rc ?: dout_cut(o);
		(*count)++;
	}
out:
	for (i = 0; defs && i < views->n; i++)
		def_free(&defs[i]);
	free(defs);
	free(order);
	return rc;
}

/*
 * Each "X = DATABASE()" lets the server look in this schema only; the BINARY twin makes the
 * match exact where the column's collation would also match `Db` for `db`.
 */
static const char routines_sql[] =
    "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() "
    "AND BINARY ROUTINE_SCHEMA = BINARY DATABASE() AND ROUTINE_TYPE = '%s' "
    "ORDER BY BINARY ROUTINE_NAME";
static const char triggers_sql[] =
    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    "AND BINARY TRIGGER_SCHEMA = BINARY DATABASE() ORDER BY BINARY EVENT_OBJECT_TABLE, "
    "ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER, BINARY TRIGGER_NAME";
static const char events_sql[] =
    "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() "
    "AND BINARY EVENT_SCHEMA = BINARY DATABASE() ORDER BY BINARY EVENT_NAME";

int dump_trailer(MYSQL *m, const char *db, const struct dump_names *views, struct dump_out *o,
		 struct dump_stats *st, char *err, size_t errlen)
{
	struct dump_names names = {0};
	char sql[sizeof(routines_sql) + 16];
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < sizeof(k_routines) / sizeof(k_routines[0]); i++) {
		snprintf(sql, sizeof(sql), routines_sql, k_routines[i].what);
		rc = list_names(m, db, sql, &names, err, errlen)
			 ?: dump_objects(m, db, &k_routines[i], &names, o, &st->routines, err,
					 errlen);
		dump_names_free(&names);
	}
	rc = rc ?: dump_views(m, db, views, o, &st->views, err, errlen);
	rc = rc ?: list_names(m, db, triggers_sql, &names, err, errlen) ?:
		    dump_objects(m, db, &k_trigger, &names, o, &st->triggers, err, errlen);
	dump_names_free(&names);
	rc = rc ?: list_names(m, db, events_sql, &names, err, errlen) ?:
		    dump_objects(m, db, &k_event, &names, o, &st->events, err, errlen);
	dump_names_free(&names);
	if (rc)
		return rc;
	if (dbuf_puts(&o->buf, footer_sql))
		return oom(db, err, errlen);
	return dout_cut(o);
}
