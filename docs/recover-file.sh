#!/bin/sh
# recover-file.sh - rebuild one file of a statefs snapshot without statefs.
#
#     docs/recover-file.sh STATE_DIR SNAPSHOT PATH > out
#     docs/recover-file.sh /var/lib/statefs 2025-10-01 uploads/clemence/2025/10/a.jpg > a.jpg
#
# Needs only sh, awk, sed, cat and zstd; docs/format.md explains each step. PATH is the file's
# path in the snapshot as the backups view shows it, unescaped. Exits 1 with a message if the
# file is not in the snapshot or a chunk is missing or damaged (the output is then incomplete).
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

# 2. Each chunk is one zstd frame in chunks/<first 2 hex digits>/<hash>: decompress them in
#    order. A frame made with a dictionary (zstd -lv shows "DictID: N", N > 0) needs -D with
#    the right file of dicts/; zstd refuses a wrong one before writing anything, so try each.
for h in $chunks; do
	chunk=$store/chunks/$(echo "$h" | sed 's/^\(..\).*/\1/')/$h
	if ! zstd -lv "$chunk" 2>/dev/null | grep -q '^DictID: [1-9]'; then
		zstd -dcq "$chunk" || { echo "$0: $chunk: cannot decompress" >&2; exit 1; }
		continue
	fi
	ok=
	for dict in "$store"/dicts/*; do
		zstd -dcq -D "$dict" "$chunk" 2>/dev/null && { ok=1; break; }
	done
	[ -n "$ok" ] || { echo "$0: $chunk: no dictionary in $store/dicts fits" >&2; exit 1; }
done
