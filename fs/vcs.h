/*
 * vcs.h - versioning of the live config trees: one logical save, one git commit.
 *
 * The FUSE threads (and the inotify watcher) only note which paths changed and who changed
 * them; a single committer thread coalesces the notes of one save (temp file, rename, chmod,
 * backup copy) in a short quiet window, re-reads what is on disk beneath each mount's source
 * and commits it to a bare repository in the state directory. A write never waits for git.
 * On start the whole tree is compared with HEAD and any difference is committed as external,
 * so a crash or a change made while statefs was stopped is never left unrecorded.
 * After commits, in the background: the mounts' checks and on-change actions run (vhooks.h,
 * recorded in refs/notes/statefs-check and refs/statefs/last-good) and the history is pushed
 * to the [remote] (vremote.h), both started by vcs_start and stopped by vcs_close.
 */
#ifndef STATEFS_VCS_H
#define STATEFS_VCS_H

#include <stddef.h>
#include <sys/types.h>

#include "mountpoints/mtab.h"

struct vcs;

/* Who made a change: the writer through the mount, or "external" (inotify, start-up scan). */
struct vcs_who {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char comm[16]; /* the program's command name, /proc/PID/comm */
	int external;
};

struct vcs_options {
	unsigned quiet_ms;      /* the coalescing window; default 150 */
	unsigned max_delay_ms;  /* commit anyway after this long while writers stay open; 5000 */
	unsigned pack_every;    /* start a merge of the small packs after this many commits; 16 */
	long long max_file_size; /* files larger than this are not versioned; default 16 MiB */
};

/*
 * Open (creating if needed) the bare repository STATE_DIR/config.git and prepare the trees of
 * every versioned mount in @tab. 0 or -errno with a message in err.
 */
int vcs_open(struct vcs **out, const struct mtab *tab, const struct vcs_options *opt, char *err,
	     size_t errlen);

/*
 * The config commit a snapshot records: if no daemon has the repository open, bring it up to
 * date first (as a start-up would: what differs is committed as external); if a daemon has,
 * it commits every change within its quiet window, so its HEAD is taken as it is. Writes the
 * full hex id (41 bytes with the NUL) into @hex, or "-" if there is no commit at all.
 */
int vcs_head_for_snapshot(const struct mtab *tab, char hex[41], char *err, size_t errlen);

/* Scan everything and commit what differs from HEAD as external (found at start-up). */
int vcs_catch_up(struct vcs *v, char *err, size_t errlen);

/* Start the committer thread, the checker and the pusher (after any fork: threads do not
 * survive fuse_daemonize). */
int vcs_start(struct vcs *v, char *err, size_t errlen);

/* Commit what is pending, stop the committer thread, close the repository. NULL is fine. */
void vcs_close(struct vcs *v);

/*
 * Note that @path ("nginx/sites-available/x.conf": the mount name, then the path beneath the
 * mount's base) changed. @recursive: rescan everything beneath it (a directory appeared, went
 * or was renamed). Cheap and non-blocking apart from a short mutex.
 */
void vcs_note(struct vcs *v, const char *path, int recursive, const struct vcs_who *who);

/* A handle began (+1) or ended (-1) writing: the committer waits while writers are open. */
void vcs_writers(struct vcs *v, int delta);

/* Wait until every note made before the call has been committed (or found unchanged). */
void vcs_sync(struct vcs *v);

/*
 * `statefs __pack GITDIR PPID`, not for users: the child process that the daemon starts to
 * merge the repository's packs (fs/vpack.c), off the committer thread and out of the daemon's
 * memory. Logs on stdout as "LEVEL message" lines. Exit status 0, or 1 on failure.
 */
int vcs_pack_main(int argc, char **argv);

/* Fill @who for process @pid with credentials @uid/@gid (reads /proc/PID/comm). */
void vcs_who_fill(struct vcs_who *who, pid_t pid, uid_t uid, gid_t gid);

#endif
