#!/bin/bash
# Checked configs: after a commit the mount's check runs in the background; its result is a git
# note on the commit; on-change runs only when the check passed; refs/statefs/last-good stays on
# the newest commit at which no check fails; a failure is in the log and status/last-check.
. "$(dirname "$0")/lib-live.sh"
test_init
R=$T/root
M=$T/mnt
STATE=$T/state
GITDIR=$STATE/config.git
mkdir -p "$R/etc/nginx/sites-available" "$R/opt/blog" "$R/opt/it's a \"stack\"" "$R/opt/slow" \
	"$R/misc"
printf 'user www-data;\n' >"$R/etc/nginx/nginx.conf"
printf 'server { root /var/www/a; }\n' >"$R/etc/nginx/sites-available/a.conf"
printf 'services: {}\n' >"$R/opt/blog/docker-compose.yml"
printf 'services: {}\n' >"$R/opt/it's a \"stack\"/docker-compose.yml"
printf 'A=1\n' >"$R/opt/slow/.env"
printf 'x\n' >"$R/misc/notes.txt"
# nginx: one check for the whole tree, run in its source directory; compose: one check per
# changed file ({} is its real path, quoted); env: a check that can outlast its time limit.
cat >"$T/statefs.conf" <<CONF
[state]
	dir = $STATE
[mount "nginx"]
	kind = tree
	source = $R/etc/nginx
	check = "echo checking in \$PWD; ! grep -rq BROKEN ."
	on-change = echo reload >>$T/reloaded
[mount "compose"]
	kind = files
	source = $R/opt/*/docker-compose.yml
	check = ! grep -q BROKEN {}
	on-change = printf '%s\\\\n' {} >>$T/compose-changed
[mount "env"]
	kind = files
	source = $R/opt/*/.env
	check = "grep -q SLOW {} && sleep 20; true"
	check-timeout = 1
[mount "misc"]
	kind = tree
	source = $R/misc
CONF
mount_statefs "$T/statefs.conf" "$M" || exit 1

note() { g notes --ref=statefs-check show "${1:-HEAD}" 2>/dev/null; }
good() { g rev-parse -q --verify refs/statefs/last-good; }
head_id() { g rev-parse HEAD; }
has_note() { note "$1" >/dev/null; }
first_line() { note "$1" | head -n 1 | grep -q -- "$2"; }	# first_line COMMIT REGEX
note_line() { note "$1" | grep -qxF -- "$2"; }			# note_line COMMIT LINE
good_is() { [ "$(good)" = "$1" ]; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
status_key() { sed -n "s/^$1 //p" "$STATE/status/last-check"; }

# At start the trees have never been checked: they are, without on-change (nothing was saved).
wait_for "start: the first commit is checked" 20 has_note HEAD
ok "start: the note says passed" first_line HEAD '^check: passed (exit 0) in '
wait_for "start: last-good" 10 good_is "$(head_id)"
is "start: last-good is HEAD" "$(good)" "$(head_id)"
is "start: no on-change without a save" "$(lines "$T/reloaded")" 0

# A good save: passed, the action ran once, last-good follows.
n=$(commits)
sed -i 's/www\/a/www\/b/' "$M/nginx/sites-available/a.conf"
n=$((n + 1)); expect_commits "good save" $n
wait_for "good save: note" 20 has_note HEAD
ok "good save: the note says passed" first_line HEAD '^check: passed (exit 0) in [0-9.]* s$'
ok "good save: the note names the mount" note_line HEAD 'mount: nginx'
ok "good save: the check ran in the mount's source directory" note_line HEAD "    checking in $R/etc/nginx"
wait_for "good save: action" 10 test "$(lines "$T/reloaded")" = 1
is "good save: the action ran once" "$(lines "$T/reloaded")" 1
wait_for "good save: last-good" 10 good_is "$(head_id)"
is "good save: last-good == HEAD" "$(good)" "$(head_id)"
ok "good save: status/last-check says ok" grep -qx 'result ok' "$STATE/status/last-check"
GOOD=$(head_id)

# A broken save: failed, no action, last-good stays, the log and the status say so.
echo "BROKEN;" >>"$M/nginx/nginx.conf"
n=$((n + 1)); expect_commits "broken save" $n
BAD=$(head_id)
wait_for "broken save: note" 20 has_note HEAD
ok "broken save: the note says failed (exit 1)" first_line HEAD '^check: failed (exit 1) in '
ok "broken save: the note says the action was not run" note_line HEAD 'on-change: not run (a check is failing)'
sleep 0.5
is "broken save: the action did not run" "$(lines "$T/reloaded")" 1
is "broken save: last-good stays on the previous commit" "$(good)" "$GOOD"
ok "broken save: the log names the failure" grep -q "check of nginx failed (exit 1) .*${BAD:0:12}" "$DAEMON_LOG"
ok "broken save: status/last-check says failed" grep -qx 'result failed' "$STATE/status/last-check"
is "broken save: status names the commit" "$(status_key commit)" "$BAD"
is "broken save: status names the exit status" "$(status_key exit)" 1
is "broken save: status keeps last-good" "$(status_key last_good)" "$GOOD"
ok "broken save: last-error too" grep -qx 'kind check' "$STATE/status/last-error"

# A commit of a mount without a check inherits: nginx is still broken.
echo y >>"$M/misc/notes.txt"
n=$((n + 1)); expect_commits "unchecked save" $n
sleep 1
is "unchecked save: last-good does not move past a failing check" "$(good)" "$GOOD"
fails "unchecked save: no note (nothing was checked)" has_note HEAD

# The fix: passes again, the action runs, last-good moves.
sed -i '/BROKEN/d' "$M/nginx/nginx.conf"
n=$((n + 1)); expect_commits "fix" $n
wait_for "fix: note" 20 has_note HEAD
ok "fix: the note says passed" first_line HEAD '^check: passed'
wait_for "fix: last-good" 10 good_is "$(head_id)"
is "fix: last-good == HEAD" "$(good)" "$(head_id)"
wait_for "fix: action" 10 test "$(lines "$T/reloaded")" = 2
is "fix: the action ran again" "$(lines "$T/reloaded")" 2

# Per-file checks: {} is the changed file's real path, quoted, for the check and the action.
: >"$T/compose-changed"
STACK="$R/opt/it's a \"stack\"/docker-compose.yml"
echo "x: 1" >>"$M/compose/it's a \"stack\"/docker-compose.yml"
n=$((n + 1)); expect_commits "compose save" $n
wait_for "compose save: last-good" 20 good_is "$(head_id)"
ok "compose save: the note names the file" note_line HEAD "file: it's a \"stack\"/docker-compose.yml"
wait_for "compose save: action" 10 test "$(lines "$T/compose-changed")" = 1
is "compose save: the action got the real path" "$(cat "$T/compose-changed")" "$STACK"

echo "BROKEN" >>"$M/compose/blog/docker-compose.yml"
n=$((n + 1)); expect_commits "broken compose" $n
wait_for "broken compose: note" 20 has_note HEAD
ok "broken compose: failed" first_line HEAD '^check: failed (exit 1)'
C_GOOD=$(good)
# another file of the same mount passes; the broken one still holds last-good back
echo "y: 2" >>"$M/compose/it's a \"stack\"/docker-compose.yml"
n=$((n + 1)); expect_commits "other compose file" $n
wait_for "other compose file: note" 20 has_note HEAD
ok "other compose file: its check passed" first_line HEAD '^check: passed'
wait_for "other compose file: its action ran" 10 test "$(lines "$T/compose-changed")" = 2
is "other compose file: last-good stays (blog is still broken)" "$(good)" "$C_GOOD"
sed -i '/BROKEN/d' "$M/compose/blog/docker-compose.yml"
n=$((n + 1)); expect_commits "compose fix" $n
wait_for "compose fix: last-good" 20 good_is "$(head_id)"
is "compose fix: last-good == HEAD" "$(good)" "$(head_id)"

# The time limit, and saves go on committing while a check runs.
echo SLOW >>"$M/env/slow/.env"
n=$((n + 1)); expect_commits "slow check" $n
SLOW=$(head_id)
t0=$(date +%s%N)
echo z >>"$M/misc/notes.txt"
n=$((n + 1)); wait_for "a save during the check" 10 count_is $n
t1=$(date +%s%N)
ok "a save during a running check commits at once (< 1 s)" test $(((t1 - t0) / 1000000)) -lt 1000
wait_for "slow check: note" 20 has_note "$SLOW"
ok "slow check: failed (timed out after 1 s)" first_line "$SLOW" '^check: failed (timed out after 1 s)$'
ok "slow check: the log says so" grep -q "check of env/slow/.env failed (timed out after 1 s)" "$DAEMON_LOG"

ok "git fsck is clean" g fsck --strict --no-progress
unmount_statefs "$M" "$DAEMON_PID"
ok "no sanitizer report" bash -c "! grep -Ei 'AddressSanitizer|runtime error|LeakSanitizer|segfault' '$DAEMON_LOG'"

# No check anywhere: last-good is HEAD, written lazily (at most every few seconds, and at stop)
# rather than as one more synced ref per commit.
STATE=$T/state2
GITDIR=$STATE/config.git
sed -e "s|dir = $T/state\$|dir = $STATE|" -e '/check/d' -e '/on-change/d' "$T/statefs.conf" \
	>"$T/nocheck.conf"
DAEMON_LOG=$T/daemon2.log
mount_statefs "$T/nocheck.conf" "$M" || exit 1
wait_for "no check: last-good at start" 10 good_is "$(head_id)"
is "no check: last-good is HEAD at start" "$(good)" "$(head_id)"
n=$(commits)
for i in 1 2 3 4 5; do
	echo "burst $i" >>"$M/misc/notes.txt"
	n=$((n + 1)); wait_for "burst $i" 10 count_is $n
done
is "no check: 5 saves made 5 commits" "$(commits)" "$n"
ok "no check: last-good did not follow each commit at once" test "$(good)" != "$(head_id)"
wait_for "no check: last-good catches up" 15 good_is "$(head_id)"
is "no check: within a few seconds last-good is HEAD" "$(good)" "$(head_id)"
echo "last" >>"$M/misc/notes.txt"
n=$((n + 1)); wait_for "last save" 10 count_is $n
unmount_statefs "$M" "$DAEMON_PID"
is "no check: at stop, last-good is HEAD" "$(good)" "$(head_id)"
fails "no check: no note was written" g rev-parse -q --verify refs/notes/statefs-check
ok "no check: git fsck is clean" g fsck --strict --no-progress
ok "no check: the daemon logged no error" daemon_log_clean
