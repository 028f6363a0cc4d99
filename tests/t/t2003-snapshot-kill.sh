#!/bin/bash
# t2003-snapshot-kill: a snapshot killed with SIGKILL in the middle of dumping a biggish table
# leaves no snapshot and no lock; the next one cleans the dead one's temp files and succeeds.
# While a real snapshot runs, a second one with --no-wait refuses, naming the first's pid.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib/mariadb.sh"
test_init

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
	echo "ok 1 # skip mariadb-server is not installed"
	exit 0
fi

DB=$T/m
S=$T/state/store
cleanup_add "mariadb_stop '$DB'"
ok "a private MariaDB starts" mariadb_start "$DB" || exit 1

# A table of some 20 MB dumped first, then a table that another session holds locked: the
# dump stops there, in the middle, for as long as the test needs.
mariadb_sql -e "CREATE DATABASE big; USE big;
CREATE TABLE a_posts (id INT PRIMARY KEY, title VARCHAR(100), body TEXT);
INSERT INTO a_posts SELECT seq, CONCAT('title ', seq), CONCAT(SHA2(seq, 512), MD5(seq),
	SHA2(seq + 1, 512), ' ', REPEAT(MD5(seq * 7), 3)) FROM seq_1_to_60000;
CREATE TABLE b_locked (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO b_locked VALUES (1, 'one');"
spawn LOCKER mariadb_sql -e "LOCK TABLES big.b_locked WRITE; SELECT SLEEP(300)" 2>/dev/null
locker_id() {
	mariadb_sql -N -B -e "SELECT ID FROM information_schema.PROCESSLIST
		WHERE INFO LIKE 'SELECT SLEEP(300)%'"
}
have_locker() { test -n "$(locker_id)"; }
ok "another session locks b_locked" wait_for "locker" 10 have_locker
mkdir -p "$T/up/a"
echo x >"$T/up/a/x.txt"
printf '[state]\n\tdir = %s/state\n[mount "uploads"]\n\tkind = plain\n\tsource = a:%s\n' \
	"$T" "$T/up/a" >"$T/statefs.conf"
printf '[database "big"]\n\tsocket = %s\n\toption-file = %s\n' "$MARIADB_SOCK" \
	"$MARIADB_CNF" >>"$T/statefs.conf"

# Bytes of chunks written so far: the open pack (packs/tmp.NAME.PID.1) grows as the dump goes.
pack_bytes() { cat "$S"/packs/tmp.*.1 2>/dev/null | wc -c; }
snapshots() { ls "$S/snapshots" 2>/dev/null | grep -v '^tmp\.' | wc -l; }

# --- kill -9 in the middle of the dump ----------------------------------------------------------
"$STATEFS" snapshot -c "$T/statefs.conf" >"$T/k.out" 2>"$T/k.err" &
K=$!
cleanup_add "kill_pid $K"
many_chunks() { test "$(pack_bytes)" -gt 1000000; }
ok "the snapshot dumped a_posts (its open pack grows)" wait_for "chunks" 30 many_chunks
waiting() {
	mariadb_sql -N -B -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST
		WHERE STATE LIKE 'Waiting for table%' AND INFO LIKE '%b_locked%'" | grep -qx 1
}
ok "and waits for b_locked, in the middle of the dump" wait_for "waiting" 20 waiting
ok "it is still running" kill -0 "$K"

"$STATEFS" snapshot -c "$T/statefs.conf" --no-wait >"$T/nw.out" 2>"$T/nw.err"
is "meanwhile, a second one with --no-wait exits 1" "$?" 1
ok "naming the running one's pid" grep -q "another snapshot is running (pid $K)" "$T/nw.err"

kill -KILL "$K"
wait "$K" 2>/dev/null
is "killed: no snapshot was written" "$(snapshots)" 0
ok "the lock went with the process" flock -n -x "$S/snapshot.lock" true
mariadb_sql -e "KILL $(locker_id)" 2>/dev/null
kill_pid "$LOCKER"
# A temp file that a killed writer may leave (planted: the kill may fall between two writes).
touch "$S/packs/tmp.abcdef0123456789.$K.1" "$S/packs/tmp.abcdef0123456789.$K.2" \
	"$S/snapshots/tmp.2025-10-01.$K"

# --- the next snapshot --------------------------------------------------------------------------
"$STATEFS" snapshot -c "$T/statefs.conf" >"$T/out" 2>"$T/err"
is "the next snapshot succeeds" "$?" 0
cat "$T/out" "$T/err"
is "one snapshot now" "$(snapshots)" 1
ok "the dead snapshot's temp files are gone" bash -c "! find '$S' -name 'tmp.*' | grep -q ."
name=$(ls "$S/snapshots")
ok "its dump is whole" bash -c \
	"'$TOP/docs/recover-file.sh' '$T/state' '$name' db/big.sql.zst | tail -n 1 | grep -qx -- '-- statefs: dump complete'"
ok "the dump is chunked by rows, not held whole (> 500 chunks)" \
	test "$(awk '$1 == "c"' "$S/snapshots/$name" | wc -l)" -gt 500
ok "the reasons of a complete snapshot: none" bash -c "! grep -q '^reason' '$S/snapshots/$name'"
