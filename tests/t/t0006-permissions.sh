#!/bin/bash
# The backing files' permissions decide, files made through the mount belong to the caller,
# and no path leaves its source: not through the mount, not into the history.
. "$(dirname "$0")/lib-live.sh"
test_init
# An outside secret, and a stack directory that is a symlink to it.
mkdir -p "$T/outside" && echo 'TOPSECRET=1' >"$T/outside/.env" && echo 'TOPSECRET' >"$T/outside/shadow"
mkdir -p "$T/root/opt" && ln -s "$T/outside" "$T/root/opt/evil"
mkdir -p "$T/root/etc/nginx" && ln -s "$T/outside/shadow" "$T/root/etc/nginx/escape.conf"
ln -s ../.. "$T/root/etc/nginx/up"
mkdir -p "$T/root/etc/nginx/shared" && chmod 1777 "$T/root/etc/nginx/shared"
mkdir -p "$T/root/etc/nginx/www" && chgrp 33 "$T/root/etc/nginx/www" && chmod 2777 "$T/root/etc/nginx/www"
setup_live
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

fails "an ordinary user cannot read a 0600 .env through the mount" nobody bash -c "cat '$M/env/whisperx/.env' 2>/dev/null"
ok "the refusal is EACCES" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups cat '$M/env/whisperx/.env' 2>&1 | grep -q 'Permission denied'"
ok "an ordinary user can read a 0644 file" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups cat '$M/nginx/nginx.conf' >/dev/null"
fails "an ordinary user cannot write a root-owned file" nobody bash -c "echo x 2>/dev/null >> '$M/nginx/nginx.conf'"

nobody bash -c "echo mine > '$M/nginx/shared/by-nobody.conf'"
is "a file made through the mount belongs to the caller" "$(stat -c %u:%g "$R/etc/nginx/shared/by-nobody.conf")" 65534:65534
nobody mkdir "$M/nginx/shared/dir"
is "so does a directory" "$(stat -c %u:%g "$R/etc/nginx/shared/dir")" 65534:65534
nobody ln -s target "$M/nginx/shared/link"
is "and a symlink" "$(stat -c %u:%g "$R/etc/nginx/shared/link")" 65534:65534
nobody bash -c "echo x > '$M/nginx/www/page.conf'"
is "in a setgid directory the file takes the directory's group" "$(stat -c %u:%g "$R/etc/nginx/www/page.conf")" 65534:33
wait_for "commit by nobody" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:nginx/www/page.conf 2>/dev/null"
ok "the commit names the user" bash -c "git --git-dir='$GITDIR' log --format=%B | grep -q '^Statefs-User: nobody (uid 65534)'"

ok "a symlink out of the source is shown as a symlink" test -L "$M/nginx/escape.conf"
ok "it is committed as a symlink, not as what it points to" \
	test "$(g cat-file -p HEAD:nginx/escape.conf)" = "$T/outside/shadow"
ok "a stack directory that is a symlink is shown as a symlink" test -L "$M/env/evil"
ok "what lies behind it is never committed" bash -c "! git --git-dir='$GITDIR' log -p --all | grep -q TOPSECRET"
ok "nor listed in the tree" bash -c "! git --git-dir='$GITDIR' ls-tree -r HEAD --name-only | grep -q evil/"
fails "a relative symlink that climbs out of the source does not reach the backing's neighbours" \
	test -e "$M/nginx/up/opt/whisperx/.env"
ok "the backing path it names does exist (so the test can fail)" test -e "$R/etc/nginx/up/opt/whisperx/.env"
ok "the daemon logged no error" daemon_log_clean
