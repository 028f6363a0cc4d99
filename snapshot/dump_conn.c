/*
 * dump_conn.c - connecting to a configured database, and turning server errors into errnos
 * and messages that name the database.
 *
 * Credentials come only from the database's option file, which must not be readable by group
 * or others: it holds a password. Connector/C reads exactly that file (and the files it
 * !includes) when MYSQL_READ_DEFAULT_FILE is set, and no option file at all otherwise; its
 * groups [client], [client-server] and [client-mariadb] apply. The file is read inside
 * mysql_real_connect(), so it overrides mysql_options() set before: the character set, which
 * the dump depends on, is therefore set again once connected.
 */
#include "snapshot/dump_int.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT_S 10u

int dump_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int errno_of(unsigned code)
{
	switch (code) {
	case ER_ACCESS_DENIED_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
	case ER_TABLEACCESS_DENIED_ERROR:
	case ER_COLUMNACCESS_DENIED_ERROR:
	case ER_SPECIFIC_ACCESS_DENIED_ERROR:
	case ER_PROCACCESS_DENIED_ERROR:
		return -EACCES;
	case ER_BAD_DB_ERROR:
		return -ENOENT;
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_UNKNOWN_HOST:
	case CR_IPSOCK_ERROR:
	case CR_SOCKET_CREATE_ERROR:
		return -ECONNREFUSED;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
		return -ECONNRESET;
	case CR_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int dump_mysql_fail(MYSQL *m, const char *db, const char *what, char *err, size_t errlen)
{
	unsigned code = mysql_errno(m);

	return dump_fail(err, errlen, errno_of(code), "database %s: %s: %s (error %u)", db, what,
			 mysql_error(m), code);
}

int dump_exec(MYSQL *m, const char *db, const char *sql, char *err, size_t errlen)
{
	MYSQL_RES *res;

	if (mysql_real_query(m, sql, strlen(sql)))
		return dump_mysql_fail(m, db, sql, err, errlen);
	res = mysql_store_result(m); /* a statement may still answer with rows */
	if (res)
		mysql_free_result(res);
	else if (mysql_errno(m))
		return dump_mysql_fail(m, db, sql, err, errlen);
	return 0;
}

int dump_query(MYSQL *m, const char *db, const char *sql, MYSQL_RES **res, char *err, size_t errlen)
{
	if (mysql_real_query(m, sql, strlen(sql)))
		return dump_mysql_fail(m, db, sql, err, errlen);
	*res = mysql_store_result(m);
	if (!*res) {
		if (mysql_errno(m))
			return dump_mysql_fail(m, db, sql, err, errlen);
		return dump_fail(err, errlen, -EIO, "database %s: %s: no result set", db, sql);
	}
	return 0;
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
	lib_rc = mysql_library_init(0, NULL, NULL) ? -ENOMEM : 0;
}

/* The option file must be a regular file that only its owner can read. */
static int check_option_file(const struct mtab_database *db, char *err, size_t errlen)
{
	struct stat st;

	if (stat(db->option_file, &st))
		return dump_fail(err, errlen, -errno, "database %s: option file %s: %s", db->name,
				 db->option_file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dump_fail(err, errlen, -EINVAL,
				 "database %s: option file %s is not a regular file", db->name,
				 db->option_file);
	if (st.st_mode & 077)
		return dump_fail(err, errlen, -EACCES,
				 "database %s: option file %s has mode %04o; it holds credentials, "
				 "so it must not be readable by others: chmod 600 %s",
				 db->name, db->option_file, (unsigned)(st.st_mode & 07777),
				 db->option_file);
	return 0;
}

static void describe_target(const struct mtab_database *db, char *buf, size_t len)
{
	if (db->socket)
		snprintf(buf, len, "connect via socket %s", db->socket);
	else if (db->host && db->port)
		snprintf(buf, len, "connect to %s:%u", db->host, db->port);
	else if (db->host)
		snprintf(buf, len, "connect to %s", db->host);
	else
		snprintf(buf, len, "connect");
}

/* Session settings every dumper connection runs with. MariaDB-only ones sit in M! comments. */
static const char session_sql[] =
    "SET SESSION time_zone = '+00:00', sql_mode = '', sql_quote_show_create = 1, "
    "net_write_timeout = 86400, net_read_timeout = 86400, wait_timeout = 86400"
    "/*M!100108 , max_statement_time = 0 */";

_Static_assert(DUMP_NET_TIMEOUT_S == 86400, "session_sql spells DUMP_NET_TIMEOUT_S out");

int dump_connect(const struct mtab_database *db, const char *schema, struct st_mysql **out,
		 char *err, size_t errlen)
{
	unsigned timeout = CONNECT_TIMEOUT_S, protocol;
	char what[300];
	MYSQL *m;
	int rc;

	*out = NULL;
	if (db->option_file) {
		rc = check_option_file(db, err, errlen);
		if (rc)
			return rc;
	}
	pthread_once(&lib_once, lib_init);
	if (lib_rc)
		return dump_fail(err, errlen, lib_rc, "database %s: mysql_library_init failed",
				 db->name);
	m = mysql_init(NULL);
	if (!m)
		return dump_fail(err, errlen, -ENOMEM, "database %s: out of memory", db->name);
	if (db->option_file) {
		mysql_options(m, MYSQL_READ_DEFAULT_FILE, db->option_file);
		mysql_options(m, MYSQL_READ_DEFAULT_GROUP, "client");
	}
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	if (db->socket || db->host) {
		protocol = db->socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
		mysql_options(m, MYSQL_OPT_PROTOCOL, &protocol);
	}
	describe_target(db, what, sizeof(what));
	if (!mysql_real_connect(m, db->socket ? NULL : db->host, NULL, NULL, schema, db->port,
				db->socket, 0)) {
		rc = dump_mysql_fail(m, db->name, what, err, errlen);
		goto out;
	}
	if (mysql_set_character_set(m, "utf8mb4")) {
		rc = dump_mysql_fail(m, db->name, "SET NAMES utf8mb4", err, errlen);
		goto out;
	}
	rc = dump_exec(m, db->name, session_sql, err, errlen);
	if (rc)
		goto out;
	*out = m;
	return 0;
out:
	mysql_close(m);
	return rc;
}
