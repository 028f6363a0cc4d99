/*
 * test_vhooks.c - the pieces of checked configs and pushes that need no mount: "{}" and its
 * quoting (checked by running the result through /bin/sh), running a command (exit status,
 * output kept, time limit, stop), and the push backoff schedule.
 */
#include "fs/vhooks.h"
#include "fs/vremote.h"
#include "tests/unit/unit.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The output is exactly @want (it may hold newlines, which TAP lines must not). */
#define CHECK_OUT(res, want) CHECK_MSG(strcmp((res)->out, want) == 0, "output of %s", #want)

static char *expand(const char *cmd, const char *path)
{
	static char *last;
	int r;

	free(last);
	last = NULL;
	r = vhooks_expand(cmd, path, &last);
	CHECK_INT(r, 0);
	return last;
}

/* What /bin/sh makes of "printf %s {}" with @path: the path itself, whatever it holds. */
static void round_trip(const char *path)
{
	struct vhooks_result res;
	char *cmd = NULL;

	vhooks_expand("printf '[%s]' {}", path, &cmd);
	vhooks_run(cmd, NULL, 10, NULL, NULL, &res);
	char want[512];

	snprintf(want, sizeof(want), "[%s]", path);
	CHECK_MSG(strcmp(res.out, want) == 0, "sh reads back '%s' (got '%s')", path, res.out);
	free(cmd);
}

static void test_expand(void)
{
	CHECK_STR(expand("nginx -t", NULL), "nginx -t");
	CHECK_STR(expand("nginx -t", "/etc/nginx/a.conf"), "nginx -t");
	CHECK_STR(expand("docker compose -f {} config -q", "/opt/blog/docker-compose.yml"),
		  "docker compose -f '/opt/blog/docker-compose.yml' config -q");
	CHECK_STR(expand("check {} {}", "/a b"), "check '/a b' '/a b'");
	CHECK_STR(expand("cat {}", "/opt/it's/x"), "cat '/opt/it'\\''s/x'");
	CHECK_STR(expand("cat {}", ""), "cat ''");
	CHECK_STR(expand("echo {} }{ {", "/x"), "echo '/x' }{ {");
	CHECK_STR(expand("{}", "$(reboot)`id`;|&"), "'$(reboot)`id`;|&'");
	CHECK(vhooks_per_file("x {} y"));
	CHECK(!vhooks_per_file("nginx -t"));
	CHECK(!vhooks_per_file(NULL));
	round_trip("/opt/plain/docker-compose.yml");
	round_trip("/opt/it's a \"stack\"/docker-compose.yml");
	round_trip("/opt/$(touch /tmp/statefs-pwned)/`id`/x;y|z&\\n*?[a]");
	round_trip("/opt/''/'");
	CHECK(access("/tmp/statefs-pwned", F_OK) != 0);
}

static void test_run(void)
{
	struct vhooks_result res;
	atomic_int stop = 1;
	char line[64], desc[128];
	time_t t0;

	CHECK_INT(vhooks_run("echo out; echo err >&2; exit 0", NULL, 10, NULL, NULL, &res), 1);
	CHECK_INT(res.end, VHOOKS_EXITED);
	CHECK_OUT(&res, "out\nerr\n");
	vhooks_describe(&res, desc, sizeof(desc));
	CHECK(strncmp(desc, "passed (exit 0) in ", 19) == 0);

	CHECK_INT(
	    vhooks_run("echo first; echo 'nginx: [emerg] bad'; exit 3", NULL, 10, NULL, NULL, &res),
	    0);
	CHECK_INT(res.code, 3);
	vhooks_last_line(res.out, res.outlen, line, sizeof(line));
	CHECK_STR(line, "nginx: [emerg] bad");
	vhooks_describe(&res, desc, sizeof(desc));
	CHECK(strncmp(desc, "failed (exit 3) in ", 19) == 0);

	/* stdin is /dev/null, the working directory is the one given */
	CHECK_INT(vhooks_run("cat; pwd", "/tmp", 10, NULL, NULL, &res), 1);
	CHECK_OUT(&res, "/tmp\n");
	CHECK_INT(vhooks_run("true", "/nonexistent/dir", 10, NULL, NULL, &res), 0);
	CHECK_INT(res.end, VHOOKS_NOSPAWN);

	/* only the end of a long output is kept */
	CHECK_INT(vhooks_run("seq 1 100000", NULL, 10, NULL, NULL, &res), 1);
	CHECK_INT(res.outlen, VHOOKS_OUTPUT_MAX);
	CHECK(res.cut);
	vhooks_last_line(res.out, res.outlen, line, sizeof(line));
	CHECK_STR(line, "100000");

	/* the time limit kills the whole process group */
	t0 = time(NULL);
	CHECK_INT(vhooks_run("sleep 30 & sleep 30; echo never", NULL, 1, NULL, NULL, &res), 0);
	CHECK_INT(res.end, VHOOKS_TIMEOUT);
	CHECK(time(NULL) - t0 <= 3);
	vhooks_describe(&res, desc, sizeof(desc));
	CHECK_STR(desc, "failed (timed out after 1 s)");

	/* a stop kills it too */
	CHECK_INT(vhooks_run("sleep 30", NULL, 60, NULL, &stop, &res), 0);
	CHECK_INT(res.end, VHOOKS_STOPPED);

	/* a grandchild that keeps the output open is not waited for */
	t0 = time(NULL);
	CHECK_INT(vhooks_run("(sleep 5 &) ; echo bye", NULL, 10, NULL, NULL, &res), 1);
	CHECK(time(NULL) - t0 <= 2);
	CHECK_OUT(&res, "bye\n");

	/* the environment given is the one the command sees */
	char *env[] = {"PATH=/usr/bin:/bin", "STATEFS_MOUNT=nginx", NULL};

	CHECK_INT(vhooks_run("echo $STATEFS_MOUNT", NULL, 10, env, NULL, &res), 1);
	CHECK_OUT(&res, "nginx\n");
	CHECK_INT(vhooks_run("kill -9 $$", NULL, 10, NULL, NULL, &res), 0);
	CHECK_INT(res.end, VHOOKS_SIGNALED);
	CHECK_INT(res.code, 9);
}

static void test_backoff(void)
{
	CHECK_INT(vremote_backoff(60, 0), 60);
	CHECK_INT(vremote_backoff(60, 1), 60);
	CHECK_INT(vremote_backoff(60, 2), 120);
	CHECK_INT(vremote_backoff(60, 3), 240);
	CHECK_INT(vremote_backoff(60, 6), 1920);
	CHECK_INT(vremote_backoff(60, 7), VREMOTE_BACKOFF_MAX);
	CHECK_INT(vremote_backoff(60, 1000), VREMOTE_BACKOFF_MAX);
	CHECK_INT(vremote_backoff(0, 0), 0);
	CHECK_INT(vremote_backoff(0, 1), 1);
	CHECK_INT(vremote_backoff(0, 4), 8);
	CHECK_INT(vremote_backoff(1, 12), 2048);
	CHECK_INT(vremote_backoff(1, 13), VREMOTE_BACKOFF_MAX);
	CHECK_INT(vremote_backoff(7200, 1), 7200);
	CHECK_INT(vremote_backoff(7200, 5), 7200);
	CHECK_INT(vremote_backoff(7200, 0), 7200);
}

int main(void)
{
	test_expand();
	test_run();
	test_backoff();
	UNIT_DONE();
}
