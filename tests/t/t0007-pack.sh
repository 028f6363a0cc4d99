#!/bin/bash
# The repository stays compact: each commit's objects go to disk as one small pack, a child
# process merges the small packs (and loose objects) in the background while saves go on
# committing, nothing is lost (even when the daemon is killed in the middle of a merge), and
# git fsck stays clean.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live -o pack_every=40,quiet_ms=20
merges() { grep -c 'packs: merged [0-9]' "$DAEMON_LOG"; }
gone() { ! pgrep -f "__pack $GITDIR" >/dev/null; }	# no merge process
npacks() { find "$GITDIR/objects/pack" -name '*.pack' | wc -l; }
vcs_loose() { find "$GITDIR/objects" -path '*/pack' -prune -o -type f -print | grep -c '/[0-9a-f][0-9a-f]/'; }
# saves WORD K: K saves through the mount ("WORD 1".."WORD K"), each waited for; n counts commits
saves() {
	local i
	for i in $(seq 1 "$2"); do
		echo "$1 $i" >>"$M/nginx/nginx.conf"
		n=$((n + 1)); wait_for "$1 $i" 10 count_is $n
	done
}
# A loose object, as the checker writes its notes: the next merge packs it and removes it.
BLOB=$(echo "a loose object" | g hash-object -w --stdin)
n=$(commits)
saves save 150
is "150 saves made 150 commits" "$(commits)" "$n"
wait_for "three merges" 20 test "$(merges)" -ge 3
ok "the small packs were merged in the background (3 merges or more)" test "$(merges)" -ge 3
packs=$(npacks)
ok "few packs are left ($packs after 150 commits)" test "$packs" -le 40
is "no loose objects are left" "$(vcs_loose)" 0
ok "the loose object is in a pack now" g cat-file -e "$BLOB"
ok "every save is still in the history" bash -c "test \$(git --git-dir='$GITDIR' show HEAD:nginx/nginx.conf | grep -c '^save') = 150"
ok "the first version is still readable" bash -c "git --git-dir='$GITDIR' show \$(git --git-dir='$GITDIR' rev-list --max-parents=0 HEAD):nginx/nginx.conf | grep -q worker_processes"
ok "git fsck is clean" g fsck --strict --no-progress
ok "the daemon logged no error" daemon_log_clean
unmount_statefs "$M" "$DAEMON_PID"

# Saves commit at once while a merge is under way (held open for 6 s by a test hook).
DAEMON_LOG=$T/daemon2.log
STATEFS_TEST_PACK_PAUSE_MS=6000 mount_statefs "$T/statefs.conf" "$M" -o allow_other,pack_every=10,quiet_ms=20
n=$(commits)
saves more 10
paused() { grep -q 'pausing' "$DAEMON_LOG"; }
wait_for "a merge is under way" 20 paused
ok "a merge is under way" paused
t0=$(date +%s%N)
saves during 5
t1=$(date +%s%N)
is "5 saves committed while the merge ran" "$(commits)" "$n"
ok "and at once (5 saves in $(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 2500
is "the merge had not ended meanwhile" "$(merges)" 0
wait_for "the merge ends" 20 test "$(merges)" -ge 1
ok "then the merge ended" test "$(merges)" -ge 1
wait_for "no merge under way" 20 gone
ok "git fsck is clean after a merge that ran beside commits" g fsck --strict --no-progress
unmount_statefs "$M" "$DAEMON_PID"

# kill -9 of the daemon in the middle of a merge (the merged pack written, nothing deleted
# yet): the merge stops with the daemon, nothing is lost, and the next merge tidies up.
DAEMON_LOG=$T/daemon3.log
STATEFS_TEST_PACK_PAUSE_MS=60000 mount_statefs "$T/statefs.conf" "$M" -o allow_other,pack_every=10,quiet_ms=20
n=$(commits)
saves kill 10
wait_for "a merge is under way" 20 paused
ok "a merge is under way before the kill" paused
kill -KILL "$DAEMON_PID"
fusermount3 -uz "$M" 2>/dev/null
wait_for "the merge process ends with the daemon" 10 gone
ok "the merge process ended with the daemon" gone
ok "git fsck is clean after the kill" g fsck --strict --no-progress
DAEMON_LOG=$T/daemon4.log
mount_statefs "$T/statefs.conf" "$M" -o allow_other,pack_every=10,quiet_ms=20
saves after 20
wait_for "merges after the restart" 20 test "$(merges)" -ge 2
ok "merges go on after the restart" test "$(merges)" -ge 2
wait_for "no merge under way" 20 gone	# a merge deletes packs: git fsck would trip on it
ok "every save is in the history" bash -c "git --git-dir='$GITDIR' show HEAD:nginx/nginx.conf | grep -c '^\(save\|more\|during\|kill\|after\)' | grep -qx 195"
is "no loose objects are left" "$(vcs_loose)" 0
is "no temporary pack is left" "$(find "$GITDIR/objects/pack" -name 'pack_git2_*' -o -name 'tmp_*' | wc -l)" 0
ok "git fsck is clean" g fsck --strict --no-progress
ok "the daemons logged no error" bash -c "for l in '$T'/daemon*.log; do ! grep -Ei 'AddressSanitizer|runtime error|LeakSanitizer|segfault|assert|\berror\b' \"\$l\" || exit 1; done"
