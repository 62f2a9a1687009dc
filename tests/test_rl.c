/* test_rl.c — unit tests of the RL-objective kernels (kernels/ds_rl.h).
 *
 * What is checked: golden values from tests/data/make_golden_rl.py (an independent numpy/scipy and
 * 50-digit Decimal implementation, read from $DS_TEST_DATA/golden_rl.json); central finite
 * differences for every gradient; the fp32 batched log-prob kernel against the double reference
 * (and bit-identical across thread counts); GRPO invariants; the exact on-policy expected
 * gradients of k1/k2/k3 by enumeration; stationarity and optimality of the closed-form optima and
 * the X3/X4/X5/X9 facts of experiments.md; the population f-DPO minimiser reaching the closed form
 * (kernels.md §4.8); a REINFORCE step on the mode moving entropy the right way; argument errors.
 * Every ASSERT is always on and prints both sides; the test keeps going after a failure and exits
 * 1 at the end if any failed, 77 if the golden file cannot be found.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_rl.h"
#include "ds_test.h"

static cJSON *golden;

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v)) { fprintf(stderr, "golden: missing number %s\n", k); exit(1); }
  return v->valuedouble;
}
static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsString(v)) { fprintf(stderr, "golden: missing string %s\n", k); exit(1); }
  return v->valuestring;
}
/* Copies array o[k] into a fresh malloc'd buffer (caller frees); *n = its length. */
static double *arr(const cJSON *o, const char *k, size_t *n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsArray(a)) { fprintf(stderr, "golden: missing array %s\n", k); exit(1); }
  size_t len = (size_t)cJSON_GetArraySize(a), i = 0;
  double *x = calloc(len ? len : 1, sizeof *x);
  const cJSON *e;
  cJSON_ArrayForEach(e, a) x[i++] = e->valuedouble;
  if (n) *n = len;
  return x;
}

static void load_golden(void) {
  const char *dir = getenv("DS_TEST_DATA");
  char path[4096];
  snprintf(path, sizeof path, "%s/golden_rl.json", dir ? dir : "tests/data");
  FILE *fp = fopen(path, "rb");
  if (!fp) { fprintf(stderr, "skip: cannot open %s\n", path); exit(77); }
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  if (fread(buf, 1, (size_t)len, fp) != (size_t)len) { fprintf(stderr, "short read\n"); exit(1); }
  buf[len] = 0;
  fclose(fp);
  golden = cJSON_Parse(buf);
  free(buf);
  if (!golden) { fprintf(stderr, "golden_rl.json does not parse\n"); exit(1); }
}

/* ---- log-prob / entropy ------------------------------------------------------------------ */

/* Scalar objective g_logp·logp + g_ent·H of one row, for finite differences. */
static double lp_obj(size_t V, const double *z, double T, int64_t y, double gl, double ge) {
  double lp, H;
  ds_rl_ref_logprob_row(V, z, T, y, &lp, &H, 0, 0, NULL);
  return gl * lp + ge * H;
}

static void test_logprob_matches_golden_and_finite_differences(void) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(golden, "logprob")) {
    size_t V;
    double *z = arr(c, "z", &V), *gg = arr(c, "grad", NULL), grad[64], lp, H;
    double T = num(c, "T"), gl = num(c, "g_logp"), ge = num(c, "g_ent");
    int64_t y = (int64_t)num(c, "label");
    ASSERT_EQ_INT(ds_rl_ref_logprob_row(V, z, T, y, &lp, &H, gl, ge, grad), 0);
    ASSERT_CLOSE(lp, num(c, "logp"), 1e-13, 1e-13);
    ASSERT_CLOSE(H, num(c, "entropy"), 1e-13, 1e-13);
    double gsum = 0;
    for (size_t j = 0; j < V; j++) {
      ASSERT_CLOSE(grad[j], gg[j], 1e-13, 1e-12);
      double h = 1e-5, zp[64];
      memcpy(zp, z, V * sizeof *z);
      zp[j] = z[j] + h;
      double fp = lp_obj(V, zp, T, y, gl, ge);
      zp[j] = z[j] - h;
      double fm = lp_obj(V, zp, T, y, gl, ge);
      ASSERT_CLOSE(grad[j], (fp - fm) / (2 * h), 1e-8, 1e-7);
      gsum += grad[j];
    }
    ASSERT_CLOSE(gsum, 0.0, 1e-13, 0); /* the softmax Jacobian's free oracle, kernels.md §1.2 */
    free(z);
    free(gg);
  }
  /* Masked (−inf) logits carry zero probability, zero gradient and no entropy. */
  double z[4] = {1.0, -INFINITY, 0.5, -2.0}, grad[4], lp, H, H3;
  double z3[3] = {1.0, 0.5, -2.0};
  ASSERT_EQ_INT(ds_rl_ref_logprob_row(4, z, 1.0, 0, &lp, &H, 1.0, 1.0, grad), 0);
  ASSERT_EQ_INT(ds_rl_ref_logprob_row(3, z3, 1.0, 0, NULL, &H3, 0, 0, NULL), 0);
  ASSERT_CLOSE(H, H3, 1e-15, 0);
  ASSERT_CLOSE(grad[1], 0.0, 0, 0);
}

static void test_batched_fp32_matches_reference_and_is_thread_invariant(void) {
  enum { R = 37, V = 301 };
  float *zf = malloc(sizeof(float) * R * V), *g1 = malloc(sizeof(float) * R * V);
  float *g3 = malloc(sizeof(float) * R * V), lp1[R], lp3[R], H1[R], H3[R], gl[R], ge[R];
  int64_t y[R];
  double zd[V], gd[V];
  unsigned s = 12345;
  for (size_t i = 0; i < (size_t)R * V; i++) {
    s = s * 1103515245u + 12345u;
    zf[i] = (float)(((s >> 8) & 0xffff) / 65536.0 * 16.0 - 8.0);
  }
  for (int r = 0; r < R; r++) {
    y[r] = r == 5 ? -100 : (r * 7919) % V;
    gl[r] = (float)(0.5 + 0.01 * r);
    ge[r] = (float)(0.3 - 0.02 * r);
  }
  ds_rl_logprob_args_t a = {R, V, zf, y, 1.7, gl, ge, 1};
  ASSERT_EQ_INT(ds_rl_logprob_batch(&a, lp1, H1, g1), 0);
  a.threads = 3;
  ASSERT_EQ_INT(ds_rl_logprob_batch(&a, lp3, H3, g3), 0);
  ASSERT_TRUE(memcmp(lp1, lp3, sizeof lp1) == 0 && memcmp(H1, H3, sizeof H1) == 0);
  ASSERT_TRUE(memcmp(g1, g3, sizeof(float) * R * V) == 0);
  double err = 0, ref2 = 0;
  for (int r = 0; r < R; r++) {
    double lp, H;
    for (int v = 0; v < V; v++) zd[v] = zf[r * V + v];
    ds_rl_ref_logprob_row(V, zd, 1.7, y[r], &lp, &H, gl[r], ge[r], gd);
    ASSERT_CLOSE(lp1[r], lp, 1e-6, 1e-6);
    ASSERT_CLOSE(H1[r], H, 1e-6, 1e-6);
    for (int v = 0; v < V; v++) {
      err += (g1[r * V + v] - gd[v]) * (g1[r * V + v] - gd[v]);
      ref2 += gd[v] * gd[v];
    }
  }
  ASSERT_TRUE(err / ref2 < 1e-12); /* NMSE, ggml test-backend-ops style */
  ASSERT_CLOSE(lp1[5], 0.0, 0, 0);  /* ignored row */
  y[0] = V;
  ASSERT_EQ_INT(ds_rl_logprob_batch(&a, lp1, NULL, NULL), DS_EINVAL);
  free(zf);
  free(g1);
  free(g3);
}

/* A REINFORCE step −A·∇log π(mode) on the logits: A < 0 pushes the mode down and raises the
 * entropy, A > 0 lowers it (experiments.md, kernel-level facts). */
static void test_reinforce_on_the_mode_moves_entropy(void) {
  double z[6] = {2.0, 1.0, 0.5, 0.0, -0.5, -1.0}, H0, H, g[6], zs[6];
  ds_rl_ref_logprob_row(6, z, 1.0, 0, NULL, &H0, 0, 0, NULL);
  for (int sign = -1; sign <= 1; sign += 2) {
    double A = sign * 1.0;
    ds_rl_ref_logprob_row(6, z, 1.0, 0, NULL, NULL, -A, 0, g); /* ∇(−A log π_mode) */
    for (int j = 0; j < 6; j++) zs[j] = z[j] - 0.1 * g[j];
    ds_rl_ref_logprob_row(6, zs, 1.0, 0, NULL, &H, 0, 0, NULL);
    if (A < 0) ASSERT_TRUE(H > H0);
    else ASSERT_TRUE(H < H0);
  }
}

/* ---- PPO and reductions ------------------------------------------------------------------ */

static void test_ppo_matches_verl_and_gradient_is_finite_difference(void) {
  const cJSON *g = cJSON_GetObjectItem(golden, "ppo"), *pp = cJSON_GetObjectItem(g, "params"), *c;
  ds_rl_ppo_t p = {num(pp, "eps_low"), num(pp, "eps_high"), num(pp, "clip_c"),
                   num(pp, "log_ratio_max")};
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
    double lp = num(c, "logp"), olp = num(c, "old_logp"), A = num(c, "adv"), d;
    double L = ds_rl_ppo_token(&p, lp, olp, A, &d, NULL);
    ASSERT_CLOSE(L, num(c, "loss"), 1e-14, 1e-14);
    double h = 1e-6;
    double fd = (ds_rl_ppo_token(&p, lp + h, olp, A, NULL, NULL) -
                 ds_rl_ppo_token(&p, lp - h, olp, A, NULL, NULL)) / (2 * h);
    ASSERT_CLOSE(d, fd, 1e-7, 1e-6);
  }
  /* Branch facts: A > 0 and ρ above 1+ε_high is clipped (gradient 0); the dual clip caps the loss
   * at −c·A when A < 0 and ρ is huge. */
  int clipped;
  double d;
  ds_rl_ppo_token(&p, 0.0, -1.0, 1.0, &d, &clipped);
  ASSERT_TRUE(clipped == 1 && d == 0.0);
  ASSERT_CLOSE(ds_rl_ppo_token(&p, 0.0, -5.0, -2.0, &d, &clipped), 6.0, 0, 0);
  ASSERT_TRUE(clipped == 1 && d == 0.0);
  double lp[4] = {0.0, 0.0, -1.0, -1.0}, olp[4] = {-1.0, -5.0, -1.05, -1.0}, A[4] = {1, -2, 0.5, 1};
  double Lb[4], db[4], cf;
  uint8_t m[4] = {1, 1, 1, 0};
  ASSERT_EQ_INT(ds_rl_ppo_batch(&p, 4, lp, olp, A, m, Lb, db, &cf), 0);
  ASSERT_CLOSE(cf, 2.0 / 3.0, 1e-15, 0);
  for (int i = 0; i < 4; i++) {
    ASSERT_CLOSE(Lb[i], ds_rl_ppo_token(&p, lp[i], olp[i], A[i], &d, NULL), 0, 0);
    ASSERT_CLOSE(db[i], d, 0, 0);
  }
  double kv[4], kd[4];
  ASSERT_EQ_INT(ds_rl_kl_batch(DS_RL_KL_K3, 4, lp, olp, kv, kd), 0);
  ASSERT_CLOSE(kv[1], ds_rl_kl_token(DS_RL_KL_K3, lp[1], olp[1], &d), 0, 0);
  ASSERT_CLOSE(kd[1], d, 0, 0);
  ds_rl_ppo_token(&p, -1.0, -1.05, 0.5, &d, &clipped);
  ASSERT_TRUE(clipped == 0);
  ASSERT_CLOSE(d, -exp(0.05) * 0.5, 1e-15, 1e-15);
}

static void test_reductions_weigh_tokens_as_documented(void) {
  double loss[6] = {1, 2, 3, 4, 5, 6}, out, dl[6];
  uint8_t m[6] = {1, 1, 0, 1, 0, 0};
  ds_rl_reduce(DS_RL_AGG_TOKEN_MEAN, 2, 3, loss, m, 0, &out, dl);
  ASSERT_CLOSE(out, 7.0 / 3.0, 1e-15, 0);
  ASSERT_CLOSE(dl[2], 0.0, 0, 0);
  ds_rl_reduce(DS_RL_AGG_SEQ_MEAN_TOKEN_MEAN, 2, 3, loss, m, 0, &out, dl);
  ASSERT_CLOSE(out, (1.5 + 4.0) / 2.0, 1e-15, 0);
  ds_rl_reduce(DS_RL_AGG_SEQ_MEAN_TOKEN_SUM, 2, 3, loss, m, 0, &out, dl);
  ASSERT_CLOSE(out, 3.5, 1e-15, 0);
  ds_rl_reduce(DS_RL_AGG_SUM, 2, 3, loss, NULL, 0, &out, dl);
  ASSERT_CLOSE(out, 21.0, 1e-15, 0);
  ds_rl_reduce(DS_RL_AGG_CONST_NORM, 2, 3, loss, m, 4.0, &out, dl);
  ASSERT_CLOSE(out, 7.0 / 8.0, 1e-15, 0);
  ASSERT_CLOSE(dl[0], 1.0 / 8.0, 1e-15, 0);
  uint8_t none[6] = {0};
  ds_rl_reduce(DS_RL_AGG_SEQ_MEAN_TOKEN_MEAN, 2, 3, loss, none, 0, &out, NULL);
  ASSERT_CLOSE(out, 0.0, 0, 0); /* fully masked: 0, not 0/0 */
  ASSERT_EQ_INT(ds_rl_reduce((ds_rl_agg_t)99, 2, 3, loss, m, 0, &out, NULL), DS_EINVAL);
}

/* ---- advantages -------------------------------------------------------------------------- */

static void test_advantages_match_golden_and_keep_group_invariants(void) {
  const cJSON *g = cJSON_GetObjectItem(golden, "adv");
  size_t n, G = (size_t)num(g, "G");
  double *r = arr(g, "rewards", &n), a[64], b[64], rs[64];
  const char *names[3] = {"grpo", "dr_grpo", "rloo"};
  for (int k = 0; k < 3; k++) {
    double *want = arr(g, names[k], NULL);
    ASSERT_EQ_INT(ds_rl_advantages((ds_rl_adv_t)k, n / G, G, r, num(g, "eps"), a), 0);
    for (size_t i = 0; i < n; i++) ASSERT_CLOSE(a[i], want[i], 1e-14, 1e-13);
    for (size_t q = 0; q < n / G; q++) {
      double s = 0;
      for (size_t i = 0; i < G; i++) s += a[q * G + i];
      ASSERT_CLOSE(s, 0.0, 1e-14, 0);
    }
    free(want);
  }
  /* GRPO with eps = 0 is invariant to r → 3r − 7. */
  for (size_t i = 0; i < n; i++) rs[i] = 3.0 * r[i] - 7.0;
  ds_rl_advantages(DS_RL_ADV_GRPO, n / G, G, r, 0.0, a);
  ds_rl_advantages(DS_RL_ADV_GRPO, n / G, G, rs, 0.0, b);
  for (size_t i = 0; i < n; i++) ASSERT_CLOSE(a[i], b[i], 1e-13, 1e-13);
  double eq[4] = {0.5, 0.5, 0.5, 0.5}, one = 2.0;
  ds_rl_advantages(DS_RL_ADV_GRPO, 1, 4, eq, 1e-6, a);
  for (int i = 0; i < 4; i++) ASSERT_CLOSE(a[i], 0.0, 0, 0);
  ds_rl_advantages(DS_RL_ADV_GRPO, 1, 1, &one, 1e-6, a);
  ASSERT_CLOSE(a[0], 2.0 / (1.0 + 1e-6), 1e-15, 0); /* verl: a group of one has mean 0, std 1 */
  ASSERT_EQ_INT(ds_rl_advantages(DS_RL_ADV_RLOO, 1, 0, &one, 0, a), DS_EINVAL);
  free(r);
}

/* ---- KL estimators ------------------------------------------------------------------------ */

static void test_kl_estimators_match_golden_and_finite_differences(void) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(golden, "kl")) {
    double lp = num(c, "logp"), ref = num(c, "ref_logp");
    const char *nm[4] = {"k1", "k2", "k3", "abs"};
    for (int k = 0; k < 4; k++) {
      ds_rl_kl_t kind;
      ASSERT_EQ_INT(ds_rl_kl_from_name(nm[k], &kind), 0);
      double d, h = 1e-6;
      ASSERT_CLOSE(ds_rl_kl_token(kind, lp, ref, &d), num(c, nm[k]), 1e-14, 1e-14);
      if (kind == DS_RL_KL_ABS && lp == ref) continue; /* kink */
      double fd = (ds_rl_kl_token(kind, lp + h, ref, NULL) - ds_rl_kl_token(kind, lp - h, ref, NULL)) /
                  (2 * h);
      ASSERT_CLOSE(d, fd, 1e-7, 1e-6);
    }
    double d1, d2, d3;
    ds_rl_kl_token(DS_RL_KL_K3_ST, lp, ref, &d1);
    ds_rl_kl_token(DS_RL_KL_K2, lp, ref, &d2);
    ASSERT_CLOSE(d1, d2, 0, 0);
    ASSERT_CLOSE(ds_rl_kl_token(DS_RL_KL_K3_ST, lp, ref, NULL), ds_rl_kl_token(DS_RL_KL_K3, lp, ref, &d3),
                 0, 0);
  }
  ds_rl_kl_t kind;
  ASSERT_EQ_INT(ds_rl_kl_from_name("k4", &kind), DS_EINVAL);
}

/* E_{x~q}[(∂k/∂log q(x))·∇_θ log q(x)] by exact enumeration over a 6-way categorical q =
 * softmax(θ): 0 for k1, ∇KL(q‖p) for k2, ∇KL(p‖q) for k3 (kernels.md §4.4). */
static void test_kl_expected_gradients_are_zero_reverse_forward(void) {
  enum { V = 6 };
  double th[V] = {0.3, -1.2, 0.8, 0.0, -0.4, 1.1}, tp[V] = {-0.5, 0.4, 0.2, 1.0, -1.0, 0.1};
  double lq[V], lpp[V], q[V], p[V];
  double lse_q = 0, lse_p = 0;
  for (int j = 0; j < V; j++) { lse_q += exp(th[j]); lse_p += exp(tp[j]); }
  for (int j = 0; j < V; j++) {
    lq[j] = th[j] - log(lse_q); lpp[j] = tp[j] - log(lse_p);
    q[j] = exp(lq[j]); p[j] = exp(lpp[j]);
  }
  double rkl = 0;
  for (int j = 0; j < V; j++) rkl += q[j] * (lq[j] - lpp[j]);
  ds_rl_kl_t kinds[3] = {DS_RL_KL_K1, DS_RL_KL_K2, DS_RL_KL_K3};
  for (int k = 0; k < 3; k++) {
    double E[V] = {0}, g[V];
    for (int x = 0; x < V; x++) {
      double dk;
      ds_rl_kl_token(kinds[k], lq[x], lpp[x], &dk);
      ds_rl_ref_logprob_row(V, th, 1.0, x, NULL, NULL, dk, 0, g);
      for (int j = 0; j < V; j++) E[j] += q[x] * g[j];
    }
    for (int j = 0; j < V; j++) {
      double want = k == 0 ? 0.0 : k == 1 ? q[j] * (lq[j] - lpp[j] - rkl) : q[j] - p[j];
      ASSERT_CLOSE(E[j], want, 1e-15, 1e-13);
    }
  }
}

/* ---- DPO and f-DPO ------------------------------------------------------------------------ */

static ds_rl_dpo_t dpo_kind(const char *s) {
  return strcmp(s, "sigmoid") == 0 ? DS_RL_DPO_SIGMOID
         : strcmp(s, "ipo") == 0   ? DS_RL_DPO_IPO
         : strcmp(s, "hinge") == 0 ? DS_RL_DPO_HINGE
                                   : DS_RL_DPO_ROBUST;
}

static void test_dpo_and_fdpo_match_golden_and_finite_differences(void) {
  const cJSON *c;
  int n = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(golden, "dpo")) {
    ds_rl_f_t f, *fp = NULL;
    if (strcmp(str(c, "f"), "none") != 0) {
      ASSERT_EQ_INT(ds_rl_f_from_name(str(c, "f"), num(c, "alpha"), &f), 0);
      fp = &f;
    }
    ds_rl_dpo_t k = dpo_kind(str(c, "kind"));
    double b = num(c, "beta"), ls = num(c, "ls"), pc = num(c, "pc"), pr = num(c, "pr"),
           rc = num(c, "rc"), rr = num(c, "rr"), dc, dr;
    double L = ds_rl_dpo(k, fp, b, ls, pc, pr, rc, rr, &dc, &dr);
    ASSERT_CLOSE(L, num(c, "loss"), 1e-13, 1e-12);
    ASSERT_CLOSE(dc, num(c, "d_chosen"), 1e-9, 1e-7);
    ASSERT_CLOSE(dr, num(c, "d_rejected"), 1e-9, 1e-7);
    double h = 1e-6;
    ASSERT_CLOSE(dc, (ds_rl_dpo(k, fp, b, ls, pc + h, pr, rc, rr, NULL, NULL) -
                      ds_rl_dpo(k, fp, b, ls, pc - h, pr, rc, rr, NULL, NULL)) / (2 * h),
                 1e-8, 1e-6);
    ASSERT_CLOSE(dr, (ds_rl_dpo(k, fp, b, ls, pc, pr + h, rc, rr, NULL, NULL) -
                      ds_rl_dpo(k, fp, b, ls, pc, pr - h, rc, rr, NULL, NULL)) / (2 * h),
                 1e-8, 1e-6);
    n++;
  }
  ASSERT_TRUE(n >= 100);
  /* sigmoid gradient w.r.t. the chosen log-prob is −βσ(−βΔ) (kernels.md §4.6). */
  double dc, dr, delta = (-3.0 + 4.0) - (-6.0 + 5.5);
  ds_rl_dpo(DS_RL_DPO_SIGMOID, NULL, 0.1, 0.0, -3.0, -6.0, -4.0, -5.5, &dc, &dr);
  ASSERT_CLOSE(dc, -0.1 / (1.0 + exp(0.1 * delta)), 1e-16, 1e-14);
  ASSERT_CLOSE(dr, -dc, 0, 0);
  /* Link derivatives by finite differences, and the exponent cap keeps the fkl link finite. */
  const char *fs[4] = {"rkl", "fkl", "jsd", "amari"};
  for (int i = 0; i < 4; i++) {
    ds_rl_f_t f;
    ds_rl_f_from_name(fs[i], 0.35, &f);
    for (double ell = -3.0; ell <= 3.0; ell += 0.75) {
      double d, h = 1e-6;
      ds_rl_f_link(&f, ell, &d);
      ASSERT_CLOSE(d, (ds_rl_f_link(&f, ell + h, NULL) - ds_rl_f_link(&f, ell - h, NULL)) / (2 * h),
                   1e-8, 1e-7);
      /* The link is f′(e^ℓ): check against f itself. */
      double u = exp(ell), hu = 1e-6 * u;
      ASSERT_CLOSE(ds_rl_f_link(&f, ell, NULL),
                   (ds_rl_f_value(&f, u + hu) - ds_rl_f_value(&f, u - hu)) / (2 * hu), 1e-7, 1e-7);
    }
    ASSERT_TRUE(isfinite(ds_rl_f_link(&f, -1e6, NULL)));
  }
  ds_rl_f_t tvd;
  ds_rl_f_from_name("tvd", 0, &tvd);
  ASSERT_TRUE(isnan(ds_rl_dpo(DS_RL_DPO_SIGMOID, &tvd, 0.1, 0, -1, -2, -1, -2, NULL, NULL)));
  ASSERT_EQ_INT(ds_rl_f_from_name("amari", 1.0, &tvd), DS_EINVAL);
}

/* ---- closed-form optima ------------------------------------------------------------------- */

static void test_optimum_matches_50_digit_reference(void) {
  const cJSON *c;
  int n = 0;
  double worst = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(golden, "optimum")) {
    size_t K;
    double *pref = arr(c, "pref", &K), *r = arr(c, "reward", NULL), *want = arr(c, "pi", NULL);
    double pi[64], lam, val, beta = num(c, "beta");
    ds_rl_f_t f;
    ASSERT_EQ_INT(ds_rl_f_from_name(str(c, "div"), num(c, "alpha"), &f), 0);
    ASSERT_EQ_INT(ds_rl_optimum_f(&f, K, pref, r, beta, pi, &lam, &val), 0);
    double pi2[64];
    ASSERT_EQ_INT(ds_rl_optimum(str(c, "div"), num(c, "alpha"), K, pref, r, beta, pi2), 0);
    ASSERT_TRUE(memcmp(pi, pi2, K * sizeof *pi) == 0);
    double s = 0;
    for (size_t i = 0; i < K; i++) {
      ASSERT_CLOSE(pi[i], want[i], 1e-15, 1e-12);
      if (want[i] > 0) worst = fmax(worst, fabs(pi[i] - want[i]) / want[i]);
      s += pi[i];
    }
    ASSERT_CLOSE(s, 1.0, 1e-15, 0);
    ASSERT_CLOSE(val, num(c, "value"), 1e-13, 1e-12);
    if (f.kind != DS_RL_F_TVD) {
      ASSERT_CLOSE(lam, num(c, "lam"), 1e-13, 1e-12);
      /* Stationarity: β f′(π/π_ref) + λ = r on the support. */
      for (size_t i = 0; i < K; i++)
        ASSERT_CLOSE(beta * ds_rl_f_link(&f, log(pi[i] / pref[i]), NULL) + lam, r[i], 1e-9, 0);
    }
    free(pref); free(r); free(want);
    n++;
  }
  ASSERT_TRUE(n >= 40);
  fprintf(stderr, "optimum: %d cases, worst relative error vs 50-digit reference %.3g\n", n, worst);
}

static double entropy_of(size_t K, const double *p) {
  double h = 0;
  for (size_t i = 0; i < K; i++) if (p[i] > 0) h -= p[i] * log(p[i]);
  return h;
}

/* X3: π* = π_ref e^{r/β}/Z with J* = β log Z; reward and KL fall strictly with β; β → 0 gives the
 * argmax.  X4: at equal β tail retention and entropy are ordered fkl > amari(½) > rkl > jsd and
 * the reward the other way. */
static void test_x3_x4_facts_hold(void) {
  enum { K = 16 };
  double pref[K], r[K], pi[K], z = 0;
  for (int i = 0; i < K; i++) { pref[i] = exp(-0.2 * i); z += pref[i]; }
  for (int i = 0; i < K; i++) { pref[i] /= z; r[i] = ((7 * i) % 16) / 15.0; }
  ds_rl_f_t rkl;
  ds_rl_f_from_name("rkl", 0, &rkl);
  double prev_r = INFINITY, prev_kl = INFINITY;
  for (double beta = 0.02; beta < 5; beta *= 1.7) {
    double val, Z = 0, er = 0, kl = 0;
    ds_rl_optimum_f(&rkl, K, pref, r, beta, pi, NULL, &val);
    for (int i = 0; i < K; i++) Z += pref[i] * exp(r[i] / beta);
    for (int i = 0; i < K; i++) {
      ASSERT_CLOSE(pi[i], pref[i] * exp(r[i] / beta) / Z, 1e-300, 1e-13);
      er += pi[i] * r[i];
      kl += pi[i] * log(pi[i] / pref[i]);
    }
    ASSERT_CLOSE(val, beta * log(Z), 1e-14, 1e-13);
    ASSERT_TRUE(er < prev_r && kl < prev_kl);
    prev_r = er; prev_kl = kl;
  }
  ds_rl_optimum_f(&rkl, K, pref, r, 1e-3, pi, NULL, NULL);
  ASSERT_CLOSE(pi[9], 1.0, 1e-12, 0); /* (7·9) mod 16 = 15: the argmax reward 15/15 is i = 9 */

  const char *order[4] = {"fkl", "amari", "rkl", "jsd"};
  double tail[4], ent[4], rew[4];
  for (int k = 0; k < 4; k++) {
    ds_rl_optimum(order[k], 0.5, K, pref, r, 0.2, pi);
    tail[k] = INFINITY; rew[k] = 0;
    for (int i = 0; i < K; i++) { tail[k] = fmin(tail[k], pi[i] / pref[i]); rew[k] += pi[i] * r[i]; }
    ent[k] = entropy_of(K, pi);
  }
  for (int k = 0; k < 3; k++) {
    ASSERT_TRUE(tail[k] > tail[k + 1]);
    ASSERT_TRUE(ent[k] > ent[k + 1]);
    ASSERT_TRUE(rew[k] < rew[k + 1]);
  }
}

/* X5: π_ref(y0) = 1e-8, r(y0) = 1: the optimum's mass on y0 is ≈ 1 under tvd and jsd, 1 − β
 * under fkl (up to O(βε)), and ε e^{1/β}-scale under rkl. */
static void test_x5_support_trap(void) {
  double eps = 1e-8, pref[6], r[6] = {1, 0, 0, 0, 0, 0}, pi[6];
  pref[0] = eps;
  for (int i = 1; i < 6; i++) pref[i] = (1 - eps) / 5;
  for (double beta = 0.05; beta < 0.95; beta += 0.15) {
    ds_rl_optimum("fkl", 0, 6, pref, r, beta, pi);
    ASSERT_CLOSE(pi[0], 1.0 - beta, 2.0 * beta * eps / (1.0 - beta), 0);
    ds_rl_optimum("rkl", 0, 6, pref, r, beta, pi);
    double w = eps * exp(1.0 / beta);
    ASSERT_CLOSE(pi[0], w / (w + 1.0 - eps), 0, 1e-13);
    ds_rl_optimum("tvd", 0, 6, pref, r, beta, pi);
    ASSERT_CLOSE(pi[0], 1.0, 1e-15, 0);
  }
  ds_rl_optimum("jsd", 0, 6, pref, r, 0.1, pi);
  ASSERT_TRUE(pi[0] > 0.999);
}

/* X9: an entropy bonus α is a KL-to-uniform penalty with β = α, so pass@1 of the optimum with 3
 * correct answers among 3 + V_w is 3e^{1/α}/(3e^{1/α} + V_w). */
static void test_x9_entropy_bonus_optimum(void) {
  enum { VW = 997, K = 3 + VW };
  static double pref[K], r[K], pi[K];
  for (int i = 0; i < K; i++) { pref[i] = 1.0 / K; r[i] = i < 3 ? 1.0 : 0.0; }
  double a = 0.2;
  ds_rl_optimum("rkl", 0, K, pref, r, a, pi);
  double want = 3 * exp(1 / a) / (3 * exp(1 / a) + VW);
  ASSERT_CLOSE(pi[0] + pi[1] + pi[2], want, 1e-15, 1e-13);
}

/* kernels.md §4.8: gradient descent on the population f-DPO loss over all pairs (weights
 * π_ref(i)π_ref(j), Bradley–Terry labels σ(r_i − r_j)) reaches the closed-form optimum. */
static void test_population_fdpo_reaches_closed_form(void) {
  enum { K = 4 };
  double pref[K] = {0.4, 0.3, 0.2, 0.1}, r[K] = {0.1, 0.9, 0.4, 0.7}, beta = 0.5;
  const char *divs[4] = {"rkl", "fkl", "jsd", "amari"};
  for (int k = 0; k < 4; k++) {
    ds_rl_f_t f;
    ds_rl_f_from_name(divs[k], 0.5, &f);
    double th[K] = {0}, want[K];
    for (int i = 0; i < K; i++) th[i] = log(pref[i]);
    ds_rl_optimum_f(&f, K, pref, r, beta, want, NULL, NULL);
    for (int it = 0; it < 20000; it++) {
      double lse = 0, lp[K], gl[K] = {0}, gz[K];
      for (int i = 0; i < K; i++) lse += exp(th[i]);
      for (int i = 0; i < K; i++) lp[i] = th[i] - log(lse);
      for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) {
          double y = 1.0 / (1.0 + exp(-(r[i] - r[j]))), dc, dr, w = pref[i] * pref[j];
          /* Soft label y on "i preferred": the sigmoid loss with label smoothing 1 − y. */
          ds_rl_dpo(DS_RL_DPO_SIGMOID, &f, beta, 1.0 - y, lp[i], lp[j], log(pref[i]), log(pref[j]),
                    &dc, &dr);
          gl[i] += w * dc;
          gl[j] += w * dr;
        }
      double sg = 0;
      for (int i = 0; i < K; i++) sg += gl[i];
      for (int i = 0; i < K; i++) gz[i] = gl[i] - exp(lp[i]) * sg; /* through log-softmax */
      /* The pair weights are O(0.01), so a step of 10 is stable and converges to roundoff. */
      for (int i = 0; i < K; i++) th[i] -= 10.0 * gz[i];
    }
    double lse = 0;
    for (int i = 0; i < K; i++) lse += exp(th[i]);
    for (int i = 0; i < K; i++) ASSERT_CLOSE(exp(th[i]) / lse, want[i], 1e-12, 0);
  }
}

static void test_bad_arguments_are_rejected(void) {
  double p[2] = {0.5, 0.5}, r[2] = {0, 1}, pi[2], z[2] = {0, 0};
  ASSERT_EQ_INT(ds_rl_optimum("kl", 0, 2, p, r, 0.1, pi), DS_EINVAL);
  ASSERT_EQ_INT(ds_rl_optimum("amari", 0.0, 2, p, r, 0.1, pi), DS_EINVAL);
  ASSERT_EQ_INT(ds_rl_optimum("fkl", 0, 2, p, r, 0.0, pi), DS_EINVAL);
  double bad[2] = {0.5, 0.6};
  ASSERT_EQ_INT(ds_rl_optimum("fkl", 0, 2, bad, r, 0.1, pi), DS_EINVAL);
  ASSERT_EQ_INT(ds_rl_optimum("fkl", 0, 0, p, r, 0.1, pi), DS_EINVAL);
  ASSERT_EQ_INT(ds_rl_ref_logprob_row(2, z, 0.0, 0, NULL, NULL, 0, 0, NULL), DS_EINVAL);
  ASSERT_EQ_INT(ds_rl_ref_logprob_row(2, z, 1.0, 2, NULL, NULL, 0, 0, NULL), DS_EINVAL);
  double zi[2] = {-INFINITY, -INFINITY};
  ASSERT_EQ_INT(ds_rl_ref_logprob_row(2, zi, 1.0, 0, NULL, NULL, 0, 0, NULL), DS_EINVAL);
  /* Zero reference mass gives zero policy mass. */
  double p0[3] = {0.0, 0.5, 0.5}, r0[3] = {5.0, 0.0, 1.0}, pi0[3];
  ASSERT_EQ_INT(ds_rl_optimum("fkl", 0, 3, p0, r0, 0.3, pi0), 0);
  ASSERT_CLOSE(pi0[0], 0.0, 0, 0);
}

int main(void) {
  load_golden();
  test_logprob_matches_golden_and_finite_differences();
  test_batched_fp32_matches_reference_and_is_thread_invariant();
  test_reinforce_on_the_mode_moves_entropy();
  test_ppo_matches_verl_and_gradient_is_finite_difference();
  test_reductions_weigh_tokens_as_documented();
  test_advantages_match_golden_and_keep_group_invariants();
  test_kl_estimators_match_golden_and_finite_differences();
  test_kl_expected_gradients_are_zero_reverse_forward();
  test_dpo_and_fdpo_match_golden_and_finite_differences();
  test_optimum_matches_50_digit_reference();
  test_x3_x4_facts_hold();
  test_x5_support_trap();
  test_x9_entropy_bonus_optimum();
  test_population_fdpo_reaches_closed_form();
  test_bad_arguments_are_rejected();
  cJSON_Delete(golden);
  return ds_test_exit();
}
