#!/bin/bash
# t3001-backups: a snapshot taken with `statefs snapshot` shown under backups/ on a real mount:
# the listing and latest; configs byte-identical to the snapshot's commit with their modes and
# owners (a 0600 .env stays 0600 and its owner's); the uploads tree byte-identical with modes,
# owners, mtimes and symlinks (cp -a out of it gives the original back); reads at random offsets
# against the original with dd; EROFS for every kind of write; an ordinary user refused the
# private files; find over backups/ sees no loop; .statefs-snapshot.
. "$(dirname "$0")/lib-live.sh"
test_init
export LC_ALL=C
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# --- an uploads tree next to the lib-live configs -------------------------------------------
U=$T/root/uploads/clemence	# $R, set by setup_live
mkdir -p "$U/2025/10" "$U/empty-dir" "$U/private"
head -c 3000000 /dev/urandom >"$U/2025/10/video.mp4"
for i in $(seq 1 30); do echo "image $i" >"$U/2025/10/img-$i.jpg"; done
: >"$U/empty"
printf 'only www-data' >"$U/private/notes.txt"
chmod 0600 "$U/private/notes.txt"
chmod 0750 "$U/private"
chown -R 33:33 "$U/2025" "$U/private"
ln -s 2025/10 "$U/latest"
touch -d '2024-02-03 04:05:06.123456789' "$U/2025/10/img-1.jpg"
setup_live
chown 1000:33 "$R/opt/whisperx/.env"
wait_for "the owner change is committed" 10 bash -c \
	"git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -q '^f 0600 1000 33 env/whisperx/.env'"
unmount_statefs "$M" "$DAEMON_PID"
printf '[mount "uploads"]\n\tkind = plain\n\tsource = clemence:%s\n' "$U" >>"$T/statefs.conf"
mount_statefs "$T/statefs.conf" "$M" -o allow_other
snapshot() { "$STATEFS" snapshot -c "$T/statefs.conf" --quiet >>"$T/snap.log" 2>&1; }

is "backups/ is there, empty" "$(ls -A "$M/backups")" ""
ok "statefs snapshot" snapshot
S=$(ls "$T/state/store/snapshots" | grep -v '^tmp' | head -1)
B=$M/backups/$S
is "backups/ lists the snapshot and latest" "$(ls "$M/backups" | tr '\n' ' ')" "$S latest "
is "latest points at it" "$(readlink "$M/backups/latest")" "$S"
is "backups/ is read-only" "$(stat -c %a "$M/backups")" 555
is "its directory's mtime is the snapshot's time" "$(stat -c %Y "$B")" \
	"$(sed -n 's/^time //p' "$T/state/store/snapshots/$S")"
is "the snapshot has the live tree's names" "$(ls -A "$B" | tr '\n' ' ')" \
	".statefs-snapshot compose env nginx uploads "
ok ".statefs-snapshot says complete" grep -qx 'status complete' "$B/.statefs-snapshot"
ok "... and names the commit" grep -qx "commit $(g rev-parse HEAD)" "$B/.statefs-snapshot"

# --- configs ---------------------------------------------------------------------------------
ok "nginx/ is byte-identical to the commit" diff -r --no-dereference "$B/nginx" "$R/etc/nginx"
ok "compose/ too" cmp "$B/compose/whisperx/docker-compose.yml" "$R/opt/whisperx/docker-compose.yml"
ok "env/ too (as root)" cmp "$B/env/whisperx/.env" "$R/opt/whisperx/.env"
is "the .env is shown 0600 with its owner and group" "$(stat -c '%a %u %g' "$B/env/whisperx/.env")" \
	"600 1000 33"
is "a symlink is a symlink" "$(readlink "$B/nginx/sites-enabled/clemence.conf")" \
	"../sites-available/clemence.conf"
ok "the state's .statefs-meta is not shown" test ! -e "$B/.statefs-meta"
echo 'server { root /var/www/new; }' >"$M/nginx/sites-available/clemence.conf"
wait_for "the edit is committed" 10 bash -c "git --git-dir='$GITDIR' show HEAD:nginx/sites-available/clemence.conf | grep -q new"
ok "an edit after the snapshot does not change it" grep -q 'root /var/www/old' \
	"$B/nginx/sites-available/clemence.conf"

# --- uploads ---------------------------------------------------------------------------------
tree_of() {	# the shape of a tree: path, type, mode, owner, mtime (ns), link target
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G %T@ %l\n' | sort)
}
is "the uploads tree has the original's shape, modes, owners, mtimes, symlinks" \
	"$(tree_of "$B/uploads/clemence")" "$(tree_of "$U")"
ok "and the same bytes" diff -r --no-dereference "$B/uploads/clemence" "$U"
ok "cp -a out of it" cp -a "$B/uploads/clemence" "$T/restored"
is "gives the original back" "$(tree_of "$T/restored")" "$(tree_of "$U")"
bad=0
for i in $(seq 1 40); do
	off=$(((RANDOM * 32768 + RANDOM) % 3100000)) len=$((1 + (RANDOM * 7) % 200000))
	cmp -s <(dd if="$B/uploads/clemence/2025/10/video.mp4" iflag=skip_bytes,count_bytes \
		skip=$off count=$len 2>/dev/null) \
		<(dd if="$U/2025/10/video.mp4" iflag=skip_bytes,count_bytes skip=$off count=$len \
		2>/dev/null) || bad=$((bad + 1))
done
is "40 reads at random offsets match the original" "$bad" 0
ok "8 readers at once, of one file and of many, get the original bytes" bash -c "
	echo 1 >/proc/sys/vm/drop_caches	# the page cache would answer for the daemon
	pids=()
	for i in 1 2 3 4; do
		cmp '$B/uploads/clemence/2025/10/video.mp4' '$U/2025/10/video.mp4' & pids+=(\$!)
		diff -r '$B/uploads/clemence/2025' '$U/2025' >/dev/null & pids+=(\$!)
	done
	for p in \${pids[@]}; do wait \$p || exit 1; done"

# --- read-only -------------------------------------------------------------------------------
erofs() {	# erofs COMMAND...: fails, saying "Read-only file system"
	! "$@" 2>"$T/erofs.err" && grep -q 'Read-only file system' "$T/erofs.err"
}
F=$B/nginx/nginx.conf
ok "create is refused with EROFS" erofs touch "$B/nginx/new.conf"
ok "write" erofs bash -c "echo x >> '$F'"
ok "truncate" erofs truncate -s 0 "$F"
ok "unlink" erofs rm -f "$F"
ok "mkdir" erofs mkdir "$B/nginx/d"
ok "rmdir" erofs rmdir "$B/uploads/clemence/empty-dir"
ok "rename" erofs mv "$F" "$B/nginx/other.conf"
ok "chmod" erofs chmod 0777 "$F"
ok "chown" erofs chown 1:1 "$F"
ok "symlink" erofs ln -s x "$B/nginx/link"
ok "touch -d (utimens)" erofs touch -d '2001-01-01' "$F"
ok "a new name in backups/" erofs mkdir "$M/backups/mine"
ok "the file is unchanged" cmp "$F" "$R/etc/nginx/nginx.conf"

# --- permissions -----------------------------------------------------------------------------
fails "an ordinary user cannot read the 0600 .env" nobody bash -c "cat '$B/env/whisperx/.env' 2>/dev/null"
fails "nor a 0600 upload" nobody bash -c "cat '$B/uploads/clemence/private/notes.txt' 2>/dev/null"
ok "but can list backups/ and read a 0644 file" nobody bash -c \
	"ls '$M/backups' >/dev/null && cat '$B/nginx/nginx.conf' >/dev/null"
ok "find over backups/ sees no loop" bash -c "find '$M/backups' >'$T/find.out' 2>'$T/find.err'"
ok "and says nothing" test ! -s "$T/find.err"
is "find lists every file of the snapshot" \
	"$(grep -c "^$B/uploads/clemence/2025/10/" "$T/find.out")" 31
ok "st_ino is distinct across the tree" bash -c \
	"find '$B' -printf '%i\n' | sort | uniq -d | wc -l | grep -qx 0"
ok "the daemon logged no error" daemon_log_clean
