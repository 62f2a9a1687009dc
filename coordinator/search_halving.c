/* search_halving.c — the bracket table of successive halving / Hyperband and the choice of a rung's
 * survivors (ds_halving.h).  Pure: no globals, no clocks, no allocation that outlives a call.
 *
 * Budgets are computed as min * eta^(s_max - s + i) from integer powers, not as max * eta^-k, so that a
 * rung's budget is bit-identical on every machine and for every order of evaluation (a budget becomes
 * a trial parameter and so part of its key). */
#include "ds_halving.h"
#include "ds_search.h"

#include <math.h>
#include <stdlib.h>

#include "ds_error.h"

int ds_hb_smax(double min, double max, int eta) {
  /* Integer climb instead of floor(log(R)/log(eta)): log(81)/log(3) is 3.9999999999999996 in doubles. */
  int s = 0;
  double p = min;
  while (p * eta <= max * (1.0 + 1e-12)) { p *= eta; s++; }
  return s;
}

static double ipow(int eta, int k) {
  double p = 1.0;
  for (int j = 0; j < k; j++) p *= eta;
  return p;
}

int ds_hb_table(double min, double max, int eta, int single, ds_hb_rung_t *out, size_t cap, size_t *n_out) {
  *n_out = 0;
  if (!(min > 0) || !(max >= min) || eta < 2 || !isfinite(max)) return DS_EINVAL;
  int smax = ds_hb_smax(min, max, eta);
  size_t k = 0;
  for (int s = smax; s >= (single ? smax : 0); s--) {
    /* n = ceil((s_max+1)/(s+1) * eta^s) in integers: eta^s <= R < 2^63 here. */
    int64_t es = (int64_t)ipow(eta, s);
    int64_t n = ((int64_t)(smax + 1) * es + s) / (s + 1);
    for (int i = 0; i <= s; i++) {
      if (k == cap) return DS_EINVAL;
      int64_t ni = n;
      for (int j = 0; j < i; j++) ni /= eta; /* floor(n eta^-i), one floor per step is the same floor */
      out[k++] = (ds_hb_rung_t){.bracket = s, .rung = i, .n = ni, .budget = min * ipow(eta, smax - s + i)};
    }
  }
  *n_out = k;
  return 0;
}

typedef struct { size_t pos; int rank; double key; } cand_t;

/* Better first: lower rank, then larger key (crowding; for one objective key = -value), then position. */
static int cmp_cand(const void *pa, const void *pb) {
  const cand_t *a = pa, *b = pb;
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  if (a->key != b->key) return a->key > b->key ? -1 : 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int cmp_size(const void *pa, const void *pb) {
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  return a < b ? -1 : a > b;
}

int ds_hb_survivors(const double *y, size_t n, size_t m, size_t keep, size_t *keep_idx) {
  if (keep > n || m == 0) return DS_EINVAL;
  cand_t *c = malloc((n ? n : 1) * sizeof *c);
  int *rank = malloc((n ? n : 1) * sizeof *rank);
  double *crowd = malloc((n ? n : 1) * sizeof *crowd);
  int rc = DS_ENOMEM;
  if (!c || !rank || !crowd) goto fail;
  if (m == 1) {
    for (size_t i = 0; i < n; i++) {
      int bad = isnan(y[i]);
      c[i] = (cand_t){.pos = i, .rank = bad, .key = bad ? 0 : -y[i]};
    }
  } else {
    if ((rc = ds_nd_rank_crowding(y, n, m, rank, crowd))) goto fail;
    for (size_t i = 0; i < n; i++) c[i] = (cand_t){.pos = i, .rank = rank[i], .key = crowd[i]};
  }
  qsort(c, n, sizeof *c, cmp_cand);
  for (size_t i = 0; i < keep; i++) keep_idx[i] = c[i].pos;
  qsort(keep_idx, keep, sizeof *keep_idx, cmp_size);
  rc = 0;
fail:
  free(c);
  free(rank);
  free(crowd);
  return rc;
}
