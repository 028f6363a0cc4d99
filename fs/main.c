/*
 * main.c - the command line: `statefs [options] CONFIG MOUNTPOINT` mounts (as mount(8) calls a
 * fuse.statefs filesystem), `statefs VERB ...` runs a management verb.
 *
 * What a newcomer must know: option parsing goes through libfuse's fuse_opt so that the usual
 * FUSE and mount options work; the statefs options are in one table below and in --help.
 */
#include "fs/cmd.h"
#include "fs/live.h"
#include "fs/prefetch.h"
#include "fs/watch.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

struct options {
	char *config;
	unsigned quiet_ms;
	unsigned pack_every;
	double timeout;
	long long max_file_size;
	int nonopts;
	int show_help;
};

#define OPT(t, p) {t, offsetof(struct options, p), 1}
static const struct fuse_opt option_spec[] = {
	OPT("quiet_ms=%u", quiet_ms),
	OPT("timeout=%lf", timeout),
	OPT("max_file_size=%lld", max_file_size),
	OPT("pack_every=%u", pack_every),
	FUSE_OPT_END,
};

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const int *stub;
	const char *help;
} verbs[] = {
	{"snapshot", cmd_snapshot, &cmd_stub_snapshot,
	 "snapshot [-c CONFIG]                  take a dated snapshot of databases, uploads, configs"},
	{"prune", cmd_prune, &cmd_stub_prune,
	 "prune [-c CONFIG] [--dry-run]         apply the retention policy, free unused chunks"},
	{"check", cmd_check, &cmd_stub_check,
	 "check [-c CONFIG] [--read-data]       verify the snapshots and the chunk store"},
	{"restore", cmd_restore, &cmd_stub_restore,
	 "restore [-c CONFIG] FILE|- db/NAME    restore a database from a dump, without a mount"},
	{"status", cmd_status, &cmd_stub_status,
	 "status [-c CONFIG] [--json]           mount, last snapshot, store, last restore/verify/error"},
	{"verify", cmd_verify, &cmd_stub_verify,
	 "verify [-c CONFIG] [SNAPSHOT]         test-restore a snapshot in scratch databases, compare"},
	{"dump", cmd_dump, &cmd_stub_dump,
	 "dump [-c CONFIG] [--plain] DATABASE   a consistent dump of one database on stdout"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: statefs [-f] [-d] [-o OPT[,OPT...]] CONFIG MOUNTPOINT\n"
		"       statefs VERB [-c CONFIG] [ARGS...]\n"
		"       statefs --help | --version\n"
		"\n"
		"Mount the live configuration trees named in CONFIG (git-config syntax, see\n"
		"statefs.conf(5)) at MOUNTPOINT. Every save made through the mount becomes one git\n"
		"commit in STATE_DIR/config.git; changes made outside the mount are committed too.\n"
		"\n"
		"Options:\n"
		"  -f                     stay in the foreground (log to stderr, not syslog)\n"
		"  -d                     debug: foreground, debug logging, every FUSE request\n"
		"  -s                     single-threaded\n"
		"  -o allow_other         let other users than the mounter use the mount; the\n"
		"                         backing files' own permissions always apply\n"
		"  -o timeout=SECONDS     how long the kernel may cache names and attributes (60);\n"
		"                         changes made outside the mount invalidate it at once\n"
		"  -o quiet_ms=MS         the steps of one save that come within MS of each other\n"
		"                         make one commit (150)\n"
		"  -o max_file_size=BYTES larger files are not versioned (16777216)\n"
		"  -o pack_every=N        merge the per-commit packs after N commits (16)\n"
		"  -o OPT                 any other FUSE or mount option (see fuse(8), mount(8))\n"
		"\n"
		"Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!*verbs[i].stub)
			fprintf(out, "  statefs %s\n", verbs[i].help);
	fprintf(out, "\nThe default CONFIG for verbs is %s.\n"
		     "In /etc/fstab: CONFIG MOUNTPOINT fuse.statefs allow_other 0 0\n",
		MTAB_DEFAULT_CONFIG);
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (o->nonopts++ == 0) {
			o->config = realpath(arg, NULL);
			if (!o->config) {
				fprintf(stderr, "statefs: %s: %s\n", arg, strerror(errno));
				return -1;
			}
			return 0; /* consumed: the mount point stays for fuse_parse_cmdline */
		}
		return 1;
	}
	if (key == FUSE_OPT_KEY_OPT && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0))
		o->show_help = 1;
	return 1;
}

static int log_foreground = 1, log_debug, log_quiet;

static void log_func(enum fuse_log_level level, const char *fmt, va_list ap)
{
	if ((level == FUSE_LOG_DEBUG && !log_debug) || (log_quiet && level > FUSE_LOG_WARNING))
		return;
	if (!log_foreground) {
		vsyslog((int)level, fmt, ap);
		return;
	}
	/* under systemd (Type=notify, -f) stderr goes to the journal: give it the level */
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>", (int)level);
	vfprintf(stderr, fmt, ap);
}

/* One descriptor per object the kernel knows: lift the soft limit to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Tell systemd (or a test) that the mount is ready: the sd_notify protocol, READY=1. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa,
		   offsetof(struct sockaddr_un, sun_path) + strlen(path)) < 0)
		fuse_log(FUSE_LOG_WARNING, "statefs: cannot notify readiness: %s\n",
			 strerror(errno));
	close(fd);
}

static int mount_main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cl = {0};
	struct options o = {.timeout = 60.0};
	struct sfs fs = {0};
	struct watch *watch = NULL;
	struct vcs_options vo = {0};
	char err[1024] = "";
	int ret = 1, r;

	if (fuse_opt_parse(&args, &o, option_spec, opt_proc))
		return 2;
	if (o.show_help) {
		usage(stdout);
		return 0;
	}
	if (fuse_parse_cmdline(&args, &cl)) {
		usage(stderr);
		return 2;
	}
	if (!o.config || !cl.mountpoint) {
		fprintf(stderr, "statefs: need CONFIG and MOUNTPOINT (see statefs --help)\n");
		ret = 2;
		goto out;
	}
	raise_nofile();
	/*
	 * One malloc arena for the daemon's threads (up to ten FUSE workers, the read-ahead and
	 * commit threads), not one per thread: what backups/ allocates and frees across threads
	 * (decompressed chunks, read buffers, nodes) was kept several times over in half-empty
	 * per-thread arenas (issue 4: some 3 MiB of a 31 MiB peak). The threads spend their time
	 * in system calls and copies, not in malloc, so sharing its lock costs nothing we measured.
	 * Fixed thresholds: with glibc's moving ones, the one heap gave back its top as soon as two
	 * 128 KiB read buffers were free there, and every read faulted its buffer in again (a
	 * dump's cp: 17,000 page faults, 25% slower). Blocks of 1 MiB and more (FUSE's receive
	 * buffers, the store's index) are mapped on their own; the heap keeps up to 1 MiB free.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	log_foreground = cl.foreground;
	log_debug = cl.debug;
	fuse_set_log_func(log_func);
	if (!cl.foreground)
		openlog("statefs", LOG_PID, LOG_DAEMON);
	r = mtab_load(o.config, &fs.tab, err, sizeof(err));
	if (r) {
		fprintf(stderr, "statefs: %s\n", err);
		goto out;
	}
	fs.timeout = o.timeout;
	fs.debug = cl.debug;
	if (node_table_new(&fs.nodes) || live_open_bases(&fs, err, sizeof(err)) ||
	    live_views_init(&fs, err, sizeof(err))) {
		fprintf(stderr, "statefs: %s\n", err[0] ? err : strerror(ENOMEM));
		goto out;
	}
	vo.quiet_ms = o.quiet_ms;
	vo.max_file_size = o.max_file_size;
	vo.pack_every = o.pack_every;
	r = vcs_open(&fs.vcs, fs.tab, &vo, err, sizeof(err));
	if (!r) {
		struct stat sst;

		/* the state directory exists now: never show it, even under a source */
		if (stat(fs.tab->state_dir, &sst) == 0) {
			fs.state_dev = sst.st_dev;
			fs.state_ino = sst.st_ino;
		}
		r = vcs_catch_up(fs.vcs, err, sizeof(err));
	}
	if (r) {
		fprintf(stderr, "statefs: %s\n", err);
		goto out;
	}
	/* The backing files' own permissions decide, checked by the kernel. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	char fsname[4200];

	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=statefs", o.config);
	fuse_opt_add_arg(&args, fsname);
	fs.se = fuse_session_new(&args, &live_ops, sizeof(live_ops), &fs);
	if (!fs.se)
		goto out;
	if (fuse_set_signal_handlers(fs.se))
		goto out_session;
	if (fuse_session_mount(fs.se, cl.mountpoint))
		goto out_signals;
	/* Threads do not survive the fork of fuse_daemonize: start them after it. */
	fuse_daemonize(cl.foreground);
	r = vcs_start(fs.vcs, err, sizeof(err));
	if (!r)
		r = watch_start(&watch, &fs, err, sizeof(err));
	if (r) {
		fuse_log(FUSE_LOG_ERR, "statefs: %s\n", err);
		goto out_unmount;
	}
	fs.prefetch = prefetch_start(); /* best effort: without it listings are not read ahead */
	fuse_log(FUSE_LOG_INFO, "statefs: mounted %s at %s\n", o.config, cl.mountpoint);
	notify_ready();
	if (cl.singlethread) {
		ret = fuse_session_loop(fs.se);
	} else {
		struct fuse_loop_config lc = {.clone_fd = cl.clone_fd, .max_idle_threads = 10};

		if (cl.max_idle_threads != UINT_MAX)
			lc.max_idle_threads = cl.max_idle_threads;

		ret = fuse_session_loop_mt(fs.se, &lc);
	}
	/* a stop by SIGTERM/SIGINT (systemctl stop, umount) is a clean end */
	ret = (ret == 0 || fuse_session_exited(fs.se)) ? 0 : 1;
	watch_stop(watch);
	prefetch_stop(fs.prefetch);
	fs.prefetch = NULL;
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
	fs.se = NULL;
out:
	vcs_close(fs.vcs); /* commits what is still pending */
	live_views_destroy(&fs);
	node_table_free(fs.nodes);
	live_close_bases(&fs);
	mtab_free(fs.tab);
	free(cl.mountpoint);
	free(o.config);
	fuse_opt_free_args(&args);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("statefs %s (libfuse %d.%d)\n", STATEFS_VERSION, FUSE_MAJOR_VERSION,
		       FUSE_MINOR_VERSION);
		return 0;
	}
	/* not a verb for users: the daemon's pack merges run in a child process (fs/vcs_maint.c) */
	if (argc >= 2 && strcmp(argv[1], "__pack") == 0)
		return vcs_pack_main(argc - 1, argv + 1);
	if (argc >= 2 && argv[1][0] != '-' && !strchr(argv[1], '/')) {
		/* verbs print their own results: the library's log says only what went wrong */
		log_quiet = 1;
		fuse_set_log_func(log_func);
		for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
			if (strcmp(argv[1], verbs[i].name) == 0)
				return verbs[i].fn(argc - 1, argv + 1);
		if (argc == 2 || access(argv[1], F_OK) != 0) {
			fprintf(stderr, "statefs: unknown verb '%s' (see statefs --help)\n",
				argv[1]);
			return 2;
		}
	}
	return mount_main(argc, argv);
}
