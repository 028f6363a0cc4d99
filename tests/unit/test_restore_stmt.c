/*
 * test_restore_stmt.c - what a restore runs and what it refuses (restore/stmt.h): the
 * statements of our dumps and of mariadb-dump's, and the ways a file could reach beyond the
 * database being restored.
 */
#include "restore/stmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

static const char *const others[] = {"wp", "clemence_db", "Shop"};
static const struct restore_guard guard = {"fidelity", others, 3, 101106};

static int classify(const char *sql, struct restore_stmt *st, char *err)
{
	err[0] = '\0';
	return restore_stmt_classify(sql, strlen(sql), &guard, st, err, 256);
}

#define KIND(sql, k, nm)                                                                           \
	do {                                                                                       \
		struct restore_stmt st_;                                                           \
		char err_[256];                                                                    \
		int rc_ = classify(sql, &st_, err_);                                               \
		CHECK_MSG(rc_ == 0 && st_.kind == (k) && !strcmp(st_.name, nm),                    \
			  "%s: kind %d name '%s' (rc %d kind %d name '%s' %s)", sql, (int)(k), nm, \
			  rc_, (int)st_.kind, st_.name, err_);                                     \
	} while (0)

#define REFUSED(sql, want_rc, words)                                                               \
	do {                                                                                       \
		struct restore_stmt st_;                                                           \
		char err_[256];                                                                    \
		int rc_ = classify(sql, &st_, err_);                                               \
		CHECK_MSG(rc_ == (want_rc) && strstr(err_, words),                                 \
			  "%s: refused %d with '%s' "                                              \
			  "(rc %d: %s)",                                                           \
			  sql, want_rc, words, rc_, err_);                                         \
	} while (0)

static void test_ours(void)
{
	struct restore_stmt st;
	char err[256];

	KIND("SET NAMES utf8mb4", RESTORE_STMT_SET, "");
	KIND("SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO'", RESTORE_STMT_SET,
	     "");
	KIND("SET SQL_MODE=@saved_sql_mode, TIME_ZONE=@saved_time_zone", RESTORE_STMT_SET, "");
	KIND("DROP TABLE IF EXISTS `we``ird name`", RESTORE_STMT_TABLE_DROP, "we`ird name");
	KIND("DROP SEQUENCE IF EXISTS `seq1`", RESTORE_STMT_TABLE_DROP, "seq1");
	KIND("CREATE TABLE `a_child` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n)",
	     RESTORE_STMT_TABLE_CREATE, "a_child");
	KIND("CREATE SEQUENCE `seq1` start with 100 minvalue 10", RESTORE_STMT_TABLE_CREATE,
	     "seq1");
	KIND("INSERT INTO `t` (`a`,`b`) VALUES (1,'x.y'),(2,0x00)", RESTORE_STMT_ROWS, "t");
	KIND("DO SETVAL(`seq1`, 150, 0, 0)", RESTORE_STMT_TABLE_OTHER, "seq1");
	KIND("DROP FUNCTION IF EXISTS `add_tax`", RESTORE_STMT_OBJECT, "add_tax");
	KIND("CREATE DEFINER=`root`@`localhost` FUNCTION `add_tax`(x DECIMAL(10,2)) RETURNS "
	     "decimal(10,2)\n    DETERMINISTIC\nBEGIN\n  -- c\n  RETURN x * 1.2;\nEND",
	     RESTORE_STMT_OBJECT, "add_tax");
	KIND("CREATE DEFINER=\"root\"@\"localhost\" FUNCTION \"ansi_fn\"() RETURNS text "
	     "RETURN 'piped' || 'text'",
	     RESTORE_STMT_OBJECT, "ansi_fn");
	KIND("CREATE ALGORITHM=MERGE DEFINER=`root`@`localhost` SQL SECURITY INVOKER VIEW `taxed` "
	     "AS select `order`.`select` AS `id` from `order` WITH CASCADED CHECK OPTION",
	     RESTORE_STMT_OBJECT, "taxed");
	KIND("CREATE DEFINER=`root`@`localhost` TRIGGER child_au AFTER UPDATE ON a_child FOR EACH "
	     "ROW BEGIN IF NEW.parent_id <> OLD.parent_id THEN INSERT INTO nopk VALUES (NEW.id, "
	     "'moved', NULL); END IF; END",
	     RESTORE_STMT_OBJECT, "child_au");
	KIND("CREATE DEFINER=`root`@`localhost` EVENT `once_ev` ON SCHEDULE AT '2031-06-01' ON "
	     "COMPLETION PRESERVE ENABLE DO UPDATE z_parent SET name = name",
	     RESTORE_STMT_OBJECT, "once_ev");
	KIND("DROP PACKAGE BODY IF EXISTS pk", RESTORE_STMT_OBJECT, "pk");

	CHECK(classify("CREATE TABLE t (id INT, PRIMARY KEY (id))", &st, err) == 0 && st.has_pk);
	CHECK(classify("CREATE TABLE t (id INT, c TEXT COMMENT 'PRIMARY KEY')", &st, err) == 0 &&
	      !st.has_pk);
	CHECK(classify("CREATE TABLE t (id INT NOT NULL PRIMARY KEY)", &st, err) == 0 && st.has_pk);
	CHECK(classify("CREATE TABLE t (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n"
		       ") ENGINE=InnoDB AUTO_INCREMENT=5",
		       &st, err) == 0 &&
	      st.has_auto_inc);
	CHECK(classify("CREATE TABLE t (id INT, c TEXT COMMENT 'AUTO_INCREMENT') AUTO_INCREMENT=5", &st,
		       err) == 0 &&
	      !st.has_auto_inc);
	CHECK(classify("CREATE TABLE t (id INT AUTO_INCREMENT KEY)", &st, err) == 0 &&
	      st.has_auto_inc);
	CHECK(classify("CREATE VIEW v AS SELECT 1", &st, err) == 0 && st.create &&
	      st.obj == RESTORE_OBJ_VIEW);
	CHECK(classify("DROP TRIGGER IF EXISTS `t`", &st, err) == 0 && !st.create &&
	      st.obj == RESTORE_OBJ_TRIGGER);
}

/* What mariadb-dump writes, executable comments and all. */
static void test_mariadb_dump(void)
{
	KIND("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", RESTORE_STMT_SET,
	     "");
	KIND("/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n"
	     "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
	     RESTORE_STMT_SET, "");
	KIND("/*!40000 ALTER TABLE `t` DISABLE KEYS */", RESTORE_STMT_TABLE_OTHER, "t");
	KIND("LOCK TABLES `t` WRITE", RESTORE_STMT_SKIP, "");
	KIND("UNLOCK TABLES", RESTORE_STMT_SKIP, "");
	KIND("commit", RESTORE_STMT_SKIP, "");
	KIND("SELECT SETVAL(`seq1`, 150, 0)", RESTORE_STMT_TABLE_OTHER, "seq1");
	KIND("/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER gen_bi_1 "
	     "BEFORE INSERT ON gen FOR EACH ROW SET NEW.a = IFNULL(NEW.a, 0) */",
	     RESTORE_STMT_OBJECT, "gen_bi_1");
	KIND("/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50013 DEFINER=`root`@`localhost` SQL "
	     "SECURITY DEFINER */\n/*!50001 VIEW `v` AS select 1 AS `x` */",
	     RESTORE_STMT_OBJECT, "v");
	KIND("/*!50001 DROP VIEW IF EXISTS `v`*/", RESTORE_STMT_OBJECT, "v");
	KIND("/*!50106 DROP EVENT IF EXISTS `e` */", RESTORE_STMT_OBJECT, "e");
	KIND("INSERT IGNORE INTO t VALUES (1)", RESTORE_STMT_ROWS, "t");
	KIND("REPLACE INTO t VALUES (1)", RESTORE_STMT_ROWS, "t");
}

static void test_refused(void)
{
	REFUSED("USE mysql", -EPERM, "USE");
	REFUSED("use `fidelity`", -EPERM, "USE");
	REFUSED("CREATE DATABASE x", -EPERM, "DATABASE");
	REFUSED("CREATE SCHEMA IF NOT EXISTS x", -EPERM, "DATABASE");
	REFUSED("/*!40000 DROP DATABASE IF EXISTS `x`*/", -EPERM, "DATABASE");
	REFUSED("ALTER DATABASE `x` CHARACTER SET latin1", -EPERM, "DATABASE");
	REFUSED("CREATE PROCEDURE p() BEGIN DROP DATABASE x; END", -EPERM, "DROP DATABASE");
	REFUSED("INSERT INTO t SELECT * FROM mysql.user", -EPERM, "`mysql`");
	REFUSED("INSERT INTO t SELECT * FROM `MySQL`.`user`", -EPERM, "`MySQL`");
	REFUSED("INSERT INTO t VALUES ((SELECT x FROM wp.wp_users LIMIT 1))", -EPERM, "`wp`");
	REFUSED("INSERT INTO t VALUES ((SELECT x FROM shop . t))", -EPERM, "`shop`");
	REFUSED("INSERT INTO wp.t VALUES (1)", -EPERM, "qualified");
	REFUSED("INSERT INTO fidelity.t VALUES (1)", -EPERM, "qualified");
	REFUSED("INSERT INTO t SELECT * FROM fidelity.t", -EPERM, "`fidelity`");
	REFUSED("DROP TABLE IF EXISTS `x`.`t`", -EPERM, "qualified");
	REFUSED("CREATE TABLE t LIKE information_schema.tables", -EPERM, "information_schema");
	REFUSED("CREATE VIEW wp.v AS SELECT 1", -EPERM, "qualified");
	REFUSED("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW INSERT INTO wp.log VALUES (1)",
		-EPERM, "`wp`");
	REFUSED("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW INSERT INTO \"mysql\".\"db\" "
		"VALUES (1)",
		-EPERM, "`mysql`");
	REFUSED("SET GLOBAL max_connections = 1", -EPERM, "GLOBAL");
	REFUSED("SET @@global.sql_mode = ''", -EPERM, "@@global");
	REFUSED("SET x = 1, @@GLOBAL.y = 2", -EPERM, "@@GLOBAL");
	REFUSED("SET PASSWORD = PASSWORD('x')", -EPERM, "PASSWORD");
	REFUSED("SET STATEMENT max_statement_time=1 FOR DROP DATABASE x", -EPERM, "STATEMENT");
	REFUSED("SET ROLE admin", -EPERM, "ROLE");
	REFUSED("GRANT ALL ON *.* TO x", -EINVAL, "not a statement");
	REFUSED("CREATE PROCEDURE p() GRANT ALL ON *.* TO x", -EPERM, "GRANT");
	REFUSED("INSERT INTO t SELECT LOAD_FILE('/etc/shadow')", -EPERM, "LOAD_FILE");
	REFUSED("CREATE PROCEDURE p() SELECT 1 INTO OUTFILE '/tmp/x'", -EPERM, "OUTFILE");
	REFUSED("CREATE TABLE t (a INT) DATA DIRECTORY = '/etc'", -EPERM, "DIRECTORY");
	REFUSED("CREATE FUNCTION f RETURNS INTEGER SONAME 'evil.so'", -EPERM, "SONAME");
	REFUSED("CREATE TEMPORARY TABLE t (a INT)", -EINVAL, "TEMPORARY");
	REFUSED("DROP TABLE IF EXISTS a, b", -EINVAL, "one name");
	REFUSED("ALTER TABLE t ADD COLUMN x INT", -EINVAL, "ALTER");
	REFUSED("SELECT * FROM t", -EINVAL, "not a statement");
	REFUSED("TRUNCATE t", -EINVAL, "not a statement");
	REFUSED("CALL p()", -EINVAL, "not a statement");
	REFUSED("LOAD DATA INFILE '/etc/passwd' INTO TABLE t", -EINVAL, "not a statement");
	REFUSED("\\! rm -rf /", -EINVAL, "not a statement");
	REFUSED("source /etc/passwd", -EINVAL, "not a statement");
	REFUSED("CREATE USER x", -EINVAL, "not a statement");
	REFUSED("CREATE INDEX i ON t (a)", -EINVAL, "not a statement");
	REFUSED("CREATE /*M!999999 DATABASE x */ TABLE t (a INT)", 0, "");
	REFUSED("CREATE /*!99999 DATABASE x */ TABLE t (a INT)", -EPERM, "DATABASE");
	REFUSED("/*M!999999 USE mysql */ SET x = 1", 0, "");
}

static void test_allowed(void)
{
	/* a trigger's NEW./OLD., the live database in an object, columns and numbers */
	KIND("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = OLD.b + 1.5",
	     RESTORE_STMT_OBJECT, "tr");
	KIND("CREATE VIEW v AS SELECT t.a, fidelity.t.b FROM fidelity.t", RESTORE_STMT_OBJECT, "v");
	KIND("INSERT INTO t VALUES (1.5, 'mysql.user', \"wp.x\", 0x1F)", RESTORE_STMT_ROWS, "t");
	KIND("INSERT INTO t VALUES (-- mysql.user\n 1)", RESTORE_STMT_ROWS, "t");
	KIND("SET @@session.sql_mode = '', @x = @@global_var_not", RESTORE_STMT_SET, "");
}

static void defer(const char *sql, const char *table, int want, const char *create,
		  const char *alter)
{
	char *c = NULL, *a = NULL;
	size_t cl = 0, al = 0;
	int rc = restore_defer_keys(sql, strlen(sql), table, &c, &cl, &a, &al);

	CHECK_MSG(rc == want && (!want || (!strcmp(c, create) && !strcmp(a, alter) &&
					   cl == strlen(c) && al == strlen(a))),
		  "defer keys of %s: %d (got %d, create \"%s\", alter \"%s\")", table, want, rc,
		  c ? c : "", a ? a : "");
	free(c);
	free(a);
}

static void test_defer_keys(void)
{
	defer("CREATE TABLE `wp_postmeta` (\n"
	      "  `meta_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n"
	      "  `post_id` bigint(20) unsigned NOT NULL DEFAULT 0,\n"
	      "  `meta_key` varchar(255) DEFAULT NULL,\n"
	      "  PRIMARY KEY (`meta_id`),\n"
	      "  UNIQUE KEY `u` (`post_id`,`meta_key`),\n"
	      "  KEY `post_id` (`post_id`),\n"
	      "  KEY `meta_key` (`meta_key`(191)) COMMENT 'x,y'\n"
	      ") ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4",
	      "wp_postmeta", 1,
	      "CREATE TABLE `wp_postmeta` (\n"
	      "  `meta_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n"
	      "  `post_id` bigint(20) unsigned NOT NULL DEFAULT 0,\n"
	      "  `meta_key` varchar(255) DEFAULT NULL,\n"
	      "  PRIMARY KEY (`meta_id`),\n"
	      "  UNIQUE KEY `u` (`post_id`,`meta_key`)\n"
	      ") ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4",
	      "ALTER TABLE `wp_postmeta` ADD KEY `post_id` (`post_id`), ADD KEY `meta_key` "
	      "(`meta_key`(191)) COMMENT 'x,y'");
	defer("CREATE TABLE `we``ird` (\n  `a` int(11) NOT NULL,\n  `b` int(11),\n"
	      "  KEY `b` (`b`),\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB",
	      "we`ird", 1,
	      "CREATE TABLE `we``ird` (\n  `a` int(11) NOT NULL,\n  `b` int(11),\n"
	      "  PRIMARY KEY (`a`)\n) ENGINE=InnoDB",
	      "ALTER TABLE `we``ird` ADD KEY `b` (`b`)");
	/* what keeps its keys */
	defer("CREATE TABLE `t` (\n  `a` int,\n  PRIMARY KEY (`a`),\n  KEY `b` (`a`)\n"
	      ") ENGINE=Aria",
	      "t", 0, "", "");
	defer("CREATE TABLE `t` (\n  `a` int,\n  PRIMARY KEY (`a`),\n  UNIQUE KEY `b` (`a`)\n"
	      ") ENGINE=InnoDB",
	      "t", 0, "", "");
	defer("CREATE TABLE `c` (\n  `a` int,\n  `p` int,\n  PRIMARY KEY (`a`),\n"
	      "  KEY `p` (`p`),\n  CONSTRAINT `f` FOREIGN KEY (`p`) REFERENCES `x` (`a`)\n"
	      ") ENGINE=InnoDB",
	      "c", 0, "", "");
	defer("CREATE TABLE `t` (\n  `a` int,\n  `n` int NOT NULL AUTO_INCREMENT,\n"
	      "  PRIMARY KEY (`a`),\n  KEY `n` (`n`)\n) ENGINE=InnoDB",
	      "t", 0, "", "");
	defer("CREATE TABLE `t` (\n  `a` int,\n  PRIMARY KEY (`a`),\n  KEY `b` (`a`)\n"
	      ") ENGINE=InnoDB\n PARTITION BY HASH (`a`)",
	      "t", 0, "", "");
	defer("CREATE TABLE t (a int, b int, PRIMARY KEY (a), KEY (b)) ENGINE=InnoDB", "t", 0, "",
	      "");
}

int main(void)
{
	test_defer_keys();
	test_ours();
	test_mariadb_dump();
	test_refused();
	test_allowed();
	UNIT_DONE();
}
