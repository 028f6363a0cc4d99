/*
 * vhooks.h - checked configs: after a commit that touches a mount with `check` or `on-change`,
 * run them in the background and record the outcome with the commit.
 *
 * One worker thread, with its own repository handle, takes the newest commit the committer
 * made, diffs it against the commit it checked last (at start: refs/statefs/last-good), and
 * for each mount with changes runs the mount's check (once, or once per changed file when the
 * command holds "{}"), then its on-change when the check passed and the change was a save
 * through the mount (not an external change). Each command runs as the daemon's user through
 * /bin/sh -c, in the mount's source directory, stdin /dev/null, within check-timeout, with its
 * output kept (the last VHOOKS_OUTPUT_MAX bytes).
 *
 * The outcome: a git note on the commit (VHOOKS_NOTES_REF, `git notes --ref=statefs-check show`),
 * STATE_DIR/status/last-check, the log, and the ref VHOOKS_LAST_GOOD_REF: the newest commit at
 * which no check is failing (a commit that touches no checked mount inherits the state of its
 * parent); when no mount has a check it is HEAD, and is written at most every few seconds. The one thing to know: checks read the files as they are on disk, so when commits
 * pile up behind a slow check, only the newest is checked, for the changes of all of them.
 */
#ifndef STATEFS_VHOOKS_H
#define STATEFS_VHOOKS_H

#include <git2.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "mountpoints/mtab.h"

#define VHOOKS_NOTES_REF "refs/notes/statefs-check"
#define VHOOKS_LAST_GOOD_REF "refs/statefs/last-good"
#define VHOOKS_OUTPUT_MAX 4096

struct vhooks;

/*
 * Open the repository of @tab again for the worker. @changed(@arg) is called (on the worker
 * thread) after a note or last-good was written, e.g. to push them. 0 or -errno with a message.
 */
int vhooks_open(struct vhooks **out, const struct mtab *tab, void (*changed)(void *), void *arg,
		char *err, size_t errlen);

/* Start the worker; it first checks what changed since last-good (without on-change). */
int vhooks_start(struct vhooks *h, char *err, size_t errlen);

/* The committer made commit @id (@external: not a save through the mount). Never blocks. */
void vhooks_commit(struct vhooks *h, const git_oid *id, int external);

/* Packs were merged (some deleted): the worker opens the repository again before its next
 * round. Never blocks. */
void vhooks_repacked(struct vhooks *h);

/* Stop the worker (a running command is killed; the next start checks again) and free. */
void vhooks_close(struct vhooks *h);

/* How a command ended. */
enum vhooks_end {
	VHOOKS_EXITED,	 /* code = its exit status */
	VHOOKS_SIGNALED, /* code = the signal */
	VHOOKS_TIMEOUT,	 /* killed after the time limit */
	VHOOKS_STOPPED,	 /* killed because statefs stops */
	VHOOKS_NOSPAWN,	 /* could not be started; code = the errno */
};

struct vhooks_result {
	enum vhooks_end end;
	int code;
	double seconds;
	unsigned timeout_s;
	char out[VHOOKS_OUTPUT_MAX + 1]; /* the output's end (stdout and stderr), NUL-terminated */
	size_t outlen;
	int cut; /* the output was longer than what out holds */
};

/*
 * Run @cmd with /bin/sh -c in directory @cwd (NULL: the current one) and environment @envp
 * (NULL: the daemon's), stdin /dev/null, stdout and stderr captured, in its own process group,
 * killed (the whole group) after @timeout_s seconds or as soon as *@stop (may be NULL) is set.
 * Fills @res; returns 1 if it exited with status 0, else 0.
 */
int vhooks_run(const char *cmd, const char *cwd, unsigned timeout_s, char *const envp[],
	       const atomic_int *stop, struct vhooks_result *res);

/*
 * Start @path with @argv through posix_spawn (no fork of a threaded process): stdin /dev/null,
 * stdout @outfd, stderr @errfd (-1: the daemon's), every other descriptor closed, signals at
 * their defaults and unblocked, in a process group of its own, in @cwd (NULL: the current
 * directory), environment @envp (NULL: the daemon's). 0 or an errno value.
 */
int vhooks_spawn(pid_t *pid, const char *path, char *const argv[], const char *cwd,
		 char *const envp[], int outfd, int errfd);

/* "passed (exit 0) in 0.004 s", "failed (exit 1) in ...", "failed (timed out after 60 s)". */
void vhooks_describe(const struct vhooks_result *res, char *buf, size_t size);

/* The last non-empty line of @out (@len bytes), without control characters, cut to @size. */
void vhooks_last_line(const char *out, size_t len, char *line, size_t size);

/*
 * @cmd with every "{}" replaced by @path quoted for /bin/sh ('...', a ' inside as '\''), so
 * {} must not be put in quotes in the config. @path NULL: a copy of @cmd. 0 or -ENOMEM.
 */
int vhooks_expand(const char *cmd, const char *path, char **out);

/* Does @cmd name a file ("{}"), so that it runs once per changed file? */
int vhooks_per_file(const char *cmd);

#endif
