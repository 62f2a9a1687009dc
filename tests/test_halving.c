/* test_halving.c — successive halving / Hyperband: the bracket table against Li et al. (JMLR 2018,
 * Table 1: eta = 3, R = 81), budgets scaled by min, the single bracket of "halving", and the choice of
 * survivors by one objective and by non-dominated rank + crowding. */
#include <math.h>
#include <stdint.h>

#include "ds_error.h"
#include "ds_halving.h"
#include "ds_search.h"
#include "ds_test.h"

static void bracket_table_matches_li_et_al_for_eta3_min1_max81(void) {
  /* Li et al., Table 1: (n_i, r_i) per bracket s = 4..0. */
  static const int64_t n[5][5] = {{81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5}};
  static const double r[5][5] = {{1, 3, 9, 27, 81}, {3, 9, 27, 81}, {9, 27, 81}, {27, 81}, {81}};
  ds_hb_rung_t t[DS_HB_MAX_RUNGS];
  size_t k = 0;
  ASSERT_EQ_INT(ds_hb_table(1, 81, 3, 0, t, DS_HB_MAX_RUNGS, &k), 0);
  ASSERT_EQ_INT(k, 5 + 4 + 3 + 2 + 1);
  size_t at = 0;
  for (int b = 0; b < 5; b++)
    for (int i = 0; i <= 4 - b && at < k; i++, at++) {
      ASSERT_EQ_INT(t[at].bracket, 4 - b);
      ASSERT_EQ_INT(t[at].rung, i);
      ASSERT_EQ_INT(t[at].n, n[b][i]);
      ASSERT_TRUE(t[at].budget == r[b][i]);
    }
}

static void budgets_scale_by_min_and_halving_is_the_first_bracket(void) {
  ds_hb_rung_t t[DS_HB_MAX_RUNGS];
  size_t k = 0;
  ASSERT_EQ_INT(ds_hb_table(100, 8100, 3, 1, t, DS_HB_MAX_RUNGS, &k), 0);
  ASSERT_EQ_INT(k, 5);
  static const double want[5] = {100, 300, 900, 2700, 8100};
  for (size_t i = 0; i < k; i++) {
    ASSERT_EQ_INT(t[i].bracket, 4);
    ASSERT_TRUE(t[i].budget == want[i]);
  }
  ASSERT_EQ_INT(t[0].n, 81);
  ASSERT_EQ_INT(ds_hb_smax(1, 80.9, 3), 3);
  ASSERT_EQ_INT(ds_hb_smax(1, 1, 3), 0);
  ASSERT_EQ_INT(ds_hb_table(0, 81, 3, 0, t, DS_HB_MAX_RUNGS, &k), DS_EINVAL);
  ASSERT_EQ_INT(ds_hb_table(1, 81, 1, 0, t, DS_HB_MAX_RUNGS, &k), DS_EINVAL);
  ASSERT_EQ_INT(ds_hb_table(1, 81, 3, 0, t, 3, &k), DS_EINVAL);
  ASSERT_EQ_INT(k, 0);
}

static void one_objective_keeps_the_smallest_values_and_puts_failures_last(void) {
  const double y[6] = {5, NAN, 1, 3, 1, 0.5};
  size_t keep[3];
  ASSERT_EQ_INT(ds_hb_survivors(y, 6, 1, 3, keep), 0);
  /* 0.5 (pos 5), then the tie 1 at pos 2 and 4 -> positions 2, 4, 5 in position order. */
  ASSERT_EQ_INT(keep[0], 2);
  ASSERT_EQ_INT(keep[1], 4);
  ASSERT_EQ_INT(keep[2], 5);
  size_t all[6];
  ASSERT_EQ_INT(ds_hb_survivors(y, 6, 1, 5, all), 0);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(all[i] != 1);
  ASSERT_EQ_INT(ds_hb_survivors(y, 6, 1, 7, all), DS_EINVAL);
}

static void several_objectives_keep_the_front_then_its_spread_out_points(void) {
  /* Front: (0,4) (1,2) (1.1,1.9) (4,0); dominated: (3,3) (5,5). Keep 3: the two ends (infinite
   * crowding) and the interior point with the larger crowding distance. */
  const double y[12] = {3, 3, 0, 4, 1, 2, 1.1, 1.9, 5, 5, 4, 0};
  int rank[6];
  double crowd[6];
  ASSERT_EQ_INT(ds_nd_rank_crowding(y, 6, 2, rank, crowd), 0);
  ASSERT_EQ_INT(rank[0], 1);
  ASSERT_EQ_INT(rank[1], 0);
  ASSERT_EQ_INT(rank[2], 0);
  ASSERT_EQ_INT(rank[3], 0);
  ASSERT_EQ_INT(rank[4], 2);
  ASSERT_EQ_INT(rank[5], 0);
  ASSERT_TRUE(isinf(crowd[1]) && isinf(crowd[5]));
  /* Interior: (1,2) neighbours (0,4),(1.1,1.9): 1.1/4 + 2.1/4; (1.1,1.9): 3/4 + 2/4. */
  ASSERT_NEAR(crowd[2], (1.1 + 2.1) / 4, 1e-12);
  ASSERT_NEAR(crowd[3], (3.0 + 2.0) / 4, 1e-12);
  size_t keep[3];
  ASSERT_EQ_INT(ds_hb_survivors(y, 6, 2, 3, keep), 0);
  ASSERT_EQ_INT(keep[0], 1);
  ASSERT_EQ_INT(keep[1], 3);
  ASSERT_EQ_INT(keep[2], 5);
}

int main(void) {
  bracket_table_matches_li_et_al_for_eta3_min1_max81();
  budgets_scale_by_min_and_halving_is_the_first_bracket();
  one_objective_keeps_the_smallest_values_and_puts_failures_last();
  several_objectives_keep_the_front_then_its_spread_out_points();
  return ds_test_exit();
}
