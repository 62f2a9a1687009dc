/* ds__cpu.h — private contract between the CPU backend (cpu.c) and its per-ISA translation units
 * (cpu_generic.c, cpu_avx2.c, cpu_avx512.c), each compiled with its own flags from the one body in
 * cpu_impl.h.  cpu.c picks one table once, by CPU features, and never branches on the ISA again.
 */
#ifndef DS__CPU_H
#define DS__CPU_H

#include <stddef.h>
#include "ds_kernels.h"

/* One row of a fast-path divergence against one (already mixed) teacher row.
 * t: teacher logits or log-probs (scaled by inv_tt), s: student logits (scaled by inv_ts);
 * grad (may be NULL): gscale · d(loss)/d(s·inv_ts) is written (accumulate = 0) or added
 * (accumulate = 1).  gscale must already include 1/T_s, t2 and the reduction. */
typedef struct ds__cpu_row {
  const ds_div_t *div;
  size_t V;
  const float *t, *s;
  float inv_tt, inv_ts;
  float *grad;
  double gscale;
  int accumulate;
  float *work; /* DS__CPU_WORK_FLOATS(V) floats, 64-byte aligned, private to the calling thread;
                  NULL forces the recomputing path */
} ds__cpu_row_t;

/* Vocabulary block of the fast path: per-lane fp32 sums run over one block, then fold into a
 * double; one max and one rescale factor per block. */
#define DS__CPU_BLK 2048
/* Scratch a fast-path row needs: two padded rows (stored exponentials / h, and q when there is
 * no gradient row) and four per-block tables. */
#define DS__CPU_WORK_FLOATS(V) \
  (2 * (((V) + 15) & ~(size_t)15) + 4 * ((V) / DS__CPU_BLK + 1) + 64)

typedef struct ds__cpu_isa {
  const char *name;                         /* "cpu-avx512" */
  double (*row)(const ds__cpu_row_t *r);    /* returns the row loss (no t2) */
  double (*lse)(const float *x, size_t n, float scale); /* log Σ exp(scale·x), double result */
  /* cs, w1, non-degenerate ab (one teacher, no accumulate): 1 and *loss (no t2) on success, 0
   * when the caller must take the reference row instead (grad may hold scratch then). */
  int (*row_ext)(const ds__cpu_row_t *r, double *loss);
} ds__cpu_isa_t;

/* 1 if the divergence has a fused fast path in the ISA units. */
int ds__cpu_fast_div(ds_div_kind_t k);

extern const ds__cpu_isa_t ds__cpu_isa_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const ds__cpu_isa_t ds__cpu_isa_avx2;
extern const ds__cpu_isa_t ds__cpu_isa_avx512;
#endif

#endif /* DS__CPU_H */
