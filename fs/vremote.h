/*
 * vremote.h - offsite config history: the [remote] of the config, pushed in the background.
 *
 * A pusher thread with its own repository handle pushes refs/heads/main (to the remote's
 * [remote] branch), the check notes and refs/statefs/last-good, at most once per interval:
 * commits made meanwhile go together in the next push. A push that fails is retried after
 * vremote_backoff() seconds, reported in the log and in STATE_DIR/status/last-push. Nothing
 * here is ever waited for by a write or a commit: vremote_kick only sets a flag. Pushes are
 * never forced, so a remote holding history this one lacks is reported, not overwritten.
 * ssh remotes authenticate with the ssh-agent (SSH_AUTH_SOCK) or ~/.ssh/id_ed25519, id_ecdsa,
 * id_rsa (without a passphrase), and the host must be in ~/.ssh/known_hosts.
 */
#ifndef STATEFS_VREMOTE_H
#define STATEFS_VREMOTE_H

#include "mountpoints/mtab.h"

#define VREMOTE_BACKOFF_MAX 3600 /* seconds: the longest wait between two failed pushes */

struct vremote;

/* Prepare the pusher of @tab's [remote]; *out is NULL (and 0 returned) when there is none. */
int vremote_open(struct vremote **out, const struct mtab *tab, char *err, size_t errlen);

/* Start the pusher thread; it pushes once at start (the backlog), then after each kick. */
int vremote_start(struct vremote *r, char *err, size_t errlen);

/* Something new is there to push. Cheap, never blocks on a push. NULL is fine. */
void vremote_kick(struct vremote *r);

/* Stop the pusher: a push in progress is cancelled (one stuck in connect(2) is waited for up
 * to 10 s, then left to the process's exit). NULL is fine. */
void vremote_close(struct vremote *r);

/* Seconds to wait before the next push after @failures consecutive failures (0: @interval):
 * max(@interval, 1) doubled per failure after the first, at most VREMOTE_BACKOFF_MAX (or
 * @interval, if longer). */
unsigned vremote_backoff(unsigned interval, unsigned failures);

#endif
