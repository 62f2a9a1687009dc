/* ds__tasks.h — helpers shared by the science tasks (distill, rlvr, fdpo, logits); internal to
 * worker/.
 *
 * Everything here is double precision and single-threaded; the tasks' vocabularies are small
 * (tens to thousands of tokens), so clarity beats speed.  Functions that can fail return 0 or a
 * negative DS_E* code and write a one-line reason into err; they never keep a pointer they were
 * given.  Arrays they allocate are owned by the caller (free()).
 */
#ifndef DS__TASKS_H
#define DS__TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "ds_kernels.h"
#include "ds_npy.h"
#include "ds_rl.h"
#include "ds_task.h"

/* ---- Kernel backend of a trial (trial.backend) ------------------------------------------------ */

/* "auto" runs the reference (float64, ds_ref_*) below this many elements (rows × vocab of the
 * trial's main kernel call) — exactness is free there, and the shipped experiments, whose closed
 * forms hold to 1e-14, are all far below it (the largest, X13, has 3 × 20,000) — and the fast
 * path ("cuda" on a rank with a bound GPU when the task has a CUDA path, else "cpu") at or above. */
#define DS__AUTO_MIN_ELEMS ((size_t)1 << 18)
/* rlvr (grpo) and fdpo lay their tokens out as rows of the policy's logits, two fp32 buffers of
 * this many elements at most (2 × 512 MiB) under "auto"; above it "auto" keeps them on "ref", which
 * needs no such buffers ("cpu" by name still tries, and fails with "out of memory" if it must). */
#define DS__AUTO_MAX_TOKEN_ELEMS ((size_t)1 << 27)

/* Backend codes recorded per trial as the metric backend_id (metrics are numbers); cpu_isa_id is
 * 0 (not a CPU backend), 1 generic, 2 avx2, 3 avx512; kernel_threads the thread count used. */
enum { DS__BACKEND_REF = 0, DS__BACKEND_CPU = 1, DS__BACKEND_CUDA = 2 };

typedef struct ds__backend {
  const ds_backend_t *be;  /* NULL: the double reference (ds_ref_*) in the task's own loop */
  int id, isa, threads;
  char name[24];           /* "ref", "cpu-avx2", "cuda" */
} ds__backend_t;

/* Chooses the trial's backend from ctx->backend ("auto" when NULL), the problem size `elems`, the
 * rank's GPU and whether the task has a CUDA path, by the rule above, and records backend_id,
 * cpu_isa_id and kernel_threads in ctx->res.  "cuda" without a usable GPU (or for a task without
 * a CUDA path) fails the trial with one line: DS_EUNSUP through ds_task_fail(). */
int ds__backend_pick(ds_task_ctx_t *ctx, const char *task, size_t elems, int has_cuda_path, ds__backend_t *out);

/* ---- Parameters ----------------------------------------------------------------------------- */

/* A divergence written "fkl" or {"name": "amari", "alpha": 0.25}: fills *out (defaults for absent
 * parameters) and checks its domain.  On failure returns DS_ESPEC with "<suffix>: message" in err,
 * the suffix a JSON path relative to v ("", ".alpha"), as the task check() contract wants. */
int ds__div_parse(const cJSON *v, ds_div_t *out, char *err, size_t err_len);
/* Hands the trial's stop flag and deadline to d's iterative kernels (see ds_div_t.stop), so a
 * sinkhorn call inside one step still ends near timeout_s under isolation "thread". */
void ds__div_watch(ds_div_t *d, const ds_task_ctx_t *ctx);

/* Checks that v is a list of exactly n finite numbers (n == 0: any positive length).  "<suffix>:"
 * message as above. */
int ds__check_nums(const cJSON *v, size_t n, char *err, size_t err_len);
/* Copies the numbers of list v into out (at most n). Returns how many were copied. */
size_t ds__get_nums(const cJSON *v, double *out, size_t n);

/* Optimiser names: "gd", "adam", "newton", "mirror".  DS_EINVAL for others. */
typedef enum { DS__OPT_GD = 0, DS__OPT_ADAM, DS__OPT_NEWTON, DS__OPT_MIRROR } ds__opt_kind_t;
int ds__opt_from_name(const char *name, ds__opt_kind_t *out);

/* ---- First-order optimisers (minimisation) -------------------------------------------------- */

/* gd: x ← x − lr·g.  adam: the usual bias-corrected Adam (β1 0.9, β2 0.999, ε 1e-8).  When
 * clip > 0 each coordinate's step is clamped to [−clip, clip] after the rule is applied. */
typedef struct ds__opt {
  ds__opt_kind_t kind;
  size_t n;
  double lr, clip;
  double *m, *v;
  long t;
} ds__opt_t;

int ds__opt_init(ds__opt_t *o, ds__opt_kind_t kind, size_t n, double lr, double clip);
/* Resets the moment estimates (a new restart). */
void ds__opt_reset(ds__opt_t *o);
/* One step on x given the gradient g of the loss being minimised (g may be overwritten). */
void ds__opt_step(ds__opt_t *o, double *x, const double *g);
void ds__opt_free(ds__opt_t *o);

/* ---- Damped Newton (Levenberg–Marquardt) with a finite-difference Hessian -------------------- */

/* Objective to minimise: returns f(x) and writes ∇f(x) into grad (length n). */
typedef double (*ds__objective_fn)(void *arg, const double *x, double *grad);
/* For x made of softmax logit blocks: writes each coordinate's probability π_i (length n). */
typedef void (*ds__probs_fn)(void *arg, const double *x, double *pi);

/* Minimises f from x (updated in place).  Two phases:
 *   1. when probs is given (x are logits of softmax blocks and f is convex in the probabilities,
 *      as every f-regularised objective here is), mirror descent — the natural-gradient step
 *      x ← x − η·∇f/π, η doubling after a success and quartering after a failure — until five
 *      successive steps change f by less than 1e-14 relative (at most 20,000 steps).  It follows
 *      the probability simplex, so a near-deterministic optimum is reached without the plateaus
 *      that trap steps taken in logit space;
 *   2. at most max_iter damped Newton steps: the Hessian is the central difference of the exact
 *      gradient (step 1e-5), symmetrised; the step solves (H + μ·max|H_ii|·I)Δ = −∇f by Cholesky,
 *      capped at 2 per coordinate (trust region), μ rising ×10 while H + μI is not positive
 *      definite or the step does not help (f lower, or f equal to rounding and ‖∇f‖ lower) and
 *      falling ÷10 after a success.  A softmax's shift invariance is harmless: ∇f has no
 *      component along it.  Stops early when a step no longer changes x (‖Δ‖∞ ≤ 1e-15·(1+‖x‖∞))
 *      or ∇f is zero.
 * Calls ds_task_should_stop() regularly; returns 0, its code, DS_ENOMEM, or DS_EINVAL (n = 0 or
 * n > 2048).  *iters_out = Newton steps taken. */
int ds__newton(ds__objective_fn f, ds__probs_fn probs, void *arg, size_t n, double *x, long max_iter,
               ds_task_ctx_t *ctx, long *iters_out);

/* ---- Distributions -------------------------------------------------------------------------- */

/* Descriptors for the metrics, computed by the kernels' reference ds_ref_div_logprob (NULL h):
 *   ds_ref_div_logprob(&ds__div_kl, V, la, lb, NULL)      = KL(a‖b)  (0·log 0 = 0; +inf where b = 0 < a)
 *   ds_ref_div_logprob(&ds__div_tvd, V, la, lb, NULL)     = ½ Σ|a − b|
 *   ds_ref_div_logprob(&ds__div_entropy, V, lq, lq, NULL) = H(q)     (the first argument is ignored) */
extern const ds_div_t ds__div_kl, ds__div_tvd, ds__div_entropy;
/* ½KL(a‖m) + ½KL(b‖m), m = ½(a + b) (DESIGN's jsd at beta ½). */
double ds__jsd(size_t V, const double *la, const double *lb);
/* Index of the largest entry (first on ties). */
size_t ds__argmax(size_t V, const double *x);

/* Mixed teacher log-probs: ds_ref_mix_logprob (kernels/ds_kernels.h); DS_MIX_LOSS is reported as
 * the arithmetic mixture. */

/* ---- Files ---------------------------------------------------------------------------------- */

/* Reads a .npy (float32 or float64, C order, 1-D or 2-D; worker/ds_npy.h) into a malloc'd double
 * array, keeping float64 files exact.  *rows is 1 for a 1-D array.  DS_EIO / DS_ENPY / DS_ENOMEM
 * with a message naming the path. */
int ds__npy_load(const char *path, double **data, size_t *rows, size_t *cols, char *err, size_t err_len);

/* A rank's shared read-only mapping of a .npy file (ds_npy_map's refusals apply): trials of the
 * same file reuse one mapping while the file is unchanged.  Thread-safe.  Release with
 * ds__npy_close.  ds__npy_maps_made counts the mappings ever made (for tests). */
int ds__npy_open(const char *path, const ds_npy_map_t **out, char *err, size_t err_len);
void ds__npy_close(const ds_npy_map_t *m);
unsigned long ds__npy_maps_made(void);

/* Label metrics against integer class labels (one per row): accuracy of argmax lp, mean top-label
 * confidence, top-label ECE with 15 equal-width bins, and mean probability of the label (the
 * sampled pass@1).  lp is [rows][V] log-probs. */
typedef struct ds__label_stats {
  double accuracy, confidence, ece, label_prob;
} ds__label_stats_t;
void ds__label_metrics(size_t rows, size_t V, const double *lp, const double *labels, ds__label_stats_t *out);

/* ---- Curves --------------------------------------------------------------------------------- */

/* Whether step s (0-based) is one of the log-spaced curve points: 0, and round(10^(j/8)) for
 * j = 0, 1, ... (deduplicated), plus the last step (last). */
int ds__curve_point(long s, long last);

/* Standard normal draw from the splitmix generator in *st. */
double ds__gauss(uint64_t *st);

/* Fails the task with the stop code from ds_task_should_stop() and a message naming the step. */
int ds__stopped(ds_task_ctx_t *ctx, int rc, long step);

/* In a freshly forked child (task.c): every signal back to its default disposition and none
 * blocked; every fd from lowfd up closed. */
void ds__child_reset_signals(void);
void ds__close_from(int lowfd);

#endif /* DS__TASKS_H */
