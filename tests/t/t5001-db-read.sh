#!/bin/bash
# Reading db/NAME.sql.zst through the mount streams a fresh consistent dump: a standard zstd
# stream that the stock client restores; a database that is down gives an I/O error, and the
# rest of the mount keeps working.
. "$(dirname "$0")/lib-live.sh"
. "$TOP/tests/lib/mariadb.sh"
test_init
DB=$T/m
cleanup_add "mariadb_stop '$DB'"
ok "a private MariaDB starts" mariadb_start "$DB" || exit 1
mariadb_sql -e "CREATE DATABASE shop; CREATE DATABASE copy;
CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(8,2));
INSERT INTO shop.items VALUES (1,'tea',3.50),(2,'coffee',4.20),(3,'naïve ☕',0.99);"
mariadb_sql -e "INSERT INTO shop.items SELECT seq + 3, CONCAT('item', seq), seq / 7
	FROM seq_1_to_20000"
setup_live
unmount_statefs "$M" "$DAEMON_PID"
printf '[database "shop"]\n\tsocket = %s\n\toption-file = %s\n' "$MARIADB_SOCK" "$MARIADB_CNF" \
	>>"$T/statefs.conf"
mount_statefs "$T/statefs.conf" "$M" -o allow_other

is "db/ lists the configured database" "$(ls "$M/db")" "shop.sql.zst"
is "the dump is private" "$(stat -c '%a %U' "$M/db/shop.sql.zst")" "600 root"
ok "cp of the dump out of db/ works" cp "$M/db/shop.sql.zst" "$T/shop.sql.zst"
ok "it is a standard zstd stream" zstd -q -t "$T/shop.sql.zst"
ok "the stock client restores it" bash -c "zstdcat '$T/shop.sql.zst' | mariadb --defaults-file='$MARIADB_CNF' copy"
is "the copy's checksum equals the original's" \
	"$(mariadb_sql -N -B -e 'CHECKSUM TABLE copy.items EXTENDED' | cut -f2)" \
	"$(mariadb_sql -N -B -e 'CHECKSUM TABLE shop.items EXTENDED' | cut -f2)"
fails "an ordinary user cannot read the dump" setpriv --reuid=65534 --regid=65534 --clear-groups \
	bash -c "cat '$M/db/shop.sql.zst' >/dev/null 2>&1"
ok "reading only the start and closing early works" bash -c "head -c 100 '$M/db/shop.sql.zst' | wc -c | grep -qx 100"

mariadb_stop "$DB"
fails "with the database down, the read fails" bash -c "cat '$M/db/shop.sql.zst' >/dev/null 2>'$T/cat.err'"
ok "with an I/O error" grep -q 'Input/output error' "$T/cat.err"
ok "the daemon logged the reason, naming the database" grep -q 'db/shop.sql.zst: database shop' "$DAEMON_LOG"
ok "the live tree still works" bash -c "echo x >> '$M/nginx/nginx.conf'"
