/* task_noop.c — the trivial task: a tiny computed metric, for throughput and fault-injection tests.
 *
 * Parameters: sleep_ms (≥ 0), and fault rates in [0, 1]: nan_rate (metric becomes NaN), fail_rate
 * (task error), crash_rate (SIGSEGV: kills the rank unless isolation is "process"), hang_rate
 * (loops until cancelled or timed out), abort_rate (abort(): SIGABRT) and inf_rate (metric becomes
 * +Inf).  Faults are drawn from a generator seeded by the trial key
 * and the attempt number, so a retry can succeed; `value` depends on the parameters only.
 * Every other parameter is accepted (a noop sweep can name any axis).
 *
 * objectives_demo (bool, default false): also emit three deterministic metrics for multi-objective
 * (Pareto) tests, from parameters x and y (default 0) and three uniforms u1..u3 drawn from the
 * trial's seed:  a = x + 0.1·u1,  b = (1 − x)² + 0.3·y + 0.1·u2,  c = y + 0.5·x·(1 − x) + 0.1·u3.
 * Minimising a and b gives a real trade-off along x; the noise makes seeds differ.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_rand.h"
#include "ds_task.h"

static int noop_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  /* value: a small deterministic function of every numeric parameter and the key's seed. */
  double value = 0;
  int k = 1;
  for (const cJSON *c = p->child; c; c = c->next, k++)
    if (cJSON_IsNumber(c)) value += sin(k * c->valuedouble);
  uint64_t st = ctx->seed;
  value += ds_rand_unit(&st);
  uint64_t fault = ctx->seed ^ (0x9e3779b97f4a7c15ULL * (ctx->res->attempt + 1));
  double u_fail = ds_rand_unit(&fault), u_nan = ds_rand_unit(&fault), u_crash = ds_rand_unit(&fault),
         u_hang = ds_rand_unit(&fault);
  double sleep_ms = ds_param_num(p, "sleep_ms", 0);
  if (sleep_ms > 0) {
    double end = ds_now_s() + sleep_ms / 1000;
    while (ds_now_s() < end) {
      int rc = ds_task_should_stop(ctx);
      if (rc) return ds_task_fail(ctx, rc, rc == DS_ETIMEOUT ? "timed out" : "interrupted");
      double left = end - ds_now_s();
      struct timespec ts = {0, (long)(fmin(left, 0.01) * 1e9)};
      if (left > 0) nanosleep(&ts, NULL);
    }
  }
  double u_abort = ds_rand_unit(&fault), u_inf = ds_rand_unit(&fault);
  if (u_crash < ds_param_num(p, "crash_rate", 0)) raise(SIGSEGV);
  if (u_abort < ds_param_num(p, "abort_rate", 0)) abort();
  if (u_hang < ds_param_num(p, "hang_rate", 0)) {
    for (;;) {
      int rc = ds_task_should_stop(ctx);
      if (rc) return ds_task_fail(ctx, rc, rc == DS_ETIMEOUT ? "hung; timed out" : "interrupted");
      struct timespec ts = {0, 5000000};
      nanosleep(&ts, NULL);
    }
  }
  if (u_fail < ds_param_num(p, "fail_rate", 0)) return ds_task_fail(ctx, DS_ETASK, "injected failure");
  if (u_nan < ds_param_num(p, "nan_rate", 0)) value = NAN;
  if (u_inf < ds_param_num(p, "inf_rate", 0)) value = INFINITY;
  int rc = ds_result_metric(ctx->res, "value", value);
  const cJSON *demo = cJSON_GetObjectItemCaseSensitive(p, "objectives_demo");
  if (!rc && cJSON_IsTrue(demo)) {
    double x = ds_param_num(p, "x", 0), y = ds_param_num(p, "y", 0);
    uint64_t st2 = ctx->seed ^ 0x5851f42d4c957f2dULL;
    double u1 = ds_rand_unit(&st2), u2 = ds_rand_unit(&st2), u3 = ds_rand_unit(&st2);
    rc = ds_result_metric(ctx->res, "a", x + 0.1 * u1);
    if (!rc) rc = ds_result_metric(ctx->res, "b", (1 - x) * (1 - x) + 0.3 * y + 0.1 * u2);
    if (!rc) rc = ds_result_metric(ctx->res, "c", y + 0.5 * x * (1 - x) + 0.1 * u3);
  }
  return rc;
}

static int noop_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "sleep_ms")) return ds_check_num(v, 0, 1e9, 1, 1, err, err_len);
  if (!strcmp(key, "nan_rate") || !strcmp(key, "fail_rate") || !strcmp(key, "crash_rate") ||
      !strcmp(key, "hang_rate") || !strcmp(key, "abort_rate") || !strcmp(key, "inf_rate"))
    return ds_check_num(v, 0, 1, 1, 1, err, err_len);
  if (!strcmp(key, "objectives_demo") && !cJSON_IsBool(v)) {
    snprintf(err, err_len, ": expected true or false");
    return DS_ESPEC;
  }
  return 0;
}

const ds_task_t ds_task_noop = {"noop", noop_run, noop_check};
