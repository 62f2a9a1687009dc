/* test_testfn.c — the test functions against their published optima (worker/testfn.c). */
#include "ds_test.h"
#include "ds_testfn.h"

int main(void) {
  ASSERT_NEAR(ds_tf_branin(-M_PI, 12.275), 0.397887, 1e-6);
  ASSERT_NEAR(ds_tf_branin(M_PI, 2.275), 0.397887, 1e-6);
  ASSERT_NEAR(ds_tf_branin(9.42478, 2.475), 0.397887, 1e-6);
  ASSERT_TRUE(ds_tf_branin(0, 0) > 1);
  const double h[6] = {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573};
  ASSERT_NEAR(ds_tf_hartmann6(h), -3.32237, 1e-5);
  const double ones[5] = {1, 1, 1, 1, 1}, zero[5] = {0};
  ASSERT_NEAR(ds_tf_rosenbrock(ones, 5), 0, 0);
  ASSERT_NEAR(ds_tf_rosenbrock(zero, 5), 4, 0);
  for (double x1 = 0; x1 <= 1; x1 += 0.25) {
    double x[3] = {x1, 0, 0}, f[2];
    ds_tf_zdt1(x, 3, f);
    ASSERT_NEAR(f[1], 1 - sqrt(x1), 1e-15);
    ds_tf_zdt2(x, 3, f);
    ASSERT_NEAR(f[1], 1 - x1 * x1, 1e-15);
  }
  double xo[3] = {0.25, 0.5, 0.5}, f[2];
  ds_tf_zdt1(xo, 3, f);
  ASSERT_TRUE(f[1] > 1 - sqrt(0.25) + 1);
  ASSERT_NEAR(ds_tf_fidelity(2, 1), 2, 0);
  ASSERT_TRUE(ds_tf_fidelity(2, 0.5) > ds_tf_fidelity(2, 0.9));
  ASSERT_TRUE(ds_tf_noise(7, 1) == ds_tf_noise(7, 1));
  ASSERT_TRUE(ds_tf_noise(7, 1) != ds_tf_noise(8, 1));
  return ds_test_exit();
}
