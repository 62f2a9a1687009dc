/* search_refine.c — front refinement: bisect the intervals between neighbouring points whose objective
 * vectors lie farthest apart (ds_refine.h).  Gaps are measured on objectives scaled by their range in
 * the group, so one objective's units cannot decide alone; failed points (NaN) are skipped, their
 * neighbours become neighbours. */
#include "ds_refine.h"

#include <math.h>
#include <stdlib.h>

#include "ds_error.h"

typedef struct { size_t lo; double gap; } gap_t;

static int cmp_gap(const void *pa, const void *pb) {
  const gap_t *a = pa, *b = pb;
  if (a->gap != b->gap) return a->gap > b->gap ? -1 : 1;
  return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int cmp_dbl(const void *pa, const void *pb) {
  double a = *(const double *)pa, b = *(const double *)pb;
  return a < b ? -1 : a > b;
}

int ds_refine_propose(const double *x, const double *y, size_t n, size_t m, int log_axis, size_t per_round,
                      double tol, double *x_out, size_t *n_out, double *max_gap) {
  *n_out = 0;
  *max_gap = 0;
  for (size_t i = 0; i < n; i++)
    if ((i && !(x[i] > x[i - 1])) || (log_axis && !(x[i] > 0))) return DS_EINVAL;
  size_t *ok = malloc((n ? n : 1) * sizeof *ok);
  gap_t *g = malloc((n ? n : 1) * sizeof *g);
  double *span = malloc((m ? m : 1) * sizeof *span);
  int rc = DS_ENOMEM;
  if (!ok || !g || !span) goto fail;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int bad = 0;
    for (size_t j = 0; j < m; j++) bad |= !isfinite(y[i * m + j]);
    if (!bad) ok[k++] = i;
  }
  for (size_t j = 0; j < m; j++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t a = 0; a < k; a++) { lo = fmin(lo, y[ok[a] * m + j]); hi = fmax(hi, y[ok[a] * m + j]); }
    span[j] = hi > lo ? hi - lo : 1.0;
  }
  size_t ng = 0;
  for (size_t a = 0; a + 1 < k; a++) {
    double d2 = 0;
    for (size_t j = 0; j < m; j++) {
      double d = (y[ok[a + 1] * m + j] - y[ok[a] * m + j]) / span[j];
      d2 += d * d;
    }
    g[ng++] = (gap_t){.lo = a, .gap = sqrt(d2)};
  }
  qsort(g, ng, sizeof *g, cmp_gap);
  if (ng) *max_gap = g[0].gap;
  size_t out = 0;
  for (size_t a = 0; a < ng && out < per_round && g[a].gap >= tol; a++) {
    double l = x[ok[g[a].lo]], h = x[ok[g[a].lo + 1]];
    double mid = log_axis ? sqrt(l) * sqrt(h) : l + (h - l) / 2;
    if (mid > l && mid < h) x_out[out++] = mid; /* an interval too narrow to split in doubles is done */
  }
  qsort(x_out, out, sizeof *x_out, cmp_dbl);
  *n_out = out;
  rc = 0;
fail:
  free(ok);
  free(g);
  free(span);
  return rc;
}
