/*
 * test_litter.c - which names are editor and package-manager litter, and which are not.
 */
#include "fs/litter.h"
#include "tests/unit/unit.h"

#include <stdio.h>

/* clang-format off */
static const char *const litter[] = {
	/* vim swap files */
	".nginx.conf.swp", ".nginx.conf.swo", ".nginx.conf.swn", ".nginx.conf.swa", ".env.swp",
	".env.swx", ".swx", "..env.swp", ".a.swp", ".swp", ".swo", ".swa", "..swp", ".x.y.swp",
	/* backups */
	"nginx.conf~", "a~", ".env~", "~~",
	/* vim write test */
	"4913", "5036", "5159", "17090",
	/* emacs */
	".#nginx.conf", ".#a", "#nginx.conf#", "#a#",
	/* dpkg, ucf */
	"nginx.conf.dpkg-old", "nginx.conf.dpkg-new", "nginx.conf.dpkg-dist", "a.dpkg-tmp",
	"a.dpkg-bak", "a.dpkg-remove", "sshd_config.ucf-old", "sshd_config.ucf-new",
	"sshd_config.ucf-dist", "x.conf.dpkg-old",
};

static const char *const kept[] = {
	".env", "nginx.conf", "docker-compose.yml", "a.swpx", "a.swp", "nginx.swp", ".swq", ".swz",
	".sw", ".swpp", ".a.sw", ".a.swq", ".a.swP", ".a.SWP", "~file", "~", "a~b", "4912",
	"4914", "5035", "04913", "49130", "17213", "0", "123", "4913a", ".#", "#", "##", "#a",
	"a#", "a.#b", ".dpkg-old", ".ucf-new", "a.dpkg-olds", "a.dpkg-", "a.dpkg", "a.dpkg-orig",
	"a.ucf-tmp", "dpkg-old", "sites-enabled", ".htaccess", ".well-known", "",
};
/* clang-format on */

int main(void)
{
	size_t i;
	char name[16];
	int k, bad;

	for (i = 0; i < sizeof(litter) / sizeof(litter[0]); i++)
		CHECK_MSG(litter_is(litter[i]), "litter: \"%s\"", litter[i]);
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		CHECK_MSG(!litter_is(kept[i]), "not litter: \"%s\"", kept[i]);
	CHECK(!litter_is(NULL));

	/* vim's whole write-test sequence, and the numbers in between */
	bad = 0;
	for (k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "%d", 4913 + 123 * k);
		bad += !litter_is(name);
		snprintf(name, sizeof(name), "%d", 4913 + 123 * k + 1 + k % 122);
		bad += litter_is(name);
	}
	CHECK_INT(bad, 0);
	snprintf(name, sizeof(name), "%d", 4913 + 123 * 100);
	CHECK_MSG(!litter_is(name), "not litter: \"%s\" (k = 100)", name);

	/* every letter of the .sw? family, and the first ones outside it */
	bad = 0;
	for (k = 'a'; k <= 'p'; k++) {
		snprintf(name, sizeof(name), ".f.sw%c", k);
		bad += !litter_is(name);
	}
	CHECK_INT(bad, 0);
	CHECK(litter_is(".f.swx"));
	CHECK(!litter_is(".f.swq"));
	CHECK(!litter_is(".f.swy"));
	CHECK(!litter_is(".f.sw`"));

	UNIT_DONE();
}
