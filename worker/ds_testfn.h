/* ds_testfn.h — standard optimisation test functions (pure, no state) for the `testfn` task and
 * the adaptive-search tests and benchmarks.  Optional fidelity: budget b in (0, 1] scales the
 * distance to the full-budget value (ds_tf_fidelity); frac = 1 is exact. */
#ifndef DS_TESTFN_H
#define DS_TESTFN_H

#include <stddef.h>
#include <stdint.h>

/* Branin on [-5, 10] x [0, 15]; minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475). */
double ds_tf_branin(double x1, double x2);
/* Hartmann-6 on [0, 1]^6; minimum -3.32237. */
double ds_tf_hartmann6(const double x[6]);
/* Rosenbrock in d >= 2 dimensions; minimum 0 at (1, ..., 1). */
double ds_tf_rosenbrock(const double *x, size_t d);
/* ZDT1/ZDT2 on [0, 1]^d (d >= 2), two objectives to minimise; the front is x2..xd = 0,
 * f2 = 1 − sqrt(f1) (ZDT1) or 1 − f1² (ZDT2). */
void ds_tf_zdt1(const double *x, size_t d, double f[2]);
void ds_tf_zdt2(const double *x, size_t d, double f[2]);
/* Fidelity: the value at budget fraction frac in (0, 1], f + (1 − frac)·(1 + |f|) — converges to f as
 * frac → 1, monotonically from above. */
double ds_tf_fidelity(double f, double frac);
/* Seeded Gaussian noise N(0, sd²) from a 64-bit seed (Box–Muller on ds_rand_unit). */
double ds_tf_noise(uint64_t seed, double sd);

#endif /* DS_TESTFN_H */
