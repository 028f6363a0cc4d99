/*
 * prom.h - a writer of the Prometheus text exposition format (version 0.0.4), for the mount's
 * .statefs/metrics file and `statefs status --prometheus`.
 *
 * What a newcomer must know: each metric family is declared once (its # HELP and # TYPE
 * lines), then its samples follow, "name{label="value",...} value", one per line. Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*; a bad name, a sample
 * outside its family, or a family declared twice is a misuse, remembered like an allocation
 * failure (the first error sticks, later calls do nothing, prom_finish reports it). HELP text
 * escapes backslash and newline; label values escape backslash, double quote and newline.
 * Values: integers up to 2^53 as integers, others with 17 significant digits, NaN, +Inf,
 * -Inf as the format spells them.
 */
#ifndef STATEFS_PROM_H
#define STATEFS_PROM_H

#include <stdbool.h>
#include <stddef.h>

#define PROM_NAME_MAX 128
#define PROM_FAMILIES_MAX 64

struct prom {
	char *buf;
	size_t len, cap;
	int err;
	char family[PROM_NAME_MAX];  /* the family being written */
	char (*seen)[PROM_NAME_MAX]; /* families declared so far */
	size_t nseen;
};

void prom_init(struct prom *p);

/* Start family @name of @type ("gauge", "counter", "untyped", ...) with its @help text. */
void prom_family(struct prom *p, const char *name, const char *type, const char *help);

/*
 * A sample of the current family: @name is the family's name, or the family's name with a
 * suffix (_total, _sum, ...); @labels is NULL or an array of name, value pairs ended by NULL.
 */
void prom_sample(struct prom *p, const char *name, const char *const *labels, double value);

/* A family of one sample without labels: the usual case. */
void prom_gauge(struct prom *p, const char *name, const char *help, double value);

/*
 * The text: 0 and *out (malloc'd, NUL-terminated; *len without the NUL), or the first error
 * (-ENOMEM, -EINVAL). The writer is emptied either way.
 */
int prom_finish(struct prom *p, char **out, size_t *len);
void prom_free(struct prom *p);

/* Is @name a metric name? (@label: a label name, which allows no ':' and no "__" prefix.) */
bool prom_name_valid(const char *name, bool label);

#endif
