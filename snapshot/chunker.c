/*
 * chunker.c - finds content-defined cut points in a byte stream (FastCDC-style gear hash).
 *
 * The state between two chunker_scan() calls is only (hash, bytes into the chunk), which is
 * what makes the cuts independent of how the stream is fed. The gear table is built once from
 * splitmix64 so that it is a documented constant without 256 lines of hex in the source.
 */
#include "snapshot/chunker.h"

#include <errno.h>
#include <pthread.h>

const struct chunker_params chunker_default_params = {
    .min = CHUNKER_MIN_DEFAULT,
    .avg = CHUNKER_AVG_DEFAULT,
    .max = CHUNKER_MAX_DEFAULT,
    .norm = CHUNKER_NORM_DEFAULT,
};

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void gear_build(void)
{
	uint64_t state = CHUNKER_GEAR_SEED;

	for (int i = 0; i < 256; i++)
		gear[i] = splitmix64(&state);
}

const uint64_t *chunker_gear(void)
{
	pthread_once(&gear_once, gear_build);
	return gear;
}

/* The top @bits bits set: the high bits of a gear hash depend on the most bytes. */
static uint64_t top_bits(unsigned bits)
{
	return bits ? ~0ULL << (64 - bits) : 0;
}

static unsigned log2_exact(uint32_t v)
{
	unsigned n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

int chunker_init(struct chunker *c, const struct chunker_params *p)
{
	unsigned bits;

	if (p->min < CHUNKER_MIN_LIMIT || p->max > CHUNKER_MAX_LIMIT || p->min >= p->avg ||
	    p->avg >= p->max || (p->avg & (p->avg - 1)) || p->norm > 3)
		return -EINVAL;
	bits = log2_exact(p->avg);
	if (bits <= p->norm)
		return -EINVAL;
	chunker_gear();
	c->p = *p;
	c->mask_s = top_bits(bits + p->norm);
	c->mask_l = top_bits(bits - p->norm);
	chunker_reset(c);
	return 0;
}

void chunker_reset(struct chunker *c)
{
	c->h = 0;
	c->pos = 0;
}

size_t chunker_scan(struct chunker *c, const void *buf, size_t len, bool *cut)
{
	const uint8_t *b = buf;
	uint64_t h = c->h;
	uint32_t pos = c->pos;
	size_t i = 0;

	*cut = false;
	if (pos < c->p.min) {
		size_t skip = c->p.min - pos;

		if (skip >= len) {
			c->pos = pos + (uint32_t)len;
			return len;
		}
		i = skip;
		pos = c->p.min;
	}
	for (; i < len && pos < c->p.avg; i++) {
		h = (h << 1) + gear[b[i]];
		pos++;
		if (!(h & c->mask_s))
			goto found;
	}
	for (; i < len; i++) {
		h = (h << 1) + gear[b[i]];
		pos++;
		if (!(h & c->mask_l) || pos >= c->p.max)
			goto found;
	}
	c->h = h;
	c->pos = pos;
	return len;
found:
	*cut = true;
	chunker_reset(c);
	return i + 1;
}
