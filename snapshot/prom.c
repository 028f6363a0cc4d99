/*
 * prom.c - the Prometheus text format writer (prom.h).
 */
#include "snapshot/prom.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_init(struct prom *p)
{
	memset(p, 0, sizeof(*p));
}

void prom_free(struct prom *p)
{
	free(p->buf);
	free(p->seen);
	memset(p, 0, sizeof(*p));
}

static void put(struct prom *p, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (p->err)
		return;
	if (p->len + n + 1 > p->cap) {
		cap = p->cap ? p->cap : 1024;
		while (p->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(p->buf, cap);
		if (!nb) {
			p->err = -ENOMEM;
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
}

static void puts_(struct prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/* @s with backslash and newline escaped, and double quote too when @quote. */
static void put_escaped(struct prom *p, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(p, "\\\\");
		else if (*s == '\n')
			puts_(p, "\\n");
		else if (*s == '"' && quote)
			puts_(p, "\\\"");
		else
			put(p, s, 1);
	}
}

bool prom_name_valid(const char *name, bool label)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= PROM_NAME_MAX || (label && name[0] == '_' && name[1] == '_'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

void prom_family(struct prom *p, const char *name, const char *type, const char *help)
{
	static const char *const types[] = {"counter", "gauge",	  "histogram",
					    "summary", "untyped", NULL};
	const char *const *t;
	void *ns;

	if (p->err)
		return;
	for (t = types; *t && strcmp(*t, type ? type : ""); t++)
		;
	if (!prom_name_valid(name, false) || !*t) {
		p->err = -EINVAL;
		return;
	}
	for (size_t i = 0; i < p->nseen; i++)
		if (!strcmp(p->seen[i], name)) {
			p->err = -EINVAL; /* the format allows one block per family */
			return;
		}
	if (p->nseen >= PROM_FAMILIES_MAX) {
		p->err = -EINVAL;
		return;
	}
	if (!p->seen) {
		ns = calloc(PROM_FAMILIES_MAX, PROM_NAME_MAX);
		if (!ns) {
			p->err = -ENOMEM;
			return;
		}
		p->seen = ns;
	}
	snprintf(p->seen[p->nseen++], PROM_NAME_MAX, "%s", name);
	snprintf(p->family, sizeof(p->family), "%s", name);
	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	put_escaped(p, help ? help : "", false);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, type);
	puts_(p, "\n");
}

static void put_value(struct prom *p, double v)
{
	char b[40];

	if (isnan(v))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(v))
		snprintf(b, sizeof(b), "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v)
		snprintf(b, sizeof(b), "%lld", (long long)v);
	else
		snprintf(b, sizeof(b), "%.17g", v);
	puts_(p, b);
}

void prom_sample(struct prom *p, const char *name, const char *const *labels, double value)
{
	size_t fl = strlen(p->family);

	if (p->err)
		return;
	if (!fl || strncmp(name, p->family, fl) || !prom_name_valid(name, false)) {
		p->err = -EINVAL; /* a sample belongs to the family declared last */
		return;
	}
	puts_(p, name);
	if (labels && labels[0]) {
		puts_(p, "{");
		for (size_t i = 0; labels[i]; i += 2) {
			if (!labels[i + 1] || !prom_name_valid(labels[i], true)) {
				p->err = -EINVAL;
				return;
			}
			if (i)
				puts_(p, ",");
			puts_(p, labels[i]);
			puts_(p, "=\"");
			put_escaped(p, labels[i + 1], true);
			puts_(p, "\"");
		}
		puts_(p, "}");
	}
	puts_(p, " ");
	put_value(p, value);
	puts_(p, "\n");
}

void prom_gauge(struct prom *p, const char *name, const char *help, double value)
{
	prom_family(p, name, "gauge", help);
	prom_sample(p, name, NULL, value);
}

int prom_finish(struct prom *p, char **out, size_t *len)
{
	int rc;

	*out = NULL;
	*len = 0;
	if (!p->err && !p->buf)
		put(p, "", 0); /* an empty exposition is valid: an empty string */
	rc = p->err;
	if (rc) {
		prom_free(p);
		return rc;
	}
	p->buf[p->len] = '\0';
	*out = p->buf;
	*len = p->len;
	p->buf = NULL;
	prom_free(p);
	return 0;
}
