/* task_distill.c — fit a student distribution to a (mixture of) teacher(s) under a divergence
 * (DESIGN.md §6, experiments.md X1, X2, X8, X13).
 *
 * Parameters (all validated by distill_check before any trial runs; cross-parameter consistency,
 * such as the mixture length or an .npy shape, is checked when the trial starts):
 *   vocab V (default: the columns of an npy teacher), rows R (default 1, or the rows of an npy
 *   teacher or features file).
 *   teachers: list of
 *     {"bumps": [[mu, sigma, weight], ...], "floor": f}   p = Σ w_b DG(mu_b, sigma_b) / Σ w_b, each
 *                                      DG normalised over tokens 0..V−1, then (1−f)·p + f/V;
 *     {"box": [a, width], "floor": f}  uniform on tokens a..a+width−1, then (1−f)·p + f/V;
 *     {"random": {"scale": s}}         logits s·N(0,1), one draw per row, seeded by the spec seed;
 *     {"npy": "file"}                  logits [R][V] or [V] (broadcast to every row).
 *     Probability-domain teachers enter as logits log p (−inf where p = 0).  Every row sees the
 *     same bumps/box teacher.
 *   mixture (weights over the teachers, default uniform), mix: "arithmetic" (default),
 *     "geometric" or "loss" (DESIGN §5), and "confidence": arithmetic with per-row weights
 *     ∝ mixture_k · max_j p_kj (confidence-weighted fusion, X13).
 *   student: any kind may take "floor": f in [0, 1) — the student distribution becomes
 *     (1 − f)·softmax(z/T) + f/V, a smoothed output whose tail carries no gradient (X2);
 *     {"kind": "free"} (one logit per token and row), {"kind": "gaussian", "sigma": s?,
 *     "mu0": m?, "sigma0": s0?} (logits −(i−μ)²/2σ² per row; σ fixed when "sigma" is given),
 *     {"kind": "linear", "features": "file"?, "dim": d?, "bias": true?} (z_r = W x_r + b with W
 *     shared across rows; features [R][d] from a file or seeded N(0,1) of dimension d).
 *   optimizer "adam" (default) or "gd", lr (default 0.05), steps (default 1000), clip (> 0 bounds
 *     each coordinate's step), restarts (default 1).
 *   divergence (default "fkl"), temperature T (both sides, default 1), t2 (multiply by T²).
 *   labels: optional .npy of class indices (one per row) for accuracy/ECE metrics.
 *
 * Restarts (the documented initialisation grid).  restarts = n > 1 runs n independent fits and
 * keeps the one with the lowest final training loss:
 *   gaussian, σ free: μ0 on ceil(n/3) points spaced evenly over [2, V−2] (clamped to the middle
 *     for V < 5), each with log σ0 ∈ {0, 1, 2}; start i takes μ0 index i/3 and log σ0 = i mod 3.
 *     (V = 40, n = 30 is experiments.md X1's grid: 10 μ0 in [2, 38] × log σ0 ∈ {0, 1, 2}.)
 *   gaussian, σ fixed: μ0 on n points spaced evenly over [2, V−2].
 *   free: start 0 is all-zero logits; start i ≥ 1 draws logits N(0, 1).
 *   linear: start 0 is W = 0, b = 0; start i ≥ 1 draws every weight N(0, 0.1²).
 *   With one start: gaussian μ0 = "mu0" (default (V−1)/2), σ0 = "sigma0" (default e, the fixed σ
 *   when given); free and linear start at zero.
 *
 * Metrics, averaged over rows, at T = 1 against the mixed teacher (for mix "loss": the
 * arithmetic mixture): fkl = KL(t‖s), rkl = KL(s‖t), jsd (β ½), tvd, entropy (student),
 * teacher_entropy, modes_covered (number of teacher modes — maximal runs of equal values whose
 * neighbours are lower — with ≥ 0.1 student mass within ±2 tokens of the run), teacher_modes,
 * low_mass (student mass where t_i < 0.1·max t), top1_agree (fraction of rows whose argmaxes
 * agree), loss (final training loss at T, best start), restarts_used; mu and sigma (row 0) for a
 * gaussian student; with labels: accuracy, confidence, ece, teacher_accuracy, teacher_ece.
 * Curve: "loss" of the kept start at log-spaced steps (ds__curve_point).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds__tasks.h"
#include "ds_error.h"
#include "ds_spec.h"

enum { ST_FREE = 0, ST_GAUSS, ST_LINEAR };
enum { MIX_CONFIDENCE = 100 };

typedef struct distill {
  size_t V, R, K;
  double **teacher; /* K × [R][V] logits */
  double *w;        /* K weights */
  int mix;          /* ds_mix_t or MIX_CONFIDENCE */
  ds_div_t div;
  double T;
  int t2;
  int kind;
  double sigma_fixed; /* > 0: fixed σ */
  double mu0, sigma0;
  double *feat;       /* [R][dim] */
  size_t dim;
  int bias;
  size_t n;           /* parameters */
  double *labels;     /* [R] or NULL */
  double floor_s;     /* student floor f: s = (1 − f)·softmax(z/T) + f/V; 0 = none */
  double *fq, *fs;    /* scratch [V]: q and s of the last floored row (for the backward pass) */
} distill_t;

static void distill_free(distill_t *d) {
  if (d->teacher)
    for (size_t k = 0; k < d->K; k++) free(d->teacher[k]);
  free(d->teacher);
  free(d->w);
  free(d->feat);
  free(d->labels);
  free(d->fq);
  free(d->fs);
}

/* ---- teachers ----------------------------------------------------------------------------- */

/* Probability-domain teacher as logits log p. */
static void prob_to_logits(size_t V, double *p, double floor_, double *out) {
  double s = 0;
  for (size_t i = 0; i < V; i++) s += p[i];
  for (size_t i = 0; i < V; i++) {
    double q = (1 - floor_) * (s > 0 ? p[i] / s : 0) + floor_ / (double)V;
    out[i] = q > 0 ? log(q) : -INFINITY;
  }
}

static int build_teacher(ds_task_ctx_t *ctx, const cJSON *t, distill_t *d, size_t k, uint64_t *rng) {
  size_t V = d->V, R = d->R;
  double *out = malloc(R * V * sizeof *out), *p = calloc(V, sizeof *p);
  d->teacher[k] = out;
  if (!out || !p) {
    free(p);
    return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
  }
  double floor_ = ds_param_num(t, "floor", 0);
  const cJSON *bumps = cJSON_GetObjectItemCaseSensitive(t, "bumps");
  const cJSON *box = cJSON_GetObjectItemCaseSensitive(t, "box");
  const cJSON *rnd = cJSON_GetObjectItemCaseSensitive(t, "random");
  const cJSON *npy = cJSON_GetObjectItemCaseSensitive(t, "npy");
  int rc = 0;
  if (bumps) {
    for (const cJSON *b = bumps->child; b; b = b->next) {
      double v[3];
      ds__get_nums(b, v, 3);
      double *g = malloc(V * sizeof *g), s = 0;
      if (!g) {
        free(p);
        return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
      }
      for (size_t i = 0; i < V; i++) s += g[i] = exp(-((double)i - v[0]) * ((double)i - v[0]) / (2 * v[1] * v[1]));
      for (size_t i = 0; i < V; i++) p[i] += s > 0 ? v[2] * g[i] / s : 0;
      free(g);
    }
    prob_to_logits(V, p, floor_, out);
    for (size_t r = 1; r < R; r++) memcpy(out + r * V, out, V * sizeof *out);
  } else if (box) {
    double v[2];
    ds__get_nums(box, v, 2);
    long a = (long)v[0], wdt = (long)v[1];
    if (a < 0 || a + wdt > (long)V) {
      free(p);
      return ds_task_fail(ctx, DS_ESPEC, "teachers[%zu].box: tokens %ld..%ld lie outside the vocabulary 0..%zu", k, a,
                          a + wdt - 1, V - 1);
    }
    for (long i = a; i < a + wdt; i++) p[i] = 1;
    prob_to_logits(V, p, floor_, out);
    for (size_t r = 1; r < R; r++) memcpy(out + r * V, out, V * sizeof *out);
  } else if (rnd) {
    double scale = ds_param_num(rnd, "scale", 1);
    for (size_t i = 0; i < R * V; i++) out[i] = scale * ds__gauss(rng);
  } else if (npy) {
    double *data;
    size_t rows, cols;
    char msg[300];
    if ((rc = ds__npy_load(npy->valuestring, &data, &rows, &cols, msg, sizeof msg))) {
      free(p);
      return ds_task_fail(ctx, rc, "teachers[%zu].npy: %s", k, msg);
    }
    if (cols != V || (rows != R && rows != 1)) {
      free(data);
      free(p);
      return ds_task_fail(ctx, DS_ENPY, "teachers[%zu].npy: %s has shape [%zu][%zu], expected [%zu][%zu] (or [%zu])", k,
                          npy->valuestring, rows, cols, R, V, V);
    }
    for (size_t r = 0; r < R; r++) memcpy(out + r * V, data + (rows == 1 ? 0 : r * V), V * sizeof *out);
    free(data);
  }
  free(p);
  return 0;
}

/* ---- student ------------------------------------------------------------------------------ */

static void student_logits(const distill_t *d, const double *th, size_t r, double *z) {
  size_t V = d->V;
  if (d->kind == ST_FREE) {
    memcpy(z, th + r * V, V * sizeof *z);
  } else if (d->kind == ST_GAUSS) {
    size_t np = d->sigma_fixed > 0 ? 1 : 2;
    double mu = th[r * np], sg = d->sigma_fixed > 0 ? d->sigma_fixed : exp(th[r * np + 1]);
    for (size_t i = 0; i < V; i++) z[i] = -((double)i - mu) * ((double)i - mu) / (2 * sg * sg);
  } else {
    const double *x = d->feat + r * d->dim;
    for (size_t v = 0; v < V; v++) {
      double s = d->bias ? th[V * d->dim + v] : 0;
      for (size_t j = 0; j < d->dim; j++) s += th[v * d->dim + j] * x[j];
      z[v] = s;
    }
  }
}

/* Accumulates scale · (∂z/∂θ)ᵀ gz into g. */
static void student_backprop(const distill_t *d, const double *th, size_t r, const double *gz, double scale,
                             double *g) {
  size_t V = d->V;
  if (d->kind == ST_FREE) {
    for (size_t i = 0; i < V; i++) g[r * V + i] += scale * gz[i];
  } else if (d->kind == ST_GAUSS) {
    size_t np = d->sigma_fixed > 0 ? 1 : 2;
    double mu = th[r * np], sg = d->sigma_fixed > 0 ? d->sigma_fixed : exp(th[r * np + 1]);
    double gm = 0, gs = 0;
    for (size_t i = 0; i < V; i++) {
      double e = (double)i - mu;
      gm += gz[i] * e / (sg * sg);
      gs += gz[i] * e * e / (sg * sg);
    }
    g[r * np] += scale * gm;
    if (np == 2) g[r * np + 1] += scale * gs;
  } else {
    const double *x = d->feat + r * d->dim;
    for (size_t v = 0; v < V; v++) {
      for (size_t j = 0; j < d->dim; j++) g[v * d->dim + j] += scale * gz[v] * x[j];
      if (d->bias) g[V * d->dim + v] += scale * gz[v];
    }
  }
}

/* The student floor.  A floored student is s = (1 − f)·q + f/V with q = softmax(z/T): every token
 * keeps at least f/V of mass, like a real model's smoothed output, so a divergence between
 * disjoint supports sees a student whose tail carries no gradient (experiments.md X2).  In place,
 * z becomes T·log s (so softmax(z/T) = s); q and s are kept for student_floor_backward. */
static void student_floor(const distill_t *d, double *z, double T) {
  if (!(d->floor_s > 0)) return;
  size_t V = d->V;
  double lse = ds_ref_log_softmax(V, z, T, d->fq);
  (void)lse;
  for (size_t i = 0; i < V; i++) {
    d->fq[i] = exp(d->fq[i]);
    d->fs[i] = (1 - d->floor_s) * d->fq[i] + d->floor_s / (double)V;
    z[i] = T * log(d->fs[i]);
  }
}

/* gz holds ∂L/∂z' for the floored logits z' = T·log s; turns it into ∂L/∂z:
 * ∂L/∂z_j = (1 − f)·(a_j − q_j Σ_i a_i) with a_i = gz_i q_i / s_i (the T's cancel). */
static void student_floor_backward(const distill_t *d, double *gz) {
  if (!(d->floor_s > 0)) return;
  double A = 0;
  for (size_t i = 0; i < d->V; i++) {
    gz[i] = gz[i] * d->fq[i] / d->fs[i];
    A += gz[i];
  }
  for (size_t i = 0; i < d->V; i++) gz[i] = (1 - d->floor_s) * (gz[i] - d->fq[i] * A);
}

/* Per-row teacher weights (confidence mixing) or the global ones. */
static void row_weights(const distill_t *d, size_t r, double *w, double *lp_tmp) {
  if (d->mix != MIX_CONFIDENCE) {
    memcpy(w, d->w, d->K * sizeof *w);
    return;
  }
  double s = 0;
  for (size_t k = 0; k < d->K; k++) {
    ds_ref_log_softmax(d->V, d->teacher[k] + r * d->V, d->T, lp_tmp);
    w[k] = d->w[k] * exp(lp_tmp[ds__argmax(d->V, lp_tmp)]);
    s += w[k];
  }
  for (size_t k = 0; k < d->K; k++) w[k] = s > 0 ? w[k] / s : d->w[k];
}

/* Training loss at T (batchmean over rows); grad (optional) receives ∂loss/∂θ. */
static double loss_grad(const distill_t *d, const double *th, double *grad, double *z, double *gz,
                        const double **tp, double *w, double *tmp) {
  double L = 0;
  if (grad) memset(grad, 0, d->n * sizeof *grad);
  for (size_t r = 0; r < d->R; r++) {
    student_logits(d, th, r, z);
    student_floor(d, z, d->T);
    for (size_t k = 0; k < d->K; k++) tp[k] = d->teacher[k] + r * d->V;
    row_weights(d, r, w, tmp);
    ds_mix_t m = d->mix == MIX_CONFIDENCE ? DS_MIX_ARITHMETIC : (ds_mix_t)d->mix;
    L += ds_ref_div_row(&d->div, d->V, d->K, tp, w, m, z, d->T, d->T, d->t2, grad ? gz : NULL) / (double)d->R;
    if (grad) {
      student_floor_backward(d, gz);
      student_backprop(d, th, r, gz, 1.0 / (double)d->R, grad);
    }
  }
  return L;
}

/* The same loss and gradient with the batched kernels (trial.backend not "ref"): every row's
 * student logits go to zf (fp32), one fused call gives the batchmean loss and ∂loss/∂z for all
 * rows, and each row's gradient goes back through the student as in loss_grad.  tf holds the
 * teachers in fp32 (converted once per trial).  Not used with a floored student or confidence
 * weights (per-row transforms the kernels do not have). */
typedef struct {
  const ds__backend_t *bk;
  float **tf;   /* K × [R][V] */
  size_t nt;      /* entries of tf */
  float *zf, *gf; /* [R][V] */
  float *mf, *vf; /* [R][V]: Adam's moments for a free student, whose parameters stay in zf */
  long t;
} distill_fast_t;

static double loss_grad_fast(const distill_t *d, const distill_fast_t *f, const double *th, double *grad, double *z,
                             double *gz, int *krc) {
  size_t V = d->V, RV = d->R * V;
  if (d->kind == ST_FREE) { /* the parameters are the logits */
    for (size_t i = 0; i < RV; i++) f->zf[i] = (float)th[i];
  } else {
    for (size_t r = 0; r < d->R; r++) {
      student_logits(d, th, r, z);
      for (size_t i = 0; i < V; i++) f->zf[r * V + i] = (float)z[i];
    }
  }
  ds_kern_args_t a = {&d->div, d->R, V, d->K, (const float *const *)f->tf, d->K > 1 ? d->w : NULL, (ds_mix_t)d->mix,
                      f->zf, d->T, d->T, d->t2, DS_RED_BATCHMEAN, NULL, f->bk->threads, DS_DTYPE_F32};
  ds_kern_out_t o = {0, NULL, grad ? f->gf : NULL};
  if ((*krc = ds_kern_fwd_bwd(f->bk->be, &a, &o))) return NAN;
  if (grad && d->kind == ST_FREE) {
    for (size_t i = 0; i < RV; i++) grad[i] = f->gf[i];
  } else if (grad) {
    memset(grad, 0, d->n * sizeof *grad);
    for (size_t r = 0; r < d->R; r++) {
      for (size_t i = 0; i < V; i++) gz[i] = f->gf[r * V + i];
      student_backprop(d, th, r, gz, 1.0, grad); /* the batchmean 1/R is in the kernel's gradient */
    }
  }
  return o.loss;
}

/* A free student on the fast path keeps its parameters — its logits — in fp32 in zf, and Adam (or
 * gd) updates them there: nothing is converted per step, and the optimiser streams half the bytes.
 * The formulas are ds__opt_step's, in float. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void free_step_f32(size_t n, float *restrict x, const float *restrict g, float *restrict m, float *restrict v,
                          int adam, float lr, float c1, float c2, float clip) {
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  if (!adam) {
    for (size_t i = 0; i < n; i++) x[i] -= clip > 0 ? fmaxf(-clip, fminf(clip, lr * g[i])) : lr * g[i];
  } else if (clip > 0) {
    for (size_t i = 0; i < n; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      x[i] -= fmaxf(-clip, fminf(clip, lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps)));
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      x[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
    }
  }
}

static double loss_free_f32(const distill_t *d, const distill_fast_t *f, int want_grad, int *krc) {
  ds_kern_args_t a = {&d->div, d->R, d->V, d->K, (const float *const *)f->tf, d->K > 1 ? d->w : NULL, (ds_mix_t)d->mix,
                      f->zf, d->T, d->T, d->t2, DS_RED_BATCHMEAN, NULL, f->bk->threads, DS_DTYPE_F32};
  ds_kern_out_t o = {0, NULL, want_grad ? f->gf : NULL};
  if ((*krc = ds_kern_fwd_bwd(f->bk->be, &a, &o))) return NAN;
  return o.loss;
}

static void init_start(const distill_t *d, int i, int n, double *th, uint64_t *rng) {
  size_t V = d->V;
  memset(th, 0, d->n * sizeof *th);
  if (d->kind == ST_GAUSS) {
    size_t np = d->sigma_fixed > 0 ? 1 : 2;
    double lo = 2, hi = (double)V - 2, mid = ((double)V - 1) / 2;
    if (hi < lo) lo = hi = mid;
    double mu, ls;
    if (n <= 1) {
      mu = isnan(d->mu0) ? mid : d->mu0;
      ls = log(d->sigma0);
    } else if (np == 1) {
      mu = lo + (hi - lo) * i / (n - 1);
      ls = 0;
    } else {
      int nmu = (n + 2) / 3;
      mu = nmu == 1 ? mid : lo + (hi - lo) * (i / 3) / (nmu - 1);
      ls = (double)(i % 3);
    }
    for (size_t r = 0; r < d->R; r++) {
      th[r * np] = mu;
      if (np == 2) th[r * np + 1] = ls;
    }
  } else if (i > 0) {
    double sd = d->kind == ST_FREE ? 1.0 : 0.1;
    for (size_t j = 0; j < d->n; j++) th[j] = sd * ds__gauss(rng);
  }
}

/* Counts teacher modes (maximal runs of equal values with lower neighbours) and those covered. */
static void modes(size_t V, const double *t, const double *s, double *n_modes, double *covered) {
  size_t i = 0;
  *n_modes = *covered = 0;
  while (i < V) {
    size_t b = i;
    while (b + 1 < V && t[b + 1] == t[i]) b++;
    int left = i == 0 || t[i - 1] < t[i], right = b + 1 == V || t[b + 1] < t[i];
    if (left && right) {
      *n_modes += 1;
      double m = 0;
      size_t lo = i >= 2 ? i - 2 : 0, hi = b + 2 < V ? b + 2 : V - 1;
      for (size_t j = lo; j <= hi; j++) m += s[j];
      if (m >= 0.1) *covered += 1;
    }
    i = b + 1;
  }
}

static int distill_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  distill_t d = {0};
  int rc = 0;
  double *th = NULL, *best = NULL, *g = NULL, *z = NULL, *gz = NULL, *tmp = NULL, *wrow = NULL;
  double *lp = NULL, *lq = NULL, *all_lq = NULL, *all_lp = NULL, *curve = NULL, *best_curve = NULL;
  long *curve_step = NULL;
  const double **tp = NULL;
  ds__opt_t opt = {0};
  distill_fast_t fst = {0};
  /* Data (random teachers, seeded features) comes from the spec-level seed alone, so every
   * configuration with the same seed — each divergence, temperature, mixture — is fitted to the same
   * teacher (common random numbers: differences between configurations are not sampling noise).
   * Restart draws come from the trial key.  Both are deterministic, so resumes are bit-identical. */
  uint64_t data_seed = ds_key_seed("distill-data") ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(ctx->trial_seed + 1));
  uint64_t rng_t = data_seed ^ 0x7465616368657273ULL, rng_f = data_seed ^ 0x6665617475726573ULL,
           rng_s = ctx->seed ^ 0x7374617274730000ULL;
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(p, "teachers");
  const cJSON *student = cJSON_GetObjectItemCaseSensitive(p, "student");
  char msg[300];

  /* Sizes: explicit, else from the first npy teacher / features file. */
  d.V = (size_t)ds_param_num(p, "vocab", 0);
  d.R = (size_t)ds_param_num(p, "rows", 0);
  for (const cJSON *t = teachers ? teachers->child : NULL; t && (!d.V || !d.R); t = t->next) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "npy");
    if (!f) continue;
    double *data;
    size_t rows, cols;
    if ((rc = ds__npy_load(f->valuestring, &data, &rows, &cols, msg, sizeof msg))) {
      rc = ds_task_fail(ctx, rc, "teachers.npy: %s", msg);
      goto done;
    }
    free(data);
    if (!d.V) d.V = cols;
    if (!d.R && rows > 1) d.R = rows;
  }
  d.K = teachers ? (size_t)cJSON_GetArraySize(teachers) : 0;
  if (!d.V) {
    rc = ds_task_fail(ctx, DS_ESPEC, "vocab: missing (and no npy teacher to take it from)");
    goto done;
  }
  if (d.K == 0) {
    rc = ds_task_fail(ctx, DS_ESPEC, "teachers: missing");
    goto done;
  }
  d.kind = ST_FREE;
  const char *kind = student ? ds_param_str(student, "kind", "free") : "free";
  if (!strcmp(kind, "gaussian")) d.kind = ST_GAUSS;
  else if (!strcmp(kind, "linear")) d.kind = ST_LINEAR;
  d.sigma_fixed = student ? ds_param_num(student, "sigma", 0) : 0;
  d.floor_s = student ? ds_param_num(student, "floor", 0) : 0;
  d.mu0 = student ? ds_param_num(student, "mu0", NAN) : NAN;
  d.sigma0 = student ? ds_param_num(student, "sigma0", d.sigma_fixed > 0 ? d.sigma_fixed : M_E) : M_E;
  if (d.kind == ST_LINEAR) {
    const cJSON *ff = cJSON_GetObjectItemCaseSensitive(student, "features");
    d.bias = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(student, "bias")) ? 0 : 1;
    if (ff) {
      size_t rows, cols;
      if ((rc = ds__npy_load(ff->valuestring, &d.feat, &rows, &cols, msg, sizeof msg))) {
        rc = ds_task_fail(ctx, rc, "student.features: %s", msg);
        goto done;
      }
      if (!d.R) d.R = rows;
      if (rows != d.R) {
        rc = ds_task_fail(ctx, DS_ENPY, "student.features: %s has %zu rows, expected %zu", ff->valuestring, rows, d.R);
        goto done;
      }
      d.dim = cols;
    } else {
      if (!d.R) d.R = 1;
      d.dim = (size_t)ds_param_num(student, "dim", 8);
      d.feat = malloc(d.R * d.dim * sizeof *d.feat);
      if (!d.feat) goto oom;
      for (size_t i = 0; i < d.R * d.dim; i++) d.feat[i] = ds__gauss(&rng_f);
    }
  }
  if (!d.R) d.R = 1;
  size_t V = d.V, R = d.R, K = d.K;

  /* Teachers and mixture. */
  d.teacher = calloc(K, sizeof *d.teacher);
  d.w = malloc(K * sizeof *d.w);
  if (!d.teacher || !d.w) goto oom;
  size_t k = 0;
  for (const cJSON *t = teachers->child; t; t = t->next, k++)
    if ((rc = build_teacher(ctx, t, &d, k, &rng_t))) goto done;
  const cJSON *mixture = cJSON_GetObjectItemCaseSensitive(p, "mixture");
  if (mixture) {
    if ((size_t)cJSON_GetArraySize(mixture) != K) {
      rc = ds_task_fail(ctx, DS_ESPEC, "mixture: %d weights for %zu teachers", cJSON_GetArraySize(mixture), K);
      goto done;
    }
    ds__get_nums(mixture, d.w, K);
  } else {
    for (k = 0; k < K; k++) d.w[k] = 1.0 / (double)K;
  }
  const char *mix = ds_param_str(p, "mix", "arithmetic");
  if (!strcmp(mix, "confidence")) d.mix = MIX_CONFIDENCE;
  else {
    ds_mix_t m = DS_MIX_ARITHMETIC;
    ds_mix_from_name(mix, &m);
    d.mix = (int)m;
  }
  const cJSON *dv = cJSON_GetObjectItemCaseSensitive(p, "divergence");
  ds_div_from_name("fkl", &d.div);
  if (dv && ds__div_parse(dv, &d.div, msg, sizeof msg)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "divergence%s", msg);
    goto done;
  }
  ds__div_watch(&d.div, ctx);
  d.T = ds_param_num(p, "temperature", 1);
  d.t2 = (int)ds_param_num(p, "t2", 0);
  const cJSON *lab = cJSON_GetObjectItemCaseSensitive(p, "labels");
  if (lab) {
    size_t rows, cols;
    if ((rc = ds__npy_load(lab->valuestring, &d.labels, &rows, &cols, msg, sizeof msg))) {
      rc = ds_task_fail(ctx, rc, "labels: %s", msg);
      goto done;
    }
    if (rows * cols != R) {
      rc = ds_task_fail(ctx, DS_ENPY, "labels: %s holds %zu values for %zu rows", lab->valuestring, rows * cols, R);
      goto done;
    }
  }

  d.n = d.kind == ST_FREE ? R * V : d.kind == ST_GAUSS ? R * (d.sigma_fixed > 0 ? 1 : 2) : V * d.dim + (d.bias ? V : 0);
  long steps = (long)ds_param_num(p, "steps", 1000);
  int restarts = (int)ds_param_num(p, "restarts", 1);
  ds__opt_kind_t ok = DS__OPT_ADAM;
  ds__opt_from_name(ds_param_str(p, "optimizer", "adam"), &ok);
  th = malloc(d.n * sizeof *th);
  best = malloc(d.n * sizeof *best);
  g = malloc(d.n * sizeof *g);
  z = malloc(V * sizeof *z);
  gz = malloc(V * sizeof *gz);
  tmp = malloc(V * sizeof *tmp);
  wrow = malloc(K * sizeof *wrow);
  tp = malloc(K * sizeof *tp);
  curve = malloc(200 * sizeof *curve);
  best_curve = malloc(200 * sizeof *best_curve);
  curve_step = malloc(200 * sizeof *curve_step);
  d.fq = malloc(V * sizeof *d.fq);
  d.fs = malloc(V * sizeof *d.fs);
  if (!th || !best || !g || !z || !gz || !tmp || !wrow || !tp || !curve || !best_curve || !curve_step || !d.fq ||
      !d.fs)
    goto oom;
  if ((rc = ds__opt_init(&opt, ok, d.n, ds_param_num(p, "lr", 0.05), ds_param_num(p, "clip", 0)))) goto oom;
  ds__backend_t bk;
  if ((rc = ds__backend_pick(ctx, "distill", R * V * K, 1, &bk))) goto done;
  fst.bk = &bk;
  int fast = bk.be && d.mix != MIX_CONFIDENCE && !(d.floor_s > 0);
  if (fast) {
    fst.tf = calloc(K, sizeof *fst.tf);
    fst.nt = fst.tf ? K : 0;
    fst.zf = malloc(R * V * sizeof *fst.zf);
    fst.gf = malloc(R * V * sizeof *fst.gf);
    if (!fst.tf || !fst.zf || !fst.gf) goto oom;
    if (d.kind == ST_FREE) {
      fst.mf = malloc(R * V * sizeof *fst.mf);
      fst.vf = malloc(R * V * sizeof *fst.vf);
      if (!fst.mf || !fst.vf) goto oom;
    }
    for (k = 0; k < K; k++) {
      if (!(fst.tf[k] = malloc(R * V * sizeof **fst.tf))) goto oom;
      for (size_t i = 0; i < R * V; i++) fst.tf[k][i] = (float)d.teacher[k][i];
    }
  }

  double best_loss = INFINITY;
  int n_curve = 0, best_n_curve = 0;
  for (int i = 0; i < restarts; i++) {
    init_start(&d, i, restarts, th, &rng_s);
    ds__opt_reset(&opt);
    n_curve = 0;
    double L = NAN;
    int f32 = fast && d.kind == ST_FREE;
    if (f32) {
      for (size_t j = 0; j < d.n; j++) fst.zf[j] = (float)th[j];
      memset(fst.mf, 0, d.n * sizeof *fst.mf);
      memset(fst.vf, 0, d.n * sizeof *fst.vf);
      fst.t = 0;
    }
    for (long s = 0; s <= steps; s++) {
      if ((s & 31) == 0 && (rc = ds_task_should_stop(ctx))) {
        rc = ds__stopped(ctx, rc, s);
        goto done;
      }
      if (fast) {
        int krc = 0;
        L = f32 ? loss_free_f32(&d, &fst, s < steps, &krc) : loss_grad_fast(&d, &fst, th, s < steps ? g : NULL, z, gz, &krc);
        if (krc) {
          rc = ds_task_fail(ctx, krc, "backend %s: %s", bk.name, ds_strerror(krc));
          goto done;
        }
      } else {
        L = loss_grad(&d, th, s < steps ? g : NULL, z, gz, tp, wrow, tmp);
      }
      /* A kernel that gave up on the trial's stop returns NaN: report the stop, not a divergence. */
      if (!isfinite(L) && (rc = ds_task_should_stop(ctx))) {
        rc = ds__stopped(ctx, rc, s);
        goto done;
      }
      if (ds__curve_point(s, steps) && n_curve < 200) {
        curve_step[n_curve] = s;
        curve[n_curve++] = L;
      }
      if (s == steps || !isfinite(L)) break;
      if (f32) {
        fst.t++;
        free_step_f32(d.n, fst.zf, fst.gf, fst.mf, fst.vf, ok == DS__OPT_ADAM, (float)opt.lr,
                      (float)(1 - pow(0.9, (double)fst.t)), (float)(1 - pow(0.999, (double)fst.t)), (float)opt.clip);
      } else {
        ds__opt_step(&opt, th, g);
      }
    }
    if (f32)
      for (size_t j = 0; j < d.n; j++) th[j] = fst.zf[j];
    if (isfinite(L) && (L < best_loss || isinf(best_loss))) {
      best_loss = L;
      memcpy(best, th, d.n * sizeof *best);
      memcpy(best_curve, curve, (size_t)n_curve * sizeof *curve);
      best_n_curve = n_curve;
    }
  }
  if (!isfinite(best_loss)) {
    rc = ds_task_fail(ctx, DS_ENANINF, "every start diverged (loss not finite)");
    goto done;
  }

  /* Metrics at T = 1 against the mixed teacher. */
  all_lq = malloc(R * V * sizeof *all_lq);
  all_lp = malloc(R * V * sizeof *all_lp);
  lp = malloc(V * sizeof *lp);
  lq = malloc(V * sizeof *lq);
  if (!all_lq || !all_lp || !lp || !lq) goto oom;
  double fkl = 0, rkl = 0, jsd = 0, tvd = 0, ent = 0, tent = 0, cov = 0, nmodes = 0, low = 0, agree = 0;
  for (size_t r = 0; r < R; r++) {
    for (k = 0; k < K; k++) tp[k] = d.teacher[k] + r * V;
    row_weights(&d, r, wrow, tmp);
    ds_ref_mix_logprob(V, K, tp, wrow, d.mix == MIX_CONFIDENCE ? DS_MIX_ARITHMETIC : (ds_mix_t)d.mix, 1.0, lp, tmp);
    student_logits(&d, best, r, z);
    student_floor(&d, z, 1.0);
    ds_ref_log_softmax(V, z, 1.0, lq);
    memcpy(all_lq + r * V, lq, V * sizeof *lq);
    memcpy(all_lp + r * V, lp, V * sizeof *lp);
    fkl += ds_ref_div_logprob(&ds__div_kl, V, lp, lq, NULL);
    rkl += ds_ref_div_logprob(&ds__div_kl, V, lq, lp, NULL);
    jsd += ds__jsd(V, lp, lq);
    tvd += ds_ref_div_logprob(&ds__div_tvd, V, lp, lq, NULL);
    ent += ds_ref_div_logprob(&ds__div_entropy, V, lq, lq, NULL);
    tent += ds_ref_div_logprob(&ds__div_entropy, V, lp, lp, NULL);
    double *t = tmp, *s = gz, tmax = 0;
    for (size_t i = 0; i < V; i++) {
      t[i] = exp(lp[i]);
      s[i] = exp(lq[i]);
      tmax = fmax(tmax, t[i]);
    }
    double nm, cv;
    modes(V, t, s, &nm, &cv);
    nmodes += nm;
    cov += cv;
    for (size_t i = 0; i < V; i++)
      if (t[i] < 0.1 * tmax) low += s[i];
    agree += ds__argmax(V, lp) == ds__argmax(V, lq);
  }
  double iR = 1.0 / (double)R;
  struct {
    const char *name;
    double v;
  } m[] = {{"fkl", fkl * iR},        {"rkl", rkl * iR},         {"jsd", jsd * iR},
           {"tvd", tvd * iR},        {"entropy", ent * iR},     {"teacher_entropy", tent * iR},
           {"modes_covered", cov * iR}, {"teacher_modes", nmodes * iR}, {"low_mass", low * iR},
           {"top1_agree", agree * iR}, {"loss", best_loss},      {"restarts_used", restarts}};
  for (size_t i = 0; i < sizeof m / sizeof *m && !rc; i++) rc = ds_result_metric(ctx->res, m[i].name, m[i].v);
  if (!rc && d.kind == ST_GAUSS) {
    size_t np = d.sigma_fixed > 0 ? 1 : 2;
    rc = ds_result_metric(ctx->res, "mu", best[0]);
    if (!rc) rc = ds_result_metric(ctx->res, "sigma", np == 2 ? exp(best[1]) : d.sigma_fixed);
  }
  if (!rc && d.labels) {
    ds__label_stats_t ls, lt;
    ds__label_metrics(R, V, all_lq, d.labels, &ls);
    ds__label_metrics(R, V, all_lp, d.labels, &lt);
    rc = ds_result_metric(ctx->res, "accuracy", ls.accuracy);
    if (!rc) rc = ds_result_metric(ctx->res, "confidence", ls.confidence);
    if (!rc) rc = ds_result_metric(ctx->res, "ece", ls.ece);
    if (!rc) rc = ds_result_metric(ctx->res, "teacher_accuracy", lt.accuracy);
    if (!rc) rc = ds_result_metric(ctx->res, "teacher_ece", lt.ece);
  }
  for (int i = 0; i < best_n_curve && !rc; i++) rc = ds_result_curve(ctx->res, curve_step[i], "loss", best_curve[i]);
  goto done;
oom:
  rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
done:
  for (size_t j = 0; j < fst.nt; j++) free(fst.tf[j]);
  free(fst.tf);
  free(fst.zf);
  free(fst.gf);
  free(fst.mf);
  free(fst.vf);
  ds__opt_free(&opt);
  distill_free(&d);
  free(th);
  free(best);
  free(g);
  free(z);
  free(gz);
  free(tmp);
  free(wrow);
  free((void *)tp);
  free(lp);
  free(lq);
  free(all_lq);
  free(all_lp);
  free(curve);
  free(best_curve);
  free(curve_step);
  return rc;
}

/* ---- checks ------------------------------------------------------------------------------- */

static int check_teacher(const cJSON *t, char *err, size_t err_len) {
  if (!cJSON_IsObject(t)) return ds_check_fail(err, err_len, "", "expected a teacher object ({\"bumps\": ...}, {\"box\": ...}, {\"random\": ...} or {\"npy\": ...})");
  int kinds = 0;
  for (const cJSON *c = t->child; c; c = c->next) {
    char sfx[64];
    snprintf(sfx, sizeof sfx, ".%s", c->string);
    if (!strcmp(c->string, "floor")) {
      if (ds_check_num(c, 0, 1, 1, 1, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a number in [0, 1]");
    } else if (!strcmp(c->string, "bumps")) {
      kinds++;
      if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) < 1)
        return ds_check_fail(err, err_len, sfx, "expected a non-empty list of [mu, sigma, weight]");
      int i = 0;
      for (const cJSON *b = c->child; b; b = b->next, i++) {
        char s2[96];
        snprintf(s2, sizeof s2, "%s[%d]", sfx, i);
        if (ds__check_nums(b, 3, err, err_len)) return ds_check_fail(err, err_len, s2, "expected [mu, sigma, weight]");
        double v[3];
        ds__get_nums(b, v, 3);
        if (!(v[1] > 0)) return ds_check_fail(err, err_len, s2, "sigma must be > 0");
        if (!(v[2] >= 0)) return ds_check_fail(err, err_len, s2, "weight must be >= 0");
      }
    } else if (!strcmp(c->string, "box")) {
      kinds++;
      double v[2];
      if (ds__check_nums(c, 2, err, err_len) || (ds__get_nums(c, v, 2), v[0] < 0 || v[0] != floor(v[0]) || v[1] < 1 ||
                                                 v[1] != floor(v[1])))
        return ds_check_fail(err, err_len, sfx, "expected [first token, width] (integers, width >= 1)");
    } else if (!strcmp(c->string, "random")) {
      kinds++;
      if (!cJSON_IsObject(c)) return ds_check_fail(err, err_len, sfx, "expected {\"scale\": s}");
      for (const cJSON *e = c->child; e; e = e->next) {
        if (strcmp(e->string, "scale")) return ds_check_fail(err, err_len, sfx, "unknown key \"%s\" (expected scale)", e->string);
        if (ds_check_num(e, 0, 1e6, 1, 1, err, err_len)) return ds_check_fail(err, err_len, ".random.scale", "expected a number in [0, 1e6]");
      }
    } else if (!strcmp(c->string, "npy")) {
      kinds++;
      if (!cJSON_IsString(c) || !c->valuestring[0]) return ds_check_fail(err, err_len, sfx, "expected a file name");
    } else {
      return ds_check_fail(err, err_len, sfx, "unknown key (a teacher has one of bumps, box, random, npy, and floor)");
    }
  }
  if (kinds != 1) return ds_check_fail(err, err_len, "", "a teacher needs exactly one of bumps, box, random, npy");
  return 0;
}

static int check_student(const cJSON *v, char *err, size_t err_len) {
  if (!cJSON_IsObject(v)) return ds_check_fail(err, err_len, "", "expected {\"kind\": \"free\" | \"gaussian\" | \"linear\", ...}");
  const char *kind = ds_param_str(v, "kind", "");
  int kd = !strcmp(kind, "free") ? ST_FREE : !strcmp(kind, "gaussian") ? ST_GAUSS : !strcmp(kind, "linear") ? ST_LINEAR : -1;
  if (kd < 0) return ds_check_fail(err, err_len, ".kind", "expected \"free\", \"gaussian\" or \"linear\"");
  for (const cJSON *c = v->child; c; c = c->next) {
    char sfx[64];
    snprintf(sfx, sizeof sfx, ".%s", c->string);
    const char *k = c->string;
    if (!strcmp(k, "kind")) continue;
    if (!strcmp(k, "floor")) {
      if (ds_check_num(c, 0, 1, 1, 0, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a number in [0, 1)");
    } else if (kd == ST_GAUSS && (!strcmp(k, "sigma") || !strcmp(k, "sigma0"))) {
      if (ds_check_num(c, 0, 1e9, 0, 1, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a number > 0");
    } else if (kd == ST_GAUSS && !strcmp(k, "mu0")) {
      if (ds_check_num(c, -1e9, 1e9, 1, 1, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a number");
    } else if (kd == ST_LINEAR && !strcmp(k, "features")) {
      if (!cJSON_IsString(c) || !c->valuestring[0]) return ds_check_fail(err, err_len, sfx, "expected a file name");
    } else if (kd == ST_LINEAR && !strcmp(k, "dim")) {
      if (ds_check_int(c, 1, 4096, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected an integer in 1..4096");
    } else if (kd == ST_LINEAR && !strcmp(k, "bias")) {
      if (!cJSON_IsBool(c)) return ds_check_fail(err, err_len, sfx, "expected true or false");
    } else {
      return ds_check_fail(err, err_len, sfx, "unknown key for a %s student", kind);
    }
  }
  return 0;
}

static int distill_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "vocab")) return ds_check_int(v, 1, 1 << 20, err, err_len);
  if (!strcmp(key, "rows")) return ds_check_int(v, 1, 1 << 20, err, err_len);
  if (!strcmp(key, "steps")) return ds_check_int(v, 0, 1e8, err, err_len);
  if (!strcmp(key, "restarts")) return ds_check_int(v, 1, 10000, err, err_len);
  if (!strcmp(key, "lr")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "clip")) return ds_check_num(v, 0, 1e9, 1, 1, err, err_len);
  if (!strcmp(key, "temperature")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "t2")) {
    if (!cJSON_IsBool(v) && ds_check_int(v, 0, 1, err, err_len)) return ds_check_fail(err, err_len, "", "expected true or false");
    return 0;
  }
  if (!strcmp(key, "divergence")) return ds__div_parse(v, NULL, err, err_len);
  if (!strcmp(key, "optimizer")) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "adam") && strcmp(v->valuestring, "gd")))
      return ds_check_fail(err, err_len, "", "expected \"adam\" or \"gd\"");
    return 0;
  }
  if (!strcmp(key, "mix")) {
    ds_mix_t m;
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "confidence") && ds_mix_from_name(v->valuestring, &m)))
      return ds_check_fail(err, err_len, "", "expected \"arithmetic\", \"geometric\", \"loss\" or \"confidence\"");
    return 0;
  }
  if (!strcmp(key, "mixture")) return ds__check_nums(v, 0, err, err_len);
  if (!strcmp(key, "labels")) {
    if (!cJSON_IsString(v) || !v->valuestring[0]) return ds_check_fail(err, err_len, "", "expected a .npy file name");
    return 0;
  }
  if (!strcmp(key, "student")) return check_student(v, err, err_len);
  if (!strcmp(key, "teachers")) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1) return ds_check_fail(err, err_len, "", "expected a non-empty list of teachers");
    int i = 0;
    for (const cJSON *t = v->child; t; t = t->next, i++) {
      char inner[400];
      if (check_teacher(t, inner, sizeof inner)) {
        const char *colon = strstr(inner, ": ");
        char sfx[128];
        snprintf(sfx, sizeof sfx, "[%d]%.*s", i, colon ? (int)(colon - inner) : 0, inner);
        return ds_check_fail(err, err_len, sfx, "%s", colon ? colon + 2 : inner);
      }
    }
    return 0;
  }
  return ds_check_fail(err, err_len, "", "unknown parameter for task distill");
}

const ds_task_t ds_task_distill = {"distill", distill_run, distill_check};
