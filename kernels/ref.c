/* ref.c — scalar double-precision reference kernels (placeholder until the kernel library lands). */
#include <math.h>
#include "ds_kernels.h"

double ds_ref_log_softmax(size_t V, const double *x, double T, double *out) {
  double m = -INFINITY, s = 0;
  for (size_t i = 0; i < V; i++) m = fmax(m, x[i] / T);
  for (size_t i = 0; i < V; i++) s += exp(x[i] / T - m);
  double lse = m + log(s);
  for (size_t i = 0; i < V; i++) out[i] = x[i] / T - lse;
  return lse;
}
