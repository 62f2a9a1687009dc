/* ds__backend.h — kernel-library-private backend contract (the ggml-backend-impl.h of divsweep).
 *
 * A backend is a static, immutable struct.  ds_kern_fwd_bwd() validates the arguments once and
 * then calls be->fwd_bwd, which owns the whole batch: the CPU backends split rows over threads
 * with ds__kern_run_rows(); the CUDA backend (kernels/cuda/div.cu) launches one kernel over the
 * batch and fills the same outputs.  Invariants every backend keeps:
 *   - out->row_loss[r] (when given) is the row's loss after t2 and before the reduction;
 *     masked rows have loss 0 and a zero gradient;
 *   - out->grad is d(reduced loss)/d(student logits) with the reduction's scale folded in;
 *   - out->loss is the reduction of the row losses, summed in row order (deterministic).
 */
#ifndef DS__BACKEND_H
#define DS__BACKEND_H

#include "ds_kernels.h"

struct ds_backend {
  const char *name;   /* "ref", "cpu-avx512", "cuda" */
  const char *family; /* "ref", "cpu", "cuda": what ds_kern_backend_get matches besides name */
  /* 1: fast path; 0: runs through a slower per-row fallback; <0: DS_EUNSUP/DS_EINVAL. */
  int (*supports)(const ds_backend_t *be, const ds_kern_args_t *a);
  /* Arguments already validated.  Returns 0 or a DS_E* code. */
  int (*fwd_bwd)(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out);
  const void *ctx; /* backend data (the CPU ISA table), static */
};

/* One row, run by a CPU-side backend on thread `tid`: writes the row loss (with t2) to *loss and,
 * if grad is not NULL, grad[0..V) = gscale · d(row loss)/d(student logits).  scratch is this
 * thread's 64-byte aligned buffer of ds__row_scratch_bytes(a) bytes. */
typedef int (*ds__row_fn)(const ds_backend_t *be, const ds_kern_args_t *a, size_t r, double gscale,
                          float *grad, double *loss, void *scratch);

/* Runs fn over all rows, threads split into contiguous row ranges (deterministic), applies the
 * row mask and the reduction.  scratch_bytes per thread. */
int ds__kern_run_rows(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out,
                      ds__row_fn fn, size_t scratch_bytes);

/* The reference row (double) on fp32 inputs; scratch needs ds__ref_row_scratch(a) bytes. */
int ds__kern_ref_row(const ds_backend_t *be, const ds_kern_args_t *a, size_t r, double gscale,
                     float *grad, double *loss, void *scratch);
size_t ds__ref_row_scratch(const ds_kern_args_t *a);

/* Largest vocabulary sinkhorn with a cost matrix accepts in the batched tier (O(V²) per
 * iteration); the ordinal and 0/1 costs are O(V) per iteration and have no limit. */
#define DS__SINKHORN_MAX_V 4096
#define DS__SINKHORN_TOO_BIG(a)                                               \
  ((a)->div->kind == DS_DIV_SINKHORN && (a)->div->cost == DS_COST_MATRIX && \
   (a)->vocab > DS__SINKHORN_MAX_V)

/* Backends defined in their own files. */
extern const ds_backend_t ds__backend_ref;
const ds_backend_t *ds__cpu_backend_get(const char *name); /* cpu.c: "cpu" or "cpu-<isa>" */
const char *const *ds__cpu_backend_names(void);
#ifdef DS_HAVE_CUDA
/* cuda/div.cu: the "cuda" backend, or NULL when no device/driver is usable (probed once). */
const ds_backend_t *ds__cuda_backend_get(void);
#endif

#endif /* DS__BACKEND_H */
