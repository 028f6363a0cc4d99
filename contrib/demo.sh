#!/bin/bash
# contrib/demo.sh - statefs on a self-contained demo: a small VPS-like tree (nginx vhosts,
# docker-compose stacks, .env files) under a new temporary directory, mounted, with what to try.
# Nothing outside that directory is touched. Run as root (make demo).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
STATEFS=${STATEFS:-$TOP/statefs}
D=$(mktemp -d /tmp/statefs-demo.XXXXXX)
chmod 0755 "$D"
R=$D/server

mkdir -p "$R/etc/nginx/sites-available" "$R/etc/nginx/sites-enabled" "$R/etc/nginx/snippets"
cat >"$R/etc/nginx/nginx.conf" <<'CONF'
user www-data;
worker_processes auto;
events { worker_connections 768; }
http {
	include /etc/nginx/sites-enabled/*;
}
CONF
for site in clemence solidarlink; do
	cat >"$R/etc/nginx/sites-available/$site.conf" <<CONF
server {
	listen 80;
	server_name $site.example;
	root /var/www/$site;
	include snippets/wordpress.conf;
}
CONF
	ln -s "../sites-available/$site.conf" "$R/etc/nginx/sites-enabled/$site.conf"
done
printf 'location / { try_files $uri $uri/ /index.php?$args; }\n' >"$R/etc/nginx/snippets/wordpress.conf"
for stack in whisperx wordpress-clemence; do
	mkdir -p "$R/opt/$stack"
	printf 'services:\n  app:\n    image: %s:latest\n    env_file: .env\n    restart: unless-stopped\n' \
		"$stack" >"$R/opt/$stack/docker-compose.yml"
	printf 'DB_PASSWORD=%s\nAPI_KEY=demo-%s\n' "$(head -c 9 /dev/urandom | base64)" "$stack" \
		>"$R/opt/$stack/.env"
	chmod 0600 "$R/opt/$stack/.env"
done
mkdir -p "$R/uploads/clemence/2025/10"
printf 'GIF89a demo image\n' >"$R/uploads/clemence/2025/10/photo.gif"

cat >"$D/statefs.conf" <<CONF
# The demo's statefs.conf(5): the same shape as /etc/statefs/statefs.conf on a real server.
[state]
	dir = $D/state
[mount "nginx"]
	kind = tree
	source = $R/etc/nginx
[mount "compose"]
	kind = files
	source = $R/opt/*/docker-compose.yml
[mount "env"]
	kind = files
	source = $R/opt/*/.env
[mount "uploads"]
	kind = plain
	source = clemence:$R/uploads/clemence
CONF

mkdir -p "$D/mnt"
"$STATEFS" -o allow_other "$D/statefs.conf" "$D/mnt"
G="git --git-dir=$D/state/config.git"

cat <<EOF2

statefs demo: mounted at $D/mnt (backing files in $D/server, state in $D/state).

  ls -la $D/mnt $D/mnt/*
  vim $D/mnt/nginx/sites-available/clemence.conf        # save: one commit
  sed -i s/latest/1.2/ $D/mnt/compose/whisperx/docker-compose.yml
  echo 'NEW=1' >> $D/mnt/env/whisperx/.env              # stays 0600
  echo '# certbot' >> $R/etc/nginx/nginx.conf   # outside the mount: an external commit
  $G log --stat
  $G log -1 --format=%B                              # who, with which program
  $G show HEAD:.statefs-meta                         # modes and owners of every path

Stop it with:  fusermount3 -u $D/mnt && rm -rf $D
EOF2
