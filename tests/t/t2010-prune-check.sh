#!/bin/bash
# t2010-prune-check: `statefs prune` and `statefs check` end to end, on snapshots that
# `statefs snapshot` takes of a config with one plain uploads tree (no database). Six dated
# snapshots (renamed to past dates as they are taken) and the leftovers of a lost one; prune
# --dry-run reports keep/remove per snapshot with the rule and changes nothing; prune does what
# it said and frees the chunks no snapshot needs; check and check --read-data pass; a flipped
# byte in a chunk is found by --read-data only (exit 1, naming the chunk, the snapshots and the
# path); a missing chunk by plain check; prune waits while a snapshot holds the store lock
# (flock(1), by pid), while check runs beside it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/packs.sh"
test_init

S=$T/state/store
U=$T/up/clemence
mkdir -p "$U/2026/01"
head -c 300000 /dev/urandom >"$U/2026/01/photo.jpg"     # the same in every snapshot
cat >"$T/statefs.conf" <<EOF
[state]
	dir = $T/state
[mount "uploads"]
	kind = plain
	source = clemence:$U
[snapshot]
	keep-daily = 3
EOF

statefs() { "$STATEFS" "$@" -c "$T/statefs.conf"; }
manifests() { find "$S/snapshots" -type f ! -name 'tmp.*' | wc -l; }
chunk_files() { packs_chunks "$S"; }
entry_chunks() {	# entry_chunks SNAPSHOT PATH: the hashes of PATH's chunks, one a line
	awk -v p="$2" '$1 == "f" && $9 == p { f = 1; next } f && $1 == "c" { print $2; next }
		f { exit }' "$S/snapshots/$1"
}

# snap_as NAME: a snapshot with a file of its own, renamed to NAME (a past date).
snap_as() {
	local today
	today=$(date +%F)
	head -c 100000 /dev/urandom >"$U/day.txt"
	echo "$1" >>"$U/day.txt"
	statefs snapshot >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	mv "$S/snapshots/$today" "$S/snapshots/$1"
}

for d in 01 02 03 04 05 06; do
	ok "snapshot 2026-01-$d" snap_as "2026-01-$d" || exit 1
done
# A snapshot that never got its manifest: its chunks are in the store, named by none.
ok "a lost snapshot's chunks" snap_as 2026-01-07
rm "$S/snapshots/2026-01-07"
old_tmp=$S/packs/tmp.abcd.999999.1
echo leftover >"$old_tmp"
touch -d '2 hours ago' "$old_tmp"
echo fresh >"$S/packs/tmp.cdef.999999.2"
is "six snapshots" "$(manifests)" 6
before=$(chunk_files)

# --- prune --dry-run --------------------------------------------------------------------------
statefs prune --dry-run >"$T/dry" 2>&1
is "prune --dry-run exits 0" "$?" 0
sed 's/^/# /' "$T/dry"
ok "it says it is a dry run" grep -qx 'dry run: nothing will be changed' "$T/dry"
ok "the newest is kept by the daily rule" grep -qx 'keep    2026-01-06         daily' "$T/dry"
ok "the third newest too" grep -qx 'keep    2026-01-04         daily' "$T/dry"
ok "older ones are to go" grep -qx 'remove  2026-01-03' "$T/dry"
re='^dry run: would remove 3 snapshots \(3 kept\), [0-9]+ chunks \(of [0-9]+\), 1 temp file, '
ok "the summary says what would go" grep -Eq "$re.* would be freed; nothing was changed\$" "$T/dry"
is "nothing removed: manifests" "$(manifests)" 6
is "nothing removed: chunks" "$(chunk_files)" "$before"
ok "nothing removed: the stale temp file" test -f "$old_tmp"

statefs prune --dry-run --keep-last 1 --keep-daily 0 >"$T/dry1" 2>&1
is "--keep-last 1 --keep-daily 0: only the newest" "$(grep '^keep ' "$T/dry1")" \
	"keep    2026-01-06         last"
statefs prune --keep-daily x >/dev/null 2>"$T/err"
is "a bad count is a usage error" "$?" 2

# --- prune ------------------------------------------------------------------------------------
keep_hash=$(entry_chunks 2026-01-06 uploads/clemence/day.txt | head -n 1)
gone_hash=$(entry_chunks 2026-01-02 uploads/clemence/day.txt | head -n 1)
photo_hash=$(entry_chunks 2026-01-01 uploads/clemence/2026/01/photo.jpg | head -n 1)
statefs prune >"$T/prune" 2>&1
is "prune exits 0" "$?" 0
sed 's/^/# /' "$T/prune"
ok "prune reports what it removed" grep -Eq \
	'^removed 3 snapshots \(3 kept\), [0-9]+ chunks \(of [0-9]+\), 1 temp file, .* freed$' \
	"$T/prune"
is "three snapshots left" "$(ls "$S/snapshots" | grep -v '^tmp\.' | tr '\n' ' ')" \
	"2026-01-04 2026-01-05 2026-01-06 "
removed=$(sed -n 's/^removed .*, \([0-9]*\) chunks (of.*/\1/p' "$T/prune")
is "the chunks left are the ones counted" "$(chunk_files)" "$((before - removed))"
ok "a kept snapshot's chunk stays" chunk_has "$S" "$keep_hash"
ok "a removed snapshot's own chunk is gone" bash -c ". '$TOP/tests/lib/packs.sh'; ! chunk_has '$S' '$gone_hash'"
ok "a chunk shared with kept snapshots stays" chunk_has "$S" "$photo_hash"
ok "every pack has its index" bash -c 'for p in "$1"/packs/*.pack; do test -f "${p%.pack}.idx" || exit 1; done' - "$S"
ok "no index names a pack that is gone" bash -c 'for i in "$1"/packs/*.idx; do test -f "${i%.idx}.pack" || exit 1; done' - "$S"
ok "the stale temp file is gone" test ! -e "$old_tmp"
ok "a fresh temp file stays" test -f "$S/packs/tmp.cdef.999999.2"
statefs prune >"$T/prune2" 2>&1
ok "a second prune has nothing to do" \
	grep -Eq '^removed 0 snapshots \(3 kept\), 0 chunks \(of [0-9]+\), 0 bytes freed$' "$T/prune2"

# --- check ------------------------------------------------------------------------------------
nchunks=$(chunk_files)
statefs check >"$T/check" 2>&1
is "check exits 0" "$?" 0
ok "check: one summary line" grep -Eqx "3 snapshots, $nchunks chunks checked: no errors" "$T/check"
statefs check --read-data >"$T/check" 2>&1
is "check --read-data exits 0" "$?" 0
ok "check --read-data: one summary line" \
	grep -Eqx "3 snapshots, $nchunks chunks read and re-hashed: no errors" "$T/check"

# A flipped byte inside the frame: the header and sizes are intact, the content is not.
chunk_flip "$S" "$photo_hash" -10
statefs check >"$T/check" 2>&1
is "check without --read-data does not read the content" "$?" 0
statefs check --read-data >"$T/check" 2>&1
is "check --read-data exits 1 on a damaged chunk" "$?" 1
sed 's/^/# /' "$T/check"
ok "it names the chunk" grep -q "^chunk $photo_hash is damaged" "$T/check"
is "and every snapshot and path that needs it" "$(grep '^  needed by ' "$T/check")" \
	"$(for d in 04 05 06; do echo "  needed by 2026-01-$d uploads/clemence/2026/01/photo.jpg"; done)"
is "the summary line names it" "$(tail -n 1 "$T/check")" \
	"3 snapshots, $nchunks chunks read and re-hashed: 1 damaged (chunk ${photo_hash:0:16}... \
needed by 2026-01-04 uploads/clemence/2026/01/photo.jpg)"

chunk_forget "$S" "$keep_hash"
statefs check >"$T/check" 2>&1
is "check exits 1 on a missing chunk" "$?" 1
ok "it names the chunk" grep -qx "chunk $keep_hash is missing" "$T/check"
ok "and who needs it" grep -qx '  needed by 2026-01-06 uploads/clemence/day.txt' "$T/check"
ok "the summary counts it" grep -Eq "^3 snapshots, $nchunks chunks checked: 1 missing \(" "$T/check"

# --- a running snapshot holds the store lock shared: prune waits, check does not --------------
spawn holder flock -s "$S/store.lock" sleep 3
for i in $(seq 1 100); do flock -n -x "$S/store.lock" true || break; sleep 0.05; done
statefs prune --no-wait >"$T/out" 2>"$T/err"
is "prune --no-wait refuses while a snapshot writes" "$?" 1
ok "and says why" grep -q 'a snapshot or restore is writing to the store' "$T/err"
start=$(date +%s%N)
statefs check >/dev/null 2>&1
ok "check runs beside a snapshot" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000
start=$(date +%s%N)
statefs prune >"$T/out" 2>&1
is "prune exits 0 once the snapshot is done" "$?" 0
waited=$(( ($(date +%s%N) - start) / 1000000 ))
ok "prune waited for the snapshot (${waited} ms)" test "$waited" -ge 1000
ok "and said it was waiting" grep -q '^waiting: a snapshot or restore is writing' "$T/out"
wait "$holder"
is "the lock holder ended normally" "$?" 0
