#!/bin/bash
# t6001-install: `make install` lays out every file with sane modes, again and again, and never
# overwrites statefs.conf; systemd-analyze accepts the units; statefs.service's own commands
# start the mount (READY=1), bring it back after a crash and stop it; the man pages render and
# are in step with their .md and --help; the completion completes; the fstab line mounts through
# mount(8) and mount.fuse3, and systemd can order it after the database without a cycle.
. "$(dirname "$0")/../lib.sh"
test_init
cd "$TOP" || exit 1
R=$T/root
UNITS="statefs.service statefs-snapshot.service statefs-snapshot.timer statefs-verify.service
statefs-verify.timer"

mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s "$@"; }
mk_logged() { mk "$@" >"$T/make.log" 2>&1 || { sed 's/^/#   /' "$T/make.log"; return 1; }; }
# dead PID: exited (a zombie counts: whoever reaps orphans here may not)
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }
layout() { (cd "$1" && find . -type f -printf '%m %P\n' | LC_ALL=C sort -k2); }
sums() { (cd "$1" && find . -type f -printf '%m ' -exec md5sum {} + | LC_ALL=C sort -k3); }

# --- make install --------------------------------------------------------------------------

ok "make install DESTDIR PREFIX=/usr/local" mk_logged install DESTDIR="$R" PREFIX=/usr/local
is "every file is laid out, with its mode" "$(layout "$R")" "$(LC_ALL=C sort -k2 <<EOF
600 etc/statefs/client.cnf.example
644 etc/statefs/statefs.conf
644 etc/statefs/statefs.conf.example
644 etc/systemd/system/statefs-snapshot.service
644 etc/systemd/system/statefs-snapshot.timer
644 etc/systemd/system/statefs-verify.service
644 etc/systemd/system/statefs-verify.timer
644 etc/systemd/system/statefs.service
755 usr/local/bin/statefs
644 usr/local/share/bash-completion/completions/statefs
644 usr/local/share/man/man5/statefs.conf.5
644 usr/local/share/man/man8/statefs.8
EOF
)"
is "no directory is writable by group or others" "$(find "$R" -type d -perm /022)" ""
ok "the installed binary runs" "$R/usr/local/bin/statefs" --version
ok "a new install gets statefs.conf, a copy of the example" \
	cmp "$R/etc/statefs/statefs.conf" contrib/statefs.conf.example
ok "the units run the installed binary" grep -qx \
	'ExecStart=/usr/local/bin/statefs -f -o allow_other /etc/statefs/statefs.conf /srv/state' \
	"$R/etc/systemd/system/statefs.service"
is "the snapshot unit runs snapshot, then prune" \
	"$(sed -n 's/^ExecStart=//p' "$R/etc/systemd/system/statefs-snapshot.service")" \
	"/usr/local/bin/statefs snapshot -c /etc/statefs/statefs.conf
/usr/local/bin/statefs prune -c /etc/statefs/statefs.conf"
is "no @PLACEHOLDER@ is left in the units" "$(grep -l '@[A-Z]*@' "$R"/etc/systemd/system/*)" ""

before=$(sums "$R")
echo '# edited by hand' >>"$R/etc/statefs/statefs.conf"
ok "make install again" mk_logged install DESTDIR="$R" PREFIX=/usr/local
is "a second install changes nothing else" "$(sums "$R" | grep -v ' ./etc/statefs/statefs.conf$')" \
	"$(grep -v ' ./etc/statefs/statefs.conf$' <<<"$before")"
is "an existing statefs.conf is kept" "$(tail -n 1 "$R/etc/statefs/statefs.conf")" \
	'# edited by hand'

U=$T/root-usr
ok "make install PREFIX=/usr" mk_logged install DESTDIR="$U" PREFIX=/usr
ok "PREFIX=/usr: the binary in /usr/bin" test -x "$U/usr/bin/statefs"
ok "PREFIX=/usr: the units in /lib/systemd/system" grep -q '^ExecStart=/usr/bin/statefs ' \
	"$U/lib/systemd/system/statefs.service"
ok "PREFIX=/usr: the man pages and completion under /usr/share" test -f \
	"$U/usr/share/man/man8/statefs.8" -a -f "$U/usr/share/bash-completion/completions/statefs"
ok "make uninstall" mk_logged uninstall DESTDIR="$U" PREFIX=/usr
is "uninstall leaves only statefs.conf" "$(layout "$U")" "644 etc/statefs/statefs.conf"

# --- systemd-analyze verify ------------------------------------------------------------------
# The installed units name /usr/local/bin/statefs, which need not exist on this machine: check
# copies that name the DESTDIR binary, with man(1) looking at the DESTDIR pages (verify checks
# that the Documentation= pages exist).

V=$T/units
mkdir -p "$V"
for u in $UNITS; do
	sed "s|/usr/local/bin/statefs|$R&|g" "$R/etc/systemd/system/$u" >"$V/$u"
done
verify() { (cd "$V" && MANPATH=${MANPATH_:-$R/usr/local/share/man} systemd-analyze verify "$@"); }
verify $(printf './%s ' $UNITS) >"$T/verify.out" 2>&1
is "systemd-analyze verify accepts the units" "$?" 0
is "... and has nothing to say about them" "$(cat "$T/verify.out")" ""
sed 's/^Type=notify/Type=notfy/' "$V/statefs.service" >"$V/bad.service"
ok "(it does complain about a bad unit)" bash -c "cd '$V' && systemd-analyze verify --man=no \
	./bad.service 2>&1 | grep -q 'notfy'"
ok "(and about missing man pages)" bash -c "cd '$V' && MANPATH=/nonexistent systemd-analyze \
	verify ./statefs.service 2>&1 | grep -q 'statefs(8)'"
rm -f "$V/bad.service"
# Enabled as the README says: the boot (multi-user.target) meets no ordering cycle through them.
mkdir -p "$V/multi-user.target.wants" "$V/timers.target.wants"
ln -s ../statefs.service "$V/multi-user.target.wants/"
ln -s ../statefs-snapshot.timer ../statefs-verify.timer "$V/timers.target.wants/"
verify --man=no ./statefs.service multi-user.target >"$T/boot.out" 2>&1
fails "enabled, the units make no ordering cycle at boot" grep -q 'statefs.*/start' "$T/boot.out"

# --- statefs.service's commands, run as systemd runs them ------------------------------------
# ExecStartPre, ExecStart (Type=notify: READY=1 on $NOTIFY_SOCKET) and ExecStop of the
# installed unit, with /srv/state and the config moved under $T.

mkdir -p "$T/src/nginx"
echo 'worker_processes 1;' >"$T/src/nginx/nginx.conf"
printf '[state]\n\tdir = %s\n[mount "nginx"]\n\tkind = tree\n\tsource = %s\n' \
	"$T/state" "$T/src/nginx" >"$T/statefs.conf"
S=$T/srv-state
unit_cmds() {	# unit_cmds KEY: the unit's KEY= command lines (continued lines joined, as
		# systemd does), as a shell runs them
	sed -e ':a' -e '/\\$/{N; s/\\\n[[:space:]]*/ /; ba' -e '}' \
		"$R/etc/systemd/system/statefs.service" | sed -n "s/^$1=-\{0,1\}//p" |
		sed -e 's/\$\$/$/g' -e "s|/srv/state|$S|g" \
			-e "s|/etc/statefs/statefs.conf|$T/statefs.conf|g" \
			-e "s|/usr/local/bin/statefs|$R/usr/local/bin/statefs|g"
}
unit_start() {	# the ExecStartPre= lines, then ExecStart= until READY=1; sets SVC_PID
	local c
	while read -r c; do eval "$c" || return 1; done < <(unit_cmds ExecStartPre)
	eval "set -- $(unit_cmds ExecStart)"
	SVC_PID=$(python3 "$TOP/tests/lib/readywait.py" "$T/svc.sock" "$T/svc.log" -- "$@") ||
		return 1
	cleanup_add "dead $SVC_PID || unmount_statefs '$S' $SVC_PID"
}
unit_stop() { MAINPID=$SVC_PID timeout 30 bash -c "$(unit_cmds ExecStop)"; }
gone() { dead "$1" && ! grep -q " $S fuse.statefs " /proc/mounts; }
busy_stop() { unit_stop 2>/dev/null && mountpoint -q "$S"; }

ok "the unit's commands mount, and READY=1 comes once mounted" unit_start
ok "the unit's mount is there" mountpoint -q "$S"
is "a file reads through it" "$(cat "$S/nginx/nginx.conf")" 'worker_processes 1;'
kill -KILL "$SVC_PID"
wait_for "the daemon to die" 10 dead "$SVC_PID"
fails "(after kill -9 the mount is dead)" stat "$S/nginx"
ok "after a crash, the unit's commands bring the mount back" unit_start
is "and it works" "$(cat "$S/nginx/nginx.conf")" 'worker_processes 1;'
unit_cmds ExecStartPre >"$T/pre.sh"
ok "ExecStartPre leaves a live mount alone" bash -c ". '$T/pre.sh' && mountpoint -q '$S' &&
	test -f '$S/nginx/nginx.conf'"
echo 'events {}' >"$S/nginx/events.conf"
ok "ExecStop unmounts and returns once the daemon has exited" unit_stop
ok "the daemon is gone and the mount too" gone "$SVC_PID"
ok "the save made just before the stop is committed" bash -c "git --git-dir='$T/state/config.git' \
	ls-tree -r --name-only HEAD | grep -qx nginx/events.conf"

ok "the unit starts again" unit_start
(cd "$S/nginx" && exec sleep 60) &
BUSY=$!
cleanup_add "kill_pid $BUSY"
sleep 0.2
ok "a busy mount: ExecStop returns, the mount stays for the SIGTERM" busy_stop
kill -TERM "$SVC_PID"
ok "SIGTERM detaches the busy mount and the daemon exits" wait_for "stop" 20 gone "$SVC_PID"
kill_pid "$BUSY"
ok "the daemon's log is clean" daemon_log_clean "$T/svc.log"

# --- man pages ---------------------------------------------------------------------------

for p in man8/statefs.8 man5/statefs.conf.5; do
	f=$R/usr/local/share/man/$p
	is "man renders $p without a warning" \
		"$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)" ""
	is "groff -ww renders $p without a warning" "$(groff -man -Tutf8 -ww -z "$f" 2>&1)" ""
	ok "whatis can read the NAME of $p" bash -c "lexgrog '$f' | grep -q ' - '"
	md=docs/$(basename "${p%.*}").md
	ok "$p is what $md gives (else: docs/md2man.py $md > docs/${p#*/})" \
		bash -c "python3 docs/md2man.py '$md' | cmp -s - 'docs/${p#*/}'"
done
MANWIDTH=200 man -l "$R/usr/local/share/man/man8/statefs.8" 2>/dev/null >"$T/statefs.8.txt"
for v in $("$R/usr/local/bin/statefs" --help | awk '$1 == "statefs" && $2 ~ /^[a-z]+$/ {
	print $2 }'); do
	ok "statefs(8) documents the verb $v" grep -q "statefs $v " "$T/statefs.8.txt"
done
for o in $("$R/usr/local/bin/statefs" --help | sed -n 's/^ *-o \([a-z_]*\).*/\1/p'); do
	ok "statefs(8) documents -o $o" grep -q "^ *$o" "$T/statefs.8.txt"
done

# --- bash completion -----------------------------------------------------------------------

C=$R/usr/local/share/bash-completion/completions/statefs
ok "the completion is valid bash" bash -n "$C"
comp() {	# comp LINE: the completions of LINE, the cursor at its end, on one line
	bash -c '. "$1"; compopt() { :; }
		COMP_LINE=$2 COMP_POINT=${#2}
		s=${2//=/ = }; s=${s//:/ : }; read -ra COMP_WORDS <<<"$s"
		[[ $2 =~ [[:space:]]$ ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_WORDS[0]=$3
		_statefs; echo "${COMPREPLY[*]}"' _ "$C" "$1" "$R/usr/local/bin/statefs"
}
is "the verbs come from --help" "$(comp 'statefs du')" "dump"
is "a verb's flags come from --help" "$(comp 'statefs dump --p')" "--plain"
is "-c completes a file name" "$(comp "statefs dump -c $T/statefs.co")" "$T/statefs.conf"
is "dump completes the config's databases" \
	"$(comp 'statefs dump -c contrib/statefs.conf.example ')" "clemence_db solidarlink_db"
is "-o completes mount options" "$(comp 'statefs -o allow_other,quie')" "allow_other,quiet_ms="
is "the mount form completes CONFIG, then MOUNTPOINT" \
	"$(comp "statefs -f $T/statefs.conf $T/srv-s")" "$T/srv-state"

# --- fstab -----------------------------------------------------------------------------------

line=$(grep -v '^#' contrib/fstab.example | grep ' fuse.statefs ')
is "contrib/fstab.example has one fstab line" "$(wc -l <<<"$line")" 1

# systemd's view: the generator makes srv-state.mount; starting the boot's multi-user.target
# with it must not meet an ordering cycle (without nofail it would, when mariadb.service exists).
gen() {	# gen DIR LINE: run systemd-fstab-generator on an fstab of LINE, into DIR
	mkdir -p "$1"
	printf '%s\n' "$2" >"$1.fstab"
	SYSTEMD_FSTAB=$1.fstab /lib/systemd/system-generators/systemd-fstab-generator "$1" "$1" "$1"
}
gen "$T/gen" "$line"
ok "systemd-fstab-generator makes srv-state.mount" test -f "$T/gen/srv-state.mount"
ok "it is ordered after the database server" grep -q '^After=mariadb.service' \
	"$T/gen/srv-state.mount"
(cd "$T/gen" && systemd-analyze verify --man=no ./srv-state.mount multi-user.target) \
	>"$T/gen.out" 2>&1
fails "the boot has no ordering cycle through it" grep -q 'srv-state.mount/start' "$T/gen.out"
if [ -e /lib/systemd/system/mariadb.service ]; then
	gen "$T/gen2" "${line/nofail,/}"
	ok "(without nofail, the same line makes a cycle)" bash -c "cd '$T/gen2' &&
		systemd-analyze verify --man=no ./srv-state.mount multi-user.target 2>&1 |
		grep -q 'srv-state.mount/start'"
fi

# mount(8)'s view: `mount -a -T` on the line, with the paths moved under $T. mount.fuse3 runs
# statefs through /bin/sh with its default PATH, so the DESTDIR binary must be found in
# /usr/local/bin: bind it there, in a mount namespace of the test's own. Everything mounted
# there is unmounted there; the daemon's pid is found as the one process in that namespace.
sed -e "s|/etc/statefs/statefs.conf|$T/statefs.conf|" -e "s|/srv/state|$T/mnt|" <<<"$line" \
	>"$T/fstab"
cat >"$T/ns.sh" <<'EOF'
T=$1 R=$2
trap 'umount -l "$T/mnt" 2>/dev/null' EXIT
mount --bind "$R/usr/local/bin" /usr/local/bin || exit 1
mount -a -T "$T/fstab" 2>"$T/ns.mount.err"
echo $? >"$T/ns.mount.rc"
mountpoint -q "$T/mnt" && echo yes >"$T/ns.mountpoint"
grep " $T/mnt " /proc/mounts >"$T/ns.procmounts"
cat "$T/mnt/nginx/nginx.conf" >"$T/ns.read"
# the processes of this namespace but this shell and the scanner: the daemon
python3 -c 'import os
me = os.readlink("/proc/self/ns/mnt")
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.readlink("/proc/%s/ns/mnt" % p) == me and int(p) not in (os.getpid(), os.getppid()):
            print(p)
    except OSError:
        pass' >"$T/ns.pid"
tr '\0' ' ' <"/proc/$(head -n 1 "$T/ns.pid")/cmdline" >"$T/ns.cmdline"
umount "$T/mnt"
echo $? >"$T/ns.umount.rc"
pid=$(head -n 1 "$T/ns.pid")
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }
for ((i = 0; i < 100; i++)); do dead "$pid" && break; sleep 0.1; done
grep -q " $T/mnt " /proc/mounts || ! dead "$pid" || echo yes >"$T/ns.gone"
EOF
rm -rf "$T/mnt" "$T/state"
unshare --mount --propagation private bash "$T/ns.sh" "$T" "$R"
for p in $(cat "$T/ns.pid" 2>/dev/null); do cleanup_add "kill_pid $p"; done
is "mount -a -T mounts the fstab line" "$(cat "$T/ns.mount.rc") $(cat "$T/ns.mount.err")" "0 "
ok "X-mount.mkdir made the mount point" test -d "$T/mnt"
is "it is a mount point" "$(cat "$T/ns.mountpoint" 2>/dev/null)" yes
ok "mounted as fuse.statefs, nosuid, nodev, allow_other" grep -q \
	"^$T/statefs.conf $T/mnt fuse.statefs rw,nosuid,nodev,.*allow_other" "$T/ns.procmounts"
is "a file reads through it" "$(cat "$T/ns.read")" 'worker_processes 1;'
is "one daemon, in the background" "$(wc -l <"$T/ns.pid")" 1
is "statefs got CONFIG MOUNTPOINT -o OPTIONS, without nofail, x-systemd.*, X-mount.*" \
	"$(cat "$T/ns.cmdline")" "statefs $T/statefs.conf $T/mnt -o rw,nosuid,nodev,allow_other "
is "umount works" "$(cat "$T/ns.umount.rc")" 0
is "after umount the daemon exits and the mount is gone" "$(cat "$T/ns.gone" 2>/dev/null)" yes
