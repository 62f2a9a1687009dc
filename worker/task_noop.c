/* task_noop.c — the trivial task: a tiny computed metric, for throughput and fault-injection tests.
 *
 * Parameters: sleep_ms (≥ 0), and fault rates in [0, 1]: nan_rate (metric becomes NaN), fail_rate
 * (task error), crash_rate (SIGSEGV: kills the rank unless isolation is "process"), hang_rate
 * (loops until cancelled or timed out), abort_rate (abort(): SIGABRT) and inf_rate (metric becomes
 * +Inf).  Faults are drawn from a generator seeded by the trial key
 * and the attempt number, so a retry can succeed; `value` depends on the parameters only.
 * Every other parameter is accepted (a noop sweep can name any axis).
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_spec.h"
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
    double end = ds_now() + sleep_ms / 1000;
    while (ds_now() < end) {
      int rc = ds_task_should_stop(ctx);
      if (rc) return ds_task_fail(ctx, rc, rc == DS_ETIMEOUT ? "timed out" : "interrupted");
      double left = end - ds_now();
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
  return ds_result_metric(ctx->res, "value", value);
}

static int noop_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "sleep_ms")) return ds_check_num(v, 0, 1e9, 1, 1, err, err_len);
  if (!strcmp(key, "nan_rate") || !strcmp(key, "fail_rate") || !strcmp(key, "crash_rate") ||
      !strcmp(key, "hang_rate") || !strcmp(key, "abort_rate") || !strcmp(key, "inf_rate"))
    return ds_check_num(v, 0, 1, 1, 1, err, err_len);
  return 0;
}

const ds_task_t ds_task_noop = {"noop", noop_run, noop_check};
