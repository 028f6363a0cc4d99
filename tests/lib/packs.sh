# tests/lib/packs.sh - look at and damage a chunk store from the outside, as an operator would
# with docs/format.md in hand: packs/NAME.pack holds the frames, packs/NAME.idx says where
# ("HASH OFFSET ZLEN" lines after a header line). $1 of each is STATE_DIR/store.

# packs_chunks STORE: how many distinct chunks the indexes name.
packs_chunks() {
	cat "$1"/packs/*.idx 2>/dev/null | awk 'FNR > 0 && NF == 3 && length($1) == 64 { print $1 }' |
		sort -u | wc -l
}

# chunk_loc STORE HASH: "PACKFILE OFFSET ZLEN" of the chunk (status 1 if no index names it).
chunk_loc() {
	awk -v h="$2" '$1 == h { f = FILENAME; sub(/\.idx$/, ".pack", f); print f, $2, $3; found = 1; exit }
		END { exit !found }' "$1"/packs/*.idx 2>/dev/null
}

# chunk_has STORE HASH: is the chunk stored?
chunk_has() { chunk_loc "$1" "$2" >/dev/null; }

# chunk_frame STORE HASH: the chunk's zstd frame, cut out of its pack, on stdout.
chunk_frame() {
	local pack off zlen
	read -r pack off zlen <<<"$(chunk_loc "$1" "$2")" || return 1
	tail -c +$((off + 1)) "$pack" | head -c "$zlen"
}

# chunk_flip STORE HASH POS: flip bits of the byte at POS of the chunk's frame (POS < 0: from
# its end), in place in the pack.
chunk_flip() {
	local pack off zlen pos
	read -r pack off zlen <<<"$(chunk_loc "$1" "$2")" || return 1
	pos=$3
	[ "$pos" -ge 0 ] || pos=$((zlen + pos))
	python3 -c 'import sys
p, at = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(at); b = f.read(1); f.seek(at); f.write(bytes([b[0] ^ 0x20]))' "$pack" $((off + pos))
}

# chunk_forget STORE HASH: take the chunk out of its index (the bytes stay in the pack), so the
# store no longer has it.
chunk_forget() {
	local idx
	for idx in "$1"/packs/*.idx; do
		grep -q "^$2 " "$idx" || continue
		grep -v "^$2 " "$idx" >"$idx.new" && mv "$idx.new" "$idx"
	done
}
