#!/bin/bash
# Offsite config history: saves reach a [remote] (a local bare repository here) in the
# background, with the check notes and last-good; a remote that is gone leaves saves committing
# at full speed, is reported in the log and status/last-push, and gets the backlog when it is
# back.
. "$(dirname "$0")/lib-live.sh"
test_init
R=$T/root
M=$T/mnt
STATE=$T/state
GITDIR=$STATE/config.git
REMOTE=$T/remote.git
mkdir -p "$R/etc/nginx"
printf 'user www-data;\n' >"$R/etc/nginx/nginx.conf"
git init -q --bare "$REMOTE"
cat >"$T/statefs.conf" <<CONF
[state]
	dir = $STATE
[mount "nginx"]
	kind = tree
	source = $R/etc/nginx
	check = true
[remote]
	url = $REMOTE
	branch = vps1
	interval = 1
CONF
mount_statefs "$T/statefs.conf" "$M" || exit 1

rg() { git --git-dir="$REMOTE" "$@"; }
remote_has() { [ "$(rg rev-parse -q --verify "$1" 2>/dev/null)" = "$(g rev-parse -q --verify "$2")" ]; }
pushed() { remote_has refs/heads/vps1 refs/heads/main && remote_has refs/notes/statefs-check refs/notes/statefs-check && remote_has refs/statefs/last-good refs/statefs/last-good; }
last_push() { sed -n "s/^$1 //p" "$STATE/status/last-push" 2>/dev/null; }
last_push_is() { [ "$(last_push "$1")" = "$2" ]; }
# save_timed N: a save, committed within a second
save_timed() {
	local t0 t1
	t0=$(date +%s%N)
	echo "# save $1" >>"$M/nginx/nginx.conf"
	wait_for "save $1" 10 count_is "$1" || return 1
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 1000 ]
}

# At start, what is there goes (the start-up commit, its note, last-good).
wait_for "start: pushed" 20 pushed
ok "start: the remote's vps1 is our main" remote_has refs/heads/vps1 refs/heads/main
# The checker may note a commit just after a push: the next push brings it (eventually equal).
ok "start: the notes are there too" \
	wait_for notes 20 remote_has refs/notes/statefs-check refs/notes/statefs-check
ok "start: and last-good" wait_for last-good 20 remote_has refs/statefs/last-good refs/statefs/last-good
wait_for "start: status" 5 last_push_is result ok
is "start: status/last-push says ok" "$(last_push result)" ok

# Saves arrive, batched (interval = 1 s).
n=$(commits)
for i in 1 2 3; do
	echo "# edit $i" >>"$M/nginx/nginx.conf"
	n=$((n + 1)); wait_for "save $i" 10 count_is $n
done
wait_for "saves: pushed" 20 pushed
ok "saves: the remote has every commit" remote_has refs/heads/vps1 refs/heads/main
is "saves: the remote's log shows the last save" "$(rg log -1 --format=%s vps1)" "Edit nginx/nginx.conf"
ok "saves: the remote note of HEAD says passed" bash -c "git --git-dir='$REMOTE' notes --ref=statefs-check show vps1 | grep -q '^check: passed'"
ok "saves: the remote is a valid repository" bash -c "git --git-dir='$REMOTE' fsck --strict --no-progress 2>/dev/null"

# The remote goes away: saves go on, fast; the failure is logged and in status.
rm -rf "$REMOTE"
for i in 1 2 3; do
	n=$((n + 1)); ok "remote gone: save $i commits within a second" save_timed $n
	sleep 0.3
done
wait_for "remote gone: status" 20 last_push_is result failed
is "remote gone: status/last-push says failed" "$(last_push result)" failed
ok "remote gone: status names the error" bash -c "grep -q '^error ..*' '$STATE/status/last-push'"
ok "remote gone: status counts the failures" bash -c "[ \"\$(sed -n 's/^failures //p' '$STATE/status/last-push')\" -ge 1 ]"
ok "remote gone: the log says so" grep -q "push to $REMOTE failed" "$DAEMON_LOG"
ok "remote gone: last-error too" grep -qx 'kind push' "$STATE/status/last-error"

# Back: the backlog arrives.
git init -q --bare "$REMOTE"
wait_for "remote back: pushed" 30 pushed
ok "remote back: the backlog arrived" remote_has refs/heads/vps1 refs/heads/main
is "remote back: the remote has the whole history" "$(rg rev-list --count vps1)" "$(commits)"
wait_for "remote back: status" 5 last_push_is result ok
is "remote back: status/last-push says ok" "$(last_push result)" ok
ok "remote back: the log says it works again" grep -q "push to $REMOTE works again" "$DAEMON_LOG"

# A remote that does not take the push (history of its own) is reported, never overwritten.
git init -q --bare "$T/other.git"
git init -q "$T/other"
git -C "$T/other" -c user.name=other -c user.email=other@example commit -q --allow-empty -m other
git -C "$T/other" push -q "$T/other.git" HEAD:refs/heads/vps1
rm -rf "$REMOTE" && mv "$T/other.git" "$REMOTE"
OTHER=$(rg rev-parse -q --verify refs/heads/vps1)
n=$((n + 1)); ok "diverged: the save commits" save_timed $n
rejected() { grep -q "contains commits that are not present locally" "$STATE/status/last-push"; }
wait_for "diverged: status" 20 rejected
ok "diverged: status/last-push says why" rejected
is "diverged: the remote's branch is untouched" "$(rg rev-parse -q --verify refs/heads/vps1)" "$OTHER"

ok "git fsck is clean" g fsck --strict --no-progress
unmount_statefs "$M" "$DAEMON_PID"
ok "no sanitizer report" bash -c "! grep -Ei 'AddressSanitizer|runtime error|LeakSanitizer|segfault' '$DAEMON_LOG'"

# A remote that hangs (accepts the connection, never answers): saves still commit at once, and
# the unmount is not held up for long.
spawn LISTENER python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
	c, _ = s.accept()
	held.append(c)
' "$T/port"
wait_for "listener" 10 test -s "$T/port"
STATE=$T/state2
GITDIR=$STATE/config.git
cat >"$T/hang.conf" <<CONF
[state]
	dir = $STATE
[mount "nginx"]
	kind = tree
	source = $R/etc/nginx
[remote]
	url = ssh://git@127.0.0.1:$(cat "$T/port")/x.git
	interval = 0
CONF
DAEMON_LOG=$T/hang.log
mount_statefs "$T/hang.conf" "$T/mnt2" || exit 1
M=$T/mnt2
n=$(commits)
for i in 1 2 3; do
	n=$((n + 1)); ok "hanging remote: save $i commits within a second" save_timed $n
done
t0=$(date +%s)
unmount_statefs "$M" "$DAEMON_PID"
ok "hanging remote: the unmount took at most 15 s" test $(($(date +%s) - t0)) -le 15
ok "hanging remote: the push was abandoned at stop" grep -q "still running at stop; abandoned" "$DAEMON_LOG"
# (what the abandoned push holds inside libgit2 is reported as a leak at exit: expected)
ok "hanging remote: no memory error" bash -c "! grep -Ei 'ERROR: AddressSanitizer|runtime error|segfault' '$DAEMON_LOG'"
