/* test_search.c — the adaptive-search functions of coordinator/ds_search.h (so far: rank + crowding). */
#include <limits.h>

#include "ds_search.h"
#include "ds_test.h"

int main(void) {
  /* Two objectives: (0,3) (1,1) (3,0) are the front; (2,2) is dominated by (1,1); (3,3) by all; one failed. */
  const double y[] = {0, 3, 1, 1, 3, 0, 2, 2, 3, 3, NAN, 0};
  int rank[6];
  double crowd[6];
  ASSERT_EQ_INT(ds_nd_rank_crowding(y, 6, 2, rank, crowd), 0);
  ASSERT_EQ_INT(rank[0], 0);
  ASSERT_EQ_INT(rank[1], 0);
  ASSERT_EQ_INT(rank[2], 0);
  ASSERT_EQ_INT(rank[3], 1);
  ASSERT_EQ_INT(rank[4], 2);
  ASSERT_EQ_INT(rank[5], INT_MAX);
  ASSERT_TRUE(isinf(crowd[0]) && isinf(crowd[2]));
  ASSERT_NEAR(crowd[1], 2.0, 1e-15); /* (3-0)/3 + (3-0)/3 */
  return ds_test_exit();
}
