/* backend.c — backend registry, argument validation, the row/thread driver shared by CPU-side
 * backends, and the "ref" backend (the reference looped over rows, fp32 → double).
 *
 * Invariants:
 *   - Rows are split over threads in contiguous ranges fixed by (rows, threads) alone; each row
 *     is computed by exactly one thread, and the reduction sums row losses in row order on the
 *     calling thread, so results never depend on timing (nor on the thread count).
 *   - ds__kern_run_rows starts threads per call (pthread_create/join) and keeps no state; the
 *     "cpu" backend keeps a persistent pool instead (cpu.c), with the same static split.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ds__backend.h"
#include "ds_error.h"

/* ---- Registry ---------------------------------------------------------------------------- */

const ds_backend_t *ds_kern_backend_get(const char *name) {
  if (!name || strcmp(name, "auto") == 0 || strcmp(name, "cpu") == 0) return ds__cpu_backend_get("cpu");
  if (strcmp(name, "ref") == 0) return &ds__backend_ref;
  if (strncmp(name, "cpu-", 4) == 0) return ds__cpu_backend_get(name);
#ifdef DS_HAVE_CUDA
  if (strcmp(name, "cuda") == 0) return ds__cuda_backend_get();
#endif
  return NULL; /* "cuda" without a device, or not built in this configuration */
}

const char *ds_kern_backend_name(const ds_backend_t *be) { return be ? be->name : "?"; }

#ifndef DS_HAVE_CUDA
/* CPU-only build: the CUDA device API exists and says "no device" (kernels/cuda/ otherwise). */
int ds_kern_cuda_device_count(void) { return 0; }
int ds_kern_cuda_bind(int device) { return DS_EUNSUP; }
int ds_kern_cuda_device_name(int device, char *buf, size_t len) {
  if (buf && len) buf[0] = '\0';
  return DS_EUNSUP;
}
void *ds_kern_cuda_alloc(size_t bytes) { return NULL; }
void ds_kern_cuda_free(void *p) {}
int ds_kern_cuda_copy(void *dst, const void *src, size_t bytes) { return DS_EUNSUP; }
#endif

static int check_args(const ds_kern_args_t *a) {
  if (!a || !a->div || !a->student) return DS_EINVAL;
  if (ds_div_check(a->div, NULL, 0) != 0) return DS_EINVAL;
  int entropy = a->div->kind == DS_DIV_ENTROPY;
  if (!entropy && (a->n_teachers < 1 || !a->teacher)) return DS_EINVAL;
  for (size_t k = 0; k < a->n_teachers; k++)
    if (!a->teacher || !a->teacher[k]) return DS_EINVAL;
  if (a->n_teachers > 1) {
    if (!a->weights || (int)a->mix < 0 || a->mix > DS_MIX_LOSS) return DS_EINVAL;
    for (size_t k = 0; k < a->n_teachers; k++)
      if (!(a->weights[k] >= 0) || !isfinite(a->weights[k])) return DS_EINVAL;
  }
  if (!(a->t_teacher > 0) || !(a->t_student > 0) || !isfinite(a->t_teacher) || !isfinite(a->t_student))
    return DS_EINVAL;
  if ((int)a->reduction < 0 || a->reduction > DS_RED_NONE) return DS_EINVAL;
  if ((int)a->dtype < 0 || a->dtype > DS_DTYPE_BF16) return DS_EINVAL;
  if (a->vocab == 0 && a->rows > 0) return DS_EINVAL;
  if (a->vocab > 0 && a->rows > SIZE_MAX / a->vocab / sizeof(double)) return DS_EINVAL;
  return 0;
}

int ds_kern_supports(const ds_backend_t *be, const ds_kern_args_t *a) {
  if (!be) return DS_EINVAL;
  int rc = check_args(a);
  return rc ? rc : be->supports(be, a);
}

int ds_kern_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out) {
  if (!be || !out) return DS_EINVAL;
  int rc = check_args(a);
  if (rc) return rc;
  if (be->supports(be, a) < 0) return DS_EUNSUP;
  return be->fwd_bwd(be, a, out);
}

/* ---- Thread driver ----------------------------------------------------------------------- */

typedef struct job {
  const ds_backend_t *be;
  const ds_kern_args_t *a;
  ds_kern_out_t *out;
  ds__row_fn fn;
  double *row_loss, gscale;
  size_t r0, r1, scratch_bytes;
  int rc;
} job_t;

static void *run_job(void *arg) {
  job_t *j = arg;
  const ds_kern_args_t *a = j->a;
  void *scratch = NULL;
  if (j->scratch_bytes) {
    scratch = aligned_alloc(64, (j->scratch_bytes + 63) & ~(size_t)63);
    if (!scratch) { j->rc = DS_ENOMEM; return NULL; }
  }
  for (size_t r = j->r0; r < j->r1 && j->rc == 0; r++) {
    float *g = j->out->grad ? j->out->grad + r * a->vocab : NULL;
    if (a->row_mask && !a->row_mask[r]) {
      j->row_loss[r] = 0;
      if (g) memset(g, 0, a->vocab * sizeof *g);
      continue;
    }
    j->rc = j->fn(j->be, a, r, j->gscale, g, &j->row_loss[r], scratch);
  }
  free(scratch);
  return NULL;
}

static int default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int ds__kern_run_rows(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out,
                      ds__row_fn fn, size_t scratch_bytes) {
  size_t B = a->rows, active = 0;
  double *row_loss = out->row_loss, *own = NULL;
  job_t *jobs = NULL;
  pthread_t *tids = NULL;
  int rc = 0;
  for (size_t r = 0; r < B; r++) active += !a->row_mask || a->row_mask[r];
  double act = active ? (double)active : 1.0;
  double red = a->reduction == DS_RED_BATCHMEAN ? 1.0 / act
             : a->reduction == DS_RED_MEAN ? 1.0 / (act * (double)a->vocab) : 1.0;
  if (!row_loss) {
    row_loss = own = malloc((B ? B : 1) * sizeof *own);
    if (!own) { rc = DS_ENOMEM; goto fail; }
  }
  int nt = a->threads > 0 ? a->threads : default_threads();
  if ((size_t)nt > B) nt = B ? (int)B : 1;
  if (B * a->vocab < 16384) nt = 1; /* thread start-up would dominate */
  jobs = calloc((size_t)nt, sizeof *jobs);
  tids = calloc((size_t)nt, sizeof *tids);
  if (!jobs || !tids) { rc = DS_ENOMEM; goto fail; }
  for (int t = 0; t < nt; t++) {
    jobs[t] = (job_t){be, a, out, fn, row_loss, red, B * (size_t)t / (size_t)nt,
                      B * (size_t)(t + 1) / (size_t)nt, scratch_bytes, 0};
  }
  int started = 1;
  for (int t = 1; t < nt; t++) {
    if (pthread_create(&tids[t], NULL, run_job, &jobs[t]) != 0) break;
    started++;
  }
  /* Rows of threads that failed to start run here, so the split stays the same. */
  run_job(&jobs[0]);
  for (int t = started; t < nt; t++) run_job(&jobs[t]);
  for (int t = 1; t < started; t++) pthread_join(tids[t], NULL);
  for (int t = 0; t < nt; t++) if (jobs[t].rc && !rc) rc = jobs[t].rc;
  if (rc) goto fail;
  double sum = 0;
  for (size_t r = 0; r < B; r++) sum += row_loss[r];
  out->loss = sum * red;
fail:
  free(own);
  free(jobs);
  free(tids);
  return rc;
}

/* ---- Reference row on fp32 inputs -------------------------------------------------------- */

size_t ds__ref_row_scratch(const ds_kern_args_t *a) {
  return (a->n_teachers + 2) * a->vocab * sizeof(double) + 64;
}

int ds__kern_ref_row(const ds_backend_t *be, const ds_kern_args_t *a, size_t r, double gscale,
                     float *grad, double *loss, void *scratch) {
  size_t V = a->vocab, K = a->n_teachers;
  double *z = scratch, *g = z + V, *t = g + V;
  const double *tp[64];
  const double **tptr = tp, **heap = NULL;
  if (K > 64) {
    heap = malloc(K * sizeof *heap);
    if (!heap) return DS_ENOMEM;
    tptr = heap;
  }
  for (size_t j = 0; j < V; j++) z[j] = a->student[r * V + j];
  for (size_t k = 0; k < K; k++) {
    for (size_t j = 0; j < V; j++) t[k * V + j] = a->teacher[k][r * V + j];
    tptr[k] = t + k * V;
  }
  *loss = ds_ref_div_row(a->div, V, K, tptr, a->weights, a->mix, z, a->t_teacher, a->t_student,
                         a->t2, grad ? g : NULL);
  if (grad)
    for (size_t j = 0; j < V; j++) grad[j] = (float)(g[j] * gscale);
  free(heap);
  return 0;
}

static int ref_supports(const ds_backend_t *be, const ds_kern_args_t *a) {
  if (a->dtype != DS_DTYPE_F32) return DS_EUNSUP;
  if (DS__SINKHORN_TOO_BIG(a)) return DS_EUNSUP;
  return 1;
}

static int ref_fwd_bwd(const ds_backend_t *be, const ds_kern_args_t *a, ds_kern_out_t *out) {
  return ds__kern_run_rows(be, a, out, ds__kern_ref_row, ds__ref_row_scratch(a));
}

const ds_backend_t ds__backend_ref = {"ref", "ref", ref_supports, ref_fwd_bwd, NULL};
