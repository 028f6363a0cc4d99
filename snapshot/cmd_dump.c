/*
 * cmd_dump.c - `statefs dump [-c CONFIG] [--plain] DATABASE`: a consistent dump on stdout.
 *
 * The output is one zstd frame (level 3, streaming) or, with --plain, the SQL itself; either
 * restores with the stock client (`zstdcat x.sql.zst | mariadb --comments TARGET`). Compressed
 * output is never written to a terminal. Exit 0, 1 on failure, 2 on a usage error.
 */
#include "fs/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "mountpoints/mtab.h"
#include "snapshot/dump.h"

#define ZSTD_LEVEL 3

struct out {
	ZSTD_CCtx *z; /* NULL: plain */
	void *zbuf;
	size_t zcap;
};

static int write_fd(int fd, const void *p, size_t n)
{
	const char *q = p;
	ssize_t k;

	while (n) {
		k = write(fd, q, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Feed @len bytes to zstd (or stdout) with @op; ZSTD_e_end finishes the frame. */
static int out_feed(struct out *o, const void *buf, size_t len, ZSTD_EndDirective op)
{
	ZSTD_inBuffer in = {buf, len, 0};
	ZSTD_outBuffer zo;
	size_t left;
	int rc;

	if (!o->z)
		return write_fd(STDOUT_FILENO, buf, len);
	do {
		zo = (ZSTD_outBuffer){o->zbuf, o->zcap, 0};
		left = ZSTD_compressStream2(o->z, &zo, &in, op);
		if (ZSTD_isError(left))
			return -EIO;
		rc = write_fd(STDOUT_FILENO, o->zbuf, zo.pos);
		if (rc)
			return rc;
	} while (op == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int sink_write(void *ctx, const void *buf, size_t len)
{
	return out_feed(ctx, buf, len, ZSTD_e_continue);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: statefs dump [-c CONFIG] [--plain] DATABASE\n"
		   "  Write a consistent SQL dump of DATABASE (a [database \"NAME\"] section of\n"
		   "  the config) to stdout, zstd-compressed unless --plain is given.\n"
		   "  -c, --config CONFIG  the config file (default " MTAB_DEFAULT_CONFIG ")\n"
		   "  -p, --plain          write plain SQL\n"
		   "  -h, --help           show this help\n");
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"plain", no_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = MTAB_DEFAULT_CONFIG;
	const struct mtab_database *db = NULL;
	struct dump_sink sink = {0};
	struct mtab *tab = NULL;
	struct out o = {0};
	bool plain = false;
	char err[1024];
	int c, rc, status = 1;
	size_t i;

	optind = 0; /* a fresh getopt scan, whoever ran it before */
	while ((c = getopt_long(argc, argv, "+c:ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'p':
			plain = true;
			break;
		default:
			return cmd_usage(usage, c);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (!plain && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "statefs dump: refusing to write compressed data to a terminal; "
				"redirect stdout or use --plain\n");
		return 2;
	}
	rc = mtab_load(config, &tab, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "statefs dump: %s\n", err);
		return 1;
	}
	for (i = 0; i < tab->ndbs; i++)
		if (!strcmp(tab->dbs[i].name, argv[optind]))
			db = &tab->dbs[i];
	if (!db) {
		fprintf(stderr, "statefs dump: %s: no [database \"%s\"] section\n", config,
			argv[optind]);
		goto out;
	}
	if (!plain) {
		o.z = ZSTD_createCCtx();
		o.zcap = ZSTD_CStreamOutSize();
		o.zbuf = malloc(o.zcap);
		if (!o.z || !o.zbuf ||
		    ZSTD_isError(
			ZSTD_CCtx_setParameter(o.z, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(o.z, ZSTD_c_checksumFlag, 1))) {
			fprintf(stderr, "statefs dump: cannot set up zstd\n");
			goto out;
		}
	}
	sink = (struct dump_sink){.ctx = &o, .write = sink_write};
	rc = dump_database(db, NULL, &sink, NULL, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "statefs dump: %s\n", err);
		goto out;
	}
	rc = out_feed(&o, NULL, 0, ZSTD_e_end);
	if (rc) {
		fprintf(stderr, "statefs dump: writing to stdout: %s\n", strerror(-rc));
		goto out;
	}
	status = 0;
out:
	ZSTD_freeCCtx(o.z);
	free(o.zbuf);
	mtab_free(tab);
	return status;
}
