/* rl_cpu.c — batched fp32 token log-prob / entropy kernel (ds_rl_logprob_batch), threaded.
 *
 * Invariants: rows are split into contiguous blocks, block k = [k·rows/n, (k+1)·rows/n), one per
 * thread, so every row is computed by the same code on the same data regardless of scheduling and
 * the result is bit-identical for any thread count.  Each row reads fp32 logits, accumulates its
 * max, sum and entropy in double, and writes fp32.  No state outlives the call.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "ds_error.h"
#include "ds_rl.h"

typedef struct job {
  const ds_rl_logprob_args_t *a;
  float *logp, *entropy, *grad;
  size_t r0, r1;
  int started;
} job_t;

/* Kernel: per row, s = z/T, lse by max-shifted sum (double), log π = s − lse,
 * H = −Σ π log π, grad = g_logp (onehot − π)/T − g_ent π (log π + H)/T.  fp32 in/out, double
 * accumulation.  Layout [rows][vocab] C order. */
static void run_rows(const job_t *j) {
  const ds_rl_logprob_args_t *a = j->a;
  const size_t V = a->vocab;
  const double invT = 1.0 / a->temperature;
  for (size_t r = j->r0; r < j->r1; r++) {
    const float *z = a->logits + r * V;
    double m = -INFINITY;
    for (size_t v = 0; v < V; v++) m = fmax(m, (double)z[v] * invT);
    double sum = 0;
    for (size_t v = 0; v < V; v++) sum += exp((double)z[v] * invT - m);
    double lse = m + log(sum);
    /* H = lse − Σ π s, but −Σ π log π is used instead: it stays exact when one token dominates. */
    double H = 0;
    for (size_t v = 0; v < V; v++) {
      double lp = (double)z[v] * invT - lse;
      if (isfinite(lp)) H -= exp(lp) * lp;
    }
    int64_t y = a->labels[r];
    if (j->logp) j->logp[r] = y >= 0 ? (float)((double)z[y] * invT - lse) : 0.0f;
    if (j->entropy) j->entropy[r] = (float)H;
    if (j->grad) {
      double gl = (a->g_logp && y >= 0) ? (double)a->g_logp[r] : 0.0;
      double ge = a->g_ent ? (double)a->g_ent[r] : 0.0;
      float *g = j->grad + r * V;
      for (size_t v = 0; v < V; v++) {
        double lp = (double)z[v] * invT - lse;
        double p = exp(lp);
        double d = gl * ((y >= 0 && (size_t)y == v ? 1.0 : 0.0) - p);
        if (p > 0) d -= ge * p * (lp + H);
        g[v] = (float)(d * invT);
      }
    }
  }
}

static void *thread_main(void *arg) {
  run_rows((const job_t *)arg);
  return NULL;
}

int ds_rl_logprob_batch(const ds_rl_logprob_args_t *a, float *logp, float *entropy, float *grad) {
  if (!a || !a->logits || !a->labels || a->vocab == 0 || !(a->temperature > 0)) return DS_EINVAL;
  for (size_t r = 0; r < a->rows; r++) {
    if (a->labels[r] >= 0 && (uint64_t)a->labels[r] >= a->vocab) return DS_EINVAL;
  }
  if (a->rows == 0) return 0;
  size_t n = a->threads > 0 ? (size_t)a->threads : a->rows / 4096 + 1;
  if (a->threads <= 0 && n > 8) n = 8;
  if (n > a->rows) n = a->rows;
  job_t stack_jobs[8];
  pthread_t stack_tids[8];
  job_t *jobs = n <= 8 ? stack_jobs : malloc(n * sizeof *jobs);
  pthread_t *tids = n <= 8 ? stack_tids : malloc(n * sizeof *tids);
  int rc = 0;
  if (!jobs || !tids) { rc = DS_ENOMEM; goto out; }
  for (size_t k = 0; k < n; k++) {
    jobs[k] = (job_t){a, logp, entropy, grad, k * a->rows / n, (k + 1) * a->rows / n, 0};
  }
  /* Block 0 runs on the calling thread; a block whose pthread_create fails runs inline, so the
   * result is the same, just slower. */
  for (size_t k = 1; k < n; k++) {
    jobs[k].started = pthread_create(&tids[k], NULL, thread_main, &jobs[k]) == 0;
    if (!jobs[k].started) run_rows(&jobs[k]);
  }
  run_rows(&jobs[0]);
  for (size_t k = 1; k < n; k++) {
    if (jobs[k].started) pthread_join(tids[k], NULL);
  }
out:
  if (jobs != stack_jobs) free(jobs);
  if (tids != stack_tids) free(tids);
  return rc;
}

#ifndef DS_HAVE_CUDA
/* CPU-only build: the CUDA entry points of ds_rl.h exist and say "not supported" (kernels/cuda/rl.cu
 * otherwise). */
int ds_rl_logprob_batch_cuda(const ds_rl_logprob_args_t *a, float *logp, float *entropy, float *grad) {
  return DS_EUNSUP;
}
int ds_rl_ppo_batch_cuda(const ds_rl_ppo_t *p, size_t n, const double *logp, const double *old_logp,
                         const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                         double *clip_frac) {
  return DS_EUNSUP;
}
int ds_rl_kl_batch_cuda(ds_rl_kl_t kind, size_t n, const double *logp, const double *ref_logp,
                        double *value, double *dlogp) {
  return DS_EUNSUP;
}
#endif
