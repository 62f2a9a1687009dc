/* testfn.c — the standard optimisation test functions behind ds_testfn.h (Branin, Hartmann-6,
 * Rosenbrock, ZDT1/ZDT2), a fidelity transform with known convergence, and seeded noise. */
#include <math.h>

#include "ds_spec.h"
#include "ds_testfn.h"

double ds_tf_branin(double x1, double x2) {
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
  double u = x2 - b * x1 * x1 + c * x1 - r;
  return a * u * u + s * (1 - t) * cos(x1) + s;
}

double ds_tf_hartmann6(const double x[6]) {
  static const double al[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}};
  double sum = 0;
  for (int i = 0; i < 4; i++) {
    double e = 0;
    for (int j = 0; j < 6; j++) {
      double d = x[j] - P[i][j] * 1e-4;
      e += A[i][j] * d * d;
    }
    sum += al[i] * exp(-e);
  }
  return -sum;
}

double ds_tf_rosenbrock(const double *x, size_t d) {
  double s = 0;
  for (size_t i = 0; i + 1 < d; i++) {
    double u = x[i + 1] - x[i] * x[i], v = 1 - x[i];
    s += 100 * u * u + v * v;
  }
  return s;
}

static double zdt_g(const double *x, size_t d) {
  double s = 0;
  for (size_t i = 1; i < d; i++) s += x[i];
  return 1 + 9 * s / (double)(d - 1);
}

void ds_tf_zdt1(const double *x, size_t d, double f[2]) {
  double g = zdt_g(x, d);
  f[0] = x[0];
  f[1] = g * (1 - sqrt(x[0] / g));
}

void ds_tf_zdt2(const double *x, size_t d, double f[2]) {
  double g = zdt_g(x, d), r = x[0] / g;
  f[0] = x[0];
  f[1] = g * (1 - r * r);
}

double ds_tf_fidelity(double f, double frac) { return f + (1 - frac) * (1 + fabs(f)); }

double ds_tf_noise(uint64_t seed, double sd) {
  uint64_t st = seed;
  double u1 = ds_rand_unit(&st), u2 = ds_rand_unit(&st);
  return sd * sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
}
