#!/usr/bin/env python3
"""bench/snapshot.py - the snapshot benchmark (issue 3), each figure against the alternative.

On a private MariaDB (started here, stopped by its pid) it generates a WordPress-like database
of SIZE_MB of SQL (wp_posts with long Gutenberg post_content, revisions and attachments,
wp_postmeta, wp_comments, wp_commentmeta, wp_options with autoload blobs, wp_users,
wp_usermeta, wp_terms, wp_term_taxonomy, wp_term_relationships; text made of words from a fixed
vocabulary with a seeded RNG, so it compresses like real posts), then measures:

  dump:    day 1's wall time of `statefs snapshot` (a config with only that [database], the
           state directory in the bench directory) against
           `mariadb-dump --single-transaction --quick wp | zstd -3 -T0 > day01.sql.zst`:
           after one untimed mariadb-dump that warms the server, REPS runs of each,
           alternately, and their medians (the first statefs run is day 1 of the storage
           series, the others go to a scratch state directory); and statefs's peak RSS
           (/usr/bin/time -f %M). The server has a 1 GiB buffer pool, so the database is in
           memory and the dumpers, not the disk, are measured.
  storage: DAYS days (default 30): each day about 1% of the rows change, scattered over the
           tables (comments approved, new and deleted as spam, post edits that change a few
           words of a long post_content and save a revision, postmeta and options rewritten,
           user sessions, new posts with their meta and terms), seeded and deterministic; then
           one `statefs snapshot`, one `mariadb-dump | zstd -3` file and one
           `restic backup --stdin` of that day's plain dump. Printed: STATE/store (apparent
           size; du's figure too) against one day's .sql.zst (the mean of the daily files: the
           database grows a little), the sum of the daily .sql.zst files and the restic
           repository.

Until `statefs snapshot` exists (it is looked for in `statefs --help`), the dump is timed with
`statefs dump -c CONF wp > /dev/null` and the storage figures for statefs are skipped.

Usage: bench/snapshot.py            (run as root: the private server runs as root)
Environment: STATEFS (binary), SIZE_MB (default 500), DAYS (default 30), SEED (default 1),
REPS (day-1 timings, alternately, median; default 3),
BENCH_DIR (default /var/tmp; everything goes in a temporary directory there, removed at the end).
Needs mariadb-server, mariadb-client, zstd, restic and time (/usr/bin/time). Progress on stderr.
"""
import collections, hashlib, math, os, random, shutil, signal, subprocess, sys
import statistics, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATEFS = os.environ.get("STATEFS", os.path.join(TOP, "statefs"))
SIZE_MB = float(os.environ.get("SIZE_MB", "500"))
DAYS = int(os.environ.get("DAYS", "30"))
SEED = int(os.environ.get("SEED", "1"))
REPS = int(os.environ.get("REPS", "3"))
DB = "wp"
T0 = time.time()

# The simulated "day 1" (2024-06-01 03:00 UTC) and the span the generated history covers.
DAY1 = 1717210800
HISTORY_START = 1420070400  # 2015-01-01


def log(msg):
    t = time.time() - T0
    print(f"[{int(t // 60):3d}:{t % 60:04.1f}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    """Run CMD in bash with pipefail; raise with its stderr if it fails."""
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], stderr=subprocess.PIPE, text=True,
                       **kw)
    if r.returncode:
        raise SystemExit(f"bench: `{cmd}` failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


# --- text -----------------------------------------------------------------------------------

FUNCTION_WORDS = (
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "can no more out up what about who into them some than its only other new then these two "
    "may first also any could time like my now over such our me just very even most after "
    "well where through much before here how many those because while should each your way "
    "both between under never being same last another long great little own still around "
    "without again might every since few").split()
ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v",
          "w", "br", "cr", "dr", "fr", "gr", "pr", "tr", "bl", "cl", "fl", "gl", "pl", "sl", "st",
          "sp", "sc", "ch", "sh", "th", "wh"]
NUCLEI = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ea", "ou", "ai", "io", "ee", "oo", "y"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "x", "rt", "ll",
         "nt", "ss", "ble", "tion", "ment", "ing", "ed", "er", "ly"]
UNICODE_WORDS = ["café", "naïve", "façade", "über", "señor", "résumé", "jalapeño", "smörgåsbord",
                 "crème", "brûlée", "piñata", "déjà", "coöperate", "Zürich", "São"]


def vocabulary():
    """A fixed list of about 6,000 words, most frequent first (the same on every run)."""
    rng = random.Random(20240601)
    words, seen = list(FUNCTION_WORDS), set(FUNCTION_WORDS)
    while len(words) < 6000:
        w = "".join(rng.choice(ONSETS) + rng.choice(NUCLEI) for _ in range(rng.choice(
            (1, 1, 2, 2, 2, 3, 3, 4)))) + rng.choice(CODAS)
        if len(w) > 1 and w not in seen:
            seen.add(w)
            words.append(w)
    for i, w in enumerate(UNICODE_WORDS):
        words.insert(400 + 97 * i, w)
    return words


class Text:
    """Words drawn by Zipf's law from the vocabulary, fast: two random bytes index a table of
    65,536 tokens in which a word appears about as often as its frequency (some with a comma or
    a full stop)."""

    def __init__(self):
        self.vocab = vocabulary()
        rng = random.Random(7)
        w = [1.0 / (r + 2.7) for r in range(len(self.vocab))]
        total = sum(w)
        table = []
        for r, word in enumerate(self.vocab):
            table += [word] * max(1, round(w[r] / total * 65536))
        table = table[:65536]
        while len(table) < 65536:
            table.append(self.vocab[rng.randrange(200, len(self.vocab))])
        for i in range(len(table)):
            x = rng.random()
            if x < 0.065:
                table[i] += "."
            elif x < 0.12:
                table[i] += ","
        rng.shuffle(table)
        self.table = table
        self.plain = [w for w in self.vocab if w.isascii()]

    def words(self, rng, n):
        return list(map(self.table.__getitem__, memoryview(rng.randbytes(2 * n)).cast("H")))

    def sentence(self, rng, n):
        s = " ".join(self.words(rng, n)).rstrip(".,")
        return s[:1].upper() + s[1:] + "."

    def title(self, rng):
        return " ".join(rng.choice(self.plain[60:3000]).capitalize()
                        for _ in range(rng.randint(3, 8)))

    def slug(self, rng, n=4):
        return "-".join(rng.choice(self.plain[60:3000]) for _ in range(n))


TEXT = None  # set in each process (workers build their own)


def text():
    global TEXT
    if TEXT is None:
        TEXT = Text()
    return TEXT


def php(v):
    """PHP serialize(), as WordPress stores arrays in options and meta."""
    if isinstance(v, bool):
        return f"b:{int(v)};"
    if isinstance(v, int):
        return f"i:{v};"
    if isinstance(v, float):
        return f"d:{v!r};"
    if v is None:
        return "N;"
    if isinstance(v, str):
        return f's:{len(v.encode())}:"{v}";'
    if isinstance(v, (list, tuple)):
        v = dict(enumerate(v))
    return f"a:{len(v)}:{{" + "".join(php(k) + php(x) for k, x in v.items()) + "}"


def dt(ts):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def tsv(*fields):
    """One line of a LOAD DATA file (its default escapes)."""
    return "\t".join("\\N" if f is None else str(f).replace("\\", "\\\\").replace(
        "\n", "\\n").replace("\t", "\\t") for f in fields) + "\n"


def esc(s):
    """A string as a SQL literal (our generated text has no backslash or NUL)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''").replace("\n", "\\n") + "'"


# --- schema ---------------------------------------------------------------------------------

TABLE_OPTS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci"
SCHEMA = {
    "wp_posts": """ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open',
  ping_status varchar(20) NOT NULL DEFAULT 'open',
  post_password varchar(255) NOT NULL DEFAULT '',
  post_name varchar(200) NOT NULL DEFAULT '',
  to_ping text NOT NULL,
  pinged text NOT NULL,
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content_filtered longtext NOT NULL,
  post_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  guid varchar(255) NOT NULL DEFAULT '',
  menu_order int(11) NOT NULL DEFAULT 0,
  post_type varchar(20) NOT NULL DEFAULT 'post',
  post_mime_type varchar(100) NOT NULL DEFAULT '',
  comment_count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID),
  KEY post_name (post_name(191)),
  KEY type_status_date (post_type,post_status,post_date,ID),
  KEY post_parent (post_parent),
  KEY post_author (post_author)""",
    "wp_postmeta": """meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (meta_id),
  KEY post_id (post_id),
  KEY meta_key (meta_key(191))""",
    "wp_comments": """comment_ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_post_ID bigint(20) unsigned NOT NULL DEFAULT 0,
  comment_author tinytext NOT NULL,
  comment_author_email varchar(100) NOT NULL DEFAULT '',
  comment_author_url varchar(200) NOT NULL DEFAULT '',
  comment_author_IP varchar(100) NOT NULL DEFAULT '',
  comment_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  comment_content text NOT NULL,
  comment_karma int(11) NOT NULL DEFAULT 0,
  comment_approved varchar(20) NOT NULL DEFAULT '1',
  comment_agent varchar(255) NOT NULL DEFAULT '',
  comment_type varchar(20) NOT NULL DEFAULT 'comment',
  comment_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  user_id bigint(20) unsigned NOT NULL DEFAULT 0,
  PRIMARY KEY (comment_ID),
  KEY comment_post_ID (comment_post_ID),
  KEY comment_approved_date_gmt (comment_approved,comment_date_gmt),
  KEY comment_date_gmt (comment_date_gmt),
  KEY comment_parent (comment_parent),
  KEY comment_author_email (comment_author_email(10))""",
    "wp_commentmeta": """meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  comment_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (meta_id),
  KEY comment_id (comment_id),
  KEY meta_key (meta_key(191))""",
    "wp_options": """option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name),
  KEY autoload (autoload)""",
    "wp_users": """ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_login varchar(60) NOT NULL DEFAULT '',
  user_pass varchar(255) NOT NULL DEFAULT '',
  user_nicename varchar(50) NOT NULL DEFAULT '',
  user_email varchar(100) NOT NULL DEFAULT '',
  user_url varchar(100) NOT NULL DEFAULT '',
  user_registered datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  user_activation_key varchar(255) NOT NULL DEFAULT '',
  user_status int(11) NOT NULL DEFAULT 0,
  display_name varchar(250) NOT NULL DEFAULT '',
  PRIMARY KEY (ID),
  KEY user_login_key (user_login),
  KEY user_nicename (user_nicename),
  KEY user_email (user_email)""",
    "wp_usermeta": """umeta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext DEFAULT NULL,
  PRIMARY KEY (umeta_id),
  KEY user_id (user_id),
  KEY meta_key (meta_key(191))""",
    "wp_terms": """term_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(200) NOT NULL DEFAULT '',
  slug varchar(200) NOT NULL DEFAULT '',
  term_group bigint(10) NOT NULL DEFAULT 0,
  PRIMARY KEY (term_id),
  KEY slug (slug(191)),
  KEY name (name(191))""",
    "wp_term_taxonomy": """term_taxonomy_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  term_id bigint(20) unsigned NOT NULL DEFAULT 0,
  taxonomy varchar(32) NOT NULL DEFAULT '',
  description longtext NOT NULL,
  parent bigint(20) unsigned NOT NULL DEFAULT 0,
  count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (term_taxonomy_id),
  UNIQUE KEY term_id_taxonomy (term_id,taxonomy),
  KEY taxonomy (taxonomy)""",
    "wp_term_relationships": """object_id bigint(20) unsigned NOT NULL DEFAULT 0,
  term_taxonomy_id bigint(20) unsigned NOT NULL DEFAULT 0,
  term_order int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (object_id,term_taxonomy_id),
  KEY term_taxonomy_id (term_taxonomy_id)""",
}
# The columns a TSV file gives (auto-increment ids left out where the load order assigns them).
COLUMNS = {
    "wp_posts": None,
    "wp_postmeta": "(post_id,meta_key,meta_value)",
    "wp_comments": None,
    "wp_commentmeta": "(comment_id,meta_key,meta_value)",
    "wp_options": "(option_name,option_value,autoload)",
    "wp_users": None,
    "wp_usermeta": "(user_id,meta_key,meta_value)",
    "wp_terms": None,
    "wp_term_taxonomy": None,
    "wp_term_relationships": None,
}

# --- sizes ----------------------------------------------------------------------------------


class Plan:
    """Row counts for SIZE_MB of SQL (calibrated: posts are about half of the dump)."""

    def __init__(self, size_mb):
        s = size_mb / 500.0 * 1.22  # measured: this many rows make SIZE_MB of mariadb-dump SQL
        self.posts = max(200, int(33000 * s))
        self.comments = max(500, int(150000 * s))
        self.users = max(20, int(4000 * s))
        self.categories = max(5, int(60 * math.sqrt(s)))
        self.tags = max(20, int(2400 * math.sqrt(s)))
        self.transients = max(20, int(2000 * s))
        self.post_parts = max(1, min(16, int(self.posts / 2000)))
        self.comment_parts = max(1, min(8, int(self.comments / 25000)))
        rng = random.Random(SEED * 1000 + 1)
        # post types by id: a revision or an attachment follows the post it belongs to
        self.ptype, self.parent = [None], [0]
        last_post = []
        for pid in range(1, self.posts + 1):
            x = rng.random()
            if x < 0.24 and last_post:
                t, par = "revision", rng.choice(last_post[-30:])
            elif x < 0.40 and last_post:
                t, par = "attachment", rng.choice(last_post[-10:])
            elif x < 0.43:
                t, par = "page", 0
            elif x < 0.45:
                t, par = "nav_menu_item", 0
            else:
                t, par = "post", 0
            self.ptype.append(t)
            self.parent.append(par)
            if t in ("post", "page"):
                last_post.append(pid)
        self.commentable = [i for i in range(1, self.posts + 1) if self.ptype[i] == "post"]


def post_time(pid, n):
    return HISTORY_START + int((DAY1 - 86400 - HISTORY_START) * pid / (n + 1))


AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "WordPress/6.4.2; https://example.org",
]
FIRST = ("james mary john patricia robert jennifer michael linda william elizabeth david "
         "barbara richard susan joseph jessica thomas sarah charles karen lena omar yuki "
         "chen priya sofia mateo amara noah ines").split()
LAST = ("smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez "
        "lopez gonzalez wilson anderson thomas taylor moore jackson martin lee tanaka nguyen "
        "kowalski muller rossi silva").split()
SITE = "https://blog.example.com"


def name(rng):
    return f"{rng.choice(FIRST).capitalize()} {rng.choice(LAST).capitalize()}"


def post_content(rng, target, pid):
    """Gutenberg markup of about TARGET bytes."""
    tx = text()
    blocks, size = [], 0
    while size < target:
        x = rng.random()
        if x < 0.08:
            b = (f'<!-- wp:heading -->\n<h2 class="wp-block-heading">{tx.title(rng)}</h2>\n'
                 f"<!-- /wp:heading -->")
        elif x < 0.12:
            img = rng.randrange(1, pid + 1)
            y = time.gmtime(post_time(img, 1 << 30))
            b = (f'<!-- wp:image {{"id":{img},"sizeSlug":"large","linkDestination":"none"}} -->\n'
                 f'<figure class="wp-block-image size-large"><img src="{SITE}/wp-content/uploads/'
                 f'{y.tm_year}/{y.tm_mon:02d}/{tx.slug(rng, 2)}-1024x683.jpg" alt="" '
                 f'class="wp-image-{img}"/></figure>\n<!-- /wp:image -->')
        elif x < 0.17:
            items = "".join(f"<li>{tx.sentence(rng, rng.randint(4, 14))}</li>"
                            for _ in range(rng.randint(3, 7)))
            b = f"<!-- wp:list -->\n<ul>{items}</ul>\n<!-- /wp:list -->"
        else:
            n = rng.randint(25, 130)
            sents, k = [], 0
            while k < n:
                m = rng.randint(6, 24)
                sents.append(tx.sentence(rng, m))
                k += m
            b = f"<!-- wp:paragraph -->\n<p>{' '.join(sents)}</p>\n<!-- /wp:paragraph -->"
        blocks.append(b)
        size += len(b) + 2
    return "\n\n".join(blocks)


def content_size(rng):
    return int(min(250000, max(300, rng.lognormvariate(math.log(5200), 0.85))))


def attachment_meta(rng, path):
    w, h = rng.choice(((1920, 1080), (1600, 1200), (2048, 1365), (1200, 800), (4000, 3000)))
    base = path.rsplit("/", 1)[1][:-4]
    sizes = {}
    for nm, sw in (("medium", 300), ("large", 1024), ("thumbnail", 150), ("medium_large", 768),
                   ("1536x1536", 1536), ("post-thumbnail", 1200)):
        sh_ = 150 if nm == "thumbnail" else sw * h // w
        sizes[nm] = {"file": f"{base}-{sw}x{sh_}.jpg", "width": sw, "height": sh_,
                     "mime-type": "image/jpeg", "filesize": rng.randint(4000, 400000)}
    return php({"width": w, "height": h, "file": path, "filesize": rng.randint(80000, 3000000),
                "sizes": sizes,
                "image_meta": {"aperture": rng.choice(["1.8", "2.8", "4", "0"]), "credit": "",
                               "camera": rng.choice(["", "iPhone 13", "Canon EOS R6"]),
                               "caption": "", "created_timestamp": str(rng.randint(
                                   HISTORY_START, DAY1)), "copyright": "",
                               "focal_length": str(rng.choice([0, 26, 35, 50])), "iso": str(
                                   rng.choice([0, 100, 400, 800])), "shutter_speed": rng.choice(
                                   ["0", "0.01", "0.004"]), "title": "", "orientation": "1",
                               "keywords": []}})


# Advanced Custom Fields: each field is two rows, its value and "_NAME" = the field's key.
ACF_TYPES = ("text", "text", "text", "number", "true_false", "date", "image", "url", "select",
             "wysiwyg", "textarea", "wysiwyg")
ACF = {f"{w}_{t}_{i}": (t, "field_" + hashlib.md5(f"{w}{i}".encode()).hexdigest()[:13])
       for i, (w, t) in enumerate(zip(
           ("subtitle intro price rating featured event_date hero_image source_url category "
            "summary sidebar_text lead author_bio location venue sponsor gallery cta_text "
            "cta_link duration difficulty servings ingredients notes quote quote_author "
            "reading_time video_url related_note disclaimer tagline badge color layout "
            "footnote box_text promo_code promo_until map_url").split(),
           ACF_TYPES * 4))}
ACF_NAMES = list(ACF)
ACF_REFS = {"_" + k for k in ACF}


def acf_value(rng, t, pid):
    tx = text()
    if t == "text":
        return tx.sentence(rng, rng.randint(2, 12))
    if t == "number":
        return str(rng.randint(0, 5000))
    if t == "true_false":
        return rng.choice("01")
    if t == "date":
        return time.strftime("%Y%m%d", time.gmtime(DAY1 - rng.randrange(86400 * 3000)))
    if t == "image":
        return str(rng.randint(1, max(2, pid)))
    if t == "url":
        return f"https://{tx.slug(rng, 1)}.example.org/{tx.slug(rng, 3)}/"
    if t == "select":
        return tx.slug(rng, 1)
    if t == "textarea":
        return " ".join(tx.sentence(rng, rng.randint(8, 20)) for _ in range(rng.randint(1, 4)))
    return "<p>" + "</p>\n<p>".join(" ".join(tx.sentence(rng, rng.randint(8, 22)) for _ in range(
        rng.randint(2, 6))) for _ in range(rng.randint(1, 4))) + "</p>"


def postmeta_value(rng, key, pid):
    """A new value for meta KEY, as the day's churn writes it."""
    tx = text()
    if key == "post_views_count":
        return str(rng.randint(1, 50000))
    if key == "_edit_lock":
        return f"{DAY1 + rng.randrange(86400 * 40)}:{rng.randint(1, 5)}"
    if key in ("_yoast_wpseo_metadesc", "_wp_attachment_image_alt", "_yoast_wpseo_title"):
        return tx.sentence(rng, rng.randint(8, 25))
    if key == "_yoast_wpseo_focuskw":
        return " ".join(tx.words(rng, 2)).rstrip(".,")
    if key == "_wp_attachment_metadata":
        return attachment_meta(rng, f"2024/06/{tx.slug(rng, 3)}.jpg")
    if key.startswith("_menu_item") or key in ("_thumbnail_id", "_edit_last"):
        return str(rng.randint(1, max(2, pid)))
    if key in ACF:
        return acf_value(rng, ACF[key][0], pid)
    if key in ACF_REFS:
        return ACF[key[1:]][1]
    return tx.sentence(rng, rng.randint(2, 12))


def post_metas(rng, pid, t, plan, extra=()):
    tx = text()
    out = []
    if t in ("post", "page"):
        out += [("_edit_last", str(rng.randint(1, 5))),
                ("_edit_lock", f"{post_time(pid, plan.posts) + rng.randrange(86400)}:1")]
        if rng.random() < 0.7:
            out.append(("_thumbnail_id", str(rng.randint(1, pid))))
        out += [("_yoast_wpseo_metadesc", tx.sentence(rng, rng.randint(12, 28))),
                ("_yoast_wpseo_focuskw", " ".join(tx.words(rng, 2)).rstrip(".,")),
                ("_yoast_wpseo_content_score", str(rng.choice((30, 60, 90)))),
                ("post_views_count", str(rng.randint(0, 20000)))]
        if rng.random() < 0.3:
            out.append(("_yoast_wpseo_title", tx.title(rng) + " %%sep%% %%sitename%%"))
        if rng.random() < 0.15:
            out.append(("_wp_old_slug", tx.slug(rng)))
        if rng.random() < 0.25:
            out.append(("_oembed_" + hashlib.md5(str(rng.random()).encode()).hexdigest(),
                        '<iframe title="' + tx.title(rng) + '" width="500" height="281" src='
                        '"https://www.youtube.com/embed/' + tx.slug(rng, 1)[:11] + '?feature='
                        'oembed" frameborder="0" allowfullscreen></iframe>'))
        if t == "post" and rng.random() < 0.75:
            for k in sorted(rng.sample(ACF_NAMES, rng.randint(6, 24))):
                out += [(k, acf_value(rng, ACF[k][0], pid)), ("_" + k, ACF[k][1])]
    elif t == "attachment":
        y = time.gmtime(post_time(pid, plan.posts))
        path = f"{y.tm_year}/{y.tm_mon:02d}/{tx.slug(rng, 3)}.jpg"
        out += [("_wp_attached_file", path), ("_wp_attachment_metadata",
                                              attachment_meta(rng, path))]
        if rng.random() < 0.5:
            out.append(("_wp_attachment_image_alt", tx.sentence(rng, rng.randint(3, 10))))
    elif t == "nav_menu_item":
        out += [("_menu_item_type", "post_type"), ("_menu_item_menu_item_parent", "0"),
                ("_menu_item_object_id", str(rng.randint(1, pid))), ("_menu_item_object",
                                                                     "page"),
                ("_menu_item_target", ""), ("_menu_item_classes", php([""])),
                ("_menu_item_xfn", ""), ("_menu_item_url", "")]
    return out + list(extra)


def post_row(rng, pid, t, parent, plan, content, when, author):
    tx = text()
    title = tx.title(rng)
    slug = tx.slug(rng) if t != "revision" else f"{parent}-revision-v1"
    status = {"revision": "inherit", "attachment": "inherit"}.get(t, "publish")
    if t == "post" and rng.random() < 0.03:
        status = "draft"
    mime = "image/jpeg" if t == "attachment" else ""
    guid = (f"{SITE}/wp-content/uploads/{slug}.jpg" if t == "attachment"
            else f"{SITE}/?p={pid}")
    excerpt = tx.sentence(rng, rng.randint(10, 30)) if t == "post" and rng.random() < 0.2 else ""
    return (pid, author, dt(when), dt(when), content, title, excerpt, status,
            "closed" if t in ("revision", "nav_menu_item") else "open",
            "closed" if t != "post" else "open", "", slug, "", "", dt(when + 3600), dt(when + 3600),
            "", parent, guid, rng.randint(0, 9) if t == "nav_menu_item" else 0, t, mime, 0)


def gen_posts(args):
    """One part of wp_posts (ids LO..HI) with its postmeta and term relationships."""
    part, lo, hi, plan, d = args
    rng = random.Random(f"{SEED}:posts:{part}")
    recent = collections.OrderedDict()
    fp = open(f"{d}/wp_posts.{part:03d}.tsv", "w", buffering=1 << 20)
    fm = open(f"{d}/wp_postmeta.{part:03d}.tsv", "w", buffering=1 << 20)
    fr = open(f"{d}/wp_term_relationships.{part:03d}.tsv", "w", buffering=1 << 20)
    cats, tags = plan.categories, plan.tags
    for pid in range(lo, hi):
        t, par = plan.ptype[pid], plan.parent[pid]
        when = post_time(pid, plan.posts) + rng.randrange(3600)
        if t in ("post", "page"):
            content = post_content(rng, content_size(rng), pid)
            recent[pid] = content
            if len(recent) > 40:
                recent.popitem(last=False)
        elif t == "revision":
            base = recent.get(par) or post_content(rng, content_size(rng), pid)
            # an earlier version: a few words differ
            for _ in range(rng.randint(1, 4)):
                p = rng.randrange(len(base))
                base = base[:p] + " ".join(text().words(rng, rng.randint(1, 8))) + base[p + 20:]
            content = base
        elif t == "attachment":
            content = text().sentence(rng, rng.randint(3, 20)) if rng.random() < 0.3 else ""
        else:
            content = ""
        fp.write(tsv(*post_row(rng, pid, t, par, plan, content, when,
                               rng.randint(1, 6))))
        for k, v in post_metas(rng, pid, t, plan):
            fm.write(tsv(pid, k, v))
        if t == "post":
            terms = {rng.randint(1, cats)} | {cats + 1 + int(tags * rng.random() ** 2)
                                              for _ in range(rng.randint(0, 6))}
            for tt in sorted(terms):
                fr.write(tsv(pid, tt, 0))
    for f in (fp, fm, fr):
        f.close()
    return part


def comment_content(rng):
    tx = text()
    s = " ".join(tx.sentence(rng, rng.randint(5, 22)) for _ in range(rng.choice((1, 1, 2, 2, 3,
                                                                                  4, 6))))
    if rng.random() < 0.02:
        s += " 😀"
    return s


def comment_row(rng, cid, post, when, approved, parent):
    nm = name(rng)
    email = nm.lower().replace(" ", ".") + f"{rng.randint(1, 999)}@example.net"
    url = f"https://{nm.split()[1].lower()}{rng.randint(1, 99)}.example.org" \
        if rng.random() < 0.3 else ""
    ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return (cid, post, nm, email, url, ip, dt(when), dt(when), comment_content(rng), 0, approved,
            rng.choice(AGENTS), "comment", parent, 0)


def comment_metas(rng, cid, approved, when, row=None):
    res = "true" if approved == "spam" else "false"
    out = [("akismet_result", res),
           ("akismet_history", php({"time": when + rng.random(), "event": "check-spam" if res ==
                                    "true" else "check-ham", "user": "", "meta": {
                                        "response": res}}))]
    if row is not None and rng.random() < 0.08:
        out.append(("akismet_as_submitted", php({
            "comment_post_ID": str(row[1]), "comment_author": row[2], "comment_author_email":
            row[3], "comment_author_url": row[4], "comment_content": row[8][:400],
            "comment_type": "comment", "user_ip": row[5], "user_agent": row[11], "blog":
            SITE, "blog_lang": "en_US", "blog_charset": "UTF-8", "permalink":
            f"{SITE}/?p={row[1]}", "POST_akismet_comment_nonce": hashlib.md5(
                str(cid).encode()).hexdigest()[:10]})))
    return out


def approved_state(rng):
    x = rng.random()
    return "1" if x < 0.86 else "spam" if x < 0.96 else "0" if x < 0.985 else "trash"


def gen_comments(args):
    part, lo, hi, plan, d = args
    rng = random.Random(f"{SEED}:comments:{part}")
    fc = open(f"{d}/wp_comments.{part:03d}.tsv", "w", buffering=1 << 20)
    fm = open(f"{d}/wp_commentmeta.{part:03d}.tsv", "w", buffering=1 << 20)
    posts = plan.commentable
    for cid in range(lo, hi):
        # comments come to recent posts: pick from the posts that existed then, mostly new ones
        upto = max(1, int(len(posts) * cid / plan.comments))
        post = posts[max(0, upto - 1 - int(upto * rng.random() ** 3))]
        when = max(post_time(post, plan.posts), post_time(cid, plan.comments)) + \
            rng.randrange(86400)
        ap = approved_state(rng)
        parent = rng.randrange(lo, cid) if cid > lo and rng.random() < 0.15 else 0
        row = comment_row(rng, cid, post, when, ap, parent)
        fc.write(tsv(*row))
        for k, v in comment_metas(rng, cid, ap, when, row):
            fm.write(tsv(cid, k, v))
    fc.close()
    fm.close()
    return part


def options(rng, plan):
    """(name, value, autoload) rows of wp_options."""
    tx = text()
    core = {"siteurl": SITE, "home": SITE, "blogname": "Example Blog", "blogdescription":
            "Just another WordPress site", "users_can_register": "0", "admin_email":
            "admin@example.com", "start_of_week": "1", "use_balanceTags": "0",
            "use_smilies": "1", "require_name_email": "1", "comments_notify": "1",
            "posts_per_rss": "10", "rss_use_excerpt": "0", "mailserver_url": "mail.example.com",
            "default_category": "1", "default_comment_status": "open", "default_ping_status":
            "open", "default_pingback_flag": "1", "posts_per_page": "10", "date_format":
            "F j, Y", "time_format": "g:i a", "links_updated_date_format": "F j, Y g:i a",
            "comment_moderation": "0", "moderation_notify": "1", "permalink_structure":
            "/%year%/%monthnum%/%postname%/", "hack_file": "0", "blog_charset": "UTF-8",
            "active_plugins": php(["akismet/akismet.php", "wordpress-seo/wp-seo.php",
                                   "contact-form-7/wp-contact-form-7.php",
                                   "jetpack/jetpack.php", "wp-super-cache/wp-cache.php"]),
            "category_base": "", "ping_sites": "http://rpc.pingomatic.com/",
            "comment_max_links": "2", "gmt_offset": "0", "default_email_category": "1",
            "template": "twentytwentyfour", "stylesheet": "twentytwentyfour",
            "comment_registration": "0", "html_type": "text/html", "default_role": "subscriber",
            "db_version": "56657", "uploads_use_yearmonth_folders": "1", "upload_path": "",
            "blog_public": "1", "default_link_category": "2", "show_on_front": "posts",
            "tag_base": "", "show_avatars": "1", "avatar_rating": "G", "thumbnail_size_w":
            "150", "thumbnail_size_h": "150", "medium_size_w": "300", "medium_size_h": "300",
            "large_size_w": "1024", "large_size_h": "1024", "timezone_string": "Europe/Paris",
            "initial_db_version": "38590", "WPLANG": "", "site_icon": "0"}
    rows = [(k, v, "yes") for k, v in core.items()]
    rows.append(("wp_user_roles", php({r: {"name": r.capitalize(), "capabilities": {
        c: True for c in tx.plain[100:100 + n]}} for r, n in (("administrator", 70), (
            "editor", 35), ("author", 10), ("contributor", 5), ("subscriber", 2))}), "yes"))
    rows.append(("rewrite_rules", php({f"{tx.slug(rng, 2)}/([^/]+)/(feed|rdf|rss|rss2|atom)/?$":
                                       f"index.php?{tx.slug(rng, 1)}=$matches[1]&feed="
                                       f"$matches[2]" for _ in range(420)}), "yes"))
    rows.append(("cron", cron_value(rng, 0), "yes"))
    for i in range(1, 40):
        rows.append((f"widget_{tx.slug(rng, 1)}_{i}", php({2: {"title": tx.title(rng), "text":
                                                               tx.sentence(rng, 30)},
                                                           "_multiwidget": 1}), "yes"))
    for i in range(1, 120):
        n = int(rng.lognormvariate(math.log(12), 1.0)) + 1
        rows.append((f"{tx.slug(rng, 2).replace('-', '_')}_{i}_settings",
                     php({tx.slug(rng, 1): tx.sentence(rng, rng.randint(2, 12))
                          for _ in range(n)}), rng.choice(("yes", "yes", "no"))))
    rows.append(("_site_transient_update_plugins", update_plugins(rng), "no"))
    for i in range(plan.transients):
        key = f"{tx.slug(rng, 1)}_{hashlib.md5(str(i).encode()).hexdigest()[:12]}"
        rows.append((f"_transient_timeout_{key}", str(DAY1 + rng.randrange(86400 * 7)), "no"))
        rows.append((f"_transient_{key}", transient_value(rng), "no"))
    return rows


def cron_value(rng, day):
    tx = text()
    ev = {}
    for i in range(60):
        ts = DAY1 + day * 86400 + rng.randrange(86400 * 3)
        ev[ts + i] = {f"{tx.slug(rng, 2).replace('-', '_')}": {
            hashlib.md5(str(i).encode()).hexdigest(): {"schedule": rng.choice(
                ("hourly", "daily", "twicedaily", False)), "args": [], "interval": 3600}}}
    ev["version"] = 2
    return php(ev)


def update_plugins(rng):
    tx = text()
    return php({"last_checked": DAY1 + rng.randrange(86400 * 40), "response": {},
                "translations": [], "no_update": {
                    f"{tx.slug(rng, 1)}/{tx.slug(rng, 1)}.php": {
                        "id": f"w.org/plugins/{tx.slug(rng, 1)}", "slug": tx.slug(rng, 1),
                        "new_version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}",
                        "url": f"https://wordpress.org/plugins/{tx.slug(rng, 1)}/",
                        "package": f"https://downloads.wordpress.org/plugin/{tx.slug(rng, 1)}.zip",
                        "requires_php": "7.4"} for _ in range(25)}})


def transient_value(rng):
    tx = text()
    if rng.random() < 0.3:
        return str(rng.randint(0, 100000))
    return php([{"title": tx.title(rng), "link": f"{SITE}/{tx.slug(rng)}/", "excerpt":
                 tx.sentence(rng, rng.randint(10, 40))}
                for _ in range(min(400, int(rng.lognormvariate(math.log(12), 1.0)) + 1))])


def usermetas(rng, uid, login):
    tx = text()
    role = "administrator" if uid == 1 else rng.choice(("subscriber",) * 8 + ("author",
                                                                              "editor"))
    out = [("nickname", login), ("first_name", login.split("_")[0].capitalize()),
           ("last_name", login.split("_")[-1].capitalize()),
           ("description", tx.sentence(rng, rng.randint(5, 30)) if rng.random() < 0.3 else ""),
           ("rich_editing", "true"), ("syntax_highlighting", "true"), ("comment_shortcuts",
                                                                        "false"),
           ("admin_color", "fresh"), ("use_ssl", "0"), ("show_admin_bar_front", "true"),
           ("locale", ""), ("wp_capabilities", php({role: True})), ("wp_user_level",
                                                                   str(10 if uid == 1 else 0)),
           ("dismissed_wp_pointers", ""), ("last_login", str(DAY1 - rng.randrange(86400 * 400)))]
    if rng.random() < 0.25:
        out.append(("session_tokens", session_tokens(rng)))
    if rng.random() < 0.2:
        out.append(("wp_dashboard_quick_press_last_post_id", str(rng.randint(1, 10000))))
    return out


def session_tokens(rng):
    return php({hashlib.sha256(str(rng.random()).encode()).hexdigest(): {
        "expiration": DAY1 + rng.randrange(86400 * 14), "ip": f"192.0.2.{rng.randint(1, 254)}",
        "ua": rng.choice(AGENTS), "login": DAY1 - rng.randrange(86400 * 14)}
        for _ in range(rng.randint(1, 3))})


def user_row(rng, uid):
    login = f"{rng.choice(FIRST)}_{rng.choice(LAST)}{uid}"
    return (uid, login, "$P$B" + hashlib.md5(login.encode()).hexdigest()[:27], login.replace(
        "_", "-"), f"{login}@example.net", "", dt(HISTORY_START + uid * 37 * 3600 % (
            DAY1 - HISTORY_START)), "", 0, login.replace("_", " ").title())


def gen_misc(args):
    plan, d = args
    rng = random.Random(f"{SEED}:misc")
    tx = text()
    with open(f"{d}/wp_options.000.tsv", "w") as f:
        for row in options(rng, plan):
            f.write(tsv(*row))
    with open(f"{d}/wp_users.000.tsv", "w") as fu, open(f"{d}/wp_usermeta.000.tsv", "w") as fm:
        for uid in range(1, plan.users + 1):
            row = user_row(rng, uid)
            fu.write(tsv(*row))
            for k, v in usermetas(rng, uid, row[1]):
                fm.write(tsv(uid, k, v))
    with open(f"{d}/wp_terms.000.tsv", "w") as ft, open(f"{d}/wp_term_taxonomy.000.tsv",
                                                        "w") as fx:
        for tid in range(1, plan.categories + plan.tags + 1):
            nm = tx.title(rng)[:40]
            ft.write(tsv(tid, nm, tx.slug(rng, 2) + f"-{tid}", 0))
            cat = tid <= plan.categories
            fx.write(tsv(tid, tid, "category" if cat else "post_tag",
                         tx.sentence(rng, rng.randint(5, 20)) if rng.random() < 0.3 else "",
                         0, 0))
    return "misc"


# --- the private server ---------------------------------------------------------------------


class MariaDB:
    """mariadbd with --no-defaults, its own datadir, socket and pid file under DIR; no TCP."""

    def __init__(self, d):
        self.dir = d
        self.sock = os.path.join(d, "sock")
        self.cnf = os.path.join(d, "client.cnf")
        self.proc = None

    def start(self):
        d = self.dir
        os.makedirs(f"{d}/data", exist_ok=True)
        os.makedirs(f"{d}/tmp", exist_ok=True)
        sh(f"mariadb-install-db --no-defaults --datadir={d}/data --user=root "
           f"--auth-root-authentication-method=normal --skip-test-db >{d}/install.log 2>&1")
        with open(f"{d}/err.log", "ab") as err:
            self.proc = subprocess.Popen(
                ["mariadbd", "--no-defaults", f"--datadir={d}/data", f"--socket={self.sock}",
                 f"--pid-file={d}/pid", "--skip-networking", "--user=root",
                 f"--log-error={d}/err.log", f"--tmpdir={d}/tmp",
                 "--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M",
                 "--innodb-flush-log-at-trx-commit=2", "--max-allowed-packet=256M",
                 "--skip-log-bin", "--event-scheduler=OFF", "--local-infile=1"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit("bench: mariadbd exited:\n" + open(f"{d}/err.log").read()[-3000:])
            r = subprocess.run(["mariadb-admin", "--no-defaults", "-S", self.sock, "-uroot",
                                "--connect-timeout=2", "ping"], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit("bench: mariadbd did not become ready")
        fd = os.open(self.cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"[client]\nuser=root\nsocket={self.sock}\n")

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            log(f"mariadbd {self.proc.pid} ignored SIGTERM for 60 s; SIGKILL")
            self.proc.kill()
            self.proc.wait()

    def client(self):
        return f"mariadb --defaults-file={self.cnf} --default-character-set=utf8mb4"

    def run(self, sql, db=DB):
        """SQL through the stock client; its tab-separated output as a list of rows."""
        r = subprocess.run(["mariadb", f"--defaults-file={self.cnf}",
                            "--default-character-set=utf8mb4", "-N", "-B"] + ([db] if db else []),
                           input=sql, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"bench: SQL failed: {r.stderr[-2000:]}")
        return [line.split("\t") for line in r.stdout.splitlines()]


# --- generation -----------------------------------------------------------------------------


def generate(m, d):
    plan = Plan(SIZE_MB)
    gd = os.path.join(d, "gen")
    os.makedirs(gd)
    m.run(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci", db=None)
    m.run(";\n".join(f"CREATE TABLE {t} (\n  {cols}\n) {TABLE_OPTS}"
                     for t, cols in SCHEMA.items()))
    log(f"generating {SIZE_MB:g} MB: {plan.posts} posts, {plan.comments} comments, "
        f"{plan.users} users ({plan.post_parts}+{plan.comment_parts}+1 parts on "
        f"{os.cpu_count()} cores)")
    tasks = []
    step = -(-plan.posts // plan.post_parts)
    for k in range(plan.post_parts):
        tasks.append((gen_posts, (k, 1 + k * step, min(plan.posts, (k + 1) * step) + 1, plan, gd)))
    step = -(-plan.comments // plan.comment_parts)
    for k in range(plan.comment_parts):
        tasks.append((gen_comments, (k, 1 + k * step, min(plan.comments, (k + 1) * step) + 1,
                                     plan, gd)))
    tasks.append((gen_misc, (plan, gd)))
    pool = Pool(os.cpu_count() or 2)
    try:
        res = [pool.apply_async(f, (a,)) for f, a in tasks]
        for r in res:
            r.get()
    finally:
        pool.close()
        pool.join()
    total = sum(os.path.getsize(os.path.join(gd, f)) for f in os.listdir(gd))
    log(f"generated {total / 1e6:.0f} MB of TSV; loading")

    def load(table):
        files = sorted(f for f in os.listdir(gd) if f.startswith(table + "."))
        sql = "SET unique_checks=0, foreign_key_checks=0;\n" + "".join(
            f"LOAD DATA LOCAL INFILE '{gd}/{f}' INTO TABLE {table} CHARACTER SET utf8mb4 "
            f"{COLUMNS[table] or ''};\n" for f in files)
        r = subprocess.run(["mariadb", f"--defaults-file={m.cnf}",
                            "--default-character-set=utf8mb4", "--local-infile=1", DB],
                           input=sql, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"bench: loading {table} failed: {r.stderr[-2000:]}")
        return table

    sizes = collections.Counter()
    for f in os.listdir(gd):
        sizes[f.split(".")[0]] += os.path.getsize(os.path.join(gd, f))
    with ThreadPoolExecutor(2) as ex:
        list(ex.map(load, sorted(SCHEMA, key=lambda t: -sizes[t])))
    # counts kept by WordPress itself
    m.run("""UPDATE wp_term_taxonomy tt SET count = (SELECT COUNT(*) FROM wp_term_relationships tr
               WHERE tr.term_taxonomy_id = tt.term_taxonomy_id);
             UPDATE wp_posts p JOIN (SELECT comment_post_ID id, COUNT(*) c FROM wp_comments
               WHERE comment_approved = '1' GROUP BY comment_post_ID) x ON p.ID = x.id
               SET p.comment_count = x.c;""")
    shutil.rmtree(gd)
    counts = {t: int(m.run(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in SCHEMA}
    log("rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    plan.rows = sum(counts.values())
    return plan


# --- daily churn ----------------------------------------------------------------------------


def churn(m, plan, day, d):
    """About 1% of the rows change, scattered: seeded by (SEED, day), so deterministic."""
    rng = random.Random(f"{SEED}:day:{day}")
    tx = text()
    now = DAY1 + (day - 1) * 86400
    q = m.run("""SELECT MAX(ID) FROM wp_posts; SELECT MAX(comment_ID) FROM wp_comments;
                 SELECT MAX(ID) FROM wp_users""")
    max_post, max_comment, max_user = (int(r[0]) for r in q)
    posts = [int(r[0]) for r in m.run("SELECT ID FROM wp_posts WHERE post_type IN "
                                      "('post','page') AND post_status='publish' ORDER BY ID")]
    pmeta = m.run("SELECT meta_id, post_id, meta_key FROM wp_postmeta ORDER BY meta_id")
    pending = m.run("SELECT comment_ID, comment_post_ID, comment_approved FROM wp_comments "
                    "WHERE comment_approved IN ('0','spam') ORDER BY comment_ID")
    n_comments = int(m.run("SELECT COUNT(*) FROM wp_comments")[0][0])
    opts = m.run("SELECT option_id, option_name FROM wp_options ORDER BY option_id")
    umeta = m.run("SELECT umeta_id, user_id, meta_key FROM wp_usermeta ORDER BY umeta_id")
    out = ["SET time_zone='+00:00';", "START TRANSACTION;"]
    ops = collections.Counter()

    # post edits: a few words of a long post_content change; WordPress keeps a revision
    for pid in rng.sample(posts, max(1, len(posts) * 6 // 1000)):
        for _ in range(rng.randint(1, 3)):
            new = " ".join(tx.words(rng, rng.randint(1, 6))).rstrip(".,")
            out.append(f"UPDATE wp_posts SET post_content = INSERT(post_content, "
                       f"1 + FLOOR(CHAR_LENGTH(post_content) * {rng.random():.6f}), "
                       f"{rng.randint(0, 40)}, {esc(' ' + new + ' ')}), post_modified = "
                       f"'{dt(now + rng.randrange(86400))}', post_modified_gmt = post_modified "
                       f"WHERE ID = {pid};")
        max_post += 1
        out.append(f"INSERT INTO wp_posts SELECT {max_post}, post_author, post_modified, "
                   f"post_modified_gmt, post_content, post_title, post_excerpt, 'inherit', "
                   f"'closed', 'closed', '', '{pid}-revision-v1', '', '', post_modified, "
                   f"post_modified_gmt, '', {pid}, '{SITE}/?p={max_post}', 0, 'revision', '', 0 "
                   f"FROM wp_posts WHERE ID = {pid};")
        out.append(f"UPDATE wp_postmeta SET meta_value = '{now + rng.randrange(86400)}:1' "
                   f"WHERE post_id = {pid} AND meta_key = '_edit_lock';")
        if rng.random() < 0.3:  # re-tagged
            tag = plan.categories + 1 + int(plan.tags * rng.random() ** 2)
            out.append(f"DELETE FROM wp_term_relationships WHERE object_id = {pid} AND "
                       f"term_taxonomy_id > {plan.categories} LIMIT 1;")
            out.append(f"INSERT IGNORE INTO wp_term_relationships VALUES ({pid}, {tag}, 0);")
        ops["post edits"] += 1

    # new posts, each with an image, its meta and terms
    for _ in range(max(1, len(posts) // 1000)):
        max_post += 1
        pid = max_post
        when = now + rng.randrange(86400)
        content = post_content(rng, content_size(rng), pid)
        out.append("INSERT INTO wp_posts VALUES (" + ", ".join(
            esc(v) if isinstance(v, str) else str(v)
            for v in post_row(rng, pid, "post", 0, plan, content, when, rng.randint(1, 6))) + ");")
        metas = post_metas(rng, pid, "post", plan)
        max_post += 1
        out.append("INSERT INTO wp_posts VALUES (" + ", ".join(
            esc(v) if isinstance(v, str) else str(v)
            for v in post_row(rng, max_post, "attachment", pid, plan, "", when, 1)) + ");")
        metas_att = post_metas(rng, max_post, "attachment", plan)
        out.append("INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES " + ", ".join(
            f"({p}, {esc(k)}, {esc(v)})" for p, ms in ((pid, metas), (max_post, metas_att))
            for k, v in ms) + ";")
        terms = {rng.randint(1, plan.categories)} | {
            plan.categories + 1 + int(plan.tags * rng.random() ** 2) for _ in range(3)}
        out.append("INSERT INTO wp_term_relationships VALUES " + ", ".join(
            f"({pid}, {t}, 0)" for t in sorted(terms)) + ";")
        out.append("UPDATE wp_term_taxonomy SET count = count + 1 WHERE term_taxonomy_id IN ("
                   + ", ".join(map(str, sorted(terms))) + ");")
        posts.append(pid)
        ops["new posts"] += 1

    # postmeta: values rewritten (views, SEO fields, attachment metadata), a few deleted
    for r in rng.sample([r for r in pmeta if r[2] not in ACF_REFS], len(pmeta) // 100):
        out.append(f"UPDATE wp_postmeta SET meta_value = "
                   f"{esc(postmeta_value(rng, r[2], int(r[1])))} WHERE meta_id = {r[0]};")
        ops["postmeta updates"] += 1
    for r in rng.sample(pmeta, len(pmeta) // 1000):
        out.append(f"DELETE FROM wp_postmeta WHERE meta_id = {r[0]};")
        ops["postmeta deletes"] += 1
    for _ in range(len(pmeta) // 500):
        pid = rng.choice(posts)
        k = rng.choice(("_edit_lock", "_wp_old_slug", "_yoast_wpseo_title",
                        rng.choice(ACF_NAMES)))
        out.append(f"INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES "
                   f"({pid}, {esc(k)}, {esc(postmeta_value(rng, k, pid))});")
        ops["postmeta inserts"] += 1

    # comments: yesterday's held ones approved, spam deleted, new ones (some spam) arrive
    held = [r for r in pending if r[2] == "0"]
    for r in rng.sample(held, min(len(held), max(1, n_comments * 3 // 1000))):
        out.append(f"UPDATE wp_comments SET comment_approved = '1' WHERE comment_ID = {r[0]};")
        out.append(f"UPDATE wp_posts SET comment_count = comment_count + 1 WHERE ID = {r[1]};")
        out.append(f"INSERT INTO wp_commentmeta (comment_id, meta_key, meta_value) VALUES "
                   f"({r[0]}, 'akismet_history', " + esc(php({
                       "time": now + rng.random(), "event": "status-changed-approved",
                       "user": "admin", "meta": {"status": "approved"}})) + ");")
        ops["comments approved"] += 1
        ops["commentmeta inserts"] += 1
    spam = [r for r in pending if r[2] == "spam"]
    gone = rng.sample(spam, min(len(spam), max(1, n_comments * 4 // 1000)))
    if gone:
        ids = ", ".join(r[0] for r in sorted(gone, key=lambda r: int(r[0])))
        ops["commentmeta deletes"] += int(m.run(
            f"SELECT COUNT(*) FROM wp_commentmeta WHERE comment_id IN ({ids})")[0][0])
        out.append(f"DELETE FROM wp_comments WHERE comment_ID IN ({ids});")
        out.append(f"DELETE FROM wp_commentmeta WHERE comment_id IN ({ids});")
        ops["spam comments deleted"] += len(gone)
    for _ in range(max(1, n_comments * 5 // 1000)):
        max_comment += 1
        post = posts[-1 - int(len(posts) * rng.random() ** 3)]
        ap = approved_state(rng)
        row = comment_row(rng, max_comment, post, now + rng.randrange(86400), ap, 0)
        out.append("INSERT INTO wp_comments VALUES (" + ", ".join(
            esc(v) if isinstance(v, str) else str(v) for v in row) + ");")
        metas = comment_metas(rng, max_comment, ap, now, row)
        out.append("INSERT INTO wp_commentmeta (comment_id, meta_key, meta_value) VALUES " +
                   ", ".join(f"({max_comment}, {esc(k)}, {esc(v)})" for k, v in metas) + ";")
        ops["commentmeta inserts"] += len(metas)
        if ap == "1":
            out.append(f"UPDATE wp_posts SET comment_count = comment_count + 1 WHERE ID = "
                       f"{post};")
        ops["new comments"] += 1

    # options: cron and the update check every day, transients refreshed, expired, created
    out.append(f"UPDATE wp_options SET option_value = {esc(cron_value(rng, day))} "
               f"WHERE option_name = 'cron';")
    out.append(f"UPDATE wp_options SET option_value = {esc(update_plugins(rng))} "
               f"WHERE option_name = '_site_transient_update_plugins';")
    trans = [r for r in opts if r[1].startswith("_transient_") and
             not r[1].startswith("_transient_timeout_")]
    for r in rng.sample(trans, max(1, len(trans) // 20)):
        key = r[1][len("_transient_"):]
        out.append(f"UPDATE wp_options SET option_value = {esc(transient_value(rng))} "
                   f"WHERE option_id = {r[0]};")
        out.append(f"UPDATE wp_options SET option_value = '{now + 86400 * 3}' "
                   f"WHERE option_name = '_transient_timeout_{key}';")
        ops["options updates"] += 2
    for r in rng.sample(trans, max(1, len(trans) // 100)):
        key = r[1][len("_transient_"):]
        out.append(f"DELETE FROM wp_options WHERE option_name IN ('_transient_{key}', "
                   f"'_transient_timeout_{key}');")
        ops["options deletes"] += 2
    for i in range(max(1, len(trans) // 100)):
        key = f"{tx.slug(rng, 1)}_d{day}_{i}"
        out.append(f"INSERT INTO wp_options (option_name, option_value, autoload) VALUES "
                   f"('_transient_timeout_{key}', '{now + 86400 * 3}', 'no'), "
                   f"('_transient_{key}', {esc(transient_value(rng))}, 'no');")
        ops["options inserts"] += 2
    others = [r for r in opts if r[1].endswith("_settings") or r[1].startswith("widget_")]
    for r in rng.sample(others, max(1, len(others) // 50)):
        out.append(f"UPDATE wp_options SET option_value = " + esc(php({
            tx.slug(rng, 1): tx.sentence(rng, rng.randint(2, 12))
            for _ in range(rng.randint(3, 30))})) + f" WHERE option_id = {r[0]};")
        ops["options updates"] += 1

    # users: logins (session tokens, last login), a few sign-ups
    logins = [r for r in umeta if r[2] in ("session_tokens", "last_login")]
    for r in rng.sample(logins, min(len(logins), len(umeta) // 100)):
        v = session_tokens(rng) if r[2] == "session_tokens" else str(now + rng.randrange(86400))
        out.append(f"UPDATE wp_usermeta SET meta_value = {esc(v)} WHERE umeta_id = {r[0]};")
        ops["usermeta updates"] += 1
    for _ in range(max(1, plan.users // 1000)):
        max_user += 1
        row = user_row(rng, max_user)
        out.append("INSERT INTO wp_users VALUES (" + ", ".join(
            esc(v) if isinstance(v, str) else str(v) for v in row) + ");")
        out.append("INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES " + ", ".join(
            f"({max_user}, {esc(k)}, {esc(v)})" for k, v in usermetas(rng, max_user, row[1]))
            + ";")
        ops["new users"] += 1
    out.append("COMMIT;")
    f = os.path.join(d, "churn.sql")
    with open(f, "w") as fh:
        fh.write("\n".join(out) + "\n")
    sh(f"{m.client()} {DB} < {f}")
    os.unlink(f)
    return ops


# --- the measurements -----------------------------------------------------------------------


def has_snapshot():
    r = subprocess.run([STATEFS, "--help"], capture_output=True, text=True)
    return "statefs snapshot" in (r.stdout + r.stderr)


class Runner:
    def __init__(self, base, m, snapshot):
        self.base, self.m, self.snapshot = base, m, snapshot
        self.state = os.path.join(base, "state")
        self.conf = os.path.join(base, "statefs.conf")
        with open(self.conf, "w") as f:
            f.write(f"[state]\n\tdir = {self.state}\n[database \"{DB}\"]\n"
                    f"\tsocket = {m.sock}\n\toption-file = {m.cnf}\n")
        self.zst = []
        self.repo = os.path.join(base, "restic")
        self.pw = os.path.join(base, "restic.pw")
        with open(self.pw, "w") as f:
            f.write("bench password\n")
        self.env = dict(os.environ, RESTIC_REPOSITORY=self.repo, RESTIC_PASSWORD_FILE=self.pw,
                        RESTIC_CACHE_DIR=os.path.join(base, "restic-cache"),
                        TMPDIR=os.path.join(m.dir, "tmp"))
        self.last_snap = 0.0

    def statefs(self, scratch=False):
        """One `statefs snapshot` (or, before it exists, `statefs dump` to /dev/null):
        (seconds, peak RSS KiB). SCRATCH: into an empty state directory, removed after."""
        conf = self.conf
        if scratch:
            state = os.path.join(self.base, "scratch-state")
            conf = os.path.join(self.base, "scratch.conf")
            with open(self.conf) as f, open(conf, "w") as g:
                g.write(f.read().replace(f"dir = {self.state}\n", f"dir = {state}\n"))
        if self.snapshot:
            while time.time() - self.last_snap < 1.1:  # distinct _HHMMSS names
                time.sleep(0.1)
            self.last_snap = time.time()
            cmd = f"{STATEFS} snapshot -c {conf} >{self.base}/snap.out 2>&1"
        else:
            cmd = f"{STATEFS} dump -c {conf} {DB} >/dev/null"
        rss = os.path.join(self.base, "rss")
        t0 = time.perf_counter()
        sh(f"/usr/bin/time -f %M -o {rss} {cmd}", env=self.env)
        took = time.perf_counter() - t0
        if scratch:
            shutil.rmtree(state, ignore_errors=True)
            os.unlink(conf)
        if self.snapshot:
            with open(f"{self.base}/snap.out", errors="replace") as f:
                last = f.read().strip().splitlines()[-1:]
            if last:
                log(f"  statefs: {last[0][-200:]}")
        return took, int(open(rss).read().split()[-1])

    def baseline(self, day):
        """mariadb-dump | zstd -3 -T0 into the day's file: (seconds, file)."""
        f = os.path.join(self.base, f"day{day:02d}.sql.zst")
        t0 = time.perf_counter()
        sh(f"mariadb-dump --defaults-file={self.m.cnf} --single-transaction --quick {DB} | "
           f"zstd -3 -T0 -q -f -o {f}")
        return time.perf_counter() - t0, f

    def restic(self, f):
        """That day's plain dump into the restic repository: seconds."""
        t0 = time.perf_counter()
        sh(f"zstd -dcq {f} | restic backup -q --stdin --stdin-filename db.sql", env=self.env,
           stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


def du(path):
    """(apparent bytes, disk bytes) of a tree."""
    a = int(subprocess.run(["du", "-s", "--apparent-size", "-B1", path], capture_output=True,
                           text=True, check=True).stdout.split()[0])
    b = int(subprocess.run(["du", "-s", "-B1", path], capture_output=True, text=True,
                           check=True).stdout.split()[0])
    return a, b


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (the private mariadbd runs as root)")
    for tool in ("mariadbd", "mariadb-install-db", "mariadb-dump", "zstd", "restic"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} is missing (make deps)")
    if not os.access("/usr/bin/time", os.X_OK):
        raise SystemExit("bench: /usr/bin/time is missing (package time; make deps)")
    if not os.access(STATEFS, os.X_OK):
        raise SystemExit(f"bench: {STATEFS} is missing (make statefs)")
    snapshot = has_snapshot()
    base = tempfile.mkdtemp(prefix="statefs-bench-snap.", dir=os.environ.get("BENCH_DIR",
                                                                              "/var/tmp"))
    m = MariaDB(os.path.join(base, "m"))

    def on_term(sig, frame):
        raise SystemExit(f"bench: signal {sig}")

    signal.signal(signal.SIGTERM, on_term)
    try:
        run(base, m, snapshot)
    finally:
        m.stop()
        shutil.rmtree(base, ignore_errors=True)


def run(base, m, snapshot):
    global STATEFS
    # a copy: a rebuild during the run does not change the binary measured
    shutil.copy2(STATEFS, os.path.join(base, "statefs"))
    STATEFS = os.path.join(base, "statefs")
    log(f"bench dir {base}; statefs {'snapshot' if snapshot else 'dump (no snapshot verb yet)'}")
    m.start()
    plan = generate(m, base)
    r = Runner(base, m, snapshot)
    sh("restic init -q", env=r.env, stdout=subprocess.DEVNULL)
    log("warming the server (mariadb-dump > /dev/null)")
    sh(f"mariadb-dump --defaults-file={m.cnf} --single-transaction --quick {DB} "
       f"| wc -c > {base}/size")
    sql_bytes = int(open(f"{base}/size").read())
    log(f"day 1: {sql_bytes / 1e6:.0f} MB of SQL; timing mariadb-dump|zstd and statefs, "
        f"alternately, {REPS} times each")
    tb, ts, rss = [], [], 0
    for i in range(REPS):
        t, f1 = r.baseline(1)
        tb.append(t)
        t, k = r.statefs(scratch=i > 0)  # the first one is day 1 of the 30
        ts.append(t)
        rss = max(rss, k)
        log(f"day 1, run {i + 1}: mariadb-dump|zstd {tb[-1]:.2f} s, statefs {ts[-1]:.2f} s "
            f"({k / 1024:.0f} MiB)")
    t_base, t_statefs = statistics.median(tb), statistics.median(ts)
    r.zst.append(os.path.getsize(f1))
    log("day 1: restic")
    t_restic = [r.restic(f1)]
    os.unlink(f1)
    later = []
    for day in range(2, DAYS + 1):
        t0 = time.perf_counter()
        ops = churn(m, plan, day, base)
        t_churn = time.perf_counter() - t0
        s = r.statefs() if snapshot else (0.0, 0)
        later.append(s)
        tb, f = r.baseline(day)
        r.zst.append(os.path.getsize(f))
        t_restic.append(r.restic(f))
        os.unlink(f)
        log(f"day {day}/{DAYS}: churn {sum(ops.values())} rows "
            f"({100 * sum(ops.values()) / plan.rows:.2f}%) in {t_churn:.1f} s; "
            + (f"statefs {s[0]:.1f} s ({s[1] / 1024:.0f} MiB); " if snapshot else "")
            + f"dump|zstd {tb:.1f} s ({r.zst[-1] / 1e6:.1f} MB); restic {t_restic[-1]:.1f} s")
        if day == 2:
            log("  churn: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))

    mb = sql_bytes / 1e6
    x = t_base / t_statefs
    print(f"snapshot: day-1 dump {mb:.0f} MB: statefs {t_statefs:.1f} s, mariadb-dump|zstd "
          f"{t_base:.1f} s (medians of {REPS}), "
          + (f"{x:.2f}x faster" if x >= 1 else f"{1 / x:.2f}x slower") + " (goal >= 1.25x faster)"
          + ("" if snapshot else " [statefs dump > /dev/null: no snapshot verb yet]")
          + f"; statefs peak RSS {rss / 1024:.0f} MiB (goal < 64 MiB)")
    one = sum(r.zst) / len(r.zst)
    ra, rd = du(r.repo)
    tail = f"after {DAYS} days of ~1% churn"
    if snapshot:
        sa, sd = du(os.path.join(r.state, "store"))
        print(f"snapshot: storage {tail}: statefs store {mib(sa)} ({mib(sd)} on disk) = "
              f"{sa / one:.1f}x one day's .sql.zst ({mib(one)}, the mean) (aim 4x); "
              f"{DAYS} .sql.zst {mib(sum(r.zst))} = {sum(r.zst) / one:.1f}x; "
              f"restic {mib(ra)} = {ra / one:.1f}x (expected ~32-35x after 30 days)")
        print(f"snapshot: statefs store / restic repository {sa / ra:.2f} "
              f"({sd / rd:.2f} on disk) (bar < 0.5)")
        if later:
            print(f"snapshot: days 2-{DAYS}: statefs snapshot mean "
                  f"{sum(x[0] for x in later) / len(later):.1f} s, peak RSS "
                  f"{max(x[1] for x in later) / 1024:.0f} MiB")
    else:
        print(f"snapshot: storage {tail}: statefs n/a (no snapshot verb yet); "
              f"{DAYS} .sql.zst {mib(sum(r.zst))} = {sum(r.zst) / one:.1f}x one day's "
              f"({mib(one)}, the mean); restic {mib(ra)} ({mib(rd)} on disk) = {ra / one:.1f}x "
              f"(expected ~32-35x after 30 days)")
    log(f"restic backup mean {sum(t_restic) / len(t_restic):.1f} s")


if __name__ == "__main__":
    main()
