/*
 * status_format.c - the facts of status.h written three ways: aligned text for people, one
 * JSON object for scripts, Prometheus text for monitoring. Unknown facts: "unknown" in the
 * text, null in JSON, absent from the metrics (the Prometheus way to say "no data").
 */
#include "snapshot/status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot/json.h"
#include "snapshot/prom.h"

/* "2025-10-01 03:00:02" in local time. */
static const char *when(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
	return buf;
}

/* RFC 3339 in local time: "2025-10-01T03:00:02+02:00". */
static const char *iso(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n;

	if (!localtime_r(&tt, &tm) || (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm)) < 5 ||
	    n + 2 > len) {
		snprintf(buf, len, "%lld", (long long)t);
		return buf;
	}
	memmove(buf + n - 1, buf + n - 2, 3); /* +0200 -> +02:00 */
	buf[n - 2] = ':';
	return buf;
}

/* "3 h ago", "2 days ago" */
static const char *ago(int64_t now, int64_t t, char *buf, size_t len)
{
	int64_t d = now - t;

	if (d < 0)
		snprintf(buf, len, "in the future");
	else if (d < 120)
		snprintf(buf, len, "%lld s ago", (long long)d);
	else if (d < 2 * 3600)
		snprintf(buf, len, "%lld min ago", (long long)(d / 60));
	else if (d < 2 * 86400)
		snprintf(buf, len, "%lld h ago", (long long)(d / 3600));
	else
		snprintf(buf, len, "%lld days ago", (long long)(d / 86400));
	return buf;
}

/* "512.0 MiB" */
static const char *size(int64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, len, "%lld B", (long long)v);
		return buf;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

static void text_event(FILE *f, const struct status *st, const char *label, const struct event *ev,
		       bool has)
{
	char t[64], a[32];

	fprintf(f, "%-16s ", label);
	if (!has) {
		fprintf(f, "never\n");
		return;
	}
	fprintf(f, "%s, %s (%s)", events_result_name(ev->result), when(ev->time, t, sizeof(t)),
		ago(st->now, ev->time, a, sizeof(a)));
	if (ev->duration_ms >= 0)
		fprintf(f, ", took %.1f s", (double)ev->duration_ms / 1000.0);
	if (ev->what[0])
		fprintf(f, ", %s", ev->what);
	if (ev->message[0])
		fprintf(f, ": %s", ev->message);
	fputc('\n', f);
}

int status_write_text(const struct status *st, FILE *f)
{
	char t[64], a[32], b1[32], b2[32], b3[32];

	fprintf(f, "%-16s %s\n", "config:", st->config);
	fprintf(f, "%-16s %s%s%s\n", "mounted:", st->mounted ? "yes" : "no",
		st->mountpoint[0] ? ", at " : "", st->mountpoint);
	fprintf(f, "%-16s %s\n", "state directory:", st->state_dir);
	fprintf(f, "%-16s ", "last snapshot:");
	if (!st->has_last) {
		fprintf(f, "none yet\n");
	} else {
		fprintf(f, "%s, taken %s (%s)", st->last_name, when(st->last_time, t, sizeof(t)),
			ago(st->now, st->last_time, a, sizeof(a)));
		if (st->last_duration_ms >= 0)
			fprintf(f, ", took %.1f s", (double)st->last_duration_ms / 1000.0);
		fprintf(f, ", %s\n", st->last_complete ? "complete" : "INCOMPLETE");
		if (!st->last_complete && st->last_reasons[0])
			fprintf(f, "%-16s   what failed: %s\n", "", st->last_reasons);
		fprintf(f, "%-16s   ", "");
		if (st->last_databases >= 0)
			fprintf(f, "%lld database%s (%lld failed), ", (long long)st->last_databases,
				st->last_databases == 1 ? "" : "s",
				(long long)(st->last_databases_failed > 0
						? st->last_databases_failed
						: 0));
		if (st->last_files >= 0)
			fprintf(f, "%lld files, ", (long long)st->last_files);
		fprintf(f, "%s in all",
			st->last_logical >= 0 ? size(st->last_logical, b1, sizeof(b1))
					      : "unknown size");
		if (st->last_bytes_new >= 0)
			fprintf(f, ", %s new in the store",
				size(st->last_bytes_new, b2, sizeof(b2)));
		fputc('\n', f);
	}
	if (st->has_snapshot_run && st->snapshot_run.result == EVENT_FAILED &&
	    (!st->has_last || st->snapshot_run.time >= st->last_time))
		text_event(f, st, "last run:", &st->snapshot_run, true);
	fprintf(f, "%-16s %zu\n", "snapshots:", st->snapshots);
	fprintf(f, "%-16s ", "store:");
	if (st->store_bytes < 0) {
		fprintf(f, "unknown\n");
	} else {
		fprintf(f, "%s on disk, %lld chunks (%s)", size(st->store_bytes, b1, sizeof(b1)),
			(long long)st->chunks, size(st->chunk_bytes, b2, sizeof(b2)));
		if (st->logical_bytes >= 0)
			fprintf(f, "; %s in all snapshots",
				size(st->logical_bytes, b3, sizeof(b3)));
		if (st->dedup_ratio > 0)
			fprintf(f, ": dedup ratio %.1f", st->dedup_ratio);
		fputc('\n', f);
	}
	fprintf(f, "%-16s ", "commits today:");
	if (st->commits_today < 0)
		fprintf(f, "unknown");
	else
		fprintf(f, "%lld", (long long)st->commits_today);
	if (st->last_commit_time >= 0)
		fprintf(f, " (last commit %s)", when(st->last_commit_time, t, sizeof(t)));
	fputc('\n', f);
	text_event(f, st, "last restore:", &st->restore, st->has_restore);
	text_event(f, st, "last verify:", &st->verify, st->has_verify);
	if (st->has_check)
		text_event(f, st, "last check:", &st->check, true);
	if (st->has_push)
		text_event(f, st, "last push:", &st->push, true);
	fprintf(f, "%-16s ", "last error:");
	if (!st->has_error) {
		fprintf(f, "none\n");
	} else {
		fprintf(f, "%s %s, %s (%s)", st->error.kind, events_result_name(st->error.result),
			when(st->error.time, t, sizeof(t)),
			ago(st->now, st->error.time, a, sizeof(a)));
		if (st->error.what[0])
			fprintf(f, ", %s", st->error.what);
		if (st->error.message[0])
			fprintf(f, ": %s", st->error.message);
		fputc('\n', f);
	}
	for (size_t i = 0; i < st->nproblems; i++)
		fprintf(f, "%-16s %s\n", i ? "" : "not known:", st->problems[i]);
	if (fflush(f) || ferror(f))
		return -EIO;
	return 0;
}

/* --- JSON ------------------------------------------------------------------------------------ */

static void json_opt(struct json *j, const char *key, int64_t v)
{
	if (v < 0)
		json_null(j, key);
	else
		json_int(j, key, v);
}

static void json_event(struct json *j, const char *key, const struct event *ev, bool has)
{
	char t[64];

	if (!has) {
		json_null(j, key);
		return;
	}
	json_begin_object(j, key);
	json_string(j, "kind", ev->kind);
	json_int(j, "time", ev->time);
	json_string(j, "time_iso", iso(ev->time, t, sizeof(t)));
	json_string(j, "result", events_result_name(ev->result));
	json_bool(j, "success", ev->result == EVENT_OK);
	if (ev->duration_ms >= 0)
		json_double(j, "duration_s", (double)ev->duration_ms / 1000.0);
	else
		json_null(j, "duration_s");
	json_string(j, "what", ev->what[0] ? ev->what : NULL);
	json_string(j, "message", ev->message);
	json_end_object(j);
}

int status_format_json(const struct status *st, char **out, size_t *len)
{
	struct json j;
	char t[64];

	json_init(&j);
	j.indent = 2;
	json_begin_object(&j, NULL);
	json_string(&j, "version", STATEFS_VERSION);
	json_string(&j, "config", st->config);
	json_string(&j, "state_dir", st->state_dir);
	json_int(&j, "time", st->now);
	json_bool(&j, "mounted", st->mounted);
	json_string(&j, "mountpoint", st->mountpoint[0] ? st->mountpoint : NULL);
	json_uint(&j, "snapshots", st->snapshots);
	if (!st->has_last) {
		json_null(&j, "last_snapshot");
	} else {
		json_begin_object(&j, "last_snapshot");
		json_string(&j, "name", st->last_name);
		json_int(&j, "time", st->last_time);
		json_string(&j, "time_iso", iso(st->last_time, t, sizeof(t)));
		if (st->last_duration_ms >= 0)
			json_double(&j, "duration_s", (double)st->last_duration_ms / 1000.0);
		else
			json_null(&j, "duration_s");
		json_bool(&j, "complete", st->last_complete);
		json_string(&j, "reasons", st->last_reasons);
		json_opt(&j, "databases", st->last_databases);
		json_opt(&j, "databases_failed", st->last_databases_failed);
		json_opt(&j, "files", st->last_files);
		json_opt(&j, "bytes", st->last_logical);
		json_opt(&j, "bytes_new", st->last_bytes_new);
		json_end_object(&j);
	}
	json_begin_object(&j, "store");
	json_opt(&j, "bytes", st->store_bytes);
	json_opt(&j, "chunk_bytes", st->chunk_bytes);
	json_opt(&j, "chunks", st->chunks);
	json_opt(&j, "logical_bytes", st->logical_bytes);
	if (st->dedup_ratio > 0)
		json_double(&j, "dedup_ratio", st->dedup_ratio);
	else
		json_null(&j, "dedup_ratio");
	json_end_object(&j);
	json_opt(&j, "commits_today", st->commits_today);
	json_opt(&j, "last_commit_time", st->last_commit_time);
	json_event(&j, "last_snapshot_run", &st->snapshot_run, st->has_snapshot_run);
	json_event(&j, "last_restore", &st->restore, st->has_restore);
	json_event(&j, "last_verify", &st->verify, st->has_verify);
	json_event(&j, "last_error", &st->error, st->has_error);
	json_event(&j, "last_check", &st->check, st->has_check);
	json_event(&j, "last_push", &st->push, st->has_push);
	json_begin_array(&j, "problems");
	for (size_t i = 0; i < st->nproblems; i++)
		json_string(&j, NULL, st->problems[i]);
	json_end_array(&j);
	json_end_object(&j);
	return json_finish(&j, out, len);
}

/* --- Prometheus ------------------------------------------------------------------------------ */

static void gauge_opt(struct prom *p, const char *name, const char *help, int64_t v)
{
	if (v >= 0)
		prom_gauge(p, name, help, (double)v);
}

static void prom_event(struct prom *p, const char *kind, const struct event *ev, bool has)
{
	char name[PROM_NAME_MAX], help[200];

	if (!has)
		return;
	snprintf(name, sizeof(name), "statefs_last_%s_timestamp_seconds", kind);
	snprintf(help, sizeof(help), "When the last %s ended (Unix time).", kind);
	prom_gauge(p, name, help, (double)ev->time);
	snprintf(name, sizeof(name), "statefs_last_%s_success", kind);
	snprintf(help, sizeof(help), "1 if the last %s succeeded, else 0.", kind);
	prom_gauge(p, name, help, ev->result == EVENT_OK);
	if (ev->duration_ms >= 0) {
		snprintf(name, sizeof(name), "statefs_last_%s_duration_seconds", kind);
		snprintf(help, sizeof(help), "How long the last %s took.", kind);
		prom_gauge(p, name, help, (double)ev->duration_ms / 1000.0);
	}
}

int status_format_prom(const struct status *st, bool up, char **out, size_t *len)
{
	const char *labels[] = {"version", STATEFS_VERSION, "config", st->config, NULL};
	struct prom p;

	prom_init(&p);
	prom_gauge(&p, "statefs_up", "1 when the statefs mount of this config is up.", up);
	prom_family(&p, "statefs_info", "gauge", "Version and config file of statefs.");
	prom_sample(&p, "statefs_info", labels, 1);
	prom_gauge(&p, "statefs_snapshots", "Snapshots in the store.", (double)st->snapshots);
	if (st->has_last) {
		prom_gauge(&p, "statefs_last_snapshot_timestamp_seconds",
			   "When the newest snapshot began (Unix time).", (double)st->last_time);
		if (st->last_duration_ms >= 0)
			prom_gauge(&p, "statefs_last_snapshot_duration_seconds",
				   "How long the newest snapshot took.",
				   (double)st->last_duration_ms / 1000.0);
		prom_gauge(&p, "statefs_last_snapshot_complete",
			   "1 if the newest snapshot holds everything configured, 0 if something "
			   "was left out.",
			   st->last_complete);
		gauge_opt(&p, "statefs_last_snapshot_databases_failed",
			  "Databases the newest snapshot could not dump.",
			  st->last_databases_failed);
		gauge_opt(&p, "statefs_last_snapshot_bytes",
			  "Plain bytes of the files of the newest snapshot.", st->last_logical);
		gauge_opt(&p, "statefs_last_snapshot_new_bytes",
			  "Compressed bytes the newest snapshot added to the store.",
			  st->last_bytes_new);
	}
	if (st->has_snapshot_run) {
		prom_gauge(&p, "statefs_last_snapshot_run_timestamp_seconds",
			   "When the last statefs snapshot run ended (Unix time).",
			   (double)st->snapshot_run.time);
		prom_gauge(&p, "statefs_last_snapshot_run_success",
			   "1 if the last statefs snapshot run wrote a complete snapshot, else 0.",
			   st->snapshot_run.result == EVENT_OK);
	}
	gauge_opt(&p, "statefs_store_bytes", "Disk space of the store, as du counts it.",
		  st->store_bytes);
	gauge_opt(&p, "statefs_store_chunk_bytes", "Bytes of the chunk files of the store.",
		  st->chunk_bytes);
	gauge_opt(&p, "statefs_store_chunks", "Chunk files in the store.", st->chunks);
	gauge_opt(&p, "statefs_logical_bytes",
		  "Plain bytes of the files of every snapshot, added up.", st->logical_bytes);
	if (st->dedup_ratio > 0)
		prom_gauge(&p, "statefs_dedup_ratio",
			   "statefs_logical_bytes / statefs_store_chunk_bytes: what the snapshots "
			   "hold for each byte stored (deduplication and compression).",
			   st->dedup_ratio);
	gauge_opt(&p, "statefs_commits_today", "Config commits made today (local time).",
		  st->commits_today);
	gauge_opt(&p, "statefs_last_commit_timestamp_seconds",
		  "When the newest config commit was made (Unix time).", st->last_commit_time);
	prom_event(&p, "restore", &st->restore, st->has_restore);
	prom_event(&p, "verify", &st->verify, st->has_verify);
	prom_event(&p, "check", &st->check, st->has_check);
	prom_event(&p, "push", &st->push, st->has_push);
	if (st->has_error)
		prom_gauge(&p, "statefs_last_error_timestamp_seconds",
			   "When the last failure of a snapshot, restore or verify happened "
			   "(Unix time).",
			   (double)st->error.time);
	return prom_finish(&p, out, len);
}
