#!/bin/bash
# t2001-dump-fidelity: `statefs dump` of a database that breaks dumpers (tests/data/fidelity.sql)
# restores with the stock client into a fresh database where every table's CHECKSUM TABLE
# EXTENDED and every object's SHOW CREATE match the original. Also: the output does not depend
# on the number of connections, statement boundaries stay put when a row changes, and each
# failure (server down, wrong password, unknown database, option file readable by others)
# exits 1 with a message naming the database. Runs its own private MariaDB.
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

client() {	# client DB [args...]: the stock client, credentials from the option file
	local db=$1; shift
	mariadb --defaults-file="$MARIADB_CNF" "$@" "$db"
}
sql() {		# sql DB QUERY: raw, tab-separated, no header
	mariadb_sql -N -B -r "$1" -e "$2"
}
qi() {		# qi NAME: `NAME` with backticks doubled
	local s=${1//\`/\`\`}
	printf '`%s`' "$s"
}

# Config files: the root user over the socket; a password user over TCP.
conf() {	# conf FILE DBNAME OPTION-FILE [tcp]
	{
		printf '[state]\n\tdir = %s/state\n' "$T"
		printf '[database "%s"]\n' "$2"
		if [ "${4:-}" = tcp ]; then
			printf '\thost = 127.0.0.1\n\tport = %s\n' "$MARIADB_PORT"
		else
			printf '\tsocket = %s\n' "$MARIADB_SOCK"
		fi
		printf '\toption-file = %s\n' "$3"
	} >"$1"
}
optfile() {	# optfile FILE MODE USER [PASSWORD]
	(umask 077 && printf '[client]\nuser=%s\n' "$3" >"$1")
	[ -z "${4:-}" ] || printf 'password=%s\n' "$4" >>"$1"
	chmod "$2" "$1"
}
dump() {	# dump ARGS...: statefs dump, stdout to $T/out, stderr to $T/err; echoes the status
	"$STATEFS" dump "$@" >"$T/out" 2>"$T/err"
	echo $?
}

conf "$T/root.conf" fidelity "$MARIADB_CNF"

mariadb_sql -e "CREATE DATABASE fidelity CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
ok "fidelity.sql loads" client fidelity --comments <"$TOP/tests/data/fidelity.sql"
# Objects made by a latin1 client, with a non-ASCII byte in their text: the dump must write
# that text in latin1 for the restoring client's "SET character_set_client = latin1".
printf "SET NAMES latin1;
CREATE VIEW latin1_view AS SELECT 'caf\xe9' AS c, id FROM ints;
CREATE FUNCTION latin1_fn() RETURNS VARCHAR(20) CHARSET utf8mb4 DETERMINISTIC RETURN 'na\xefve';
" >"$T/latin1.sql"
ok "objects made by a latin1 client load" client fidelity <"$T/latin1.sql"

# A user with the privileges a dump needs but not RELOAD: FLUSH TABLES WITH READ LOCK is
# refused, so its dumps run on a single connection.
mariadb_sql -e "CREATE USER dumper@'127.0.0.1' IDENTIFIED BY 'dump pw';
	GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON fidelity.* TO dumper@'127.0.0.1';
	GRANT SELECT ON mysql.proc TO dumper@'127.0.0.1';"
optfile "$T/dumper.cnf" 0600 dumper "dump pw"
conf "$T/tcp.conf" fidelity "$T/dumper.cnf" tcp

# --- dump, restore, compare ---------------------------------------------------------------

is "statefs dump exits 0" "$(dump -c "$T/root.conf" fidelity)" 0
cp "$T/out" "$T/d.sql.zst"
ok "nothing on stderr" test ! -s "$T/err"
ok "the dump is a valid zstd file" zstd -q -t "$T/d.sql.zst"
ok "the dump ends with its completion line" \
	sh -c "zstdcat '$T/d.sql.zst' | tail -n 1 | grep -qx -- '-- statefs: dump complete'"

mariadb_sql -e "CREATE DATABASE fidelity_copy CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
ok "the stock client restores it" \
	sh -c "zstdcat '$T/d.sql.zst' | mariadb --defaults-file='$MARIADB_CNF' --comments fidelity_copy"

norm() { sed 's/`fidelity_copy`/`fidelity`/g'; }

is "same tables, views and sequences" "$(sql fidelity_copy 'SHOW FULL TABLES' | sort)" \
	"$(sql fidelity 'SHOW FULL TABLES' | sort)"
while IFS=$'\t' read -r name type; do
	q=$(qi "$name")
	if [ "$type" = VIEW ]; then
		is "view $q: SHOW CREATE VIEW matches" \
			"$(sql fidelity_copy "SHOW CREATE VIEW $q" | norm)" \
			"$(sql fidelity "SHOW CREATE VIEW $q")"
		continue
	fi
	is "table $q: CHECKSUM TABLE EXTENDED matches" \
		"$(sql fidelity_copy "CHECKSUM TABLE $q EXTENDED" | cut -f2)" \
		"$(sql fidelity "CHECKSUM TABLE $q EXTENDED" | cut -f2)"
	is "table $q: SHOW CREATE TABLE matches" \
		"$(sql fidelity_copy "SHOW CREATE TABLE $q" | norm)" \
		"$(sql fidelity "SHOW CREATE TABLE $q")"
done < <(sql fidelity 'SHOW FULL TABLES')

objects() {	# objects DB: "TYPE<TAB>NAME" of every routine, trigger and event, sorted
	sql "$1" "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
			WHERE ROUTINE_SCHEMA = '$1'
		UNION ALL SELECT 'TRIGGER', TRIGGER_NAME FROM information_schema.TRIGGERS
			WHERE TRIGGER_SCHEMA = '$1'
		UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS
			WHERE EVENT_SCHEMA = '$1'" | LC_ALL=C sort
}
is "same routines, triggers and events" "$(objects fidelity_copy)" "$(objects fidelity)"
ok "the fixture has 4 routines, 3 triggers and 2 events" \
	test "$(objects fidelity | cut -f1 | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')" \
	= "2EVENT 3FUNCTION 1PROCEDURE 3TRIGGER "
strip() {	# strip TYPE: SHOW CREATE TRIGGER ends with the creation time, which no restore keeps
	if [ "$1" = TRIGGER ]; then sed '$ s/\t[^\t]*$//'; else cat; fi
}
while IFS=$'\t' read -r type name; do
	q=$(qi "$name")
	is "$(echo "$type" | tr A-Z a-z) $q: SHOW CREATE $type matches" \
		"$(sql fidelity_copy "SHOW CREATE $type $q" | norm | strip "$type")" \
		"$(sql fidelity "SHOW CREATE $type $q" | strip "$type")"
done < <(objects fidelity)
is "triggers keep their firing order" \
	"$(sql fidelity_copy "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY ACTION_ORDER)
		FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'fidelity_copy'
		AND EVENT_OBJECT_TABLE = 'gen'")" "gen_bi_1,gen_bi_2"
is "latin1 objects answer the same" \
	"$(sql fidelity_copy 'SELECT c, latin1_fn() FROM latin1_view WHERE id = 1')" \
	"$(sql fidelity 'SELECT c, latin1_fn() FROM latin1_view WHERE id = 1')"
is "  and the right characters" \
	"$(sql fidelity_copy 'SELECT HEX(c), HEX(latin1_fn()) FROM latin1_view WHERE id = 1')" \
	"636166E9	6E61C3AF7665"
is "a view over a view over a function answers the same" \
	"$(sql fidelity_copy 'SELECT * FROM m_on_two ORDER BY id; SELECT * FROM taxed ORDER BY id')" \
	"$(sql fidelity 'SELECT * FROM m_on_two ORDER BY id; SELECT * FROM taxed ORDER BY id')"

# --- determinism: the same bytes whatever the connections -----------------------------------

is "a plain dump exits 0" "$(dump -c "$T/root.conf" --plain fidelity)" 0
mv "$T/out" "$T/plain1.sql"
ok "the plain dump is the compressed one, decompressed" \
	sh -c "zstdcat '$T/d.sql.zst' | cmp -s - '$T/plain1.sql'"
is "a dump over TCP with a password from the option file exits 0" \
	"$(dump -c "$T/tcp.conf" --plain fidelity)" 0
ok "one connection (no RELOAD privilege) gives the same bytes as several" \
	cmp -s "$T/out" "$T/plain1.sql"
# A sequence's cached values are dropped by a restart or a flush, and so by a dump and restore.
is "the restored sequence goes on where the original does after a flush" \
	"$(sql fidelity_copy 'FLUSH TABLES seq1; SELECT NEXTVAL(seq1)')" \
	"$(sql fidelity 'FLUSH TABLES seq1; SELECT NEXTVAL(seq1)')"

# --- statement boundaries stay put ---------------------------------------------------------

stmts() {	# stmts FILE: the INSERT statements of table `many`, one per line
	awk 'BEGIN { RS = ";\n" } /^INSERT INTO `many`/ { gsub("\n", "|"); print }' "$1" | sort
}
stmts "$T/plain1.sql" >"$T/s1"
n=$(wc -l <"$T/s1")
ok "6000 rows of \`many\` make 15..150 statements (got $n)" test "$n" -ge 15 -a "$n" -le 150
mariadb_sql fidelity -e "UPDATE many SET v = 'changed' WHERE id = 6000"
dump -c "$T/root.conf" --plain fidelity >/dev/null
stmts "$T/out" >"$T/s2"
changed=$(($(comm -23 "$T/s1" "$T/s2" | wc -l) + $(comm -13 "$T/s1" "$T/s2" | wc -l)))
ok "an updated row changes 2..3 statements, not the rest (changed $changed of $n)" \
	test "$changed" -ge 2 -a "$changed" -le 3
mariadb_sql fidelity -e "INSERT INTO many VALUES (3001, 'inserted', 0)"
dump -c "$T/root.conf" --plain fidelity >/dev/null
stmts "$T/out" >"$T/s3"
changed=$(($(comm -23 "$T/s2" "$T/s3" | wc -l) + $(comm -13 "$T/s2" "$T/s3" | wc -l)))
ok "an inserted row changes 2..3 statements, not the rest (changed $changed of $n)" \
	test "$changed" -ge 2 -a "$changed" -le 3

# --- one snapshot, shared by every connection -------------------------------------------------

# A writer commits transactions that insert the same id into four tables. Every dump, made on
# several connections while it runs, must hold the same ids in all four.
mariadb_sql -e "CREATE DATABASE cons"
for t in a b c d; do mariadb_sql cons -e "CREATE TABLE $t (id INT PRIMARY KEY, pad CHAR(20))"; done
writer() {	# the awk dies of SIGPIPE once the client is stopped
	exec mariadb --defaults-file="$MARIADB_CNF" cons < <(awk 'BEGIN {
		for (i = 0; i < 10000000; i++)
			printf "BEGIN; INSERT INTO a VALUES (%d, \"x\"); INSERT INTO b VALUES " \
				"(%d, \"x\"); INSERT INTO c VALUES (%d, \"x\"); INSERT INTO d " \
				"VALUES (%d, \"x\"); COMMIT;\n", i, i, i, i }')
}
spawn WRITER writer
conf "$T/cons.conf" cons "$MARIADB_CNF"
ids() {		# ids FILE TABLE: the ids of TABLE's rows in a plain dump
	awk -v t="$2" 'BEGIN { RS = ";\n" } index($0, "INSERT INTO `" t "`") == 1' "$1" |
		sed -n 's/^(\([0-9]*\),.*/\1/p'
}
consistent() {	# consistent FILE: the four tables hold the same, non-empty set of ids
	local a
	a=$(ids "$1" a | md5sum)
	[ -n "$(ids "$1" a)" ] &&
		[ "$(ids "$1" b | md5sum)" = "$a" ] && [ "$(ids "$1" c | md5sum)" = "$a" ] &&
		[ "$(ids "$1" d | md5sum)" = "$a" ]
}
written() { [ "$(sql cons 'SELECT COUNT(*) FROM d')" -gt 1000 ]; }
ok "the writer commits" wait_for "rows in cons" 20 written
for k in 1 2 3 4 5; do
	dump -c "$T/cons.conf" --plain cons >/dev/null
	ok "dump $k during concurrent transactions: the four tables agree" consistent "$T/out"
done
kill_pid "$WRITER"

# --- errors --------------------------------------------------------------------------------

is "no database argument is a usage error" "$(dump -c "$T/root.conf")" 2
if command -v script >/dev/null; then
	script -qec "'$STATEFS' dump -c '$T/root.conf' fidelity" /dev/null >"$T/tty.out" 2>&1
	is "compressed output to a terminal is refused" "$?" 2
	ok "  with a message" grep -q "refusing to write compressed data to a terminal" "$T/tty.out"
fi
is "a database missing from the config fails" "$(dump -c "$T/root.conf" other)" 1
ok "  and says so" grep -q 'no \[database "other"\]' "$T/err"

conf "$T/nosuch.conf" nosuch "$MARIADB_CNF"
is "an unknown database fails" "$(dump -c "$T/nosuch.conf" nosuch)" 1
ok "  with a message naming it" grep -q "database nosuch: .*Unknown database 'nosuch'" "$T/err"
ok "  and no output" test ! -s "$T/out"

optfile "$T/badpw.cnf" 0600 dumper "wrong"
conf "$T/badpw.conf" fidelity "$T/badpw.cnf" tcp
is "a wrong password fails" "$(dump -c "$T/badpw.conf" fidelity)" 1
ok "  with access denied, naming the database" \
	grep -q "database fidelity: connect to 127.0.0.1:$MARIADB_PORT: Access denied" "$T/err"

optfile "$T/open.cnf" 0644 dumper "dump pw"
conf "$T/open.conf" fidelity "$T/open.cnf" tcp
is "an option file readable by others is refused" "$(dump -c "$T/open.conf" fidelity)" 1
ok "  with a message giving its mode" grep -q "open.cnf has mode 0644" "$T/err"

# The server dies (SIGKILL) while a dump is blocked on a slow reader.
(
	"$STATEFS" dump -c "$T/root.conf" --plain fidelity 2>"$T/err"
	echo $? >"$T/rc"
) | {
	sleep 1
	kill -KILL "$MARIADB_PID"
	sleep 0.5
	cat >/dev/null
}
is "a server killed mid-dump fails the dump" "$(cat "$T/rc")" 1
ok "  with a lost-connection error naming the database" \
	grep -Eq "^statefs dump: database fidelity: .*\(error 20(06|13)\)" "$T/err"
ok "the server is stopped" mariadb_stop "$M"
is "a stopped server fails (socket)" "$(dump -c "$T/root.conf" fidelity)" 1
ok "  naming the database and the socket" \
	grep -q "database fidelity: connect via socket $MARIADB_SOCK: " "$T/err"
is "a stopped server fails (TCP)" "$(dump -c "$T/tcp.conf" fidelity)" 1
ok "  naming the database and the address" \
	grep -q "database fidelity: connect to 127.0.0.1:$MARIADB_PORT: " "$T/err"
