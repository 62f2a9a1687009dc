/* ds_rand.h — the seeded generator tasks and sweeps draw from: splitmix64 and its 64-bit mixer.
 *
 * Invariant: every draw is a pure function of the state, so a trial seeded from its key
 * (ds_key_seed, ds_spec.h) draws the same numbers on every machine and every run.
 */
#ifndef DS_RAND_H
#define DS_RAND_H

#include <stdint.h>

/* The splitmix64 finaliser: a bijective 64-bit mix (also what ds_key_seed applies to its hash). */
uint64_t ds_mix64(uint64_t z);
/* splitmix64: deterministic 64-bit generator step (state advanced in place). */
uint64_t ds_splitmix64(uint64_t *state);
/* Uniform double in [0, 1) from the generator. */
double ds_rand_unit(uint64_t *state);

#endif /* DS_RAND_H */
