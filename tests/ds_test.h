/* ds_test.h — always-on assertions for divsweep's C tests.  Each prints both sides and the
 * location, counts the failure and goes on, so one run shows every broken check.  A test binary
 * returns ds_test_exit(): 0 when all passed, 1 otherwise (77 means skipped, by convention). */
#ifndef DS_TEST_H
#define DS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int ds_test_failures = 0, ds_test_checks = 0;

#define ASSERT_TRUE(c)                                                                          \
  do {                                                                                          \
    ds_test_checks++;                                                                           \
    if (!(c)) {                                                                                 \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #c);                           \
    }                                                                                           \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                                     \
  do {                                                                                          \
    long long a_ = (long long)(a), b_ = (long long)(b);                                         \
    ds_test_checks++;                                                                           \
    if (a_ != b_) {                                                                             \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, a_, b_); \
    }                                                                                           \
  } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                  \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (tol))) {                                                            \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s ~= %s (%.17g vs %.17g, tol %g)\n", __FILE__, __LINE__, #a, #b, a_, b_, \
              (double)(tol));                                                                   \
    }                                                                                           \
  } while (0)

#define ASSERT_STREQ(a, b)                                                                      \
  do {                                                                                          \
    const char *a_ = (a), *b_ = (b);                                                            \
    ds_test_checks++;                                                                           \
    if (!a_ || !b_ || strcmp(a_, b_)) {                                                         \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, #a, #b, \
              a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                            \
  do {                                                                                          \
    const char *h_ = (hay), *n_ = (needle);                                                     \
    ds_test_checks++;                                                                           \
    if (!h_ || !strstr(h_, n_)) {                                                               \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: FAILED: \"%s\" contains \"%s\"\n", __FILE__, __LINE__, h_ ? h_ : "(null)", n_); \
    }                                                                                           \
  } while (0)

#define RUN_TEST(fn)                                                                            \
  do {                                                                                          \
    int before_ = ds_test_failures;                                                             \
    fn();                                                                                       \
    fprintf(stderr, "%s %s\n", ds_test_failures == before_ ? "ok  " : "FAIL", #fn);             \
  } while (0)

static inline int ds_test_exit(void) {
  fprintf(stderr, "%d checks, %d failed\n", ds_test_checks, ds_test_failures);
  return ds_test_failures ? 1 : 0;
}

#endif
