/*
 * cmd_args.c - what every management verb does with its command line around its own options
 * (fs/cmd.h): -h and unknown options, operands left over, and loading the config.
 */
#include "fs/cmd.h"

#include <getopt.h>

#include "mountpoints/mtab.h"

int cmd_usage(void (*usage)(FILE *), int c)
{
	usage(c == 'h' ? stdout : stderr);
	return c == 'h' ? 0 : 2;
}

int cmd_config(const char *verb, void (*usage)(FILE *), int argc, const char *config,
	       struct mtab **tab)
{
	char err[1024];

	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (mtab_load(config, tab, err, sizeof(err))) {
		fprintf(stderr, "statefs %s: %s\n", verb, err);
		return 1;
	}
	return 0;
}
