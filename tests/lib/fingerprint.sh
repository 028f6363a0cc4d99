# tests/lib/fingerprint.sh - compare two databases as a user would: every table's CHECKSUM TABLE
# EXTENDED and SHOW CREATE, every view, routine, trigger and event's SHOW CREATE. Needs
# tests/lib/mariadb.sh (mariadb_sql) and tests/lib.sh (is).
sql() {		# sql DB QUERY: raw, tab-separated, no header
	mariadb_sql -N -B -r "$1" -e "$2"
}
qi() {		# qi NAME: `NAME` with backticks doubled
	local s=${1//\`/\`\`}
	printf '`%s`' "$s"
}
# fingerprint DB: one line per table (CHECKSUM TABLE EXTENDED, SHOW CREATE) and per view,
# routine, trigger (without its creation time) and event (SHOW CREATE), newlines as '|'.
fingerprint() {
	local db=$1 name type q
	while IFS=$'\t' read -r name type; do
		q=$(qi "$name")
		if [ "$type" = VIEW ]; then
			echo "view $q: $(sql "$db" "SHOW CREATE VIEW $q" | tr '\n' '|')"
			continue
		fi
		echo "table $q checksum: $(sql "$db" "CHECKSUM TABLE $q EXTENDED" | cut -f2)"
		echo "table $q: $(sql "$db" "SHOW CREATE TABLE $q" | tr '\n' '|')"
	done < <(sql "$db" 'SHOW FULL TABLES' | LC_ALL=C sort)
	while IFS=$'\t' read -r type name; do
		q=$(qi "$name")
		if [ "$type" = TRIGGER ]; then
			echo "trigger $q: $(sql "$db" "SHOW CREATE TRIGGER $q" | sed '$ s/\t[^\t]*$//' |
				tr '\n' '|')"
		else
			echo "$type $q: $(sql "$db" "SHOW CREATE $type $q" | tr '\n' '|')"
		fi
	done < <(sql "$db" "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES
			WHERE ROUTINE_SCHEMA = '$db'
		UNION ALL SELECT 'TRIGGER', TRIGGER_NAME FROM information_schema.TRIGGERS
			WHERE TRIGGER_SCHEMA = '$db'
		UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS
			WHERE EVENT_SCHEMA = '$db'" | LC_ALL=C sort)
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
