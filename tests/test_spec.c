/* test_spec.c — spec parsing, validation messages, sweep expansion and trial keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds_test.h"

static ds_spec_t *parse(const char *json, char *err, size_t n) {
  ds_spec_t *s = NULL;
  err[0] = 0;
  ds_spec_parse(json, strlen(json), "spec.json", NULL, &s, err, n);
  return s;
}

static void grid_trial_count_is_the_product_of_axes_times_seeds(void) {
  char err[512];
  ds_spec_t *s = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":[1,2,3],\"y\":{\"linear\":[0,1],"
                       "\"points\":5},\"z\":{\"log\":[0.001,1],\"points\":4}},\"seeds\":3}", err, sizeof err);
  ASSERT_TRUE(s != NULL);
  if (!s) { fprintf(stderr, "%s\n", err); return; }
  ASSERT_EQ_INT(s->n_configs, 60);
  ASSERT_EQ_INT(s->n_trials, 180);
  ASSERT_EQ_INT(s->axes[2].n, 4);
  ds_spec_free(s);
}

static long long binom(int n, int k) {
  long long r = 1;
  for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
  return r;
}

static void simplex_lattice_has_binomial_size_and_sums_to_one(void) {
  int cases[][2] = {{3, 4}, {2, 10}, {4, 3}, {1, 5}, {5, 6}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char json[256], err[512];
    snprintf(json, sizeof json, "{\"name\":\"s\",\"task\":\"noop\",\"sweep\":{\"mixture\":{\"simplex\":%d,\"steps\":%d}}}",
             cases[c][0], cases[c][1]);
    ds_spec_t *s = parse(json, err, sizeof err);
    ASSERT_TRUE(s != NULL);
    if (!s) continue;
    ASSERT_EQ_INT(s->axes[0].n, binom(cases[c][1] + cases[c][0] - 1, cases[c][0] - 1));
    for (size_t i = 0; i < s->axes[0].n; i++) {
      cJSON *v = cJSON_Parse(s->axes[0].vals[i].json);
      double sum = 0;
      for (cJSON *e = v->child; e; e = e->next) sum += e->valuedouble;
      ASSERT_NEAR(sum, 1.0, 1e-12);
      ASSERT_EQ_INT(cJSON_GetArraySize(v), cases[c][0]);
      cJSON_Delete(v);
    }
    ds_spec_free(s);
  }
}

static void linear_and_log_ranges_hit_their_end_points_exactly(void) {
  char err[512];
  ds_spec_t *s = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"b\":{\"log\":[0.003,3.0],\"points\":31},"
                       "\"t\":{\"linear\":[0.5,2],\"points\":4}}}", err, sizeof err);
  ASSERT_TRUE(s != NULL);
  if (!s) return;
  ASSERT_STREQ(s->axes[0].vals[0].json, "0.003");
  ASSERT_STREQ(s->axes[0].vals[30].json, "3");
  ASSERT_STREQ(s->axes[1].vals[1].json, "1");
  ASSERT_NEAR(strtod(s->axes[0].vals[15].json, NULL), 0.09486832980505137, 1e-15);
  ds_spec_free(s);
}

static void divergence_entries_expand_their_parameter_lists(void) {
  char err[512];
  ds_spec_t *s = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"divergence\":[\"fkl\",{\"name\":\"amari\","
                       "\"alpha\":[0.25,0.75]},{\"name\":\"ab\",\"alpha\":[1,2],\"beta\":{\"linear\":[0,1],\"points\":3}}]}}",
                       err, sizeof err);
  ASSERT_TRUE(s != NULL);
  if (!s) { fprintf(stderr, "%s\n", err); return; }
  ASSERT_EQ_INT(s->axes[0].n, 1 + 2 + 6);
  ASSERT_STREQ(s->axes[0].vals[1].json, "{\"alpha\":0.25,\"name\":\"amari\"}");
  ds_pval_t *pv = &s->axes[0].vals[2];
  ASSERT_EQ_INT(pv->n_flat, 2);
  ASSERT_STREQ(pv->flat[0].name, "divergence");
  ASSERT_STREQ(pv->flat[0].text, "amari");
  ASSERT_STREQ(pv->flat[1].name, "divergence_alpha");
  ASSERT_NEAR(pv->flat[1].value, 0.75, 0);
  ds_spec_free(s);
}

static void trial_params_are_canonical_and_keys_ignore_spelling(void) {
  char err[512];
  ds_spec_t *a = parse("{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"z\":1.0,\"a\":{\"q\":2,\"p\":1}},"
                       "\"sweep\":{\"m\":[0.5, 1e-1]}}", err, sizeof err);
  ds_spec_t *b = parse("{\"task\":\"noop\",\"sweep\":{\"m\":[5e-1, 0.10]},\"fixed\":{\"a\":{\"p\":1,\"q\":2.0},"
                       "\"z\":1},\"name\":\"a\"}", err, sizeof err);
  ASSERT_TRUE(a && b);
  if (!a || !b) return;
  ds_trial_t ta = {0}, tb = {0};
  for (int64_t i = 0; i < a->n_trials; i++) {
    ds_spec_trial(a, i, &ta);
    ds_spec_trial(b, i, &tb);
    ASSERT_STREQ(ta.params_json, tb.params_json);
    ASSERT_STREQ(ta.key, tb.key);
    ASSERT_EQ_INT(ta.rng_seed == tb.rng_seed, 1);
  }
  ds_spec_trial(a, 1, &ta);
  ASSERT_STREQ(ta.params_json, "{\"a\":{\"p\":1,\"q\":2},\"m\":0.1,\"seed\":0,\"z\":1}");
  ASSERT_STREQ(a->hash, b->hash);
  ds_trial_free(&ta);
  ds_trial_free(&tb);
  ds_spec_free(a);
  ds_spec_free(b);
}

static int cmp_keys(const void *x, const void *y) { return strcmp((const char *)x, (const char *)y); }

static void every_trial_of_a_grid_has_a_distinct_key_and_expansion_is_deterministic(void) {
  char err[512];
  const char *json = "{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":{\"linear\":[0,1],\"points\":50},"
                     "\"y\":[\"u\",\"v\",\"w\"]},\"seeds\":[1,7,9]}";
  ds_spec_t *s = parse(json, err, sizeof err), *s2 = parse(json, err, sizeof err);
  ASSERT_TRUE(s && s2);
  if (!s || !s2) return;
  char(*keys)[DS_KEY_LEN + 1] = malloc((size_t)s->n_trials * sizeof *keys);
  ds_trial_t t = {0}, t2 = {0};
  for (int64_t i = 0; i < s->n_trials; i++) {
    ds_spec_trial(s, i, &t);
    ds_spec_trial(s2, i, &t2);
    memcpy(keys[i], t.key, sizeof keys[i]);
    if (strcmp(t.key, t2.key)) ASSERT_STREQ(t.key, t2.key);
  }
  ds_spec_trial(s, 4, &t);
  ASSERT_EQ_INT(t.seed, 7); /* seeds vary fastest */
  qsort(keys, (size_t)s->n_trials, sizeof *keys, cmp_keys);
  int dups = 0;
  for (int64_t i = 1; i < s->n_trials; i++) dups += !strcmp(keys[i], keys[i - 1]);
  ASSERT_EQ_INT(dups, 0);
  free(keys);
  ds_trial_free(&t);
  ds_trial_free(&t2);
  ds_spec_free(s);
  ds_spec_free(s2);
}

static void a_million_trial_sweep_streams_without_materialising(void) {
  char err[512];
  clock_t c0 = clock();
  ds_spec_t *s = parse("{\"name\":\"m\",\"task\":\"noop\",\"sweep\":{\"x\":{\"linear\":[0,1],\"points\":1000},"
                       "\"y\":{\"log\":[1e-3,1],\"points\":500}},\"seeds\":2}", err, sizeof err);
  ASSERT_TRUE(s != NULL);
  if (!s) return;
  ASSERT_EQ_INT(s->n_trials, 1000000);
  ds_trial_t t = {0};
  for (int64_t i = 0; i < s->n_trials; i += 997) ds_spec_trial(s, i, &t);
  ASSERT_EQ_INT(ds_spec_trial(s, 999999, &t), 0);
  ASSERT_EQ_INT(ds_spec_trial(s, 1000000, &t), DS_EINVAL);
  double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
  ASSERT_TRUE(secs < 2.0); /* parsing must not expand the product */
  ds_trial_free(&t);
  ds_spec_free(s);
}

static void random_and_lhs_samplers_are_seeded_and_stay_in_range(void) {
  char err[512];
  const char *json = "{\"name\":\"r\",\"task\":\"noop\",\"sampler\":{\"lhs\":40,\"seed\":3},"
                     "\"sweep\":{\"b\":{\"log\":[0.01,1],\"points\":3},\"c\":[\"p\",\"q\"]}}";
  ds_spec_t *s = parse(json, err, sizeof err), *s2 = parse(json, err, sizeof err);
  ASSERT_TRUE(s && s2);
  if (!s || !s2) return;
  ASSERT_EQ_INT(s->n_trials, 40);
  int strata[40] = {0};
  ds_trial_t t = {0}, t2 = {0};
  for (int64_t i = 0; i < 40; i++) {
    ds_spec_trial(s, i, &t);
    ds_spec_trial(s2, i, &t2);
    ASSERT_STREQ(t.params_json, t2.params_json);
    cJSON *p = cJSON_Parse(t.params_json);
    double b = cJSON_GetObjectItem(p, "b")->valuedouble;
    ASSERT_TRUE(b >= 0.01 && b <= 1);
    int k = (int)((log(b) - log(0.01)) / (log(1) - log(0.01)) * 40);
    if (k >= 0 && k < 40) strata[k]++;
    cJSON_Delete(p);
  }
  for (int k = 0; k < 40; k++) ASSERT_EQ_INT(strata[k], 1); /* Latin hypercube: one per stratum */
  ds_trial_free(&t);
  ds_trial_free(&t2);
  ds_spec_free(s);
  ds_spec_free(s2);
}

static void dirichlet_draws_lie_on_the_simplex_and_are_seeded(void) {
  char err[512];
  const char *json = "{\"name\":\"d\",\"task\":\"noop\",\"sweep\":{\"mixture\":{\"dirichlet\":4,\"points\":2000,"
                     "\"alpha\":2,\"seed\":5}}}";
  ds_spec_t *a = parse(json, err, sizeof err), *b = parse(json, err, sizeof err);
  ASSERT_TRUE(a && b);
  if (!a || !b) { fprintf(stderr, "%s\n", err); return; }
  ASSERT_EQ_INT(a->axes[0].n, 2000);
  double mean[4] = {0}, var0 = 0;
  for (size_t i = 0; i < a->axes[0].n; i++) {
    if (strcmp(a->axes[0].vals[i].json, b->axes[0].vals[i].json)) ASSERT_STREQ(a->axes[0].vals[i].json, b->axes[0].vals[i].json);
    cJSON *v = cJSON_Parse(a->axes[0].vals[i].json);
    double sum = 0;
    int k = 0;
    for (cJSON *e = v->child; e; e = e->next, k++) {
      ASSERT_TRUE(e->valuedouble >= 0);
      sum += e->valuedouble;
      mean[k] += e->valuedouble / 2000;
      if (k == 0) var0 += (e->valuedouble - 0.25) * (e->valuedouble - 0.25) / 2000;
    }
    ASSERT_NEAR(sum, 1.0, 1e-12);
    cJSON_Delete(v);
  }
  /* Dirichlet(2,2,2,2): mean 1/4, variance (1/4)(3/4)/(8+1) = 0.0208. */
  for (int k = 0; k < 4; k++) ASSERT_NEAR(mean[k], 0.25, 0.01);
  ASSERT_NEAR(var0, 0.25 * 0.75 / 9, 0.003);
  ds_spec_free(a);
  ds_spec_free(b);
  ds_spec_t *bad = parse("{\"name\":\"d\",\"task\":\"noop\",\"sweep\":{\"mixture\":{\"dirichlet\":3,\"points\":5,\"alpha\":0}}}", err, sizeof err);
  ASSERT_TRUE(bad == NULL);
  ASSERT_CONTAINS(err, "spec.json: sweep.mixture.alpha: expected a concentration > 0");
}

typedef struct bad {
  const char *json;
  const char *message;
} bad_t;

static void bad_specs_are_rejected_with_the_json_path(void) {
  static const bad_t bad[] = {
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"beta\":{\"log\":[0.1,1],\"points\":0}}}",
       "spec.json: sweep.beta.points: expected a positive integer"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"beta\":{\"log\":[0,1],\"points\":3}}}",
       "spec.json: sweep.beta.log: log bounds must be > 0"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"temperature\":[1,-2]}}",
       "spec.json: sweep.temperature[1]: temperature must be a number > 0"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"beta\":-1}}", "spec.json: fixed.beta: beta must be a number >= 0"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"mixture\":[[0.5,0.6]]}}",
       "spec.json: sweep.mixture[0]: mixture weights must sum to 1"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"bogus\":1}", "spec.json: bogus: unknown key"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":[]}}", "spec.json: sweep.x: expected a non-empty list"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"x\":1},\"sweep\":{\"x\":[1]}}", "spec.json: sweep.x: also given in fixed"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"seeds\":0}", "spec.json: seeds: expected a positive integer"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sampler\":\"sobolx\"}", "spec.json: sampler: unknown sampler"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"objectives\":{\"v\":\"up\"}}", "spec.json: objectives.v: expected \"min\" or \"max\""},
      {"{\"name\":\"a\",\"task\":\"noop\",\"pareto_by\":[\"nope\"]}", "spec.json: pareto_by[0]: \"nope\" is not a swept or fixed parameter"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"trial\":{\"retries\":-1}}", "spec.json: trial.retries: expected an integer"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"trial\":{\"isolation\":\"vm\"}}", "spec.json: trial.isolation: expected \"thread\" or \"process\""},
      {"{\"name\":\"a b\",\"task\":\"noop\"}", "spec.json: name: expected a name"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"mixture\":{\"simplex\":3,\"steps\":0}}}",
       "spec.json: sweep.mixture.steps: expected a positive integer"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"divergence\":[{\"name\":\"amari\",\"alpha\":[]}]}}",
       "spec.json: sweep.divergence[0].alpha: expected a non-empty list of numbers"},
      {"{\"name\":\"a\",\n\"task\":\"noop\",,}", "spec.json: malformed JSON near line 2"},
      {"[1,2]", "spec.json: the spec must be a JSON object"},
      /* issue 12 item 10: names that meet in params or the view, numbers that are not finite */
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"a-b\":1,\"a_b\":2}}",
       "spec.json: fixed.a_b: collides with fixed.a-b: both become the parameter column \"a_b\""},
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"X\":1},\"sweep\":{\"x\":[1,2]}}",
       "spec.json: sweep.x: collides with fixed.X"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"y\":[1,1e400]}}", "spec.json: fixed.y[1]: not a finite number"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"fixed\":{\"y\":1,\"y\":2}}", "spec.json: fixed.y: duplicate key"},
      {"{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"y\":[1],\"y\":[2]}}", "spec.json: sweep.y: duplicate key"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[512];
    ds_spec_t *s = parse(bad[i].json, err, sizeof err);
    ASSERT_TRUE(s == NULL);
    ds_spec_free(s);
    ASSERT_CONTAINS(err, bad[i].message);
  }
}

static int only_known(const char *task) { return !strcmp(task, "noop"); }

static int check_alpha(const char *task, const char *key, const cJSON *v, char *err, size_t n) {
  if (!strcmp(key, "divergence") && cJSON_IsObject(v)) {
    const cJSON *a = cJSON_GetObjectItem(v, "alpha");
    if (a && !(a->valuedouble > 0 && a->valuedouble < 1)) {
      snprintf(err, n, ".alpha: amari alpha must be in (0, 1)");
      return DS_ESPEC;
    }
  }
  return 0;
}

static void task_checks_see_every_swept_value_and_name_its_path(void) {
  ds_spec_opts_t opts = {check_alpha, only_known};
  char err[512];
  ds_spec_t *s = NULL;
  const char *json = "{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"divergence\":[\"fkl\",{\"name\":\"amari\",\"alpha\":[0.5,1.5]}]}}";
  ASSERT_EQ_INT(ds_spec_parse(json, strlen(json), "x.json", &opts, &s, err, sizeof err), DS_ESPEC);
  ASSERT_CONTAINS(err, "x.json: sweep.divergence[1].alpha: amari alpha must be in (0, 1)");
  const char *json2 = "{\"name\":\"a\",\"task\":\"train\"}";
  ASSERT_EQ_INT(ds_spec_parse(json2, strlen(json2), "x.json", &opts, &s, err, sizeof err), DS_ESPEC);
  ASSERT_CONTAINS(err, "x.json: task: unknown task \"train\"");
}

static void spec_diff_names_what_changed(void) {
  char err[512], diff[512];
  ds_spec_t *a = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":[1,2]},\"seeds\":2}", err, sizeof err);
  ds_spec_t *b = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":[1,2,3],\"y\":[0]},\"seeds\":2}", err, sizeof err);
  ASSERT_TRUE(a && b);
  if (!a || !b) return;
  ASSERT_EQ_INT(ds_spec_diff(a, b, diff, sizeof diff), 2);
  ASSERT_CONTAINS(diff, "sweep.x changed");
  ASSERT_CONTAINS(diff, "sweep.y added");
  ASSERT_EQ_INT(ds_spec_diff(b, a, diff, sizeof diff), 2);
  ASSERT_CONTAINS(diff, "sweep.y removed");
  ASSERT_EQ_INT(ds_spec_diff(a, a, diff, sizeof diff), 0);
  ds_spec_free(a);
  ds_spec_free(b);
}

static void shortest_round_trip_numbers(void) {
  char buf[40];
  double xs[] = {0.1, 1.0 / 3, 1e-300, 123456789012345678.0, -2.5, 3, 0.003};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    ds_fmt_double(buf, xs[i]);
    ASSERT_TRUE(strtod(buf, NULL) == xs[i]);
  }
  ds_fmt_double(buf, 0.1);
  ASSERT_STREQ(buf, "0.1");
  ds_fmt_double(buf, 3.0);
  ASSERT_STREQ(buf, "3");
}

/* Issue 12 item 6: the trials are counted from the axes' sizes before one value is expanded. */
static void a_grid_over_the_trial_cap_is_refused_before_expanding(void) {
  char err[512];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ds_spec_t *s = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":{\"linear\":[0,1],\"points\":1000000},"
                       "\"y\":{\"log\":[1,2],\"points\":1000000}},\"seeds\":2}", err, sizeof err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ASSERT_TRUE(s == NULL);
  ds_spec_free(s);
  ASSERT_CONTAINS(err, "spec.json: sweep: the grid has 1e+12 configurations x 2 seeds = 2e+12 trials; at most 1000000000 trials");
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  ASSERT_TRUE(ms < 100); /* expanding them first took seconds and 433 MiB */
  /* Sampled, the same axes are fine: only the draws become trials. */
  s = parse("{\"name\":\"a\",\"task\":\"noop\",\"sweep\":{\"x\":{\"linear\":[0,1],\"points\":3},"
            "\"y\":{\"log\":[1,2],\"points\":3}},\"sampler\":{\"random\":5}}", err, sizeof err);
  ASSERT_TRUE(s != NULL);
  if (s) ASSERT_EQ_INT(s->n_trials, 5);
  ds_spec_free(s);
}

int main(void) {
  RUN_TEST(grid_trial_count_is_the_product_of_axes_times_seeds);
  RUN_TEST(simplex_lattice_has_binomial_size_and_sums_to_one);
  RUN_TEST(linear_and_log_ranges_hit_their_end_points_exactly);
  RUN_TEST(divergence_entries_expand_their_parameter_lists);
  RUN_TEST(trial_params_are_canonical_and_keys_ignore_spelling);
  RUN_TEST(every_trial_of_a_grid_has_a_distinct_key_and_expansion_is_deterministic);
  RUN_TEST(a_million_trial_sweep_streams_without_materialising);
  RUN_TEST(random_and_lhs_samplers_are_seeded_and_stay_in_range);
  RUN_TEST(dirichlet_draws_lie_on_the_simplex_and_are_seeded);
  RUN_TEST(bad_specs_are_rejected_with_the_json_path);
  RUN_TEST(a_grid_over_the_trial_cap_is_refused_before_expanding);
  RUN_TEST(task_checks_see_every_swept_value_and_name_its_path);
  RUN_TEST(spec_diff_names_what_changed);
  RUN_TEST(shortest_round_trip_numbers);
  return ds_test_exit();
}
