#!/bin/bash
# t3003-backups-live: backups/ and history/ follow the store and the repository while mounted:
# a snapshot taken while mounted appears and latest moves to it; history/ shows the version
# saved between two snapshots and cp -a from it restores it; prune waits while a file of the
# snapshot it removes is open, the file reads to its end, and then the snapshot disappears.
. "$(dirname "$0")/lib-live.sh"
test_init
export LC_ALL=C

U=$T/root/uploads/clemence	# $R, set by setup_live
mkdir -p "$U"
head -c 3000000 /dev/urandom >"$U/only-in-first.bin"
cp "$U/only-in-first.bin" "$T/only-in-first.bin"
echo kept >"$U/kept.txt"
setup_live
unmount_statefs "$M" "$DAEMON_PID"
printf '[mount "uploads"]\n\tkind = plain\n\tsource = clemence:%s\n' "$U" >>"$T/statefs.conf"
mount_statefs "$T/statefs.conf" "$M" -o allow_other
snapshot() { "$STATEFS" snapshot -c "$T/statefs.conf" --quiet >>"$T/snap.log" 2>&1; }
C=nginx/sites-available/clemence.conf
save() {	# save TEXT: edit clemence.conf through the mount and wait for its commit
	echo "root $1;" >"$M/$C"
	wait_for "commit of $1" 10 bash -c "git --git-dir='$GITDIR' show HEAD:$C 2>/dev/null | grep -q '$1'"
}
names() { ls "$M/backups" | tr '\n' ' '; }

save /var/www/first
ok "a first snapshot" snapshot
S1=$(ls "$STATE/store/snapshots" | grep -v '^tmp' | head -1)
is "backups/ shows it" "$(names)" "$S1 latest "
save /var/www/between
save /var/www/second
rm "$U/only-in-first.bin"
sleep 1 # a second snapshot the same second would have no name
ok "a second snapshot, taken while mounted" snapshot
S2=$(ls "$STATE/store/snapshots" | grep -v '^tmp' | sort | tail -1)
ok "it has a name of its own" test "$S1" != "$S2"
is "it appears without a remount" "$(names)" "$S1 $S2 latest "
is "latest moves to it" "$(readlink "$M/backups/latest")" "$S2"
ok "each snapshot has its own config version" bash -c \
	"grep -q first '$M/backups/$S1/$C' && grep -q second '$M/backups/$S2/$C'"

# --- history/ --------------------------------------------------------------------------------
ok "history/ has a directory per date" test -d "$M/history/$(date +%Y-%m-%d)"
n=$(ls -d "$M"/history/*/* | wc -l)
is "one directory per commit" "$n" "$(g rev-list --count HEAD)"
H=$(grep -l between "$M"/history/*/*/$C | head -1)
H=${H%/$C}
ok "history/ holds the version saved between the snapshots" test -n "$H"
ok "which no snapshot has" bash -c "! grep -q between '$M/backups/$S1/$C' '$M/backups/$S2/$C'"
is "its name is its time and short id" "$(basename "$H" | sed 's/^[0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9a-f]\{7\}$/ok/')" ok
is "its configs keep their modes" "$(stat -c %a "$H/env/whisperx/.env")" 600
fails "an ordinary user cannot read the .env there" setpriv --reuid=65534 --regid=65534 \
	--clear-groups bash -c "cat '$H/env/whisperx/.env' >/dev/null 2>&1"
ok "cp -a from history/ restores it" cp -a "$H/$C" "$M/$C"
ok "the live file is that version again" cmp "$H/$C" "$R/etc/$C"
wait_for "the restore is committed" 10 bash -c \
	"git --git-dir='$GITDIR' show HEAD:$C | grep -q between && test \$(ls -d '$M'/history/*/* | wc -l) -gt $n"
is "and history/ shows the new commit" "$(ls -d "$M"/history/*/* | wc -l)" "$((n + 1))"

# --- prune while a file of the pruned snapshot is open ----------------------------------------
F=$M/backups/$S1/uploads/clemence/only-in-first.bin
CH=$(awk '$1 == "f" && $NF == "uploads/clemence/only-in-first.bin" { f = 1; next }
	f && $1 == "c" { print $2; next } f { exit }' "$STATE/store/snapshots/$S1")
chunks_gone() {	# no pack index names them any more
	for c in $CH; do
		if grep -qh "^$c " "$STATE"/store/packs/*.idx; then return 1; fi
	done
}
fails "the pack indexes name the file's chunks" chunks_gone
exec 3<"$F"
dd bs=65536 count=1 of="$T/part1" <&3 2>/dev/null
"$STATEFS" prune -c "$T/statefs.conf" --keep-last 1 >"$T/prune.log" 2>&1 3<&- &
PRUNE=$!
cleanup_add "kill_pid $PRUNE"
sleep 1
ok "prune waits while a file of the snapshot is open" kill -0 "$PRUNE"
cat <&3 >"$T/part2"
exec 3<&-
ok "the file reads to its end" bash -c "cat '$T/part1' '$T/part2' | cmp - '$T/only-in-first.bin'"
wait "$PRUNE"
is "prune then runs" "$?" 0
ok "the file had chunks of its own" test -n "$CH"
ok "which are swept now" chunks_gone
# The sweep rewrote the pack they were in, so what S2 names moved to a new pack under the
# daemon's feet (it loaded the pack indexes before).
is "a file of the snapshot left reads" "$(cat "$M/backups/$S2/uploads/clemence/kept.txt")" kept
ok "and so does all of it" bash -c "tar -cf - -C '$M/backups/$S2' . >/dev/null"
ok "the daemon keeps no removed pack open (the disk space prune freed is free)" \
	bash -c "! ls -l /proc/$DAEMON_PID/fd | grep -q 'packs/.*(deleted)'"
wait_for "the pruned snapshot goes" 5 bash -c "! ls '$M/backups' | grep -qx '$S1'"
is "backups/ lists what is left" "$(names)" "$S2 latest "
wait_for "its directory cannot be reached" 5 test ! -e "$M/backups/$S1"
ok "it cannot be reached" test ! -e "$M/backups/$S1"
is "latest is the one left" "$(readlink "$M/backups/latest")" "$S2"
ok "the daemon logged no error" daemon_log_clean
