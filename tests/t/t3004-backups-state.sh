#!/bin/bash
# t3004-backups-state: the state directory placed under a source (an uploads tree, then the
# nginx tree) never shows in backups/ or history/, even where a snapshot or a commit recorded
# it: no lookup reaches it, no listing names it, find over both views never walks into it.
. "$(dirname "$0")/../lib.sh"
test_init
export LC_ALL=C

run() {	# run NAME STATE_DIR: a config with nginx and uploads, the state in STATE_DIR
	local name=$1 state=$2 M=$T/$1/mnt S
	mkdir -p "$T/$name/nginx" "$T/$name/up/site/2025"
	echo 'worker_processes 1;' >"$T/$name/nginx/nginx.conf"
	echo image >"$T/$name/up/site/2025/a.jpg"
	printf '[state]\n\tdir = %s\n[mount "nginx"]\n\tkind = tree\n\tsource = %s\n' \
		"$state" "$T/$name/nginx" >"$T/$name/statefs.conf"
	printf '[mount "uploads"]\n\tkind = plain\n\tsource = site:%s\n' "$T/$name/up/site" \
		>>"$T/$name/statefs.conf"
	DAEMON_LOG=$T/$name/daemon.log mount_statefs "$T/$name/statefs.conf" "$M"
	ok "$name: statefs snapshot" bash -c \
		"'$STATEFS' snapshot -c '$T/$name/statefs.conf' --quiet >'$T/$name/snap.log' 2>&1"
	S=$(ls "$state/store/snapshots" | grep -v '^tmp' | head -1)
	ok "$name: the snapshot is there" test -d "$M/backups/$S/uploads/site/2025"
	ok "$name: the state directory cannot be looked up in it" test ! -e "$M/backups/$S/$3"
	ok "$name: nor is it listed" bash -c "! ls -A '$M/backups/$S/${3%/*}' | grep -qx '${3##*/}'"
	ok "$name: find over backups/ and history/ never walks into the store" \
		bash -c "! find '$M/backups' '$M/history' | grep -q -e /store/ -e config.git"
	ok "$name: history/ has the commits" bash -c "ls -d '$M'/history/*/*/nginx >/dev/null"
	ok "$name: the daemon logged no error" daemon_log_clean "$T/$name/daemon.log"
}
run in-uploads "$T/in-uploads/up/site/.state" uploads/site/.state
run in-nginx "$T/in-nginx/nginx/.state" nginx/.state
