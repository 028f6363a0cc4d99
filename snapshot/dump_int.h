/*
 * dump_int.h - what the dumper's files share (dump.c, dump_conn.c, dump_rows.c,
 * dump_schema.c). Not an interface for other modules: theirs is dump.h.
 *
 * Text is built in a growable buffer (struct dbuf). A struct dump_out is that buffer plus the
 * place a finished chunk goes: dout_cut() hands the buffer over as one chunk (to the sink, or
 * to a worker's spool file) and empties it. Producers call dout_cut() at every boundary the
 * format defines (see dump.h) and never otherwise.
 */
#ifndef STATEFS_DUMP_INT_H
#define STATEFS_DUMP_INT_H

#include <mysql.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/dump.h"

struct dbuf {
	char *p;
	size_t len, cap;
};

int dbuf_reserve(struct dbuf *b, size_t extra);
int dbuf_add(struct dbuf *b, const void *s, size_t n);
int dbuf_puts(struct dbuf *b, const char *s);
int dbuf_printf(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dbuf_ident(struct dbuf *b, const char *name);		 /* `name`, backticks doubled */
int dbuf_str(struct dbuf *b, MYSQL *m, const char *s, size_t n); /* 'escaped' */
/* Does @m's character set keep ASCII bytes out of multi-byte characters (utf8, single-byte)? */
int dbuf_ascii_safe(MYSQL *m);
void dbuf_free(struct dbuf *b);

struct dump_out {
	struct dbuf buf;
	int (*flush)(struct dump_out *o); /* deliver buf as one chunk, set buf.len = 0 */
};

static inline int dout_cut(struct dump_out *o)
{
	return o->buf.len ? o->flush(o) : 0;
}

/* Write a message into err (never NULL-terminated short of errlen 0) and return @rc. */
int dump_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The last error of @m as a negative errno (access denied -EACCES, unknown database -ENOENT,
 * unreachable -ECONNREFUSED, lost -ECONNRESET, else -EIO), with the message
 * "database DB: WHAT: <server message>" in err.
 */
int dump_mysql_fail(MYSQL *m, const char *db, const char *what, char *err, size_t errlen);

/* Run a statement that returns no rows. */
int dump_exec(MYSQL *m, const char *db, const char *sql, char *err, size_t errlen);

/* Run a query and store its (small) result; *res is never NULL on success. */
int dump_query(MYSQL *m, const char *db, const char *sql, MYSQL_RES **res, char *err,
	       size_t errlen);

/* dump_schema.c */
struct dump_names {
	char **v;
	size_t n;
};

void dump_names_free(struct dump_names *n);

/* Base tables and sequences (*tables, sequence flags in *is_seq) and views, byte-sorted. */
int dump_list_tables(MYSQL *m, const char *db, struct dump_names *tables, bool **is_seq,
		     struct dump_names *views, char *err, size_t errlen);
int dump_header(MYSQL *m, const char *db, struct dump_out *o, char *err, size_t errlen);
/* DROP + CREATE of one table or sequence, then a cut; 1 (and no output) if it is gone. */
int dump_table_ddl(MYSQL *m, const char *db, const char *table, bool is_seq, struct dump_out *o,
		   char *err, size_t errlen);
/* Routines, views, triggers, events and the footer. */
int dump_trailer(MYSQL *m, const char *db, const struct dump_names *views, struct dump_out *o,
		 struct dump_stats *st, char *err, size_t errlen);

/* dump_rows.c: the rows of @table as INSERT statements, cut as dump.h says. */
int dump_table_rows(MYSQL *m, const char *db, const char *table, struct dump_out *o, uint64_t *rows,
		    char *err, size_t errlen);
/* A sequence's state: DO SETVAL(...). */
int dump_sequence_state(MYSQL *m, const char *db, const char *seq, struct dump_out *o, char *err,
			size_t errlen);

#endif
