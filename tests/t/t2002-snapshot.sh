#!/bin/bash
# t2002-snapshot: `statefs snapshot` on a private MariaDB with a small WordPress-like database
# and two uploads trees. The first snapshot is named by the date; its dump, rebuilt from the
# chunk frames with docs/recover-file.sh (awk, tail, head, zstd -d), loads into a fresh database
# with the same CHECKSUM TABLE, and its frames concatenated are a standard .sql.zst; a second
# snapshot after 3 scattered row updates stores only a few new chunks, gets a _HHMMSS name and
# reads no unchanged upload; a second snapshot at once waits, or refuses with --no-wait; a
# missing database, a wrong password, a server that is down: named errors, exit 3, a manifest
# marked incomplete that still holds the rest.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/packs.sh"
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

sql() { mariadb_sql -N -B "$@"; }

# --- a WordPress-like database: 4 tables, 22,500 rows ---------------------------------------
sql -e "CREATE DATABASE wp CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE wp;
CREATE TABLE wp_posts (ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	post_author BIGINT UNSIGNED NOT NULL, post_date DATETIME NOT NULL, post_title TEXT NOT NULL,
	post_content LONGTEXT NOT NULL, post_status VARCHAR(20) NOT NULL DEFAULT 'publish',
	KEY type_status_date (post_status, post_date));
INSERT INTO wp_posts SELECT seq, 1 + seq % 7, '2024-01-01' + INTERVAL seq HOUR,
	CONCAT('Post number ', seq), CONCAT(REPEAT(CONCAT('Lorem ipsum ', MD5(seq),
	' dolor sit amet, consectetur. '), 6), 'café ☕ ', seq), IF(seq % 10, 'publish', 'draft')
	FROM seq_1_to_4000;
CREATE TABLE wp_postmeta (meta_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	post_id BIGINT UNSIGNED NOT NULL, meta_key VARCHAR(255), meta_value LONGTEXT, KEY (post_id));
INSERT INTO wp_postmeta SELECT seq, 1 + seq % 4000, CONCAT('_meta_', seq % 13), SHA2(seq, 256)
	FROM seq_1_to_12000;
CREATE TABLE wp_options (option_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	option_name VARCHAR(191) NOT NULL UNIQUE, option_value LONGTEXT NOT NULL,
	autoload VARCHAR(20) NOT NULL DEFAULT 'yes');
INSERT INTO wp_options SELECT seq, CONCAT('option_', seq), REPEAT(MD5(seq), 4), 'yes'
	FROM seq_1_to_500;
CREATE TABLE wp_comments (comment_ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	comment_post_ID BIGINT UNSIGNED NOT NULL, comment_author TINYTEXT, comment_content TEXT,
	comment_date DATETIME, comment_raw BLOB);
INSERT INTO wp_comments SELECT seq, 1 + seq % 4000, CONCAT('Reader ', seq % 97),
	CONCAT('Nice post! ', MD5(seq * 3)), '2024-06-01' + INTERVAL seq MINUTE, UNHEX(MD5(seq))
	FROM seq_1_to_6000;"
TABLES="wp_comments wp_options wp_postmeta wp_posts"
is "the database holds 22,500 rows" \
	"$(sql -e 'SELECT (SELECT COUNT(*) FROM wp.wp_posts) + (SELECT COUNT(*) FROM wp.wp_postmeta)
		+ (SELECT COUNT(*) FROM wp.wp_options) + (SELECT COUNT(*) FROM wp.wp_comments)')" 22500

# --- uploads: 2 trees, 203 files, a symlink, a FIFO -----------------------------------------
U=$T/up/clemence
for y in 2024 2025; do
	for m in 01 02 03 04 05; do
		mkdir -p "$U/$y/$m"
		for i in $(seq 1 20); do echo "image $y/$m/$i" >"$U/$y/$m/img-$i.jpg"; done
	done
done
head -c 1500000 /dev/urandom >"$U/2025/05/video.mp4"
printf 'secret' >"$U/private.txt"
chmod 0600 "$U/private.txt"
chown 33:33 "$U/2025/05/img-1.jpg"
ln -s 2025/05 "$U/latest"
ln -s /etc "$U/escape"
mkfifo "$U/pipe"
mkdir -p "$T/up/solidarlink"
echo hello >"$T/up/solidarlink/a.txt"
NFILES=203
mkdir -p "$T/nginx/sites-enabled"
echo 'server { listen 80; }' >"$T/nginx/sites-enabled/clemence.conf"

conf() {	# conf FILE [extra database sections...]
	{
		printf '[state]\n\tdir = %s/state\n' "$T"
		printf '[mount "nginx"]\n\tkind = tree\n\tsource = %s/nginx\n' "$T"
		printf '[mount "uploads"]\n\tkind = plain\n'
		printf '\tsource = clemence:%s\n\tsource = solidarlink:%s\n' "$U" "$T/up/solidarlink"
		printf '[database "wp"]\n\tsocket = %s\n\toption-file = %s\n' "$MARIADB_SOCK" \
			"$MARIADB_CNF"
		shift
		printf '%s\n' "$@"
	} >"$1"
}
conf "$T/statefs.conf"

snap() {	# snap [ARGS...]: statefs snapshot; stdout in $T/out, stderr in $T/err; echoes the status
	"$STATEFS" snapshot -c "$T/statefs.conf" "$@" >"$T/out" 2>"$T/err"
	echo $?
}
info() { awk -v k="$2" '$1 == "info" && $2 == k { print $3 }' "$S/snapshots/$1"; }
chunk_files() { packs_chunks "$S"; }
entry_chunks() {	# entry_chunks SNAPSHOT PATH: the hashes of PATH's chunks, one a line
	awk -v p="$2" '$1 == "f" && $9 == p { f = 1; next } f && $1 == "c" { print $2; next }
		f { exit }' "$S/snapshots/$1"
}

# --- the first snapshot -----------------------------------------------------------------------
day=$(date +%F)
is "statefs snapshot exits 0" "$(snap)" 0
ok "the snapshot is named by the date" test -f "$S/snapshots/$day"
# (lines "statefs: ..." are the config history's log: it commits what changed outside a mount)
is "stderr: only the skipped FIFO (no progress when not a terminal)" \
	"$(grep -v '^statefs: committed' "$T/err")" \
	"statefs snapshot: uploads/clemence/pipe: a FIFO, skipped"
ok "a one-line summary on stdout" grep -Eqx "snapshot $day: 1 database, $NFILES files \($NFILES read, 0 unchanged\), [0-9.]+ MiB read, [0-9.]+ MiB new in [0-9.]+ s" "$T/out"
cat "$T/out"
M1=$S/snapshots/$day
ok "the manifest says complete" grep -qx 'status complete' "$M1"
is "it names the config commit" "$(sed -n 's/^commit //p' "$M1")" \
	"$(git --git-dir="$T/state/config.git" rev-parse HEAD)"
ok "the configs are not copied into it" bash -c "! grep -q ' nginx' '$M1'"
ok "db/wp.sql.zst is a private file of root's" \
	grep -Eq '^f 0600 0 0 [0-9]+ [0-9]+ 0 0 db/wp\.sql\.zst$' "$M1"
is "each table's offset is recorded" \
	"$(awk '$1 == "table" { printf "%s ", $3 }' "$M1")" "$TABLES "
is "bytes_read and files are recorded as info lines" "$(info "$day" files)" "$NFILES"
ok "the uploads trees are recorded" grep -q ' uploads/solidarlink/a\.txt$' "$M1"
ok "modes and owners kept" grep -Eq '^f 0600 0 0 6 .* uploads/clemence/private\.txt$' "$M1"
ok "owner 33 kept" grep -Eq '^f 0644 33 33 .* uploads/clemence/2025/05/img-1\.jpg$' "$M1"
ok "symlinks are recorded, not followed" \
	bash -c "grep -q ' uploads/clemence/escape\$' '$M1' && ! grep -q 'uploads/clemence/escape/' '$M1'"
ok "the made-up top directories are there" \
	bash -c "grep -Eq '^d 0755 0 0 0 [0-9]+ [0-9]+ 0 db\$' '$M1' && grep -Eq '^d 0755 0 0 0 [0-9]+ [0-9]+ 0 uploads\$' '$M1'"
ok "an upload comes back byte for byte" bash -c \
	"'$TOP/docs/recover-file.sh' '$T/state' '$day' uploads/clemence/2025/05/video.mp4 | cmp -s - '$U/2025/05/video.mp4'"

# --- the dump: recover, restore, compare ------------------------------------------------------
ok "docs/recover-file.sh rebuilds the dump (tail, head, zstd -d)" \
	bash -c "'$TOP/docs/recover-file.sh' '$T/state' '$day' db/wp.sql.zst > '$T/wp.sql'"
is "it is the whole dump" "$(tail -n 1 "$T/wp.sql")" "-- statefs: dump complete"
sql -e "CREATE DATABASE wp_copy CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
ok "the stock client loads it into a fresh database" \
	bash -c "mariadb --defaults-file='$MARIADB_CNF' --comments wp_copy < '$T/wp.sql'"
for t in $TABLES; do
	is "$t: CHECKSUM TABLE matches" "$(sql -e "CHECKSUM TABLE wp_copy.$t EXTENDED" | cut -f2)" \
		"$(sql -e "CHECKSUM TABLE wp.$t EXTENDED" | cut -f2)"
done
# The .sql.zst that backups/ serves: the frames, concatenated as they are (format.md, 6).
for h in $(entry_chunks "$day" db/wp.sql.zst); do chunk_frame "$S" "$h"; done >"$T/wp.sql.zst"
ok "the frames concatenated are a standard zstd stream" zstd -q -t "$T/wp.sql.zst"
ok "plain zstd -d (no dictionary) gives the dump" \
	bash -c "zstd -dc '$T/wp.sql.zst' | cmp -s - '$T/wp.sql'"
is "its size is the sum of the chunks' ZLEN" "$(stat -c %s "$T/wp.sql.zst")" \
	"$(awk '$1 == "f" { f = ($9 == "db/wp.sql.zst") } f && $1 == "c" { z += $4 } END { print z }' "$M1")"
nchunks1=$(entry_chunks "$day" db/wp.sql.zst | wc -l)
ok "the dump is cut into many small chunks ($nchunks1)" test "$nchunks1" -gt 100

# --- dedup and incremental uploads: 3 rows change, no upload does ----------------------------
c1=$(chunk_files)
sql -e "UPDATE wp.wp_posts SET post_title = CONCAT(post_title, ' (edited)') WHERE ID = 17;
	UPDATE wp.wp_postmeta SET meta_value = 'changed' WHERE meta_id = 6000;
	UPDATE wp.wp_comments SET comment_content = 'Edited comment' WHERE comment_ID = 5990;"
is "a second snapshot exits 0" "$(snap)" 0
day2=$(ls "$S/snapshots" | grep -Ex "${day}_[0-9]{6}")
ok "it is named with a time suffix ($day2)" test -n "$day2"
cat "$T/out"
new=$(($(chunk_files) - c1))
ok "it stores only a few new chunks ($new, < 10)" test "$new" -gt 0 -a "$new" -lt 10
is "info chunks_new says the same" "$(info "$day2" chunks_new)" "$new"
changed=$(comm -13 <(entry_chunks "$day" db/wp.sql.zst | sort) \
	<(entry_chunks "$day2" db/wp.sql.zst | sort) | wc -l)
ok "the dump shares all but $changed of its chunks with yesterday's" test "$changed" -le 6
is "no upload was read again (files_read)" "$(info "$day2" files_read)" 0
is "every upload was reused (files_reused)" "$(info "$day2" files_reused)" "$NFILES"
ok "the summary says so" grep -q "$NFILES files (0 read, $NFILES unchanged)" "$T/out"
ok "the second dump holds the edits" bash -c \
	"'$TOP/docs/recover-file.sh' '$T/state' '$day2' db/wp.sql.zst | grep -c -e '(edited)' -e 'Edited comment' -e \"'changed'\" | grep -qx 3"
is "the unchanged video has the same chunk list" \
	"$(entry_chunks "$day2" uploads/clemence/2025/05/video.mp4 | md5sum)" \
	"$(entry_chunks "$day" uploads/clemence/2025/05/video.mp4 | md5sum)"

echo again >>"$U/2025/01/img-3.jpg"
touch "$T/up/solidarlink/a.txt"
is "a third snapshot right away exits 0 (it waits for a free name)" "$(snap)" 0
day3=$(ls "$S/snapshots" | grep -Ex "${day}_[0-9]{6}" | tail -n 1)
ok "a third name ($day3)" test "$day3" != "$day2"
is "only the 2 changed uploads are read" "$(info "$day3" files_read)" 2

# --- two snapshots at once ----------------------------------------------------------------------
spawn HOLDER bash -c "exec 9>>'$S/snapshot.lock' && flock -x 9 && exec sleep 60"
ok "another snapshot holds the lock" wait_for "lock" 5 bash -c "! flock -n -x '$S/snapshot.lock' true"
n_before=$(ls "$S/snapshots" | wc -l)
is "--no-wait refuses, exit 1" "$(snap --no-wait)" 1
ok "saying why" grep -q 'another snapshot is running.*not waiting' "$T/err"
cat "$T/err"
"$STATEFS" snapshot -c "$T/statefs.conf" >"$T/wait.out" 2>&1 &
WAITER=$!
cleanup_add "kill_pid $WAITER"
sleep 1
ok "without --no-wait, the second one waits" kill -0 "$WAITER"
is "and writes nothing meanwhile" "$(ls "$S/snapshots" | wc -l)" "$n_before"
kill_pid "$HOLDER"
wait "$WAITER"
is "once the first is done, it runs" "$?" 0
is "and adds one snapshot" "$(ls "$S/snapshots" | wc -l)" "$((n_before + 1))"

# --- partial failure: missing database, wrong password -----------------------------------------
sql -e "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1);
	CREATE USER shopuser@localhost IDENTIFIED BY 'right'; GRANT ALL ON shop.* TO shopuser@localhost;"
(umask 077 && printf '[client]\nuser=shopuser\npassword=wrong\n' >"$T/shop.cnf")
conf "$T/statefs.conf" \
	"$(printf '[database "missing_db"]\n\tsocket = %s\n\toption-file = %s' "$MARIADB_SOCK" "$MARIADB_CNF")" \
	"$(printf '[database "shop"]\n\tsocket = %s\n\toption-file = %s' "$MARIADB_SOCK" "$T/shop.cnf")"
is "a snapshot with a missing database and a wrong password exits 3" "$(snap)" 3
cat "$T/err"
last=$(ls "$S/snapshots" | tail -n 1)
ok "stderr names missing_db" grep -q 'missing_db' "$T/err"
ok "stderr names shop, access denied" grep -q 'shop.*denied' "$T/err"
ok "the manifest is marked incomplete" grep -qx 'status incomplete' "$S/snapshots/$last"
ok "its reasons name both" bash -c \
	"grep '^reason ' '$S/snapshots/$last' | grep -q missing_db && grep '^reason ' '$S/snapshots/$last' | grep -q shop"
ok "the good database is still in it" grep -q ' db/wp\.sql\.zst$' "$S/snapshots/$last"
ok "the failed ones are not" bash -c "! grep -Eq ' db/(missing_db|shop)\.sql\.zst\$' '$S/snapshots/$last'"
ok "the summary says incomplete, 3 databases (2 failed)" \
	grep -q "^snapshot $last (incomplete): 3 databases (2 failed)" "$T/out"

# --- the server is down -------------------------------------------------------------------------
conf "$T/statefs.conf"
mariadb_stop "$DB"
is "with the server down, a snapshot exits 3" "$(snap)" 3
last=$(ls "$S/snapshots" | tail -n 1)
ok "stderr names the database" grep -q 'database wp' "$T/err"
ok "the manifest is incomplete, naming it" \
	bash -c "grep -qx 'status incomplete' '$S/snapshots/$last' && grep -q '^reason database wp' '$S/snapshots/$last'"
ok "the uploads are still recorded" grep -q ' uploads/clemence/2025/05/video\.mp4$' "$S/snapshots/$last"
is "all of them, none read again" "$(info "$last" files_reused)" "$NFILES"
ok "no temp file is left in the store" bash -c "! find '$S' -name 'tmp.*' | grep -q ."
