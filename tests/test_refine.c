/* test_refine.c — front refinement puts its points where the front bends.  The two-objective family
 * f1 = b, f2 = max(1 - b, 8 (0.5 - b)) (b in [0,1]) has a kink at b = 3/7, where 8(0.5 - b) meets
 * 1 - b and the front's slope jumps from -8 to -1; refinement from a coarse 7-point grid, 2 points a
 * round for 5 rounds, must split the kink's interval and fill the steep side first. */
#include <math.h>
#include <stddef.h>

#include "ds_error.h"
#include "ds_refine.h"
#include "ds_test.h"

static void f(double b, double *y) {
  y[0] = b;
  y[1] = fmax(1 - b, 8 * (0.5 - b));
}

static void refinement_concentrates_points_at_the_kink(void) {
  double x[64], y[128], nx[8];
  size_t n = 7;
  for (size_t i = 0; i < n; i++) { x[i] = i / 6.0; f(x[i], y + 2 * i); }
  for (int round = 0; round < 5; round++) {
    size_t k = 0;
    double gap = 0;
    ASSERT_EQ_INT(ds_refine_propose(x, y, n, 2, 0, 2, 1e-3, nx, &k, &gap), 0);
    ASSERT_TRUE(k >= 1);
    for (size_t a = 0; a < k; a++) {
      /* merge nx into x ascending */
      size_t p = n;
      while (p > 0 && x[p - 1] > nx[a]) { x[p] = x[p - 1]; y[2 * p] = y[2 * p - 2]; y[2 * p + 1] = y[2 * p - 1]; p--; }
      x[p] = nx[a];
      f(nx[a], y + 2 * p);
      n++;
    }
  }
  /* Gaps are measured in objective space, so the points go where the front moves fastest: the steep
   * side of the kink (slope -8) gets more than twice the density of the flat side, and the interval
   * that holds the kink is split below the coarse spacing 1/6. */
  size_t left = 0, right = 0;
  double kink_w = 1;
  for (size_t i = 0; i < n; i++) left += x[i] < 3.0 / 7, right += x[i] > 3.0 / 7;
  for (size_t i = 0; i + 1 < n; i++)
    if (x[i] <= 3.0 / 7 && x[i + 1] >= 3.0 / 7) kink_w = x[i + 1] - x[i];
  ASSERT_TRUE(left / (3.0 / 7) > 2 * (right / (4.0 / 7)));
  ASSERT_TRUE(kink_w < 1.0 / 6 - 1e-9);
}

static void log_axis_bisects_geometrically_and_rejects_bad_input(void) {
  const double x[2] = {1e-3, 1e-1}, y[4] = {0, 1, 1, 0};
  double o[2];
  size_t k;
  double gap;
  ASSERT_EQ_INT(ds_refine_propose(x, y, 2, 2, 1, 4, 0, o, &k, &gap), 0);
  ASSERT_EQ_INT(k, 1);
  ASSERT_NEAR(o[0], 1e-2, 1e-15);
  ASSERT_EQ_INT(ds_refine_propose(x, y, 2, 2, 1, 4, 2.0, o, &k, &gap), 0);
  ASSERT_EQ_INT(k, 0); /* gap sqrt(2) < tol: resolved */
  const double xb[2] = {1, 1};
  ASSERT_EQ_INT(ds_refine_propose(xb, y, 2, 2, 0, 4, 0, o, &k, &gap), DS_EINVAL);
}

int main(void) {
  refinement_concentrates_points_at_the_kink();
  log_axis_bisects_geometrically_and_rejects_bad_input();
  return ds_test_exit();
}
