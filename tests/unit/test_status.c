/*
 * test_status.c - the pieces of `statefs status` and .statefs/metrics: the JSON writer (escapes,
 * invalid UTF-8, numbers, misuse), the Prometheus writer (HELP/TYPE, label escapes, values,
 * misuse), event files (round trip, escapes on disk, last-error, a reader's tolerance and
 * strictness) and the mountinfo lookup. status_gather is in test_status_gather.c.
 */
#include "snapshot/events.h"
#include "snapshot/json.h"
#include "snapshot/prom.h"
#include "snapshot/status.h"
#include "tests/unit/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char err[1024];

static void test_json(void)
{
	struct json j;
	char *out;
	size_t len;

	json_init(&j);
	json_begin_object(&j, NULL);
	json_string(&j, "s", "a\"b\\c\nd\te\x01 caf\xc3\xa9 \xe2\x98\x95");
	json_string(&j, "bad", "x\xffy\xc3(z\xed\xa0\x80");
	json_string(&j, "none", NULL);
	json_int(&j, "min", INT64_MIN);
	json_uint(&j, "max", UINT64_MAX);
	json_double(&j, "d", 0.1);
	json_double(&j, "whole", 3.0);
	json_double(&j, "nan", NAN);
	json_bool(&j, "t", true);
	json_null(&j, "n");
	json_begin_array(&j, "a");
	json_int(&j, NULL, 1);
	json_begin_object(&j, NULL);
	json_end_object(&j);
	json_begin_array(&j, NULL);
	json_end_array(&j);
	json_end_array(&j);
	json_end_object(&j);
	CHECK_INT(json_finish(&j, &out, &len), 0);
	CHECK_STR(out, "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001 caf\xc3\xa9 \xe2\x98\x95\","
		       "\"bad\":\"x\xef\xbf\xbdy\xef\xbf\xbd(z\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
		       "\"none\":null,\"min\":-9223372036854775808,\"max\":18446744073709551615,"
		       "\"d\":0.1,\"whole\":3,\"nan\":null,\"t\":true,\"n\":null,"
		       "\"a\":[1,{},[]]}\n");
	CHECK_INT(len, strlen(out));
	free(out);

	/* indented output */
	json_init(&j);
	j.indent = 2;
	json_begin_object(&j, NULL);
	json_int(&j, "a", 1);
	json_begin_array(&j, "b");
	json_string(&j, NULL, "x");
	json_end_array(&j);
	json_end_object(&j);
	CHECK_INT(json_finish(&j, &out, &len), 0);
	CHECK_STR(out, "{\n  \"a\": 1,\n  \"b\": [\n    \"x\"\n  ]\n}\n");
	free(out);

	/* misuse is remembered and reported at the end */
	json_init(&j);
	json_begin_array(&j, NULL);
	json_int(&j, "key", 1); /* a key inside an array */
	json_end_array(&j);
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
	CHECK(out == NULL);
	json_init(&j);
	json_begin_object(&j, NULL);
	json_int(&j, NULL, 1); /* a value without a key in an object */
	json_end_object(&j);
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
	json_init(&j);
	json_begin_object(&j, NULL); /* never closed */
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
	json_init(&j);
	json_int(&j, NULL, 1);
	json_int(&j, NULL, 2); /* two documents */
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
	json_init(&j);
	json_begin_object(&j, NULL);
	json_end_array(&j); /* the wrong closer */
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
	json_init(&j);
	for (int i = 0; i < JSON_DEPTH_MAX + 1; i++)
		json_begin_array(&j, NULL);
	CHECK_INT(json_finish(&j, &out, &len), -EINVAL);
}

static void test_prom(void)
{
	const char *labels[] = {"path", "a\\b\"c\nd", "kind", "x", NULL};
	struct prom p;
	char *out;
	size_t len;

	prom_init(&p);
	prom_gauge(&p, "x_up", "Up.\nSecond line with a \\ backslash \"quoted\".", 1);
	prom_family(&p, "x_bytes", "counter", "Bytes.");
	prom_sample(&p, "x_bytes_total", labels, 1e20);
	prom_sample(&p, "x_bytes_total", NULL, 0.5);
	prom_gauge(&p, "x_nan", "NaN.", NAN);
	prom_gauge(&p, "x_inf", "Inf.", -INFINITY);
	prom_gauge(&p, "x_big", "2^53.", 9007199254740992.0);
	prom_gauge(&p, "x_neg", "Negative.", -3);
	CHECK_INT(prom_finish(&p, &out, &len), 0);
	CHECK_STR(out, "# HELP x_up Up.\\nSecond line with a \\\\ backslash \"quoted\".\n"
		       "# TYPE x_up gauge\n"
		       "x_up 1\n"
		       "# HELP x_bytes Bytes.\n"
		       "# TYPE x_bytes counter\n"
		       "x_bytes_total{path=\"a\\\\b\\\"c\\nd\",kind=\"x\"} 1e+20\n"
		       "x_bytes_total 0.5\n"
		       "# HELP x_nan NaN.\n# TYPE x_nan gauge\nx_nan NaN\n"
		       "# HELP x_inf Inf.\n# TYPE x_inf gauge\nx_inf -Inf\n"
		       "# HELP x_big 2^53.\n# TYPE x_big gauge\nx_big 9007199254740992\n"
		       "# HELP x_neg Negative.\n# TYPE x_neg gauge\nx_neg -3\n");
	free(out);

	CHECK(prom_name_valid("statefs_up", false));
	CHECK(prom_name_valid("a:b_c9", false));
	CHECK(!prom_name_valid("9a", false));
	CHECK(!prom_name_valid("a-b", false));
	CHECK(!prom_name_valid("a:b", true));
	CHECK(!prom_name_valid("__x", true));
	CHECK(!prom_name_valid("", false));

	prom_init(&p);
	prom_sample(&p, "x_up", NULL, 1); /* no family yet */
	CHECK_INT(prom_finish(&p, &out, &len), -EINVAL);
	prom_init(&p);
	prom_gauge(&p, "x_up", "Up.", 1);
	prom_gauge(&p, "x_up", "Up again.", 1); /* one block per family */
	CHECK_INT(prom_finish(&p, &out, &len), -EINVAL);
	prom_init(&p);
	prom_gauge(&p, "x_up", "Up.", 1);
	prom_sample(&p, "y_other", NULL, 1); /* not the family's */
	CHECK_INT(prom_finish(&p, &out, &len), -EINVAL);
	prom_init(&p);
	prom_family(&p, "x-bad", "gauge", "Bad name.");
	CHECK_INT(prom_finish(&p, &out, &len), -EINVAL);
	prom_init(&p);
	prom_family(&p, "x_t", "gaug", "Bad type.");
	CHECK_INT(prom_finish(&p, &out, &len), -EINVAL);
	prom_init(&p);
	CHECK_INT(prom_finish(&p, &out, &len), 0); /* nothing is a valid exposition */
	CHECK_STR(out, "");
	free(out);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void test_events(const char *dir)
{
	struct event ev, ev2;
	char path[512], big[3000], *text;

	CHECK_INT(events_read(dir, "verify", &ev, err, sizeof(err)), -ENOENT);
	CHECK_INT(events_record(dir, "verify", EVENT_OK, 1.2345, "2025-10-01", err, sizeof(err),
				"all %d passed\nnext \\ line", 3),
		  0);
	snprintf(path, sizeof(path), "%s/status/last-verify", dir);
	text = slurp(path);
	CHECK(text && strstr(text, "statefs-event 1\nkind verify\ntime "));
	CHECK(text && strstr(text, "\nresult ok\nduration_ms 1235\nwhat 2025-10-01\n"
				   "message all 3 passed\\012next \\134 line\nend\n"));
	CHECK_INT(events_read(dir, "verify", &ev, err, sizeof(err)), 0);
	CHECK_STR(ev.kind, "verify");
	CHECK_INT(ev.result, EVENT_OK);
	CHECK_INT(ev.duration_ms, 1235);
	CHECK_STR(ev.what, "2025-10-01");
	CHECK_STR(ev.message, "all 3 passed\nnext \\ line");
	CHECK(llabs(ev.time - (int64_t)time(NULL)) < 5);
	CHECK_INT(events_read(dir, "error", &ev2, err, sizeof(err)), -ENOENT); /* ok: no error */

	/* a failure is also the last error; unknown duration, no what */
	CHECK_INT(events_record(dir, "restore", EVENT_FAILED, -1, NULL, err, sizeof(err),
				"db/%s: %s", "shop", "refused"),
		  0);
	CHECK_INT(events_read(dir, "error", &ev2, err, sizeof(err)), 0);
	CHECK_STR(ev2.kind, "restore");
	CHECK_INT(ev2.result, EVENT_FAILED);
	CHECK_INT(ev2.duration_ms, -1);
	CHECK_STR(ev2.what, "");
	CHECK_STR(ev2.message, "db/shop: refused");

	/* long texts are cut (at a character), and still read back */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + EVENTS_MESSAGE_MAX - 2, "\xc3\xa9", 2); /* é across the cut */
	CHECK_INT(events_record(dir, "snapshot", EVENT_INCOMPLETE, 0, big, err, sizeof(err), "%s",
				big),
		  0);
	CHECK_INT(events_read(dir, "snapshot", &ev, err, sizeof(err)), 0);
	CHECK_INT(strlen(ev.what), EVENTS_WHAT_MAX - 1);
	CHECK_INT(strlen(ev.message), EVENTS_MESSAGE_MAX - 2);
	CHECK_INT(ev.result, EVENT_INCOMPLETE);
	CHECK_INT(events_read(dir, "error", &ev2, err, sizeof(err)), 0);
	CHECK_STR(ev2.kind, "snapshot"); /* incomplete counts as an error */

	CHECK_INT(events_record(dir, "Bad-Kind", EVENT_OK, 0, NULL, err, sizeof(err), NULL),
		  -EINVAL);
	CHECK_INT(events_read(dir, "../x", &ev, err, sizeof(err)), -EINVAL);
	CHECK(!events_kind_valid(""));
	CHECK(events_kind_valid("push"));

	/* the parser: later keys ignored, the rest strict */
	static const char good[] = "statefs-event 1\nkind check\ntime 5\nresult failed\n"
				   "what \nmessage nginx -t failed\ncommit abc\nend\n";
	CHECK_INT(events_parse(good, strlen(good), &ev, err, sizeof(err)), 0);
	CHECK_STR(ev.kind, "check");
	CHECK_INT(ev.time, 5);
	CHECK_STR(ev.message, "nginx -t failed");
	static const char *const bad[] = {
	    "statefs-event 1\nkind x\ntime 5\nresult ok\n",		  /* cut off */
	    "statefs-event 2\nkind x\ntime 5\nresult ok\nend\n",	  /* a later version */
	    "statefs-event 1\nkind x\ntime 5\nresult maybe\nend\n",	  /* unknown result */
	    "statefs-event 1\nkind x\ntime five\nresult ok\nend\n",	  /* not a number */
	    "statefs-event 1\nkind x\nresult ok\nend\n",		  /* no time */
	    "statefs-event 1\nkind x\ntime 5\nresult ok\nend\nmore\n",	  /* after the end */
	    "statefs-event 1\nkind x\ntime 5\nresult ok\nmessage \\9\nend\n", /* bad escape */
	    "statefs-event 1\nkind X\ntime 5\nresult ok\nend\n",	  /* bad kind */
	    "statefs-event 1\nkind x\ntime 5\nresult ok\nend",		  /* no newline */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(events_parse(bad[i], strlen(bad[i]), &ev, err, sizeof(err)) == -EINVAL,
			  "bad event %zu refused (%s)", i, err);
}

static void test_mountinfo(void)
{
	static const char mi[] =
	    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	    "60 22 0:50 / /srv/other rw,nosuid - fuse.statefs /etc/other.conf rw,user_id=0\n"
	    "61 22 0:51 / /srv/my\\040state rw,nosuid shared:5 master:1 - fuse.statefs "
	    "/etc/statefs/my\\040conf rw,user_id=0\n"
	    "62 22 0:52 / /mnt/x rw - fuse.sshfs /etc/statefs/statefs.conf rw\n";
	char mnt[256];

	CHECK(status_find_mount(mi, "/etc/statefs/my conf", mnt, sizeof(mnt)));
	CHECK_STR(mnt, "/srv/my state");
	CHECK(status_find_mount(mi, "/etc/other.conf", mnt, sizeof(mnt)));
	CHECK_STR(mnt, "/srv/other");
	CHECK(!status_find_mount(mi, "/etc/statefs/statefs.conf", mnt, sizeof(mnt))); /* sshfs */
	CHECK(!status_find_mount("", "/x", mnt, sizeof(mnt)));
	CHECK(!status_find_mount("garbage without fields\n", "/x", mnt, sizeof(mnt)));
}

int main(void)
{
	char dir[] = "/tmp/statefs-status.XXXXXX";
	char cmd[64];

	if (!mkdtemp(dir))
		return 1;
	test_json();
	test_prom();
	test_events(dir);
	test_mountinfo();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	UNIT_DONE();
}
