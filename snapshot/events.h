/*
 * events.h - the outcome of the last snapshot, restore and verify, kept for `statefs status`
 * and the metrics: STATE_DIR/status/last-KIND, one small text file per kind.
 *
 * What a newcomer must know: a file holds one event, the latest of its kind, and is replaced
 * atomically (temp file, fsync, rename, directory fsync), so a reader sees the old event or
 * the new one, never a mix. A failure (result failed or incomplete) of any kind is also
 * written as last-error, with its own kind inside: last-error answers "what went wrong last?".
 * The format, one "KEY VALUE" line each, in this order, every line ending in "\n":
 *
 *     statefs-event 1
 *     kind restore                    snapshot, restore, verify, or error (any other failure)
 *     time 1759284000                 when it ended, seconds since the epoch
 *     result ok                       ok | failed | incomplete
 *     duration_ms 812                 how long it took; the line is absent when unknown
 *     what db/shop                    what it was about (a snapshot's name, db/NAME); optional
 *     message restored: 23 tables     one line for the operator; optional
 *     end
 *
 * VALUEs of what and message run to the end of the line, escaped as in manifests: a byte
 * below 0x20, DEL and a backslash are written \ooo. A reader ignores keys it does not know.
 * No FUSE here: the daemon (db/ restores) and the verbs both record events.
 */
#ifndef STATEFS_EVENTS_H
#define STATEFS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_VERSION 1
#define EVENTS_KIND_MAX 16
#define EVENTS_WHAT_MAX 256
#define EVENTS_MESSAGE_MAX 1024
#define EVENTS_FILE_MAX 8192 /* a longer file is not an event file */

enum event_result {
	EVENT_OK,
	EVENT_FAILED,
	EVENT_INCOMPLETE, /* done, but something was left out (a snapshot's database) */
};

struct event {
	char kind[EVENTS_KIND_MAX]; /* [a-z]+ */
	int64_t time;		    /* when it ended, seconds since the epoch */
	enum event_result result;
	int64_t duration_ms; /* -1 = unknown */
	char what[EVENTS_WHAT_MAX];
	char message[EVENTS_MESSAGE_MAX];
};

/*
 * Record that an operation of @kind ("snapshot", "restore", "verify", "error") ended now with
 * @result after @seconds (< 0: unknown), about @what (NULL = nothing), with a printf-style
 * one-line message (@fmt may be NULL). Writes STATE_DIR/status/last-@kind (creating status/,
 * 0700), and last-error too when @result is not EVENT_OK. Long texts are cut; newlines in
 * them are escaped. 0, or a negative errno with a message in @err (the caller should log it:
 * a missing record must not fail the operation it records).
 */
int events_record(const char *state_dir, const char *kind, enum event_result result, double seconds,
		  const char *what, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Write @ev as STATE_DIR/status/last-<ev->kind> (and last-error unless EVENT_OK). As above. */
int events_write(const char *state_dir, const struct event *ev, char *err, size_t errlen);

/*
 * Read the last event of @kind ("error": the last failure of any kind) into @ev. 0; -ENOENT
 * when there is none yet; -EINVAL with a message when the file is not an event file; another
 * negative errno when it cannot be read.
 */
int events_read(const char *state_dir, const char *kind, struct event *ev, char *err,
		size_t errlen);

/* The file's text for @ev into @buf (EVENTS_FILE_MAX bytes): its length, without a NUL. */
size_t events_format(const struct event *ev, char *buf);

/* Parse @len bytes of an event file. 0, or -EINVAL with a message naming the line. */
int events_parse(const char *buf, size_t len, struct event *ev, char *err, size_t errlen);

/* "ok", "failed", "incomplete". */
const char *events_result_name(enum event_result r);

/* Is @kind a usable kind: 1 to EVENTS_KIND_MAX - 1 letters a-z? */
bool events_kind_valid(const char *kind);

#endif
