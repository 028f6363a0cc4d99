/*
 * load_jobs.c - the loaders: the queue of jobs, the threads that run them on their own
 * connections, the prelude of SETs, and the kept statements for after the load.
 *
 * See load_int.h for the rules that keep this deadlock-free. The writer blocks in
 * restore_job_add() while more than queue_bytes of statements wait (a single larger
 * statement is let in when nothing waits), which is what bounds memory.
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

int restore_job_add(struct restore *r, struct rstmt *s)
{
	struct rjob *j = r->open;
	int rc;

	pthread_mutex_lock(&r->mu);
	while (!r->rc && r->queued && r->queued + s->len > r->opts.queue_bytes)
		pthread_cond_wait(&r->space, &r->mu);
	rc = r->rc;
	if (!rc) {
		if (j->tail)
			j->tail->next = s;
		else
			j->head = s;
		j->tail = s;
		j->bytes += s->len;
		r->queued += s->len;
		pthread_cond_broadcast(&r->work);
	}
	pthread_mutex_unlock(&r->mu);
	if (rc)
		free(s);
	return rc;
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

/* Where O_TMPFILE is not supported: a named file, unlinked at once. */
static int tmpfile_fallback(const char *dir)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/statefs-restore.XXXXXX", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
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
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
			fd = tmpfile_fallback(dir);
		if (fd < 0)
			return restore_fail(r, -errno, "a temporary file in %s: %s", dir,
					    strerror(errno));
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
	int rc;

	if (s->fast && (rc = restore_stmt_check(s->sql, s->len, &r->guard, msg, sizeof(msg))))
		return restore_fail(r, rc, "statement %llu (line %llu) refused: %s",
				    (unsigned long long)s->number, (unsigned long long)s->line, msg);
	rc = restore_exec(w->m, s->sql, s->len, &w->rows, msg, sizeof(msg));
	if (rc)
		restore_fail(r, rc, "statement %llu (line %llu): %s: %.100s",
			     (unsigned long long)s->number, (unsigned long long)s->line, msg,
			     s->sql);
	return rc;
}

/* Run @j to its end (or the first failure). Called and returns with r->mu held. */
static void run_job(struct restore *r, struct rworker *w, struct rjob *j)
{
	struct rstmt *s;
	bool ok = true;

	while (!r->rc && j->tab->finished < j->need)
		pthread_cond_wait(&r->work, &r->mu);
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
		while (!r->rc && !j->head && !j->closed)
			pthread_cond_wait(&r->work, &r->mu);
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
		r->queued -= s->len;
		pthread_cond_broadcast(&r->space);
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
		r->queued -= s->len;
		free(s);
	}
}

static void *loader(void *arg)
{
	struct rworker *w = arg;
	struct restore *r = w->r;
	struct rjob *j;

	mysql_thread_init();
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->rc && !r->q_head && !r->input_done)
			pthread_cond_wait(&r->work, &r->mu);
		j = r->q_head;
		if (r->rc || !j)
			break;
		r->q_head = j->next;
		if (!r->q_head)
			r->q_tail = NULL;
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
