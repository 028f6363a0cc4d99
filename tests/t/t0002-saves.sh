#!/bin/bash
# Every way a person or a tool saves a file makes exactly one commit, naming the file, the
# user and the program, and no editor litter is ever committed.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live
n=$(commits)
F=$M/nginx/sites-available/clemence.conf

cp "$F" "$T/copy" && sed -i 's/old/cp/' "$T/copy" && cp "$T/copy" "$F"
n=$((n + 1)); expect_commits "cp onto a file" $n
is "cp: the subject names the file" "$(subject)" "Edit nginx/sites-available/clemence.conf"
ok "cp: the program is named" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q '^Statefs-Program: cp '"
ok "cp: the user is named" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q '^Statefs-User: root (uid 0)'"
is "cp: the author is the user" "$(g log -1 --format=%an)" root

sed -i 's/cp/sed/' "$F"
n=$((n + 1)); expect_commits "sed -i" $n
is "sed -i: the content is committed" "$(g show HEAD:nginx/sites-available/clemence.conf | grep root)" "  root /var/www/sed;"
ok "sed -i: the program is sed" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q '^Statefs-Program: sed '"

vim -es -u NONE -c 'set backup writebackup swapfile' -c '%s/sed/vim/' -c 'wq' "$F"
n=$((n + 1)); expect_commits "vim -es" $n
is "vim: the content is committed" "$(g show HEAD:nginx/sites-available/clemence.conf | grep root)" "  root /var/www/vim;"
ok "vim: no litter (~, .swp, 4913) in the tree" bash -c "! git --git-dir='$GITDIR' ls-tree -r --name-only HEAD | grep -E '~\$|\\.sw.\$|4913'"

python3 - "$F" <<'PY'
import os, sys, tempfile
p = sys.argv[1]
data = open(p).read().replace("vim", "python")
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(p))
with os.fdopen(fd, "w") as f:
    f.write(data)
os.chmod(tmp, 0o644)
os.rename(tmp, p)
PY
n=$((n + 1)); expect_commits "a Python rewrite (temp file, chmod, rename)" $n
is "python: the subject names the file, not the temp file" "$(subject)" "Edit nginx/sites-available/clemence.conf"

echo "# appended" >>"$F"
n=$((n + 1)); expect_commits "echo >>" $n
is "echo >>: the last line is committed" "$(g show HEAD:nginx/sites-available/clemence.conf | tail -n 1)" "# appended"

printf 'server { listen 80; }\n' >"$T/new.conf"
mv "$T/new.conf" "$M/nginx/sites-available/clemence.conf"
n=$((n + 1)); expect_commits "mv over a file (across filesystems)" $n
is "mv: the content is committed" "$(g show HEAD:nginx/sites-available/clemence.conf)" "server { listen 80; }"

printf 'API_KEY=new\n' >"$T/env.new"
mv "$T/env.new" "$M/env/whisperx/.env.tmp" && mv "$M/env/whisperx/.env.tmp" "$M/env/whisperx/.env"
n=$((n + 1)); expect_commits "mv within a files view (temp name then rename)" $n
is "env: the new .env is committed" "$(g show HEAD:env/whisperx/.env)" "API_KEY=new"
ok "env: the temp name was never committed" bash -c "! git --git-dir='$GITDIR' log --all --name-only --format= | grep -q '.env.tmp'"

sed -i 's/www-data/nginx/' "$M/nginx/nginx.conf"
n=$((n + 1)); expect_commits "sed -i on another file" $n

touch "$M/nginx/.nginx.conf.swp" "$M/nginx/nginx.conf~" "$M/nginx/4913" "$M/nginx/.#nginx.conf"
sleep 0.6
is "litter alone makes no commit" "$(commits)" $n
rm -f "$M/nginx/.nginx.conf.swp" "$M/nginx/nginx.conf~" "$M/nginx/4913" "$M/nginx/.#nginx.conf"
sleep 0.6
is "removing litter makes no commit" "$(commits)" $n
ok "the backing files hold the saves" grep -q 'listen 80' "$R/etc/nginx/sites-available/clemence.conf"
ok "git fsck is clean" g fsck --strict --no-progress
