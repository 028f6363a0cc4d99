/*
 * load_sql.c - small SQL helpers of the loader (running statements, quoting, name lists,
 * server errors as errnos), the names of the scratch databases, and restore_cleanup_stale().
 *
 * Every name that goes into SQL text is quoted here: identifiers with backticks doubled,
 * strings through mysql_real_escape_string() on the connection's character set.
 */
#include "restore/load_int.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/dump.h"

void rnames_free(struct rnames *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

bool rnames_has(const struct rnames *n, const char *s)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->v[i], s))
			return true;
	return false;
}

int rnames_add(struct rnames *n, const char *s)
{
	char **v;
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	v = realloc(n->v, (n->n + 1) * sizeof(*v));
	if (!v) {
		free(d);
		return -ENOMEM;
	}
	n->v = v;
	n->v[n->n++] = d;
	return 0;
}

int restore_mysql_errno(MYSQL *m)
{
	switch (mysql_errno(m)) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_PROCACCESS_DENIED_ERROR:
		return -EACCES;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
		return -ECONNRESET;
	case ER_RECORD_FILE_FULL:
	case ER_DISK_FULL:
		return -ENOSPC;
	case CR_OUT_OF_MEMORY:
	case ER_OUTOFMEMORY:
		return -ENOMEM;
	case ER_LOCK_WAIT_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int restore_exec(MYSQL *m, const char *sql, size_t len, uint64_t *rows, char *err, size_t errlen)
{
	MYSQL_RES *res;
	my_ulonglong n;

	if (mysql_real_query(m, sql, len))
		goto fail;
	res = mysql_store_result(m);
	if (res) {
		mysql_free_result(res);
	} else if (mysql_field_count(m)) {
		goto fail;
	} else if (rows) {
		n = mysql_affected_rows(m);
		if (n != (my_ulonglong)-1)
			*rows += n;
	}
	return 0;
fail:
	if (errlen)
		snprintf(err, errlen, "%s (error %u)", mysql_error(m), mysql_errno(m));
	return restore_mysql_errno(m);
}

int restore_execf(MYSQL *m, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&sql, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = restore_exec(m, sql, (size_t)n, NULL, err, errlen);
	if (rc && errlen) { /* name the statement too */
		size_t k = strlen(err);

		snprintf(err + k, errlen - k, " in: %.200s", sql);
	}
	free(sql);
	return rc;
}

void restore_ident(char *out, const char *name)
{
	*out++ = '`';
	for (; *name; name++) {
		if (*name == '`')
			*out++ = '`';
		*out++ = *name;
	}
	*out++ = '`';
	*out = '\0';
}

void restore_literal(MYSQL *m, char *out, const char *s)
{
	size_t n = strlen(s);

	*out = '\'';
	n = mysql_real_escape_string(m, out + 1, s, (unsigned long)n);
	out[n + 1] = '\'';
	out[n + 2] = '\0';
}

int restore_query_names(MYSQL *m, const char *sql, bool two, struct rnames *out, char *err,
			size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	char *pair;
	int rc = 0;

	if (mysql_query(m, sql) || !(res = mysql_store_result(m))) {
		snprintf(err, errlen, "%s (error %u) in: %.200s", mysql_error(m), mysql_errno(m),
			 sql);
		return restore_mysql_errno(m);
	}
	while (!rc && (row = mysql_fetch_row(res))) {
		if (!row[0] || (two && !row[1]))
			continue;
		if (!two) {
			rc = rnames_add(out, row[0]);
			continue;
		}
		if (asprintf(&pair, "%s\t%s", row[0], row[1]) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = rnames_add(out, pair);
		free(pair);
	}
	mysql_free_result(res);
	if (rc)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* FNV-1a, 32 bits: a short, stable tag for a long name. */
static uint32_t fnv32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * Scratch names are BASE__statefs_stage_PID_N: 16 + 7 + 1 + 6 bytes after BASE, so BASE is
 * NAME if it has at most 30 bytes, else its first bytes (cut at a character) and a hash.
 */
void restore_base_name(const char *name, char *out)
{
	size_t n = strlen(name), k = 21;

	if (n <= 30) {
		memcpy(out, name, n + 1);
		return;
	}
	while (k > 0 && ((unsigned char)name[k] & 0xc0) == 0x80)
		k--; /* not inside a UTF-8 character */
	memcpy(out, name, k);
	snprintf(out + k, 64 - k, "_%08x", fnv32(name));
}

int restore_session_defaults(MYSQL *m, char *err, size_t errlen)
{
	return restore_execf(m, err, errlen,
			     "SET SESSION time_zone = @@GLOBAL.time_zone, sql_mode = "
			     "@@GLOBAL.sql_mode");
}

int restore_drop_db(MYSQL *m, const char *name, char *err, size_t errlen)
{
	char q[RESTORE_QUOTED];

	restore_ident(q, name);
	return restore_execf(m, err, errlen, "DROP DATABASE IF EXISTS %s", q);
}

/* Is @s "PID_N" with PID a process that is not alive here? */
static bool stale_suffix(const char *s)
{
	char *end;
	long pid = strtol(s, &end, 10);

	if (end == s || *end != '_' || pid <= 0 || pid > 0x7fffffff)
		return false;
	s = end + 1;
	(void)strtoul(s, &end, 10);
	if (end == s || *end)
		return false;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The views a crashed swap set aside in the live database (see load_swap.c). */
static int stale_views(MYSQL *m, const struct mtab_database *db, unsigned *n, char *err,
		       size_t errlen)
{
	struct rnames views = {0};
	char lit[RESTORE_QUOTED], q[2 * RESTORE_QUOTED + 2], *sql, msg[512];
	size_t i;
	int rc;

	restore_literal(m, lit, db->name);
	if (asprintf(&sql,
		     "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
		     "%s AND BINARY TABLE_SCHEMA = BINARY %s AND TABLE_TYPE = 'VIEW' AND "
		     "TABLE_NAME LIKE '\\_\\_statefs\\_view\\_%%'",
		     lit, lit) < 0)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	rc = restore_query_names(m, sql, false, &views, msg, sizeof(msg));
	free(sql);
	for (i = 0; !rc && i < views.n; i++) {
		if (!stale_suffix(views.v[i] + strlen("__statefs_view_")))
			continue;
		restore_ident(q, db->name);
		strcat(q, ".");
		restore_ident(q + strlen(q), views.v[i]);
		rc = restore_execf(m, msg, sizeof(msg), "DROP VIEW IF EXISTS %s", q);
		*n += !rc;
	}
	if (rc)
		snprintf(err, errlen, "database %s: dropping a view left by a swap: %s", db->name,
			 msg);
	rnames_free(&views);
	return rc;
}

int restore_cleanup_stale(const struct mtab_database *db, unsigned *dropped, char *err,
			  size_t errlen)
{
	static const char *const kinds[] = {"__statefs_stage_", "__statefs_old_"};
	struct rnames names = {0};
	char base[64], prefix[96], msg[512];
	MYSQL *m = NULL;
	unsigned n = 0;
	size_t i, k, plen;
	int rc;

	if (dropped)
		*dropped = 0;
	rc = dump_connect(db, NULL, &m, err, errlen);
	if (rc)
		return rc;
	rc = restore_query_names(m, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA", false,
				 &names, msg, sizeof(msg));
	if (rc) {
		snprintf(err, errlen, "database %s: listing databases: %s", db->name, msg);
		goto out;
	}
	restore_base_name(db->name, base);
	for (i = 0; i < names.n; i++) {
		for (k = 0; k < 2; k++) {
			plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%s", base, kinds[k]);
			if (strncmp(names.v[i], prefix, plen) || !stale_suffix(names.v[i] + plen))
				continue;
			rc = restore_drop_db(m, names.v[i], msg, sizeof(msg));
			if (rc) {
				snprintf(err, errlen, "database %s: dropping %s: %s", db->name,
					 names.v[i], msg);
				goto out;
			}
			n++;
		}
	}
	rnames_free(&names);
	rc = stale_views(m, db, &n, err, errlen);
	if (dropped)
		*dropped = n;
out:
	rnames_free(&names);
	mysql_close(m);
	return rc;
}
