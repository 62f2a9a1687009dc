/* ds_test.h — always-on assertions for divsweep's C tests.  Each prints both sides and the
 * location, counts the failure and goes on, so one run shows every broken check — or, in a file
 * that defines DS_TEST_ON_FAIL as `return` before including this header, leaves the test
 * function at its first failure (for tests whose later checks would dereference what failed).  A test binary
 * returns ds_test_exit(): 0 when all passed, 1 otherwise (77 means skipped, by convention). */
#ifndef DS_TEST_H
#define DS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef DS_TEST_ON_FAIL
#define DS_TEST_ON_FAIL ((void)0)
#endif

static int ds_test_failures = 0, ds_test_checks = 0;
/* A label a test may set for the case it is checking (a divergence, a backend); failures print it. */
static const char *ds_test_ctx = "";
#define DS_TEST_CTX_ ds_test_ctx[0] ? " [" : "", ds_test_ctx, ds_test_ctx[0] ? "]" : ""

#define ASSERT_TRUE(c)                                                                          \
  do {                                                                                          \
    ds_test_checks++;                                                                           \
    if (!(c)) {                                                                                 \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s\n", __FILE__, __LINE__, DS_TEST_CTX_, #c);                           \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                                     \
  do {                                                                                          \
    long long a_ = (long long)(a), b_ = (long long)(b);                                         \
    ds_test_checks++;                                                                           \
    if (a_ != b_) {                                                                             \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, a_, b_); \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                  \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (tol)) && !(a_ == b_)) { /* a_ == b_: equal infinities */                                                            \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s ~= %s (%.17g vs %.17g, tol %g)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, a_, b_, \
              (double)(tol));                                                                   \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_LE(a, b)                                                                         \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(a_ <= b_)) {                                                                          \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s <= %s (%.17g vs %.17g)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, a_, b_); \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_GT(a, b)                                                                         \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(a_ > b_)) {                                                                           \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s > %s (%.17g vs %.17g)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, a_, b_); \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

/* |a − b| ≤ atol + rtol·|b|; NaN never passes. */
#define ASSERT_CLOSE(a, b, atol, rtol)                                                          \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {                                       \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s ~= %s (%.17g vs %.17g, diff %.3g)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, \
              #b, a_, b_, a_ - b_);                                                             \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_STREQ(a, b)                                                                      \
  do {                                                                                          \
    const char *a_ = (a), *b_ = (b);                                                            \
    ds_test_checks++;                                                                           \
    if (!a_ || !b_ || strcmp(a_, b_)) {                                                         \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, \
              a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                          \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                            \
  do {                                                                                          \
    const char *h_ = (hay), *n_ = (needle);                                                     \
    ds_test_checks++;                                                                           \
    if (!h_ || !strstr(h_, n_)) {                                                               \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: \"%s\" contains \"%s\"\n", __FILE__, __LINE__, DS_TEST_CTX_, h_ ? h_ : "(null)", n_); \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

#define ASSERT_NOT_CONTAINS(hay, needle)                                                        \
  do {                                                                                          \
    const char *h_ = (hay), *n_ = (needle), *at_ = h_ ? strstr(h_, n_) : NULL;                  \
    ds_test_checks++;                                                                           \
    if (at_) {                                                                                  \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: found \"%s\" at offset %ld: \"%.60s\"\n", __FILE__, __LINE__, DS_TEST_CTX_, n_, \
              (long)(at_ - h_), at_);                                                           \
      DS_TEST_ON_FAIL;                                                                          \
    }                                                                                           \
  } while (0)

/* Relative closeness: |a − b| ≤ rel·(|a| + |b|) + 1e-12. */
#define ASSERT_REL_NEAR(a, b, rel)                                                              \
  do {                                                                                          \
    double a_ = (double)(a), b_ = (double)(b);                                                  \
    ds_test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (rel) * (fabs(a_) + fabs(b_)) + 1e-12)) {                            \
      ds_test_failures++;                                                                       \
      fprintf(stderr, "%s:%d:%s%s%s FAILED: %s ~= %s (%.17g vs %.17g, rel %g)\n", __FILE__, __LINE__, DS_TEST_CTX_, #a, #b, a_, \
              b_, (double)(rel));                                                               \
      DS_TEST_ON_FAIL;                                                                          \
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
