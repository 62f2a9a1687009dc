/* task_distill.c — fit a student distribution to a teacher under a divergence (first version).
 *
 * This first version fits a `free` student (one logit per token and row, initialised to zero) to a
 * seeded random teacher (logits ~ scale·N(0,1)) under forward KL at the trial's temperature, with
 * plain gradient descent.  Metrics, averaged over rows, at T = 1 against the teacher: fkl, rkl,
 * entropy (of the student), teacher_entropy; `loss` is the final training loss at T.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds_task.h"

static double gauss(uint64_t *st) {
  double u1 = ds_rand_unit(st), u2 = ds_rand_unit(st);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* log_softmax(x/T) of one row, in double. */
static void log_softmax(size_t V, const double *x, double T, double *out) {
  double m = -INFINITY, s = 0;
  for (size_t i = 0; i < V; i++) m = fmax(m, x[i] / T);
  for (size_t i = 0; i < V; i++) s += exp(x[i] / T - m);
  double lse = m + log(s);
  for (size_t i = 0; i < V; i++) out[i] = x[i] / T - lse;
}

static double kl(size_t V, const double *la, const double *lb) {
  double s = 0;
  for (size_t i = 0; i < V; i++) {
    double a = exp(la[i]);
    if (a > 0) s += a * (la[i] - lb[i]);
  }
  return s;
}

static int distill_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  size_t V = (size_t)ds_param_num(p, "vocab", 32), R = (size_t)ds_param_num(p, "rows", 1);
  int steps = (int)ds_param_num(p, "steps", 200);
  double T = ds_param_num(p, "temperature", 1), lr = ds_param_num(p, "lr", 1), scale = 3;
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(p, "teachers");
  const cJSON *t0 = cJSON_IsArray(teachers) ? teachers->child : NULL;
  const cJSON *rnd = t0 ? cJSON_GetObjectItemCaseSensitive(t0, "random") : NULL;
  if (rnd) scale = ds_param_num(rnd, "scale", 3);
  double *t = malloc(R * V * sizeof *t), *z = calloc(R * V, sizeof *z);
  double *lp = malloc(V * sizeof *lp), *lq = malloc(V * sizeof *lq);
  int rc = 0;
  if (!t || !z || !lp || !lq) {
    rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
    goto done;
  }
  uint64_t st = ctx->seed;
  for (size_t i = 0; i < R * V; i++) t[i] = scale * gauss(&st);
  double loss = 0;
  for (int s = 0; s <= steps; s++) {
    if ((s & 63) == 0 && (rc = ds_task_should_stop(ctx))) {
      ds_task_fail(ctx, rc, rc == DS_ETIMEOUT ? "timed out at step %d" : "interrupted at step %d", s);
      goto done;
    }
    loss = 0;
    for (size_t r = 0; r < R; r++) {
      log_softmax(V, t + r * V, T, lp);
      log_softmax(V, z + r * V, T, lq);
      loss += kl(V, lp, lq) / (double)R;
      if (s == steps) break;
      for (size_t i = 0; i < V; i++) z[r * V + i] -= lr * (exp(lq[i]) - exp(lp[i])) / T;
    }
  }
  double fkl = 0, rkl = 0, ent = 0, tent = 0;
  for (size_t r = 0; r < R; r++) {
    log_softmax(V, t + r * V, 1, lp);
    log_softmax(V, z + r * V, 1, lq);
    fkl += kl(V, lp, lq) / (double)R;
    rkl += kl(V, lq, lp) / (double)R;
    for (size_t i = 0; i < V; i++) {
      ent -= exp(lq[i]) * lq[i] / (double)R;
      tent -= exp(lp[i]) * lp[i] / (double)R;
    }
  }
  rc = ds_result_metric(ctx->res, "fkl", fkl);
  if (!rc) rc = ds_result_metric(ctx->res, "rkl", rkl);
  if (!rc) rc = ds_result_metric(ctx->res, "entropy", ent);
  if (!rc) rc = ds_result_metric(ctx->res, "teacher_entropy", tent);
  if (!rc) rc = ds_result_metric(ctx->res, "loss", loss);
done:
  free(t);
  free(z);
  free(lp);
  free(lq);
  return rc;
}

static int distill_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "vocab")) return ds_check_int(v, 1, 1 << 24, err, err_len);
  if (!strcmp(key, "rows")) return ds_check_int(v, 1, 1 << 20, err, err_len);
  if (!strcmp(key, "steps")) return ds_check_int(v, 0, 1e9, err, err_len);
  if (!strcmp(key, "lr")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "temperature")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "divergence")) {
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "fkl"))
      return ds_check_fail(err, err_len, "", "this build of distill supports only \"fkl\"");
    return 0;
  }
  if (!strcmp(key, "teachers")) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1)
      return ds_check_fail(err, err_len, "", "expected a list with one {\"random\": {\"scale\": s}} teacher");
    return 0;
  }
  return ds_check_fail(err, err_len, "", "unknown parameter for task distill");
}

const ds_task_t ds_task_distill = {"distill", distill_run, distill_check};
