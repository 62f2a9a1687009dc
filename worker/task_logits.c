/* task_logits.c — divergences of user-supplied teacher/student logits (DESIGN.md §6): the bridge
 * to real models' dumped logits (experiments.md X10, X13).  Nothing is trained.
 *
 * Parameters: teachers (a list of {"npy": "file"}: logits [rows][V] or [V], float16, float32 or
 * float64, memory-mapped; read in double precision on the reference backend, in fp32 chunks on the
 * fast path below), student_npy (same shape; optional, default all-zero logits, i.e.
 * the uniform student), mixture (weights, default uniform), mix ("arithmetic" default,
 * "geometric", "loss", or "confidence": arithmetic with per-row weights ∝ mixture_k·max_j p_kj at
 * the trial's temperature), divergence (default "fkl"), temperature T (both sides), t2, labels
 * (optional .npy of class indices, one per row), row (optional: keep only that row of every
 * file — a sweep over `row` compares rows one trial each).  Relative file names are resolved against the
 * working directory of `divsweep run`.  A 1-D file broadcasts to every row.
 *
 * Metrics: loss = the divergence at T with the mixture (batchmean over rows, ×T² with t2),
 * grad_norm = ‖∂loss/∂student logits‖₂ over the whole [rows][V] array (the batchmean gradient);
 * at T = 1 against the mixed teacher (mix "loss": the arithmetic mixture), averaged over rows:
 * fkl, rkl, jsd, tvd, top1_agree; at the trial's T: entropy_t (student), teacher_entropy_t,
 * teacher_max_t (mean top probability of the mixed teacher), rank_preserved (fraction of rows whose
 * mixed-teacher probabilities at T keep the order of the T = 1 probabilities).  With labels: at
 * T, teacher_accuracy, teacher_pass_at_1 (mean probability of the label: sampled pass@1),
 * teacher_ece, teacher<k>_accuracy and teacher<k>_pass_at_1 per teacher, and the student's
 * accuracy, pass_at_1 and ece.
 */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ds__tasks.h"
#include "ds_error.h"

static int cmp_desc(const void *x, const void *y, void *arg) {
  const double *v = arg;
  double a = v[*(const size_t *)x], b = v[*(const size_t *)y];
  return a > b ? -1 : a < b ? 1 : 0;
}

static int load(ds_task_ctx_t *ctx, const char *what, const char *path, size_t *R, size_t *V, double **out) {
  size_t rows, cols;
  char msg[300];
  int rc = ds__npy_load(path, out, &rows, &cols, msg, sizeof msg);
  if (rc) return ds_task_fail(ctx, rc, "%s: %s", what, msg);
  if (!*V) *V = cols;
  if (cols != *V) return ds_task_fail(ctx, DS_ENPY, "%s: %s has %zu columns, expected %zu", what, path, cols, *V);
  if (rows > 1) {
    if (*R > 1 && rows != *R) return ds_task_fail(ctx, DS_ENPY, "%s: %s has %zu rows, expected %zu", what, path, rows, *R);
    *R = rows;
  }
  if (rows == 1 && *R > 1) {
    double *b = realloc(*out, *R * *V * sizeof **out);
    if (!b) return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
    *out = b;
    for (size_t r = 1; r < *R; r++) memcpy(b + r * *V, b, *V * sizeof *b);
  }
  return 0;
}

/* Broadcasts a 1-row array to R rows after R became known. */
static int widen(ds_task_ctx_t *ctx, double **a, size_t have, size_t R, size_t V) {
  if (have == R) return 0;
  double *b = realloc(*a, R * V * sizeof *b);
  if (!b) return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
  *a = b;
  for (size_t r = 1; r < R; r++) memcpy(b + r * V, b, V * sizeof *b);
  return 0;
}

/* ---- The fast path: every metric from the batched kernels, rows in chunks ----------------------
 *
 * Taken when the trial's backend is not the reference, there are no labels, the mixture weights do
 * not depend on the row ("confidence"), and the mixed teacher is the softmax of one logit vector at
 * every temperature (one teacher, or the geometric mixture: softmax(Σ_k w_k z_k / T)).  The files
 * stay memory-mapped; rows are converted to fp32 a chunk at a time, so RSS is a few chunk buffers
 * whatever the file size.  Metrics come from the same kernels as the loss (one implementation):
 *   fkl, rkl, jsd, tvd at T = 1    the divergence itself (mix "loss" compares the arithmetic mixture);
 *   entropy_t                      log V − KL(q_T ‖ uniform): rkl against an all-zero teacher;
 *   teacher_entropy_t              log V − KL(p_T ‖ uniform): fkl against an all-zero student;
 *   teacher_max_t, top1_agree      argmax and max of the combined logit vector (one expf pass);
 *   rank_preserved                 1 (a softmax keeps the order of its logit vector at every T). */
typedef struct {
  const ds_npy_map_t *m;
  size_t row0; /* first row used (the `row` parameter), or 0 */
} lsrc_t;

static void src_rows(const lsrc_t *f, size_t r0, size_t n, size_t V, float *out) {
  const ds_npy_header_t *h = &f->m->hdr;
  const char *base = f->m->data;
  if (h->rows == 1) {
    ds_npy_convert_f32(base, h->item, V, out);
    for (size_t r = 1; r < n; r++) memcpy(out + r * V, out, V * sizeof *out);
  } else {
    const char *from = base + (f->row0 + r0) * V * h->item, *to = from + n * V * h->item;
    ds_npy_convert_f32(from, h->item, n * V, out);
    /* Done with these rows: drop their pages from this process (they stay in the page cache, and
     * another trial sharing the mapping faults them back in), so that RSS stays at the chunk
     * buffers however large the file is. */
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)from + pg - 1) & ~(pg - 1),
              b = (uintptr_t)to & ~(pg - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
  }
}

static int logits_fast(ds_task_ctx_t *ctx, const ds__backend_t *bk, const lsrc_t *tsrc, size_t K,
                       const lsrc_t *ssrc, size_t R, size_t V, const double *w, ds_mix_t mix,
                       const ds_div_t *d, double T, int t2) {
  size_t CH = ((size_t)1 << 21) / V;
  if (CH < 1) CH = 1;
  if (CH > R) CH = R;
  ds_mix_t mix1 = K > 1 && mix == DS_MIX_LOSS ? DS_MIX_ARITHMETIC : mix;
  int rc = 0;
  float **tf = calloc(K, sizeof *tf), *sf = malloc(CH * V * sizeof *sf), *gf = malloc(CH * V * sizeof *gf);
  float *zero = calloc(CH * V, sizeof *zero);
  int ok = tf && sf && gf && zero;
  for (size_t k = 0; ok && k < K; k++) ok = (tf[k] = malloc(CH * V * sizeof **tf)) != NULL;
  if (!ok) {
    rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
    goto done;
  }
  ds_div_t dfkl, drkl, djsd, dtvd;
  ds_div_from_name("fkl", &dfkl);
  ds_div_from_name("rkl", &drkl);
  ds_div_from_name("jsd", &djsd);
  ds_div_from_name("tvd", &dtvd);
  double loss = 0, g2 = 0, fkl = 0, rkl = 0, jsd = 0, tvd = 0, ent = 0, tent = 0, tmax = 0, agree = 0;
  const double *wk = K > 1 ? w : NULL;
  for (size_t r0 = 0; r0 < R && !rc; r0 += CH) {
    if ((rc = ds_task_should_stop(ctx))) {
      rc = ds__stopped(ctx, rc, (long)r0);
      break;
    }
    size_t n = R - r0 < CH ? R - r0 : CH;
    for (size_t k = 0; k < K; k++) src_rows(&tsrc[k], r0, n, V, tf[k]);
    if (ssrc->m) src_rows(ssrc, r0, n, V, sf);
    else memset(sf, 0, n * V * sizeof *sf);
    const float *const *tt = (const float *const *)tf;
    const float *zt[1] = {zero};
    struct {
      const ds_div_t *div;
      const float *const *teacher;
      size_t K;
      ds_mix_t mix;
      const float *student;
      double tt, ts;
      int t2;
      float *grad;
      double *acc;
    } call[] = {
        {d, tt, K, mix, sf, T, T, t2, gf, &loss},
        {&dfkl, tt, K, mix1, sf, 1, 1, 0, NULL, &fkl},
        {&drkl, tt, K, mix1, sf, 1, 1, 0, NULL, &rkl},
        {&djsd, tt, K, mix1, sf, 1, 1, 0, NULL, &jsd},
        {&dtvd, tt, K, mix1, sf, 1, 1, 0, NULL, &tvd},
        {&drkl, zt, 1, DS_MIX_ARITHMETIC, sf, 1, T, 0, NULL, &ent},    /* KL(q_T ‖ u) */
        {&dfkl, tt, K, mix1, zero, T, 1, 0, NULL, &tent},              /* KL(p_T ‖ u) */
    };
    for (size_t c = 0; c < sizeof call / sizeof *call && !rc; c++) {
      ds_kern_args_t a = {call[c].div, n, V, call[c].K, call[c].teacher, call[c].K > 1 ? wk : NULL, call[c].mix,
                          call[c].student, call[c].tt, call[c].ts, call[c].t2, DS_RED_SUM, NULL, bk->threads,
                          DS_DTYPE_F32};
      ds_kern_out_t o = {0, NULL, call[c].grad};
      int krc = ds_kern_fwd_bwd(bk->be, &a, &o);
      if (krc) rc = ds_task_fail(ctx, krc, "backend %s: %s", bk->name, ds_strerror(krc));
      /* A kernel that gave up on the trial's stop returns NaN: report the stop, not the NaN. */
      else if (!isfinite(o.loss) && (krc = ds_task_should_stop(ctx))) rc = ds__stopped(ctx, krc, (long)r0);
      *call[c].acc += o.loss;
    }
    for (size_t i = 0; i < n * V; i++) g2 += (double)gf[i] * gf[i];
    /* The combined logits c = Σ_k w_k z_k (one teacher: its logits), row by row, into tf[0]. */
    for (size_t r = 0; r < n; r++) {
      float *c = tf[0] + r * V;
      if (K > 1)
        for (size_t i = 0; i < V; i++) {
          double v = 0;
          for (size_t k = 0; k < K; k++)
            if (w[k] != 0) v += w[k] * tf[k][r * V + i];
          c[i] = (float)v;
        }
      size_t ic = 0, is = 0;
      const float *z = sf + r * V;
      for (size_t i = 1; i < V; i++) {
        if (c[i] > c[ic]) ic = i;
        if (z[i] > z[is]) is = i;
      }
      double sum = 0;
      for (size_t i = 0; i < V; i++) sum += expf((float)(((double)c[i] - c[ic]) / T));
      tmax += 1.0 / sum;
      agree += ic == is;
    }
  }
  if (!rc) {
    double iR = 1.0 / (double)R, lv = log((double)V);
    struct {
      const char *name;
      double v;
    } m[] = {{"loss", loss * iR},       {"grad_norm", sqrt(g2) * iR}, {"fkl", fkl * iR},
             {"rkl", rkl * iR},         {"jsd", jsd * iR},            {"tvd", tvd * iR},
             {"top1_agree", agree * iR}, {"entropy_t", lv - ent * iR}, {"teacher_entropy_t", lv - tent * iR},
             {"teacher_max_t", tmax * iR}, {"rank_preserved", 1}};
    for (size_t i = 0; i < sizeof m / sizeof *m && !rc; i++) rc = ds_result_metric(ctx->res, m[i].name, m[i].v);
    if (rc) rc = ds_task_fail(ctx, rc, "out of memory");
  }
done:
  if (tf)
    for (size_t k = 0; k < K; k++) free(tf[k]);
  free(tf);
  free(sf);
  free(gf);
  free(zero);
  return rc;
}

/* Shapes from the mapped files, with the same checks (and messages) as load(): V from the first
 * file, rows 1 (broadcast) or R. */
static int map_shape(ds_task_ctx_t *ctx, const char *what, const char *path, const ds_npy_map_t **m,
                     size_t *R, size_t *V) {
  char msg[300];
  int rc = ds__npy_open(path, m, msg, sizeof msg);
  if (rc) return ds_task_fail(ctx, rc, "%s: %s", what, msg);
  size_t rows = (*m)->hdr.rows, cols = (*m)->hdr.cols;
  if (!*V) *V = cols;
  if (cols != *V) return ds_task_fail(ctx, DS_ENPY, "%s: %s has %zu columns, expected %zu", what, path, cols, *V);
  if (rows > 1) {
    if (*R > 1 && rows != *R) return ds_task_fail(ctx, DS_ENPY, "%s: %s has %zu rows, expected %zu", what, path, rows, *R);
    *R = rows;
  }
  return 0;
}

/* The fast path when it applies (see above); 1 when it does not (the caller runs the double path). */
static int logits_try_fast(ds_task_ctx_t *ctx, const ds__backend_t *bk) {
  const cJSON *p = ctx->params;
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(p, "teachers");
  size_t K = (size_t)cJSON_GetArraySize(teachers), R = 1, V = 0;
  const char *mixs = ds_param_str(p, "mix", "arithmetic");
  ds_mix_t mix = DS_MIX_ARITHMETIC;
  if (strcmp(mixs, "confidence")) ds_mix_from_name(mixs, &mix);
  if (!bk->be || cJSON_GetObjectItemCaseSensitive(p, "labels") || !strcmp(mixs, "confidence") ||
      (K > 1 && mix != DS_MIX_GEOMETRIC))
    return 1;
  lsrc_t *tsrc = calloc(K, sizeof *tsrc), ssrc = {0};
  double *w = malloc(K * sizeof *w);
  int rc = 0;
  if (!tsrc || !w) {
    rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
    goto done;
  }
  size_t k = 0;
  for (const cJSON *c = teachers->child; c && !rc; c = c->next, k++) {
    char what[48];
    snprintf(what, sizeof what, "teachers[%zu].npy", k);
    rc = map_shape(ctx, what, cJSON_GetObjectItemCaseSensitive(c, "npy")->valuestring, &tsrc[k].m, &R, &V);
  }
  const char *sn = ds_param_str(p, "student_npy", NULL);
  if (!rc && sn) {
    size_t Rt = R;
    rc = map_shape(ctx, "student_npy", sn, &ssrc.m, &R, &V);
    if (!rc && Rt > 1 && R != Rt)
      rc = ds_task_fail(ctx, DS_ENPY, "student_npy: %s has %zu rows, teachers have %zu", sn, R, Rt);
  }
  const cJSON *rowp = cJSON_GetObjectItemCaseSensitive(p, "row");
  if (!rc && rowp) {
    size_t r = (size_t)rowp->valuedouble;
    if (r >= R) {
      rc = ds_task_fail(ctx, DS_ESPEC, "row: %zu out of range (the files have %zu rows)", r, R);
    } else {
      for (k = 0; k < K; k++) tsrc[k].row0 = tsrc[k].m->hdr.rows > 1 ? r : 0;
      if (ssrc.m) ssrc.row0 = ssrc.m->hdr.rows > 1 ? r : 0;
      R = 1;
    }
  }
  const cJSON *mixture = cJSON_GetObjectItemCaseSensitive(p, "mixture");
  if (!rc && mixture && (size_t)cJSON_GetArraySize(mixture) != K)
    rc = ds_task_fail(ctx, DS_ESPEC, "mixture: %d weights for %zu teachers", cJSON_GetArraySize(mixture), K);
  if (!rc) {
    if (mixture) ds__get_nums(mixture, w, K);
    else
      for (k = 0; k < K; k++) w[k] = 1.0 / (double)K;
    ds_div_t d;
    char msg[300];
    ds_div_from_name("fkl", &d);
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(p, "divergence");
    if (dv && ds__div_parse(dv, &d, msg, sizeof msg)) rc = ds_task_fail(ctx, DS_ESPEC, "divergence%s", msg);
    else if ((ds__div_watch(&d, ctx), 1))
      rc = logits_fast(ctx, bk, tsrc, K, &ssrc, R, V, w, mix, &d, ds_param_num(p, "temperature", 1),
                       (int)ds_param_num(p, "t2", 0));
  }
done:
  if (tsrc)
    for (k = 0; k < K; k++) ds__npy_close(tsrc[k].m);
  ds__npy_close(ssrc.m);
  free(tsrc);
  free(w);
  return rc;
}

static int logits_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(p, "teachers");
  size_t K = teachers ? (size_t)cJSON_GetArraySize(teachers) : 0, R = 1, V = 0;
  int rc = 0;
  double **t = NULL, *s = NULL, *w = NULL, *wrow = NULL, *grad = NULL, *lp = NULL, *lq = NULL, *tmp = NULL;
  double *lab = NULL, *lp_all = NULL, *lq_all = NULL, *lk_all = NULL;
  size_t *order = NULL, *rows_of = NULL;
  const double **tp = NULL;
  char msg[300];
  if (!K) return ds_task_fail(ctx, DS_ESPEC, "teachers: missing");
  /* The backend from the sizes in the headers (before anything is read into memory). */
  ds__backend_t bk;
  {
    size_t Rh = 1, Vh = 0, k0 = 0;
    for (const cJSON *c = teachers->child; c; c = c->next, k0++) {
      const ds_npy_map_t *m;
      char what[48];
      snprintf(what, sizeof what, "teachers[%zu].npy", k0);
      rc = map_shape(ctx, what, cJSON_GetObjectItemCaseSensitive(c, "npy")->valuestring, &m, &Rh, &Vh);
      ds__npy_close(m);
      if (rc) return rc;
    }
    if (cJSON_GetObjectItemCaseSensitive(p, "row")) Rh = 1;
    if ((rc = ds__backend_pick(ctx, "logits", Rh * Vh * K, 1, &bk))) return rc;
    if ((rc = logits_try_fast(ctx, &bk)) != 1) return rc;
    rc = 0;
  }
  t = calloc(K, sizeof *t);
  rows_of = calloc(K + 1, sizeof *rows_of);
  w = malloc(K * sizeof *w);
  wrow = malloc(K * sizeof *wrow);
  tp = malloc(K * sizeof *tp);
  if (!t || !rows_of || !w || !wrow || !tp) goto oom;
  size_t k = 0;
  for (const cJSON *c = teachers->child; c; c = c->next, k++) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "npy");
    size_t r0 = R;
    char what[48];
    snprintf(what, sizeof what, "teachers[%zu].npy", k);
    size_t Rk = 1;
    if ((rc = load(ctx, what, f->valuestring, &Rk, &V, &t[k]))) goto done;
    rows_of[k] = Rk;
    if (Rk > 1) {
      if (r0 > 1 && Rk != r0) {
        rc = ds_task_fail(ctx, DS_ENPY, "%s: %s has %zu rows, expected %zu", what, f->valuestring, Rk, r0);
        goto done;
      }
      R = Rk;
    }
  }
  const char *sn = ds_param_str(p, "student_npy", NULL);
  if (sn) {
    size_t Rs = 1;
    if ((rc = load(ctx, "student_npy", sn, &Rs, &V, &s))) goto done;
    if (Rs > 1 && R > 1 && Rs != R) {
      rc = ds_task_fail(ctx, DS_ENPY, "student_npy: %s has %zu rows, teachers have %zu", sn, Rs, R);
      goto done;
    }
    if (Rs > R) R = Rs;
    rows_of[K] = Rs;
  } else {
    s = calloc(V, sizeof *s);
    if (!s) goto oom;
    rows_of[K] = 1;
  }
  for (k = 0; k < K; k++)
    if ((rc = widen(ctx, &t[k], rows_of[k], R, V))) goto done;
  if ((rc = widen(ctx, &s, rows_of[K], R, V))) goto done;
  const cJSON *rowp = cJSON_GetObjectItemCaseSensitive(p, "row");
  if (rowp) {
    /* Keep one row of every file (a sweep over rows compares them one trial each). */
    size_t r = (size_t)rowp->valuedouble;
    if (r >= R) {
      rc = ds_task_fail(ctx, DS_ESPEC, "row: %zu out of range (the files have %zu rows)", r, R);
      goto done;
    }
    for (k = 0; k < K; k++) memmove(t[k], t[k] + r * V, V * sizeof *t[k]);
    memmove(s, s + r * V, V * sizeof *s);
    R = 1;
  }

  const cJSON *mixture = cJSON_GetObjectItemCaseSensitive(p, "mixture");
  if (mixture) {
    if ((size_t)cJSON_GetArraySize(mixture) != K) {
      rc = ds_task_fail(ctx, DS_ESPEC, "mixture: %d weights for %zu teachers", cJSON_GetArraySize(mixture), K);
      goto done;
    }
    ds__get_nums(mixture, w, K);
  } else {
    for (k = 0; k < K; k++) w[k] = 1.0 / (double)K;
  }
  const char *mixs = ds_param_str(p, "mix", "arithmetic");
  int conf = !strcmp(mixs, "confidence");
  ds_mix_t mix = DS_MIX_ARITHMETIC;
  if (!conf) ds_mix_from_name(mixs, &mix);
  ds_div_t d;
  ds_div_from_name("fkl", &d);
  const cJSON *dv = cJSON_GetObjectItemCaseSensitive(p, "divergence");
  if (dv && ds__div_parse(dv, &d, msg, sizeof msg)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "divergence%s", msg);
    goto done;
  }
  ds__div_watch(&d, ctx);
  double T = ds_param_num(p, "temperature", 1);
  int t2 = (int)ds_param_num(p, "t2", 0);
  const cJSON *labf = cJSON_GetObjectItemCaseSensitive(p, "labels");
  if (labf) {
    size_t lr_, lc;
    if ((rc = ds__npy_load(labf->valuestring, &lab, &lr_, &lc, msg, sizeof msg))) {
      rc = ds_task_fail(ctx, rc, "labels: %s", msg);
      goto done;
    }
    if (lr_ * lc != R) {
      rc = ds_task_fail(ctx, DS_ENPY, "labels: %s holds %zu values for %zu rows", labf->valuestring, lr_ * lc, R);
      goto done;
    }
  }

  /* The loss and its gradient on the trial's backend (the metrics below stay in double). */
  int fast = bk.be != NULL && !conf;
  double loss = 0, g2 = 0;
  if (fast) {
    float **tf = calloc(K, sizeof *tf), *sf = malloc(R * V * sizeof *sf), *gf = malloc(R * V * sizeof *gf);
    int ok = tf && sf && gf;
    for (k = 0; ok && k < K; k++) ok = (tf[k] = malloc(R * V * sizeof **tf)) != NULL;
    if (ok) {
      for (size_t i = 0; i < R * V; i++) sf[i] = (float)s[i];
      for (k = 0; k < K; k++)
        for (size_t i = 0; i < R * V; i++) tf[k][i] = (float)t[k][i];
      ds_kern_args_t a = {&d, R, V, K, (const float *const *)tf, K > 1 ? w : NULL, mix, sf, T, T, t2,
                          DS_RED_BATCHMEAN, NULL, bk.threads, DS_DTYPE_F32};
      ds_kern_out_t o = {0, NULL, gf};
      int krc = ds_kern_fwd_bwd(bk.be, &a, &o);
      if (krc) rc = ds_task_fail(ctx, krc, "backend %s: %s", bk.name, ds_strerror(krc));
      else if (!isfinite(o.loss) && (krc = ds_task_should_stop(ctx))) rc = ds__stopped(ctx, krc, 0);
      loss = o.loss;
      for (size_t i = 0; i < R * V; i++) g2 += (double)gf[i] * gf[i];
    }
    if (tf)
      for (k = 0; k < K; k++) free(tf[k]);
    free(tf);
    free(sf);
    free(gf);
    if (!ok) goto oom;
    if (rc) goto done;
  }
  /* Softmax at any T > 0 keeps the order of one logit vector, and the geometric mixture is the
   * softmax of averaged logits: rank_preserved is 1 there without sorting (linear time).  Only
   * an arithmetic (or confidence) mixture of several teachers needs the sort. */
  int need_sort = K > 1 && mix != DS_MIX_GEOMETRIC;
  grad = malloc(V * sizeof *grad);
  lp = malloc(V * sizeof *lp);
  lq = malloc(V * sizeof *lq);
  tmp = malloc(V * sizeof *tmp);
  order = malloc(V * sizeof *order);
  lp_all = malloc(R * V * sizeof *lp_all);
  lq_all = malloc(R * V * sizeof *lq_all);
  lk_all = lab ? malloc(K * R * V * sizeof *lk_all) : NULL;
  if (!grad || !lp || !lq || !tmp || !order || !lp_all || !lq_all || (lab && !lk_all)) goto oom;
  double fkl = 0, rkl = 0, jsd = 0, tvd = 0, agree = 0, ent = 0, tent = 0, tmax = 0, kept = 0;
  for (size_t r = 0; r < R; r++) {
    if ((r & 63) == 0 && (rc = ds_task_should_stop(ctx))) {
      rc = ds__stopped(ctx, rc, (long)r);
      goto done;
    }
    for (k = 0; k < K; k++) tp[k] = t[k] + r * V;
    const double *z = s + r * V;
    if (conf) {
      double sw = 0;
      for (k = 0; k < K; k++) {
        ds_ref_log_softmax(V, tp[k], T, tmp);
        wrow[k] = w[k] * exp(tmp[ds__argmax(V, tmp)]);
        sw += wrow[k];
      }
      for (k = 0; k < K; k++) wrow[k] = sw > 0 ? wrow[k] / sw : w[k];
    } else {
      memcpy(wrow, w, K * sizeof *w);
    }
    if (!fast) {
      double lr = ds_ref_div_row(&d, V, K, tp, wrow, mix, z, T, T, t2, grad);
      if (!isfinite(lr) && (rc = ds_task_should_stop(ctx))) {
        rc = ds__stopped(ctx, rc, (long)r);
        goto done;
      }
      loss += lr / (double)R;
      for (size_t i = 0; i < V; i++) g2 += grad[i] * grad[i] / ((double)R * (double)R);
    }
    /* T = 1 statistics. */
    ds_ref_mix_logprob(V, K, tp, wrow, mix, 1.0, lp, tmp);
    ds_ref_log_softmax(V, z, 1.0, lq);
    fkl += ds_ref_div_logprob(&ds__div_kl, V, lp, lq, NULL);
    rkl += ds_ref_div_logprob(&ds__div_kl, V, lq, lp, NULL);
    jsd += ds__jsd(V, lp, lq);
    tvd += ds_ref_div_logprob(&ds__div_tvd, V, lp, lq, NULL);
    agree += ds__argmax(V, lp) == ds__argmax(V, lq);
    /* At T. */
    if (need_sort) {
      for (size_t i = 0; i < V; i++) order[i] = i;
      qsort_r(order, V, sizeof *order, cmp_desc, lp);
    }
    ds_ref_mix_logprob(V, K, tp, wrow, mix, T, lp, tmp);
    ds_ref_log_softmax(V, z, T, lq);
    int ok = 1;
    for (size_t i = 1; need_sort && i < V && ok; i++)
      if (lp[order[i]] > lp[order[i - 1]]) ok = 0;
    kept += ok;
    ent += ds_ref_div_logprob(&ds__div_entropy, V, lq, lq, NULL);
    tent += ds_ref_div_logprob(&ds__div_entropy, V, lp, lp, NULL);
    tmax += exp(lp[ds__argmax(V, lp)]);
    memcpy(lp_all + r * V, lp, V * sizeof *lp);
    memcpy(lq_all + r * V, lq, V * sizeof *lq);
    if (lab)
      for (k = 0; k < K; k++) ds_ref_log_softmax(V, tp[k], T, lk_all + (k * R + r) * V);
  }
  double iR = 1.0 / (double)R;
  struct {
    const char *name;
    double v;
  } m[] = {{"loss", loss},          {"grad_norm", sqrt(g2)},    {"fkl", fkl * iR},
           {"rkl", rkl * iR},       {"jsd", jsd * iR},          {"tvd", tvd * iR},
           {"top1_agree", agree * iR}, {"entropy_t", ent * iR}, {"teacher_entropy_t", tent * iR},
           {"teacher_max_t", tmax * iR}, {"rank_preserved", kept * iR}};
  for (size_t i = 0; i < sizeof m / sizeof *m && !rc; i++) rc = ds_result_metric(ctx->res, m[i].name, m[i].v);
  if (!rc && lab) {
    ds__label_stats_t ls;
    ds__label_metrics(R, V, lp_all, lab, &ls);
    rc = ds_result_metric(ctx->res, "teacher_accuracy", ls.accuracy);
    if (!rc) rc = ds_result_metric(ctx->res, "teacher_pass_at_1", ls.label_prob);
    if (!rc) rc = ds_result_metric(ctx->res, "teacher_ece", ls.ece);
    for (k = 0; k < K && !rc; k++) {
      char name[64];
      ds__label_metrics(R, V, lk_all + k * R * V, lab, &ls);
      snprintf(name, sizeof name, "teacher%zu_accuracy", k);
      rc = ds_result_metric(ctx->res, name, ls.accuracy);
      snprintf(name, sizeof name, "teacher%zu_pass_at_1", k);
      if (!rc) rc = ds_result_metric(ctx->res, name, ls.label_prob);
    }
    ds__label_metrics(R, V, lq_all, lab, &ls);
    if (!rc) rc = ds_result_metric(ctx->res, "accuracy", ls.accuracy);
    if (!rc) rc = ds_result_metric(ctx->res, "pass_at_1", ls.label_prob);
    if (!rc) rc = ds_result_metric(ctx->res, "ece", ls.ece);
  }
  goto done;
oom:
  rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
done:
  if (t)
    for (k = 0; k < K; k++) free(t[k]);
  free(t);
  free(s);
  free(w);
  free(wrow);
  free((void *)tp);
  free(grad);
  free(lp);
  free(lq);
  free(tmp);
  free(order);
  free(rows_of);
  free(lab);
  free(lp_all);
  free(lq_all);
  free(lk_all);
  return rc;
}

static int logits_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "teachers")) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1) return ds_check_fail(err, err_len, "", "expected a non-empty list of {\"npy\": \"file\"}");
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
      char sfx[48];
      snprintf(sfx, sizeof sfx, "[%d]", i);
      const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "npy");
      if (!cJSON_IsObject(c) || cJSON_GetArraySize(c) != 1 || !cJSON_IsString(f) || !f->valuestring[0])
        return ds_check_fail(err, err_len, sfx, "expected {\"npy\": \"file\"}");
    }
    return 0;
  }
  if (!strcmp(key, "student_npy") || !strcmp(key, "labels")) {
    if (!cJSON_IsString(v) || !v->valuestring[0]) return ds_check_fail(err, err_len, "", "expected a .npy file name");
    return 0;
  }
  if (!strcmp(key, "mixture")) return ds__check_nums(v, 0, err, err_len);
  if (!strcmp(key, "mix")) {
    ds_mix_t m;
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "confidence") && ds_mix_from_name(v->valuestring, &m)))
      return ds_check_fail(err, err_len, "", "expected \"arithmetic\", \"geometric\", \"loss\" or \"confidence\"");
    return 0;
  }
  if (!strcmp(key, "row")) return ds_check_int(v, 0, 1 << 30, err, err_len);
  if (!strcmp(key, "divergence")) return ds__div_parse(v, NULL, err, err_len);
  if (!strcmp(key, "temperature")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "t2")) {
    if (!cJSON_IsBool(v) && ds_check_int(v, 0, 1, err, err_len)) return ds_check_fail(err, err_len, "", "expected true or false");
    return 0;
  }
  return ds_check_fail(err, err_len, "", "unknown parameter for task logits");
}

const ds_task_t ds_task_logits = {"logits", logits_run, logits_check};
