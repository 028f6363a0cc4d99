# lib-live.sh - a small VPS-like tree (nginx, compose stacks, .env files) and a mount of it.
TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$TOP/tests/lib.sh"

# setup_live [extra mount options]: backing tree in $R, config $T/statefs.conf, mount at $M,
# repository $GITDIR.
setup_live() {
	R=$T/root
	M=$T/mnt
	STATE=$T/state
	GITDIR=$STATE/config.git
	mkdir -p "$R/etc/nginx/sites-available" "$R/etc/nginx/sites-enabled" \
		"$R/opt/whisperx" "$R/opt/blog" "$R/opt/empty"
	printf 'user www-data;\nworker_processes auto;\n' >"$R/etc/nginx/nginx.conf"
	printf 'server {\n  server_name clemence.example;\n  root /var/www/old;\n}\n' \
		>"$R/etc/nginx/sites-available/clemence.conf"
	ln -s ../sites-available/clemence.conf "$R/etc/nginx/sites-enabled/clemence.conf"
	printf 'services:\n  app:\n    image: whisperx:1\n' >"$R/opt/whisperx/docker-compose.yml"
	printf 'services:\n  wp:\n    image: wordpress:6\n' >"$R/opt/blog/docker-compose.yml"
	printf 'API_KEY=s3cret\n' >"$R/opt/whisperx/.env"
	chmod 0600 "$R/opt/whisperx/.env"
	cat >"$T/statefs.conf" <<CONF
[state]
	dir = $STATE
[mount "nginx"]
	kind = tree
	source = $R/etc/nginx
[mount "compose"]
	kind = files
	source = $R/opt/*/docker-compose.yml
[mount "env"]
	kind = files
	source = $R/opt/*/.env
CONF
	mount_statefs "$T/statefs.conf" "$M" -o allow_other "$@"
}

g() { git --git-dir="$GITDIR" "$@"; }
commits() { g rev-list --count HEAD 2>/dev/null || echo 0; }
count_is() { [ "$(commits)" = "$1" ]; }

# expect_commits DESC N: the history reaches N commits and stays there for a while.
expect_commits() {
	local desc=$1 n=$2
	wait_for "$desc" 10 count_is "$n"
	sleep 0.6	# three quiet windows: a second commit for the same save would show by now
	is "$desc: exactly one commit per save" "$(commits)" "$n"
}

subject() { g log -1 --format=%s "${1:-HEAD}"; }
body() { g log -1 --format=%B "${1:-HEAD}"; }
