/* capi.c — ds_div_run(): one flat entry point over the batched kernels for callers that cannot
 * build ds_kern_args_t (Python ctypes, other languages, small C programs linking
 * libdivsweep_kernels.so).  Names instead of enums, "k=v,k=v" parameters, and a one-line error
 * message instead of a bare code.  Thin: every check beyond the names is the kernel's own. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ds_error.h"
#include "ds_kernels.h"

static int fail(char *err, size_t len, int rc, const char *fmt, ...) {
  if (err && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Applies "k=v,k=v" to *d.  Keys and values are copied out one at a time (no allocation). */
static int apply_params(ds_div_t *d, const char *params, char *err, size_t len) {
  const char *s = params;
  while (s && *s) {
    const char *end = strchr(s, ',');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    char kv[256];
    if (n == 0) {
      s = end ? end + 1 : s + n;
      continue;
    }
    if (n >= sizeof kv) return fail(err, len, DS_EINVAL, "parameter too long: %.40s...", s);
    memcpy(kv, s, n);
    kv[n] = '\0';
    char *eq = strchr(kv, '=');
    if (!eq) return fail(err, len, DS_EINVAL, "parameter '%s' is not key=value", kv);
    *eq = '\0';
    if (ds_div_set_param_str(d, kv, eq + 1) != 0)
      return fail(err, len, DS_EINVAL, "divergence %s: bad parameter %s=%s (unknown key or value)",
                  ds_div_name(d->kind), kv, eq + 1);
    s = end ? end + 1 : s + n;
  }
  return 0;
}

int ds_div_run(const char *backend, const char *div, const char *params, size_t rows, size_t vocab,
               size_t n_teachers, const float *const *teacher, const double *weights, const char *mix,
               const float *student, double t_teacher, double t_student, int t2,
               const char *reduction, const uint8_t *row_mask, int threads, int dtype, double *loss,
               double *row_loss, float *grad, char *err, size_t err_len) {
  if (err && err_len > 0) err[0] = '\0';
  ds_div_t d;
  if (!div || ds_div_from_name(div, &d) != 0)
    return fail(err, err_len, DS_EINVAL, "unknown divergence '%s'", div ? div : "(null)");
  int rc = apply_params(&d, params, err, err_len);
  if (rc != 0) return rc;
  if (ds_div_check(&d, err, err_len) != 0) return DS_EINVAL;
  ds_mix_t m = DS_MIX_ARITHMETIC;
  if (mix && ds_mix_from_name(mix, &m) != 0)
    return fail(err, err_len, DS_EINVAL, "unknown mix '%s' (arithmetic, geometric, loss)", mix);
  ds_reduction_t r = DS_RED_BATCHMEAN;
  if (reduction && ds_reduction_from_name(reduction, &r) != 0)
    return fail(err, err_len, DS_EINVAL, "unknown reduction '%s' (batchmean, sum, mean, none)", reduction);
  if (rows == 0 || vocab == 0) return fail(err, err_len, DS_EINVAL, "empty logits (%zu x %zu)", rows, vocab);
  if (n_teachers == 0 || !teacher || !student)
    return fail(err, err_len, DS_EINVAL, "need a student and at least one teacher");
  for (size_t k = 0; k < n_teachers; k++)
    if (!teacher[k]) return fail(err, err_len, DS_EINVAL, "teacher %zu is NULL", k);
  if (n_teachers > 1 && !weights)
    return fail(err, err_len, DS_EINVAL, "%zu teachers need %zu weights", n_teachers, n_teachers);
  if (!(t_teacher > 0) || !(t_student > 0))
    return fail(err, err_len, DS_EINVAL, "temperatures must be > 0 (got %g, %g)", t_teacher, t_student);
  if (dtype != DS_DTYPE_F32 && dtype != DS_DTYPE_BF16)
    return fail(err, err_len, DS_EINVAL, "unknown dtype code %d", dtype);
  if (!loss) return fail(err, err_len, DS_EINVAL, "loss output pointer is NULL");
  const char *bname = backend && *backend ? backend : "cpu";
  const ds_backend_t *be = ds_kern_backend_get(bname);
  if (!be)
    return fail(err, err_len, DS_EUNSUP, "kernel backend '%s' is not available (unknown, not built, or no device)",
                bname);
  ds_kern_args_t a = {.div = &d, .rows = rows, .vocab = vocab, .n_teachers = n_teachers,
                      .teacher = teacher, .weights = n_teachers > 1 ? weights : NULL, .mix = m,
                      .student = student, .t_teacher = t_teacher, .t_student = t_student, .t2 = t2 != 0,
                      .reduction = r, .row_mask = row_mask, .threads = threads,
                      .dtype = (ds_dtype_t)dtype};
  ds_kern_out_t o = {.loss = 0, .row_loss = row_loss, .grad = grad};
  rc = ds_kern_fwd_bwd(be, &a, &o);
  if (rc == DS_EUNSUP)
    return fail(err, err_len, rc, "backend %s does not support %s with mix %s and this dtype",
                ds_kern_backend_name(be), ds_div_name(d.kind), ds_mix_name(m));
  if (rc == DS_ENOMEM) return fail(err, err_len, rc, "out of memory (%zu x %zu)", rows, vocab);
  if (rc != 0) return fail(err, err_len, rc, "kernel rejected the arguments (%s, error %d)", ds_div_name(d.kind), rc);
  *loss = o.loss;
  return 0;
}
