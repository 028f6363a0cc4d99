#!/bin/bash
# t6002-status: `statefs status` (text, --json) and the mount's .statefs/metrics carry the facts
# before any snapshot, after a snapshot, after a failed one (the database stopped: incomplete),
# after a restore by cp onto db/; the metrics parse as Prometheus text (every sample "name{labels}
# value", every name with its HELP and TYPE) and the file is read-only. `statefs verify` passes
# on a good snapshot (loaded, counted and read back the same) and fails, exit 1, naming the
# chunk, on one whose chunk was damaged, and on one that lacks the database; its result shows
# in status and the metrics; no scratch database is left, and one left by a verify killed with
# -9 is dropped by the next verify.
. "$(dirname "$0")/lib-live.sh"
. "$TOP/tests/lib/mariadb.sh"
. "$TOP/tests/lib/fingerprint.sh"
. "$TOP/tests/lib/packs.sh"
test_init

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
	echo "ok 1 # skip mariadb-server is not installed"
	exit 0
fi

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
CONF=$T/statefs.conf
SNAPS=$STATE/store/snapshots

status_json() {	# status_json: statefs status --json into $T/status.json; it must parse
	"$STATEFS" status -c "$CONF" --json >"$T/status.json" 2>"$T/status.err" &&
		python3 -m json.tool "$T/status.json" >/dev/null
}
jget() {	# jget EXPR: a Python expression on the last status (d), printed
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)' "$T/status.json" "$1"
}
# promcheck FILE: Prometheus text exposition format, checked line by line; prints the samples.
promcheck() {
	python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
if not text.endswith("\n"):
    sys.exit("no newline at the end")
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (\S+)$" % (name, label, label))
helps, types, done, n = set(), {}, set(), 0
for i, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP "):
        f = line.split(" ", 3)
        if len(f) < 4 or not re.fullmatch(name, f[2]) or f[2] in helps:
            sys.exit("line %d: bad or repeated HELP: %s" % (i, line))
        helps.add(f[2])
    elif line.startswith("# TYPE "):
        f = line.split(" ")
        if len(f) != 4 or f[3] not in ("counter", "gauge", "histogram", "summary", "untyped") \
                or f[2] in types or f[2] in done:
            sys.exit("line %d: bad or repeated TYPE: %s" % (i, line))
        types[f[2]] = f[3]
    elif line.startswith("#") or not line:
        sys.exit("line %d: unexpected: %r" % (i, line))
    else:
        m = sample.match(line)
        if not m:
            sys.exit("line %d: not a sample: %r" % (i, line))
        fam = m.group(1)
        if fam not in types:
            fam = re.sub(r"_(total|sum|count|bucket)$", "", fam)
        if fam not in types or fam not in helps:
            sys.exit("line %d: %s has no HELP and TYPE before it" % (i, m.group(1)))
        v = m.group(3)
        if v not in ("NaN", "+Inf", "-Inf"):
            float(v)
        done.update(t for t in types if t != fam)
        n += 1
        print(m.group(1) + (m.group(2) or ""), v)
if not n:
    sys.exit("no sample")
PY
}
metrics() {	# metrics: read the mount's metrics file into $T/metrics, check it, keep the samples
	cat "$M/.statefs/metrics" >"$T/metrics" && promcheck "$T/metrics" >"$T/samples"
}
sample() { awk -v n="$1" '$1 == n { print $2 }' "$T/samples"; }
scratch_dbs() { sql mysql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%statefs%'"; }

# --- before any snapshot ---------------------------------------------------------------------
ok "status --json parses" status_json
is "mounted" "$(jget 'd["mounted"]')" true
is "at the mount point" "$(jget 'd["mountpoint"]')" "$M"
is "no snapshot yet" "$(jget 'd["snapshots"]'),$(jget 'd["last_snapshot"]')" "0,null"
ok "status (text) says where it is mounted" bash -c "'$STATEFS' status -c '$CONF' | grep -qx 'mounted: *yes, at $M'"
ok "the metrics file is listed" bash -c "ls '$M/.statefs' | grep -qx metrics"
ok "the metrics parse as Prometheus text" metrics
is "statefs_up 1, statefs_snapshots 0" "$(sample statefs_up),$(sample statefs_snapshots)" "1,0"
is "no last snapshot in the metrics yet" "$(sample statefs_last_snapshot_timestamp_seconds)" ""
fails "the metrics file cannot be written" bash -c "echo x >'$M/.statefs/metrics'"
is "it is read-only for everyone" "$(stat -c %a "$M/.statefs/metrics")" 444

# --- a config edit and a snapshot ------------------------------------------------------------
echo "# an edit" >>"$M/nginx/nginx.conf"
wait_for "the edit is committed" 10 bash -c "git --git-dir='$GITDIR' log -1 --format=%s | grep -q nginx.conf"
today=$(git --git-dir="$GITDIR" rev-list --count --first-parent --since="$(date +%Y-%m-%d) 00:00:00" HEAD)
ok "statefs snapshot exits 0" "$STATEFS" snapshot -c "$CONF" -q
S1=$(ls "$SNAPS" | tail -n 1)
ok "status --json parses after a snapshot" status_json
is "one snapshot" "$(jget 'd["snapshots"]')" 1
is "the last snapshot's name" "$(jget 'd["last_snapshot"]["name"]')" "$S1"
is "it is complete" "$(jget 'd["last_snapshot"]["complete"]')" true
is "its time is the manifest's" "$(jget 'd["last_snapshot"]["time"]')" "$(sed -n 's/^time //p' "$SNAPS/$S1")"
is "its duration is the manifest's" "$(jget 'int(d["last_snapshot"]["duration_s"] * 1000 + 0.5)')" \
	"$(awk '$1 == "info" && $2 == "duration_ms" { print $3 }' "$SNAPS/$S1")"
is "1 database, none failed" "$(jget 'd["last_snapshot"]["databases"]'),$(jget 'd["last_snapshot"]["databases_failed"]')" "1,0"
is "store bytes as du counts them" "$(jget 'd["store"]["bytes"]')" "$(du -s -B1 "$STATE/store" | cut -f1)"
is "the chunk bytes: the packs' sizes" "$(jget 'd["store"]["chunk_bytes"]')" \
	"$(cat "$STATE"/store/packs/*.pack | wc -c)"
is "the chunks: the pack indexes' lines" "$(jget 'd["store"]["chunks"]')" "$(packs_chunks "$STATE/store")"
is "logical bytes: the files' sizes" "$(jget 'd["store"]["logical_bytes"]')" \
	"$(awk '$1 == "f" { s += $5 } END { print s }' "$SNAPS/$S1")"
ok "a dedup ratio above 1" python3 -c "import json; r = json.load(open('$T/status.json'))['store']['dedup_ratio']; assert r > 1, r"
is "commits today, as git counts them" "$(jget 'd["commits_today"]')" "$today"
ok "the metrics parse after a snapshot" metrics
is "statefs_snapshots 1" "$(sample statefs_snapshots)" 1
is "statefs_last_snapshot_complete 1" "$(sample statefs_last_snapshot_complete)" 1
is "statefs_last_snapshot_timestamp_seconds" "$(sample statefs_last_snapshot_timestamp_seconds)" "$(jget 'd["last_snapshot"]["time"]')"
ok "statefs_last_snapshot_duration_seconds is there" test -n "$(sample statefs_last_snapshot_duration_seconds)"
is "statefs_store_bytes" "$(sample statefs_store_bytes)" "$(jget 'd["store"]["bytes"]')"
ok "statefs_dedup_ratio is there" test -n "$(sample statefs_dedup_ratio)"
is "statefs_commits_today" "$(sample statefs_commits_today)" "$today"

# --- verify: a good snapshot, then no scratch database is left -------------------------------
ok "verify passes on the good snapshot" bash -c "'$STATEFS' verify -c '$CONF' '$S1' >'$T/verify.out' 2>&1"
ok "it names the database as OK" grep -q '^db/shop: OK (23 tables' "$T/verify.out"
is "no scratch database is left" "$(scratch_dbs)" 0
ok "status --json parses after a verify" status_json
is "last verify: ok, of that snapshot" "$(jget 'd["last_verify"]["result"]'),$(jget 'd["last_verify"]["what"]')" "ok,$S1"
ok "the metrics parse after a verify" metrics
is "statefs_last_verify_success 1" "$(sample statefs_last_verify_success)" 1
ok "statefs_last_verify_timestamp_seconds is there" test -n "$(sample statefs_last_verify_timestamp_seconds)"

# --- a verify killed with -9 leaves its scratch database; the next verify drops it ------------
"$STATEFS" verify -c "$CONF" --databases-only "$S1" >/dev/null 2>&1 &
VPID=$!
cleanup_add "kill_pid $VPID"
ok "the verify's scratch database appears" wait_for "scratch" 20 bash -c "test \"\$(mariadb --defaults-file='$MARIADB_CNF' -N -B -e \"SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop__statefs_verify_$VPID'\")\" = 1"
kill -KILL "$VPID"
wait "$VPID" 2>/dev/null
ok "after kill -9 it is still there" test "$(scratch_dbs)" -ge 1
ok "the next verify passes" "$STATEFS" verify -c "$CONF" --databases-only "$S1"
is "and has dropped the leftovers" "$(scratch_dbs)" 0

# --- a failed snapshot: the database is stopped ----------------------------------------------
mariadb_stop "$DB"
"$STATEFS" snapshot -c "$CONF" -q >"$T/snap.out" 2>"$T/snap.err"
is "statefs snapshot exits 3 (incomplete)" "$?" 3
S2=$(ls "$SNAPS" | tail -n 1)
ok "status --json parses after a failed snapshot" status_json
is "two snapshots" "$(jget 'd["snapshots"]')" 2
is "the last one is the new one" "$(jget 'd["last_snapshot"]["name"]')" "$S2"
is "it is incomplete" "$(jget 'd["last_snapshot"]["complete"]')" false
ok "its reasons name the database" bash -c "python3 -c \"import json; print(json.load(open('$T/status.json'))['last_snapshot']['reasons'])\" | grep -q shop"
is "1 database failed" "$(jget 'd["last_snapshot"]["databases_failed"]')" 1
ok "status (text) says so" bash -c "'$STATEFS' status -c '$CONF' | grep -q 'INCOMPLETE'"
ok "the metrics parse after a failed snapshot" metrics
is "statefs_last_snapshot_complete 0" "$(sample statefs_last_snapshot_complete)" 0
is "statefs_last_snapshot_databases_failed 1" "$(sample statefs_last_snapshot_databases_failed)" 1
is "the run is the last error" "$(jget 'd["last_error"]["kind"]'),$(jget 'd["last_error"]["result"]')" "snapshot,incomplete"
ok "the server comes back" mariadb_start "$DB"

# --- verify fails on a snapshot that lacks the database ----------------------------------------
fails "verify fails on the incomplete snapshot" bash -c "'$STATEFS' verify -c '$CONF' '$S2' >'$T/verify2.out' 2>&1"
ok "it says the database is not in the snapshot" grep -q '^db/shop: FAILED: not in this snapshot' "$T/verify2.out"

# --- a restore by cp onto db/ ----------------------------------------------------------------
ok "a dump is read out of db/" cp "$M/db/shop.sql.zst" "$T/shop.sql.zst"
mariadb_sql shop -e "CREATE TABLE extra (id INT PRIMARY KEY)"
ok "cp of the dump onto db/ restores it" cp "$T/shop.sql.zst" "$M/db/shop.sql.zst"
is "the table the dump lacks is gone" "$(sql shop "SHOW TABLES LIKE 'extra'")" ""
ok "status --json parses after a restore" status_json
is "the pre-restore snapshot is counted" "$(jget 'd["snapshots"]')" 3
is "and is the last snapshot, complete" "$(jget 'd["last_snapshot"]["complete"]')" true
is "last restore: ok, db/shop" "$(jget 'd["last_restore"]["result"]'),$(jget 'd["last_restore"]["what"]')" "ok,db/shop"
ok "the metrics parse after a restore" metrics
is "statefs_last_restore_success 1" "$(sample statefs_last_restore_success)" 1

# --- verify fails on a damaged chunk, naming it ----------------------------------------------
h=$(awk '$1 == "f" && $9 == "db/shop.sql.zst" { f = 1; next } f && $1 == "c" { if (++n == 3) { print $2; exit } }' "$SNAPS/$S1")
ok "the dump's third chunk is there" chunk_has "$STATE/store" "$h"
chunk_frame "$STATE/store" "$h" >"$T/chunk.good"
chunk_flip "$STATE/store" "$h" $(($(stat -c %s "$T/chunk.good") / 2))
"$STATEFS" verify -c "$CONF" "$S1" >"$T/verify3.out" 2>&1
is "verify of the damaged snapshot exits 1" "$?" 1
ok "it names the damaged chunk" grep -q "^db/shop: FAILED: chunk 3 of [0-9]*: .*chunk ${h:0:16}" "$T/verify3.out"
ok "the verdict line says FAILED" grep -q "^statefs verify: $S1: FAILED" "$T/verify3.out"
is "no scratch database is left after the failure" "$(scratch_dbs)" 0
ok "status --json parses after a failed verify" status_json
is "last verify: failed" "$(jget 'd["last_verify"]["result"]')" failed
is "it is the last error" "$(jget 'd["last_error"]["kind"]'),$(jget 'd["last_error"]["result"]')" "verify,failed"
ok "the error names the chunk" bash -c "python3 -c \"import json; print(json.load(open('$T/status.json'))['last_error']['message'])\" | grep -q '${h:0:16}'"
ok "the metrics parse after a failed verify" metrics
is "statefs_last_verify_success 0" "$(sample statefs_last_verify_success)" 0
ok "statefs_last_error_timestamp_seconds is there" test -n "$(sample statefs_last_error_timestamp_seconds)"
chunk_flip "$STATE/store" "$h" $(($(stat -c %s "$T/chunk.good") / 2))	# flipped back
ok "the chunk is whole again" bash -c ". '$TOP/tests/lib/packs.sh'; chunk_frame '$STATE/store' '$h' | cmp -s - '$T/chunk.good'"

# --- usage and the end -----------------------------------------------------------------------
"$STATEFS" status -c "$CONF" --json --prometheus >/dev/null 2>&1
is "--json and --prometheus together: usage error" "$?" 2
"$STATEFS" verify -c "$CONF" 2020-13-45 >/dev/null 2>&1
is "verify of a bad snapshot name: usage error" "$?" 2
"$STATEFS" verify -c "$CONF" 2020-01-01 >/dev/null 2>"$T/verify4.err"
is "verify of a snapshot that does not exist exits 1" "$?" 1
ok "and says so" grep -q "no such snapshot" "$T/verify4.err"
ok "a typo is not recorded as the last verify" status_json
is "the last verify is still the damaged one's" "$(jget 'd["last_verify"]["what"]')" "$S1"
ok "status --prometheus parses too" bash -c "'$STATEFS' status -c '$CONF' --prometheus >'$T/p' && grep -q '^statefs_up 1$' '$T/p'"
ok "promcheck of status --prometheus" promcheck "$T/p"
unmount_statefs "$M" "$DAEMON_PID"
ok "status --json parses when not mounted" status_json
is "not mounted" "$(jget 'd["mounted"]'),$(jget 'd["mountpoint"]')" "false,null"
ok "the daemon's log is clean" daemon_log_clean
