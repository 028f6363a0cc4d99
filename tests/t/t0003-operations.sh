#!/bin/bash
# Everything editors and tools do behaves as on the backing filesystem, and each logical
# change (rename, delete, chmod, mkdir) is one commit; modes, owners and empty directories are
# recorded in the metadata file.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live
n=$(commits)
N=$M/nginx

mv "$N/sites-available/clemence.conf" "$N/sites-available/clemence.conf.bak"
n=$((n + 1)); expect_commits "rename" $n
is "rename: one commit named as a rename" "$(subject)" \
	"Rename nginx/sites-available/clemence.conf -> nginx/sites-available/clemence.conf.bak"
mv "$N/sites-available/clemence.conf.bak" "$N/sites-available/clemence.conf"
n=$((n + 1)); expect_commits "rename back" $n

echo 'tmp' >"$N/conf.tmp"
n=$((n + 1)); expect_commits "create" $n
rm "$N/conf.tmp"
n=$((n + 1)); expect_commits "delete" $n
is "delete: named as a delete" "$(subject)" "Delete nginx/conf.tmp"

chmod 0640 "$N/nginx.conf"
n=$((n + 1)); expect_commits "chmod" $n
ok "chmod: the metadata file records 0640" bash -c "git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -qx 'f 0640 0 0 nginx/nginx.conf'"
is "chmod reached the backing file" "$(stat -c %a "$R/etc/nginx/nginx.conf")" 640

chown 33:33 "$N/nginx.conf"
n=$((n + 1)); expect_commits "chown" $n
ok "chown: the metadata file records 33:33" bash -c "git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -qx 'f 0640 33 33 nginx/nginx.conf'"

mkdir "$N/conf.d"
n=$((n + 1)); expect_commits "mkdir" $n
ok "mkdir: the empty directory is recorded" bash -c "git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -qx 'd 0755 0 0 nginx/conf.d'"
rmdir "$N/conf.d"
n=$((n + 1)); expect_commits "rmdir" $n
ok "rmdir: the directory is gone from the record" bash -c "! git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -q 'nginx/conf.d'"

mkdir -p "$N/a/b" && echo x >"$N/a/b/f"
wait_for "nested" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:nginx/a/b/f 2>/dev/null" 2>/dev/null
mv "$N/a" "$N/z"
wait_for "dir rename" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:nginx/z/b/f 2>/dev/null" 2>/dev/null
ok "renaming a directory moves what is below it" bash -c "! git --git-dir='$GITDIR' cat-file -e HEAD:nginx/a/b/f 2>/dev/null"
rm -r "$N/z"
wait_for "rm -r" 10 bash -c "! git --git-dir='$GITDIR' cat-file -e HEAD:nginx/z 2>/dev/null" 2>/dev/null
ok "rm -r removes the subtree from the history's tip" bash -c "! git --git-dir='$GITDIR' show HEAD:.statefs-meta | grep -q 'nginx/z'"

ln -s ../nginx.conf "$N/sites-enabled/link"
ok "symlink made through the mount" test "$(readlink "$R/etc/nginx/sites-enabled/link")" = ../nginx.conf
wait_for "symlink commit" 10 bash -c "test \"\$(git --git-dir='$GITDIR' cat-file -p HEAD:nginx/sites-enabled/link)\" = ../nginx.conf" 2>/dev/null
is "the symlink is committed as a symlink" "$(g ls-tree HEAD nginx/sites-enabled/link | cut -c1-6)" 120000

ln "$N/nginx.conf" "$N/hardlink.conf"
is "hard link: the backing file has two links" "$(stat -c %h "$R/etc/nginx/nginx.conf")" 2
rm "$N/hardlink.conf"

touch -d '2020-01-02 03:04:05' "$N/nginx.conf"
is "utimens reaches the backing file" "$(stat -c %Y "$R/etc/nginx/nginx.conf")" "$(date -d '2020-01-02 03:04:05' +%s)"
truncate -s 3 "$N/nginx.conf"
is "truncate" "$(stat -c %s "$R/etc/nginx/nginx.conf")" 3

set -o noclobber
fails "O_EXCL on an existing file fails" bash -c "set -o noclobber; echo x > '$N/nginx.conf'"
set +o noclobber
python3 -c "
import os
fd = os.open('$N/excl', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
os.write(fd, b'one\n'); os.close(fd)
fd = os.open('$N/excl', os.O_WRONLY | os.O_APPEND)
os.write(fd, b'two\n'); os.close(fd)
fd = os.open('$N/excl', os.O_WRONLY | os.O_TRUNC)
os.write(fd, b'three\n'); os.close(fd)
"
is "O_EXCL, O_APPEND and O_TRUNC behave" "$(cat "$R/etc/nginx/excl")" three
is "a created file keeps the mode asked for" "$(stat -c %a "$R/etc/nginx/excl")" 600

ok "setfattr through the mount" setfattr -n user.statefs -v hello "$N/excl"
is "getfattr reads it back from the backing file" \
	"$(getfattr --only-values -n user.statefs "$R/etc/nginx/excl" 2>/dev/null)" hello
ok "fsync through the mount" python3 -c "
import os; fd = os.open('$N/excl', os.O_WRONLY); os.fsync(fd); os.close(fd)"

# Tools that must not follow a symlink open with O_NOFOLLOW (grep -r does, for every file):
# the mount resolves the name itself, so the open must work like on the backing filesystem.
is "an O_NOFOLLOW open reads the file" "$(python3 -c "
import os
fd = os.open('$N/excl', os.O_RDONLY | os.O_NOFOLLOW)
print(os.read(fd, 100).decode().strip()); os.close(fd)")" three
ok "an O_NOFOLLOW open of a symlink fails with ELOOP, as on the backing filesystem" python3 -c "
import errno, os
try:
    os.open('$N/sites-enabled/link', os.O_RDONLY | os.O_NOFOLLOW)
except OSError as e:
    raise SystemExit(e.errno != errno.ELOOP)
raise SystemExit(1)"
is "grep -r reads every file under the mount (exit 0, a match in each)" \
	"$(grep -rc server "$N/sites-available" | grep -c ':[1-9]'; echo "rc=${PIPESTATUS[0]}")" \
	"$(grep -rc server "$R/etc/nginx/sites-available" | grep -c ':[1-9]'; echo rc=0)"
ok "fchmod and fsync on a read-only descriptor work" python3 -c "
import os
fd = os.open('$N/excl', os.O_RDONLY)
os.fchmod(fd, 0o640); os.fsync(fd); os.close(fd)
assert oct(os.stat('$R/etc/nginx/excl').st_mode & 0o777) == '0o640'"

long=$(printf 'n%.0s' $(seq 1 255))
ok "a 255-byte name works" bash -c "echo x > '$N/$long' && test -f '$R/etc/nginx/$long'"
deep=$N
for i in $(seq 1 60); do deep=$deep/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd; done
ok "a path longer than PATH_MAX works as on the backing filesystem" \
	bash -c "cd '$N' && for i in \$(seq 1 60); do mkdir -p dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd && cd dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd || exit 1; done; echo deep > f && test \"\$(cat f)\" = deep"
ok "git fsck is clean" g fsck --strict --no-progress
