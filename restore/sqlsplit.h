/*
 * sqlsplit.h - cut a stream of SQL text into statements, as the stock mysql client does, and
 * read the tokens of one statement.
 *
 * The splitter is fed bytes in pieces of any size (as `cp` writes them) and calls back once
 * per complete statement; the statements, their numbers and their lines do not depend on
 * where the pieces are cut. It understands what a dump holds:
 *
 *   - strings '...' and "..." (a doubled quote or a backslash escapes a quote), identifiers
 *     `...` (a doubled backtick escapes one; no backslash escapes);
 *   - comments: "-- " (two dashes then white space or the end) and '#' to the end of the
 *     line, and slash-star comments. A comment inside a statement is kept, as with
 *     `mariadb --comments` (a routine body keeps its comments); comments between statements
 *     are dropped. Executable comments (slash-star-bang, slash-star-M-bang) are SQL: they are
 *     kept, and a delimiter inside one ends the statement, as in the client;
 *   - the client command DELIMITER at the start of a statement (the rest of its line is the
 *     new delimiter, at most SQLSPLIT_DELIM_MAX bytes, no backslash), used around routines,
 *     triggers and events (DELIMITER ;;);
 *   - statements of any size up to the limit given to sqlsplit_new().
 *
 * Empty statements (a lone delimiter) are skipped. Other client commands (\g, source, use as a
 * client command) are not interpreted: they reach the caller as SQL. The text is taken as bytes
 * of an ASCII-compatible character set in which a byte below 0x80 is never part of a multibyte
 * character (UTF-8, latin1 and the like; not sjis, big5, gbk, cp932).
 *
 * Memory: the statement being read, plus at most SQLSPLIT_SLICE bytes, whatever the size of
 * the pieces fed.
 */
#ifndef STATEFS_SQLSPLIT_H
#define STATEFS_SQLSPLIT_H

#include <stddef.h>
#include <stdint.h>

#define SQLSPLIT_DELIM_MAX 15	    /* as the stock client: a 16-byte buffer */
#define SQLSPLIT_SLICE (64u * 1024) /* bytes taken from a piece at a time */
#define SQLSPLIT_LINE_MAX 4096u	    /* longest DELIMITER line */

struct sqlsplit;

struct sqlsplit_stmt {
	const char *sql; /* the statement without its delimiter or trailing white space; */
	size_t len;	 /* NUL-terminated at sql[len]; valid during the callback only */
	uint64_t number; /* 1 for the first statement */
	uint64_t line;	 /* line of its first byte, 1 for the first line */
};

/* Called for each statement; a non-zero return stops the split and is returned by feed/end. */
typedef int (*sqlsplit_fn)(void *arg, const struct sqlsplit_stmt *st);

/* A splitter refusing statements longer than @max_stmt bytes; NULL if out of memory. */
struct sqlsplit *sqlsplit_new(size_t max_stmt);
void sqlsplit_free(struct sqlsplit *s);

/*
 * Feed the next @len bytes. Returns 0, the callback's non-zero return, or a negative errno
 * with a message in @err naming the statement and line: -E2BIG (a statement longer than the
 * limit), -EINVAL (a DELIMITER command without a usable delimiter), -ENOMEM. After an error the
 * splitter must not be fed again.
 */
int sqlsplit_feed(struct sqlsplit *s, const void *buf, size_t len, sqlsplit_fn fn, void *arg,
		  char *err, size_t errlen);

/*
 * The input is complete. Returns as sqlsplit_feed, or -EPIPE when the input ends inside a
 * statement (with no closing delimiter), a string, an identifier or a comment: cut off.
 */
int sqlsplit_end(struct sqlsplit *s, sqlsplit_fn fn, void *arg, char *err, size_t errlen);

/* Statements returned so far. */
uint64_t sqlsplit_count(const struct sqlsplit *s);
/* Bytes of memory the splitter holds (for tests of the bound). */
size_t sqlsplit_memory(const struct sqlsplit *s);

/* --- tokens of one complete statement ------------------------------------------------------ */

enum sqlsplit_tok_kind {
	SQLSPLIT_TOK_END = 0, /* no more tokens */
	SQLSPLIT_TOK_WORD,    /* keyword, bare identifier, number, @var, @@var: [A-Za-z0-9_$@] and
				 bytes >= 0x80 */
	SQLSPLIT_TOK_IDENT,   /* `quoted identifier`, backticks included */
	SQLSPLIT_TOK_STRING,  /* 'string' or "string", quotes included ("..." may be an
				 identifier under ANSI_QUOTES) */
	SQLSPLIT_TOK_PUNCT,   /* any other byte, one at a time */
};

struct sqlsplit_tok {
	enum sqlsplit_tok_kind kind;
	const char *p;
	size_t len;
};

/*
 * The token of @sql (@len bytes) at *pos, which it advances. White space and comments are
 * skipped; the markers of an executable comment are skipped and its content read as SQL when
 * its version is at most @version (a server version such as 101106; 0 = any version), and
 * the whole comment is skipped otherwise, as the server does. An unterminated string or
 * identifier runs to the end. Returns t->kind.
 */
enum sqlsplit_tok_kind sqlsplit_token(const char *sql, size_t len, size_t *pos,
				      unsigned long version, struct sqlsplit_tok *t);

/* Is @t the word @kw (ASCII, any case)? */
int sqlsplit_tok_is(const struct sqlsplit_tok *t, const char *kw);

/*
 * The name @t spells (a bare word, a `quoted` identifier with doubled backticks undone, or a
 * "quoted" one) into @out (@outlen bytes, NUL-terminated). 0, or -ENAMETOOLONG, or -EINVAL if
 * @t is not a name (punctuation, a 'string', a number, or a name holding a NUL byte).
 */
int sqlsplit_tok_name(const struct sqlsplit_tok *t, char *out, size_t outlen);

#endif
