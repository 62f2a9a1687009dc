/* rl.cu — CUDA versions of the batched RL kernels of ds_rl.h: token log-prob/entropy (with the
 * vector–Jacobian product), the PPO clipped surrogate and the KL estimators, per token.
 *
 * logprob_rows: one block per row, layout [rows][vocab] C order, fp32 logits in, fp32 outputs;
 *   an online max/sum read gives LSE (double row sums), a read gives H = −Σ π log π (double), and a
 *   read writes grad_j = g_logp·(1[j=y] − π_j)/T − g_ent·π_j (log π_j + H)/T — rl_cpu.c's formulas
 *   with fp32 element maths.
 * ppo/kl: one thread per token, double throughout, the same branches as rl_ref.c (so the results
 *   equal the reference up to exp/log rounding); clip_frac counts in integers (deterministic).
 * Pointers may be host or device memory, independently; every call synchronises before returning.
 */
#include <math.h>
#include <stdlib.h>
#include "ds__cuda.cuh"
extern "C" {
#include "ds_rl.h"
}

#define NT 512

__global__ void __launch_bounds__(NT) logprob_rows(size_t V, const float *z, const int64_t *labels, float invT,
                                                   const float *g_logp, const float *g_ent, float *logp,
                                                   float *entropy, float *grad) {
  __shared__ double sh[32];
  const size_t r = blockIdx.x, rb = r * V;
  ds__lse a = {-INFINITY, 0.0f};
  for (size_t i = threadIdx.x; i < V; i += NT) ds__lse_add(a, z[rb + i] * invT);
  float m;
  double l;
  ds__lse_block(a, sh, &m, &l);
  const float fl = (float)l;
  double H = 0.0;
  for (size_t i = threadIdx.x; i < V; i += NT) {
    float lp = fmaf(z[rb + i], invT, -m) - fl;
    if (lp > -INFINITY) H -= (double)expf(lp) * lp;
  }
  H = ds__block_sum(H, sh);
  const int64_t y = labels[r];
  if (threadIdx.x == 0) {
    if (logp) logp[r] = y >= 0 ? fmaf(z[rb + y], invT, -m) - fl : 0.0f;
    if (entropy) entropy[r] = (float)H;
  }
  if (grad) {
    const float gl = (g_logp && y >= 0) ? g_logp[r] : 0.0f, ge = g_ent ? g_ent[r] : 0.0f, fH = (float)H;
    for (size_t i = threadIdx.x; i < V; i += NT) {
      float lp = fmaf(z[rb + i], invT, -m) - fl, p = expf(lp);
      float d = gl * (((int64_t)i == y ? 1.0f : 0.0f) - p);
      if (p > 0.0f) d -= ge * p * (lp + fH);
      grad[rb + i] = d * invT;
    }
  }
}

__global__ void ppo_tokens(ds_rl_ppo_t p, size_t n, const double *logp, const double *old_logp,
                           const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                           unsigned long long *counts) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double lr = logp[i] - old_logp[i], A = adv[i];
  int clamped = 0;
  if (p.log_ratio_max > 0) {
    if (lr > p.log_ratio_max) { lr = p.log_ratio_max; clamped = 1; }
    else if (lr < -p.log_ratio_max) { lr = -p.log_ratio_max; clamped = 1; }
  }
  double rho = exp(lr);
  double rc = fmin(fmax(rho, 1.0 - p.eps_low), 1.0 + p.eps_high);
  double L = fmax(-rho * A, -rc * A);
  int cut = !(rc * A >= rho * A);
  if (A < 0 && p.clip_c > 1.0) {
    double l_dual = -p.clip_c * A;
    if (l_dual < L) { L = l_dual; cut = 1; }
  }
  if (loss) loss[i] = L;
  if (dlogp) dlogp[i] = (cut || clamped) ? 0.0 : -rho * A;
  if (counts && (!mask || mask[i])) {
    atomicAdd(&counts[0], 1ull);
    if (cut) atomicAdd(&counts[1], 1ull);
  }
}

__global__ void kl_tokens(int kind, size_t n, const double *logp, const double *ref_logp, double *value,
                          double *dlogp) {
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double lr = logp[i] - ref_logp[i], v, g;
  if (kind == DS_RL_KL_K3 || kind == DS_RL_KL_K3_ST) {
    double dd = ref_logp[i] - logp[i];
    int cut = 0;
    if (dd > 20) { dd = 20; cut = 1; }
    else if (dd < -20) { dd = -20; cut = 1; }
    double e = exp(dd);
    v = e - dd - 1.0;
    if (v > 10) { v = 10; cut = 1; }
    g = kind == DS_RL_KL_K3_ST ? lr : (cut ? 0.0 : 1.0 - e);
  } else if (kind == DS_RL_KL_K1) { v = lr; g = 1.0; }
  else if (kind == DS_RL_KL_K2) { v = 0.5 * lr * lr; g = lr; }
  else if (kind == DS_RL_KL_ABS) { v = fabs(lr); g = lr > 0 ? 1.0 : (lr < 0 ? -1.0 : 0.0); }
  else { v = lr; g = lr; } /* k1+ */
  if (value) value[i] = v;
  if (dlogp) dlogp[i] = g;
}

/* Staging of one caller buffer (see div.cu). */
typedef struct buf {
  void *dev, *own;
  void *host; /* output to copy back to, when the caller's buffer is host memory */
  size_t bytes;
} buf_t;

static int bin(buf_t *b, const void *p, size_t bytes, int in, cudaStream_t st) {
  int rc = 0;
  b->dev = b->own = b->host = NULL;
  b->bytes = bytes;
  if (!p) return 0;
  if (ds__cuda_is_device_ptr(p)) { b->dev = (void *)p; return 0; }
  DS_CU(cudaMallocAsync(&b->own, bytes ? bytes : 1, st));
  if (in && bytes) DS_CU(cudaMemcpyAsync(b->own, p, bytes, cudaMemcpyHostToDevice, st));
  else b->host = (void *)p;
  b->dev = b->own;
fail:
  return rc;
}

static int finish(buf_t *bs, int nb, cudaStream_t st, int rc) {
  for (int i = 0; i < nb && rc == 0; i++)
    if (bs[i].host && bs[i].bytes &&
        cudaMemcpyAsync(bs[i].host, bs[i].dev, bs[i].bytes, cudaMemcpyDeviceToHost, st) != cudaSuccess)
      rc = DS_EIO;
  for (int i = 0; i < nb; i++)
    if (bs[i].own) (void)cudaFreeAsync(bs[i].own, st);
  if (cudaStreamSynchronize(st) != cudaSuccess && rc == 0) rc = DS_EIO;
  (void)cudaGetLastError();
  return rc;
}

extern "C" int ds_rl_logprob_batch_cuda(const ds_rl_logprob_args_t *a, float *logp, float *entropy, float *grad) {
  if (!a || !a->logits || !a->labels || a->vocab == 0 || !(a->temperature > 0)) return DS_EINVAL;
  if (a->rows > 0x7fffffffu) return DS_EUNSUP;
  if (a->rows == 0) return 0;
  int rc = ds__cuda_make_current();
  if (rc) return rc;
  const size_t B = a->rows, V = a->vocab;
  cudaStream_t st = cudaStreamPerThread;
  buf_t bs[7];
  int nb = 0;
  int64_t *hl = (int64_t *)malloc(B * sizeof *hl);
  if (!hl) return DS_ENOMEM;
  /* Labels are checked on the host (an out-of-range label would read past the row). */
  if (cudaMemcpy(hl, a->labels, B * sizeof *hl, cudaMemcpyDefault) != cudaSuccess) {
    (void)cudaGetLastError();
    free(hl);
    return DS_EIO;
  }
  for (size_t r = 0; r < B; r++)
    if (hl[r] >= 0 && (uint64_t)hl[r] >= V) { free(hl); return DS_EINVAL; }
  free(hl);
  if ((rc = bin(&bs[nb++], a->logits, B * V * sizeof(float), 1, st)) ||
      (rc = bin(&bs[nb++], a->labels, B * sizeof(int64_t), 1, st)) ||
      (rc = bin(&bs[nb++], a->g_logp, B * sizeof(float), 1, st)) ||
      (rc = bin(&bs[nb++], a->g_ent, B * sizeof(float), 1, st)) ||
      (rc = bin(&bs[nb++], logp, B * sizeof(float), 0, st)) ||
      (rc = bin(&bs[nb++], entropy, B * sizeof(float), 0, st)) ||
      (rc = bin(&bs[nb++], grad, B * V * sizeof(float), 0, st)))
    return finish(bs, nb, st, rc);
  logprob_rows<<<(unsigned)B, NT, 0, st>>>(V, (const float *)bs[0].dev, (const int64_t *)bs[1].dev,
                                           (float)(1.0 / a->temperature), (const float *)bs[2].dev,
                                           (const float *)bs[3].dev, (float *)bs[4].dev, (float *)bs[5].dev,
                                           (float *)bs[6].dev);
  if (cudaGetLastError() != cudaSuccess) rc = DS_EIO;
  return finish(bs, nb, st, rc);
}

extern "C" int ds_rl_ppo_batch_cuda(const ds_rl_ppo_t *p, size_t n, const double *logp, const double *old_logp,
                                    const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                                    double *clip_frac) {
  if (!p || (n && (!logp || !old_logp || !adv))) return DS_EINVAL;
  if (n == 0) { if (clip_frac) *clip_frac = 0; return 0; }
  int rc = ds__cuda_make_current();
  if (rc) return rc;
  cudaStream_t st = cudaStreamPerThread;
  buf_t bs[7];
  int nb = 0;
  unsigned long long hc[2] = {0, 0};
  if ((rc = bin(&bs[nb++], logp, n * 8, 1, st)) || (rc = bin(&bs[nb++], old_logp, n * 8, 1, st)) ||
      (rc = bin(&bs[nb++], adv, n * 8, 1, st)) || (rc = bin(&bs[nb++], mask, n, 1, st)) ||
      (rc = bin(&bs[nb++], loss, n * 8, 0, st)) || (rc = bin(&bs[nb++], dlogp, n * 8, 0, st)) ||
      (rc = bin(&bs[nb++], hc, sizeof hc, 1, st)))
    return finish(bs, nb, st, rc);
  bs[6].host = hc; /* the counts come back too */
  ppo_tokens<<<(unsigned)((n + 255) / 256), 256, 0, st>>>(*p, n, (const double *)bs[0].dev, (const double *)bs[1].dev,
                                                        (const double *)bs[2].dev, (const uint8_t *)bs[3].dev,
                                                        (double *)bs[4].dev, (double *)bs[5].dev,
                                                        (unsigned long long *)bs[6].dev);
  if (cudaGetLastError() != cudaSuccess) rc = DS_EIO;
  rc = finish(bs, nb, st, rc);
  if (!rc && clip_frac) *clip_frac = hc[0] ? (double)hc[1] / (double)hc[0] : 0.0;
  return rc;
}

extern "C" int ds_rl_kl_batch_cuda(ds_rl_kl_t kind, size_t n, const double *logp, const double *ref_logp,
                                   double *value, double *dlogp) {
  if (kind < DS_RL_KL_K1 || kind > DS_RL_KL_K3_ST || (n && (!logp || !ref_logp))) return DS_EINVAL;
  if (n == 0) return 0;
  int rc = ds__cuda_make_current();
  if (rc) return rc;
  cudaStream_t st = cudaStreamPerThread;
  buf_t bs[4];
  int nb = 0;
  if ((rc = bin(&bs[nb++], logp, n * 8, 1, st)) || (rc = bin(&bs[nb++], ref_logp, n * 8, 1, st)) ||
      (rc = bin(&bs[nb++], value, n * 8, 0, st)) || (rc = bin(&bs[nb++], dlogp, n * 8, 0, st)))
    return finish(bs, nb, st, rc);
  kl_tokens<<<(unsigned)((n + 255) / 256), 256, 0, st>>>((int)kind, n, (const double *)bs[0].dev,
                                                       (const double *)bs[1].dev, (double *)bs[2].dev,
                                                       (double *)bs[3].dev);
  if (cudaGetLastError() != cudaSuccess) rc = DS_EIO;
  return finish(bs, nb, st, rc);
}
