/*
 * stmt.c - classify a dump's statement and refuse what a restore must not run (see stmt.h).
 *
 * Two passes over the tokens: the first reads the statement's head (what it is and which name
 * it acts on), the second looks through the whole text for what is refused anywhere. Both use
 * sqlsplit_token(), so strings, comments and executable comments are seen as the server sees
 * them.
 */
#include "restore/stmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "restore/sqlsplit.h"

struct lex {
	const char *s;
	size_t len, pos;
	unsigned long ver;
	struct sqlsplit_tok t;
};

static int msg(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int msg(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static enum sqlsplit_tok_kind next(struct lex *l)
{
	return sqlsplit_token(l->s, l->len, &l->pos, l->ver, &l->t);
}

static bool is(struct lex *l, const char *kw)
{
	return sqlsplit_tok_is(&l->t, kw);
}

/* Take the current token if it is @kw. */
static bool accept(struct lex *l, const char *kw)
{
	if (!is(l, kw))
		return false;
	next(l);
	return true;
}

static bool punct(const struct sqlsplit_tok *t, char c)
{
	return t->kind == SQLSPLIT_TOK_PUNCT && t->p[0] == c;
}

/* The first words of the statement, for messages. */
static int head(const struct lex *l)
{
	int n = 0;

	while ((size_t)n < l->len && n < 48 && (unsigned char)l->s[n] >= ' ')
		n++;
	return n;
}

/* The current token is the name acted on: store it; it must not be qualified. */
static int take_name(struct lex *l, struct restore_stmt *out, char *err, size_t errlen)
{
	int rc = sqlsplit_tok_name(&l->t, out->name, sizeof(out->name));

	if (rc)
		return msg(err, errlen, -EINVAL, "expected a name after \"%.*s\"", head(l), l->s);
	next(l);
	if (punct(&l->t, '.'))
		return msg(err, errlen, -EPERM,
			   "a qualified name (%s.): a restore acts on its "
			   "own database only",
			   out->name);
	return 0;
}

static int if_exists(struct lex *l, bool not )
{
	if (!is(l, "IF"))
		return 0;
	next(l);
	if (not &&!accept(l, "NOT"))
		return -EINVAL;
	return accept(l, "EXISTS") ? 0 : -EINVAL;
}

static enum restore_obj object_kind(struct lex *l)
{
	static const struct {
		const char *kw;
		enum restore_obj obj;
	} kinds[] = {
	    {"VIEW", RESTORE_OBJ_VIEW},		  {"FUNCTION", RESTORE_OBJ_FUNCTION},
	    {"PROCEDURE", RESTORE_OBJ_PROCEDURE}, {"TRIGGER", RESTORE_OBJ_TRIGGER},
	    {"EVENT", RESTORE_OBJ_EVENT},	  {"PACKAGE", RESTORE_OBJ_PACKAGE},
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!is(l, kinds[i].kw))
			continue;
		next(l);
		if (kinds[i].obj == RESTORE_OBJ_PACKAGE && accept(l, "BODY"))
			return RESTORE_OBJ_PACKAGE_BODY;
		return kinds[i].obj;
	}
	return RESTORE_OBJ_NONE;
}

/* DEFINER = user: `u`@`h`, 'u'@'h', u@h, CURRENT_USER[()], CURRENT_ROLE. */
static void skip_definer(struct lex *l)
{
	next(l);
	if (punct(&l->t, '='))
		next(l);
	if (is(l, "CURRENT_USER") || is(l, "CURRENT_ROLE")) {
		next(l);
		if (punct(&l->t, '(')) {
			next(l);
			if (punct(&l->t, ')'))
				next(l);
		}
		return;
	}
	next(l); /* the user */
	if (sqlsplit_tok_is(&l->t, "@")) {
		next(l);
		next(l); /* the host */
	} else if (l->t.kind == SQLSPLIT_TOK_WORD && l->t.p[0] == '@') {
		next(l); /* @host in one word */
	}
}

/* What DROP or CREATE acts on: a table, a sequence or an object; then its name. */
static int table_or_object(struct lex *l, bool create, struct restore_stmt *out, char *err,
			   size_t errlen)
{
	bool table = is(l, "TABLE"), seq = is(l, "SEQUENCE");
	int rc;

	if (is(l, "DATABASE") || is(l, "SCHEMA"))
		return msg(err, errlen, -EPERM,
			   "%s DATABASE: a restore acts on its own database "
			   "only",
			   create ? "CREATE" : "DROP");
	if (is(l, "TEMPORARY"))
		return msg(err, errlen, -EINVAL, "a TEMPORARY table is not part of a dump");
	if (table || seq) {
		next(l);
		out->kind = create ? RESTORE_STMT_TABLE_CREATE : RESTORE_STMT_TABLE_DROP;
	} else {
		out->obj = object_kind(l);
		if (out->obj == RESTORE_OBJ_NONE)
			return msg(err, errlen, -EINVAL, "not a statement a dump holds: \"%.*s\"",
				   head(l), l->s);
		out->kind = RESTORE_STMT_OBJECT;
	}
	out->create = create;
	if (if_exists(l, create))
		return msg(err, errlen, -EINVAL, "bad IF EXISTS in \"%.*s\"", head(l), l->s);
	rc = take_name(l, out, err, errlen);
	if (rc)
		return rc;
	if (!create && l->t.kind != SQLSPLIT_TOK_END)
		return msg(err, errlen, -EINVAL, "one name per DROP: \"%.*s\"", head(l), l->s);
	return 0;
}

static int classify_create(struct lex *l, struct restore_stmt *out, char *err, size_t errlen)
{
	next(l);
	if (accept(l, "OR") && !accept(l, "REPLACE"))
		return msg(err, errlen, -EINVAL, "CREATE OR what?");
	for (;;) {
		if (is(l, "ALGORITHM")) {
			next(l);
			if (punct(&l->t, '='))
				next(l);
			next(l);
		} else if (is(l, "DEFINER")) {
			skip_definer(l);
		} else if (is(l, "SQL")) {
			next(l);
			if (accept(l, "SECURITY"))
				next(l);
		} else if (!accept(l, "AGGREGATE") && !accept(l, "NONEDITIONABLE") &&
			   !accept(l, "EDITIONABLE")) {
			break;
		}
	}
	return table_or_object(l, true, out, err, errlen);
}

static int classify_head(struct lex *l, struct restore_stmt *out, char *err, size_t errlen)
{
	if (l->t.kind != SQLSPLIT_TOK_WORD)
		return msg(err, errlen, -EINVAL, "not a statement a dump holds: \"%.*s\"", head(l),
			   l->s);
	if (is(l, "SET")) {
		next(l);
		if (is(l, "PASSWORD") || is(l, "ROLE") || is(l, "DEFAULT") || is(l, "STATEMENT"))
			return msg(err, errlen, -EPERM, "SET %.*s is not for a restore",
				   (int)l->t.len, l->t.p);
		out->kind = RESTORE_STMT_SET;
		return 0;
	}
	if (is(l, "USE"))
		return msg(err, errlen, -EPERM, "USE: a restore acts on its own database only");
	if (is(l, "CREATE"))
		return classify_create(l, out, err, errlen);
	if (accept(l, "DROP"))
		return table_or_object(l, false, out, err, errlen);
	if (is(l, "INSERT") || is(l, "REPLACE")) {
		next(l);
		while (accept(l, "LOW_PRIORITY") || accept(l, "DELAYED") ||
		       accept(l, "HIGH_PRIORITY") || accept(l, "IGNORE"))
			;
		accept(l, "INTO");
		out->kind = RESTORE_STMT_ROWS;
		return take_name(l, out, err, errlen);
	}
	if (accept(l, "ALTER")) {
		if (is(l, "DATABASE") || is(l, "SCHEMA"))
			return msg(err, errlen, -EPERM,
				   "ALTER DATABASE: a restore acts on its own "
				   "database only");
		while (accept(l, "ONLINE") || accept(l, "IGNORE"))
			;
		if (!accept(l, "TABLE") || take_name(l, out, err, errlen) ||
		    !(accept(l, "DISABLE") || accept(l, "ENABLE")) || !accept(l, "KEYS") ||
		    l->t.kind != SQLSPLIT_TOK_END)
			return msg(err, errlen, -EINVAL,
				   "of ALTER, only ALTER TABLE name "
				   "DISABLE|ENABLE KEYS is part of a dump");
		out->kind = RESTORE_STMT_TABLE_OTHER;
		return 0;
	}
	if (accept(l, "DO") || accept(l, "SELECT")) {
		if (!accept(l, "SETVAL") || !punct(&l->t, '('))
			return msg(err, errlen, -EINVAL, "not a statement a dump holds: \"%.*s\"",
				   head(l), l->s);
		next(l);
		out->kind = RESTORE_STMT_TABLE_OTHER;
		return take_name(l, out, err, errlen);
	}
	if (accept(l, "LOCK") || accept(l, "UNLOCK")) {
		if (!is(l, "TABLES") && !is(l, "TABLE"))
			return msg(err, errlen, -EINVAL, "not a statement a dump holds: \"%.*s\"",
				   head(l), l->s);
		out->kind = RESTORE_STMT_SKIP;
		return 0;
	}
	if (accept(l, "COMMIT") && l->t.kind == SQLSPLIT_TOK_END) {
		out->kind = RESTORE_STMT_SKIP;
		return 0;
	}
	return msg(err, errlen, -EINVAL, "not a statement a dump holds: \"%.*s\"", head(l), l->s);
}

static bool refused_word(const struct sqlsplit_tok *t)
{
	static const char *const words[] = {
	    "GRANT",  "REVOKE",	 "OUTFILE",	 "DUMPFILE", "LOAD_FILE", "SONAME",
	    "GLOBAL", "PERSIST", "PERSIST_ONLY", "@@GLOBAL", "@@PERSIST", "@@PERSIST_ONLY",
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (sqlsplit_tok_is(t, words[i]))
			return true;
	return false;
}

static bool is_name_tok(const struct sqlsplit_tok *t)
{
	return t->kind == SQLSPLIT_TOK_WORD || t->kind == SQLSPLIT_TOK_IDENT ||
	       (t->kind == SQLSPLIT_TOK_STRING && t->p[0] == '"');
}

static bool forbidden_db(const char *name, const struct restore_guard *g, bool allow_live)
{
	static const char *const system[] = {"mysql", "information_schema", "performance_schema",
					     "sys"};
	size_t i;

	for (i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (!strcasecmp(name, system[i]))
			return true;
	for (i = 0; i < g->nothers; i++)
		if (!strcasecmp(name, g->others[i]))
			return true;
	return !allow_live && g->live && !strcasecmp(name, g->live);
}

/* The whole text: what is refused wherever it appears. */
static int scan_all(struct lex *l, const struct restore_guard *g, bool allow_live, char *err,
		    size_t errlen)
{
	struct sqlsplit_tok prev = {0}, prev2 = {0};
	char name[RESTORE_NAME_MAX];

	for (l->pos = 0; next(l) != SQLSPLIT_TOK_END; prev2 = prev, prev = l->t) {
		if (l->t.kind == SQLSPLIT_TOK_WORD) {
			if (l->t.p[0] >= '0' && l->t.p[0] <= '9')
				continue; /* a number: most words of a dump's rows */
			if (refused_word(&l->t))
				return msg(err, errlen, -EPERM, "%.*s is not for a restore",
					   (int)l->t.len, l->t.p);
			if ((is(l, "DATABASE") || is(l, "SCHEMA")) &&
			    (sqlsplit_tok_is(&prev, "CREATE") || sqlsplit_tok_is(&prev, "DROP") ||
			     sqlsplit_tok_is(&prev, "ALTER")))
				return msg(err, errlen, -EPERM,
					   "%.*s %.*s: a restore acts on its own "
					   "database only",
					   (int)prev.len, prev.p, (int)l->t.len, l->t.p);
			if (is(l, "DIRECTORY") &&
			    (sqlsplit_tok_is(&prev, "DATA") || sqlsplit_tok_is(&prev, "INDEX")))
				return msg(err, errlen, -EPERM,
					   "%.*s DIRECTORY is not for a restore", (int)prev.len,
					   prev.p);
			continue;
		}
		/* db.x, with db the first of a dotted chain */
		if (!punct(&l->t, '.') || !is_name_tok(&prev) || punct(&prev2, '.'))
			continue;
		if (sqlsplit_tok_name(&prev, name, sizeof(name)))
			continue;
		if (allow_live && prev.kind == SQLSPLIT_TOK_WORD &&
		    (!strcasecmp(name, "NEW") || !strcasecmp(name, "OLD")))
			continue; /* a trigger's row */
		if (forbidden_db(name, g, allow_live))
			return msg(err, errlen, -EPERM,
				   "it names database `%s`: a restore acts on "
				   "its own database only",
				   name);
	}
	return 0;
}

static int classify(const char *sql, size_t len, const struct restore_guard *g,
		    struct restore_stmt *out, bool *unchecked, char *err, size_t errlen)
{
	struct lex l = {.s = sql, .len = len, .ver = g->version};
	int rc;

	memset(out, 0, sizeof(*out));
	next(&l);
	rc = classify_head(&l, out, err, errlen);
	if (rc)
		return rc;
	if (unchecked)
		*unchecked = out->kind == RESTORE_STMT_ROWS;
	if (unchecked && *unchecked)
		return 0;
	rc = scan_all(&l, g, out->kind == RESTORE_STMT_OBJECT, err, errlen);
	if (rc)
		return rc;
	if (out->kind == RESTORE_STMT_TABLE_CREATE) {
		struct sqlsplit_tok prev = {0};

		/* AUTO_INCREMENT not followed by '=' is a column's, not the table option */
		for (l.pos = 0; next(&l) != SQLSPLIT_TOK_END; prev = l.t) {
			if (is(&l, "KEY") && sqlsplit_tok_is(&prev, "PRIMARY"))
				out->has_pk = true;
			if (sqlsplit_tok_is(&prev, "AUTO_INCREMENT") && !punct(&l.t, '='))
				out->has_auto_inc = true;
		}
		if (sqlsplit_tok_is(&prev, "AUTO_INCREMENT"))
			out->has_auto_inc = true;
	}
	return 0;
}

int restore_stmt_classify(const char *sql, size_t len, const struct restore_guard *g,
			  struct restore_stmt *out, char *err, size_t errlen)
{
	return classify(sql, len, g, out, NULL, err, errlen);
}

int restore_stmt_classify_head(const char *sql, size_t len, const struct restore_guard *g,
			       struct restore_stmt *out, bool *unchecked, char *err, size_t errlen)
{
	return classify(sql, len, g, out, unchecked, err, errlen);
}

int restore_stmt_check(const char *sql, size_t len, const struct restore_guard *g, char *err,
		       size_t errlen)
{
	struct lex l = {.s = sql, .len = len, .ver = g->version};

	return scan_all(&l, g, false, err, errlen);
}

const char *restore_obj_sql(enum restore_obj obj)
{
	static const char *const names[] = {
	    [RESTORE_OBJ_NONE] = "?",
	    [RESTORE_OBJ_VIEW] = "VIEW",
	    [RESTORE_OBJ_FUNCTION] = "FUNCTION",
	    [RESTORE_OBJ_PROCEDURE] = "PROCEDURE",
	    [RESTORE_OBJ_TRIGGER] = "TRIGGER",
	    [RESTORE_OBJ_EVENT] = "EVENT",
	    [RESTORE_OBJ_PACKAGE] = "PACKAGE",
	    [RESTORE_OBJ_PACKAGE_BODY] = "PACKAGE BODY",
	};

	return obj <= RESTORE_OBJ_PACKAGE_BODY ? names[obj] : "?";
}
