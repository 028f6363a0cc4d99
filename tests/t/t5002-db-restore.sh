#!/bin/bash
# Restore by cp: copying a dump onto db/NAME.sql.zst replaces the database with the dump's
# state (every table's checksum and every object's definition), atomically, after a
# pre-restore snapshot that undoes it; a cut, garbage or failing dump, and a daemon killed
# mid-restore, each leave the live database exactly as it was, with cp reporting the error.
. "$(dirname "$0")/lib-live.sh"
. "$TOP/tests/lib/mariadb.sh"
. "$TOP/tests/lib/fingerprint.sh"
test_init
DB=$T/m
cleanup_add "mariadb_stop '$DB'"
ok "a private MariaDB starts" mariadb_start "$DB" || exit 1
mariadb_sql -e "CREATE DATABASE shop"
ok "the fidelity database loads" bash -c "mariadb --defaults-file='$MARIADB_CNF' --comments shop < '$TOP/tests/data/fidelity.sql'"
setup_live
unmount_statefs "$M" "$DAEMON_PID"
printf '[database "shop"]\n\tsocket = %s\n\toption-file = %s\n' "$MARIADB_SOCK" "$MARIADB_CNF" \
	>>"$T/statefs.conf"
mount_statefs "$T/statefs.conf" "$M" -o allow_other

ok "a dump is read out of db/" cp "$M/db/shop.sql.zst" "$T/day1.sql.zst"
fingerprint shop >"$T/before"
first=$(sql shop 'SHOW TABLES' | head -n1)
mariadb_sql shop -e "DROP TABLE \`$first\`; CREATE TABLE extra (id INT PRIMARY KEY); INSERT INTO extra VALUES (1)"
fingerprint shop >"$T/changed"
ok "the database was changed" bash -c "! cmp -s '$T/before' '$T/changed'"

ok "cp of the dump onto db/ returns 0" cp "$T/day1.sql.zst" "$M/db/shop.sql.zst"
fingerprint shop >"$T/after"
same "$T/before" "$T/after" "restored by cp"
is "the table the dump does not have is gone" "$(sql shop "SHOW TABLES LIKE 'extra'")" ""
is "no scratch database is left" "$(sql mysql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%statefs%'")" 0
ok "the restore is logged" grep -q 'db/shop.sql.zst: restored' "$DAEMON_LOG"
pre=$(sed -n 's/.*snapshot \([0-9_-]*\) taken before the restore.*/\1/p' "$DAEMON_LOG" | tail -n1)
ok "a snapshot was taken before the swap ($pre)" test -n "$pre"
ok "the pre-restore snapshot holds the changed state" bash -c "
	sh '$TOP/docs/recover-file.sh' '$STATE' '$pre' db/shop.sql.zst > '$T/pre.sql.zst' 2>/dev/null ||
	sh '$TOP/docs/recover-file.sh' '$STATE' '$pre' db/shop.sql.zst > '$T/pre.sql'"
[ -s "$T/pre.sql.zst" ] || zstd -q -f "$T/pre.sql" -o "$T/pre.sql.zst"
ok "copying it back undoes the restore" cp "$T/pre.sql.zst" "$M/db/shop.sql.zst"
fingerprint shop >"$T/undone"
same "$T/changed" "$T/undone" "undone"

# failures: the live database stays exactly as it is
fingerprint shop >"$T/live"
head -c $(($(stat -c %s "$T/day1.sql.zst") / 2)) "$T/day1.sql.zst" >"$T/cut.sql.zst"
fails "cp of a cut dump fails" cp "$T/cut.sql.zst" "$M/db/shop.sql.zst"
head -c 100000 /dev/urandom >"$T/garbage"
fails "cp of garbage fails" cp "$T/garbage" "$M/db/shop.sql.zst"
# after the fifth INSERT statement, in that table's part: a row the server refuses
zstdcat "$T/day1.sql.zst" | awk '/^INSERT INTO/ { t = $3 } { print }
	/^\(.*\);$/ && ++n == 5 { print "INSERT INTO " t " VALUES (1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17);" }' >"$T/bad.sql"
ok "the bad dump has its error" grep -q '^INSERT INTO .* VALUES (1,2,3,4,5,6,7,8' "$T/bad.sql"
fails "cp of a dump with an SQL error half way fails" cp "$T/bad.sql" "$M/db/shop.sql.zst"
ok "the server's reason is in the log" grep -aq "Column count doesn't match" "$DAEMON_LOG"
fingerprint shop >"$T/live2"
same "$T/live" "$T/live2" "after three failed restores"
is "no scratch database is left after failures" "$(sql mysql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%statefs%'")" 0

# kill -9 of the daemon in the middle of a restore
zstdcat "$T/day1.sql.zst" >"$T/day1.sql"
( exec 3>"$M/db/shop.sql.zst"; head -c 200000 "$T/day1.sql" >&3; sleep 30 ) 2>/dev/null &
WPID=$!
cleanup_add "kill_pid $WPID"
wait_for "the restore has started" 10 grep -q 'restore started' "$DAEMON_LOG"
sleep 1
kill -KILL "$DAEMON_PID"
kill_pid "$WPID"
fusermount3 -uz "$M" 2>/dev/null
fingerprint shop >"$T/live3"
same "$T/live" "$T/live3" "after kill -9 mid-restore"
DAEMON_LOG=$T/daemon2.log mount_statefs "$T/statefs.conf" "$M" -o allow_other
wait_for "stale staging databases are dropped at start-up" 20 bash -c "test \"\$(mariadb --defaults-file='$MARIADB_CNF' -N -B -e \"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%statefs%'\")\" = 0"
is "no staging database after the restart" "$(sql mysql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%statefs%'")" 0
