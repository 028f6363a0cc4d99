#!/bin/bash
# The mount shows the mount table's names, the files-kind mapping, and refuses bad configs.
. "$(dirname "$0")/lib-live.sh"
test_init

ok "--help names the usage" bash -c "'$STATEFS' --help | grep -q 'CONFIG MOUNTPOINT'"
ok "--version prints a version" bash -c "'$STATEFS' --version | grep -Eq '^statefs [0-9]'"
fails "an unknown verb is refused" "$STATEFS" frobnicate

# a bad config: the line, the key, what was expected
mkdir -p "$T/bad"
printf '[state]\n\tdir = %s/st\n[mount "nginx"]\n\tkind = tre\n\tsource = /etc\n' "$T" >"$T/bad.conf"
"$STATEFS" -f "$T/bad.conf" "$T/bad" 2>"$T/bad.err"
is "a bad config fails with status 1" "$?" 1
ok "the error names the line and the key" grep -q 'bad.conf:4: mount.nginx.kind' "$T/bad.err"
ok "the error says what was expected" grep -q 'expected tree, files or plain' "$T/bad.err"
ok "nothing is left mounted after a bad config" bash -c "! mountpoint -q '$T/bad'"

setup_live
is "the root lists the mount names and the views" "$(ls "$M" | tr "\n" " ")" "backups compose env history nginx "
ok "mounted as fuse.statefs with the config as the source" \
	bash -c "grep -q '^$T/statefs.conf $M fuse.statefs ' /proc/mounts"
ok "a tree mount shows the source tree" test -f "$M/nginx/sites-available/clemence.conf"
is "the file reads as the backing file" "$(cat "$M/nginx/nginx.conf")" "$(cat "$R/etc/nginx/nginx.conf")"
ok "symlinks are shown as symlinks" test -L "$M/nginx/sites-enabled/clemence.conf"
is "readlink gives the stored target" "$(readlink "$M/nginx/sites-enabled/clemence.conf")" \
	"../sites-available/clemence.conf"
ok "a files mount maps the glob: compose/whisperx/docker-compose.yml" \
	cmp "$M/compose/whisperx/docker-compose.yml" "$R/opt/whisperx/docker-compose.yml"
ok "env/whisperx/.env is there" cmp "$M/env/whisperx/.env" "$R/opt/whisperx/.env"
is "env/whisperx shows only the .env" "$(ls -A "$M/env/whisperx")" ".env"
is "compose/whisperx hides the .env" "$(ls -A "$M/compose/whisperx")" "docker-compose.yml"
is "env/ lists only the stacks that have a .env" "$(ls -A "$M/env")" "whisperx"
is "compose/ lists only the stacks that have a compose file" "$(ls -A "$M/compose")" "blog
whisperx"
ok "a new stack made through the mount can get its files" \
	bash -c "mkdir '$M/env/newstack' && echo A=1 > '$M/env/newstack/.env' && test -f '$R/opt/newstack/.env'"
ok "a name outside the glob cannot be looked up" bash -c "! test -e '$M/compose/whisperx/.env'"
is "modes are the backing file's" "$(stat -c %a "$M/env/whisperx/.env")" 600
ok "writing in the root is refused" bash -c "! touch '$M/newtop' 2>/dev/null"
ok "df works on the mount" bash -c "df '$M/nginx' >/dev/null"
is "the start-up commit records every tree" \
	"$(g ls-tree -r --name-only HEAD | tr '\n' ' ')" \
	".statefs-meta compose/blog/docker-compose.yml compose/whisperx/docker-compose.yml env/whisperx/.env nginx/nginx.conf nginx/sites-available/clemence.conf nginx/sites-enabled/clemence.conf "
ok "the start-up commit is marked external" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q 'Statefs-Source: external'"
ok "the state directory is private (0700)" test "$(stat -c %a "$STATE")" = 700
ok "git fsck is clean" g fsck --strict --no-progress

# As mount(8) runs it: in the background, no -f. The threads must survive the fork.
unmount_statefs "$M" "$DAEMON_PID"
"$STATEFS" -o allow_other "$T/statefs.conf" "$M" 2>>"$T/daemon-bg.log"
is "without -f the mount goes to the background and returns 0" "$?" 0
cleanup_add "fusermount3 -u '$M' || fusermount3 -uz '$M'"
n=$(commits)
echo '# bg' >>"$M/nginx/nginx.conf"
wait_for "background commit" 10 count_is $((n + 1))
is "a save through a background mount is committed" "$(commits)" $((n + 1))
echo '# ext' >>"$R/etc/nginx/nginx.conf"
wait_for "background external commit" 10 count_is $((n + 2))
is "an external change under a background mount is committed" "$(commits)" $((n + 2))
fusermount3 -u "$M"
