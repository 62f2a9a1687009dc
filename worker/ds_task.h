/* ds_task.h — the task contract: what a worker runs for one trial (DESIGN.md §6).
 *
 * A task reads its parameters (fixed merged with swept values, plus "seed") from ctx->params,
 * seeds every generator from ctx->seed (derived from the trial key, so a resumed campaign gives
 * bit-identical results), adds named metrics and optional curve points to ctx->res, and returns 0
 * or a negative DS_E* code with a message set through ds_task_fail().
 *
 * Long-running tasks call ds_task_should_stop() every few milliseconds of work: it returns
 * DS_ETIMEOUT past the trial's deadline and DS_EINTR when the rank is asked to stop, so the rank
 * survives a timeout and a SIGTERM is honoured within about a second (cooperative cancellation).
 */
#ifndef DS_TASK_H
#define DS_TASK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "ds_clock.h" /* ds_now_s: the clock deadlines are on */
#include "ds_wire.h"

typedef struct ds_task_ctx {
  const cJSON *params;     /* borrowed; valid during run() */
  uint64_t seed;           /* generator seed derived from the trial key */
  int64_t trial_seed;      /* the spec-level seed value ("seed" in params) */
  double deadline;         /* ds_now_s() time after which the trial has timed out; 0 = none */
  int threads;             /* threads the task may use for kernels */
  const char *device;      /* trial.device: "auto", "cpu" or "cuda" */
  const char *backend;     /* trial.backend: "auto" (or NULL), "ref", "cpu", "cuda" (ds__backend_pick) */
  int gpu;                 /* the rank's bound GPU, −1 for none */
  const char *gpu_id;      /* that GPU as CUDA_VISIBLE_DEVICES names it ("3", "GPU-<uuid>"); "" for none */
  ds_result_t *res;        /* where metrics and curve points go */
  /* Optional external stop check (the MPI worker probes for the coordinator's STOP). */
  int (*poll)(void *arg);
  void *poll_arg;
  double next_check;       /* internal: rate limit of poll() */
  /* What the exec task needs beyond the parameters (built-in tasks ignore them). */
  const char *key;         /* the trial key, 32 hex characters */
  uint32_t attempt;        /* 1 for the first attempt */
  int core_share;          /* cores for this worker (exec: {threads}, OMP_NUM_THREADS) */
  double kill_grace_s;     /* seconds between SIGTERM and SIGKILL of an exec trial's group */
  const char *run_dir;     /* the campaign's trial directory root (not NUL-terminated) */
  size_t run_dir_len;      /* 0: none was sent (a built-in campaign) */
  const char *objectives;  /* exec: objective names, comma-separated (not NUL-terminated) */
  size_t objectives_len;
} ds_task_ctx_t;

typedef struct ds_task {
  const char *name;
  /* Runs one trial.  Returns 0 or a negative DS_E* code (with ds_task_fail()). */
  int (*run)(ds_task_ctx_t *ctx);
  /* Checks one parameter (see ds_param_check_fn in ds_spec.h).  NULL accepts anything. */
  int (*check)(const char *key, const cJSON *value, char *err, size_t err_len);
} ds_task_t;

/* Set from signal handlers: when non-zero every running task is asked to stop (DS_EINTR). */
extern volatile sig_atomic_t ds_worker_cancel;

/* Returns 0 to go on, DS_ETIMEOUT past the deadline, DS_EINTR when cancelled.  Cheap: the clock
 * is read at most every call, poll() at most every 50 ms. */
int ds_task_should_stop(ds_task_ctx_t *ctx);

/* Writes the trial's error message into ctx->res->error and returns code. */
int ds_task_fail(ds_task_ctx_t *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parameter helpers for run(): a missing key gives def; the value was validated beforehand. */
double ds_param_num(const cJSON *params, const char *key, double def);
const char *ds_param_str(const cJSON *params, const char *key, const char *def);

/* Helpers for check(): write "<suffix>: message" and return DS_ESPEC. */
int ds_check_fail(char *err, size_t err_len, const char *suffix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Checks v is a number in [lo, hi] (inclusive flags); message names key. */
int ds_check_num(const cJSON *v, double lo, double hi, int lo_incl, int hi_incl, char *err, size_t err_len);
int ds_check_int(const cJSON *v, double lo, double hi, char *err, size_t err_len);

/* The registry of tasks. */
const ds_task_t *ds_task_find(const char *name);
int ds_task_known(const char *name);
/* Matches ds_param_check_fn: dispatches to the task's check(). */
int ds_task_check_param(const char *task, const char *key, const cJSON *value, char *err, size_t err_len);

/* What a worker knows about where it runs. */
typedef struct ds_worker_env {
  int rank;
  int threads;         /* kernel threads per trial */
  int gpu;             /* CUDA's number of the bound GPU among those visible, −1 for none */
  /* The same GPU as the rank's CUDA_VISIBLE_DEVICES names it (its gpu-th entry: "3", a UUID, a
   * MIG id), or its number when that is unset; what exec trials get as CUDA_VISIBLE_DEVICES and
   * {gpu}.  "" for none. */
  char gpu_id[64];
  int core_share;      /* cores per worker on this node (exec trials' OMP_NUM_THREADS); 0 = threads */
  char host[64];
  int (*poll)(void *arg);
  void *poll_arg;
} ds_worker_env_t;

/* Runs one trial as the coordinator described it (thread or process isolation, timeout, NaN/Inf
 * check), filling res (idx, attempt, status, wall_s, error, metrics).  Always returns 0 unless
 * res could not be filled (DS_ENOMEM); the trial's own failure is res->status. */
int ds_worker_run_trial(const ds_wire_trial_t *t, const ds_worker_env_t *env, ds_result_t *res);

/* The MPI worker loop of ranks 1..N−1 (comm is MPI_COMM_WORLD passed as a void* so that callers
 * need not include mpi.h).  Returns when the coordinator sends STOP; 0 or DS_EWIRE. */
int ds_worker_main(void *mpi_comm, const ds_worker_env_t *env);

/* The MPI tags (DS_TAG_*) and the trial.device codes are in ds_wire.h. */

#endif /* DS_TASK_H */
