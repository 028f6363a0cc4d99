#!/bin/bash
# t2004-snapshot-disk: a full disk (a real one: the state directory on a 4 MiB tmpfs) fails the
# snapshot with exit 1 and a clear message, writes no manifest, leaves no temp file, and leaves
# the earlier snapshot as it was; once there is room again the next one succeeds. Progress:
# one updating line on a terminal (under script(1)), none with --quiet. No database here.
. "$(dirname "$0")/../lib.sh"
test_init

SMALL=$T/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$SMALL" 2>/dev/null; then
	echo "ok 1 # skip cannot mount a tmpfs"
	exit 0
fi
cleanup_add "umount -l '$SMALL'"
S=$SMALL/state/store
U=$T/up
mkdir -p "$U/2025"
for i in $(seq 1 50); do head -c 2000 /dev/urandom >"$U/2025/f$i.bin"; done
printf '[state]\n\tdir = %s/state\n[mount "uploads"]\n\tkind = plain\n\tsource = site:%s\n' \
	"$SMALL" "$U" >"$T/statefs.conf"

snap() {
	"$STATEFS" snapshot -c "$T/statefs.conf" "$@" >"$T/out" 2>"$T/err"
	echo $?
}

is "a first snapshot exits 0" "$(snap)" 0
first=$(ls "$S/snapshots")
sum=$(md5sum <"$S/snapshots/$first")

head -c 6000000 /dev/urandom >"$U/2025/video.mp4"
is "with the disk full, the snapshot exits 1" "$(snap)" 1
cat "$T/err"
ok "saying no snapshot was written, and why" \
	grep -q 'failed, no snapshot written.*No space left on device' "$T/err"
is "no new manifest" "$(ls "$S/snapshots")" "$first"
is "the earlier manifest is unchanged" "$(md5sum <"$S/snapshots/$first")" "$sum"
ok "and its files still come back" bash -c \
	"'$TOP/docs/recover-file.sh' '$SMALL/state' '$first' uploads/site/2025/f7.bin | cmp -s - '$U/2025/f7.bin'"
ok "no temp file is left" bash -c "! find '$S' -name 'tmp.*' | grep -q ."

# The chunks the failed snapshot did write stay until a prune sweeps them: make room.
rm "$U/2025/video.mp4"
mount -o remount,size=16m "$SMALL"
is "with room again, the next snapshot exits 0" "$(snap)" 0
is "two snapshots now" "$(ls "$S/snapshots" | wc -l)" 2

# --- progress on a terminal -----------------------------------------------------------------------
echo more >>"$U/2025/f1.bin"
script -qec "'$STATEFS' snapshot -c '$T/statefs.conf'" /dev/null >"$T/tty.out" 2>&1
ok "on a terminal: a progress line, redrawn in place" \
	grep -q $'^\r\033\\[Ksnapshot [0-9_-]*: [a-z /]*, [0-9.]* [KMG]*i*B read, [0-9,]* files\r' "$T/tty.out"
ok "then the summary" grep -q '^snapshot [0-9_-]*: 0 databases, 50 files (1 read, 49 unchanged)' \
	<(tr '\r' '\n' <"$T/tty.out" | sed 's/\x1b\[K//g')
echo more >>"$U/2025/f2.bin"
script -qec "'$STATEFS' snapshot --quiet -c '$T/statefs.conf'" /dev/null >"$T/tty.out" 2>&1
ok "--quiet: no progress line" bash -c "! grep -q 'B read, [0-9,]* files' '$T/tty.out'"
ok "only the summary" grep -q '^snapshot .*50 files (1 read, 49 unchanged)' "$T/tty.out"
