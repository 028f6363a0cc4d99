#!/bin/bash
# Changes made outside the mount are committed and marked external: while running (inotify)
# and at start-up; and the kernel's cached view follows them.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live
n=$(commits)

cat "$M/nginx/nginx.conf" >/dev/null	# warm the cache
printf 'user certbot;\n' >"$R/etc/nginx/nginx.conf"
n=$((n + 1)); expect_commits "an external edit" $n
ok "it is marked external" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q '^Statefs-Source: external'"
is "the subject says external" "$(subject)" "External: Edit nginx/nginx.conf"
is "the mount shows the new content at once" "$(cat "$M/nginx/nginx.conf")" "user certbot;"

mkdir -p "$R/etc/nginx/conf.d/new" && echo 'x' >"$R/etc/nginx/conf.d/new/a.conf"
wait_for "a new external directory" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:nginx/conf.d/new/a.conf 2>/dev/null" 2>/dev/null
ok "a file in a new external directory is committed" g cat-file -e HEAD:nginx/conf.d/new/a.conf
echo 'y' >"$R/etc/nginx/conf.d/new/b.conf"
wait_for "a file in a directory made after start" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:nginx/conf.d/new/b.conf 2>/dev/null" 2>/dev/null
ok "new directories are watched too" g cat-file -e HEAD:nginx/conf.d/new/b.conf
mkdir -p "$R/opt/newstack" && printf 'services: {}\n' >"$R/opt/newstack/docker-compose.yml"
wait_for "a new compose stack" 10 bash -c "git --git-dir='$GITDIR' cat-file -e HEAD:compose/newstack/docker-compose.yml 2>/dev/null" 2>/dev/null
ok "a new compose stack made outside is committed" g cat-file -e HEAD:compose/newstack/docker-compose.yml
ok "it shows in the mount" test -f "$M/compose/newstack/docker-compose.yml"

unmount_statefs "$M" "$DAEMON_PID"
n=$(commits)
printf 'changed while stopped\n' >"$R/etc/nginx/sites-available/clemence.conf"
rm "$R/opt/blog/docker-compose.yml"
mount_statefs "$T/statefs.conf" "$M"
is "changes made while stopped make one commit at start-up" "$(commits)" $((n + 1))
ok "it is marked as found at start-up" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q 'external (found at start-up)'"
is "it records the edit" "$(g show HEAD:nginx/sites-available/clemence.conf)" "changed while stopped"
ok "it records the delete" bash -c "! git --git-dir='$GITDIR' cat-file -e HEAD:compose/blog/docker-compose.yml 2>/dev/null"
n=$(commits)
unmount_statefs "$M" "$DAEMON_PID"
mount_statefs "$T/statefs.conf" "$M"
is "a restart with no change makes no commit" "$(commits)" $n
ok "git fsck is clean" g fsck --strict --no-progress
