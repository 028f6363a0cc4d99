/*
 * load_int.h - what the loader's files share (load.c, load_input.c, load_jobs.c,
 * load_swap.c, load_sql.c). Not an interface for other modules: theirs is load.h.
 *
 * Threads: the caller's thread (the writer) decompresses, splits and routes statements; the
 * loaders (one thread and connection each) run jobs. A job is an ordered run of statements of
 * one table, run on one connection; it may start before its last statement has arrived (only
 * the newest job is open). A job may not start before @need jobs of its table have finished:
 * 0 for a table's first job (DROP, CREATE), the last ordered job's seq + 1 for a chunk of
 * INSERTs, and its own seq (every earlier job of the table) for any other job; only earlier
 * jobs can make up that count. A free loader takes the oldest job that may start (an older
 * one that must wait does not hold a loader meanwhile). No loader waits forever: the oldest
 * unfinished job may always start, and is closed (it has all its statements) unless it is
 * the open one, in which case every statement waiting is its own.
 *
 * Session state: every SET goes to the prelude, a list every loader replays up to a job's
 * prelude_start before running the job, so each statement runs in the session state it
 * would have in one sequential run. Everything in r->mu's section below is shared.
 */
#ifndef STATEFS_RESTORE_LOAD_INT_H
#define STATEFS_RESTORE_LOAD_INT_H

#include <mysql.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <zstd.h>

#include "restore/load.h"
#include "restore/spool.h"
#include "restore/sqlsplit.h"
#include "restore/stmt.h"
#include "restore/tsv.h"

#define RESTORE_PRELUDE_MAX (4u << 20) /* bytes of SET statements kept for the prelude */
#define RESTORE_MSG_MAX 1024
#define RESTORE_DEFER_ROW_MAX 1024u      /* keys are built after rows narrower than this */
#define RESTORE_DEFER_SAMPLE (1u << 20) /* bytes of rows that tell how wide they are */
#define RESTORE_QUOTED (2 * RESTORE_NAME_MAX + 3) /* a name quoted, doubled quotes included */

struct rstmt {
	struct rstmt *next;
	uint64_t number, line;
	size_t len;
	bool spooled; /* its text is in the spool at @off, not in sql[] (restore_stmt_text) */
	uint64_t off;
	bool fast;  /* rows that may go through LOAD DATA (load_fast.c), not checked yet: */
		    /* restore_run_stmt checks them (restore_stmt_check) before running them */
	char sql[]; /* NUL-terminated */
};

struct rtable {
	struct rtable *next;
	unsigned njobs;	   /* jobs made */
	unsigned finished; /* jobs done (shared) */
	unsigned barrier;  /* a chunk needs this many finished */
	bool has_pk, created;
	bool serial; /* its rows go through LOAD DATA, which holds its AUTO-INC lock: one job */
	char *alter; /* its secondary keys, added after its rows (restore_defer_keys) */
	size_t alter_len;
	uint64_t alter_number, alter_line; /* its CREATE's */
	struct tsv_cols *cols;		   /* its columns, if its rows may go through LOAD DATA */
	struct rstmt *create_full, *create_lean; /* its CREATE with and without the keys */
	struct rstmt *sample;			 /* rows held back until it is chosen */
	size_t sample_bytes, sample_rows;
	char name[];
};

struct rjob {
	struct rjob *next; /* in the queue of jobs not taken yet */
	struct rtable *tab;
	unsigned seq, need;
	bool chunk; /* INSERTs only, may run beside the table's other chunks */
	bool closed;
	bool waiting; /* its loader waits for its next statement */
	size_t bytes; /* appended so far */
	struct rstmt *head, *tail;
	size_t prelude_start, prelude_end;
};

struct restore;

struct rworker {
	struct restore *r;
	pthread_t thread;
	bool started;
	MYSQL *m;
	unsigned long id; /* the server's connection id, for KILL QUERY */
	bool busy;	  /* running a job */
	size_t applied;	  /* prelude statements run on this connection */
	uint64_t rows, rows_loaded;
	/* load_fast.c */
	bool nofast;	 /* the server refused LOAD DATA LOCAL: INSERTs only */
	bool uc_forced;	 /* unique_checks is 1 for a LOAD, where the dump's SETs left 0 */
	bool feed_armed; /* a LOAD was sent: its data may be asked for once */
	struct rfeed {	 /* the statements a LOAD's data is converted from, as it is read */
		const struct rstmt *next; /* the first statement not converted yet */
		size_t head, n, pos;		  /* pos: bytes of tsv already sent */
		unsigned char kinds[256];
		uint64_t rows;
		int err; /* -ENOMEM while converting */
	} feed;
	struct tsv_buf tsv, load_sql, head; /* head: the LOAD's INSERT head, for the feed */
	char *text; /* a spooled statement read back (restore_stmt_text) */
	size_t textcap;
};

enum input { IN_UNKNOWN, IN_PLAIN, IN_ZSTD };

struct restore {
	const struct mtab_database *db;
	struct restore_opts opts;
	char base[64], stage[100], old[100], lock[100];
	char cs[64], coll[64]; /* the live database's defaults */
	MYSQL *coord;	       /* the coordinator's connection: DDL around the load, the swap */
	unsigned long version, max_packet;
	bool autoinc_free; /* innodb_autoinc_lock_mode = 2: a LOAD takes no table AUTO-INC lock */
	char **others; /* databases a qualifier must not name */
	size_t nothers;
	struct restore_guard guard;
	double t0, t_loaded;

	/* the writer's */
	enum input in;
	unsigned char magic[4];
	size_t nmagic;
	ZSTD_DStream *z;
	char *zbuf;
	size_t zcap, zlast;
	struct sqlsplit *split;
	char head[160];
	size_t nhead;
	char tail[64];
	size_t ntail;
	uint64_t bytes_in, bytes_sql, nstmts, spilled;
	int header; /* the statefs header's SETs seen in order; -1 once any other SET came */
	struct rtable *tables, *cur;
	struct rjob *open;
	FILE *script; /* SETs and object statements, in order, for after the load */
	uint64_t nscript;

	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t work;  /* for loaders: a job, a statement, a job done, the end, a failure */
	pthread_cond_t space; /* for the writer: room in the queue; all jobs done */
	struct rjob *q_head, *q_tail;
	size_t queued;	  /* bytes of statements not run yet, in memory */
	struct spool *spool;
	uint64_t spooled; /* the spool's bytes not given back yet (all, where it cannot) */
	bool spool_off;	  /* it could not be made or written: no more */
	unsigned running; /* jobs taken and not done */
	struct rstmt **prelude;
	size_t nprelude, capprelude, prelude_bytes;
	bool input_done;
	int rc; /* the first failure */
	char msg[RESTORE_MSG_MAX];
	struct rworker w[RESTORE_JOBS_MAX];
	unsigned nw;
};

/* load.c */
double restore_now(void);
/* Record the first failure (rc < 0) with its message, wake everyone; returns r->rc. */
int restore_fail(struct restore *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int restore_vfail(struct restore *r, int rc, const char *fmt, va_list ap);

/* load_input.c: bytes in, statements routed */
int restore_input(struct restore *r, const void *buf, size_t len);
int restore_input_end(struct restore *r); /* the stream is complete and whole */

/* load_jobs.c */
struct rstmt *restore_stmt_copy(const struct sqlsplit_stmt *st);
int restore_job_new(struct restore *r, struct rtable *tab, bool chunk, unsigned need);
int restore_job_add(struct restore *r, struct rstmt *s); /* to the open job; takes s */
void restore_job_close(struct restore *r);
int restore_prelude_add(struct restore *r, const struct sqlsplit_stmt *st);
int restore_script_add(struct restore *r, const struct sqlsplit_stmt *st);
/*
 * @s's text into *sql: s->sql, or read back from the spool into @w's buffer (valid until the
 * next call for @w). 0, or a failure (recorded).
 */
int restore_stmt_text(struct restore *r, struct rworker *w, const struct rstmt *s,
		      const char **sql);
/* @s has run or will not: its bytes leave the queue or the spool. Called with r->mu held. */
void restore_stmt_done(struct restore *r, struct rstmt *s);
/* Run one statement of a job on @w (r->mu not held); a failure is recorded. */
int restore_run_stmt(struct restore *r, struct rworker *w, const struct rstmt *s);
int restore_workers_start(struct restore *r);
int restore_workers_wait(struct restore *r);  /* input done; all jobs run; threads joined */
void restore_workers_stop(struct restore *r); /* on failure: kill queries, join */
void restore_jobs_free(struct restore *r);

/* load_fast.c */
void restore_fast_attach(struct rworker *w); /* serve LOAD DATA LOCAL from memory */
/* j->head is fast: take the run of fast statements, load it. Called and returns with r->mu. */
int restore_fast_run(struct restore *r, struct rworker *w, struct rjob *j);
/* Give the session back the dump's state before any other statement. */
int restore_fast_leave(struct restore *r, struct rworker *w);
void restore_fast_free(struct rworker *w);

/* load_swap.c: after the load */
int restore_swap(struct restore *r, struct restore_stats *st, char *err, size_t errlen);

/* load_sql.c */
struct rnames {
	char **v;
	size_t n;
};
void rnames_free(struct rnames *n);
bool rnames_has(const struct rnames *n, const char *s);
int rnames_add(struct rnames *n, const char *s);
/* The errno for the last error of @m (-ECONNRESET lost, -ENOSPC full, -EACCES, -EIO...). */
int restore_mysql_errno(MYSQL *m);
/* Run one statement, dropping any result; 0 or the errno above, message in err. */
int restore_exec(MYSQL *m, const char *sql, size_t len, uint64_t *rows, char *err, size_t errlen);
/* printf-style SQL, then restore_exec. */
int restore_execf(MYSQL *m, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* `name` with backticks doubled into out (out must hold 2 * strlen + 3). */
void restore_ident(char *out, const char *name);
/* 'string' escaped for @m into out (out must hold 2 * strlen + 3). */
void restore_literal(MYSQL *m, char *out, const char *s);
/* The first column (or "c0\tc1" of the first two) of each row of a query, in order. */
int restore_query_names(MYSQL *m, const char *sql, bool two, struct rnames *out, char *err,
			size_t errlen);
/* NAME's base for scratch names (NAME, or a shortened NAME with a hash); out: 64 bytes. */
void restore_base_name(const char *name, char *out);
/*
 * Give @m's session the server's defaults for what dump_connect() sets for the dumper
 * (time_zone, sql_mode): a dump is run as the stock client would run it.
 */
int restore_session_defaults(MYSQL *m, char *err, size_t errlen);
/* Drop database @name if it exists; 0 or a negative errno with a message. */
int restore_drop_db(MYSQL *m, const char *name, char *err, size_t errlen);

#endif
