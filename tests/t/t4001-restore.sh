#!/bin/bash
# t4001-restore: `statefs restore` (restore/load.h) on a private MariaDB. The fidelity database
# (tests/data/fidelity.sql) is dumped, changed (rows updated and deleted, a table dropped, a
# table, a view, a routine and a trigger added, a table replaced by a view), and restored: every
# table's CHECKSUM TABLE EXTENDED and every object's SHOW CREATE equal the original, and what
# the dump does not have is gone; the snapshot taken before the swap undoes it. Then each
# failure (a cut dump, garbage, an SQL error half way, a refused USE, kill -9 mid-load) leaves
# the live database exactly as it was and, after --cleanup or the next run, no scratch database.
# A mariadb-dump file restores to the same state as `mariadb < file`. A restore that sets most
# statements aside in its spool (a small queue and spool, through test variables) gives the same.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/lib/mariadb.sh"
test_init

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
	echo "ok 1 # skip mariadb-server is not installed"
	exit 0
fi

M=$T/m
cleanup_add "mariadb_stop '$M'"
ok "a private MariaDB starts" mariadb_start "$M" || exit 1

sql() {		# sql DB QUERY: raw, tab-separated, no header
	mariadb_sql -N -B -r "$1" -e "$2"
}
qi() {		# qi NAME: `NAME` with backticks doubled
	local s=${1//\`/\`\`}
	printf '`%s`' "$s"
}
restore() {	# restore ARGS...: statefs restore; stdout+stderr to $T/err; echoes the status
	"$STATEFS" restore -c "$T/conf" "$@" >"$T/err" 2>&1
	echo $?
}
scratch() {	# the scratch databases left on the server
	sql mysql "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA
		WHERE SCHEMA_NAME LIKE '%\\_\\_statefs\\_%' ORDER BY 1"
}

# fingerprint DB: one line per table (CHECKSUM TABLE EXTENDED, SHOW CREATE) and per view,
# routine, trigger (without its creation time) and event (SHOW CREATE), newlines as '|'. All
# the statements run in one client: a "#key" line before each answer says what it is.
fingerprint() {
	local db=$1 name type q
	{
		while IFS=$'\t' read -r name type; do
			q=$(qi "$name")
			if [ "$type" = VIEW ]; then
				echo "SELECT '#view $q'; SHOW CREATE VIEW $q;"
			else
				echo "SELECT '#table $q checksum'; CHECKSUM TABLE $q EXTENDED;"
				echo "SELECT '#table $q'; SHOW CREATE TABLE $q;"
			fi
		done < <(sql "$db" 'SHOW FULL TABLES' | LC_ALL=C sort)
		while IFS=$'\t' read -r type name; do
			q=$(qi "$name")
			echo "SELECT '#$type $q'; SHOW CREATE $type $q;"
		done < <(sql "$db" "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
				WHERE ROUTINE_SCHEMA = '$db'
			UNION ALL SELECT 'TRIGGER', TRIGGER_NAME FROM information_schema.TRIGGERS
				WHERE TRIGGER_SCHEMA = '$db'
			UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS
				WHERE EVENT_SCHEMA = '$db'" | LC_ALL=C sort)
	} | mariadb_sql -N -B -r "$db" | awk '
		function flush() {
			if (key == "") return
			if (key ~ /^#TRIGGER /) sub(/\t[^\t]*$/, "", rec)  # its creation time
			if (key ~ / checksum$/) sub(/^[^\t]*\t/, "", rec)  # db.table
			print substr(key, 2) ": " rec
		}
		/^#(view|table|FUNCTION|PROCEDURE|TRIGGER|EVENT|PACKAGE) / { flush(); key = $0; rec = ""; next }
		{ rec = rec $0 "|" }
		END { flush() }'
}

# same FILE1 FILE2 WHAT: one assertion per line of two fingerprints, then one for the set.
same() {
	local a b n=0 bad=0
	while IFS= read -r a && IFS= read -r b <&3; do
		n=$((n + 1))
		if [ "$a" != "$b" ]; then
			is "$3: ${a%%:*}" "${b:0:300}" "${a:0:300}"
			bad=1
		fi
	done <"$1" 3<"$2"
	is "$3: the same $(wc -l <"$1") tables and objects, each the same ($n compared)" \
		"$(cut -d: -f1 "$2")" "$(cut -d: -f1 "$1")" && [ $bad = 0 ]
}

{
	printf '[state]\n\tdir = %s/state\n' "$T"
	printf '[database "fidelity"]\n\tsocket = %s\n\toption-file = %s\n' \
		"$MARIADB_SOCK" "$MARIADB_CNF"
	printf '[database "other"]\n\tsocket = %s\n\toption-file = %s\n' \
		"$MARIADB_SOCK" "$MARIADB_CNF"
} >"$T/conf"

mariadb_sql -e "CREATE DATABASE fidelity CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
ok "fidelity.sql loads" \
	sh -c "mariadb --defaults-file='$MARIADB_CNF' --comments fidelity <'$TOP/tests/data/fidelity.sql'"
printf "SET NAMES latin1;
CREATE VIEW latin1_view AS SELECT 'caf\xe9' AS c, id FROM ints;
CREATE FUNCTION latin1_fn() RETURNS VARCHAR(20) CHARSET utf8mb4 DETERMINISTIC RETURN 'na\xefve';
" | mariadb_sql fidelity
fingerprint fidelity >"$T/orig"
ok "the fixture has 23 tables, 5 views and 9 routines, triggers and events" \
	test "$(grep -c '^table .* checksum' "$T/orig")" = 23 -a "$(grep -c '^view' "$T/orig")" = 5 \
	-a "$(grep -c '^FUNCTION\|^PROCEDURE\|^TRIGGER\|^EVENT' "$T/orig")" = 9

"$STATEFS" dump -c "$T/conf" fidelity >"$T/d.sql.zst" 2>"$T/err"
ok "statefs dump of fidelity" test -s "$T/d.sql.zst" -a ! -s "$T/err"
zstdcat "$T/d.sql.zst" >"$T/d.sql"

# --- change it, restore, compare -----------------------------------------------------------

mariadb_sql fidelity -e "
	UPDATE ints SET ti = 1, bi = 2 WHERE id = 1;
	DELETE FROM many WHERE id < 500;
	UPDATE strs SET vc = 'changed' WHERE id = 4;
	DROP TABLE floats;
	CREATE TABLE extra (id INT PRIMARY KEY, v TEXT);
	INSERT INTO extra VALUES (1, 'not in the dump');
	CREATE VIEW extra_view AS SELECT * FROM extra;
	CREATE PROCEDURE extra_proc() SELECT 1;
	CREATE TRIGGER extra_trig BEFORE UPDATE ON ints FOR EACH ROW SET NEW.ti = NEW.ti;
	DROP TRIGGER gen_bi_2;
	CREATE OR REPLACE VIEW zz_base AS SELECT id, a, b FROM gen;
	DROP TABLE uniq;
	CREATE VIEW uniq AS SELECT 1 AS u1;
	ALTER EVENT once_ev DISABLE;"
fingerprint fidelity >"$T/changed"
ok "the changes show" sh -c "! cmp -s '$T/orig' '$T/changed'"

mariadb_sql -e "CREATE DATABASE other CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
is "statefs restore d.sql.zst db/fidelity exits 0" "$(restore "$T/d.sql.zst" db/fidelity)" 0
ok "  and says what it did" grep -q "db/fidelity restored from .*23 tables" "$T/err"
fingerprint fidelity >"$T/after"
same "$T/orig" "$T/after" "restored"
is "the extra table, view, procedure and trigger are gone" \
	"$(sql fidelity "SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = 'fidelity' AND TABLE_NAME LIKE 'extra%'"
	   sql fidelity "SELECT COUNT(*) FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = 'fidelity' AND ROUTINE_NAME = 'extra_proc'"
	   sql fidelity "SELECT COUNT(*) FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = 'fidelity' AND TRIGGER_NAME = 'extra_trig'")" "0
0
0"
is "no scratch database is left" "$(scratch)" ""
snap=$(sed -n 's/^statefs restore: the state before is snapshot \([^ ]*\) .*/\1/p' "$T/err")
ok "a snapshot was taken before the swap ($snap)" test -n "$snap" -a \
	-f "$T/state/store/snapshots/$snap"

is "restoring that snapshot undoes the restore" "$(restore --no-snapshot "$snap" db/fidelity)" 0
fingerprint fidelity >"$T/undone"
same "$T/changed" "$T/undone" "undone"
is "restoring a snapshot that does not exist fails" \
	"$(restore --no-snapshot 2001-01-01 db/fidelity)" 1
is "restoring again (plain SQL, on stdin, one connection)" \
	"$(restore --no-snapshot --jobs 1 - db/fidelity <"$T/d.sql")" 0
fingerprint fidelity >"$T/after2"
same "$T/orig" "$T/after2" "restored from stdin"
# 16 KiB in memory, 256 KiB in the spool: most statements are set aside, and read back
is "restoring again with most statements set aside in a temporary file" \
	"$(STATEFS_TEST_RESTORE_QUEUE=16384 STATEFS_TEST_RESTORE_SPOOL=262144 \
		restore --no-snapshot "$T/d.sql.zst" db/fidelity)" 0
ok "  it says how much" grep -Eq "connections, (0\.[1-9]|[1-9])[0-9.]* MiB of it set aside" "$T/err" ||
	sed 's/^/#   /' "$T/err"
fingerprint fidelity >"$T/after3"
same "$T/orig" "$T/after3" "restored through the spool"

# --- failures leave everything as it was -----------------------------------------------------

fingerprint fidelity >"$T/before"
fails_cleanly() {	# fails_cleanly WHAT PATTERN FILE: exit 1, PATTERN in the message, no change
	local what=$1 pattern=$2 file=$3
	is "$what: exit 1" "$(restore --no-snapshot "$file" db/fidelity)" 1
	ok "  says so" grep -Eq "^statefs restore: database fidelity: .*$pattern" "$T/err" ||
		sed 's/^/#   /' "$T/err"
	fingerprint fidelity >"$T/now"
	ok "  the live database is unchanged" cmp -s "$T/before" "$T/now"
	is "  no scratch database is left" "$(scratch)" ""
}

head -c $(($(stat -c %s "$T/d.sql.zst") / 2)) "$T/d.sql.zst" >"$T/half.sql.zst"
fails_cleanly "a dump cut in half" "cut off" "$T/half.sql.zst"
head -c $(($(stat -c %s "$T/d.sql") - 300)) "$T/d.sql" >"$T/short.sql"
fails_cleanly "a plain dump missing its last statements" "cut off" "$T/short.sql"
grep -av '^-- statefs: dump complete' "$T/d.sql" >"$T/nomark.sql"
fails_cleanly "a dump without its completion line" "does not end with" "$T/nomark.sql"
head -c 200000 /dev/urandom >"$T/garbage"
fails_cleanly "a garbage file" "statement 1 |corrupt|cut off" "$T/garbage"
printf '\x28\xb5\x2f\xfd garbage after a zstd magic' >"$T/garbage.zst"
fails_cleanly "garbage after a zstd magic" "zstd" "$T/garbage.zst"
: >"$T/empty"
fails_cleanly "an empty file" "no SQL statement" "$T/empty"

# An SQL error half way: in the part of table `many` (which sorts in the middle), a row the
# server rejects; and, as asked, an INSERT INTO a table that does not exist.
awk '/^DROP TABLE IF EXISTS `nettypes`/ && !done {
	print "INSERT INTO `many` VALUES (1, 2, 3, 4);"; done = 1 } { print }' \
	"$T/d.sql" >"$T/sqlerr.sql"
fails_cleanly "a dump with an SQL error half way" \
	"statement [0-9]+ \(line [0-9]+\): Column count doesn't match" "$T/sqlerr.sql"
awk '/^DROP TABLE IF EXISTS `nettypes`/ && !done {
	print "INSERT INTO nosuchtable VALUES (1);"; done = 1 } { print }' \
	"$T/d.sql" >"$T/nosuch.sql"
fails_cleanly "a dump with an INSERT INTO a table it does not have" \
	"statement [0-9]+ \(line [0-9]+\).*nosuchtable" "$T/nosuch.sql"
awk '/^DROP TABLE IF EXISTS `nettypes`/ && !done {
	print "DROP TABLE IF EXISTS `nosuchtable`;\nINSERT INTO nosuchtable VALUES (1);"; done = 1 }
	{ print }' "$T/d.sql" >"$T/nosuch2.sql"
fails_cleanly "  and one the server rejects" \
	"statement [0-9]+ \(line [0-9]+\): Table '.*nosuchtable' doesn't exist" "$T/nosuch2.sql"
awk '/^DROP TABLE IF EXISTS `nettypes`/ && !done { print "USE mysql;"; done = 1 } { print }' \
	"$T/d.sql" >"$T/use.sql"
fails_cleanly "a dump with USE mysql" "refused: USE" "$T/use.sql"
awk '/^DROP TABLE IF EXISTS `nettypes`/ && !done {
	print "INSERT INTO `many` SELECT * FROM mysql.user;"; done = 1 } { print }' \
	"$T/d.sql" >"$T/other.sql"
fails_cleanly "a dump reading another database" "refused: it names database .mysql." \
	"$T/other.sql"
# Rows in the shape of ours are checked only when they run as SQL: a value that is not data
head=$(grep -m1 '^INSERT INTO `many` (' "$T/d.sql")
awk -v head="$head" '/^DROP TABLE IF EXISTS `nettypes`/ && !done {
	print head; print "(LOAD_FILE(\x27/etc/passwd\x27));"; done = 1 } { print }' \
	"$T/d.sql" >"$T/loadfile.sql"
fails_cleanly "a dump whose rows call LOAD_FILE()" "refused: LOAD_FILE is not" "$T/loadfile.sql"
awk '/^DROP VIEW IF EXISTS `taxed`/ && !done {
	print "CREATE VIEW bad AS SELECT nosuchcol FROM ints;"; done = 1 } { print }' \
	"$T/d.sql" >"$T/badview.sql"
fails_cleanly "a dump with a bad view" "checking the views.*nosuchcol" "$T/badview.sql"

is "a file that does not exist is a usage error" "$(restore "$T/nosuch" db/fidelity)" 2
is "a path that is not db/NAME is a usage error" "$(restore "$T/d.sql" nginx/x)" 2
is "a database missing from the config fails" "$(restore "$T/d.sql" db/nosuch)" 1
is "--into a database that is not configured needs --no-snapshot" \
	"$(restore --into nosuchdb "$T/d.sql" db/fidelity)" 2
is "--into a database that does not exist fails" \
	"$(restore --no-snapshot --into nosuchdb "$T/d.sql" db/fidelity)" 1
ok "  saying so" grep -q "nosuchdb: no such database" "$T/err"

# --- kill -9 mid-load, a second restore meanwhile, then the cleanup ------------------------

# The dump arrives on a pipe that stalls three quarters in, so the restore is mid-load.
mkfifo "$T/fifo"
stalled() {	# stalled: a restore from a FIFO, fed 3/4 of the SQL, then stuck; pid in RPID
	"$STATEFS" restore -c "$T/conf" --no-snapshot - db/fidelity <"$T/fifo" \
		>"$T/killed.out" 2>&1 &
	RPID=$!
	cleanup_add "kill_pid $RPID"
	exec 7>"$T/fifo"
	head -c $(($(stat -c %s "$T/d.sql") * 3 / 4)) "$T/d.sql" >&7
}
loading() { [ -n "$(scratch)" ] && [ "$(sql mysql "SELECT COUNT(*) FROM information_schema.TABLES
	WHERE TABLE_SCHEMA LIKE 'fidelity\\_\\_statefs\\_stage%'")" -gt 3 ]; }
stalled
ok "a restore is loading" wait_for "the staging database" 20 loading
is "a second restore of the same database meanwhile: exit 1" \
	"$(restore --no-snapshot "$T/d.sql" db/fidelity)" 1
ok "  busy" grep -q "already running" "$T/err"
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null
exec 7>&-
ok "kill -9 leaves its staging and scratch databases" test "$(scratch | wc -l)" = 2
fingerprint fidelity >"$T/now"
ok "  and the live database unchanged" cmp -s "$T/before" "$T/now"
is "statefs restore --cleanup exits 0" "$(restore --cleanup db/fidelity)" 0
ok "  and says it dropped two" grep -q "db/fidelity: dropped 2 database" "$T/err"
is "  and they are gone" "$(scratch)" ""

stalled
ok "another restore is loading" wait_for "the staging database" 20 loading
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null
exec 7>&-
is "the next restore cleans up first, then restores" \
	"$(restore --no-snapshot "$T/d.sql" db/fidelity)" 0
ok "  saying so" grep -q "dropped 2 database" "$T/err"
is "  and no scratch database is left" "$(scratch)" ""
is "a cleanup with nothing to do" "$(restore --cleanup)" 0

# --- a mariadb-dump file: the same as the stock client ---------------------------------------

mariadb_sql -e "CREATE DATABASE ref CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
mariadb-dump --defaults-file="$MARIADB_CNF" --routines --events --triggers fidelity \
	>"$T/md.sql" 2>"$T/md.err"
ok "mariadb-dump of fidelity" test -s "$T/md.sql"
ok "the stock client loads it into ref" \
	sh -c "mariadb --defaults-file='$MARIADB_CNF' --comments ref <'$T/md.sql'"
is "statefs restore loads it into other" "$(restore --no-snapshot "$T/md.sql" db/other)" 0 ||
	sed 's/^/#   /' "$T/err"
fingerprint ref | sed 's/`ref`/`DB`/g' >"$T/ref"
fingerprint other | sed 's/`other`/`DB`/g' >"$T/other"
same "$T/ref" "$T/other" "mariadb-dump through statefs restore"

# --- session state: SETs between rows, as the stock client runs them ------------------------

# Rows of `a` (6 MiB: chunks load in parallel) before and after a SET that changes how a 0 id
# is read, and rows of `b` (no primary key: loaded in order) after it: each loader must see the
# SETs that come before its statements. The stock client loads it into ref2, statefs into other.
{
	echo "SET NAMES utf8mb4; SET SQL_MODE='NO_AUTO_VALUE_ON_ZERO'; SET @tag = 'first';"
	echo "DROP TABLE IF EXISTS a;"
	echo "CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20), s VARCHAR(100),"
	echo "  pad TEXT);"
	awk 'BEGIN { pad = sprintf("%20000s", ""); gsub(/ /, "x", pad)
		for (i = 1; i <= 300; i++)
			printf "INSERT INTO a VALUES (%d, @tag, @@sql_mode, \x27%s\x27);\n", i, pad }'
	echo "INSERT INTO a VALUES (0, @tag, @@sql_mode, NULL);"
	echo "SET SQL_MODE=''; SET @tag = 'second';"
	echo "INSERT INTO a VALUES (0, @tag, @@sql_mode, NULL);"
	echo "DROP TABLE IF EXISTS b; CREATE TABLE b (v VARCHAR(20), s VARCHAR(100));"
	echo "INSERT INTO b VALUES (@tag, @@sql_mode);"
	echo "SET @tag = 'third'; INSERT INTO b VALUES (@tag, @@time_zone);"
	echo "DELIMITER ;;"
	echo "CREATE PROCEDURE p() BEGIN SELECT @tag; END;;"
	echo "DELIMITER ;"
} >"$T/sessions.sql"
mariadb_sql -e "CREATE DATABASE ref2; DROP DATABASE other; CREATE DATABASE other"
ok "the stock client loads a file with SETs between rows" \
	sh -c "mariadb --defaults-file='$MARIADB_CNF' ref2 <'$T/sessions.sql'"
is "statefs restore loads it on 3 connections" \
	"$(restore --no-snapshot --jobs 3 "$T/sessions.sql" db/other)" 0 || sed 's/^/#   /' "$T/err"
is "  the same rows as the stock client" \
	"$(sql other 'SELECT * FROM a ORDER BY id; SELECT * FROM b' | md5sum)" \
	"$(sql ref2 'SELECT * FROM a ORDER BY id; SELECT * FROM b' | md5sum)"
is "  rows set after the SETs saw them" \
	"$(sql other "SELECT GROUP_CONCAT(v ORDER BY v) FROM b")" "second,third"
