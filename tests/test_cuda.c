/* test_cuda.c — the CUDA backend against the double reference (ggml test-backend-ops style), and
 * the CUDA RL kernels against the CPU ones.  Label `cuda`.
 *
 * Without a usable device (no GPU, no driver, or a CPU-only build) it checks that everything
 * reports "unavailable" cleanly — ds_kern_backend_get("cuda") is NULL, the device count is 0, the
 * RL entry points return an error instead of crashing — and exits 77 (skipped).
 * With a device: every divergence × {fp32, bf16} × {host, device pointers} × mixtures, reductions,
 * row masks, vocab sizes 1 … 128256, logits up to ±100; NMSE of gradients, relative error of row
 * losses, NaN/Inf positions, canaries after every output buffer; determinism of two runs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ds_error.h"
#include "ds_kernels.h"
#include "ds_rl.h"

#include "ds_test.h"

static char ctx[200] = ""; /* the case being checked; ds_test_ctx points here */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand()); }

/* Round to bfloat16 (nearest even) and back: the values a bf16 tensor would hold. */
static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* A host buffer, or a device copy of it when `dev`. */
static void *place(const void *h, size_t bytes, int dev) {
  if (!dev) return (void *)h;
  void *d = ds_kern_cuda_alloc(bytes);
  ASSERT_TRUE(d != NULL);
  if (d && h) ASSERT_TRUE(ds_kern_cuda_copy(d, h, bytes) == 0);
  return d;
}

static const char *all_divs[] = {"fkl", "rkl", "jsd", "skl", "srkl", "tvd", "hellinger", "chi2", "chi2n",
                                 "renyi", "amari", "ab", "cs", "wmix", "w1", "sinkhorn", "entropy"};
#define NDIV (sizeof all_divs / sizeof *all_divs)
#define CANARY 4
static const float canary = 12345.678f;

typedef struct {
  size_t rows, V, K;
  ds_mix_t mix;
  double tt, ts, scale;
  int t2, uniform, masked;
  ds_reduction_t red;
} bcase_t;

/* One case on the cuda backend (dtype, pointers on the device or not) against "ref" on the same
 * (bf16-rounded) values. */
static void compare(const ds_backend_t *cu, const char *div, const bcase_t *c, int bf16, int dev) {
  const ds_backend_t *ref = ds_kern_backend_get("ref");
  size_t n = c->rows * c->V;
  float *T[3], *S = malloc(n * sizeof *S), *ga = malloc((n + CANARY) * sizeof *ga), *gb = malloc(n * sizeof *gb);
  uint16_t *Th[3], *Sh = malloc(n * sizeof *Sh);
  double *ra = malloc((c->rows + CANARY) * sizeof *ra), *rb = malloc(c->rows * sizeof *rb);
  double w[3] = {0.5, 0.3, 0.2};
  uint8_t *mask = malloc(c->rows);
  for (size_t k = 0; k < c->K; k++) {
    T[k] = malloc(n * sizeof *T[k]);
    Th[k] = malloc(n * sizeof *Th[k]);
    for (size_t i = 0; i < n; i++) {
      T[k][i] = (float)(c->uniform ? c->scale * (2 * urand() - 1) : c->scale * nrand());
      Th[k][i] = to_bf16(T[k][i]);
      if (bf16) T[k][i] = from_bf16(Th[k][i]);
    }
  }
  for (size_t i = 0; i < n; i++) {
    S[i] = (float)(c->uniform ? c->scale * (2 * urand() - 1) : c->scale * nrand());
    Sh[i] = to_bf16(S[i]);
    if (bf16) S[i] = from_bf16(Sh[i]);
  }
  for (size_t r = 0; r < c->rows; r++) mask[r] = !c->masked || r % 3 != 1;
  for (int i = 0; i < CANARY; i++) { ga[n + i] = canary; ra[c->rows + i] = canary; }
  ds_div_t d;
  ds_div_from_name(div, &d);
  size_t esz = bf16 ? 2 : 4;
  const void *dT[3];
  for (size_t k = 0; k < c->K; k++) dT[k] = place(bf16 ? (void *)Th[k] : (void *)T[k], n * esz, dev);
  const void *dS = place(bf16 ? (void *)Sh : (void *)S, n * esz, dev);
  float *dG = dev ? place(NULL, n * sizeof(float), 1) : ga;
  double *dR = dev ? place(NULL, c->rows * sizeof(double), 1) : ra;
  uint8_t *dM = c->masked ? place(mask, c->rows, dev) : NULL;
  ds_kern_args_t a = {&d, c->rows, c->V, c->K, (const float *const *)dT, c->K > 1 ? w : NULL, c->mix,
                      (const float *)dS, c->tt, c->ts, c->t2, c->red, dM, 0,
                      bf16 ? DS_DTYPE_BF16 : DS_DTYPE_F32};
  ds_kern_args_t ar = a;
  ar.teacher = (const float *const *)T;
  ar.student = S;
  ar.row_mask = c->masked ? mask : NULL;
  ar.dtype = DS_DTYPE_F32;
  ds_kern_out_t oa = {0, dR, dG}, ob = {0, rb, gb};
  if (ds_kern_supports(cu, &a) >= 0) {
    ASSERT_TRUE(ds_kern_fwd_bwd(cu, &a, &oa) == 0);
    ASSERT_TRUE(ds_kern_fwd_bwd(ref, &ar, &ob) == 0);
    if (dev) {
      ASSERT_TRUE(ds_kern_cuda_copy(ga, dG, n * sizeof(float)) == 0);
      ASSERT_TRUE(ds_kern_cuda_copy(ra, dR, c->rows * sizeof(double)) == 0);
    }
    for (int i = 0; i < CANARY; i++) { ASSERT_TRUE(ga[n + i] == canary); ASSERT_TRUE(ra[c->rows + i] == canary); }
    int huge = fabs(ob.loss) > 1e30;
    for (size_t i = 0; i < n && !huge; i++) huge = fabs(gb[i]) > 1e30 || !isfinite(gb[i]);
    if (!huge) {
      double e2 = 0, r2 = 0;
      size_t nanpos = 0;
      for (size_t i = 0; i < n; i++) {
        if (isnan(ga[i]) != isnan(gb[i]) || isinf(ga[i]) != isinf(gb[i])) nanpos++;
        if (!isfinite(ga[i]) || !isfinite(gb[i])) continue;
        e2 += ((double)ga[i] - gb[i]) * ((double)ga[i] - gb[i]);
        r2 += (double)gb[i] * gb[i];
      }
      ASSERT_TRUE(nanpos == 0);
      /* The tolerances of test_kernels.c's CPU comparison: fp32 element maths either way. */
      double lim = c->uniform ? 5e-6 : 1e-7;
      ASSERT_LE(e2 / (r2 + (double)n * 1e-13 / lim), lim);
      double rel = c->uniform ? 1e-4 : 2e-5;
      ASSERT_NEAR(oa.loss, ob.loss, rel * (1e-3 + fabs(ob.loss)));
      for (size_t r = 0; r < c->rows; r++) ASSERT_NEAR(ra[r], rb[r], rel * (1e-3 + fabs(rb[r])) + 1e-7);
      if (c->masked)
        for (size_t r = 0; r < c->rows; r++)
          if (!mask[r]) { ASSERT_TRUE(ra[r] == 0); ASSERT_TRUE(ga[r * c->V] == 0); }
    } else {
      ASSERT_TRUE(fabs(oa.loss) > 1e20 || !isfinite(oa.loss));
    }
    /* Determinism: a second run gives the same bits. */
    double l1 = oa.loss;
    ASSERT_TRUE(ds_kern_fwd_bwd(cu, &a, &oa) == 0);
    ASSERT_TRUE(oa.loss == l1 || (isnan(oa.loss) && isnan(l1)));
  }
  if (dev) {
    for (size_t k = 0; k < c->K; k++) ds_kern_cuda_free((void *)dT[k]);
    ds_kern_cuda_free((void *)dS);
    ds_kern_cuda_free(dG);
    ds_kern_cuda_free(dR);
    if (dM) ds_kern_cuda_free(dM);
  }
  for (size_t k = 0; k < c->K; k++) { free(T[k]); free(Th[k]); }
  free(S); free(Sh); free(ga); free(gb); free(ra); free(rb); free(mask);
}

static void test_cuda_backend_matches_the_reference_for_every_divergence(const ds_backend_t *cu) {
  for (size_t di = 0; di < NDIV; di++) {
    const char *dv = all_divs[di];
    bcase_t cs[] = {
        {3, 1, 1, DS_MIX_ARITHMETIC, 1, 1, 2, 0, 0, 0, DS_RED_BATCHMEAN},
        {5, 7, 1, DS_MIX_ARITHMETIC, 2, 2, 2, 1, 0, 0, DS_RED_SUM},
        {4, 33, 1, DS_MIX_ARITHMETIC, 1.5, 0.8, 3, 0, 0, 1, DS_RED_MEAN},
        {3, 33, 1, DS_MIX_ARITHMETIC, 1, 1, 100, 0, 1, 0, DS_RED_NONE},
        {3, 33, 3, DS_MIX_ARITHMETIC, 1.5, 1.5, 2, 0, 0, 0, DS_RED_BATCHMEAN},
        {3, 33, 3, DS_MIX_GEOMETRIC, 1.5, 1.5, 2, 0, 0, 0, DS_RED_BATCHMEAN},
        {3, 33, 3, DS_MIX_LOSS, 1.5, 1.5, 2, 1, 0, 1, DS_RED_BATCHMEAN},
        {2, 32000, 1, DS_MIX_ARITHMETIC, 2, 2, 3, 1, 0, 0, DS_RED_BATCHMEAN},
        {1, 128256, 1, DS_MIX_ARITHMETIC, 1, 1, 3, 0, 0, 0, DS_RED_BATCHMEAN},
        {2, 4099, 1, DS_MIX_ARITHMETIC, 1, 1, 100, 0, 1, 0, DS_RED_SUM},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
      if (!strcmp(dv, "sinkhorn") && cs[i].V > 33) continue;
      for (int bf16 = 0; bf16 < 2; bf16++)
        for (int dev = 0; dev < 2; dev++) {
          if (dev && cs[i].V > 33 && bf16) continue; /* keep the run short */
          snprintf(ctx, sizeof ctx, "cuda %s rows=%zu V=%zu K=%zu mix=%d case %zu %s %s", dv, cs[i].rows, cs[i].V,
                   cs[i].K, cs[i].mix, i, bf16 ? "bf16" : "fp32", dev ? "device" : "host");
          compare(cu, dv, &cs[i], bf16, dev);
        }
    }
  }
}

static void test_cuda_rl_kernels_match_the_cpu_ones(void) {
  enum { B = 6, V = 5003, N = 4096 };
  snprintf(ctx, sizeof ctx, "rl logprob");
  float *z = malloc(B * V * sizeof *z), *g1 = malloc(B * V * sizeof *g1), *g2 = malloc(B * V * sizeof *g2);
  float lp1[B], lp2[B], h1[B], h2[B], gl[B], ge[B];
  int64_t y[B];
  for (int i = 0; i < B * V; i++) z[i] = (float)(3 * nrand());
  for (int r = 0; r < B; r++) { y[r] = r == 2 ? -100 : (int64_t)(urand() * V); gl[r] = (float)nrand(); ge[r] = (float)nrand(); }
  ds_rl_logprob_args_t a = {B, V, z, y, 1.3, gl, ge, 1};
  ASSERT_TRUE(ds_rl_logprob_batch(&a, lp1, h1, g1) == 0);
  ASSERT_TRUE(ds_rl_logprob_batch_cuda(&a, lp2, h2, g2) == 0);
  double e2 = 0, r2 = 0;
  for (int i = 0; i < B * V; i++) { e2 += ((double)g1[i] - g2[i]) * ((double)g1[i] - g2[i]); r2 += (double)g1[i] * g1[i]; }
  ASSERT_LE(e2 / r2, 1e-10);
  for (int r = 0; r < B; r++) {
    ASSERT_NEAR(lp2[r], lp1[r], 2e-5 * (1 + fabs(lp1[r])));
    ASSERT_NEAR(h2[r], h1[r], 2e-5 * (1 + fabs(h1[r])));
  }
  int64_t bad[B];
  memcpy(bad, y, sizeof bad);
  bad[0] = V;
  a.labels = bad;
  ASSERT_TRUE(ds_rl_logprob_batch_cuda(&a, lp2, h2, g2) == DS_EINVAL);

  snprintf(ctx, sizeof ctx, "rl ppo/kl");
  double *lp = malloc(N * sizeof *lp), *old = malloc(N * sizeof *old), *adv = malloc(N * sizeof *adv);
  double *l1 = malloc(N * sizeof *l1), *l2 = malloc(N * sizeof *l2), *d1 = malloc(N * sizeof *d1), *d2 = malloc(N * sizeof *d2);
  uint8_t *m = malloc(N);
  for (int i = 0; i < N; i++) {
    lp[i] = -3 + nrand(); old[i] = lp[i] + 0.4 * nrand() * (i % 97 == 0 ? 100 : 1); adv[i] = nrand(); m[i] = i % 5 != 0;
  }
  ds_rl_ppo_t p = {0.2, 0.28, 3.0, 20.0};
  double cf1, cf2;
  ASSERT_TRUE(ds_rl_ppo_batch(&p, N, lp, old, adv, m, l1, d1, &cf1) == 0);
  ASSERT_TRUE(ds_rl_ppo_batch_cuda(&p, N, lp, old, adv, m, l2, d2, &cf2) == 0);
  ASSERT_TRUE(cf1 == cf2);
  for (int i = 0; i < N; i++) {
    ASSERT_NEAR(l2[i], l1[i], 1e-13 * (1 + fabs(l1[i])));
    ASSERT_NEAR(d2[i], d1[i], 1e-13 * (1 + fabs(d1[i])));
  }
  for (int k = DS_RL_KL_K1; k <= DS_RL_KL_K3_ST; k++) {
    ASSERT_TRUE(ds_rl_kl_batch((ds_rl_kl_t)k, N, lp, old, l1, d1) == 0);
    ASSERT_TRUE(ds_rl_kl_batch_cuda((ds_rl_kl_t)k, N, lp, old, l2, d2) == 0);
    for (int i = 0; i < N; i++) {
      ASSERT_NEAR(l2[i], l1[i], 1e-13 * (1 + fabs(l1[i])));
      ASSERT_NEAR(d2[i], d1[i], 1e-13 * (1 + fabs(d1[i])));
    }
  }
  free(z); free(g1); free(g2); free(lp); free(old); free(adv); free(l1); free(l2); free(d1); free(d2); free(m);
}

static void test_device_api_rejects_bad_indices_and_names_the_gpu(int ndev) {
  snprintf(ctx, sizeof ctx, "device api");
  char name[128];
  ASSERT_TRUE(ds_kern_cuda_bind(ndev) == DS_EINVAL);
  ASSERT_TRUE(ds_kern_cuda_bind(-1) == DS_EINVAL);
  ASSERT_TRUE(ds_kern_cuda_bind(0) == 0);
  ASSERT_TRUE(ds_kern_cuda_device_name(0, name, sizeof name) == 0 && name[0] != '\0');
  printf("device 0: %s (%d device(s))\n", name, ndev);
}

int main(void) {
  ds_test_ctx = ctx;
  const ds_backend_t *cu = ds_kern_backend_get("cuda");
  int ndev = ds_kern_cuda_device_count();
  snprintf(ctx, sizeof ctx, "availability");
  /* The registry and the device count agree, and nothing crashes without a device. */
  ASSERT_TRUE((cu != NULL) == (ndev > 0));
  if (!cu) {
    char name[8] = "x";
    float lp;
    int64_t y = 0;
    float z = 0;
    ds_rl_logprob_args_t a = {1, 1, &z, &y, 1.0, NULL, NULL, 1};
    ASSERT_TRUE(ds_kern_cuda_bind(0) != 0);
    ASSERT_TRUE(ds_kern_cuda_device_name(0, name, sizeof name) != 0 && name[0] == '\0');
    ASSERT_TRUE(ds_kern_cuda_alloc(64) == NULL);
    ASSERT_TRUE(ds_rl_logprob_batch_cuda(&a, &lp, NULL, NULL) != 0);
    if (ds_test_failures) return 1;
    printf("test_cuda: no usable CUDA device (%d checks of the unavailable path passed): skipped\n", ds_test_checks);
    return 77;
  }
  test_device_api_rejects_bad_indices_and_names_the_gpu(ndev);
  test_cuda_backend_matches_the_reference_for_every_divergence(cu);
  test_cuda_rl_kernels_match_the_cpu_ones();
  printf("test_cuda: %d checks, %d failed\n", ds_test_checks, ds_test_failures);
  return ds_test_failures ? 1 : 0;
}
