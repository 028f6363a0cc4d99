#!/bin/bash
# t3002-backups-db: a database dump under backups/<snapshot>/db/ is the snapshot's stored zstd
# frames served as they are: a standard zstd stream (zstd -t), byte-identical to the frames
# cut out of the packs and concatenated, whose content is the dump the snapshot took
# (docs/recover-file.sh gives the same SQL without statefs) and restores with the stock client
# to the same CHECKSUM TABLE; random reads match; it stays private (0600 root) and stays as it
# was when the database changes.
. "$(dirname "$0")/lib-live.sh"
. "$TOP/tests/lib/mariadb.sh"
test_init
export LC_ALL=C

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
	echo "ok 1 # skip mariadb-server is not installed"
	exit 0
fi
DB=$T/m
cleanup_add "mariadb_stop '$DB'"
ok "a private MariaDB starts" mariadb_start "$DB" || exit 1
mariadb_sql -e "CREATE DATABASE shop; CREATE DATABASE copy; USE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(8,2), note TEXT);
INSERT INTO shop.items SELECT seq, CONCAT('item', seq), seq / 7, REPEAT(MD5(seq), 3)
	FROM seq_1_to_30000;
INSERT INTO shop.items VALUES (30001, 'naïve ☕', 0.99, NULL);"
setup_live
unmount_statefs "$M" "$DAEMON_PID"
printf '[database "shop"]\n\tsocket = %s\n\toption-file = %s\n' "$MARIADB_SOCK" "$MARIADB_CNF" \
	>>"$T/statefs.conf"
mount_statefs "$T/statefs.conf" "$M" -o allow_other

ok "statefs snapshot" bash -c "'$STATEFS' snapshot -c '$T/statefs.conf' --quiet >'$T/snap.log' 2>&1"
S=$(ls "$STATE/store/snapshots" | grep -v '^tmp' | head -1)
Z=$M/backups/$S/db/shop.sql.zst
is "the snapshot's db/ holds the dump" "$(ls "$M/backups/$S/db")" "shop.sql.zst"
is "it is private" "$(stat -c '%a %u %g' "$Z")" "600 0 0"
ok "it is a standard zstd stream" zstd -q -t "$Z"

# The dump's frames, in manifest order, cut out of their packs where the pack indexes say
# ("HASH OFFSET ZLEN" after a header line), concatenated.
awk 'FILENAME ~ /\.idx$/ { if (FNR > 1 && !($1 in at)) { p = FILENAME; sub(/\.idx$/, ".pack", p)
				at[$1] = p " " $2 " " $3 }; next }
     $1 == "f" && $NF == "db/shop.sql.zst" { f = 1; next }
     f && $1 == "c" { print ($2 in at) ? at[$2] : "missing 0 0"; next }
     f { exit }' "$STATE"/store/packs/*.idx "$STATE/store/snapshots/$S" |
	while read -r pack off zlen; do
		dd if="$pack" iflag=skip_bytes,count_bytes skip="$off" count="$zlen" status=none
	done >"$T/frames"
ok "it is the stored frames, as they are" cmp "$Z" "$T/frames"
is "its size is the frames' size" "$(stat -c %s "$Z")" "$(stat -c %s "$T/frames")"
"$TOP/docs/recover-file.sh" "$STATE" "$S" db/shop.sql.zst >"$T/recovered.sql" 2>/dev/null
ok "its content is the dump the snapshot took (recovered without statefs)" \
	bash -c "zstdcat '$Z' | cmp - '$T/recovered.sql'"
ok "the stock client restores it" \
	bash -c "zstdcat '$Z' | mariadb --defaults-file='$MARIADB_CNF' copy"
is "to the same CHECKSUM TABLE" \
	"$(mariadb_sql -N -B -e 'CHECKSUM TABLE copy.items EXTENDED' | cut -f2)" \
	"$(mariadb_sql -N -B -e 'CHECKSUM TABLE shop.items EXTENDED' | cut -f2)"

size=$(stat -c %s "$Z") bad=0
for i in $(seq 1 40); do
	off=$(((RANDOM * 32768 + RANDOM) % size)) len=$((1 + (RANDOM * 5) % 150000))
	cmp -s <(dd if="$Z" iflag=skip_bytes,count_bytes skip=$off count=$len 2>/dev/null) \
		<(dd if="$T/frames" iflag=skip_bytes,count_bytes skip=$off count=$len 2>/dev/null) ||
		bad=$((bad + 1))
done
is "40 reads at random offsets match the frames" "$bad" 0
fails "an ordinary user cannot read it" setpriv --reuid=65534 --regid=65534 --clear-groups \
	bash -c "cat '$Z' >/dev/null 2>&1"
mariadb_sql -e "UPDATE shop.items SET name = 'changed-after' WHERE id = 5"
ok "a change made after the snapshot is not in it" bash -c "! zstdcat '$Z' | grep -q changed-after"
ok "the row is there as it was" bash -c "zstdcat '$Z' | grep -q \"(5,'item5',\""
ok "the daemon logged no error" daemon_log_clean
