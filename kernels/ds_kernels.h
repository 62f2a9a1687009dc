/* ds_kernels.h — public API of the divsweep kernel library (pure compute; no MPI, libuv, SQLite).
 *
 * Conventions (../shared/DESIGN.md §5, ../shared/reference/kernels.md):
 *   p is the teacher (or reference policy), q the student (or policy); D(p‖q) is named from p to q.
 *   Inputs are logits.  The teacher logits are divided by t_teacher, the student's by t_student.
 *   With t2 set the loss (and gradient) is multiplied by t_student².  Gradients are always
 *   d loss / d raw student logits (so they carry 1/t_student, and sum to zero over a row).
 *
 * Two tiers, in the ggml pattern:
 *   - ds_ref_*: scalar double-precision reference, one row at a time, written for clarity and never
 *     optimised.  Tasks with small vocabularies call it directly; every backend is tested against it.
 *   - ds_kern_*: batched fp32 kernels behind a backend vtable ("ref", "cpu", and "cuda" when built
 *     with it), fused forward+backward, rows split deterministically over threads.
 *
 * Ownership: the library never keeps a pointer passed to it past the call and never allocates
 * memory the caller must free, except where a function says so.  All functions are thread-safe.
 * Global state: the "cpu" backend's ISA choice (fixed on the first ds_kern_backend_get()) and its
 * persistent thread pool (one caller at a time; a concurrent caller runs on per-call threads, and
 * the split, hence every result, is the same either way); the "cuda" backend's per-device state.
 */
#ifndef DS_KERNELS_H
#define DS_KERNELS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Divergence descriptors -------------------------------------------------------------- */

typedef enum {
  DS_DIV_FKL = 0,   /* KL(p‖q) */
  DS_DIV_RKL,       /* KL(q‖p) */
  DS_DIV_JSD,       /* beta·KL(p‖m) + (1−beta)·KL(q‖m), m = beta·p + (1−beta)·q */
  DS_DIV_SKL,       /* KL(p‖alpha·p + (1−alpha)·q) */
  DS_DIV_SRKL,      /* KL(q‖(1−alpha)·p + alpha·q) */
  DS_DIV_TVD,       /* ½ Σ|p−q| */
  DS_DIV_HELLINGER, /* H² = 1 − Σ√(pq) */
  DS_DIV_CHI2,      /* Σ(p−q)²/q */
  DS_DIV_CHI2N,     /* Σ(q−p)²/p */
  DS_DIV_RENYI,     /* (alpha−1)⁻¹ log Σ p^alpha q^(1−alpha) */
  DS_DIV_AMARI,     /* (1 − Σ p^alpha q^(1−alpha)) / (alpha(1−alpha)) */
  DS_DIV_AB,        /* alpha-beta divergence (Cichocki) with its degenerate cases */
  DS_DIV_CS,        /* −log Σpq + ½ log Σp² + ½ log Σq² */
  DS_DIV_WMIX,      /* w·KL(p‖q) + (1−w)·KL(q‖p) */
  DS_DIV_W1,        /* (1/V) Σ_{k<V−1} |F_p(k) − F_q(k)|: W1 under the ordinal cost |i−j|/V */
  DS_DIV_SINKHORN,  /* entropic OT ⟨P,C⟩ + ε·KL(P‖p⊗q), log domain, epsilon-scaling; O(V²) */
  DS_DIV_ENTROPY,   /* H(q) = −Σ q log q (teacher ignored) */
  DS_DIV__COUNT
} ds_div_kind_t;

typedef enum { DS_COST_ORDINAL = 0, DS_COST_01, DS_COST_MATRIX } ds_cost_kind_t;

/* A divergence with its parameters.  Plain data: copy freely.  Unused fields are ignored. */
typedef struct ds_div {
  ds_div_kind_t kind;
  double alpha;      /* skl, srkl, renyi, amari, ab */
  double beta;       /* jsd, ab */
  double w;          /* wmix */
  double epsilon;    /* sinkhorn */
  ds_cost_kind_t cost;        /* sinkhorn */
  const double *cost_matrix;  /* sinkhorn with DS_COST_MATRIX: V×V row-major, borrowed */
  /* Cooperative stop for the iterative kernels (sinkhorn: one call at ε = 0.01, V = 32000 ran
   * 40 s).  When stop is non-NULL and *stop becomes non-zero, or deadline > 0 and the
   * CLOCK_MONOTONIC time in seconds passes it, the call gives up within a few iterations and
   * returns NaN (the caller asks its own stop check why).  Both borrowed; read from any thread. */
  const volatile sig_atomic_t *stop;
  double deadline;
} ds_div_t;

/* Fills *out with the divergence called `name` ("fkl", "amari", ...) and its default parameters.
 * Returns 0, or DS_EINVAL for an unknown name (*out untouched). */
int ds_div_from_name(const char *name, ds_div_t *out);
/* Canonical name of a kind ("fkl", ...); "?" for an invalid kind. */
const char *ds_div_name(ds_div_kind_t kind);
/* Sets parameter `key` ("alpha", "beta", "w", "epsilon") of d.  DS_EINVAL if the divergence has no
 * such parameter. */
int ds_div_set_param(ds_div_t *d, const char *key, double value);
/* Checks that the parameters lie in the divergence's domain.  On failure returns DS_EINVAL and
 * writes a one-line reason naming the parameter into err (if err_len > 0). */
int ds_div_check(const ds_div_t *d, char *err, size_t err_len);

/* Like ds_div_set_param but from text (the CLI's --param k=v): numeric keys parse with strtod;
 * "cost" takes "ordinal" or "01" (sinkhorn only; a matrix is set by the caller in cost_matrix).
 * DS_EINVAL for an unknown key or unparsable value (*d untouched then). */
int ds_div_set_param_str(ds_div_t *d, const char *key, const char *value);
/* Writes the divergence's parameters as a JSON object ("{}" when it has none, e.g.
 * {"alpha": 0.5}) into buf.  DS_EINVAL if buf is too small (buf then holds a truncated string). */
int ds_div_params_json(const ds_div_t *d, char *buf, size_t len);

typedef enum { DS_MIX_ARITHMETIC = 0, DS_MIX_GEOMETRIC, DS_MIX_LOSS } ds_mix_t;
/* Reductions: batchmean ÷ active rows (rows whose row_mask is set; at least 1), sum, mean ÷
 * (active rows · V), none (loss = Σ row losses and the gradient is that of the sum). */
typedef enum { DS_RED_BATCHMEAN = 0, DS_RED_SUM, DS_RED_MEAN, DS_RED_NONE } ds_reduction_t;

/* Name -> enum for mixtures ("arithmetic", "geometric", "loss"), name <-> enum for reductions
 * ("batchmean", "sum", "mean", "none").  *_from_name return 0 or DS_EINVAL; *_name return static
 * strings. */
int ds_mix_from_name(const char *name, ds_mix_t *out);
const char *ds_mix_name(ds_mix_t m);
int ds_reduction_from_name(const char *name, ds_reduction_t *out);
const char *ds_reduction_name(ds_reduction_t r);

/* ---- Reference tier (double, one row) ---------------------------------------------------- */

/* D(p‖q) for one row given normalised log-probabilities logp, logq (length V, −inf allowed).
 * If dlogq is not NULL, writes ∂D/∂log q_j treated as free inputs (the "h" of kernels.md §1.2).
 * Returns the divergence value. */
double ds_ref_div_logprob(const ds_div_t *d, size_t V, const double *logp, const double *logq,
                          double *dlogq);

/* One row from logits: K teachers (teacher[k] has V logits) mixed by `weights` under `mix`,
 * student logits z.  Applies temperatures and t2 as described above.  If grad is not NULL,
 * writes d loss / d z (length V).  Returns the row loss. */
double ds_ref_div_row(const ds_div_t *d, size_t V, size_t K, const double *const *teacher,
                      const double *weights, ds_mix_t mix, const double *z, double t_teacher,
                      double t_student, int t2, double *grad);

/* Mixed teacher log-probabilities of one row at temperature t_teacher into out (length V): K == 1
 * is log_softmax(teacher[0]/T) (weights ignored); DS_MIX_GEOMETRIC log_softmax(Σ_k w_k t_k / T);
 * DS_MIX_ARITHMETIC and DS_MIX_LOSS log Σ_k w_k softmax(t_k/T) by a running two-term LSE, teachers
 * with w_k ≤ 0 (or NaN) skipped.  This is the teacher side of ds_ref_div_row.  tmp is caller-owned
 * scratch of V doubles.  Never fails; thread-safe. */
void ds_ref_mix_logprob(size_t V, size_t K, const double *const *teacher, const double *weights, ds_mix_t mix,
                        double t_teacher, double *out, double *tmp);

/* log_softmax(x / T) into out (length V), double; returns the log-sum-exp of x/T. */
double ds_ref_log_softmax(size_t V, const double *x, double T, double *out);

/* ---- Batched tier (fp32 in, backends) ---------------------------------------------------- */

/* Element type of the teacher and student logits.  DS_DTYPE_BF16 is read by the "cuda" backend only
 * (ref and cpu answer DS_EUNSUP): the teacher/student pointers then point at bfloat16 data (raw
 * 16-bit patterns, cast to const float *), converted to fp32 on load.  Gradients stay fp32. */
typedef enum { DS_DTYPE_F32 = 0, DS_DTYPE_BF16 } ds_dtype_t;

typedef struct ds_kern_args {
  const ds_div_t *div;
  size_t rows, vocab;               /* logits are [rows][vocab], C order */
  size_t n_teachers;                /* K >= 1 */
  const float *const *teacher;      /* K pointers to [rows][vocab] */
  const double *weights;            /* K mixture weights (NULL when K == 1) */
  ds_mix_t mix;
  const float *student;             /* [rows][vocab] */
  double t_teacher, t_student;
  int t2;
  ds_reduction_t reduction;
  const uint8_t *row_mask;          /* NULL, or rows entries: 0 = ignore the row */
  int threads;                      /* <= 0: library default (ignored by "cuda") */
  ds_dtype_t dtype;                 /* last, so positional initialisers that omit it get fp32 */
} ds_kern_args_t;

typedef struct ds_kern_out {
  double loss;       /* reduced loss (for DS_RED_NONE: the sum of row losses) */
  double *row_loss;  /* optional, caller-owned [rows]: per-row loss before reduction */
  float *grad;       /* optional, caller-owned [rows][vocab]: d reduced loss / d student logits */
} ds_kern_out_t;

typedef struct ds_backend ds_backend_t; /* opaque; static storage, never freed */

/* Backend by name: "ref" (reference, looped over rows), "cpu" (SIMD + threads, ISA picked once
 * from CPU features), "cuda" when built with CUDA (DS_CUDA) and a device and driver exist (the
 * probe runs once; no device or no driver gives NULL, never a crash).  NULL or "auto" gives "cpu":
 * callers of this API hold host memory, and whether a trial should move to a GPU is the task
 * layer's decision (trial.device).  Returns NULL if the backend is unknown or unavailable.
 * The "cuda" backend accepts host or device pointers (each buffer independently: device buffers
 * are used in place, host ones staged through device memory) and synchronises before returning. */
const ds_backend_t *ds_kern_backend_get(const char *name);
/* Name of a backend, e.g. "cpu-avx2". */
const char *ds_kern_backend_name(const ds_backend_t *be);
/* Whether the backend runs these arguments on its fast path (1), only through a per-row double
 * fallback (0), or not at all (DS_EUNSUP/DS_EINVAL).  Used by tests and the bench report. */
int ds_kern_supports(const ds_backend_t *be, const ds_kern_args_t *a);

/* Fused forward+backward.  Returns 0, DS_EINVAL for bad arguments, DS_EUNSUP if the backend lacks
 * this divergence/mixture, DS_ENOMEM. */
int ds_kern_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out);

/* ---- Flat entry point (libdivsweep_kernels.so, Python's ctypes) ------------------------- */

/* Fused forward+backward from names and plain pointers; the C form of divsweep.kernels.divergence.
 * backend "cpu" (NULL or "" too), "ref" or "cuda"; div a name of ds_div_from_name; params NULL or
 * "key=value,key=value" as ds_div_set_param_str; mix and reduction names (NULL: arithmetic,
 * batchmean); dtype a ds_dtype_t value.  teacher, weights, student, row_mask, threads as in
 * ds_kern_args_t; the temperatures must be > 0.  Writes the reduced loss into *loss and, where
 * not NULL, row_loss[rows] and grad[rows][vocab].  Returns 0, or DS_EINVAL / DS_EUNSUP / DS_ENOMEM
 * with a one-line reason in err (err_len > 0).  Non-finite logits are not checked: they propagate
 * into the loss (NaN) as in ds_kern_fwd_bwd.  Thread-safe. */
int ds_div_run(const char *backend, const char *div, const char *params, size_t rows, size_t vocab,
               size_t n_teachers, const float *const *teacher, const double *weights, const char *mix,
               const float *student, double t_teacher, double t_student, int t2,
               const char *reduction, const uint8_t *row_mask, int threads, int dtype, double *loss,
               double *row_loss, float *grad, char *err, size_t err_len);

/* ---- CUDA device API (present in every build) ------------------------------------------- */

/* Number of CUDA devices this process can use; 0 when built without CUDA, without a driver or
 * without a device.  Thread-safe. */
int ds_kern_cuda_device_count(void);
/* Makes `device` the one the "cuda" backend runs on (from any thread, for the rest of the
 * process); call it once at start-up, before kernels run (workers: node-local rank % count).
 * Returns 0, DS_EUNSUP (no CUDA build or no device), DS_EINVAL (index out of range), DS_EIO. */
int ds_kern_cuda_bind(int device);
/* Writes the device's model name ("NVIDIA H100 80GB HBM3") into buf.  0, DS_EUNSUP, DS_EINVAL. */
int ds_kern_cuda_device_name(int device, char *buf, size_t len);
/* Device memory on the bound device for callers that keep inputs resident (the benchmark):
 * alloc returns NULL on failure or without CUDA; free accepts NULL; copy moves bytes in any
 * direction (host↔device, by address) and returns 0, DS_EUNSUP or DS_EIO. */
void *ds_kern_cuda_alloc(size_t bytes);
void ds_kern_cuda_free(void *p);
int ds_kern_cuda_copy(void *dst, const void *src, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* DS_KERNELS_H */
