#!/bin/sh
# recover-file.sh - rebuild one file of a statefs snapshot without statefs.
#
#     docs/recover-file.sh STATE_DIR SNAPSHOT PATH > out
#     docs/recover-file.sh /var/lib/statefs 2025-10-01 uploads/clemence/2025/10/a.jpg > a.jpg
#
# Needs only sh, awk, tail, head, mktemp and zstd; docs/format.md explains each step. PATH is
# the file's path in the snapshot as the backups view shows it, unescaped. Exits 1 with a
# message if the file is not in the snapshot or a chunk is missing or damaged (the output is
# then incomplete).
set -u
[ $# -eq 3 ] || { echo "usage: $0 STATE_DIR SNAPSHOT PATH > out" >&2; exit 2; }
store=$1/store
manifest=$store/snapshots/$2

# 1. The file's chunks: the "c SHA256 LEN ZLEN" lines right after its "f" line. The path is
#    what follows the first 8 fields, with \ooo escapes undone.
chunks=$(P=$3 LC_ALL=C awk '
	function unescape(s,  out, i) {
		out = ""
		while ((i = index(s, "\\")) > 0) {
			out = out substr(s, 1, i - 1) sprintf("%c", substr(s, i + 1, 1) * 64 + \
				substr(s, i + 2, 1) * 8 + substr(s, i + 3, 1))
			s = substr(s, i + 4)
		}
		return out s
	}
	found && /^c / { print $2; next }
	found { exit }
	/^f / {
		p = $0
		for (i = 0; i < 8; i++)
			sub(/^[^ ]+ /, "", p)
		if (unescape(p) == ENVIRON["P"])
			found = 1
	}
	END { exit !found }' "$manifest") || { echo "$0: no file $3 in $manifest" >&2; exit 1; }

# 2. Where each chunk is: the "HASH OFFSET ZLEN" line of a pack index packs/NAME.idx says
#    that its frame is the ZLEN bytes at OFFSET of packs/NAME.pack. One pass over the indexes
#    prints "PACK OFFSET ZLEN" per chunk, in the file's order.
places=$(echo "$chunks" | LC_ALL=C awk -v packs="$store/packs" '
	FNR == NR { if ($1 != "") { want[$1] = 1; order[++n] = $1 }; next }
	FNR == 1 { next }
	($1 in want) && !($1 in at) {
		f = FILENAME; sub(/\.idx$/, ".pack", f)
		at[$1] = f " " $2 " " $3
	}
	END {
		for (i = 1; i <= n; i++) {
			if (!(order[i] in at)) { print "missing " order[i]; exit 1 }
			print at[order[i]]
		}
	}' - "$store"/packs/*.idx) || { echo "$0: chunk ${places#missing } is in no pack index" >&2; exit 1; }

# 3. Cut each frame out of its pack (tail -c +N starts at byte N, counting from 1) and
#    decompress it. A frame made with a dictionary needs -D with the right file of dicts/;
#    zstd refuses a missing or wrong one before writing anything, so try without, then each.
frame=$(mktemp) || exit 1
trap 'rm -f "$frame"' EXIT
echo "$places" | while read -r pack off zlen; do
	[ -n "$pack" ] || continue
	tail -c +$((off + 1)) "$pack" | head -c "$zlen" > "$frame"
	zstd -dcq "$frame" 2>/dev/null && continue
	ok=
	for dict in "$store"/dicts/*; do
		[ -f "$dict" ] && zstd -dcq -D "$dict" "$frame" 2>/dev/null && { ok=1; break; }
	done
	[ -n "$ok" ] || { echo "$0: $pack at $off: damaged, or no dictionary in $store/dicts fits" >&2; exit 1; }
done
