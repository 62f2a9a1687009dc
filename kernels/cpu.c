/* cpu.c — the "cpu" backend: picks one ISA table (AVX-512, AVX2+FMA, or portable) once from CPU
 * features, and runs rows over threads with ds__kern_run_rows.
 *
 * Per row: fast-path divergences (ds__cpu_fast_div) go straight to the ISA's fused kernel; teacher
 * mixtures are first materialised into a per-thread scratch row (geometric: Σ w_k t_k, arithmetic:
 * log Σ w_k p_k, both fp32) and "loss" mixtures run the kernel once per teacher with the gradient
 * accumulated.  ab, cs, w1 and sinkhorn fall back to the double reference row (still threaded).
 * Invariant: the chosen ISA never changes after the first ds_kern_backend_get(); results do not
 * depend on thread count or timing.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "ds__backend.h"
#include "ds__cpu.h"
#include "ds_error.h"

int ds__cpu_fast_div(ds_div_kind_t k) {
  switch (k) {
    case DS_DIV_FKL: case DS_DIV_RKL: case DS_DIV_JSD: case DS_DIV_SKL: case DS_DIV_SRKL:
    case DS_DIV_TVD: case DS_DIV_HELLINGER: case DS_DIV_CHI2: case DS_DIV_CHI2N:
    case DS_DIV_RENYI: case DS_DIV_AMARI: case DS_DIV_WMIX: case DS_DIV_ENTROPY:
      return 1;
    default:
      return 0;
  }
}

static int cpu_supports(const ds_backend_t *be, const ds_kern_args_t *a) {
  if (a->dtype != DS_DTYPE_F32) return DS_EUNSUP;
  if (a->div->kind == DS_DIV_SINKHORN && a->vocab > DS__SINKHORN_MAX_V) return DS_EUNSUP;
  return ds__cpu_fast_div(a->div->kind);
}

static size_t cpu_scratch(const ds_kern_args_t *a) {
  if (!ds__cpu_fast_div(a->div->kind)) return ds__ref_row_scratch(a);
  size_t V = (a->vocab + 15) & ~(size_t)15;
  return ((a->n_teachers > 1 ? V : 0) + DS__CPU_WORK_FLOATS(a->vocab)) * sizeof(float);
}

static int cpu_row(const ds_backend_t *be, const ds_kern_args_t *a, size_t r, double gscale,
                   float *grad, double *loss, void *scratch) {
  const ds__cpu_isa_t *isa = be->ctx;
  size_t V = a->vocab, K = a->n_teachers;
  if (!ds__cpu_fast_div(a->div->kind)) return ds__kern_ref_row(be, a, r, gscale, grad, loss, scratch);
  double t2 = a->t2 ? a->t_student * a->t_student : 1.0;
  ds__cpu_row_t rr = {a->div, V, NULL, a->student + r * V, (float)(1.0 / a->t_teacher),
                      (float)(1.0 / a->t_student), grad, gscale * t2 / a->t_student, 0, NULL};
  /* The fast row's work area sits after the mixture row (whose length is padded to 16 floats,
   * so the work area stays 64-byte aligned). */
  rr.work = (float *)scratch + (K > 1 ? (V + 15) & ~(size_t)15 : 0);
  if (a->div->kind == DS_DIV_ENTROPY || K == 0) {
    *loss = t2 * isa->row(&rr);
    return 0;
  }
  if (K == 1) {
    rr.t = a->teacher[0] + r * V;
    *loss = t2 * isa->row(&rr);
    return 0;
  }
  float *mixed = scratch;
  if (a->mix == DS_MIX_LOSS) {
    double L = 0;
    int first = 1;
    for (size_t k = 0; k < K; k++) {
      if (a->weights[k] == 0) continue;
      rr.t = a->teacher[k] + r * V;
      rr.gscale = gscale * t2 / a->t_student * a->weights[k];
      rr.accumulate = !first;
      L += a->weights[k] * isa->row(&rr);
      first = 0;
    }
    if (first && grad) memset(grad, 0, V * sizeof *grad);
    *loss = t2 * L;
    return 0;
  }
  if (a->mix == DS_MIX_GEOMETRIC) {
    /* p̃ = softmax(Σ_k w_k t_k / T_t): average the logits, keep inv_tt. */
    memset(mixed, 0, V * sizeof *mixed);
    for (size_t k = 0; k < K; k++) {
      float w = (float)a->weights[k];
      const float *t = a->teacher[k] + r * V;
      if (w != 0)
        for (size_t j = 0; j < V; j++) mixed[j] += w * t[j];
    }
  } else {
    /* log p̄_j = log Σ_k w_k exp(t_kj/T_t − LSE_k), in double, written as fp32 log-probs. */
    double lse_k[64];
    if (K > 64) return ds__kern_ref_row(be, a, r, gscale, grad, loss, NULL) == 0 ? 0 : DS_EUNSUP;
    for (size_t k = 0; k < K; k++)
      lse_k[k] = a->weights[k] > 0 ? isa->lse(a->teacher[k] + r * V, V, rr.inv_tt) : 0;
    for (size_t j = 0; j < V; j++) {
      double s = 0;
      for (size_t k = 0; k < K; k++)
        if (a->weights[k] > 0) s += a->weights[k] * exp(a->teacher[k][r * V + j] / a->t_teacher - lse_k[k]);
      mixed[j] = (float)log(s);
    }
    rr.inv_tt = 1.0f;
  }
  rr.t = mixed;
  *loss = t2 * isa->row(&rr);
  return 0;
}

static int cpu_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out) {
  /* K > 64 arithmetic mixtures need the reference's scratch. */
  size_t sb = cpu_scratch(a);
  if (a->n_teachers > 64 && a->mix == DS_MIX_ARITHMETIC) sb = ds__ref_row_scratch(a);
  return ds__kern_run_rows(be, a, out, cpu_row, sb);
}

static const ds_backend_t be_generic = {"cpu-generic", "cpu", cpu_supports, cpu_fwd_bwd, &ds__cpu_isa_generic};
#if defined(__x86_64__) || defined(__i386__)
static const ds_backend_t be_avx2 = {"cpu-avx2", "cpu", cpu_supports, cpu_fwd_bwd, &ds__cpu_isa_avx2};
static const ds_backend_t be_avx512 = {"cpu-avx512", "cpu", cpu_supports, cpu_fwd_bwd, &ds__cpu_isa_avx512};
#endif

static const ds_backend_t *best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static int have(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (strcmp(isa, "avx512") == 0) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
  if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return strcmp(isa, "generic") == 0;
}

static void pick_best(void) {
  best = &be_generic;
#if defined(__x86_64__) || defined(__i386__)
  if (have("avx2")) best = &be_avx2;
  if (have("avx512")) best = &be_avx512;
#endif
}

const ds_backend_t *ds__cpu_backend_get(const char *name) {
  pthread_once(&best_once, pick_best);
  if (strcmp(name, "cpu") == 0) return best;
  if (strcmp(name, "cpu-generic") == 0) return &be_generic;
#if defined(__x86_64__) || defined(__i386__)
  if (strcmp(name, "cpu-avx2") == 0) return have("avx2") ? &be_avx2 : NULL;
  if (strcmp(name, "cpu-avx512") == 0) return have("avx512") ? &be_avx512 : NULL;
#endif
  return NULL;
}
