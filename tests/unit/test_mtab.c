/*
 * test_mtab.c - the mount table: loading statefs.conf, every error message, glob parse/match.
 */
#include "mountpoints/mtab.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_mtab.XXXXXX";
static char conf[sizeof(dir) + 32];

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(conf);
		exit(2);
	}
}

/* Load @text; expect success. The caller frees. */
static struct mtab *load_ok(const char *text)
{
	struct mtab *tab = (struct mtab *)1;
	char err[512] = "";
	int ret;

	write_conf(text);
	ret = mtab_load(conf, &tab, err, sizeof(err));
	CHECK_MSG(ret == 0 && tab, "load ok (ret %d, err \"%s\")", ret, err);
	return ret ? NULL : tab;
}

/* Load @text; expect -@errnum and the message "<conf>@msg". */
static void load_err(const char *text, int errnum, const char *msg)
{
	struct mtab *tab = (struct mtab *)1;
	char err[512] = "", want[512];
	int ret;

	write_conf(text);
	ret = mtab_load(conf, &tab, err, sizeof(err));
	snprintf(want, sizeof(want), "%s%s", conf, msg);
	CHECK_INT(ret, -errnum);
	CHECK(tab == NULL);
	CHECK_STR(err, want);
	if (!ret)
		mtab_free(tab);
}

static const char design_example[] =
    "[state]\n"
    "\tdir = /var/lib/statefs\n"
    "[mount \"nginx\"]\n"
    "\tkind = tree\n"
    "\tsource = /etc/nginx\n"
    "\tcheck = nginx -t\n"
    "\ton-change = systemctl reload nginx\n"
    "[mount \"compose\"]\n"
    "\tkind = files\n"
    "\tsource = /opt/*/docker-compose.yml          ; shown as compose/<*>/docker-compose.yml\n"
    "[mount \"env\"]\n"
    "\tkind = files\n"
    "\tsource = /opt/*/.env\n"
    "[mount \"uploads\"]\n"
    "\tkind = plain                                 ; not versioned; snapshotted\n"
    "\tsource = clemence:/opt/wordpress-clemence/wp-content/uploads\n"
    "\tsource = solidarlink:/var/www/solidarlink/wp-content/uploads\n"
    "[database \"clemence_db\"]\n"
    "\thost = 127.0.0.1\n"
    "\tport = 3307                                  ; a MariaDB in a container\n"
    "\toption-file = /etc/statefs/clemence.cnf      ; user and password, mode 0600\n"
    "[database \"solidarlink_db\"]\n"
    "\tsocket = /run/mysqld/mysqld.sock\n"
    "\toption-file = /etc/statefs/host.cnf\n"
    "[snapshot]\n"
    "\tkeep-daily = 7\n"
    "\tkeep-weekly = 4\n"
    "\tkeep-monthly = 12\n";

static void check_example(struct mtab *tab)
{
	const struct mtab_entry *e;

	if (!tab)
		return;
	CHECK_STR(tab->state_dir, "/var/lib/statefs");
	CHECK_INT(tab->nentries, 4);
	CHECK_STR(tab->entries[0].name, "nginx");
	CHECK_STR(tab->entries[3].name, "uploads");
	e = mtab_find(tab, "nginx");
	CHECK(e && e->kind == MTAB_TREE);
	CHECK_STR(e ? e->source : NULL, "/etc/nginx");
	CHECK_STR(e ? e->check : NULL, "nginx -t");
	CHECK_STR(e ? e->on_change : NULL, "systemctl reload nginx");
	e = mtab_find(tab, "compose");
	CHECK(e && e->kind == MTAB_FILES);
	CHECK_STR(e ? e->source : NULL, "/opt/*/docker-compose.yml");
	CHECK_STR(e ? e->glob.prefix : NULL, "/opt");
	CHECK_INT(e ? e->glob.nparts : 0, 2);
	CHECK(e && mtab_glob_match(&e->glob, "whisperx/docker-compose.yml"));
	CHECK(e && !e->check && !e->on_change);
	e = mtab_find(tab, "env");
	CHECK(e && e->kind == MTAB_FILES && e->glob.nparts == 2);
	CHECK_STR(e ? e->glob.parts[1] : NULL, ".env");
	e = mtab_find(tab, "uploads");
	CHECK(e && e->kind == MTAB_PLAIN);
	CHECK_INT(e ? e->nplain : 0, 2);
	if (e && e->nplain == 2) {
		CHECK_STR(e->plain[0].label, "clemence");
		CHECK_STR(e->plain[0].path, "/opt/wordpress-clemence/wp-content/uploads");
		CHECK_STR(e->plain[1].label, "solidarlink");
		CHECK_STR(e->plain[1].path, "/var/www/solidarlink/wp-content/uploads");
	}
	CHECK(mtab_find(tab, "db") == NULL);
	CHECK(mtab_find(tab, "nginx/") == NULL);
	CHECK_INT(tab->ndbs, 2);
	if (tab->ndbs == 2) {
		CHECK_STR(tab->dbs[0].name, "clemence_db");
		CHECK_STR(tab->dbs[0].host, "127.0.0.1");
		CHECK_INT(tab->dbs[0].port, 3307);
		CHECK(tab->dbs[0].socket == NULL);
		CHECK_STR(tab->dbs[0].option_file, "/etc/statefs/clemence.cnf");
		CHECK_STR(tab->dbs[1].name, "solidarlink_db");
		CHECK(tab->dbs[1].host == NULL);
		CHECK_INT(tab->dbs[1].port, 0);
		CHECK_STR(tab->dbs[1].socket, "/run/mysqld/mysqld.sock");
		CHECK_STR(tab->dbs[1].option_file, "/etc/statefs/host.cnf");
	}
	CHECK_INT(tab->keep_last, 0);
	CHECK_INT(tab->keep_daily, 7);
	CHECK_INT(tab->keep_weekly, 4);
	CHECK_INT(tab->keep_monthly, 12);
}

static void test_load(void)
{
	struct mtab *tab;
	char err[256];
	int ret;

	tab = load_ok(design_example);
	check_example(tab);
	if (tab)
		CHECK_STR(tab->path, conf);
	mtab_free(tab);

	/* The shipped example, from the top of the tree. */
	tab = NULL;
	ret = mtab_load("contrib/statefs.conf.example", &tab, err, sizeof(err));
	CHECK_MSG(ret == 0, "contrib/statefs.conf.example loads (%d: %s)", ret, err);
	check_example(tab);
	mtab_free(tab);

	/* Defaults; an empty file is a valid, empty table. */
	tab = load_ok("");
	if (tab) {
		CHECK_STR(tab->state_dir, MTAB_DEFAULT_STATE_DIR);
		CHECK_INT(tab->nentries + tab->ndbs, 0);
		CHECK_INT(tab->keep_last + tab->keep_daily + tab->keep_weekly + tab->keep_monthly,
			  0);
	}
	mtab_free(tab);

	/* One-line sections, case-insensitive keys, paths normalised, names kept as written. */
	tab = load_ok("[STATE] Dir = /srv//statefs/\n"
		      "[mount \"Web.conf_2-x\"] kind = tree\n source = /etc//nginx/\n"
		      "[mount \"one\"]\n kind = files\n source = /etc/hosts\n"
		      "[mount \"up\"]\n source = a:/x\n kind = plain\n"
		      "[mount \"root\"]\n kind = tree\n source = ///\n"
		      "[database \"d$1\"] socket = /run/m.sock\n"
		      "[database \"local\"]\n"
		      "\thost = localhost\n"
		      "[snapshot]\n keep-last = 0\n keep-monthly = 99\n");
	if (tab) {
		const struct mtab_entry *e = mtab_find(tab, "Web.conf_2-x");

		CHECK_STR(tab->state_dir, "/srv/statefs");
		CHECK(e && e->kind == MTAB_TREE);
		CHECK_STR(e ? e->source : NULL, "/etc/nginx");
		e = mtab_find(tab, "one");
		CHECK(e && e->kind == MTAB_FILES && e->glob.nparts == 1);
		CHECK_STR(e ? e->glob.prefix : NULL, "/etc");
		CHECK_STR(e ? e->glob.parts[0] : NULL, "hosts");
		e = mtab_find(tab, "up");
		CHECK(e && e->kind == MTAB_PLAIN && e->nplain == 1);
		CHECK_STR(e && e->nplain ? e->plain[0].path : NULL, "/x");
		e = mtab_find(tab, "root");
		CHECK_STR(e ? e->source : NULL, "/");
		CHECK_INT(tab->ndbs, 2);
		CHECK_STR(tab->dbs[0].socket, "/run/m.sock");
		CHECK_STR(tab->dbs[1].host, "localhost");
		CHECK(tab->dbs[1].socket == NULL && tab->dbs[1].option_file == NULL);
		CHECK_INT(tab->keep_last, 0);
		CHECK_INT(tab->keep_monthly, 99);
		CHECK(mtab_find(tab, "web.conf_2-x") == NULL);
	}
	mtab_free(tab);

	/* "uploads" is a fine name; a value continued over lines does not confuse line numbers. */
	tab = load_ok("[mount \"uploads\"]\n kind = tree\n check = a \\\n  kind = x\n"
		      " source = /a\n");
	if (tab)
		CHECK_STR(tab->entries[0].check, "a   kind = x");
	mtab_free(tab);
	load_err("[mount \"t\"]\n kind = tree\n on-change = a \\\nkind = x\n source = /t\n"
		 "\tkind = files\n",
		 EINVAL, ":6: mount.t.kind: given twice (first on line 2)");
}

static void test_errors(void)
{
	load_err("[state]\n\tdir = /var/lib/statefs\n"
		 "; the web server\n"
		 "[mount \"nginx\"]\n"
		 "\tsource = /etc/nginx\n"
		 "\n"
		 "\tkind = tre\n",
		 EINVAL,
		 ":7: mount.nginx.kind: unknown kind 'tre' (expected tree, files or plain)");
	load_err("[mount \"nginx\"] kind = tre\n", EINVAL,
		 ":1: mount.nginx.kind: unknown kind 'tre' (expected tree, files or plain)");
	load_err("[mount \"nginx\"]\n\tkind = tree\n\tsorce = /etc/nginx\n", EINVAL,
		 ":3: mount.nginx.sorce: unknown key 'sorce' in [mount \"nginx\"] (expected kind, "
		 "source, check, on-change or check-timeout)");
	load_err("[mount \"a\"]\nkind = tree\nsource = /a\n\n[mount \"nginx\"]\n\tkind = tree\n",
		 EINVAL, ":5: mount.nginx.source: missing (expected an absolute directory)");
	load_err("\n[mount \"nginx\"]\n\tsource = /etc/nginx\n", EINVAL,
		 ":2: mount.nginx.kind: missing (expected tree, files or plain)");
	load_err("[mount \"nginx\"]\n\tkind = tree\n\tsource = etc/nginx\n", EINVAL,
		 ":3: mount.nginx.source: 'etc/nginx' is not an absolute path without . or .. "
		 "components");
	load_err("[mount \"nginx\"]\n\tkind = tree\n\tsource = /etc/../nginx\n", EINVAL,
		 ":3: mount.nginx.source: '/etc/../nginx' is not an absolute path without . or .. "
		 "components");
	load_err("[mount \"t\"]\n\tkind = tree\n\tsource = /a\n\tsource = /b\n", EINVAL,
		 ":4: mount.t.source: given twice (a tree mount has one source)");
	load_err("[mount \"c\"]\n\tkind = files\n\tsource = opt/*/x\n", EINVAL,
		 ":3: mount.c.source: bad glob 'opt/*/x' (expected an absolute pattern like "
		 "/opt/*/docker-compose.yml, without empty, . or .. parts)");
	load_err("[mount \"u\"]\n\tkind = plain\n\tsource = a:/a\n\tsource = /b\n", EINVAL,
		 ":4: mount.u.source: '/b' has no label (expected label:/absolute/dir)");
	load_err("[mount \"u\"]\n\tkind = plain\n\tsource = a:/a\n\tsource = a:/b\n", EINVAL,
		 ":4: mount.u.source: label 'a' used twice");
	load_err("[mount \"u\"]\n\tkind = plain\n\tsource = .a:/a\n", EINVAL,
		 ":3: mount.u.source: bad label '.a' (expected letters, digits, '.', '_' or '-', "
		 "not starting with '.')");
	load_err("[mount \"u\"]\n\tkind = plain\n\tsource = a:b\n", EINVAL,
		 ":3: mount.u.source: 'b' is not an absolute path without . or .. components");
	load_err("[mount \"u\"]\n\tkind = plain\n\tsource = a:/b\n\ton-change = x\n", EINVAL,
		 ":4: mount.u.on-change: only tree and files mounts run commands");
	load_err("[mount \"a/b\"]\n\tkind = tree\n", EINVAL,
		 ":1: mount.a/b: bad mount name 'a/b' (expected one path component of letters, "
		 "digits, '.', '_' or '-', not starting with '.')");
	load_err("[mount \"..\"]\n\tkind = tree\n", EINVAL,
		 ":1: mount...: bad mount name '..' (expected one path component of letters, "
		 "digits, '.', '_' or '-', not starting with '.')");
	load_err("[mount \".git\"]\n\tkind = tree\n", EINVAL,
		 ":1: mount..git: bad mount name '.git' (expected one path component of letters, "
		 "digits, '.', '_' or '-', not starting with '.')");
	load_err("\n[mount \"backups\"]\n\tkind = tree\n", EINVAL,
		 ":2: mount.backups: the name 'backups' is reserved (backups, history and db are "
		 "statefs's own views)");
	load_err("[mount \"db\"]\n\tkind = tree\n", EINVAL,
		 ":1: mount.db: the name 'db' is reserved (backups, history and db are statefs's "
		 "own views)");
	load_err("[mount \"x\"]\n\tkind = tree\n\tsource = /x\n[mount \"y\"]\n\tkind = tree\n"
		 "[mount \"x\"]\n\tcheck = true\n",
		 EINVAL, ":1: mount.x: [mount \"x\"] is defined twice (again on line 6)");
	load_err("[mount \"x\"]\n\tkind = tree\n\tkind = files\n", EINVAL,
		 ":3: mount.x.kind: given twice (first on line 2)");
	load_err("[mount]\n\tkind = tree\n", EINVAL,
		 ":1: mount.kind: [mount] needs a name, as in [mount \"nginx\"]");
	load_err("[state \"x\"]\n\tdir = /a\n", EINVAL, ":1: state.x.dir: [state] takes no name");
	load_err("[state]\n\tdir = var\n", EINVAL,
		 ":2: state.dir: 'var' is not an absolute path without . or .. components");
	load_err("[state]\n\tdirectory = /var\n", EINVAL,
		 ":2: state.directory: unknown key 'directory' in [state] (expected dir)");
	load_err("[state]\n\tdir\n", EINVAL, ":2: state.dir: no value (expected 'dir = ...')");
	load_err("[mounts \"x\"]\n\tkind = tree\n", EINVAL,
		 ":1: mounts.x.kind: unknown section [mounts] (expected state, mount, database, "
		 "snapshot or remote)");
	load_err("[include]\n\tpath = /etc/other\n", EINVAL,
		 ":1: include.path: unknown section [include] (expected state, mount, database, "
		 "snapshot or remote)");

	/* Databases. */
	load_err("[database \"d\"]\n\thost = 127.0.0.1\n\tsocket = /run/s\n", EINVAL,
		 ":3: database.d.socket: both host and socket given (expected one of them)");
	load_err("[database \"d\"]\n\tsocket = /run/s\n\thost = h\n", EINVAL,
		 ":3: database.d.host: both host and socket given (expected one of them)");
	load_err("[database \"d\"]\n\thost = h\n\tport = 70000\n", EINVAL,
		 ":3: database.d.port: bad port '70000' (expected 1 to 65535)");
	load_err("[database \"d\"]\n\thost = h\n\tport = 0\n", EINVAL,
		 ":3: database.d.port: bad port '0' (expected 1 to 65535)");
	load_err("[database \"d\"]\n\thost = h\n\tport = 33x\n", EINVAL,
		 ":3: database.d.port: bad port '33x' (expected 1 to 65535)");
	load_err("[database \"d\"]\n\thost = h\n\tport = 1\n\tport = 2\n", EINVAL,
		 ":4: database.d.port: given twice (first on line 3)");
	load_err("[database \"d\"]\n\tport = 3306\n", EINVAL,
		 ":2: database.d.port: port without host (expected host = 127.0.0.1 or similar)");
	load_err("[database \"d\"]\n\tsocket = run/s\n", EINVAL,
		 ":2: database.d.socket: 'run/s' is not an absolute path without . or .. "
		 "components");
	load_err(
	    "[database \"d\"]\n\tuser = root\n", EINVAL,
	    ":2: database.d.user: unknown key 'user' in [database \"d\"] (expected host, port, "
	    "socket or option-file)");
	load_err("[database \"my-db\"]\n\thost = h\n", EINVAL,
		 ":1: database.my-db: bad database name 'my-db' (expected 1 to 64 letters, digits, "
		 "'_' or '$')");
	load_err("[database \"d\"]\n\thost = h\n[database \"d\"]\n\toption-file = /o\n", EINVAL,
		 ":1: database.d: [database \"d\"] is defined twice (again on line 3)");

	/* Snapshot counts. */
	load_err("[snapshot]\n\tkeep-daily = -1\n", EINVAL,
		 ":2: snapshot.keep-daily: bad count '-1' (expected a non-negative integer)");
	load_err("[snapshot]\n\tkeep-daily = 1\n\tkeep-daily = 2\n", EINVAL,
		 ":3: snapshot.keep-daily: given twice (first on line 2)");
	load_err("[snapshot]\n\tkeep-yearly = 1\n", EINVAL,
		 ":2: snapshot.keep-yearly: unknown key 'keep-yearly' in [snapshot] (expected "
		 "keep-last, keep-daily, keep-weekly or keep-monthly)");

	/* libgit2's own syntax errors keep their line. */
	load_err("[mount \"x\"]\n\tkind = tree\n[mount \"y\"\n", EINVAL,
		 ":3: failed to parse config file: missing ']' in section header");
	load_err("[mount \"x\"]\n\tkind = tree\n\tbad key = 1\n", EINVAL,
		 ":3: failed to parse config file: invalid configuration key");
}

static void test_missing(void)
{
	struct mtab *tab = (struct mtab *)1;
	char path[sizeof(dir) + 32], err[256], want[256];
	int ret;

	snprintf(path, sizeof(path), "%s/nope.conf", dir);
	ret = mtab_load(path, &tab, err, sizeof(err));
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path);
	CHECK_INT(ret, -ENOENT);
	CHECK(tab == NULL);
	CHECK_STR(err, want);
	ret = mtab_load(dir, &tab, err, sizeof(err));
	snprintf(want, sizeof(want), "cannot read %s: Is a directory", dir);
	CHECK_INT(ret, -EISDIR);
	CHECK_STR(err, want);
	ret = mtab_load(path, &tab, NULL, 0);
	CHECK_INT(ret, -ENOENT);
}

static void test_glob(void)
{
	struct mtab_glob g;

	CHECK_INT(mtab_glob_parse("/opt/*/docker-compose.yml", &g), 0);
	CHECK_STR(g.prefix, "/opt");
	CHECK_INT(g.nparts, 2);
	CHECK_STR(g.parts[0], "*");
	CHECK_STR(g.parts[1], "docker-compose.yml");
	CHECK(mtab_glob_match(&g, "whisperx/docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, "whisperx/docker-compose.yaml"));
	CHECK(!mtab_glob_match(&g, "whisperx"));
	CHECK(!mtab_glob_match(&g, "a/b/docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, "whisperx/docker-compose.yml/"));
	CHECK(!mtab_glob_match(&g, "/whisperx/docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, "whisperx//docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, ".hidden/docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, "../docker-compose.yml"));
	CHECK(!mtab_glob_match(&g, ""));
	CHECK(mtab_glob_match_part(&g, 0, "whisperx"));
	CHECK(!mtab_glob_match_part(&g, 0, ".hidden"));
	CHECK(!mtab_glob_match_part(&g, 0, "a/b"));
	CHECK(!mtab_glob_match_part(&g, 0, ""));
	CHECK(mtab_glob_match_part(&g, 1, "docker-compose.yml"));
	CHECK(!mtab_glob_match_part(&g, 1, "x"));
	CHECK(!mtab_glob_match_part(&g, 2, "docker-compose.yml"));
	mtab_glob_free(&g);
	CHECK(g.prefix == NULL && g.parts == NULL && g.nparts == 0);

	CHECK_INT(mtab_glob_parse("/opt/*/.env", &g), 0);
	CHECK_STR(g.prefix, "/opt");
	CHECK_INT(g.nparts, 2);
	CHECK(mtab_glob_match(&g, "whisperx/.env"));
	CHECK(!mtab_glob_match(&g, ".hidden/.env"));
	CHECK(!mtab_glob_match(&g, "whisperx/env"));
	CHECK(!mtab_glob_match(&g, "whisperx/.env.bak"));
	mtab_glob_free(&g);

	CHECK_INT(mtab_glob_parse("/etc/nginx/nginx.conf", &g), 0); /* no wildcard */
	CHECK_STR(g.prefix, "/etc/nginx");
	CHECK_INT(g.nparts, 1);
	CHECK_STR(g.parts[0], "nginx.conf");
	CHECK(mtab_glob_match(&g, "nginx.conf"));
	CHECK(!mtab_glob_match(&g, "other.conf"));
	mtab_glob_free(&g);

	CHECK_INT(mtab_glob_parse("/*.conf", &g), 0);
	CHECK_STR(g.prefix, "/");
	CHECK_INT(g.nparts, 1);
	CHECK(mtab_glob_match(&g, "a.conf"));
	CHECK(!mtab_glob_match(&g, ".a.conf"));
	mtab_glob_free(&g);

	CHECK_INT(mtab_glob_parse("/srv/www/site?/conf/[ab]*.ini", &g), 0);
	CHECK_STR(g.prefix, "/srv/www");
	CHECK_INT(g.nparts, 3);
	CHECK_STR(g.parts[0], "site?");
	CHECK_STR(g.parts[1], "conf");
	CHECK_STR(g.parts[2], "[ab]*.ini");
	CHECK(mtab_glob_match(&g, "site1/conf/b.ini"));
	CHECK(!mtab_glob_match(&g, "site12/conf/b.ini"));
	CHECK(!mtab_glob_match(&g, "site1/conf/c.ini"));
	mtab_glob_free(&g);

	CHECK_INT(mtab_glob_parse("opt/*/x", &g), -EINVAL);
	CHECK(g.prefix == NULL && g.nparts == 0);
	CHECK_INT(mtab_glob_parse("", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse("/", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse("/opt//x", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse("/opt/*/", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse("/opt/../x/*", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse("/opt/*/./x", &g), -EINVAL);
	CHECK_INT(mtab_glob_parse(NULL, &g), -EINVAL);
}

/* [remote] and check-timeout. */
static void test_remote(void)
{
	struct mtab *tab;

	tab = load_ok("[mount \"n\"]\n\tkind = tree\n\tsource = /n\n\tcheck = true\n");
	if (tab) {
		CHECK(!tab->remote.url && !tab->remote.branch);
		CHECK_INT(tab->entries[0].check_timeout, 0);
		mtab_free(tab);
	}
	tab = load_ok("[remote]\n\turl = /srv/backup/config.git\n[mount \"n\"]\n\tkind = tree\n"
		      "\tsource = /n\n\ton-change = true\n\tcheck-timeout = 5\n");
	if (tab) {
		CHECK_STR(tab->remote.url, "/srv/backup/config.git");
		CHECK_STR(tab->remote.branch, "main");
		CHECK_INT(tab->remote.interval, MTAB_PUSH_INTERVAL);
		CHECK_INT(tab->entries[0].check_timeout, 5);
		mtab_free(tab);
	}
	tab = load_ok("[remote]\n\turl = backup@vps2.example:statefs/config.git\n"
		      "\tbranch = vps1\n\tinterval = 0\n");
	if (tab) {
		CHECK_STR(tab->remote.branch, "vps1");
		CHECK_INT(tab->remote.interval, 0);
		mtab_free(tab);
	}
	tab = load_ok("[remote]\n\turl = ssh://git@host:2222/srv/config.git\n");
	mtab_free(tab);
	load_err("[remote]\n\turl = config.git\n", EINVAL,
		 ":2: remote.url: bad url 'config.git' (expected an absolute path, ssh://host/path, "
		 "[user@]host:path or file:///path)");
	load_err("[remote]\n\turl = https://example.com/x.git\n", EINVAL,
		 ":2: remote.url: bad url 'https://example.com/x.git' (expected an absolute path, "
		 "ssh://host/path, [user@]host:path or file:///path)");
	load_err("[remote]\n\tbranch = main\n", EINVAL,
		 ":1: remote.url: missing (expected a path, ssh://host/path or host:path)");
	load_err("[remote]\n\turl = /x\n\tbranch = a..b\n", EINVAL,
		 ":3: remote.branch: bad branch name 'a..b' (expected a git branch name like main)");
	load_err("[remote \"o\"]\n\turl = /x\n", EINVAL, ":1: remote.o.url: [remote] takes no name");
	load_err("[mount \"n\"]\n\tkind = tree\n\tsource = /n\n\tcheck-timeout = 0\n", EINVAL,
		 ":4: mount.n.check-timeout: bad time '0' (expected 1 to 86400 seconds)");
	load_err("[mount \"n\"]\n\tkind = tree\n\tsource = /n\n\tcheck-timeout = 9\n", EINVAL,
		 ":4: mount.n.check-timeout: given without check or on-change");
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(conf, sizeof(conf), "%s/statefs.conf", dir);
	test_load();
	test_errors();
	test_missing();
	test_glob();
	test_remote();
	unlink(conf);
	rmdir(dir);
	UNIT_DONE();
}
