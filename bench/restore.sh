#!/bin/bash
# bench/restore.sh - restore wall time of `statefs restore` against `zstdcat dump | mariadb`, each
# into a fresh database of the same private server, on a generated WordPress-like dump.
#
#   SIZE_MB=100 RUNS=3 JOBS=3 bench/restore.sh        (root; not a test: it prints figures)
#
# SIZE_MB is the size of the dump's SQL (default 100); the database is made by the server itself
# (INSERT .. SELECT from the sequence engine: posts with their meta, comments, options, terms;
# secondary indexes as WordPress has them), then dumped with `statefs dump`. Each run restores
# the same .sql.zst both ways, alternating, into a database created empty just before; the
# figures are the best and the median of RUNS, and the ratio of the medians. It also checks that
# both ways give the same CHECKSUM TABLE, and prints statefs's peak RSS. The private MariaDB
# (tests/lib/mariadb.sh) runs with a 128 MiB buffer pool, as a small VPS would. The machine's
# load average is printed: other work on it shows in the figures (STATEFS= to use a copy of
# the binary that a concurrent build will not replace).
set -e
cd "$(dirname "$0")/.."
TOP=$PWD
SIZE_MB=${SIZE_MB:-100}
RUNS=${RUNS:-3}
JOBS=${JOBS:-}
STATEFS=${STATEFS:-$TOP/statefs}
. "$TOP/tests/lib/mariadb.sh"

[ -x "$STATEFS" ] || { echo "bench/restore.sh: build statefs first (make statefs)" >&2; exit 2; }
W=$(mktemp -d /tmp/statefs-bench-restore.XXXXXX)
trap 'mariadb_stop "$W/m"; rm -rf "$W"' EXIT
mariadb_start "$W/m" >/dev/null
sql() { mariadb_sql -N -B "$@"; }
client() { mariadb --defaults-file="$MARIADB_CNF" "$@"; }
{
	printf '[state]\n\tdir = %s/state\n' "$W"
	for db in wp fresh; do
		printf '[database "%s"]\n\tsocket = %s\n\toption-file = %s\n' "$db" \
			"$MARIADB_SOCK" "$MARIADB_CNF"
	done
} >"$W/conf"

posts=$((SIZE_MB * 218)) # about 4.6 KB of SQL per post with its meta and comments
echo "generating a WordPress-like database: $posts posts ..."
sql -e "CREATE DATABASE wp CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
client wp <<EOF
CREATE TABLE wp_posts (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL, post_title text NOT NULL, post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open', post_name varchar(200) NOT NULL DEFAULT '',
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_parent bigint(20) unsigned NOT NULL DEFAULT 0, guid varchar(255) NOT NULL DEFAULT '',
  post_type varchar(20) NOT NULL DEFAULT 'post', comment_count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID), KEY post_name (post_name(191)),
  KEY type_status_date (post_type,post_status,post_date,ID), KEY post_parent (post_parent),
  KEY post_author (post_author));
CREATE TABLE wp_postmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0, meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (meta_id), KEY post_id (post_id), KEY meta_key (meta_key(191)));
CREATE TABLE wp_comments (
  comment_ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_post_ID bigint(20) unsigned NOT NULL DEFAULT 0, comment_author tinytext NOT NULL,
  comment_author_email varchar(100) NOT NULL DEFAULT '',
  comment_author_IP varchar(100) NOT NULL DEFAULT '',
  comment_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00', comment_content text NOT NULL,
  comment_approved varchar(20) NOT NULL DEFAULT '1', comment_agent varchar(255) NOT NULL DEFAULT '',
  comment_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (comment_ID), KEY comment_post_ID (comment_post_ID),
  KEY comment_approved_date (comment_approved,comment_date), KEY comment_parent (comment_parent),
  KEY comment_author_email (comment_author_email(10)));
CREATE TABLE wp_options (
  option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '', option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id), UNIQUE KEY option_name (option_name), KEY autoload (autoload));
CREATE TABLE wp_term_relationships (
  object_id bigint(20) unsigned NOT NULL DEFAULT 0,
  term_taxonomy_id bigint(20) unsigned NOT NULL DEFAULT 0, term_order int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (object_id,term_taxonomy_id), KEY term_taxonomy_id (term_taxonomy_id));
SET @n = $posts;
INSERT INTO wp_posts SELECT seq, 1 + seq % 7, '2020-01-01' + INTERVAL seq MINUTE,
  '2020-01-01' + INTERVAL seq MINUTE,
  CONCAT('<p>', REPEAT(CONCAT('Lorem ipsum dolor sit amet ', SHA2(seq, 256),
    ' consectetur adipiscing elit. '), 2 + seq % 40), '</p>'),
  CONCAT('Post number ', seq), CONCAT('Excerpt ', MD5(seq)), IF(seq % 10 = 0, 'draft', 'publish'),
  'open', CONCAT('post-', seq, '-', LEFT(MD5(seq), 8)), '2021-01-01' + INTERVAL seq MINUTE,
  IF(seq % 5 = 0, seq - 1, 0), CONCAT('https://example.org/?p=', seq),
  ELT(1 + seq % 3, 'post', 'page', 'attachment'), seq % 4
  FROM seq_1_to_100000000 WHERE seq <= @n;
INSERT INTO wp_postmeta (post_id, meta_key, meta_value)
  SELECT p.seq, ELT(m.seq, '_edit_lock', '_edit_last', '_thumbnail_id', '_wp_page_template',
    '_yoast_wpseo_title', '_yoast_wpseo_metadesc', '_wp_attached_file', '_wp_attachment_metadata'),
    IF(m.seq = 8, CONCAT('a:5:{s:5:"width";i:', p.seq % 2000, ';s:6:"height";i:', p.seq % 1500,
      ';s:4:"file";s:30:"2020/01/', MD5(p.seq), '.jpg";s:5:"sizes";a:0:{}}'),
      CONCAT(p.seq * m.seq, ':', LEFT(SHA2(p.seq * 31 + m.seq, 256), 20 + m.seq * 5)))
  FROM seq_1_to_100000000 p, seq_1_to_8 m WHERE p.seq <= @n ORDER BY p.seq, m.seq;
INSERT INTO wp_comments (comment_post_ID, comment_author, comment_author_email, comment_author_IP,
    comment_date, comment_content, comment_approved, comment_agent, comment_parent)
  SELECT p.seq, CONCAT('Visitor ', p.seq % 977), CONCAT('v', p.seq % 977, '@example.com'),
    CONCAT('10.0.', p.seq % 256, '.', c.seq), '2020-06-01' + INTERVAL (p.seq * 3 + c.seq) MINUTE,
    REPEAT(CONCAT('Great post! ', MD5(p.seq + c.seq), ' '), 1 + (p.seq + c.seq) % 6),
    IF((p.seq + c.seq) % 13 = 0, 'spam', '1'),
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 0
  FROM seq_1_to_100000000 p, seq_1_to_3 c WHERE p.seq <= @n ORDER BY p.seq, c.seq;
INSERT INTO wp_options (option_name, option_value, autoload)
  SELECT CONCAT('option_', seq), REPEAT(MD5(seq), 1 + seq % 20), IF(seq % 3 = 0, 'no', 'yes')
  FROM seq_1_to_100000000 WHERE seq <= GREATEST(@n / 20, 100);
INSERT INTO wp_term_relationships SELECT p.seq, t.seq, 0
  FROM seq_1_to_100000000 p, seq_1_to_4 t WHERE p.seq <= @n;
EOF
"$STATEFS" dump -c "$W/conf" wp >"$W/dump.sql.zst"
sqlmb=$(zstdcat "$W/dump.sql.zst" | wc -c | awk '{printf "%.0f", $1 / 1048576}')
zmb=$(stat -c %s "$W/dump.sql.zst" | awk '{printf "%.1f", $1 / 1048576}')
echo "dump: $sqlmb MiB of SQL, $zmb MiB compressed; $(nproc) CPUs, load average" \
	"$(cut -d' ' -f1 /proc/loadavg); server $(sql -e 'SELECT VERSION()')"

fresh() { sql -e "DROP DATABASE IF EXISTS fresh; CREATE DATABASE fresh CHARACTER SET utf8mb4 \
	COLLATE utf8mb4_unicode_520_ci"; sync; }
now() { date +%s.%N; }
stock=() ours=() rss=()
for ((i = 1; i <= RUNS; i++)); do
	fresh
	t0=$(now)
	zstdcat "$W/dump.sql.zst" | client fresh
	t1=$(now)
	stock+=("$(echo "$t1 - $t0" | bc)")
	[ "$i" = 1 ] && sql fresh -e "CHECKSUM TABLE wp_posts, wp_postmeta, wp_comments, wp_options,
		wp_term_relationships EXTENDED" | cut -f2 >"$W/sum.stock"
	fresh
	t0=$(now)
	/usr/bin/time -f %M -o "$W/rss" "$STATEFS" restore -c "$W/conf" --no-snapshot \
		${JOBS:+--jobs $JOBS} "$W/dump.sql.zst" db/fresh >"$W/out"
	t1=$(now)
	ours+=("$(echo "$t1 - $t0" | bc)")
	rss+=("$(cat "$W/rss")")
	[ "$i" = 1 ] && sql fresh -e "CHECKSUM TABLE wp_posts, wp_postmeta, wp_comments, wp_options,
		wp_term_relationships EXTENDED" | cut -f2 >"$W/sum.ours"
	printf 'run %d: zstdcat | mariadb %6.2f s    statefs restore %6.2f s\n' "$i" \
		"${stock[-1]}" "${ours[-1]}"
done
stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%.2f %.2f", v[1],
	(NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
read -r sbest smed <<<"$(stats "${stock[@]}")"
read -r obest omed <<<"$(stats "${ours[@]}")"
echo
echo "restore of $sqlmb MiB of SQL ($zmb MiB zstd), best and median of $RUNS runs, into a" \
	"fresh database:"
printf '  zstdcat dump.sql.zst | mariadb    %6.2f s  %6.2f s\n' "$sbest" "$smed"
printf '  statefs restore (%s connections)   %6.2f s  %6.2f s   peak RSS %d MiB\n' \
	"$(sed -n 's/.* on \([0-9]*\) connections.*/\1/p' "$W/out")" "$obest" "$omed" \
	"$(printf '%s\n' "${rss[@]}" | sort -n | tail -1 | awk '{print int($1 / 1024)}')"
printf '  speed-up (medians)                 %6.2fx\n' "$(echo "$smed / $omed" | bc -l)"
if cmp -s "$W/sum.stock" "$W/sum.ours"; then
	echo "  the same CHECKSUM TABLE both ways"
else
	echo "  CHECKSUM TABLE DIFFERS between the two ways"
	exit 1
fi
