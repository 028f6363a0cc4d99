#!/bin/bash
# The repository stays compact: each commit's objects go to disk as one small pack, the small
# packs are merged in the background, nothing is lost, and git fsck stays clean.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live -o pack_every=40,quiet_ms=20
n=$(commits)
for i in $(seq 1 150); do
	echo "save $i" >>"$M/nginx/nginx.conf"
	wait_for "save $i" 10 count_is $((n + i)) || break
done
is "150 saves made 150 commits" "$(commits)" $((n + 150))
vcs_loose() { find "$GITDIR/objects" -path '*/pack' -prune -o -type f -print | grep -c '/[0-9a-f][0-9a-f]/'; }
packs=$(find "$GITDIR/objects/pack" -name '*.pack' | wc -l)
ok "the per-commit packs were merged ($packs packs after 150 commits)" test "$packs" -le 57
loose=$(vcs_loose)
is "no loose objects are left" "$loose" 0
ok "every save is still in the history" bash -c "test \$(git --git-dir='$GITDIR' show HEAD:nginx/nginx.conf | grep -c '^save') = 150"
ok "the first version is still readable" bash -c "git --git-dir='$GITDIR' show \$(git --git-dir='$GITDIR' rev-list --max-parents=0 HEAD):nginx/nginx.conf | grep -q worker_processes"
ok "git fsck is clean" g fsck --strict --no-progress
ok "the daemon logged no error" daemon_log_clean
