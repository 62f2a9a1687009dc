/* search_rank.c — non-dominated rank (rank 0 = the front) and crowding distance (Deb et al.,
 * NSGA-II), for NSGA-II's selection and halving's multi-objective rung survivors (ds_search.h).
 * O(n² · n_obj), deterministic; a row whose y[0] is NaN (failed trial) gets rank INT_MAX and
 * crowding 0.  Boundary points of a rank get crowding +Inf. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "ds_error.h"
#include "ds_search.h"

static int dominates(const double *a, const double *b, size_t m) {
  int better = 0;
  for (size_t k = 0; k < m; k++) {
    if (a[k] > b[k]) return 0;
    if (a[k] < b[k]) better = 1;
  }
  return better;
}

int ds_nd_rank_crowding(const double *y, size_t n, size_t n_obj, int *rank_out, double *crowd_out) {
  if (!n) return 0;
  if (!y || !rank_out || !crowd_out || !n_obj) return DS_EINVAL;
  size_t *order = malloc(n * sizeof *order);
  if (!order) return DS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    rank_out[i] = isnan(y[i * n_obj]) ? INT_MAX : -1;
    crowd_out[i] = 0;
  }
  /* Peel fronts: a point joins rank r when no unranked (or rank-r-in-progress) point dominates it. */
  for (int r = 0;; r++) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
      if (rank_out[i] != -1) continue;
      int dom = 0;
      for (size_t j = 0; j < n && !dom; j++)
        if (j != i && (rank_out[j] == -1 || rank_out[j] == r) && dominates(y + j * n_obj, y + i * n_obj, n_obj))
          dom = 1;
      if (!dom) order[cnt++] = i;
    }
    if (!cnt) break;
    for (size_t c = 0; c < cnt; c++) rank_out[order[c]] = r;
    /* Crowding within this rank: per objective, sort by value (index breaks ties), add normalised gaps. */
    for (size_t k = 0; k < n_obj; k++) {
      for (size_t a = 1; a < cnt; a++) /* insertion sort: ranks are small */
        for (size_t b = a; b > 0; b--) {
          double u = y[order[b - 1] * n_obj + k], v = y[order[b] * n_obj + k];
          if (u < v || (u == v && order[b - 1] < order[b])) break;
          size_t t = order[b - 1];
          order[b - 1] = order[b];
          order[b] = t;
        }
      double lo = y[order[0] * n_obj + k], hi = y[order[cnt - 1] * n_obj + k];
      crowd_out[order[0]] = crowd_out[order[cnt - 1]] = INFINITY;
      if (hi > lo)
        for (size_t c = 1; c + 1 < cnt; c++)
          crowd_out[order[c]] += (y[order[c + 1] * n_obj + k] - y[order[c - 1] * n_obj + k]) / (hi - lo);
    }
  }
  free(order);
  return 0;
}
