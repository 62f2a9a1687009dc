/* expand.c — expand a parsed spec's sweep one trial at a time (ds_spec_trial).
 *
 * Parsing (spec.c) renders every value a parameter can take to canonical JSON once (ds_pval_t),
 * with its flattened scalars.  ds_spec_trial() only concatenates those pre-rendered pieces in
 * sorted key order and hashes the result, which is what lets the coordinator produce trials at
 * well over 10⁵/s and resume a 10⁶-trial sweep without holding it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds__schema.h"

/* ---- trials --------------------------------------------------------------------------- */

static int tbuf_put(ds_trial_t *t, const char *s, size_t n) {
  if (t->params_len + n + 1 > t->params_cap) {
    size_t cap = t->params_cap ? t->params_cap : 256;
    while (cap < t->params_len + n + 1) cap *= 2;
    char *d = realloc(t->params_json, cap);
    if (!d) return DS_ENOMEM;
    t->params_json = d;
    t->params_cap = cap;
  }
  memcpy(t->params_json + t->params_len, s, n);
  t->params_len += n;
  t->params_json[t->params_len] = 0;
  return 0;
}

static int flat_add(ds_trial_t *t, const ds_flat_t *f) {
  if (t->n_flat == t->flat_cap) {
    size_t cap = t->flat_cap ? 2 * t->flat_cap : 16;
    const ds_flat_t **p = realloc(t->flat, cap * sizeof *p);
    if (!p) return DS_ENOMEM;
    t->flat = p;
    t->flat_cap = cap;
  }
  t->flat[t->n_flat++] = f;
  return 0;
}

static const ds_flat_t *own_flat(ds_trial_t *t, const char *name, double value) {
  if (t->n_own_flat == t->own_flat_cap) {
    /* Capacity is fixed at the number of axes on first use so that pointers stay valid. */
    return NULL;
  }
  ds_flat_t *f = &t->own_flat[t->n_own_flat++];
  free(f->name);
  f->name = strdup(name);
  f->value = value;
  f->text = NULL;
  return f;
}

/* Element c of a seeded permutation of 0..n-1, by a bijective affine map modulo n (no table:
 * n ≤ 2^40). */
static int64_t affine_perm(uint64_t seed, int64_t n, int64_t c) {
  uint64_t st = seed;
  int64_t mul = (int64_t)(ds_splitmix64(&st) % (uint64_t)n) | 1, add = (int64_t)(ds_splitmix64(&st) % (uint64_t)n);
  while (n > 1) { /* make mul coprime with n */
    int64_t x = mul, y = n;
    while (y) { int64_t tmp = x % y; x = y; y = tmp; }
    if (x == 1) break;
    mul += 2;
  }
  return (int64_t)(((__int128)mul * c + add) % n);
}

/* Continuous value of axis a for configuration c under the random or LHS sampler. */
static double sample_continuous(const ds_spec_t *s, size_t a, int64_t c, uint64_t *rng) {
  const ds_axis_t *ax = &s->axes[a];
  double u;
  if (s->sampler == DS_SAMPLER_LHS) {
    /* Stratum of configuration c on axis a: a seeded permutation of 0..n-1. */
    int64_t n = s->sampler_n;
    int64_t stratum = affine_perm(s->sampler_seed * 0x9e3779b97f4a7c15ULL + a + 1, n, c);
    u = (stratum + ds_rand_unit(rng)) / (double)n;
  } else {
    u = ds_rand_unit(rng);
  }
  if (ax->kind == DS_AXIS_LOG) return exp(log(ax->lo) + u * (log(ax->hi) - log(ax->lo)));
  if (ax->kind == DS_AXIS_LINEAR) return ax->lo + u * (ax->hi - ax->lo);
  return u;
}

int ds_spec_trial(const ds_spec_t *s, int64_t idx, ds_trial_t *t) {
  if (idx < 0 || idx >= s->n_trials) return DS_EINVAL;
  t->idx = idx;
  size_t seed_i = (size_t)(idx % (int64_t)s->n_seeds);
  int64_t c = idx / (int64_t)s->n_seeds;
  t->seed = s->seeds[seed_i];
  t->params_len = 0;
  t->n_flat = 0;
  t->n_own_flat = 0;
  if (!t->own_flat || t->own_flat_cap < s->n_axes + 1) {
    for (size_t i = 0; i < t->own_flat_cap; i++) free(t->own_flat[i].name);
    free(t->own_flat);
    t->own_flat_cap = s->n_axes + 1;
    t->own_flat = calloc(t->own_flat_cap, sizeof *t->own_flat);
    if (!t->own_flat) return DS_ENOMEM;
  }
  /* Choose a value (grid index, or continuous number) for every axis. */
  size_t pick[64];
  double cont[64];
  int is_cont[64];
  if (s->n_axes > 64) return DS_EINVAL;
  if (s->sampler == DS_SAMPLER_GRID || s->draw_space > 0) {
    /* A grid point; for a random or LHS sampler over discrete axes only, the configurations are
     * drawn without replacement: configuration c is element c of a seeded permutation of the
     * grid, so that no two trials can share a key. */
    int64_t r = s->sampler == DS_SAMPLER_GRID ? c : affine_perm(s->sampler_seed ^ 0x6772696464726177ULL, s->draw_space, c);
    for (size_t a = s->n_axes; a-- > 0;) {
      pick[a] = (size_t)(r % (int64_t)s->axes[a].n);
      r /= (int64_t)s->axes[a].n;
      is_cont[a] = 0;
    }
  } else {
    uint64_t rng = s->sampler_seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(c + 1));
    for (size_t a = 0; a < s->n_axes; a++) {
      const ds_axis_t *ax = &s->axes[a];
      is_cont[a] = ax->kind == DS_AXIS_LINEAR || ax->kind == DS_AXIS_LOG;
      double u = sample_continuous(s, a, c, &rng);
      if (is_cont[a]) cont[a] = u;
      else pick[a] = (size_t)fmin(floor((ax->kind == DS_AXIS_SIMPLEX || ax->kind == DS_AXIS_LIST ? u : 0) * ax->n), ax->n - 1);
    }
  }
  int rc = tbuf_put(t, "{", 1);
  char num[40];
  for (size_t i = 0; i < s->n_slots && !rc; i++) {
    if (i) rc = tbuf_put(t, ",", 1);
    if (!rc) rc = tbuf_put(t, s->slot_key[i], strlen(s->slot_key[i]));
    if (rc) break;
    int a = s->slot_axis[i];
    if (a == -2) {
      int n = snprintf(num, sizeof num, "%lld", (long long)t->seed);
      rc = tbuf_put(t, num, (size_t)n);
    } else if (a == -1) {
      const ds_pval_t *pv = &s->slot_fixed[i];
      rc = tbuf_put(t, pv->json, pv->json_len);
      for (size_t f = 0; f < pv->n_flat && !rc; f++) rc = flat_add(t, &pv->flat[f]);
    } else if (is_cont[a]) {
      int n = ds_fmt_double(num, cont[a]);
      rc = tbuf_put(t, num, (size_t)n);
      const ds_flat_t *f = own_flat(t, s->axes[a].vals[0].flat[0].name, cont[a]);
      if (!rc) rc = f ? flat_add(t, f) : DS_ENOMEM;
    } else {
      const ds_pval_t *pv = &s->axes[a].vals[pick[a]];
      rc = tbuf_put(t, pv->json, pv->json_len);
      for (size_t f = 0; f < pv->n_flat && !rc; f++) rc = flat_add(t, &pv->flat[f]);
    }
  }
  if (!rc) rc = tbuf_put(t, "}", 1);
  if (rc) return rc;
  ds_key_t k;
  ds_key_compute(s->key_scheme, s->task, t->params_json, t->params_len, &k);
  t->key_scheme = s->key_scheme;
  memcpy(t->key, k.hex, sizeof t->key);
  memcpy(t->key_bin, k.bin, sizeof t->key_bin);
  t->rng_seed = k.rng_seed;
  return 0;
}

void ds_trial_free(ds_trial_t *t) {
  if (!t) return;
  free(t->params_json);
  free(t->flat);
  for (size_t i = 0; i < t->own_flat_cap; i++) free(t->own_flat[i].name);
  free(t->own_flat);
  memset(t, 0, sizeof *t);
}

