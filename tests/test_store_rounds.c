/* test_store_rounds.c — the proposals table: rows land in a real SQLite file, rewriting a round with
 * the same proposals is a no-op, a different proposal for a stored index is refused and rolls back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_rounds.h"
#include "ds_test.h"

int main(void) {
  char dir[] = "/tmp/ds_rounds_XXXXXX", path[256], err[256] = "";
  if (!mkdtemp(dir)) return 77;
  snprintf(path, sizeof path, "%s/a.db", dir);
  ds_store_t *s = NULL;
  ASSERT_EQ_INT(ds_store_open(path, DS_STORE_CREATE, &s, err, sizeof err), 0);
  if (!s) return ds_test_exit();
  ASSERT_EQ_INT(ds_rounds_init(s, err, sizeof err), 0);
  ds_proposal_t p[3] = {{0, 0, "bracket 4 rung 0", 100, "{\"lr\":1}"},
                        {1, 0, "bracket 4 rung 0", 100, "{\"lr\":2}"},
                        {2, 1, "bracket 4 rung 1", 300, "{\"lr\":2}"}};
  ASSERT_EQ_INT(ds_rounds_put(s, "c", p, 3, err, sizeof err), 0);
  ASSERT_EQ_INT(ds_rounds_put(s, "c", p, 3, err, sizeof err), 0);
  int64_t n = -1;
  ASSERT_EQ_INT(ds_rounds_count(s, "c", 0, &n), 0);
  ASSERT_EQ_INT(n, 2);
  ds_proposal_t q[2] = {{3, 1, "bracket 4 rung 1", 300, "{\"lr\":1}"}, {2, 1, "bracket 4 rung 1", 900, "{\"lr\":2}"}};
  ASSERT_EQ_INT(ds_rounds_put(s, "c", q, 2, err, sizeof err), DS_EDAMAGED);
  ASSERT_EQ_INT(ds_rounds_count(s, "c", 1, &n), 0);
  ASSERT_EQ_INT(n, 1); /* idx 3 rolled back with the refused batch */
  ds_store_close(s);
  unlink(path);
  return ds_test_exit();
}
