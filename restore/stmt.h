/*
 * stmt.h - what one statement of a dump is, and whether a restore may run it.
 *
 * A restore runs only the statements a dump holds (ours, see snapshot/dump.h, and the like
 * of mariadb-dump's): session SETs, DROP/CREATE of tables and sequences, INSERT/REPLACE rows,
 * DO/SELECT SETVAL, ALTER TABLE .. DISABLE/ENABLE KEYS, and DROP/CREATE of views, routines,
 * triggers, events and packages; LOCK/UNLOCK TABLES and COMMIT are recognised and skipped
 * (nothing else uses the staging database; each loader commits its own work). Anything else
 * is refused, and so is any statement that could reach beyond the database being restored:
 *
 *   - USE, and CREATE/DROP/ALTER DATABASE or SCHEMA anywhere in the text (a routine body
 *     included: it would run later, in the live database);
 *   - a qualified name `db`.`x` (or db.x.y) whose qualifier is one of the names given in
 *     struct restore_guard (every other database on the server, found when the restore
 *     starts, and the system schemas), anywhere in the text. The database being restored is
 *     allowed as a qualifier only in views, routines, triggers and events (the live database
 *     is where they are created); a table's statements run in the staging database and must
 *     not name it. A table alias or table named like another database is refused too: the
 *     check cannot tell them apart, and refusing is the safe side;
 *   - the name a statement creates, drops or fills must be unqualified;
 *   - SET GLOBAL / @@global. / PERSIST, SET PASSWORD, SET ROLE, SET STATEMENT .. FOR (which
 *     would wrap any statement); GRANT, REVOKE; INTO OUTFILE/DUMPFILE, LOAD_FILE(), DATA or
 *     INDEX DIRECTORY, and UDFs (SONAME) anywhere.
 *
 * Executable comments count as SQL when the server's version would run them. This is a guard
 * against a wrong or hostile file, not a sandbox: the fence is the grants of the user in the
 * option file (give it the restored database and the NAME__statefs_% scratch databases only).
 */
#ifndef STATEFS_RESTORE_STMT_H
#define STATEFS_RESTORE_STMT_H

#include <stdbool.h>
#include <stddef.h>

#define RESTORE_NAME_MAX 256 /* bytes of a name: 64 characters of up to 4 bytes, and a NUL */

enum restore_stmt_kind {
	RESTORE_STMT_SET,	   /* SET of session state: runs on every loading connection */
	RESTORE_STMT_TABLE_DROP,   /* DROP TABLE|SEQUENCE [IF EXISTS] name: starts its part */
	RESTORE_STMT_TABLE_CREATE, /* CREATE [OR REPLACE] TABLE|SEQUENCE [IF NOT EXISTS] name */
	RESTORE_STMT_ROWS,	   /* INSERT|REPLACE [INTO] name ... */
	RESTORE_STMT_TABLE_OTHER,  /* ALTER TABLE name DISABLE|ENABLE KEYS; DO|SELECT SETVAL(name */
	RESTORE_STMT_SKIP,	   /* LOCK TABLES, UNLOCK TABLES, COMMIT: not run */
	RESTORE_STMT_OBJECT,	   /* DROP or CREATE of a view, routine, trigger, event, package */
};

enum restore_obj {
	RESTORE_OBJ_NONE,
	RESTORE_OBJ_VIEW,
	RESTORE_OBJ_FUNCTION,
	RESTORE_OBJ_PROCEDURE,
	RESTORE_OBJ_TRIGGER,
	RESTORE_OBJ_EVENT,
	RESTORE_OBJ_PACKAGE,
	RESTORE_OBJ_PACKAGE_BODY,
};

struct restore_stmt {
	enum restore_stmt_kind kind;
	enum restore_obj obj;	     /* RESTORE_STMT_OBJECT */
	bool create;		     /* OBJECT, TABLE_*: a CREATE (else a DROP) */
	bool has_pk;		     /* TABLE_CREATE: the definition declares a PRIMARY KEY */
	bool has_auto_inc;	     /* TABLE_CREATE: a column is AUTO_INCREMENT */
	char name[RESTORE_NAME_MAX]; /* the table or object, unquoted; "" for SET and SKIP */
};

struct restore_guard {
	const char *live;	   /* the database being restored */
	const char *const *others; /* names that no qualifier may be (case-insensitive) */
	size_t nothers;
	unsigned long version; /* the server's, for executable comments; 0 = run them all */
};

/*
 * Classify @sql (@len bytes, one statement as sqlsplit returns it) under guard @g. Returns 0,
 * -EPERM when the statement is refused (it could reach another database, or does what a
 * restore must not do), or -EINVAL when it is not a statement a dump holds; @err then says
 * which, quoting the offending words.
 */
int restore_stmt_classify(const char *sql, size_t len, const struct restore_guard *g,
			  struct restore_stmt *out, char *err, size_t errlen);

/*
 * As restore_stmt_classify, except that rows (RESTORE_STMT_ROWS) are classified by their head
 * only: *unchecked is then true, and the caller must pass the statement to restore_stmt_check()
 * before running it as SQL (for rows that are turned into data and never run, as restore/tsv.h
 * does: looking through every value was a fifth of a restore's CPU). Together the two give
 * restore_stmt_classify's answer.
 */
int restore_stmt_classify_head(const char *sql, size_t len, const struct restore_guard *g,
			       struct restore_stmt *out, bool *unchecked, char *err, size_t errlen);

/* The look through the whole text that restore_stmt_classify_head() left out: 0, or -EPERM. */
int restore_stmt_check(const char *sql, size_t len, const struct restore_guard *g, char *err,
		       size_t errlen);

/*
 * Split CREATE TABLE @sql (@len bytes) of table @table into the CREATE without its plain
 * secondary keys (*create) and the ALTER TABLE that adds them (*alter), for building them after
 * the rows (keys.c says when). 1 and both malloc'd and NUL-terminated; 0 when the keys are better
 * left where they are (nothing is allocated); -ENOMEM.
 */
int restore_defer_keys(const char *sql, size_t len, const char *table, char **create,
		       size_t *create_len, char **alter, size_t *alter_len);

/* "view", "function", ... for messages and SQL (DROP <what> ...). */
const char *restore_obj_sql(enum restore_obj obj);

#endif
