/*
 * vhooks_run.c - running one check or on-change command: quoting "{}", spawning /bin/sh,
 * keeping the end of its output, and the time limit.
 *
 * The one thing to know: the daemon has many threads and descriptors, so the command is started
 * with posix_spawn (no fork of a threaded process), every descriptor above 2 closed, signals
 * back to their defaults, in a process group of its own so that a time-out kills what the
 * command started too. A child that leaves a grandchild holding its output open is not waited
 * for beyond a short grace.
 */
#include "fs/vhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define GRACE_MS 500 /* how long output is still read once the command has exited */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vhooks_per_file(const char *cmd)
{
	return cmd && strstr(cmd, "{}") != NULL;
}

int vhooks_expand(const char *cmd, const char *path, char **out)
{
	size_t n = 0, q = 2, len;
	const char *p;
	char *s;

	*out = NULL;
	if (!path)
		return (*out = strdup(cmd)) ? 0 : -ENOMEM;
	for (p = path; *p; p++)
		q += *p == '\'' ? 4 : 1;
	for (p = cmd; (p = strstr(p, "{}")); p += 2)
		n++;
	len = strlen(cmd) - 2 * n + q * n;
	s = *out = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	for (p = cmd; *p;) {
		if (p[0] != '{' || p[1] != '}') {
			*s++ = *p++;
			continue;
		}
		*s++ = '\'';
		for (const char *c = path; *c; c++) {
			if (*c == '\'') {
				memcpy(s, "'\\''", 4);
				s += 4;
			} else {
				*s++ = *c;
			}
		}
		*s++ = '\'';
		p += 2;
	}
	*s = '\0';
	return 0;
}

void vhooks_last_line(const char *out, size_t len, char *line, size_t size)
{
	size_t end = len, start, n, k = 0;

	while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' ' ||
			   out[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && out[start - 1] != '\n')
		start--;
	n = end - start;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		unsigned char c = (unsigned char)out[start + i];

		line[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	if (size)
		line[k] = '\0';
}

void vhooks_describe(const struct vhooks_result *res, char *buf, size_t size)
{
	switch (res->end) {
	case VHOOKS_EXITED:
		snprintf(buf, size, "%s (exit %d) in %.3f s", res->code ? "failed" : "passed",
			 res->code, res->seconds);
		break;
	case VHOOKS_SIGNALED:
		snprintf(buf, size, "failed (killed by signal %d) in %.3f s", res->code,
			 res->seconds);
		break;
	case VHOOKS_TIMEOUT:
		snprintf(buf, size, "failed (timed out after %u s)", res->timeout_s);
		break;
	case VHOOKS_STOPPED:
		snprintf(buf, size, "failed (stopped with statefs after %.3f s)", res->seconds);
		break;
	default:
		snprintf(buf, size, "failed (cannot start it: %s)", strerror(res->code));
		break;
	}
}

/* Keep the last VHOOKS_OUTPUT_MAX bytes of what the command wrote. */
static void keep(struct vhooks_result *res, const char *buf, size_t n)
{
	if (n >= VHOOKS_OUTPUT_MAX) {
		memcpy(res->out, buf + n - VHOOKS_OUTPUT_MAX, VHOOKS_OUTPUT_MAX);
		res->cut |= n > VHOOKS_OUTPUT_MAX || res->outlen > 0;
		res->outlen = VHOOKS_OUTPUT_MAX;
		return;
	}
	if (res->outlen + n > VHOOKS_OUTPUT_MAX) {
		size_t drop = res->outlen + n - VHOOKS_OUTPUT_MAX;

		memmove(res->out, res->out + drop, res->outlen - drop);
		res->outlen -= drop;
		res->cut = 1;
	}
	memcpy(res->out + res->outlen, buf, n);
	res->outlen += n;
}

int vhooks_spawn(pid_t *pid, const char *path, char *const argv[], const char *cwd,
		 char *const envp[], int outfd, int errfd)
{
	static const int defaults[] = {SIGPIPE, SIGINT,	 SIGTERM, SIGHUP,  SIGQUIT, SIGCHLD,
				       SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int r;

	sigemptyset(&none);
	sigemptyset(&def);
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		sigaddset(&def, defaults[i]);
	r = posix_spawn_file_actions_init(&fa);
	if (r)
		return r;
	r = posix_spawnattr_init(&at);
	if (r) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	r = r || errfd < 0 ? r : posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	r = r || !cwd ? r : posix_spawn_file_actions_addchdir_np(&fa, cwd);
	r = r ? r : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	r = r ? r
	      : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF);
	r = r ? r : posix_spawnattr_setpgroup(&at, 0);
	r = r ? r : posix_spawnattr_setsigmask(&at, &none);
	r = r ? r : posix_spawnattr_setsigdefault(&at, &def);
	r = r ? r : posix_spawn(pid, path, &fa, &at, argv, envp ? envp : environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

int vhooks_run(const char *cmd, const char *cwd, unsigned timeout_s, char *const envp[],
	       const atomic_int *stop, struct vhooks_result *res)
{
	int64_t t0 = mono_ms(), now, exited_at = 0, deadline = t0 + (int64_t)timeout_s * 1000;
	int pfd[2], status = 0, exited = 0, killed = 0, r;
	char buf[4096];
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->timeout_s = timeout_s;
	if (pipe2(pfd, O_CLOEXEC)) {
		res->end = VHOOKS_NOSPAWN;
		res->code = errno;
		return 0;
	}
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};

	r = vhooks_spawn(&pid, "/bin/sh", argv, cwd, envp, pfd[1], pfd[1]);
	close(pfd[1]);
	if (r) {
		close(pfd[0]);
		res->end = VHOOKS_NOSPAWN;
		res->code = r;
		return 0;
	}
	for (;;) {
		if (pfd[0] >= 0) {
			struct pollfd p = {.fd = pfd[0], .events = POLLIN};

			if (poll(&p, 1, exited ? 10 : 100) > 0) {
				ssize_t n = read(pfd[0], buf, sizeof(buf));

				if (n > 0) {
					keep(res, buf, (size_t)n);
				} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
					close(pfd[0]);
					pfd[0] = -1;
				}
			}
		} else {
			struct timespec ts = {0, 10 * 1000000};

			nanosleep(&ts, NULL);
		}
		now = mono_ms();
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid || (w < 0 && errno == ECHILD)) {
				exited = 1;
				exited_at = now;
				res->seconds = (double)(now - t0) / 1e3;
			}
		}
		if (exited && (pfd[0] < 0 || now - exited_at >= GRACE_MS))
			break;
		if (!exited && !killed && (now >= deadline || (stop && atomic_load(stop)))) {
			kill(-pid, SIGKILL);
			killed = now >= deadline ? VHOOKS_TIMEOUT : VHOOKS_STOPPED;
		}
	}
	if (pfd[0] >= 0)
		close(pfd[0]);
	res->out[res->outlen] = '\0';
	if (killed) {
		res->end = (enum vhooks_end)killed;
	} else if (WIFEXITED(status)) {
		res->end = VHOOKS_EXITED;
		res->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->end = VHOOKS_SIGNALED;
		res->code = WTERMSIG(status);
	}
	return res->end == VHOOKS_EXITED && res->code == 0;
}
