/* cpu.c — the "cpu" backend: picks one ISA table (AVX-512, AVX2+FMA, or portable) once from CPU
 * features, and runs rows over a persistent thread pool (falling back to ds__kern_run_rows's
 * per-call threads when the pool is busy or cannot start).
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Divergences with a fused fast row that can decline (row_ext): cs, w1, and ab away from its
 * degenerate parameters (the reference's |·| < 1e-12 rule), one teacher only. */
static int ext_div(const ds_div_t *d) {
  if (d->kind == DS_DIV_CS || d->kind == DS_DIV_W1) return 1;
  if (d->kind == DS_DIV_AB) {
    const double tiny = 1e-12;
    return !(fabs(d->alpha) < tiny || fabs(d->beta) < tiny || fabs(d->alpha + d->beta) < tiny);
  }
  return 0;
}

static int cpu_supports(const ds_backend_t *be, const ds_kern_args_t *a) {
  if (a->dtype != DS_DTYPE_F32) return DS_EUNSUP;
  if (DS__SINKHORN_TOO_BIG(a)) return DS_EUNSUP;
  return ds__cpu_fast_div(a->div->kind) || (ext_div(a->div) && a->n_teachers == 1);
}

static size_t cpu_scratch(const ds_kern_args_t *a) {
  if (!ds__cpu_fast_div(a->div->kind)) {
    size_t rs = ds__ref_row_scratch(a), ws = DS__CPU_WORK_FLOATS(a->vocab) * sizeof(float);
    return ext_div(a->div) && ws > rs ? ws : rs;
  }
  size_t V = (a->vocab + 15) & ~(size_t)15;
  return ((a->n_teachers > 1 ? V : 0) + DS__CPU_WORK_FLOATS(a->vocab)) * sizeof(float);
}

static int cpu_row(const ds_backend_t *be, const ds_kern_args_t *a, size_t r, double gscale,
                   float *grad, double *loss, void *scratch) {
  const ds__cpu_isa_t *isa = be->ctx;
  size_t V = a->vocab, K = a->n_teachers;
  double t2 = a->t2 ? a->t_student * a->t_student : 1.0;
  ds__cpu_row_t rr = {a->div, V, NULL, a->student + r * V, (float)(1.0 / a->t_teacher),
                      (float)(1.0 / a->t_student), grad, gscale * t2 / a->t_student, 0, NULL};
  if (!ds__cpu_fast_div(a->div->kind)) {
    /* ref scratch (cpu_scratch) is at least the fast row's work area and 64-byte aligned. */
    if (ext_div(a->div) && K == 1) {
      double L;
      rr.t = a->teacher[0] + r * V;
      rr.work = scratch;
      if (isa->row_ext(&rr, &L)) {
        *loss = t2 * L;
        return 0;
      }
    }
    return ds__kern_ref_row(be, a, r, gscale, grad, loss, scratch);
  }
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

/* ---- Persistent thread pool ------------------------------------------------------------------
 * Creating threads and allocating (page-faulting) scratch on every call costs tens of µs per call
 * and more under load, against ~300 µs of work at B=32, V=32000; so the CPU backend keeps its
 * workers and their scratch between calls.  The split is static and the same as
 * ds__kern_run_rows (part k of nt runs rows [B·k/nt, B·(k+1)/nt)), each row's result depends only
 * on its inputs, and row losses are summed in row order by the caller: results are bit-identical
 * whatever the thread count or timing.  One caller uses the pool at a time (trylock); a concurrent
 * caller, or one whose workers cannot start, falls back to ds__kern_run_rows.  A forked child
 * (worker/task.c forks) starts with an empty pool.  Workers spin briefly for the next call (calls
 * come back to back in training loops and benchmarks), then sleep on a condition variable. */
#define POOL_MAX 64
#define POOL_SPIN 20000 /* polls (~50-100 µs) before a worker or the caller goes to sleep */
#if defined(__x86_64__) || defined(__i386__)
#define pool_pause() __builtin_ia32_pause()
#else
#define pool_pause() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif

typedef struct {
  void *scratch;
  size_t cap;
  int rc;
  unsigned gen0;
} slot_t;

static struct {
  pthread_mutex_t use; /* held by the one call using the pool */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  int started;                 /* workers running (slots 1..started) */
  unsigned gen;                /* bumped (under mu) to publish a call */
  int pending;                 /* parts of the current call not yet finished */
  int nt;                      /* parts of the current call (part 0 is the caller's) */
  const ds_backend_t *be;
  const ds_kern_args_t *a;
  ds_kern_out_t *out;
  double *row_loss, red;
  size_t sb;
  slot_t slot[POOL_MAX];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0, {{NULL, 0, 0, 0}}};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_after_fork(void) {
  /* Only the forking thread exists in the child: forget the workers (their scratch leaks, once). */
  pthread_mutex_init(&pool.use, NULL);
  pthread_mutex_init(&pool.mu, NULL);
  pthread_cond_init(&pool.go, NULL);
  pthread_cond_init(&pool.done, NULL);
  pool.started = 0;
  pool.pending = 0;
  for (int k = 1; k < POOL_MAX; k++) pool.slot[k] = (slot_t){NULL, 0, 0, 0};
}
static void pool_init(void) { pthread_atfork(NULL, NULL, pool_after_fork); }

/* Run part k of the current call on slot k's scratch (grown as needed, never shrunk). */
static void pool_part(int k) {
  slot_t *sl = &pool.slot[k];
  const ds_kern_args_t *a = pool.a;
  size_t B = a->rows, r0 = B * (size_t)k / (size_t)pool.nt, r1 = B * (size_t)(k + 1) / (size_t)pool.nt;
  sl->rc = 0;
  if (pool.sb > sl->cap) {
    size_t cap = (pool.sb + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(64, cap);
    if (!p) { sl->rc = DS_ENOMEM; return; }
    free(sl->scratch);
    sl->scratch = p;
    sl->cap = cap;
  }
  for (size_t r = r0; r < r1 && sl->rc == 0; r++) {
    float *g = pool.out->grad ? pool.out->grad + r * a->vocab : NULL;
    if (a->row_mask && !a->row_mask[r]) {
      pool.row_loss[r] = 0;
      if (g) memset(g, 0, a->vocab * sizeof *g);
      continue;
    }
    sl->rc = cpu_row(pool.be, a, r, pool.red, g, &pool.row_loss[r], sl->scratch);
  }
}

static void *pool_worker(void *arg) {
  int k = (int)(intptr_t)arg;
  /* The generation current when this worker was created (it may start after the next bump). */
  unsigned seen = pool.slot[k].gen0;
  for (;;) {
    unsigned g;
    int spin = 0;
    while ((g = __atomic_load_n(&pool.gen, __ATOMIC_ACQUIRE)) == seen && spin < POOL_SPIN) {
      spin++;
      pool_pause();
    }
    if (g == seen) {
      pthread_mutex_lock(&pool.mu);
      while ((g = pool.gen) == seen) pthread_cond_wait(&pool.go, &pool.mu);
      pthread_mutex_unlock(&pool.mu);
    }
    seen = g;
    if (k < pool.nt) pool_part(k);
    if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_ACQ_REL) == 0) {
      pthread_mutex_lock(&pool.mu);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.mu);
    }
  }
  return NULL;
}

static int cpu_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out) {
  /* K > 64 arithmetic mixtures need the reference's scratch. */
  size_t sb = cpu_scratch(a);
  if (a->n_teachers > 64 && a->mix == DS_MIX_ARITHMETIC) sb = ds__ref_row_scratch(a);
  size_t B = a->rows, active = 0;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int nt = a->threads > 0 ? a->threads : ncpu < 1 ? 1 : ncpu > POOL_MAX ? POOL_MAX : (int)ncpu;
  if (nt > POOL_MAX) nt = POOL_MAX;
  if ((size_t)nt > B) nt = B ? (int)B : 1;
  if (B * a->vocab < 16384) nt = 1;
  pthread_once(&pool_once, pool_init);
  if (pthread_mutex_trylock(&pool.use) != 0) return ds__kern_run_rows(be, a, out, cpu_row, sb);
  while (pool.started < nt - 1) {
    pthread_t tid;
    pool.slot[pool.started + 1].gen0 = pool.gen;
    if (pthread_create(&tid, NULL, pool_worker, (void *)(intptr_t)(pool.started + 1)) != 0) break;
    pthread_detach(tid);
    pool.started++;
  }
  if (pool.started < nt - 1) {
    pthread_mutex_unlock(&pool.use);
    return ds__kern_run_rows(be, a, out, cpu_row, sb);
  }
  double *row_loss = out->row_loss, *own = NULL;
  int rc = 0;
  if (!row_loss) {
    row_loss = own = malloc((B ? B : 1) * sizeof *own);
    if (!own) { pthread_mutex_unlock(&pool.use); return DS_ENOMEM; }
  }
  for (size_t r = 0; r < B; r++) active += !a->row_mask || a->row_mask[r];
  double act = active ? (double)active : 1.0;
  double red = a->reduction == DS_RED_BATCHMEAN ? 1.0 / act
             : a->reduction == DS_RED_MEAN ? 1.0 / (act * (double)a->vocab) : 1.0;
  pool.be = be; pool.a = a; pool.out = out; pool.row_loss = row_loss; pool.red = red;
  pool.sb = sb; pool.nt = nt;
  /* Every started worker takes part in every call (idle ones just check in), so `pending` never
   * depends on which workers happen to be awake. */
  int nw = pool.started;
  if (nw > 0) {
    __atomic_store_n(&pool.pending, nw, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool.mu);
    __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
  }
  pool_part(0);
  if (nw > 0) {
    int spin = 0;
    while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) != 0 && spin < POOL_SPIN) {
      spin++;
      pool_pause();
    }
    pthread_mutex_lock(&pool.mu);
    while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) != 0) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
  for (int k = 0; k < nt; k++) if (pool.slot[k].rc && !rc) rc = pool.slot[k].rc;
  pthread_mutex_unlock(&pool.use);
  if (rc == 0) {
    double sum = 0;
    for (size_t r = 0; r < B; r++) sum += row_loss[r];
    out->loss = sum * red;
  }
  free(own);
  return rc;
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
