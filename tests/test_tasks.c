/* test_tasks.c — unit tests of the science tasks (worker/task_*.c), calling each task's run() on
 * a params object built here, as a worker would.
 *
 * Oracles are independent of the tasks' own code paths where it matters: closed-form optima are
 * recomputed here (rkl: π_ref·e^{r/β}/Z; fkl on X5: 1 − β), pass@k, entropy, modes and the
 * logits task's values are computed by hand in double precision on hand-built distributions and
 * on .npy files this test writes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_task.h"
#include "ds_wire.h"
#include "ds_npy.h"
#include "ds_test.h"
#include <sys/stat.h>

/* splitmix + Box–Muller, for test data */
static double ds__test_gauss(uint64_t *st) {
  uint64_t a = (*st += 0x9E3779B97F4A7C15ull), b = (*st += 0x9E3779B97F4A7C15ull);
  a = (a ^ (a >> 30)) * 0xBF58476D1CE4E5B9ull; a ^= a >> 27;
  b = (b ^ (b >> 30)) * 0xBF58476D1CE4E5B9ull; b ^= b >> 27;
  double u = ((double)(a >> 11) + 0.5) / 9007199254740992.0, w = (double)(b >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * w);
}

static const char *task_backend = NULL; /* trial.backend for run_task */
static int task_threads = 1;

/* Runs task `name` on the JSON text; returns the status and leaves metrics in *res. */
static int run_task(const char *name, const char *json, ds_result_t *res) {
  const ds_task_t *t = ds_task_find(name);
  if (!t) return DS_ETASK;
  cJSON *p = cJSON_Parse(json);
  if (!p) {
    fprintf(stderr, "bad test JSON: %s\n", json);
    return DS_EINVAL;
  }
  /* Every parameter must pass the task's own check, as the spec layer would ask. */
  for (const cJSON *c = p->child; c; c = c->next) {
    char err[400] = "";
    if (!strcmp(c->string, "seed")) continue;
    if (t->check(c->string, c, err, sizeof err)) {
      fprintf(stderr, "check(%s) rejected: %s\n", c->string, err);
      cJSON_Delete(p);
      return DS_ESPEC;
    }
  }
  ds_result_reset(res);
  ds_task_ctx_t ctx = {.params = p, .seed = 12345, .threads = task_threads, .device = "cpu", .backend = task_backend, .gpu = -1, .res = res};
  int rc = t->run(&ctx);
  if (rc) fprintf(stderr, "%s failed: %s\n", name, res->error);
  cJSON_Delete(p);
  return rc;
}

static double metric(const ds_result_t *r, const char *name) {
  for (size_t i = 0; i < r->n_metrics; i++)
    if (!strcmp(r->metrics[i].name, name)) return r->metrics[i].value;
  fprintf(stderr, "metric %s missing\n", name);
  ds_test_failures++;
  return NAN;
}

/* X3's reference and reward as JSON lists. */
static void x3_setup(char *base, char *rew, size_t len) {
  size_t a = 0, b = 0;
  a += (size_t)snprintf(base + a, len - a, "[");
  b += (size_t)snprintf(rew + b, len - b, "[");
  for (int i = 0; i < 16; i++) {
    a += (size_t)snprintf(base + a, len - a, "%s%.17g", i ? "," : "", -0.2 * i);
    b += (size_t)snprintf(rew + b, len - b, "%s%.17g", i ? "," : "", (double)((7 * i) % 16) / 15);
  }
  snprintf(base + a, len - a, "]");
  snprintf(rew + b, len - b, "]");
}

static void rlvr_reaches_the_kl_regularised_optimum_of_x3(void) {
  char base[600], rew[600], js[2000];
  x3_setup(base, rew, sizeof base);
  double betas[] = {0.03, 0.3, 3};
  for (int bi = 0; bi < 3; bi++) {
    double beta = betas[bi];
    snprintf(js, sizeof js,
             "{\"answers\":16,\"types\":[{\"weight\":1,\"base_logits\":%s,\"reward\":%s}],\"params\":\"per_type\","
             "\"estimator\":\"exact\",\"divergence\":\"rkl\",\"beta\":%.17g,\"optimizer\":\"newton\",\"steps\":200,"
             "\"report_pi\":true}",
             base, rew, beta);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    /* Independent oracle: π* ∝ π_ref e^{r/β}. */
    double w[16], Z = 0, maxd = 0;
    for (int i = 0; i < 16; i++) Z += w[i] = exp(-0.2 * i + ((7 * i) % 16) / 15.0 / beta - 1 / beta);
    for (int i = 0; i < 16; i++) {
      char name[16];
      snprintf(name, sizeof name, "pi_%d", i);
      maxd = fmax(maxd, fabs(metric(&r, name) - w[i] / Z));
    }
    ASSERT_TRUE(maxd < 1e-6);
    ASSERT_TRUE(metric(&r, "optimality_gap") < 1e-6);
    ds_result_free(&r);
  }
}

static void fdpo_and_rlvr_reach_the_f_regularised_optima_of_x4(void) {
  char base[600], rew[600], js[2000];
  x3_setup(base, rew, sizeof base);
  const char *divs[] = {"\"rkl\"", "\"fkl\"", "\"jsd\"", "{\"name\":\"amari\",\"alpha\":0.5}",
                        "{\"name\":\"amari\",\"alpha\":0.25}"};
  double minr_fdpo[5], ent[5];
  for (int d = 0; d < 5; d++) {
    ds_result_t r = {0};
    snprintf(js, sizeof js,
             "{\"answers\":16,\"base_logits\":%s,\"rewards\":%s,\"divergence\":%s,\"beta\":0.2,"
             "\"mode\":\"population\",\"optimizer\":\"newton\",\"steps\":200}",
             base, rew, divs[d]);
    ASSERT_TRUE(run_task("fdpo", js, &r) == 0);
    ASSERT_TRUE(metric(&r, "optimality_gap") < 1e-6);
    minr_fdpo[d] = metric(&r, "min_ratio");
    ent[d] = metric(&r, "entropy");
    ds_result_free(&r);
    snprintf(js, sizeof js,
             "{\"answers\":16,\"types\":[{\"base_logits\":%s,\"reward\":%s}],\"params\":\"per_type\","
             "\"divergence\":%s,\"beta\":0.2,\"optimizer\":\"newton\",\"steps\":200}",
             base, rew, divs[d]);
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    ASSERT_TRUE(metric(&r, "optimality_gap") < 1e-6);
    ASSERT_NEAR(metric(&r, "entropy"), ent[d], 1e-6);
    ds_result_free(&r);
  }
  /* X4's ordering at β = 0.2: tail retention and entropy fkl > amari(½) > rkl > jsd. */
  ASSERT_GT(minr_fdpo[1], minr_fdpo[3]);
  ASSERT_GT(minr_fdpo[3], minr_fdpo[0]);
  ASSERT_GT(minr_fdpo[0], minr_fdpo[2]);
  ASSERT_GT(ent[1], ent[3]);
  ASSERT_GT(ent[3], ent[0]);
  ASSERT_GT(ent[0], ent[2]);
}

static void rlvr_reproduces_the_support_trap_of_x5(void) {
  char js[1200];
  double beta = 0.2, eps = 1e-8;
  const char *divs[] = {"fkl", "rkl", "jsd", "tvd"};
  for (int d = 0; d < 4; d++) {
    snprintf(js, sizeof js,
             "{\"answers\":6,\"types\":[{\"base_logits\":[%.17g,%.17g,%.17g,%.17g,%.17g,%.17g],\"reward\":{\"ones\":[0]}}],"
             "\"params\":\"per_type\",\"divergence\":\"%s\",\"beta\":%g,\"optimizer\":\"newton\",\"steps\":300,"
             "\"report_pi\":true}",
             log(eps), log((1 - eps) / 5), log((1 - eps) / 5), log((1 - eps) / 5), log((1 - eps) / 5),
             log((1 - eps) / 5), divs[d], beta);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    double p0 = metric(&r, "pi_0");
    if (d == 0) ASSERT_NEAR(p0, 1 - beta, 1e-6); /* fkl: exactly 1 − β */
    if (d == 1) {                                 /* rkl: ε e^{1/β} / (ε e^{1/β} + 1 − ε) */
      double w = eps * exp(1 / beta);
      ASSERT_NEAR(p0, w / (w + 1 - eps), 1e-9);
      ASSERT_TRUE(p0 < 1e-5);
    }
    if (d == 2) ASSERT_GT(p0, 0.99);
    if (d == 3) ASSERT_NEAR(metric(&r, "opt_pi_0"), 1, 1e-12); /* tvd's optimum; training is non-smooth */
    if (d < 3) ASSERT_TRUE(metric(&r, "optimality_gap") < 1e-6);
    ds_result_free(&r);
  }
}

static void rlvr_metrics_match_hand_computed_pass_at_k_and_entropy(void) {
  /* steps 0: π = π_ref = softmax(a).  Two types, weights 3:1. */
  const char *js =
      "{\"answers\":4,\"types\":[{\"weight\":3,\"base_logits\":[0,1,2,3],\"reward\":[1,0,0,0.5]},"
      "{\"weight\":1,\"base_logits\":[0,0,0,0],\"reward\":{\"ones\":[2]}}],"
      "\"eval_types\":[{\"base_logits\":[1,0,0,0],\"reward\":{\"ones\":[0]}}],\"steps\":0,\"k\":[1,4,64]}";
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
  double a[4] = {0, 1, 2, 3}, Z = 0, p[4], P1 = 0, H1 = 0;
  for (int i = 0; i < 4; i++) Z += exp(a[i]);
  for (int i = 0; i < 4; i++) p[i] = exp(a[i]) / Z;
  P1 = p[0] + 0.5 * p[3];
  for (int i = 0; i < 4; i++) H1 -= p[i] * log(p[i]);
  double P2 = 0.25, H2 = log(4.0);
  ASSERT_NEAR(metric(&r, "pass_at_1"), 0.75 * P1 + 0.25 * P2, 1e-12);
  ASSERT_NEAR(metric(&r, "pass_at_4"), 0.75 * (1 - pow(1 - P1, 4)) + 0.25 * (1 - pow(1 - P2, 4)), 1e-12);
  ASSERT_NEAR(metric(&r, "pass_at_64"), 0.75 * (1 - pow(1 - P1, 64)) + 0.25 * (1 - pow(1 - P2, 64)), 1e-12);
  ASSERT_NEAR(metric(&r, "entropy"), 0.75 * H1 + 0.25 * H2, 1e-12);
  ASSERT_NEAR(metric(&r, "rkl_ref"), 0, 1e-15);
  ASSERT_NEAR(metric(&r, "base_pass_at_64"), metric(&r, "pass_at_64"), 1e-15);
  double pe = exp(1) / (exp(1) + 3);
  ASSERT_NEAR(metric(&r, "ood_pass_at_1"), pe, 1e-12);
  ASSERT_NEAR(metric(&r, "ood_pass_at_4"), 1 - pow(1 - pe, 4), 1e-12);
  ds_result_free(&r);
}

static void entropy_bonus_optimum_matches_x9_closed_form(void) {
  /* 3 correct of K; maximise E r + αH: π ∝ e^{r/α}, pass@1 = 3e^{1/α}/(3e^{1/α} + K − 3). */
  int Ks[] = {13, 103, 1003};
  for (int i = 0; i < 3; i++) {
    char js[600];
    double alpha = 0.25;
    snprintf(js, sizeof js,
             "{\"answers\":%d,\"types\":[{\"reward\":{\"ones\":[0,1,2]}}],\"params\":\"per_type\",\"beta\":0,"
             "\"entropy_bonus\":%g,\"optimizer\":\"mirror\",\"lr\":1,\"steps\":400}",
             Ks[i], alpha);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    double e = 3 * exp(1 / alpha);
    ASSERT_NEAR(metric(&r, "pass_at_1"), e / (e + Ks[i] - 3), 1e-9);
    ASSERT_TRUE(metric(&r, "optimality_gap") < 1e-9);
    ds_result_free(&r);
  }
}

static void distill_gaussian_student_orders_divergences_as_x1(void) {
  const char *fmt =
      "{\"vocab\":40,\"teachers\":[{\"bumps\":[[14,2,0.6],[26,2,0.4]],\"floor\":0.001}],"
      "\"student\":{\"kind\":\"gaussian\"},\"restarts\":9,\"steps\":300,\"lr\":0.1,\"divergence\":%s}";
  const char *divs[] = {"\"fkl\"", "\"rkl\"", "\"jsd\"", "\"tvd\"", "{\"name\":\"amari\",\"alpha\":0.1}",
                        "{\"name\":\"amari\",\"alpha\":0.9}"};
  double H[6], mc[6];
  for (int d = 0; d < 6; d++) {
    char js[600];
    snprintf(js, sizeof js, fmt, divs[d]);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("distill", js, &r) == 0);
    H[d] = metric(&r, "entropy");
    mc[d] = metric(&r, "modes_covered");
    ASSERT_NEAR(metric(&r, "teacher_modes"), 2, 0);
    ds_result_free(&r);
  }
  ASSERT_NEAR(mc[0], 2, 0); /* fkl and jsd cover both modes */
  ASSERT_NEAR(mc[2], 2, 0);
  ASSERT_NEAR(mc[1], 1, 0); /* rkl and tvd lock onto one */
  ASSERT_NEAR(mc[3], 1, 0);
  ASSERT_GT(H[0], H[3]);
  ASSERT_GT(H[3], H[1]);
  ASSERT_GT(H[5], H[4]); /* entropy rises with amari's α */
  ASSERT_NEAR(mc[4], 1, 0);
  ASSERT_NEAR(mc[5], 2, 0);
}

static void distill_metrics_match_hand_computed_values(void) {
  /* steps 0 with a free student: the student is uniform. */
  int Vs[] = {40, 100};
  for (int vi = 0; vi < 2; vi++) {
    int V = Vs[vi];
    char js[600];
    snprintf(js, sizeof js,
             "{\"vocab\":%d,\"teachers\":[{\"bumps\":[[14,2,0.6],[26,2,0.4]],\"floor\":0.001}],\"steps\":0}", V);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("distill", js, &r) == 0);
    /* Teacher by hand. */
    double t[100], g1[100], g2[100], s1 = 0, s2 = 0, tmax = 0, low = 0, H = 0, fkl = 0;
    for (int i = 0; i < V; i++) {
      s1 += g1[i] = exp(-(i - 14.0) * (i - 14.0) / 8);
      s2 += g2[i] = exp(-(i - 26.0) * (i - 26.0) / 8);
    }
    for (int i = 0; i < V; i++) {
      t[i] = 0.999 * (0.6 * g1[i] / s1 + 0.4 * g2[i] / s2) + 0.001 / V;
      tmax = fmax(tmax, t[i]);
      H -= t[i] * log(t[i]);
      fkl += t[i] * log(t[i] * V);
    }
    for (int i = 0; i < V; i++)
      if (t[i] < 0.1 * tmax) low += 1.0 / V;
    ASSERT_NEAR(metric(&r, "entropy"), log((double)V), 1e-12);
    ASSERT_NEAR(metric(&r, "teacher_entropy"), H, 1e-12);
    ASSERT_NEAR(metric(&r, "fkl"), fkl, 1e-12);
    ASSERT_NEAR(metric(&r, "low_mass"), low, 1e-12);
    /* ±2 tokens of a uniform student hold 5/V: ≥ 0.1 for V = 40, not for V = 100. */
    ASSERT_NEAR(metric(&r, "modes_covered"), V == 40 ? 2 : 0, 0);
    ASSERT_NEAR(metric(&r, "top1_agree"), 0, 0); /* uniform argmax is token 0 */
    ds_result_free(&r);
  }
  /* A box teacher has one mode (its plateau). */
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("distill", "{\"vocab\":20,\"teachers\":[{\"box\":[5,4],\"floor\":0.01}],\"steps\":0}", &r) == 0);
  ASSERT_NEAR(metric(&r, "teacher_modes"), 1, 0);
  ASSERT_NEAR(metric(&r, "modes_covered"), 1, 0); /* tokens 3..10 hold 8/20 */
  ds_result_free(&r);
}

static void distill_free_student_reaches_a_mixed_teacher(void) {
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("distill",
                       "{\"vocab\":12,\"rows\":2,\"teachers\":[{\"random\":{\"scale\":2}},{\"box\":[3,2],\"floor\":0.2}],"
                       "\"mixture\":[0.3,0.7],\"mix\":\"arithmetic\",\"divergence\":\"rkl\",\"steps\":3000,\"lr\":0.05}",
                       &r) == 0);
  ASSERT_TRUE(metric(&r, "fkl") < 1e-6);
  ASSERT_TRUE(metric(&r, "rkl") < 1e-6);
  ASSERT_NEAR(metric(&r, "top1_agree"), 1, 0);
  ASSERT_TRUE(r.n_curve > 5);
  ds_result_free(&r);
}

/* A floored student can still reach a teacher whose own floor is at least as large — only if
 * the floor's backward pass is right; and between disjoint supports fkl leaves a floored student
 * where it is, while w1 moves it (experiments.md X2). */
static void distill_floored_student_trains_and_x2_holds(void) {
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("distill",
                       "{\"vocab\":16,\"teachers\":[{\"bumps\":[[5,1.5,1]],\"floor\":0.05}],"
                       "\"student\":{\"kind\":\"free\",\"floor\":0.02},\"divergence\":\"fkl\",\"steps\":3000,\"lr\":0.05}",
                       &r) == 0);
  ASSERT_TRUE(metric(&r, "fkl") < 1e-7);
  ds_result_free(&r);
  const char *fmt = "{\"vocab\":40,\"teachers\":[{\"box\":[30,4],\"floor\":1e-6}],\"student\":{\"kind\":"
                    "\"gaussian\",\"sigma\":1,\"mu0\":5,\"floor\":1e-6},\"steps\":600,\"lr\":0.1,\"divergence\":\"%s\"}";
  char js[400];
  snprintf(js, sizeof js, fmt, "fkl");
  ASSERT_TRUE(run_task("distill", js, &r) == 0);
  ASSERT_TRUE(fabs(metric(&r, "mu") - 5) < 1);
  ds_result_free(&r);
  snprintf(js, sizeof js, fmt, "w1");
  ASSERT_TRUE(run_task("distill", js, &r) == 0);
  ASSERT_TRUE(metric(&r, "mu") > 29);
  ds_result_free(&r);
}

static void rlvr_shared_policy_collapses_pass_at_k_as_x6(void) {
  const char *fmt =
      "{\"answers\":8,\"types\":[{\"weight\":0.6,\"base_logits\":[1,0.3,-0.5,0,0,0,0,0],\"reward\":{\"ones\":[0]}},"
      "{\"weight\":0.25,\"base_logits\":[1,0.3,-0.5,0,0,0,0,0],\"reward\":{\"ones\":[1]}},"
      "{\"weight\":0.15,\"base_logits\":[1,0.3,-0.5,0,0,0,0,0],\"reward\":{\"ones\":[2]}}],"
      "\"params\":\"shared\",\"optimizer\":\"gd\",\"lr\":1,\"steps\":3000,\"k\":[1,64],\"divergence\":\"%s\",\"beta\":%g}";
  const char *divs[] = {"fkl", "rkl", "hellinger", "jsd"};
  char js[900];
  ds_result_t r = {0};
  snprintf(js, sizeof js, fmt, "rkl", 0.0);
  ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
  ASSERT_GT(metric(&r, "pass_at_1"), metric(&r, "base_pass_at_1"));
  ASSERT_GT(metric(&r, "base_pass_at_64") - 0.3, metric(&r, "pass_at_64"));
  ASSERT_TRUE(metric(&r, "entropy") < 0.05);
  ds_result_free(&r);
  double pk[4], H[4];
  for (int d = 0; d < 4; d++) {
    snprintf(js, sizeof js, fmt, divs[d], 0.03);
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    pk[d] = metric(&r, "pass_at_64");
    H[d] = metric(&r, "entropy");
    ds_result_free(&r);
  }
  for (int d = 1; d < 4; d++) {
    ASSERT_GT(pk[0], pk[d] + 0.1);
    ASSERT_GT(H[0], H[d]);
  }
}

/* X12's KD term: maximising ρ·P − γ·KL(π‖q) gives π ∝ q·e^{ρ r/γ}; ρ = 0 gives π = q. */
static void rlvr_kd_term_reaches_its_closed_form(void) {
  const char *fmt =
      "{\"answers\":4,\"params\":\"per_type\",\"types\":[{\"base_logits\":[3,0,0,0],\"reward\":{\"ones\":[2]},"
      "\"teacher_logits\":[1,0.5,0,-1]}],\"reward_coef\":%g,\"kd_coef\":0.5,\"optimizer\":\"newton\",\"steps\":100}";
  char js[400];
  double q[4] = {exp(1), exp(0.5), 1, exp(-1)}, S = q[0] + q[1] + q[2] + q[3];
  for (int rho = 0; rho <= 1; rho++) {
    snprintf(js, sizeof js, fmt, (double)rho);
    ds_result_t r = {0};
    ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
    double qc = q[2] / S, want = rho ? qc * exp(2.0) / (qc * exp(2.0) + 1 - qc) : qc;
    ASSERT_NEAR(metric(&r, "pass_at_1"), want, 1e-9);
    ASSERT_NEAR(metric(&r, "teacher_pass_at_1"), qc, 1e-12);
    if (!rho) ASSERT_NEAR(metric(&r, "rkl_teacher"), 0, 1e-12);
    ds_result_free(&r);
  }
  /* A missing teacher is an error naming the type. */
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("rlvr", "{\"answers\":2,\"types\":[{\"reward\":[1,0]}],\"kd_coef\":1}", &r) == DS_ESPEC);
  ds_result_free(&r);
}

static void rlvr_grpo_improves_reward_and_is_seeded(void) {
  const char *js =
      "{\"answers\":6,\"types\":[{\"base_logits\":[0,0,0,0,0,0],\"reward\":{\"ones\":[4]}}],\"estimator\":\"grpo\","
      "\"group_size\":8,\"clip\":0.2,\"updates\":2,\"kl_estimator\":\"k3\",\"divergence\":\"fkl\",\"beta\":0.01,"
      "\"optimizer\":\"adam\",\"lr\":0.05,\"steps\":300}";
  ds_result_t a = {0}, b = {0};
  ASSERT_TRUE(run_task("rlvr", js, &a) == 0);
  ASSERT_TRUE(run_task("rlvr", js, &b) == 0);
  ASSERT_GT(metric(&a, "pass_at_1"), 0.8);
  ASSERT_NEAR(metric(&a, "pass_at_1"), metric(&b, "pass_at_1"), 0); /* same seed, same result */
  ds_result_free(&a);
  ds_result_free(&b);
}

static void rlvr_forward_kl_recovers_a_collapsed_answer_as_x7(void) {
  const char *fmt =
      "{\"answers\":8,\"types\":[{\"base_logits\":[1,0.3,-0.5,0,0,0,0,0],\"reward\":[0,0,0,0,0,0,0,0]}],"
      "\"divergence\":\"%s\",\"beta\":0.1,\"lr\":1,\"steps\":20000,\"collapse_answer\":1,\"collapse_prob\":%g}";
  char js[600];
  ds_result_t r = {0};
  double t3, t6;
  snprintf(js, sizeof js, fmt, "fkl", 1e-3);
  ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
  t3 = metric(&r, "recover_step");
  ds_result_free(&r);
  snprintf(js, sizeof js, fmt, "fkl", 1e-6);
  ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
  t6 = metric(&r, "recover_step");
  ASSERT_NEAR(metric(&r, "recovered"), 1, 0);
  ds_result_free(&r);
  ASSERT_GT(t6, t3);
  ASSERT_GT(2.5 * t3, t6); /* logarithmic in the depth */
  snprintf(js, sizeof js, fmt, "rkl", 1e-6);
  ASSERT_TRUE(run_task("rlvr", js, &r) == 0);
  ASSERT_NEAR(metric(&r, "recovered"), 0, 0);
  ds_result_free(&r);
}

/* Writes a float64 .npy (2-D). */
static void write_npy_f64(const char *path, const double *x, int rows, int cols) {
  FILE *f = fopen(path, "wb");
  char hdr[128];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
  int total = 10 + n + 1, pad = (64 - total % 64) % 64;
  uint16_t hl = (uint16_t)(n + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 0xff, f);
  fputc(hl >> 8, f);
  fwrite(hdr, 1, (size_t)n, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(x, sizeof *x, (size_t)rows * cols, f); /* the test machines are little-endian */
  fclose(f);
}

static void lsm(const double *x, double T, double *out, int V) {
  double m = -INFINITY, s = 0;
  for (int i = 0; i < V; i++) m = fmax(m, x[i] / T);
  for (int i = 0; i < V; i++) s += exp(x[i] / T - m);
  for (int i = 0; i < V; i++) out[i] = x[i] / T - m - log(s);
}

static void logits_task_matches_hand_computed_values_on_written_files(void) {
  char dir[] = "/tmp/ds_test_tasks_XXXXXX";
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  char ft[256], fs[256], fl[256], js[1200];
  snprintf(ft, sizeof ft, "%s/t.npy", dir);
  snprintf(fs, sizeof fs, "%s/s.npy", dir);
  snprintf(fl, sizeof fl, "%s/l.npy", dir);
  double t[2][5] = {{1.5, -0.25, 0.3, 2.0, -1.0}, {0.1, 0.2, 0.3, 0.4, 3.5}};
  double s[2][5] = {{0.2, 0.1, -0.3, 1.0, 0.0}, {1.0, -2.0, 0.5, 0.0, 2.25}};
  double lab[2] = {3, 1};
  write_npy_f64(ft, &t[0][0], 2, 5);
  write_npy_f64(fs, &s[0][0], 2, 5);
  write_npy_f64(fl, lab, 1, 2);
  double T = 2;
  snprintf(js, sizeof js,
           "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"divergence\":\"fkl\",\"temperature\":%g,"
           "\"labels\":\"%s\"}",
           ft, fs, T, fl);
  ds_result_t r = {0};
  ASSERT_TRUE(run_task("logits", js, &r) == 0);
  double loss = 0, g2 = 0, fkl = 0, rkl = 0, tvd = 0;
  for (int row = 0; row < 2; row++) {
    double lp[5], lq[5], lp1[5], lq1[5];
    lsm(t[row], T, lp, 5);
    lsm(s[row], T, lq, 5);
    lsm(t[row], 1, lp1, 5);
    lsm(s[row], 1, lq1, 5);
    for (int i = 0; i < 5; i++) {
      loss += exp(lp[i]) * (lp[i] - lq[i]) / 2;
      double g = (exp(lq[i]) - exp(lp[i])) / T / 2; /* batchmean over 2 rows */
      g2 += g * g;
      fkl += exp(lp1[i]) * (lp1[i] - lq1[i]) / 2;
      rkl += exp(lq1[i]) * (lq1[i] - lp1[i]) / 2;
      tvd += fabs(exp(lp1[i]) - exp(lq1[i])) / 4;
    }
  }
  ASSERT_NEAR(metric(&r, "loss"), loss, 1e-14);
  ASSERT_NEAR(metric(&r, "grad_norm"), sqrt(g2), 1e-14);
  ASSERT_NEAR(metric(&r, "fkl"), fkl, 1e-14);
  ASSERT_NEAR(metric(&r, "rkl"), rkl, 1e-14);
  ASSERT_NEAR(metric(&r, "tvd"), tvd, 1e-14);
  ASSERT_NEAR(metric(&r, "teacher_accuracy"), 0.5, 0); /* row 0 argmax 3 = label; row 1 argmax 4 ≠ 1 */
  ASSERT_NEAR(metric(&r, "rank_preserved"), 1, 0);
  ds_result_free(&r);

  /* Two teachers, arithmetic mixture, t2: the loss is T² times the fkl to the mixture. */
  snprintf(js, sizeof js,
           "{\"teachers\":[{\"npy\":\"%s\"},{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"mixture\":[0.25,0.75],"
           "\"divergence\":\"rkl\",\"temperature\":%g,\"t2\":true}",
           ft, fs, ft, T);
  ASSERT_TRUE(run_task("logits", js, &r) == 0);
  double l2 = 0;
  for (int row = 0; row < 2; row++) {
    double a[5], b[5], m[5];
    lsm(t[row], T, a, 5);
    lsm(s[row], T, b, 5);
    for (int i = 0; i < 5; i++) m[i] = log(0.25 * exp(a[i]) + 0.75 * exp(b[i]));
    for (int i = 0; i < 5; i++) l2 += T * T * exp(a[i]) * (a[i] - m[i]) / 2;
  }
  ASSERT_NEAR(metric(&r, "loss"), l2, 1e-13);
  ds_result_free(&r);

  /* Shapes that disagree fail the trial with a message naming the file. */
  char fbad[256];
  snprintf(fbad, sizeof fbad, "%s/bad.npy", dir);
  double bad[6] = {0};
  write_npy_f64(fbad, bad, 1, 6);
  snprintf(js, sizeof js, "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\"}", ft, fbad);
  ASSERT_TRUE(run_task("logits", js, &r) == DS_ENPY);
  ASSERT_TRUE(strstr(r.error, "bad.npy") != NULL);
  ds_result_free(&r);
  unlink(ft);
  unlink(fs);
  unlink(fl);
  unlink(fbad);
  rmdir(dir);
}

static void checks_name_the_json_path_of_bad_parameters(void) {
  char err[400];
  const ds_task_t *d = ds_task_find("distill");
  cJSON *v = cJSON_Parse("{\"name\":\"amari\",\"alpha\":2}");
  ASSERT_TRUE(d->check("divergence", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(!strncmp(err, ".alpha: ", 8));
  cJSON_Delete(v);
  v = cJSON_Parse("1");
  ASSERT_TRUE(d->check("nonsense", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(strstr(err, "unknown parameter for task distill") != NULL);
  cJSON_Delete(v);
  v = cJSON_Parse("[{\"bumps\":[[1,0,1]]}]");
  ASSERT_TRUE(d->check("teachers", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(!strncmp(err, "[0].bumps[0]: ", 14));
  cJSON_Delete(v);
  v = cJSON_Parse("\"tvd\"");
  ASSERT_TRUE(ds_task_find("fdpo")->check("divergence", v, err, sizeof err) == DS_ESPEC);
  cJSON_Delete(v);
  v = cJSON_Parse("[{\"weight\":1,\"reward\":{\"ones\":[-1]}}]");
  ASSERT_TRUE(ds_task_find("rlvr")->check("types", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(!strncmp(err, "[0].reward: ", 12));
  cJSON_Delete(v);
  v = cJSON_Parse("[{\"weight\":1,\"teacher_logits\":[0,\"x\"]}]");
  ASSERT_TRUE(ds_task_find("rlvr")->check("types", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(!strncmp(err, "[0].teacher_logits: ", 20));
  cJSON_Delete(v);
  v = cJSON_Parse("-0.5");
  ASSERT_TRUE(ds_task_find("rlvr")->check("kd_coef", v, err, sizeof err) == DS_ESPEC);
  ASSERT_TRUE(ds_task_find("rlvr")->check("reward_coef", v, err, sizeof err) == DS_ESPEC);
  cJSON_Delete(v);
}


/* ---- trial.backend and the .npy loader (issues 18 and 12) ---------------------------------- */

static void write_f16_npy(const char *path, const uint16_t *h, size_t rows, size_t cols) {
  char hdr[128];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '<f2', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
  size_t pad = (64 - (10 + (size_t)n + 1) % 64) % 64, total = (size_t)n + 1 + pad;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total & 0xff), (unsigned char)(total >> 8)};
  FILE *f = fopen(path, "wb");
  fwrite(pre, 1, 10, f);
  fwrite(hdr, 1, (size_t)n, f);
  for (size_t i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  fwrite(h, 2, rows * cols, f); /* little-endian host */
  fclose(f);
}

/* fp32 rounding of the inputs (relative 6e-8 per logit, |logit| ≤ 8 → ≤ 5e-7 absolute in each log
 * prob) and the kernels' fp32 arithmetic bound the loss difference by ~1e-5 relative at these
 * sizes; 1e-4 leaves room and would still catch any wrong formula or row. */
static void logits_agrees_on_ref_and_cpu_and_records_the_backend(void) {
  enum { R = 64, V = 4096, V2 = 65536 }; /* R·V = 2^18: auto takes the fast path; R·V2 is chunked */
  float *t = malloc((size_t)R * V2 * sizeof *t), *z = malloc((size_t)R * V2 * sizeof *z);
  uint64_t st = 7;
  for (size_t i = 0; i < (size_t)R * V2; i++) { t[i] = (float)(2 * ds__test_gauss(&st)); z[i] = (float)(2 * ds__test_gauss(&st)); }
  char tp[] = "/tmp/ds_tb_tXXXXXX", sp[] = "/tmp/ds_tb_sXXXXXX", t2p[] = "/tmp/ds_tb_uXXXXXX", s1p[] = "/tmp/ds_tb_oXXXXXX";
  char bp[] = "/tmp/ds_tb_bXXXXXX", bsp[] = "/tmp/ds_tb_cXXXXXX", err[256], js[900];
  close(mkstemp(tp));
  close(mkstemp(sp));
  close(mkstemp(t2p));
  close(mkstemp(s1p));
  close(mkstemp(bp));
  close(mkstemp(bsp));
  ASSERT_TRUE(ds_npy_write_f32(tp, t, R, V, 2, err, sizeof err) == 0);
  ASSERT_TRUE(ds_npy_write_f32(sp, z, R, V, 2, err, sizeof err) == 0);
  ASSERT_TRUE(ds_npy_write_f32(t2p, z + R * V, R, V, 2, err, sizeof err) == 0); /* a second teacher */
  ASSERT_TRUE(ds_npy_write_f32(s1p, t + R * V, 1, V, 1, err, sizeof err) == 0);  /* a 1-D student */
  ASSERT_TRUE(ds_npy_write_f32(bp, t, R, V2, 2, err, sizeof err) == 0);
  ASSERT_TRUE(ds_npy_write_f32(bsp, z, R, V2, 2, err, sizeof err) == 0);
  /* The fast path computes every metric with the fp32 kernels; the reference in double.  Inputs
   * are fp32 either way, so the difference is fp32 arithmetic: per element ~6e-8 relative, summed
   * over V terms with float accumulators in blocks -> ~1e-6 relative at V = 65536; 1e-4 relative
   * leaves room and still catches a wrong formula, row, temperature or mixture. */
  static const char *names[] = {"loss", "grad_norm", "fkl", "rkl", "jsd", "tvd", "top1_agree", "entropy_t",
                                "teacher_entropy_t", "teacher_max_t", "rank_preserved"};
  char cases[9][900];
  int nc = 0;
  const char *divs[] = {"\"fkl\"", "\"rkl\"", "\"jsd\"", "\"tvd\""};
  for (int di = 0; di < 4; di++)
    snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"divergence\":%s,\"temperature\":2}", tp, sp, divs[di]);
  snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"},{\"npy\":\"%s\"}],\"mixture\":[0.3,0.7],\"mix\":\"geometric\",\"student_npy\":\"%s\",\"divergence\":{\"name\":\"amari\",\"alpha\":0.3},\"temperature\":1.5,\"t2\":1}", tp, t2p, sp);
  snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"divergence\":\"jsd\",\"temperature\":0.7}", tp, s1p);
  snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"row\":5,\"temperature\":3}", bp, bsp);
  snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\",\"divergence\":\"fkl\",\"temperature\":2}", bp, bsp);
  snprintf(cases[nc++], sizeof cases[0], "{\"teachers\":[{\"npy\":\"%s\"}],\"divergence\":\"rkl\"}", tp); /* uniform student */
  for (int ci = 0; ci < nc; ci++) {
    memcpy(js, cases[ci], sizeof js);
    ds_result_t a = {0}, b = {0}, c = {0}, e = {0};
    task_backend = "ref";
    ASSERT_TRUE(run_task("logits", js, &a) == 0);
    task_backend = "cpu";
    task_threads = 2;
    ASSERT_TRUE(run_task("logits", js, &b) == 0);
    task_threads = 5;
    ASSERT_TRUE(run_task("logits", js, &e) == 0);
    task_backend = NULL; /* auto */
    task_threads = 1;
    ASSERT_TRUE(run_task("logits", js, &c) == 0);
    ASSERT_NEAR(metric(&a, "backend_id"), 0, 0);
    ASSERT_NEAR(metric(&b, "backend_id"), 1, 0);
    ASSERT_NEAR(metric(&c, "backend_id"), ci == 6 ? 0 : 1, 0); /* one row of 65536: below the auto threshold */
    ASSERT_TRUE(metric(&b, "cpu_isa_id") >= 1);
    for (size_t m = 0; m < sizeof names / sizeof *names; m++) {
      double va = metric(&a, names[m]), vb = metric(&b, names[m]);
      ds_test_checks++;
      if (!(fabs(vb - va) <= 1e-4 * fabs(va) + 1e-7)) {
        fprintf(stderr, "case %d (%s): %s ref %.12g cpu %.12g\n", ci, js, names[m], va, vb);
        ds_test_failures++;
      }
      /* thread count: 2 and 5 threads really split 64 rows; bit-identical */
      ds_test_checks++;
      if (metric(&b, names[m]) != metric(&e, names[m])) {
        fprintf(stderr, "case %d: %s differs between 2 and 5 threads\n", ci, names[m]);
        ds_test_failures++;
      }
    }
    ds_result_free(&a); ds_result_free(&b); ds_result_free(&c); ds_result_free(&e);
  }
  unlink(t2p);
  unlink(s1p);
  unlink(bp);
  unlink(bsp);
  /* cuda without a GPU: one clear line */
  ds_result_t r = {0};
  task_backend = "cuda";
  snprintf(js, sizeof js, "{\"teachers\":[{\"npy\":\"%s\"}],\"student_npy\":\"%s\"}", tp, sp);
  ASSERT_TRUE(run_task("logits", js, &r) == DS_EUNSUP && strstr(r.error, "no usable GPU") != NULL);
  task_backend = NULL;
  /* small problems stay on ref under auto */
  ASSERT_TRUE(ds_npy_write_f32(tp, t, 4, 40, 2, err, sizeof err) == 0);
  ASSERT_TRUE(ds_npy_write_f32(sp, z, 4, 40, 2, err, sizeof err) == 0);
  ASSERT_TRUE(run_task("logits", js, &r) == 0);
  ASSERT_NEAR(metric(&r, "backend_id"), 0, 0);
  ds_result_free(&r);
  unlink(tp);
  unlink(sp);
  free(t);
  free(z);
}

static void logits_reads_float16_npy_exactly(void) {
  enum { R = 3, V = 50 };
  uint16_t h[R * V];
  float f[R * V];
  uint64_t st = 3;
  for (int i = 0; i < R * V; i++) {
    /* halves with exact float values: sign, exponent 13..17, random mantissa */
    uint16_t m = (uint16_t)(ds__test_gauss(&st) * 1000) & 0x3ff, e = (uint16_t)(13 + i % 5);
    h[i] = (uint16_t)((i & 1) << 15 | e << 10 | m);
    f[i] = (float)((i & 1) ? -1 : 1) * ldexpf(1.0f + (float)m / 1024.0f, e - 15);
  }
  char hp[] = "/tmp/ds_f16_XXXXXX", fp[] = "/tmp/ds_f32_XXXXXX", err[256], js[400];
  close(mkstemp(hp));
  close(mkstemp(fp));
  write_f16_npy(hp, h, R, V);
  ASSERT_TRUE(ds_npy_write_f32(fp, f, R, V, 2, err, sizeof err) == 0);
  ds_result_t a = {0}, b = {0};
  snprintf(js, sizeof js, "{\"teachers\":[{\"npy\":\"%s\"}],\"divergence\":\"rkl\"}", hp);
  ASSERT_TRUE(run_task("logits", js, &a) == 0);
  snprintf(js, sizeof js, "{\"teachers\":[{\"npy\":\"%s\"}],\"divergence\":\"rkl\"}", fp);
  ASSERT_TRUE(run_task("logits", js, &b) == 0);
  ASSERT_TRUE(a.n_metrics > 0 && metric(&a, "loss") == metric(&b, "loss") && metric(&a, "fkl") == metric(&b, "fkl"));
  ds_result_free(&a);
  ds_result_free(&b);
  unlink(hp);
  unlink(fp);
}

static void npy_loader_refuses_directories_fifos_devices_and_oversized_files(void) {
  char dir[] = "/tmp/ds_npyr_XXXXXX", fifo[128], big[128], js[400], err[256];
  ASSERT_TRUE(mkdtemp(dir) != NULL);
  snprintf(fifo, sizeof fifo, "%s/fifo.npy", dir);
  snprintf(big, sizeof big, "%s/big.npy", dir);
  ASSERT_TRUE(mkfifo(fifo, 0600) == 0);
  float v[6] = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(ds_npy_write_f32(big, v, 2, 3, 2, err, sizeof err) == 0);
  FILE *f = fopen(big, "ab");
  fwrite(v, 4, 6, f); /* 24 bytes the header does not declare */
  fclose(f);
  struct { const char *path, *want; } cases[] = {
      {dir, "is a directory"}, {fifo, "FIFO"}, {"/dev/zero", "device"}, {big, "more than the header declares"}};
  for (int i = 0; i < 4; i++) {
    ds_result_t r = {0};
    snprintf(js, sizeof js, "{\"teachers\":[{\"npy\":\"%s\"}]}", cases[i].path);
    double t0 = ds_now_s();
    int rc = run_task("logits", js, &r);
    ASSERT_TRUE(rc == DS_ENPY && strstr(r.error, cases[i].want) != NULL && ds_now_s() - t0 < 2);
    if (!strstr(r.error, cases[i].want)) fprintf(stderr, "case %d: '%s'\n", i, r.error);
    ds_result_free(&r);
  }
  unlink(fifo);
  unlink(big);
  rmdir(dir);
}

/* distill on the cpu backend trains to the same student as on ref: the kernels' fp32 gradient
 * differs from the double one by ~1e-7 relative per element, Adam divides it by its own running
 * scale, so over 20 steps the parameters agree to ~1e-6 and every metric to well under 1e-4
 * relative (absolute 1e-7 for metrics near zero); a wrong gradient direction, row, temperature or
 * mixture moves them by far more (a wrong overall scale would not: Adam is invariant to it). */
static void distill_agrees_on_ref_and_cpu(void) {
  static const char *cases[] = {
      "{\"vocab\":32768,\"rows\":8,\"teachers\":[{\"random\":{\"scale\":3}}],\"student\":{\"kind\":\"free\"},"
      "\"steps\":20,\"divergence\":\"fkl\",\"temperature\":2,\"t2\":1}",
      "{\"vocab\":32768,\"rows\":8,\"teachers\":[{\"random\":{\"scale\":3}}],\"student\":{\"kind\":\"free\"},"
      "\"steps\":20,\"divergence\":\"jsd\"}",
      "{\"vocab\":16384,\"rows\":16,\"teachers\":[{\"random\":{\"scale\":2}},{\"random\":{\"scale\":4}}],"
      "\"mixture\":[0.25,0.75],\"mix\":\"geometric\",\"student\":{\"kind\":\"free\"},\"steps\":20,\"divergence\":\"rkl\"}",
      "{\"vocab\":16384,\"rows\":16,\"teachers\":[{\"bumps\":[[4000,300,1],[12000,500,2]],\"floor\":0.001}],"
      "\"student\":{\"kind\":\"gaussian\"},\"steps\":20,\"divergence\":\"fkl\"}",
      "{\"vocab\":16384,\"rows\":16,\"teachers\":[{\"random\":{\"scale\":3}}],\"student\":{\"kind\":\"linear\",\"dim\":4},"
      "\"steps\":20,\"divergence\":\"tvd\"}",
  };
  static const char *names[] = {"loss", "fkl", "rkl", "jsd", "tvd", "entropy", "low_mass", "top1_agree"};
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
    ds_result_t a = {0}, b = {0}, e = {0};
    task_backend = "ref";
    ASSERT_TRUE(run_task("distill", cases[ci], &a) == 0);
    task_backend = "cpu";
    task_threads = 2;
    ASSERT_TRUE(run_task("distill", cases[ci], &b) == 0);
    task_threads = 5;
    ASSERT_TRUE(run_task("distill", cases[ci], &e) == 0);
    task_backend = NULL;
    task_threads = 1;
    ASSERT_NEAR(metric(&a, "backend_id"), 0, 0);
    ASSERT_NEAR(metric(&b, "backend_id"), 1, 0);
    for (size_t m = 0; m < sizeof names / sizeof *names; m++) {
      double va = metric(&a, names[m]), vb = metric(&b, names[m]);
      ds_test_checks++;
      if (!(fabs(vb - va) <= 1e-4 * fabs(va) + 1e-7)) {
        fprintf(stderr, "distill case %zu: %s ref %.12g cpu %.12g\n", ci, names[m], va, vb);
        ds_test_failures++;
      }
      ds_test_checks++;
      if (metric(&b, names[m]) != metric(&e, names[m])) {
        fprintf(stderr, "distill case %zu: %s differs between 2 and 5 threads\n", ci, names[m]);
        ds_test_failures++;
      }
    }
    ds_result_free(&a); ds_result_free(&b); ds_result_free(&e);
  }
}

/* A JSON list of n numbers c·N(0,1) drawn from *st (malloc'd; the caller frees). */
static char *gauss_list(size_t n, double c, uint64_t *st) {
  char *b = malloc(n * 12 + 4), *o = b;
  *o++ = '[';
  for (size_t i = 0; i < n; i++) o += sprintf(o, "%s%.4f", i ? "," : "", c * ds__test_gauss(st));
  *o++ = ']';
  *o = 0;
  return b;
}

/* Runs task `name` on ref, on cpu with 2 and 5 threads and on auto, and compares `names`:
 * ref vs cpu within rel·|ref| + abs, 2 vs 5 threads bit-identical, backend_id as expected. */
static void agree_on_ref_and_cpu(const char *name, const char *js, const char *const *names, size_t nn, double rel,
                                 double abs_tol, int auto_id) {
  ds_result_t a = {0}, b = {0}, c = {0}, e = {0};
  task_backend = "ref";
  ASSERT_TRUE(run_task(name, js, &a) == 0);
  task_backend = "cpu";
  task_threads = 2;
  ASSERT_TRUE(run_task(name, js, &b) == 0);
  task_threads = 5;
  ASSERT_TRUE(run_task(name, js, &e) == 0);
  task_backend = NULL;
  task_threads = 1;
  ASSERT_TRUE(run_task(name, js, &c) == 0);
  ASSERT_NEAR(metric(&a, "backend_id"), 0, 0);
  ASSERT_NEAR(metric(&b, "backend_id"), 1, 0);
  ASSERT_NEAR(metric(&b, "kernel_threads"), 2, 0);
  ASSERT_NEAR(metric(&c, "backend_id"), auto_id, 0);
  for (size_t m = 0; m < nn; m++) {
    double va = metric(&a, names[m]), vb = metric(&b, names[m]);
    ds_test_checks++;
    if (!(fabs(vb - va) <= rel * fabs(va) + abs_tol)) {
      fprintf(stderr, "%s: %s ref %.12g cpu %.12g (%.17s...)\n", name, names[m], va, vb, js);
      ds_test_failures++;
    }
    ds_test_checks++;
    if (metric(&b, names[m]) != metric(&e, names[m])) {
      fprintf(stderr, "%s: %s differs between 2 and 5 threads\n", name, names[m]);
      ds_test_failures++;
    }
  }
  ds_result_free(&a); ds_result_free(&b); ds_result_free(&c); ds_result_free(&e);
}

/* rlvr and fdpo on the batched kernels.  The cpu backend rounds the policy logits a + θ to fp32
 * (relative 6e-8, so log π moves by ≤ 6e-8·max|z| ≈ 5e-7 at |z| ≤ 8) and computes each step's
 * gradient with fp32 outputs and double row sums, ~1e-7 relative per component.  θ itself and the
 * optimiser stay in double, and these objectives are convex in the logits with steps small
 * against their curvature, so a step does not amplify an earlier error: after S steps θ differs by
 * at most S·lr·max|δg| ≈ 30·0.5·1e-7 ≈ 2e-6, and the metrics (smooth in θ, computed in double on
 * both backends) relatively by about that.  1e-4 relative (+1e-7 absolute for values near 0)
 * leaves a margin of 30 and still catches a wrong term, sign, weight, row or label: each of those
 * moves a metric by 1e-2 or more here.  Sampling (grpo, sampled pairs) uses the double policy on
 * both backends, so both see the same answers. */
static void rlvr_and_fdpo_agree_on_ref_and_cpu(void) {
  uint64_t st = 11;
  enum { K1 = 65536, K2 = 16384, KP = 512, KS = 1024 };
  char *b1[4], *b2[2], *t2[2];
  for (int t = 0; t < 4; t++) b1[t] = gauss_list(K1, 1.5, &st);
  for (int t = 0; t < 2; t++) b2[t] = gauss_list(K2, 1.5, &st), t2[t] = gauss_list(K2, 2, &st);
  size_t cap = 8 * (size_t)K1 * 12 + 4096;
  char *js = malloc(cap);
  static const char *rl[] = {"reward", "pass_at_1", "entropy", "rkl_ref", "fkl_ref"};
  static const char *rlt[] = {"reward", "pass_at_1", "entropy", "rkl_ref", "fkl_ref", "rkl_teacher"};
  /* exact, per type, 4 × 65536 = 2^18 elements (auto: cpu): rkl penalty and the entropy bonus */
  int n = snprintf(js, cap, "{\"answers\":%d,\"params\":\"per_type\",\"types\":[", K1);
  for (int t = 0; t < 4; t++)
    n += snprintf(js + n, cap - n, "%s{\"weight\":%d,\"base_logits\":%s,\"reward\":{\"ones\":[%d,%d,%d]}}", t ? "," : "",
                  t + 1, b1[t], 7 * t, 100 + t, 4000 + 3 * t);
  snprintf(js + n, cap - n, "],\"divergence\":\"rkl\",\"beta\":0.3,\"entropy_bonus\":0.05,\"lr\":0.5,\"steps\":25}");
  agree_on_ref_and_cpu("rlvr", js, rl, 5, 1e-4, 1e-7, 1);
  /* exact, shared θ over 2 × 16384 (explicit cpu; auto keeps ref below 2^18): jsd penalty, KD
   * toward teachers, entropy of the 0.9 nucleus (that term stays in double) */
  n = snprintf(js, cap, "{\"answers\":%d,\"types\":[", K2);
  for (int t = 0; t < 2; t++)
    n += snprintf(js + n, cap - n, "%s{\"weight\":%d,\"base_logits\":%s,\"teacher_logits\":%s,\"reward\":{\"ones\":[%d,%d]}}",
                  t ? "," : "", 2 - t, b2[t], t2[t], 5 + t, 900 + t);
  snprintf(js + n, cap - n, "],\"divergence\":\"jsd\",\"beta\":0.1,\"kd_coef\":0.2,\"entropy_bonus\":0.02,\"entropy_top_p\":0.9,"
                            "\"optimizer\":\"adam\",\"lr\":0.02,\"steps\":25}");
  agree_on_ref_and_cpu("rlvr", js, rlt, 6, 1e-4, 1e-7, 0);
  /* grpo, 2 types × 8 answers × 16384 = 2^18 token elements (auto: cpu): PPO clip, k3 estimator
   * for the fkl penalty and for KD, 2 updates per sample */
  n = snprintf(js, cap, "{\"answers\":%d,\"params\":\"per_type\",\"types\":[", K2);
  for (int t = 0; t < 2; t++)
    n += snprintf(js + n, cap - n, "%s{\"weight\":1,\"base_logits\":%s,\"teacher_logits\":%s,\"reward\":{\"ones\":[%d,%d]}}",
                  t ? "," : "", b2[t], t2[t], 3 + t, 77 + t);
  snprintf(js + n, cap - n, "],\"estimator\":\"grpo\",\"group_size\":8,\"updates\":2,\"clip\":0.2,\"kl_estimator\":\"k3\","
                            "\"divergence\":\"fkl\",\"beta\":0.05,\"kd_coef\":0.05,\"optimizer\":\"adam\",\"lr\":0.05,\"steps\":30}");
  agree_on_ref_and_cpu("rlvr", js, rlt, 6, 1e-4, 1e-7, 1);
  /* grpo without an estimator: the exact rkl penalty and entropy through the kernels */
  n = snprintf(js, cap, "{\"answers\":%d,\"types\":[{\"base_logits\":%s,\"reward\":{\"ones\":[1,2,3]}}],\"estimator\":\"grpo\","
                        "\"group_size\":16,\"divergence\":\"rkl\",\"beta\":0.1,\"entropy_bonus\":0.01,\"lr\":0.5,\"steps\":30}", K2, b2[0]);
  agree_on_ref_and_cpu("rlvr", js, rl, 5, 1e-4, 1e-7, 1);

  /* Largest ref-vs-cpu differences measured over these cases: 4.5e-7 relative for rlvr, 3e-5 for
   * fdpo sampled (see there), less for fdpo population. */
  static const char *fd[] = {"entropy", "reward", "min_ratio", "rkl_ref", "fkl_ref", "loss", "optimality_gap"};
  char *bp = gauss_list(KP, 1, &st), *bs = gauss_list(KS, 1, &st);
  /* population, 512 answers = 512 token rows of 512 (2^18, auto: cpu), jsd and amari links */
  snprintf(js, cap, "{\"answers\":%d,\"base_logits\":%s,\"rewards\":{\"ones\":[3,40,200]},\"divergence\":\"jsd\","
                    "\"beta\":0.5,\"steps\":25,\"lr\":0.05}", KP, bp);
  agree_on_ref_and_cpu("fdpo", js, fd, 7, 1e-4, 1e-7, 1);
  snprintf(js, cap, "{\"answers\":%d,\"base_logits\":%s,\"rewards\":{\"ones\":[3,40,200]},\"divergence\":{\"name\":\"amari\",\"alpha\":0.3},"
                    "\"beta\":0.5,\"steps\":25,\"lr\":0.05,\"optimizer\":\"gd\"}", KP, bp);
  agree_on_ref_and_cpu("fdpo", js, fd, 7, 1e-4, 1e-7, 1);
  /* sampled, 128 pairs = 256 token rows of 1024 (2^18, auto: cpu), fkl link.  gd, not Adam: at
   * θ = 0 every pair's chosen and rejected weights cancel, so the answers no pair touched have a
   * gradient of exactly 0 in double and of fp32 rounding (~1e-13) on the kernels, which Adam
   * scales to steps of lr·1e-13/(1e-13 + 1e-8): measured 2e-4 relative on rkl_ref after 60 steps
   * (2048 answers, 64 pairs).  With gd the same cancellation still costs precision: an untouched
   * answer's gradient −π_j·Σ_r w_r is a sum over 256 fp32 rows whose weights nearly cancel, so its
   * error is ~6e-8·π_j·Σ|w_r|, not ~6e-8·|π_j Σ w_r|; measured 3e-5 relative on rkl_ref/fkl_ref
   * (small, nearly quadratic in θ), hence 3e-4 here. */
  snprintf(js, cap, "{\"answers\":%d,\"base_logits\":%s,\"rewards\":{\"ones\":[1,9,1000]},\"divergence\":\"fkl\","
                    "\"beta\":0.3,\"mode\":\"sampled\",\"pairs\":128,\"steps\":30,\"optimizer\":\"gd\",\"lr\":1}", KS, bs);
  agree_on_ref_and_cpu("fdpo", js, fd, 7, 3e-4, 1e-7, 1);
  /* newton needs double gradients: refused on cpu by name, kept on ref by auto */
  snprintf(js, cap, "{\"answers\":4,\"rewards\":[1,0,0,0],\"optimizer\":\"newton\",\"steps\":5}");
  ds_result_t r = {0};
  task_backend = "cpu";
  ASSERT_TRUE(run_task("fdpo", js, &r) != 0);
  ds_result_free(&r);
  task_backend = NULL;
  ASSERT_TRUE(run_task("fdpo", js, &r) == 0);
  ASSERT_NEAR(metric(&r, "backend_id"), 0, 0);
  ds_result_free(&r);
  /* 240,000 token rows of 600 answers = 1.44e8 elements, above DS__AUTO_MAX_TOKEN_ELEMS: auto keeps
   * the reference rather than allocate two 550 MiB buffers */
  snprintf(js, cap, "{\"answers\":600,\"rewards\":{\"ones\":[1]},\"mode\":\"sampled\",\"pairs\":120000,\"steps\":1}");
  ASSERT_TRUE(run_task("fdpo", js, &r) == 0);
  ASSERT_NEAR(metric(&r, "backend_id"), 0, 0);
  ds_result_free(&r);
  for (int t = 0; t < 4; t++) free(b1[t]);
  for (int t = 0; t < 2; t++) free(b2[t]), free(t2[t]);
  free(bp);
  free(bs);
  free(js);
}

int main(void) {
  logits_agrees_on_ref_and_cpu_and_records_the_backend();
  distill_agrees_on_ref_and_cpu();
  rlvr_and_fdpo_agree_on_ref_and_cpu();
  logits_reads_float16_npy_exactly();
  npy_loader_refuses_directories_fifos_devices_and_oversized_files();
  rlvr_reaches_the_kl_regularised_optimum_of_x3();
  fdpo_and_rlvr_reach_the_f_regularised_optima_of_x4();
  rlvr_reproduces_the_support_trap_of_x5();
  rlvr_kd_term_reaches_its_closed_form();
  rlvr_metrics_match_hand_computed_pass_at_k_and_entropy();
  entropy_bonus_optimum_matches_x9_closed_form();
  distill_gaussian_student_orders_divergences_as_x1();
  distill_metrics_match_hand_computed_values();
  distill_free_student_reaches_a_mixed_teacher();
  distill_floored_student_trains_and_x2_holds();
  rlvr_shared_policy_collapses_pass_at_k_as_x6();
  rlvr_grpo_improves_reward_and_is_seeded();
  rlvr_forward_kl_recovers_a_collapsed_answer_as_x7();
  logits_task_matches_hand_computed_values_on_written_files();
  checks_name_the_json_path_of_bad_parameters();
  return ds_test_exit();
}
