/* rand.c — splitmix64, the seeded generator of ds_rand.h (moved out of canon.c so that tasks
 * need not include the whole spec header to draw numbers). */
#include "ds_rand.h"

uint64_t ds_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t ds_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  return ds_mix64(z);
}

double ds_rand_unit(uint64_t *state) { return (double)(ds_splitmix64(state) >> 11) * 0x1.0p-53; }
