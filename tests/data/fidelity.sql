-- tests/data/fidelity.sql - a database that breaks dumpers, for t2001-dump-fidelity.
-- Load into an empty database:  mariadb --comments DB < fidelity.sql   (MariaDB >= 10.10)
-- Every column type MariaDB has, edge values, and every kind of object. After a dump and a
-- restore into another database, every CHECKSUM TABLE ... EXTENDED and SHOW CREATE must match.

SET NAMES utf8mb4;
SET time_zone = '+00:00';
SET sql_mode = '';
SET foreign_key_checks = 1;
SET max_recursive_iterations = 100000;

-- Integers at their limits, signed and unsigned; DECIMAL at its widest.
CREATE TABLE ints (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED,
  si SMALLINT, su SMALLINT UNSIGNED,
  mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
  ii INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED,
  bo BOOLEAN,
  zf INT(8) UNSIGNED ZEROFILL,
  d65 DECIMAL(65,30), d10 DECIMAL(10,0), du DECIMAL(5,2) UNSIGNED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='limites des entiers — ünïcödé';
INSERT INTO ints VALUES
 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0, 0,
  '-99999999999999999999999999999999999.999999999999999999999999999999', -9999999999, 0),
 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807,
  18446744073709551615, 1, 12345,
  '99999999999999999999999999999999999.999999999999999999999999999999', 9999999999, 999.99),
 (3, 0, 1, -1, 1, 0, 1, 0, 1, -1, 1, NULL, 1,
  '0.000000000000000000000000000001', 0, 0.01),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Floating point: extremes, denormals, values the 6-digit FLOAT text would round.
CREATE TABLE floats (
  id INT NOT NULL PRIMARY KEY,
  f FLOAT, d DOUBLE, fd FLOAT(7,3), dd DOUBLE(20,10), r REAL
) ENGINE=InnoDB;
INSERT INTO floats VALUES
 (1, 3.4028234663852886e38, 1.7976931348623157e308, 1234.567, 1234567890.0123456789, 1e-300),
 (2, -3.4028234663852886e38, -1.7976931348623157e308, -9999.999, -0.0000000001, -1e300),
 (3, 1.1754943508222875e-38, 2.2250738585072014e-308, 0.001, 0, 0.1),
 (4, 1.401298464324817e-45, 4.9406564584124654e-324, 0, 1, 1/3),
 (5, 0.1, 0.1, 0.1, 0.1, 0.1),
 (6, 1/3, 1/3, 1/3, 1/3, 2/3),
 (7, 16777217, 9007199254740993, 0.0005, 1e10, 123456789.123456789),
 (8, 3.14159265, 3.141592653589793, 3.142, 3.14159265358979, 2.718281828459045),
 (9, NULL, NULL, NULL, NULL, NULL);

-- BIT.
CREATE TABLE bits (
  id INT NOT NULL PRIMARY KEY,
  b1 BIT(1), b7 BIT(7), b64 BIT(64)
) ENGINE=InnoDB;
INSERT INTO bits VALUES (1, b'0', b'0000000', 0), (2, b'1', b'1111111', 0xFFFFFFFFFFFFFFFF),
 (3, NULL, b'1010101', b'1000000000000000000000000000000000000000000000000000000000000001'),
 (4, 1, 64, 1);

-- Dates and times: zero dates, the edges of each range, fractional seconds, TIMESTAMPs
-- around the 2038 limit and a DST change (stored as UTC; dumped with time_zone +00:00).
CREATE TABLE times (
  id INT NOT NULL PRIMARY KEY,
  da DATE, ti TIME(6), dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, ye YEAR,
  dt0 DATETIME, ts0 TIMESTAMP NULL DEFAULT NULL
) ENGINE=InnoDB;
INSERT INTO times VALUES
 (1, '0000-00-00', '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', 0000,
  '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
 (2, '1000-01-01', '-838:59:59.000000', '1000-01-01 00:00:00.000000',
  '1970-01-01 00:00:01.000000', 1901, '1000-01-01 00:00:00', '1970-01-01 00:00:01'),
 (3, '9999-12-31', '838:59:59.000000', '9999-12-31 23:59:59.999999',
  '2038-01-19 03:14:07.999999', 2155, '9999-12-31 23:59:59', '2038-01-19 03:14:07'),
 (4, '2024-02-29', '-00:00:00.000001', '2024-02-29 12:34:56.789012',
  '2024-10-27 01:30:00.500000', 2024, '2024-10-27 02:30:00', '2024-03-31 01:59:59'),
 (5, '2000-00-00', '12:00:00.5', '2000-01-00 00:00:00', '2024-03-31 02:30:00', 1970,
  NULL, NULL),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Character strings: NULL vs '' vs 'NULL', quotes, backslashes, control bytes, \0, emoji,
-- SQL and client syntax inside data, several character sets.
CREATE TABLE strs (
  id INT NOT NULL PRIMARY KEY,
  c CHAR(20), vc VARCHAR(255), tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  l1 VARCHAR(50) CHARACTER SET latin1, u3 VARCHAR(50) CHARACTER SET utf8mb3,
  bn VARCHAR(50) COLLATE utf8mb4_bin, cz TEXT COMPRESSED
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO strs VALUES
 (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (2, '', '', '', '', '', '', '', '', '', ''),
 (3, 'NULL', 'NULL', 'null', 'NULL', '\\N', 'N', 'NULL', 'NULL', 'NULL', 'NULL'),
 (4, 'it''s', 'say "hi" and ''bye''', '`back`ticks`', 'a\\b\\\\c\\', 'trailing  ',
  ' leading', 'quote''s', 'dbl"quote', 'b\\s', 'x'),
 (5, 'line1\nline2', 'cr\rlf\r\n', 'tab\there', CONCAT('nul', CHAR(0), 'byte', CHAR(0)),
  CONCAT('ctrl-z', CHAR(26), 'end'), CONCAT(CHAR(0), CHAR(1), CHAR(2), CHAR(31), CHAR(127)),
  'café', 'naïve', 'ß', CONCAT(REPEAT('z', 1000), CHAR(0))),
 (6, '😀', '😀🎉 emoji 𝄞 and 中文 and עברית', '👍', CONCAT('4-byte: ', '🦄', '🧪'),
  '😀', '🏳️‍🌈', 'Ünïcödé', 'ĀĒĪŌŪ', '😀', '🚀'),
 (7, ';', 'DELIMITER ;;', '-- not a comment', '/* not a comment */ # nor this',
  'INSERT INTO strs VALUES (1);', 'x;;\nDELIMITER ;\n;;', 'a;b', '\\g \\G \\q', '\\', ';;'),
 (8, 'trailing   ', 'trailing   ', 'trailing   ', 'trailing   ', 'trailing   ',
  'trailing   ', 'trailing   ', 'trailing   ', 'trailing   ', 'trailing   ');

-- Binary strings: all 256 byte values, trailing zero bytes, the empty string.
CREATE TABLE bins (
  id INT NOT NULL PRIMARY KEY,
  bn BINARY(16), vb VARBINARY(300), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB
) ENGINE=InnoDB;
INSERT INTO bins VALUES
 (1, NULL, NULL, NULL, NULL, NULL, NULL),
 (2, '', '', '', '', '', ''),
 (3, X'00', X'00', X'00', X'00', X'00', X'00'),
 (4, X'000102030405060708090A0B0C0D0E0F', X'FF00FF00', X'0000', X'5C27220A0D1A00', 'NULL', X''),
 (5, 'abc', CONCAT(X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F',
  X'808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF'),
  X'FF00',
  X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF',
  X'000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF',
  X'000000FF');

-- ENUM and SET, including the empty (error) enum value and the empty set; JSON.
CREATE TABLE enums (
  id INT NOT NULL PRIMARY KEY,
  e ENUM('a', 'b''q', 'c d', 'NULL', ''), s SET('x', 'y', 'z'),
  j JSON, jn JSON NOT NULL DEFAULT '{}'
) ENGINE=InnoDB;
INSERT INTO enums VALUES
 (1, 'a', '', '{"a": [1, 2.5, "three", null, true], "b": {"c": "\\u00e9\\n\\"q\\""}}', '[]'),
 (2, 'b''q', 'x,z', '"string with \\\\ backslash"', '{"emoji": "😀"}'),
 (3, '', 'x,y,z', 'null', '1'),
 (4, 'NULL', 'y', NULL, '{}'),
 (5, NULL, NULL, '[]', '{"k": "v"}'),
 (6, 'c d', 'z,x', '12345678901234567890', '-0.0');
INSERT INTO enums (id, e) VALUES (7, 'not in the list');

-- Spatial types, with a spatial index; the new MariaDB types INET4, INET6, UUID.
CREATE TABLE geo (
  id INT NOT NULL PRIMARY KEY,
  g GEOMETRY, p POINT NOT NULL, ls LINESTRING, pg POLYGON, mp MULTIPOINT,
  gc GEOMETRYCOLLECTION, mpg MULTIPOLYGON, mls MULTILINESTRING,
  SPATIAL KEY sp (p)
) ENGINE=InnoDB;
INSERT INTO geo VALUES
 (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-180 -90)'),
  ST_GeomFromText('LINESTRING(0 0, 1 1, 2 2)'),
  ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))'),
  ST_GeomFromText('MULTIPOINT(1 1, 2 2)'),
  ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(0 0, 1 1))'),
  ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))'),
  ST_GeomFromText('MULTILINESTRING((0 0, 1 1), (2 2, 3 3))')),
 (2, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'),
  ST_GeomFromText('POINT(0.1 1e-300)'), NULL, NULL, NULL, NULL, NULL, NULL),
 (3, NULL, POINT(3.141592653589793, -2.718281828459045), NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE nettypes (
  id INT NOT NULL PRIMARY KEY,
  i4 INET4, i6 INET6, u UUID
) ENGINE=InnoDB;
INSERT INTO nettypes VALUES
 (1, '0.0.0.0', '::', '00000000-0000-0000-0000-000000000000'),
 (2, '255.255.255.255', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  'ffffffff-ffff-ffff-ffff-ffffffffffff'),
 (3, '10.1.2.3', '::ffff:10.1.2.3', '123e4567-e89b-12d3-a456-426614174000'),
 (4, '127.0.0.1', '2001:db8::1', '6ccd780c-baba-1026-9564-5b8c656024db'),
 (5, NULL, NULL, NULL);

-- Generated columns (virtual and stored), an invisible column, a CHECK constraint.
CREATE TABLE gen (
  id INT NOT NULL PRIMARY KEY,
  a INT, b VARCHAR(20),
  v INT AS (a * 2) VIRTUAL,
  s VARCHAR(40) AS (CONCAT(b, '-', a)) STORED,
  hidden INT INVISIBLE DEFAULT 42,
  CONSTRAINT a_positive CHECK (a IS NULL OR a >= 0),
  KEY (s)
) ENGINE=InnoDB;
INSERT INTO gen (id, a, b, hidden) VALUES (1, 1, 'one', 7), (2, NULL, 'two', NULL),
 (3, 3, NULL, 42), (4, 0, '', -1);

-- Reserved words as names, and a name that needs its backtick doubled.
CREATE TABLE `order` (
  `select` INT NOT NULL PRIMARY KEY,
  `from` VARCHAR(10), `where` INT, `group` TEXT, `key` INT, `index` INT
) ENGINE=InnoDB;
INSERT INTO `order` VALUES (1, 'from', 2, 'group by', 3, 4), (2, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE `select` (`order` INT, `table` VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO `select` VALUES (1, 'x'), (1, 'x'), (NULL, NULL);
CREATE TABLE `we``ird name` (`col ``1` INT NOT NULL PRIMARY KEY, `col 2` TEXT) ENGINE=InnoDB;
INSERT INTO `we``ird name` VALUES (1, 'weird'), (2, '`');

-- No primary key: duplicate rows, NULLs; one ordered by a NOT NULL unique key; an Aria table.
CREATE TABLE nopk (a INT, b VARCHAR(10), c BLOB) ENGINE=InnoDB;
INSERT INTO nopk VALUES (1, 'dup', X'00'), (1, 'dup', X'00'), (NULL, NULL, NULL), (2, '', ''),
 (0, 'zero', X'FF');
CREATE TABLE uniq (u1 INT NOT NULL, u2 VARCHAR(10) NOT NULL, n INT, UNIQUE KEY (u1, u2))
  ENGINE=InnoDB;
INSERT INTO uniq VALUES (2, 'b', 1), (1, 'z', 2), (1, 'a', NULL);
CREATE TABLE aria_t (id INT NOT NULL PRIMARY KEY, t TEXT) ENGINE=Aria;
INSERT INTO aria_t VALUES (1, 'aria'), (2, NULL);

-- Foreign keys: the child sorts before its parent, and a self-reference.
CREATE TABLE z_parent (id INT NOT NULL PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;
CREATE TABLE a_child (
  id INT NOT NULL PRIMARY KEY,
  parent_id INT,
  up INT,
  CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES z_parent (id)
    ON DELETE CASCADE ON UPDATE RESTRICT,
  CONSTRAINT fk_self FOREIGN KEY (up) REFERENCES a_child (id)
) ENGINE=InnoDB;
INSERT INTO z_parent VALUES (1, 'p1'), (2, 'p2');
INSERT INTO a_child VALUES (1, 1, NULL), (2, 1, 1), (3, 2, 2), (4, NULL, 3);

-- AUTO_INCREMENT with a stored 0 (needs NO_AUTO_VALUE_ON_ZERO on restore), and a counter
-- ahead of the data.
CREATE TABLE autoinc (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))
  ENGINE=InnoDB AUTO_INCREMENT=1000;
SET sql_mode = 'NO_AUTO_VALUE_ON_ZERO';
INSERT INTO autoinc VALUES (0, 'zero'), (5, 'five');
SET sql_mode = '';
INSERT INTO autoinc (v) VALUES ('next');

-- A partitioned table.
CREATE TABLE parts (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB
  PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (100),
                           PARTITION p1 VALUES LESS THAN MAXVALUE);
INSERT INTO parts VALUES (1, 1), (150, 2), (99, 3);

-- A row of several MiB (a 4 MiB blob and a 2 MiB text of quotes and backslashes).
CREATE TABLE big (id INT NOT NULL PRIMARY KEY, b LONGBLOB, t LONGTEXT) ENGINE=InnoDB;
INSERT INTO big VALUES (1, REPEAT(X'00FF5C27', 1024 * 1024), REPEAT('\'\\"\n', 512 * 1024)),
 (2, X'01', 'small');

-- Many rows, for statement boundaries and parallel workers.
CREATE TABLE many (id INT NOT NULL PRIMARY KEY, v VARCHAR(100), n DOUBLE) ENGINE=InnoDB;
INSERT INTO many
  WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 6000)
  SELECT 2 * n, CONCAT('row ', n, ' ', SHA2(n, 256)), n / 7 FROM c;

-- A sequence.
CREATE SEQUENCE seq1 START WITH 100 INCREMENT BY 5 MINVALUE 10 MAXVALUE 100000 CACHE 10 CYCLE;
SELECT NEXTVAL(seq1) INTO @ignored;

-- Routines; a function used by a view; a body holding ';;' and comments.
DELIMITER //
CREATE FUNCTION add_tax(x DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC
  COMMENT 'a function used by a view'
BEGIN
  -- a comment inside the body
  RETURN x * 1.2; /* and another */
END//
CREATE PROCEDURE fill(IN n INT, OUT total INT)
  SQL SECURITY INVOKER
BEGIN
  DECLARE i INT DEFAULT 0;
  SET total = 0;
  WHILE i < n DO
    SET total = total + i; -- ';;' in a comment
    SET i = i + 1;
  END WHILE;
  SELECT 'a string with ;; inside' INTO @ignored;
END//
DELIMITER ;
SET sql_mode = 'ANSI_QUOTES,PIPES_AS_CONCAT,ONLY_FULL_GROUP_BY';
CREATE FUNCTION "ansi_fn"() RETURNS TEXT DETERMINISTIC RETURN 'piped' || 'text';
SET sql_mode = '';

-- Views: a view on a view whose name sorts first, and a view calling a function.
CREATE VIEW zz_base AS SELECT id, a, b FROM gen WHERE a IS NOT NULL;
CREATE VIEW a_on_view AS SELECT id, a * 10 AS a10 FROM zz_base;
CREATE VIEW m_on_two AS SELECT x.id, x.a10, y.b FROM a_on_view x JOIN zz_base y USING (id);
CREATE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW taxed AS
  SELECT `select` AS id, add_tax(`where`) AS price FROM `order`
  WITH CHECK OPTION;

-- Triggers: two on the same table and event, in a given order.
CREATE TRIGGER gen_bi_2 BEFORE INSERT ON gen FOR EACH ROW SET NEW.b = UPPER(NEW.b);
CREATE TRIGGER gen_bi_1 BEFORE INSERT ON gen FOR EACH ROW PRECEDES gen_bi_2
  SET NEW.a = IFNULL(NEW.a, 0);
DELIMITER ;;
CREATE TRIGGER child_au AFTER UPDATE ON a_child FOR EACH ROW
BEGIN
  IF NEW.parent_id <> OLD.parent_id THEN
    INSERT INTO nopk VALUES (NEW.id, 'moved', NULL);
  END IF;
END;;
DELIMITER ;

-- An event (the test server runs with the event scheduler off, so it never fires).
SET time_zone = '+02:00';
CREATE EVENT purge_nopk ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00'
  ON COMPLETION PRESERVE DISABLE COMMENT 'nightly'
  DO DELETE FROM nopk WHERE a IS NULL;
SET time_zone = '+00:00';
CREATE EVENT once_ev ON SCHEDULE AT '2031-06-01 00:00:00' ON COMPLETION PRESERVE
  DO UPDATE z_parent SET name = name;
