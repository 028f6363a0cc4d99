# tests/lib.sh - shared helpers for the mount tests, in the spirit of git's t/test-lib.sh.
#
# Source it, call test_init, then make assertions with `ok`, `is`. Every mount made through
# mount_statefs is unmounted at exit (fusermount3 -u, lazily if that fails) and every process
# started through spawn/mount_statefs is stopped by its pid. The daemon's log is scanned for
# sanitizer reports and crashes at unmount.
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
STATEFS=${STATEFS:-$TOP/build/statefs-asan}
_n=0
_cleanups=()

test_init() {
	T=$(mktemp -d /tmp/statefs-test.XXXXXX)
	chmod 0755 "$T"
	trap _test_exit EXIT
	trap 'exit 130' INT TERM
}

cleanup_add() { _cleanups+=("$*"); }

_test_exit() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[$i]}" >/dev/null 2>&1
	done
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
}

# ok DESCRIPTION COMMAND...: run COMMAND; one TAP line.
ok() {
	local desc=$1; shift
	_n=$((_n + 1))
	if "$@"; then
		echo "ok $_n - $desc"
	else
		echo "not ok $_n - $desc (command: $*)"
		return 1
	fi
}

# is DESCRIPTION ACTUAL EXPECTED
is() {
	_n=$((_n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $_n - $1"
	else
		echo "not ok $_n - $1"
		echo "#   got:      '$2'"
		echo "#   expected: '$3'"
		return 1
	fi
}

# fails DESCRIPTION COMMAND...: COMMAND must fail.
fails() {
	local desc=$1; shift
	_n=$((_n + 1))
	if "$@"; then
		echo "not ok $_n - $desc (command succeeded: $*)"
		return 1
	fi
	echo "ok $_n - $desc"
}

# spawn VAR COMMAND...: start COMMAND in the background, record its pid in VAR, stop it at exit.
spawn() {
	local var=$1; shift
	"$@" &
	local pid=$!
	printf -v "$var" '%s' "$pid"
	cleanup_add "kill_pid $pid"
}

kill_pid() {	# stop by pid: TERM, wait up to 10 s, then KILL
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# mount_statefs CONFIG MOUNTPOINT [extra args]: mount in the foreground (in the background of
# this shell), wait for the daemon's readiness notification, set DAEMON_PID. Log: $T/daemon.log.
mount_statefs() {
	local conf=$1 mnt=$2; shift 2
	mkdir -p "$mnt"
	DAEMON_LOG=${DAEMON_LOG:-$T/daemon.log}
	DAEMON_PID=$(python3 "$TOP/tests/lib/readywait.py" "$T/notify.sock" "$DAEMON_LOG" -- \
		"$STATEFS" -f "$@" "$conf" "$mnt") || {
		echo "# statefs did not become ready; log:"; sed 's/^/#   /' "$DAEMON_LOG"
		return 1
	}
	cleanup_add "unmount_statefs '$mnt' $DAEMON_PID"
}

# unmount_statefs MOUNTPOINT PID: unmount (lazily if busy) and wait for the daemon to exit.
unmount_statefs() {
	local mnt=$1 pid=$2 i
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill_pid "$pid"
	return 0
}

# daemon_log_clean: the daemon's log has no sanitizer report, crash or error.
daemon_log_clean() {
	! grep -Ei 'AddressSanitizer|runtime error|LeakSanitizer|segfault|assert|\berror\b' \
		"${1:-$DAEMON_LOG}"
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: poll COMMAND (for asynchronous effects such as
# a commit made by the committer thread) until it succeeds or the timeout passes.
wait_for() {
	local t=$2 i; shift 2
	for ((i = 0; i < t * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
