# tests/lib/mariadb.sh - a private MariaDB server for one test, started and stopped by pid.
#
# Source it, then:
#   mariadb_start DIR   create DIR/data, start mariadbd on DIR/sock and 127.0.0.1:$MARIADB_PORT,
#                       wait until it answers; exports MARIADB_SOCK, MARIADB_PORT, MARIADB_PID and
#                       MARIADB_CNF (DIR/client.cnf, mode 0600: [client] user=root, socket=...)
#   mariadb_stop DIR    SIGTERM the server by the pid it recorded, wait for it (30 s), then SIGKILL
#   mariadb_sql SQL...  run SQL through the stock client as root on the private server
#
# The system MariaDB service is never touched: every file lives under DIR, and the server runs
# with --no-defaults so no /etc/mysql file applies. Works as root on a stock Debian 12.

# _mariadb_port_free PORT: nothing listens on 127.0.0.1:PORT (nor on the wildcard address).
_mariadb_port_free() {
	local hex
	hex=$(printf ':%04X ' "$1")
	! grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# _mariadb_pick_port: print a port in 40000-48999 that is not in use (random start).
_mariadb_pick_port() {
	local i p
	for ((i = 0; i < 200; i++)); do
		p=$((40000 + (RANDOM * 32768 + RANDOM) % 9000))
		if _mariadb_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# _mariadb_pid_is_ours PID: PID is alive and is a mariadbd (guards against pid reuse).
_mariadb_pid_is_ours() {
	[ -n "$1" ] && [ -r "/proc/$1/comm" ] || return 1
	local comm state
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[ "$state" != Z ] && { [ "$comm" = mariadbd ] || [ "$comm" = mysqld ]; }
}

# _mariadb_launch DIR PORT: start the server detached (reparented away from this shell, so it
# never lingers as a zombie child); its pid goes to DIR/started.pid.
_mariadb_launch() {
	local dir=$1 port=$2
	(
		mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" \
			--pid-file="$dir/pid" --port="$port" --bind-address=127.0.0.1 \
			--user=root --log-error="$dir/err.log" --tmpdir="$dir/tmp" \
			--innodb-buffer-pool-size=128M --innodb-log-file-size=16M \
			--innodb-flush-log-at-trx-commit=2 \
			--max-allowed-packet=64M --skip-log-bin --event-scheduler=OFF \
			</dev/null >>"$dir/err.log" 2>&1 &
		echo $! >"$dir/started.pid"
	)
}

mariadb_start() {
	local dir=$1 port i pid try
	[ -n "$dir" ] || { echo "mariadb_start: no directory" >&2; return 2; }
	mkdir -p "$dir/data" "$dir/tmp" || return 1
	dir=$(cd "$dir" && pwd)
	if [ ${#dir} -gt 90 ]; then	# a unix socket path holds at most 107 bytes
		echo "mariadb_start: $dir is too long for a socket path" >&2
		return 1
	fi
	if _mariadb_pid_is_ours "$(cat "$dir/pid" 2>/dev/null)" ||
		mariadb-admin --no-defaults -S "$dir/sock" -uroot --connect-timeout=2 ping \
			>/dev/null 2>&1; then
		echo "mariadb_start: a server already runs on $dir" >&2
		return 1
	fi
	if [ ! -d "$dir/data/mysql" ]; then
		mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$dir/install.log" 2>&1 || {
			echo "mariadb_start: mariadb-install-db failed:" >&2
			tail -n 20 "$dir/install.log" >&2
			return 1
		}
	fi
	for try in 1 2 3; do	# a port picked free may be taken before we bind it: retry
		port=$(_mariadb_pick_port) || { echo "mariadb_start: no free port" >&2; return 1; }
		rm -f "$dir/pid" "$dir/started.pid"
		_mariadb_launch "$dir" "$port"
		pid=$(cat "$dir/started.pid" 2>/dev/null)
		for ((i = 0; i < 300; i++)); do	# 30 s
			# Ready: ours is alive and the server on the socket listens on our port.
			if _mariadb_pid_is_ours "$pid" &&
				mariadb-admin --no-defaults -S "$dir/sock" -uroot --connect-timeout=2 \
				ping >/dev/null 2>&1 &&
				[ "$(mariadb --no-defaults -S "$dir/sock" -uroot -N -B \
					-e 'SELECT @@port' 2>/dev/null)" = "$port" ]; then
				MARIADB_SOCK=$dir/sock
				MARIADB_PORT=$port
				MARIADB_PID=$pid
				MARIADB_DIR=$dir
				export MARIADB_SOCK MARIADB_PORT MARIADB_PID MARIADB_DIR
				(umask 077 && printf '[client]\nuser=root\nsocket=%s\n' "$dir/sock" \
					>"$dir/client.cnf") || return 1
				chmod 0600 "$dir/client.cnf"
				MARIADB_CNF=$dir/client.cnf
				export MARIADB_CNF
				return 0
			fi
			_mariadb_pid_is_ours "$pid" || break
			sleep 0.1
		done
		if _mariadb_pid_is_ours "$pid"; then	# alive but not answering: give up on it
			mariadb_stop "$dir"
			break
		fi
		grep -q 'Address already in use\|Do you already have another' "$dir/err.log" ||
			break
	done
	echo "mariadb_start: mariadbd did not become ready; $dir/err.log:" >&2
	tail -n 30 "$dir/err.log" >&2
	return 1
}

mariadb_stop() {
	local dir=${1:-$MARIADB_DIR} pid i
	pid=$(cat "$dir/pid" 2>/dev/null)
	_mariadb_pid_is_ours "$pid" || pid=$(cat "$dir/started.pid" 2>/dev/null)
	_mariadb_pid_is_ours "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do	# 30 s
		_mariadb_pid_is_ours "$pid" || return 0
		sleep 0.1
	done
	echo "mariadb_stop: mariadbd $pid ignored SIGTERM for 30 s; sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_mariadb_pid_is_ours "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# mariadb_sql [mariadb client args...]: the stock client as root on the private server.
mariadb_sql() {
	mariadb --no-defaults -S "$MARIADB_SOCK" -uroot "$@"
}
