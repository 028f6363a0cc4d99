/*
 * load_jobs.c - the loaders: the queue of jobs, the threads that run them on their own
 * connections, the prelude of SETs, and the kept statements for after the load.
 *
 * See load_int.h for the rules that keep this deadlock-free. When more than queue_bytes of
 * statements wait in memory (a single larger statement is let in when nothing waits), the
 * writer sets the next ones aside in the spool, up to spool_bytes, and blocks in
 * restore_job_add() beyond that: that bounds memory, and lets it read on to the next tables
 * while the loaders are behind (which is most of the time: the server is the slower side).
 * Measured on a 2-core VM, a 500 MB WordPress-like dump: 6.4 s with 256 MiB of look-ahead
 * against 7.1 s with 32 MiB, the longest table starting 1.5 s sooner.
 */
#include "restore/load_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rstmt *restore_stmt_copy(const struct sqlsplit_stmt *st)
{
	struct rstmt *s = malloc(sizeof(*s) + st->len + 1);

	if (!s)
		return NULL;
	s->next = NULL;
	s->number = st->number;
	s->line = st->line;
	s->len = st->len;
	s->fast = false;
	s->spooled = false;
	s->off = 0;
	memcpy(s->sql, st->sql, st->len + 1);
	return s;
}

int restore_job_new(struct restore *r, struct rtable *tab, bool chunk, unsigned need)
{
	struct rjob *j = calloc(1, sizeof(*j));

	if (!j)
		return restore_fail(r, -ENOMEM, "out of memory");
	restore_job_close(r);
	j->tab = tab;
	j->seq = tab->njobs++;
	j->need = need;
	j->chunk = chunk;
	pthread_mutex_lock(&r->mu);
	j->prelude_start = r->nprelude;
	if (r->q_tail)
		r->q_tail->next = j;
	else
		r->q_head = j;
	r->q_tail = j;
	r->open = j;
	pthread_cond_broadcast(&r->work);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void restore_job_close(struct restore *r)
{
	if (!r->open)
		return;
	pthread_mutex_lock(&r->mu);
	r->open->closed = true;
	r->open->prelude_end = r->nprelude;
	r->open = NULL;
	pthread_cond_broadcast(&r->work);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Set @s aside in the spool: a header in its place, or NULL when the spool cannot take it (it
 * is then off for good, and @s stays as it was). Called without r->mu; *reserved bytes of
 * r->spooled were counted for it, and are given back on failure.
 */
static struct rstmt *spill(struct restore *r, struct rstmt *s, uint64_t reserved)
{
	struct rstmt *h = malloc(sizeof(*h) + 1);
	const char *dir;
	int rc = h ? 0 : -ENOMEM;

	if (!rc && !r->spool) {
		dir = r->opts.tmpdir ? r->opts.tmpdir : getenv("TMPDIR");
		rc = spool_open(dir && *dir ? dir : "/tmp", &r->spool);
	}
	if (!rc) {
		*h = *s;
		h->sql[0] = '\0';
		h->spooled = true;
		rc = spool_put(r->spool, s->sql, s->len, &h->off);
	}
	if (!rc) {
		r->spilled += s->len;
		free(s);
		return h;
	}
	free(h);
	pthread_mutex_lock(&r->mu);
	r->spooled -= reserved;
	r->spool_off = true; /* a full or read-only tmpdir: the loaders' pace, as without it */
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int restore_job_add(struct restore *r, struct rstmt *s)
{
	struct rjob *j = r->open;
	struct rstmt *h;
	uint64_t need = spool_size_of(s->len);
	int rc;

	pthread_mutex_lock(&r->mu);
	while (!r->rc && r->queued && r->queued + s->len > r->opts.queue_bytes) {
		if (!r->spool_off && r->spooled + need <= r->opts.spool_bytes) {
			r->spooled += need;
			pthread_mutex_unlock(&r->mu);
			h = spill(r, s, need);
			pthread_mutex_lock(&r->mu);
			if (!h)
				continue;
			s = h;
			break;
		}
		pthread_cond_wait(&r->space, &r->mu);
	}
	rc = r->rc;
	if (!rc) {
		if (j->tail)
			j->tail->next = s;
		else
			j->head = s;
		j->tail = s;
		j->bytes += s->len;
		if (!s->spooled)
			r->queued += s->len;
		if (j->waiting) /* its loader, if any, is all a statement can wake */
			pthread_cond_broadcast(&r->work);
	}
	pthread_mutex_unlock(&r->mu);
	if (rc)
		free(s);
	return rc;
}

int restore_stmt_text(struct restore *r, struct rworker *w, const struct rstmt *s,
		      const char **sql)
{
	size_t cap;
	char *p;
	int rc;

	*sql = s->sql;
	if (!s->spooled)
		return 0;
	if (w->textcap <= s->len) {
		cap = s->len + 1 > 2 * w->textcap ? s->len + 1 : 2 * w->textcap;
		p = realloc(w->text, cap);
		if (!p)
			return restore_fail(r, -ENOMEM, "out of memory");
		w->text = p;
		w->textcap = cap;
	}
	rc = spool_get(r->spool, s->off, w->text, s->len);
	if (rc)
		return restore_fail(r, rc, "statement %llu (line %llu): reading it back from a "
				    "temporary file: %s", (unsigned long long)s->number,
				    (unsigned long long)s->line, strerror(-rc));
	w->text[s->len] = '\0';
	*sql = w->text;
	return 0;
}

void restore_stmt_done(struct restore *r, struct rstmt *s)
{
	if (!s->spooled)
		r->queued -= s->len;
	else if (spool_drop(r->spool, s->off, s->len)) /* else the file only grows: still counted */
		r->spooled -= spool_size_of(s->len);
	pthread_cond_broadcast(&r->space);
}

int restore_prelude_add(struct restore *r, const struct sqlsplit_stmt *st)
{
	struct rstmt *s, **v;
	int rc = 0;

	if (r->prelude_bytes + st->len > RESTORE_PRELUDE_MAX)
		return restore_fail(r, -E2BIG,
				    "statement %llu (line %llu): more than %u bytes of "
				    "SET statements",
				    (unsigned long long)st->number, (unsigned long long)st->line,
				    RESTORE_PRELUDE_MAX);
	s = restore_stmt_copy(st);
	if (!s)
		return restore_fail(r, -ENOMEM, "out of memory");
	pthread_mutex_lock(&r->mu);
	if (r->nprelude == r->capprelude) {
		size_t cap = r->capprelude ? 2 * r->capprelude : 32;

		v = realloc(r->prelude, cap * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		r->prelude = v;
		r->capprelude = cap;
	}
	r->prelude[r->nprelude++] = s;
	r->prelude_bytes += st->len;
	s = NULL;
out:
	pthread_mutex_unlock(&r->mu);
	free(s);
	return rc ? restore_fail(r, rc, "out of memory") : 0;
}

/* Kept statements: a header (number, line, length) and the text, in an unlinked file. */
int restore_script_add(struct restore *r, const struct sqlsplit_stmt *st)
{
	uint64_t h[3] = {st->number, st->line, st->len};
	const char *dir;
	int fd;

	if (!r->script) {
		dir = r->opts.tmpdir ? r->opts.tmpdir : getenv("TMPDIR");
		dir = dir && *dir ? dir : "/tmp";
		fd = spool_tmpfile(dir);
		if (fd < 0)
			return restore_fail(r, fd, "a temporary file in %s: %s", dir,
					    strerror(-fd));
		r->script = fdopen(fd, "w+");
		if (!r->script) {
			close(fd);
			return restore_fail(r, -ENOMEM, "out of memory");
		}
	}
	if (fwrite(h, sizeof(h), 1, r->script) != 1 ||
	    fwrite(st->sql, 1, st->len, r->script) != st->len)
		return restore_fail(r, -EIO, "writing a temporary file: %s", strerror(errno));
	r->nscript++;
	return 0;
}

int restore_run_stmt(struct restore *r, struct rworker *w, const struct rstmt *s)
{
	char msg[RESTORE_MSG_MAX];
	const char *sql;
	int rc;

	rc = restore_stmt_text(r, w, s, &sql);
	if (rc)
		return rc;
	if (s->fast && (rc = restore_stmt_check(sql, s->len, &r->guard, msg, sizeof(msg))))
		return restore_fail(r, rc, "statement %llu (line %llu) refused: %s",
				    (unsigned long long)s->number, (unsigned long long)s->line, msg);
	rc = restore_exec(w->m, sql, s->len, &w->rows, msg, sizeof(msg));
	if (rc)
		restore_fail(r, rc, "statement %llu (line %llu): %s: %.100s",
			     (unsigned long long)s->number, (unsigned long long)s->line, msg, sql);
	return rc;
}

/* Run @j to its end (or the first failure). Called and returns with r->mu held. */
static void run_job(struct restore *r, struct rworker *w, struct rjob *j)
{
	struct rstmt *s;
	bool ok = true;

	while (!r->rc && w->applied < j->prelude_start) {
		s = r->prelude[w->applied];
		pthread_mutex_unlock(&r->mu);
		ok = !restore_run_stmt(r, w, s);
		pthread_mutex_lock(&r->mu);
		if (!ok)
			break;
		w->applied++;
	}
	while (!r->rc && ok) {
		while (!r->rc && !j->head && !j->closed) {
			j->waiting = true;
			pthread_cond_wait(&r->work, &r->mu);
			j->waiting = false;
		}
		s = j->head;
		if (r->rc || !s)
			break;
		if (s->fast && !w->nofast) {
			ok = !restore_fast_run(r, w, j);
			continue;
		}
		j->head = s->next;
		if (!j->head)
			j->tail = NULL;
		pthread_mutex_unlock(&r->mu);
		ok = !restore_fast_leave(r, w) && !restore_run_stmt(r, w, s);
		pthread_mutex_lock(&r->mu);
		restore_stmt_done(r, s);
		free(s);
	}
	if (!r->rc) {
		w->applied = j->prelude_end;
		pthread_mutex_unlock(&r->mu);
		if (!restore_fast_leave(r, w) && mysql_commit(w->m)) /* in case of autocommit off */
			restore_fail(r, restore_mysql_errno(w->m), "COMMIT: %s", mysql_error(w->m));
		pthread_mutex_lock(&r->mu);
	}
	while ((s = j->head)) { /* left over after a failure */
		j->head = s->next;
		restore_stmt_done(r, s);
		free(s);
	}
}

/* The oldest job whose table is ready for it (its @need jobs done), off the queue; or NULL. */
static struct rjob *take_ready(struct restore *r)
{
	struct rjob **pp, *prev = NULL, *j;

	for (pp = &r->q_head; (j = *pp); prev = j, pp = &j->next) {
		if (j->tab->finished < j->need)
			continue;
		*pp = j->next;
		if (r->q_tail == j)
			r->q_tail = prev;
		return j;
	}
	return NULL;
}

static void *loader(void *arg)
{
	struct rworker *w = arg;
	struct restore *r = w->r;
	struct rjob *j;

	mysql_thread_init();
	pthread_mutex_lock(&r->mu);
	for (;;) {
		j = NULL;
		while (!r->rc && !(j = take_ready(r)) && !(r->input_done && !r->q_head))
			pthread_cond_wait(&r->work, &r->mu);
		if (!j)
			break;
		r->running++;
		w->busy = true;
		run_job(r, w, j);
		w->busy = false;
		j->tab->finished++;
		r->running--;
		free(j);
		pthread_cond_broadcast(&r->work);
		pthread_cond_broadcast(&r->space);
	}
	pthread_mutex_unlock(&r->mu);
	mysql_thread_end();
	return NULL;
}

int restore_workers_start(struct restore *r)
{
	unsigned i;
	int rc;

	for (i = 0; i < r->nw; i++) {
		r->w[i].r = r;
		rc = pthread_create(&r->w[i].thread, NULL, loader, &r->w[i]);
		if (rc)
			return restore_fail(r, -rc, "starting a loader thread: %s", strerror(rc));
		r->w[i].started = true;
	}
	return 0;
}

static void join_all(struct restore *r)
{
	for (unsigned i = 0; i < r->nw; i++) {
		if (r->w[i].started)
			pthread_join(r->w[i].thread, NULL);
		r->w[i].started = false;
	}
}

int restore_workers_wait(struct restore *r)
{
	int rc;

	restore_job_close(r);
	pthread_mutex_lock(&r->mu);
	r->input_done = true;
	pthread_cond_broadcast(&r->work);
	while (!r->rc && (r->q_head || r->running))
		pthread_cond_wait(&r->space, &r->mu);
	rc = r->rc;
	pthread_mutex_unlock(&r->mu);
	if (rc)
		restore_workers_stop(r);
	else
		join_all(r);
	return rc;
}

void restore_workers_stop(struct restore *r)
{
	char sql[64], msg[256];
	unsigned i;

	pthread_mutex_lock(&r->mu);
	if (!r->rc) {
		r->rc = -ECANCELED;
		snprintf(r->msg, sizeof(r->msg), "the restore was cancelled");
	}
	r->input_done = true;
	pthread_cond_broadcast(&r->work);
	pthread_cond_broadcast(&r->space);
	for (i = 0; i < r->nw && r->coord; i++) {
		if (!r->w[i].busy || !r->w[i].m)
			continue;
		snprintf(sql, sizeof(sql), "KILL QUERY %lu", r->w[i].id);
		restore_exec(r->coord, sql, strlen(sql), NULL, msg, sizeof(msg));
	}
	pthread_mutex_unlock(&r->mu);
	join_all(r);
}

void restore_jobs_free(struct restore *r)
{
	struct rjob *j;
	struct rstmt *s;
	struct rtable *t;
	size_t i;

	while ((j = r->q_head)) {
		r->q_head = j->next;
		while ((s = j->head)) {
			j->head = s->next;
			free(s);
		}
		free(j);
	}
	r->q_tail = r->open = NULL;
	while ((t = r->tables)) {
		r->tables = t->next;
		free(t->alter);
		restore_tsv_cols_free(t->cols);
		free(t->create_full);
		free(t->create_lean);
		while ((s = t->sample)) {
			t->sample = s->next;
			free(s);
		}
		free(t);
	}
	for (i = 0; i < r->nprelude; i++)
		free(r->prelude[i]);
	free(r->prelude);
	r->prelude = NULL;
	r->nprelude = 0;
	if (r->script)
		fclose(r->script);
	r->script = NULL;
}
