#!/bin/bash
# contrib/demo.sh - statefs on a self-contained demo: a small VPS-like tree (nginx vhosts,
# docker-compose stacks, .env files, WordPress uploads) and a private MariaDB holding a small
# WordPress-like database, under a new temporary directory; a first snapshot; the mount; what
# to try. Nothing outside that directory is touched (the MariaDB is private: its own datadir,
# socket and pid file). Run as root (make demo); $D/stop.sh ends it.
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
head -c 200000 /dev/urandom >"$R/uploads/clemence/2025/10/big-photo.jpg"

# A private MariaDB with a small WordPress-like database (stopped by its pid in stop.sh).
. "$TOP/tests/lib/mariadb.sh"
mariadb_start "$D/mariadb" >/dev/null
mariadb_sql -e "CREATE DATABASE clemence_db"
mariadb --defaults-file="$MARIADB_CNF" clemence_db <<'SQL'
CREATE TABLE wp_posts (ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, post_title TEXT,
	post_content LONGTEXT, post_status VARCHAR(20), post_date DATETIME, KEY (post_status));
CREATE TABLE wp_comments (comment_ID BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	comment_post_ID BIGINT UNSIGNED, comment_author TINYTEXT, comment_content TEXT,
	comment_approved VARCHAR(20), KEY (comment_post_ID));
CREATE TABLE wp_options (option_id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	option_name VARCHAR(191) UNIQUE, option_value LONGTEXT, autoload VARCHAR(20));
INSERT INTO wp_posts (post_title, post_content, post_status, post_date)
	SELECT CONCAT('Post ', seq), REPEAT(CONCAT('Words of post ', seq, '. '), 40), 'publish',
		'2025-10-01' + INTERVAL seq HOUR FROM seq_1_to_2000;
INSERT INTO wp_comments (comment_post_ID, comment_author, comment_content, comment_approved)
	SELECT 1 + seq % 2000, CONCAT('reader', seq % 97), CONCAT('Comment ', seq), '1'
	FROM seq_1_to_10000;
INSERT INTO wp_options (option_name, option_value, autoload) VALUES
	('siteurl', 'https://clemence.example', 'yes'), ('blogname', 'Clemence', 'yes');
SQL

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
[database "clemence_db"]
	socket = $MARIADB_SOCK
	option-file = $MARIADB_CNF
[snapshot]
	keep-daily = 7
	keep-weekly = 4
	keep-monthly = 12
CONF
cat >"$D/stop.sh" <<STOP
#!/bin/bash
# Ends the demo: unmount, stop the private MariaDB by its pid, remove everything.
fusermount3 -u "$D/mnt" 2>/dev/null || fusermount3 -uz "$D/mnt" 2>/dev/null
. "$TOP/tests/lib/mariadb.sh"
mariadb_stop "$D/mariadb"
rm -rf "$D"
STOP
chmod +x "$D/stop.sh"

"$STATEFS" snapshot -c "$D/statefs.conf" --quiet

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

  ls $D/mnt/backups/ $D/mnt/backups/latest/            # every snapshot, same shape as the tree
  zstdcat $D/mnt/backups/latest/db/clemence_db.sql.zst | head -30
  cp $D/mnt/db/clemence_db.sql.zst /tmp/now.sql.zst     # a fresh dump, on demand
  mariadb --defaults-file=$MARIADB_CNF clemence_db -e 'DELETE FROM wp_comments'
  cp $D/mnt/backups/latest/db/clemence_db.sql.zst $D/mnt/db/   # restore: atomic, undoable
  $STATEFS snapshot -c $D/statefs.conf              # another snapshot (dedup: few new bytes)
  $STATEFS check -c $D/statefs.conf --read-data

Stop it with:  $D/stop.sh
EOF2
