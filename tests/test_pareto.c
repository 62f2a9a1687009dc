/* test_pareto.c — front ranks, hypervolume, reference points, aggregation and the incremental
 * ranker, each checked against a brute-force definition on random point sets that are rich in
 * ties, exact duplicates, NaN/Inf rows and mixed min/max senses.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_pareto.h"

#define DS_TEST_ON_FAIL return
#include "ds_test.h"

/* ---- deterministic random numbers ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) * 0x1.0p-53; }
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Random set: `grid` > 0 draws integers in [0, grid) (many ties and duplicates), else uniform;
 * a `bad` fraction of rows get a NaN or ±Inf; some rows copy an earlier row exactly. */
static void random_points(double *v, size_t n, size_t m, int grid, double bad)
{
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && unif() < 0.1) {
      memcpy(v + i * m, v + below(i) * m, m * sizeof *v);
      continue;
    }
    for (size_t j = 0; j < m; j++) v[i * m + j] = grid ? (double)below((size_t)grid) : unif();
    if (unif() < bad) {
      double w[3] = {NAN, INFINITY, -INFINITY};
      v[i * m + below(m)] = w[below(3)];
    }
  }
}

static void random_senses(ds_pareto_sense_t *s, size_t m)
{
  for (size_t j = 0; j < m; j++) s[j] = (rnd() & 1) ? DS_PARETO_MAX : DS_PARETO_MIN;
}

/* ---- brute-force references --------------------------------------------------------------- */

static int finite_row(const double *v, size_t m)
{
  for (size_t j = 0; j < m; j++)
    if (!isfinite(v[j])) return 0;
  return 1;
}

static int bf_dominates(const double *a, const double *b, size_t m, const ds_pareto_sense_t *s)
{
  int strict = 0;
  for (size_t j = 0; j < m; j++) {
    double x = a[j], y = b[j];
    if (s && s[j] == DS_PARETO_MAX) { x = -x; y = -y; }
    if (x > y) return 0;
    if (x < y) strict = 1;
  }
  return strict;
}

/* Peeling, straight from the definition: front r = points not dominated by any unranked point. */
static void bf_ranks_peel(const double *v, size_t n, size_t m, const ds_pareto_sense_t *s,
                          int32_t *rank)
{
  size_t left = 0;
  for (size_t i = 0; i < n; i++) {
    rank[i] = finite_row(v + i * m, m) ? -2 : -1;
    if (rank[i] == -2) left++;
  }
  int32_t *next = malloc((n ? n : 1) * sizeof *next);
  for (int32_t r = 0; left > 0; r++) {
    for (size_t i = 0; i < n; i++) {
      next[i] = rank[i];
      if (rank[i] != -2) continue;
      int dom = 0;
      for (size_t j = 0; j < n && !dom; j++)
        if (rank[j] == -2 && bf_dominates(v + j * m, v + i * m, m, s)) dom = 1;
      if (!dom) { next[i] = r; left--; }
    }
    memcpy(rank, next, n * sizeof *rank);
  }
  free(next);
}

/* Longest chain of dominators, O(n² m) after sorting by (sum, lex): every dominator sorts first. */
static const double *chain_v;
static size_t chain_m;
static int cmp_chain(const void *pa, const void *pb)
{
  const double *a = chain_v + *(const size_t *)pa * chain_m, *b = chain_v + *(const size_t *)pb * chain_m;
  double sa = 0, sb = 0;
  for (size_t j = 0; j < chain_m; j++) { sa += a[j]; sb += b[j]; }
  if (sa != sb) return sa < sb ? -1 : 1;
  for (size_t j = 0; j < chain_m; j++)
    if (a[j] != b[j]) return a[j] < b[j] ? -1 : 1;
  return 0;
}
static void bf_ranks_chain(const double *v, size_t n, size_t m, const ds_pareto_sense_t *s,
                           int32_t *rank)
{
  double *w = malloc((n ? n : 1) * m * sizeof *w);
  size_t *ord = malloc((n ? n : 1) * sizeof *ord), cnt = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < m; j++) w[i * m + j] = (s && s[j] == DS_PARETO_MAX) ? -v[i * m + j] : v[i * m + j];
    rank[i] = -1;
    if (finite_row(w + i * m, m)) ord[cnt++] = i;
  }
  chain_v = w;
  chain_m = m;
  qsort(ord, cnt, sizeof *ord, cmp_chain);
  for (size_t a = 0; a < cnt; a++) {
    int32_t r = 0;
    for (size_t b = 0; b < a; b++)
      if (rank[ord[b]] + 1 > r && bf_dominates(w + ord[b] * m, w + ord[a] * m, m, NULL))
        r = rank[ord[b]] + 1;
    rank[ord[a]] = r;
  }
  free(w);
  free(ord);
}

/* Inclusion–exclusion over all subsets of the points that beat ref strictly everywhere. */
static double bf_hv(const double *v, size_t n, size_t m, const ds_pareto_sense_t *s, const double *ref)
{
  double pts[16][8];
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int in = finite_row(v + i * m, m);
    for (size_t j = 0; in && j < m; j++) {
      double x = v[i * m + j], r = ref[j];
      if (s && s[j] == DS_PARETO_MAX) { x = -x; r = -r; }
      if (!(x < r)) in = 0;
      pts[k][j] = x;
    }
    if (in) k++;
  }
  double total = 0;
  for (uint32_t mask = 1; mask < (1u << k); mask++) {
    double vol = 1;
    for (size_t j = 0; j < m; j++) {
      double worst = -INFINITY, r = (s && s[j] == DS_PARETO_MAX) ? -ref[j] : ref[j];
      for (size_t i = 0; i < k; i++)
        if (mask & (1u << i) && pts[i][j] > worst) worst = pts[i][j];
      vol *= r - worst;
    }
    total += (__builtin_popcount(mask) & 1) ? vol : -vol;
  }
  return total;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void ranks_match_peeling_on_random_sets_with_ties_duplicates_and_nan(void)
{
  int32_t a[400], b[400];
  double *v = malloc(400 * 5 * sizeof *v);
  ds_pareto_sense_t s[5];
  for (int it = 0; it < 600; it++) {
    size_t m = 1 + (size_t)(it % 5), n = below(400);
    int grid = (it / 5) % 3 == 0 ? 0 : (int)(2 + below(6));
    random_points(v, n, m, grid, 0.05);
    random_senses(s, m);
    size_t nf = 99;
    ASSERT_EQ_INT(ds_pareto_rank(v, n, m, s, a, &nf), 0);
    bf_ranks_peel(v, n, m, s, b);
    int32_t maxr = -1;
    for (size_t i = 0; i < n; i++) {
      if (a[i] != b[i])
        fprintf(stderr, "  it %d m %zu n %zu grid %d point %zu\n", it, m, n, grid, i);
      ASSERT_EQ_INT(a[i], b[i]);
      if (a[i] > maxr) maxr = a[i];
    }
    ASSERT_EQ_INT(nf, (size_t)(maxr + 1));
  }
  free(v);
}

static void exact_duplicates_share_a_rank_and_do_not_dominate_each_other(void)
{
  /* Two copies of the front point, two copies of a dominated one, a tie in one objective. */
  double v[] = {1, 1, 1, 1, 2, 2, 2, 2, 1, 3, 3, 1, 1, 2};
  int32_t r[7];
  ASSERT_EQ_INT(ds_pareto_rank(v, 7, 2, NULL, r, NULL), 0);
  int32_t want[7] = {0, 0, 2, 2, 2, 1, 1}; /* (1,3) ≻ by (1,2) ≻ by (1,1) */
  for (int i = 0; i < 7; i++) ASSERT_EQ_INT(r[i], want[i]);
}

static void max_objectives_are_ranked_as_negated_min_objectives(void)
{
  double v[300 * 3], w[300 * 3];
  int32_t a[300], b[300];
  ds_pareto_sense_t smax[3] = {DS_PARETO_MAX, DS_PARETO_MIN, DS_PARETO_MAX};
  random_points(v, 300, 3, 5, 0.0);
  for (size_t i = 0; i < 300; i++) {
    w[i * 3] = -v[i * 3];
    w[i * 3 + 1] = v[i * 3 + 1];
    w[i * 3 + 2] = -v[i * 3 + 2];
  }
  ASSERT_EQ_INT(ds_pareto_rank(v, 300, 3, smax, a, NULL), 0);
  ASSERT_EQ_INT(ds_pareto_rank(w, 300, 3, NULL, b, NULL), 0);
  for (size_t i = 0; i < 300; i++) ASSERT_EQ_INT(a[i], b[i]);
}

static void non_finite_points_get_rank_minus_one_and_never_dominate(void)
{
  double v[] = {NAN, 0, 0, INFINITY, 1, 1, -INFINITY, -INFINITY, 2, 2};
  int32_t r[5];
  size_t nf;
  ASSERT_EQ_INT(ds_pareto_rank(v, 5, 2, NULL, r, &nf), 0);
  ASSERT_EQ_INT(r[0], -1);
  ASSERT_EQ_INT(r[1], -1);
  ASSERT_EQ_INT(r[2], 0);
  ASSERT_EQ_INT(r[3], -1);
  ASSERT_EQ_INT(r[4], 1);
  ASSERT_EQ_INT(nf, 2);
}

static void bad_arguments_are_rejected(void)
{
  int32_t r[1];
  double v[2] = {0, 0}, hv = 1;
  ASSERT_EQ_INT(ds_pareto_rank(v, 1, 0, NULL, r, NULL), DS_EINVAL);
  ASSERT_EQ_INT(ds_pareto_rank(NULL, 1, 2, NULL, r, NULL), DS_EINVAL);
  ASSERT_EQ_INT(ds_pareto_rank(NULL, 0, 2, NULL, NULL, NULL), 0);
  double ref[2] = {NAN, 1};
  ASSERT_EQ_INT(ds_pareto_hypervolume(v, 1, 2, NULL, ref, &hv), DS_EINVAL);
  ASSERT_EQ_INT(ds_pareto_ref_point(v, 0, 2, NULL, 0.1, ref), DS_ENOTFOUND);
  ds_pareto_t *p = (ds_pareto_t *)&hv;
  ASSERT_EQ_INT(ds_pareto_init(&p, 0, NULL), DS_EINVAL);
  ASSERT_TRUE(p == NULL);
}

static void large_random_sets_rank_fast_and_match_the_longest_chain(void)
{
  size_t n = 4000;
  double *v = malloc(n * 5 * sizeof *v);
  int32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  ds_pareto_sense_t s[5];
  for (size_t m = 1; m <= 5; m++) {
    for (int grid = 0; grid <= 50; grid += 50) {
      random_points(v, n, m, grid, 0.01);
      random_senses(s, m);
      clock_t c0 = clock();
      ASSERT_EQ_INT(ds_pareto_rank(v, n, m, s, a, NULL), 0);
      double ms = 1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC;
      fprintf(stderr, "  n=%zu m=%zu grid=%d: %.1f ms\n", n, m, grid, ms);
      ASSERT_TRUE(ms < 2000);
      bf_ranks_chain(v, n, m, s, b);
      for (size_t i = 0; i < n; i++) ASSERT_EQ_INT(a[i], b[i]);
    }
  }
  free(v);
  free(a);
  free(b);
}

static void the_two_brute_force_references_agree(void)
{
  double v[200 * 4];
  int32_t a[200], b[200];
  ds_pareto_sense_t s[4];
  for (int it = 0; it < 50; it++) {
    size_t m = 1 + (size_t)(it % 4);
    random_points(v, 200, m, it % 2 ? 4 : 0, 0.05);
    random_senses(s, m);
    bf_ranks_peel(v, 200, m, s, a);
    bf_ranks_chain(v, 200, m, s, b);
    for (size_t i = 0; i < 200; i++) ASSERT_EQ_INT(a[i], b[i]);
  }
}

static void hypervolume_equals_inclusion_exclusion_on_small_sets(void)
{
  double v[12 * 5], ref[5];
  ds_pareto_sense_t s[5];
  for (int it = 0; it < 3000; it++) {
    size_t m = 1 + (size_t)(it % 5), n = below(13);
    random_points(v, n, m, it % 3 == 0 ? 4 : 0, 0.05);
    random_senses(s, m);
    for (size_t j = 0; j < m; j++) {
      double r = it % 3 == 0 ? 3.0 : 0.8 + 0.3 * unif(); /* some points lie beyond ref */
      ref[j] = s[j] == DS_PARETO_MAX ? (it % 3 == 0 ? 0.5 : 1.0 - r) : r;
    }
    double hv = -1;
    ASSERT_EQ_INT(ds_pareto_hypervolume(v, n, m, s, ref, &hv), 0);
    double want = bf_hv(v, n, m, s, ref);
    if (!(fabs(hv - want) <= 1e-9 * (1 + fabs(want))))
      fprintf(stderr, "  it %d m %zu n %zu\n", it, m, n);
    ASSERT_REL_NEAR(hv, want, 1e-9);
  }
}

static void hypervolume_of_a_known_staircase(void)
{
  /* Points (1,3), (2,2), (3,1) with ref (4,4): 3 + 2 + 1 = 6 unit cells. */
  double v[] = {1, 3, 2, 2, 3, 1, 2, 2, 3, 3}, ref[] = {4, 4}, hv;
  ASSERT_EQ_INT(ds_pareto_hypervolume(v, 5, 2, NULL, ref, &hv), 0);
  ASSERT_REL_NEAR(hv, 6.0, 1e-15);
  /* Maximisation: (3,1),(2,2),(1,3) vs ref (0,0) → 6 as well. */
  double w[] = {3, 1, 2, 2, 1, 3}, r0[] = {0, 0};
  ds_pareto_sense_t mx[2] = {DS_PARETO_MAX, DS_PARETO_MAX};
  ASSERT_EQ_INT(ds_pareto_hypervolume(w, 3, 2, mx, r0, &hv), 0);
  ASSERT_REL_NEAR(hv, 6.0, 1e-15);
  /* A unit cube corner in 3-D and 4-D. */
  double c[] = {0, 0, 0, 0}, r1[] = {1, 2, 3, 4};
  ASSERT_EQ_INT(ds_pareto_hypervolume(c, 1, 3, NULL, r1, &hv), 0);
  ASSERT_REL_NEAR(hv, 6.0, 1e-15);
  ASSERT_EQ_INT(ds_pareto_hypervolume(c, 1, 4, NULL, r1, &hv), 0);
  ASSERT_REL_NEAR(hv, 24.0, 1e-15);
}

/* Large sets: adding a constant objective with unit distance to ref must not change the volume,
 * which ties the 2-D sweep, the 3-D staircase and the slicing recursion to each other. */
static void hypervolume_is_consistent_across_dimensions_on_large_fronts(void)
{
  size_t n = 1500;
  double *v2 = malloc(n * 2 * sizeof *v2), *v3 = malloc(n * 3 * sizeof *v3),
         *v4 = malloc(n * 4 * sizeof *v4);
  for (size_t i = 0; i < n; i++) {
    /* Points near the simplex x+y+z = 1 (a realistic, mostly non-dominated front). */
    double a = unif(), b = unif(), c = unif(), t = a + b + c;
    v3[i * 3] = a / t; v3[i * 3 + 1] = b / t; v3[i * 3 + 2] = c / t;
    v2[i * 2] = a / (a + b); v2[i * 2 + 1] = b / (a + b) + 0.1 * c;
    memcpy(v4 + i * 4, v3 + i * 3, 3 * sizeof *v3);
    v4[i * 4 + 3] = 7.0;
  }
  double r2[] = {1.1, 1.2}, r3[] = {1.1, 1.1, 1.1, 8.0}, r4[] = {1.1, 1.1, 1.1, 8.0};
  double h2, h3, h3b, h4;
  double *v3b = malloc(n * 3 * sizeof *v3b);
  for (size_t i = 0; i < n; i++) {
    v3b[i * 3] = v2[i * 2]; v3b[i * 3 + 1] = v2[i * 2 + 1]; v3b[i * 3 + 2] = 0.5;
  }
  double r3b[] = {1.1, 1.2, 1.5};
  clock_t c0 = clock();
  ASSERT_EQ_INT(ds_pareto_hypervolume(v2, n, 2, NULL, r2, &h2), 0);
  ASSERT_EQ_INT(ds_pareto_hypervolume(v3b, n, 3, NULL, r3b, &h3b), 0);
  ASSERT_REL_NEAR(h2, h3b, 1e-12);
  ASSERT_EQ_INT(ds_pareto_hypervolume(v3, n, 3, NULL, r3, &h3), 0);
  ASSERT_EQ_INT(ds_pareto_hypervolume(v4, n, 4, NULL, r4, &h4), 0);
  ASSERT_REL_NEAR(h3, h4, 1e-12);
  ASSERT_TRUE(h3 > 0.5 && h3 < 1.331);
  fprintf(stderr, "  n=%zu: 2-D %.6f, 3-D %.6f (%.0f ms total)\n", n, h2, h3,
          1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC);
  /* A genuinely 4-D front of 300 points: slicing vs a 5-D embedding. */
  size_t k = 300;
  double *w4 = malloc(k * 4 * sizeof *w4), *w5 = malloc(k * 5 * sizeof *w5);
  for (size_t i = 0; i < k; i++) {
    double t = 0, x[4];
    for (int j = 0; j < 4; j++) { x[j] = unif(); t += x[j]; }
    for (int j = 0; j < 4; j++) w4[i * 4 + j] = w5[i * 5 + j] = x[j] / t;
    w5[i * 5 + 4] = 0;
  }
  double q4[] = {1, 1, 1, 1}, q5[] = {1, 1, 1, 1, 2}, g4, g5;
  c0 = clock();
  ASSERT_EQ_INT(ds_pareto_hypervolume(w4, k, 4, NULL, q4, &g4), 0);
  ASSERT_EQ_INT(ds_pareto_hypervolume(w5, k, 5, NULL, q5, &g5), 0);
  ASSERT_REL_NEAR(2 * g4, g5, 1e-12);
  fprintf(stderr, "  4-D front of %zu: %.6f (%.0f ms for 4-D + 5-D)\n", k, g4,
          1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC);
  free(v2); free(v3); free(v3b); free(v4); free(w4); free(w5);
}

static void reference_point_is_the_nadir_worsened_by_the_margin(void)
{
  double v[] = {0, 10, 1, 1, 20, 1, 2, 15, NAN, 4, 7, 1};
  ds_pareto_sense_t s[3] = {DS_PARETO_MIN, DS_PARETO_MAX, DS_PARETO_MIN};
  double ref[3];
  ASSERT_EQ_INT(ds_pareto_ref_point(v, 4, 3, s, 0.1, ref), 0);
  ASSERT_REL_NEAR(ref[0], 4.4, 1e-12);  /* row 2 has a NaN; worst 4, range 4 */
  ASSERT_REL_NEAR(ref[1], 5.7, 1e-12);  /* max: worst 7, range 13 → 7 − 1.3 */
  ASSERT_REL_NEAR(ref[2], 1.1, 1e-12);  /* zero range: shift 0.1 · max(|1|, 1) */
}

static void aggregation_gives_mean_std_and_range_per_configuration(void)
{
  const char *keys[] = {"b", "a", "b", "a", "c", "b"};
  double v[] = {1, 10, 2, 20, 3, 30, 4, NAN, 5, 50, 6, 60};
  ds_pareto_agg_t *g = NULL;
  ASSERT_EQ_INT(ds_pareto_aggregate(keys, v, 6, 2, &g), 0);
  ASSERT_EQ_INT(g->n_configs, 3);
  ASSERT_TRUE(strcmp(g->key[0], "b") == 0 && strcmp(g->key[1], "a") == 0 && strcmp(g->key[2], "c") == 0);
  ASSERT_EQ_INT(g->n_trials[0], 3);
  ASSERT_EQ_INT(g->first[1], 1);
  ASSERT_REL_NEAR(g->mean[0], (1 + 3 + 6) / 3.0, 1e-15);
  ASSERT_REL_NEAR(g->std[0], sqrt(((1 - 10 / 3.0) * (1 - 10 / 3.0) + (3 - 10 / 3.0) * (3 - 10 / 3.0) +
                               (6 - 10 / 3.0) * (6 - 10 / 3.0)) / 2), 1e-12);
  ASSERT_REL_NEAR(g->min[0], 1, 0);
  ASSERT_REL_NEAR(g->max[1], 60, 0);
  ASSERT_EQ_INT(g->n_finite[1 * 2 + 1], 1); /* "a": one finite value of objective 1 */
  ASSERT_REL_NEAR(g->mean[1 * 2 + 1], 20, 0);
  ASSERT_REL_NEAR(g->std[1 * 2 + 1], 0, 0);
  ASSERT_EQ_INT(g->config_of[5], 0);
  ASSERT_EQ_INT(g->config_of[4], 2);
  int32_t r[3];
  ASSERT_EQ_INT(ds_pareto_rank(g->mean, g->n_configs, 2, NULL, r, NULL), 0);
  ASSERT_EQ_INT(r[1], 0); /* a = (3, 20) vs b = (3.33, 33.3): a dominates */
  ds_pareto_agg_free(g);
}

/* Ranks, fronts and change lists of the incremental object against batch ranking. */
static void incremental_batches_equal_batch_ranking_and_report_exact_changes(void)
{
  enum { N = 1500 };
  double *v = malloc(N * 4 * sizeof *v);
  int32_t *want = malloc(N * sizeof *want), *prev = malloc(N * sizeof *prev);
  ds_pareto_sense_t s[4];
  for (int it = 0; it < 40; it++) {
    size_t m = 1 + (size_t)(it % 4), n = 200 + below(N - 200);
    random_points(v, n, m, it % 3 ? (int)(3 + below(20)) : 0, 0.03);
    random_senses(s, m);
    ds_pareto_t *p = NULL;
    ASSERT_EQ_INT(ds_pareto_init(&p, m, s), 0);
    size_t done = 0;
    while (done < n) {
      size_t b = 1 + below(it % 2 ? 8 : 200);
      if (done + b > n) b = n - done;
      for (size_t i = done; i < done + b; i++) {
        ASSERT_EQ_INT(ds_pareto_add(p, (int64_t)(i * 7 + 3), v + i * m), 0);
        prev[i] = -1;
      }
      ASSERT_EQ_INT(ds_pareto_add(p, (int64_t)(done * 7 + 3), v), DS_EINVAL); /* duplicate id */
      const ds_pareto_change_t *ch;
      size_t nch;
      ASSERT_EQ_INT(ds_pareto_commit(p, &ch, &nch), 0);
      done += b;
      ASSERT_EQ_INT(ds_pareto_rank(v, done, m, s, want, NULL), 0);
      /* Every reported change is real and every real change is reported. */
      size_t real = 0;
      for (size_t i = 0; i < done; i++) real += want[i] != prev[i];
      ASSERT_EQ_INT(nch, real);
      for (size_t c = 0; c < nch; c++) {
        size_t i = (size_t)((ch[c].id - 3) / 7);
        ASSERT_EQ_INT(ch[c].old_rank, prev[i]);
        ASSERT_EQ_INT(ch[c].new_rank, want[i]);
      }
      int32_t maxr = -1;
      for (size_t i = 0; i < done; i++) {
        int64_t id;
        int32_t r, r2;
        ASSERT_EQ_INT(ds_pareto_get(p, i, &id, &r), 0);
        ASSERT_EQ_INT(id, (int64_t)(i * 7 + 3));
        ASSERT_EQ_INT(r, want[i]);
        ASSERT_EQ_INT(ds_pareto_rank_of(p, id, &r2), 0);
        ASSERT_EQ_INT(r2, want[i]);
        prev[i] = want[i];
        if (r > maxr) maxr = r;
      }
      ASSERT_EQ_INT(ds_pareto_n_fronts(p), (size_t)(maxr + 1));
      /* Fronts list exactly the points of each rank. */
      size_t total = 0;
      for (size_t f = 0; f < ds_pareto_n_fronts(p); f++) {
        const uint32_t *idx;
        size_t len;
        ASSERT_EQ_INT(ds_pareto_front(p, f, &idx, &len), 0);
        ASSERT_TRUE(len > 0);
        for (size_t q = 0; q < len; q++) ASSERT_EQ_INT(want[idx[q]], (int32_t)f);
        total += len;
      }
      size_t finite = 0;
      for (size_t i = 0; i < done; i++) finite += want[i] >= 0;
      ASSERT_EQ_INT(total, finite);
    }
    int32_t r;
    ASSERT_EQ_INT(ds_pareto_rank_of(p, -5, &r), DS_ENOTFOUND);
    /* Hypervolume and ref point of the object equal the batch functions on all points. */
    double ref[4], ref2[4], hv1, hv2;
    ASSERT_EQ_INT(ds_pareto_front_ref_point(p, 0.1, ref), 0);
    ASSERT_EQ_INT(ds_pareto_ref_point(v, n, m, s, 0.1, ref2), 0);
    for (size_t j = 0; j < m; j++) ASSERT_REL_NEAR(ref[j], ref2[j], 0);
    if (m <= 3) {
      ASSERT_EQ_INT(ds_pareto_front_hypervolume(p, ref, &hv1), 0);
      ASSERT_EQ_INT(ds_pareto_hypervolume(v, n, m, s, ref, &hv2), 0);
      ASSERT_REL_NEAR(hv1, hv2, 1e-12);
    }
    ds_pareto_free(p);
  }
  free(v);
  free(want);
  free(prev);
}

static void points_dominated_by_the_front_leave_upper_fronts_unchanged(void)
{
  ds_pareto_t *p = NULL;
  ASSERT_EQ_INT(ds_pareto_init(&p, 2, NULL), 0);
  double a[] = {0, 1}, b[] = {1, 0}, c[] = {2, 2}, d[] = {3, 3}, e[] = {2.5, 2.5};
  ASSERT_EQ_INT(ds_pareto_add(p, 1, a), 0);
  ASSERT_EQ_INT(ds_pareto_add(p, 2, b), 0);
  ASSERT_EQ_INT(ds_pareto_add(p, 3, c), 0);
  ASSERT_EQ_INT(ds_pareto_add(p, 4, d), 0);
  const ds_pareto_change_t *ch;
  size_t n;
  ASSERT_EQ_INT(ds_pareto_commit(p, &ch, &n), 0);
  ASSERT_EQ_INT(n, 4);
  ASSERT_EQ_INT(ds_pareto_add(p, 5, e), 0); /* lands in front 2, pushes d to front 3 */
  ASSERT_EQ_INT(ds_pareto_commit(p, &ch, &n), 0);
  ASSERT_EQ_INT(n, 2);
  for (size_t i = 0; i < n; i++) {
    if (ch[i].id == 5) { ASSERT_EQ_INT(ch[i].old_rank, -1); ASSERT_EQ_INT(ch[i].new_rank, 2); }
    else { ASSERT_EQ_INT(ch[i].id, 4); ASSERT_EQ_INT(ch[i].old_rank, 2); ASSERT_EQ_INT(ch[i].new_rank, 3); }
  }
  double nanp[] = {NAN, 0};
  ASSERT_EQ_INT(ds_pareto_add(p, 6, nanp), 0);
  ASSERT_EQ_INT(ds_pareto_commit(p, &ch, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(ds_pareto_count(p), 6);
  ds_pareto_free(p);
}

/* Worst cases for ENS: everything on one front (points on a simplex), m = 2 and 3, then the same
 * points fed to the incremental ranker in batches of 50 (every commit re-sorts front 0). */
static void a_single_large_front_ranks_quickly_in_batch_and_incrementally(void)
{
  size_t n = 3000;
  double *v = malloc(n * 3 * sizeof *v);
  int32_t *r = malloc(n * sizeof *r);
  for (size_t m = 2; m <= 3; m++) {
    for (size_t i = 0; i < n; i++) {
      double t = 0;
      for (size_t j = 0; j < m; j++) { v[i * m + j] = unif() + 1e-9; t += v[i * m + j]; }
      for (size_t j = 0; j < m; j++) v[i * m + j] /= t;
    }
    clock_t c0 = clock();
    size_t nf;
    ASSERT_EQ_INT(ds_pareto_rank(v, n, m, NULL, r, &nf), 0);
    double ms_batch = 1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC;
    ASSERT_EQ_INT(nf, 1);
    ds_pareto_t *p = NULL;
    ASSERT_EQ_INT(ds_pareto_init(&p, m, NULL), 0);
    c0 = clock();
    for (size_t i = 0; i < n; i++) {
      ASSERT_EQ_INT(ds_pareto_add(p, (int64_t)i, v + i * m), 0);
      if ((i + 1) % 50 == 0) ASSERT_EQ_INT(ds_pareto_commit(p, NULL, NULL), 0);
    }
    double ms_inc = 1000.0 * (double)(clock() - c0) / CLOCKS_PER_SEC;
    ASSERT_EQ_INT(ds_pareto_n_fronts(p), 1);
    fprintf(stderr, "  one front of %zu, m=%zu: batch %.1f ms, %zu commits of 50: %.1f ms\n", n, m,
            ms_batch, n / 50, ms_inc);
    ASSERT_TRUE(ms_batch < 2000 && ms_inc < 20000);
    ds_pareto_free(p);
  }
  free(v);
  free(r);
}

int main(void)
{
  RUN_TEST(exact_duplicates_share_a_rank_and_do_not_dominate_each_other);
  RUN_TEST(non_finite_points_get_rank_minus_one_and_never_dominate);
  RUN_TEST(max_objectives_are_ranked_as_negated_min_objectives);
  RUN_TEST(bad_arguments_are_rejected);
  RUN_TEST(the_two_brute_force_references_agree);
  RUN_TEST(ranks_match_peeling_on_random_sets_with_ties_duplicates_and_nan);
  RUN_TEST(large_random_sets_rank_fast_and_match_the_longest_chain);
  RUN_TEST(hypervolume_of_a_known_staircase);
  RUN_TEST(hypervolume_equals_inclusion_exclusion_on_small_sets);
  RUN_TEST(hypervolume_is_consistent_across_dimensions_on_large_fronts);
  RUN_TEST(reference_point_is_the_nadir_worsened_by_the_margin);
  RUN_TEST(aggregation_gives_mean_std_and_range_per_configuration);
  RUN_TEST(points_dominated_by_the_front_leave_upper_fronts_unchanged);
  RUN_TEST(incremental_batches_equal_batch_ranking_and_report_exact_changes);
  RUN_TEST(a_single_large_front_ranks_quickly_in_batch_and_incrementally);
  return ds_test_exit();
}
