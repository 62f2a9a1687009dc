/* div.cu — the "cuda" divergence backend (fused forward+backward, one thread block per row) and
 * the device API of ds_kernels.h (ds_kern_cuda_*).
 *
 * Kernel (div_rows<K>): layout [rows][vocab] C order, fp32 or bf16 logits in, fp32 gradient out,
 * fp32 element maths (expf/logf, no fast-math) with per-thread double accumulators folded by warp
 * shuffles into double row sums.  Per row, mirroring cpu_impl.h formula for formula:
 *   stats:  online max/sum of t/T_t and s/T_s in one read of both rows → (M, log Σ e^{x−M});
 *           log p = t/T_t − M_t − lsum_t, log q likewise (one rounding of a small number);
 *   fkl:    Σh = −1, so one more read writes g = gscale·(q − p) and sums the loss (2 reads, 1 write);
 *   others: a read for (loss, H = Σh), then a read that writes g = gscale·(h − q·H), recomputing h
 *           (3 reads, 1 write);
 *   renyi/amari: an LSE read over α log p + (1−α) log q, then the gradient read (as the CPU);
 *   cs:     one read for the three LSEs (pq, pp, qq); H = 0 in closed form, then the gradient read.
 * Mixtures: geometric and arithmetic teachers are materialised first into an fp32 [rows][vocab]
 * device scratch (averaged logits / mixed log-probs), "loss" runs the row kernel once per teacher
 * accumulating loss and gradient.  w1 and sinkhorn (and mixtures of more than 64 teachers) run the double reference on the host: ds_kern_supports() says 0 ("fallback") for them.
 *
 * Pointers: teacher, student, grad, row_loss and row_mask may each be host or device memory; host
 * buffers are staged through stream-ordered device allocations.  The row losses always come back
 * to the host and are summed there in row order, so the reduced loss is deterministic.
 * Invariants: no state outlives a call except the bound device index (set once at start-up by
 * ds_kern_cuda_bind) and the one-time availability probe.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ds__cuda.cuh"
extern "C" {
#include "ds__backend.h"
}

#define NT 512 /* threads per row block: 16 warps keep enough loads in flight per SM */

/* ---- Device API -------------------------------------------------------------------------- */

static int bound_dev = 0;
extern "C" int ds_kern_cuda_device_count(void);

extern "C" int ds_kern_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

extern "C" int ds_kern_cuda_bind(int device) {
  int n = ds_kern_cuda_device_count();
  if (n <= 0) return DS_EUNSUP;
  if (device < 0 || device >= n) return DS_EINVAL;
  if (cudaSetDevice(device) != cudaSuccess) {
    (void)cudaGetLastError();
    return DS_EIO;
  }
  bound_dev = device;
  return 0;
}

extern "C" int ds_kern_cuda_device_name(int device, char *buf, size_t len) {
  cudaDeviceProp prop;
  if (!buf || len == 0) return DS_EINVAL;
  buf[0] = '\0';
  if (ds_kern_cuda_device_count() <= device || device < 0) return DS_EUNSUP;
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return DS_EIO;
  }
  snprintf(buf, len, "%s", prop.name);
  return 0;
}

extern "C" void *ds_kern_cuda_alloc(size_t bytes) {
  void *p = NULL;
  if (ds__cuda_make_current() != 0) return NULL;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  return p;
}

extern "C" void ds_kern_cuda_free(void *p) {
  if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

extern "C" int ds_kern_cuda_copy(void *dst, const void *src, size_t bytes) {
  int rc = 0;
  if (bytes == 0) return 0;
  if ((rc = ds__cuda_make_current()) != 0) return rc;
  DS_CU(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
fail:
  return rc;
}

extern "C" int ds__cuda_make_current(void) {
  if (ds_kern_cuda_device_count() <= 0) return DS_EUNSUP;
  if (cudaSetDevice(bound_dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return DS_EIO;
  }
  return 0;
}

extern "C" int ds__cuda_is_device_ptr(const void *p) {
  cudaPointerAttributes at;
  if (!p) return 0;
  if (cudaPointerGetAttributes(&at, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return at.type == cudaMemoryTypeDevice || at.type == cudaMemoryTypeManaged;
}

/* ---- Row kernels ------------------------------------------------------------------------- */

typedef struct kp {
  size_t V;
  const void *t, *s; /* row 0 of teacher (or mixed teacher) and student */
  int t_bf16, s_bf16;
  float inv_tt, inv_ts;
  float beta, alpha, w, c1; /* jsd, skl/srkl/renyi/amari, wmix; c1 = 1 − (beta|alpha|w) */
  int ab_case;              /* ab: 0 generic, 1 α=0, 2 β=0, 3 α=−β, 4 α=β=0 */
  float ab_a, ab_b;
  double alpha_d;           /* renyi/amari constants in double */
  float *grad;              /* row 0 of the gradient, or NULL */
  double gscale;            /* reduction · t2 · weight / T_s */
  int accumulate;           /* add into grad and row_loss (loss-averaged mixtures) */
  double *row_loss;         /* [rows] device */
  double loss_scale;        /* t2 · weight */
  const uint8_t *mask;      /* device [rows] or NULL */
} kp_t;

static __device__ __forceinline__ float xlogr(float x, float a, float b) { return x > 0.0f ? x * (a - b) : 0.0f; }

/* Per-element loss term and h (kernels.md §1.2, h up to c·q) for divergence K; q = e^{log q}. */
template <int K>
static __device__ __forceinline__ void elem(const kp_t &P, float lp, float lq, float &loss, float &h, float &q) {
  q = expf(lq);
  switch (K) {
    case DS_DIV_FKL: {
      float p = expf(lp);
      loss = xlogr(p, lp, lq);
      h = -p;
      break;
    }
    case DS_DIV_RKL: {
      loss = h = xlogr(q, lq, lp);
      break;
    }
    case DS_DIV_JSD: { /* m = βp + (1−β)q; h = (1−β) q log(q/m) */
      float p = expf(lp), lm = logf(fmaf(P.beta, p, P.c1 * q));
      float b = xlogr(q, lq, lm);
      loss = fmaf(P.beta, xlogr(p, lp, lm), P.c1 * b);
      h = P.c1 * b;
      break;
    }
    case DS_DIV_SKL: { /* m = αp + (1−α)q; loss p log(p/m); h = −(1−α) p q / m */
      float p = expf(lp), m = fmaf(P.alpha, p, P.c1 * q);
      loss = xlogr(p, lp, logf(m));
      h = m > 0.0f ? -P.c1 * p * q / m : 0.0f;
      break;
    }
    case DS_DIV_SRKL: { /* m = (1−α)p + αq; loss q log(q/m); h = q (log(q/m) − α q/m) */
      float p = expf(lp), m = fmaf(P.c1, p, P.alpha * q), lr = lq - logf(m);
      loss = q > 0.0f ? q * lr : 0.0f;
      h = q > 0.0f ? q * (lr - P.alpha * q / m) : 0.0f;
      break;
    }
    case DS_DIV_TVD: { /* ½|p − q|; h = ½ q sign(q − p) */
      float p = expf(lp), d = q - p;
      loss = 0.5f * fabsf(d);
      h = d > 0.0f ? 0.5f * q : (d < 0.0f ? -0.5f * q : 0.0f);
      break;
    }
    case DS_DIV_HELLINGER: { /* −√(pq) (+1 per row); h = −½√(pq) */
      float r = expf(0.5f * (lp + lq));
      loss = -r;
      h = -0.5f * r;
      break;
    }
    case DS_DIV_CHI2: { /* p²/q (−1 per row); h = −p²/q */
      float r = expf(2.0f * lp - lq);
      loss = r;
      h = -r;
      break;
    }
    case DS_DIV_CHI2N: { /* q²/p (−1 per row); h = 2q²/p */
      float r = expf(2.0f * lq - lp);
      loss = r;
      h = 2.0f * r;
      break;
    }
    case DS_DIV_WMIX: { /* w p log(p/q) + (1−w) q log(q/p); h = −w p + (1−w) q log(q/p) */
      float p = expf(lp), r = xlogr(q, lq, lp);
      loss = fmaf(P.w, xlogr(p, lp, lq), P.c1 * r);
      h = fmaf(-P.w, p, P.c1 * r);
      break;
    }
    case DS_DIV_AB: { /* ref.c ab_div, case chosen on the host; h = ∂D/∂log q */
      float a = P.ab_a, b = P.ab_b, x = lp, y = lq;
      switch (P.ab_case) {
        case 4: loss = 0.5f * (y - x) * (y - x); h = y - x; break;
        case 1: {
          float qb = expf(b * y), pb = expf(b * x);
          loss = (xlogr(qb, b * y, b * x) - qb + pb) / (b * b);
          h = xlogr(qb, y, x);
          break;
        }
        case 2: {
          float pa = expf(a * x), qa = expf(a * y);
          loss = (xlogr(pa, a * x, a * y) - pa + qa) / (a * a);
          h = (qa - pa) / a;
          break;
        }
        case 3: {
          float r = expf(a * (x - y));
          loss = (a * (y - x) + r - 1.0f) / (a * a);
          h = (1.0f - r) / a;
          break;
        }
        default: {
          float pq = expf(a * x + b * y), pab = expf((a + b) * x), qab = expf((a + b) * y);
          loss = -(pq - a / (a + b) * pab - b / (a + b) * qab) / (a * b);
          h = (qab - pq) / a;
          break;
        }
      }
      break;
    }
    default: { /* DS_DIV_ENTROPY: −q log q; h = −q log q */
      loss = h = q > 0.0f ? -q * lq : 0.0f;
      break;
    }
  }
}

static __device__ __forceinline__ void put(float *g, size_t i, float x, int acc) { g[i] = acc ? g[i] + x : x; }

template <int K>
__global__ void __launch_bounds__(NT) div_rows(kp_t P) {
  __shared__ double sh[32];
  const size_t r = blockIdx.x, V = P.V, rb = r * V;
  float *g = P.grad ? P.grad + rb : NULL;
  const int acc = P.accumulate;
  if (P.mask && !P.mask[r]) {
    if (threadIdx.x == 0 && !acc) P.row_loss[r] = 0;
    if (g && !acc)
      for (size_t i = threadIdx.x; i < V; i += NT) g[i] = 0.0f;
    return;
  }
  const int ent = K == DS_DIV_ENTROPY;
  ds__lse at = {-INFINITY, 0.0f}, as = {-INFINITY, 0.0f};
  for (size_t i = threadIdx.x; i < V; i += NT) {
    if (!ent) ds__lse_add(at, ds__ld(P.t, rb + i, P.t_bf16) * P.inv_tt);
    ds__lse_add(as, ds__ld(P.s, rb + i, P.s_bf16) * P.inv_ts);
  }
  float mt = 0.0f, ms;
  double lt = 0.0, ls;
  if (!ent) ds__lse_block(at, sh, &mt, &lt);
  ds__lse_block(as, sh, &ms, &ls);
  const float flt = (float)lt, fls = (float)ls;
#define LP(i) (ent ? 0.0f : fmaf(ds__ld(P.t, rb + (i), P.t_bf16), P.inv_tt, -mt) - flt)
#define LQ(i) (fmaf(ds__ld(P.s, rb + (i), P.s_bf16), P.inv_ts, -ms) - fls)
  double loss = 0.0;
  if (K == DS_DIV_RENYI || K == DS_DIV_AMARI) {
    const float a = P.alpha, b = 1.0f - P.alpha;
    ds__lse aw = {-INFINITY, 0.0f};
    for (size_t i = threadIdx.x; i < V; i += NT) ds__lse_add(aw, fmaf(a, LP(i), b * LQ(i)));
    float mw;
    double lw;
    ds__lse_block(aw, sh, &mw, &lw);
    const double lS = (double)mw + lw, A = exp(lS);
    loss = K == DS_DIV_RENYI ? lS / (P.alpha_d - 1.0) : (1.0 - A) / (P.alpha_d * (1.0 - P.alpha_d));
    if (g) {
      const float gsc = (float)(K == DS_DIV_RENYI ? P.gscale : P.gscale * A / P.alpha_d), nlS = (float)-lS;
      for (size_t i = threadIdx.x; i < V; i += NT) {
        float lp = LP(i), lq = LQ(i);
        put(g, i, gsc * (expf(lq) - expf(fmaf(a, lp, b * lq) + nlS)), acc);
      }
    }
  } else if (K == DS_DIV_CS) {
    ds__lse a1 = {-INFINITY, 0.0f}, a2 = {-INFINITY, 0.0f}, a3 = {-INFINITY, 0.0f};
    for (size_t i = threadIdx.x; i < V; i += NT) {
      float lp = LP(i), lq = LQ(i);
      ds__lse_add(a1, lp + lq);
      ds__lse_add(a2, 2.0f * lp);
      ds__lse_add(a3, 2.0f * lq);
    }
    float m1, m2, m3;
    double l1, l2, l3;
    ds__lse_block(a1, sh, &m1, &l1);
    ds__lse_block(a2, sh, &m2, &l2);
    ds__lse_block(a3, sh, &m3, &l3);
    const double lpq = m1 + l1, lpp = m2 + l2, lqq = m3 + l3;
    loss = -lpq + 0.5 * lpp + 0.5 * lqq;
    if (g) { /* H = Σ q²/Σq² − Σ pq/Σpq = 0 */
      const float gs = (float)P.gscale, flqq = (float)lqq, flpq = (float)lpq;
      for (size_t i = threadIdx.x; i < V; i += NT) {
        float lp = LP(i), lq = LQ(i);
        put(g, i, gs * (expf(2.0f * lq - flqq) - expf(lp + lq - flpq)), acc);
      }
    }
  } else if (K == DS_DIV_FKL) {
    const float gs = (float)P.gscale;
    for (size_t i = threadIdx.x; i < V; i += NT) {
      float lp = LP(i), lq = LQ(i), p = expf(lp), q = expf(lq);
      loss += xlogr(p, lp, lq);
      if (g) put(g, i, gs * (q - p), acc);
    }
    loss = ds__block_sum(loss, sh);
  } else {
    double H = 0.0;
    for (size_t i = threadIdx.x; i < V; i += NT) {
      float l, h, q;
      elem<K>(P, LP(i), LQ(i), l, h, q);
      loss += l;
      H += h;
    }
    loss = ds__block_sum(loss, sh);
    H = ds__block_sum(H, sh);
    if (K == DS_DIV_HELLINGER) loss += 1.0;
    if (K == DS_DIV_CHI2 || K == DS_DIV_CHI2N) loss -= 1.0;
    if (g) {
      const float gs = (float)P.gscale, fH = (float)H;
      for (size_t i = threadIdx.x; i < V; i += NT) {
        float l, h, q;
        elem<K>(P, LP(i), LQ(i), l, h, q);
        put(g, i, gs * (h - q * fH), acc);
      }
    }
  }
#undef LP
#undef LQ
  if (threadIdx.x == 0) P.row_loss[r] = (acc ? P.row_loss[r] : 0.0) + P.loss_scale * loss;
}

/* Geometric mixture: out = Σ_k w_k t_k (averaged logits; the kernel keeps 1/T_t). */
__global__ void __launch_bounds__(NT) mix_geometric(size_t V, int K, const void *const *t, int bf16,
                                                    const double *w, float *out) {
  const size_t rb = (size_t)blockIdx.x * V;
  for (size_t i = threadIdx.x; i < V; i += NT) {
    float s = 0.0f;
    for (int k = 0; k < K; k++)
      if (w[k] != 0.0) s += (float)w[k] * ds__ld(t[k], rb + i, bf16);
    out[rb + i] = s;
  }
}

/* Arithmetic mixture: out = log Σ_k w_k p_k = LSE_k(log w_k + t_k/T_t − LSE(t_k/T_t)), K ≤ 64. */
__global__ void __launch_bounds__(NT) mix_arithmetic(size_t V, int K, const void *const *t, int bf16,
                                                     const double *w, float inv_tt, float *out) {
  __shared__ double sh[32];
  __shared__ float off[64]; /* log w_k − LSE_k */
  const size_t rb = (size_t)blockIdx.x * V;
  for (int k = 0; k < K; k++) {
    if (!(w[k] > 0.0)) continue;
    ds__lse a = {-INFINITY, 0.0f};
    for (size_t i = threadIdx.x; i < V; i += NT) ds__lse_add(a, ds__ld(t[k], rb + i, bf16) * inv_tt);
    float m;
    double l;
    ds__lse_block(a, sh, &m, &l);
    if (threadIdx.x == 0) off[k] = (float)(log(w[k]) - ((double)m + l));
  }
  __syncthreads();
  for (size_t i = threadIdx.x; i < V; i += NT) {
    float m = -INFINITY, x[64];
    for (int k = 0; k < K; k++) {
      x[k] = w[k] > 0.0 ? fmaf(ds__ld(t[k], rb + i, bf16), inv_tt, off[k]) : -INFINITY;
      m = fmaxf(m, x[k]);
    }
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += expf(x[k] - m);
    out[rb + i] = m + logf(s);
  }
}

/* ---- Host side --------------------------------------------------------------------------- */

static int fast_kind(ds_div_kind_t k) { return k != DS_DIV_W1 && k != DS_DIV_SINKHORN; }

static int cuda_supports(const ds_backend_t *be, const ds_kern_args_t *a) {
  (void)be;
  if (DS__SINKHORN_TOO_BIG(a)) return DS_EUNSUP;
  if (a->rows > 0x7fffffffu) return DS_EUNSUP; /* one block per row */
  if (!fast_kind(a->div->kind)) return 0;
  if (a->n_teachers > 64) return 0; /* more teachers than the staging arrays hold */
  return 1;
}

static void bf16_to_f32(const uint16_t *in, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u = (uint32_t)in[i] << 16;
    memcpy(&out[i], &u, sizeof u);
  }
}

/* Host copy (fp32) of an input that may live on the device or be bf16; *own is set when the copy
 * must be freed. */
static int host_f32(const void *p, size_t n, int bf16, const float **out, float **own) {
  int rc = 0, dev = ds__cuda_is_device_ptr(p);
  void *tmp = NULL;
  *own = NULL;
  if (!dev && !bf16) { *out = (const float *)p; return 0; }
  float *f = (float *)malloc((n ? n : 1) * sizeof *f);
  if (!f) return DS_ENOMEM;
  if (dev) {
    tmp = malloc((n ? n : 1) * (bf16 ? 2 : 4));
    if (!tmp) { rc = DS_ENOMEM; goto fail; }
    DS_CU(cudaMemcpy(tmp, p, n * (bf16 ? 2 : 4), cudaMemcpyDeviceToHost));
    p = tmp;
  }
  if (bf16) bf16_to_f32((const uint16_t *)p, f, n);
  else memcpy(f, p, n * sizeof *f);
  free(tmp);
  *out = *own = f;
  return 0;
fail:
  free(tmp);
  free(f);
  return rc;
}

/* w1, sinkhorn, and K > 64 arithmetic mixtures: the double reference on the host (threaded by
 * the shared row driver), with inputs and outputs moved as needed. */
static int host_fallback(const ds_kern_args_t *a, ds_kern_out_t *out) {
  size_t B = a->rows, V = a->vocab, n = B * V, K = a->n_teachers;
  int bf16 = a->dtype == DS_DTYPE_BF16, rc = 0;
  const float **T = (const float **)calloc(K ? K : 1, sizeof *T);
  float **Town = (float **)calloc(K ? K : 1, sizeof *Town), *Sown = NULL, *G = NULL;
  double *RL = NULL;
  uint8_t *M = NULL;
  const float *S = NULL;
  ds_kern_args_t h = *a;
  ds_kern_out_t ho = {0, NULL, NULL};
  if (!T || !Town) { rc = DS_ENOMEM; goto fail; }
  for (size_t k = 0; k < K; k++)
    if ((rc = host_f32(a->teacher[k], n, bf16, &T[k], &Town[k])) != 0) goto fail;
  if ((rc = host_f32(a->student, n, bf16, &S, &Sown)) != 0) goto fail;
  if (a->row_mask && ds__cuda_is_device_ptr(a->row_mask)) {
    if (!(M = (uint8_t *)malloc(B ? B : 1))) { rc = DS_ENOMEM; goto fail; }
    DS_CU(cudaMemcpy(M, a->row_mask, B, cudaMemcpyDeviceToHost));
    h.row_mask = M;
  }
  ho.grad = out->grad;
  if (out->grad && ds__cuda_is_device_ptr(out->grad) && !(ho.grad = G = (float *)malloc((n ? n : 1) * sizeof *G))) {
    rc = DS_ENOMEM;
    goto fail;
  }
  ho.row_loss = out->row_loss;
  if (out->row_loss && ds__cuda_is_device_ptr(out->row_loss) &&
      !(ho.row_loss = RL = (double *)malloc((B ? B : 1) * sizeof *RL))) {
    rc = DS_ENOMEM;
    goto fail;
  }
  h.teacher = T;
  h.student = S;
  h.dtype = DS_DTYPE_F32;
  if ((rc = ds__kern_run_rows(&ds__backend_ref, &h, &ho, ds__kern_ref_row, ds__ref_row_scratch(&h))) != 0) goto fail;
  if (G) DS_CU(cudaMemcpy(out->grad, G, n * sizeof *G, cudaMemcpyHostToDevice));
  if (RL) DS_CU(cudaMemcpy(out->row_loss, RL, B * sizeof *RL, cudaMemcpyHostToDevice));
  out->loss = ho.loss;
fail:
  for (size_t k = 0; Town && k < K; k++) free(Town[k]);
  free(T); free(Town); free(Sown); free(G); free(RL); free(M);
  return rc;
}

template <int K>
static void launch(size_t B, const kp_t &P, cudaStream_t st) {
  div_rows<K><<<(unsigned)B, NT, 0, st>>>(P);
}

static void launch_kind(ds_div_kind_t k, size_t B, const kp_t &P, cudaStream_t st) {
  switch (k) {
    case DS_DIV_FKL: launch<DS_DIV_FKL>(B, P, st); break;
    case DS_DIV_RKL: launch<DS_DIV_RKL>(B, P, st); break;
    case DS_DIV_JSD: launch<DS_DIV_JSD>(B, P, st); break;
    case DS_DIV_SKL: launch<DS_DIV_SKL>(B, P, st); break;
    case DS_DIV_SRKL: launch<DS_DIV_SRKL>(B, P, st); break;
    case DS_DIV_TVD: launch<DS_DIV_TVD>(B, P, st); break;
    case DS_DIV_HELLINGER: launch<DS_DIV_HELLINGER>(B, P, st); break;
    case DS_DIV_CHI2: launch<DS_DIV_CHI2>(B, P, st); break;
    case DS_DIV_CHI2N: launch<DS_DIV_CHI2N>(B, P, st); break;
    case DS_DIV_RENYI: launch<DS_DIV_RENYI>(B, P, st); break;
    case DS_DIV_AMARI: launch<DS_DIV_AMARI>(B, P, st); break;
    case DS_DIV_AB: launch<DS_DIV_AB>(B, P, st); break;
    case DS_DIV_CS: launch<DS_DIV_CS>(B, P, st); break;
    case DS_DIV_WMIX: launch<DS_DIV_WMIX>(B, P, st); break;
    default: launch<DS_DIV_ENTROPY>(B, P, st); break;
  }
}

/* A device view of a caller buffer: the buffer itself when it is device memory, else a
 * stream-ordered copy (copied in when `in`). */
static int stage(const void *p, size_t bytes, int in, cudaStream_t st, void **dev, void **own) {
  int rc = 0;
  *own = NULL;
  if (ds__cuda_is_device_ptr(p)) { *dev = (void *)p; return 0; }
  DS_CU(cudaMallocAsync(own, bytes ? bytes : 1, st));
  if (in && bytes) DS_CU(cudaMemcpyAsync(*own, p, bytes, cudaMemcpyHostToDevice, st));
  *dev = *own;
fail:
  return rc;
}

static int cuda_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out) {
  (void)be;
  const size_t B = a->rows, V = a->vocab, n = B * V, K = a->n_teachers;
  const ds_div_t *d = a->div;
  const int bf16 = a->dtype == DS_DTYPE_BF16, esz = bf16 ? 2 : 4;
  const int ent = d->kind == DS_DIV_ENTROPY || K == 0;
  cudaStream_t st = cudaStreamPerThread;
  int rc = 0;
  void *own[72] = {0}; /* every stream-ordered allocation of this call */
  int nown = 0;
  uint8_t *hmask = NULL;
  double *hrl = NULL;
  const void **dT = NULL;
  void *dS = NULL, *dG = NULL, *dM = NULL, *dRL = NULL;
  if (B == 0) { out->loss = 0; return 0; }
  if (!fast_kind(d->kind) || K > 64) return host_fallback(a, out);
  if ((rc = ds__cuda_make_current()) != 0) return rc;

  /* Row mask: the host needs it for the reduction, the kernel on the device. */
  size_t active = B;
  if (a->row_mask) {
    if (!(hmask = (uint8_t *)malloc(B))) { rc = DS_ENOMEM; goto fail; }
    DS_CU(cudaMemcpy(hmask, a->row_mask, B, cudaMemcpyDefault));
    active = 0;
    for (size_t r = 0; r < B; r++) active += hmask[r] != 0;
    if ((rc = stage(a->row_mask, B, 1, st, &dM, &own[nown])) != 0) goto fail;
    nown++;
  }
  {
    double act = active ? (double)active : 1.0;
    double red = a->reduction == DS_RED_BATCHMEAN ? 1.0 / act
               : a->reduction == DS_RED_MEAN ? 1.0 / (act * (double)V) : 1.0;
    double t2 = a->t2 ? a->t_student * a->t_student : 1.0;
    if ((rc = stage(a->student, n * esz, 1, st, &dS, &own[nown])) != 0) goto fail;
    nown++;
    if (!(dT = (const void **)calloc(K ? K : 1, sizeof *dT))) { rc = DS_ENOMEM; goto fail; }
    for (size_t k = 0; k < K && !ent; k++) {
      if (K > 1 && a->mix == DS_MIX_LOSS && a->weights[k] == 0) continue;
      void *p;
      if ((rc = stage(a->teacher[k], n * esz, 1, st, &p, &own[nown])) != 0) goto fail;
      nown++;
      dT[k] = p;
    }
    if (out->grad) {
      if ((rc = stage(out->grad, n * sizeof(float), 0, st, &dG, &own[nown])) != 0) goto fail;
      nown++;
    }
    DS_CU(cudaMallocAsync(&dRL, B * sizeof(double), st));
    own[nown++] = dRL;

    kp_t P;
    memset(&P, 0, sizeof P);
    P.V = V;
    P.s = dS;
    P.s_bf16 = P.t_bf16 = bf16;
    P.inv_tt = (float)(1.0 / a->t_teacher);
    P.inv_ts = (float)(1.0 / a->t_student);
    P.beta = (float)d->beta;
    P.alpha = (float)d->alpha;
    P.w = (float)d->w;
    P.alpha_d = d->alpha;
    P.c1 = (float)(d->kind == DS_DIV_JSD ? 1 - d->beta : d->kind == DS_DIV_WMIX ? 1 - d->w : 1 - d->alpha);
    if (d->kind == DS_DIV_AB) {
      const double tiny = 1e-12;
      int a0 = fabs(d->alpha) < tiny, b0 = fabs(d->beta) < tiny, s0 = fabs(d->alpha + d->beta) < tiny;
      P.ab_case = a0 && b0 ? 4 : a0 ? 1 : b0 ? 2 : s0 ? 3 : 0;
      P.ab_a = (float)d->alpha;
      P.ab_b = (float)d->beta;
    }
    P.grad = (float *)dG;
    P.row_loss = (double *)dRL;
    P.mask = (const uint8_t *)dM;
    P.gscale = red * t2 / a->t_student;
    P.loss_scale = t2;
    if (ent || K == 1) {
      P.t = ent ? dS : dT[0];
      launch_kind(d->kind, B, P, st);
    } else if (a->mix == DS_MIX_LOSS) {
      int first = 1;
      for (size_t k = 0; k < K; k++) {
        if (a->weights[k] == 0) continue;
        P.t = dT[k];
        P.gscale = red * t2 / a->t_student * a->weights[k];
        P.loss_scale = t2 * a->weights[k];
        P.accumulate = !first;
        launch_kind(d->kind, B, P, st);
        first = 0;
      }
      if (first) { /* every weight is zero: loss 0, gradient 0 */
        DS_CU(cudaMemsetAsync(dRL, 0, B * sizeof(double), st));
        if (dG) DS_CU(cudaMemsetAsync(dG, 0, n * sizeof(float), st));
      }
    } else {
      void *mixed, *dTp, *dW;
      DS_CU(cudaMallocAsync(&mixed, n * sizeof(float), st));
      own[nown++] = mixed;
      DS_CU(cudaMallocAsync(&dTp, K * sizeof(void *), st));
      own[nown++] = dTp;
      DS_CU(cudaMallocAsync(&dW, K * sizeof(double), st));
      own[nown++] = dW;
      DS_CU(cudaMemcpyAsync(dTp, dT, K * sizeof(void *), cudaMemcpyHostToDevice, st));
      DS_CU(cudaMemcpyAsync(dW, a->weights, K * sizeof(double), cudaMemcpyHostToDevice, st));
      if (a->mix == DS_MIX_GEOMETRIC) {
        mix_geometric<<<(unsigned)B, NT, 0, st>>>(V, (int)K, (const void *const *)dTp, bf16, (const double *)dW,
                                                  (float *)mixed);
      } else {
        mix_arithmetic<<<(unsigned)B, NT, 0, st>>>(V, (int)K, (const void *const *)dTp, bf16, (const double *)dW,
                                                   P.inv_tt, (float *)mixed);
        P.inv_tt = 1.0f;
      }
      P.t = mixed;
      P.t_bf16 = 0;
      launch_kind(d->kind, B, P, st);
    }
    DS_CU(cudaGetLastError());
    if (!(hrl = (double *)malloc(B * sizeof *hrl))) { rc = DS_ENOMEM; goto fail; }
    DS_CU(cudaMemcpyAsync(hrl, dRL, B * sizeof *hrl, cudaMemcpyDeviceToHost, st));
    if (dG && dG != out->grad) DS_CU(cudaMemcpyAsync(out->grad, dG, n * sizeof(float), cudaMemcpyDeviceToHost, st));
    DS_CU(cudaStreamSynchronize(st));
    double sum = 0;
    for (size_t r = 0; r < B; r++) sum += hrl[r];
    out->loss = sum * red;
    if (out->row_loss) DS_CU(cudaMemcpy(out->row_loss, hrl, B * sizeof *hrl, cudaMemcpyDefault));
  }
fail:
  for (int i = 0; i < nown; i++)
    if (own[i] && cudaFreeAsync(own[i], st) != cudaSuccess) (void)cudaGetLastError();
  if (cudaStreamSynchronize(st) != cudaSuccess) {
    (void)cudaGetLastError();
    if (!rc) rc = DS_EIO;
  }
  free(hmask);
  free(hrl);
  free(dT);
  return rc;
}

static const ds_backend_t be_cuda = {"cuda", "cuda", cuda_supports, cuda_fwd_bwd, NULL};
static const ds_backend_t *avail;
static pthread_once_t avail_once = PTHREAD_ONCE_INIT;

static void probe(void) { avail = ds_kern_cuda_device_count() > 0 ? &be_cuda : NULL; }

extern "C" const ds_backend_t *ds__cuda_backend_get(void) {
  pthread_once(&avail_once, probe);
  return avail;
}
