/* task.c — the task registry, cooperative cancellation, and running one trial in a thread or in a
 * child process (isolation "process"), with timeout and NaN/Inf checks.
 *
 * Process isolation forks before the task runs; the child encodes its result in the wire format
 * onto a pipe and exits.  A child that dies by a signal, exits without a result, or outlives its
 * timeout (then killed with SIGKILL) fails only its own trial: the rank carries on.
 *
 * Invariants of the child (child_setup, before the task runs): it holds no file descriptor but
 * 0, 1, 2 and its result pipe (in single-process mode the coordinator shares the process, so
 * without this a child would inherit the store's flock fd and SQLite handles, and an orphan would
 * keep the database locked); it dies with the thread that forked it (PR_SET_PDEATHSIG, SIGKILL;
 * that thread waits for the child, so it never exits first); every signal has its default
 * disposition and none is blocked (Open MPI's SIGSEGV backtrace handler and libuv's signal pipe
 * are not inherited: a crash is one line in the store, not a backtrace on stderr).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_params.h"
#include "ds_task.h"
#include "ds__tasks.h"

volatile sig_atomic_t ds_worker_cancel = 0;

extern const ds_task_t ds_task_noop, ds_task_distill;
extern const ds_task_t ds_task_rlvr, ds_task_fdpo, ds_task_logits, ds_task_exec;

static const ds_task_t *const registry[] = {
    &ds_task_noop, &ds_task_distill, &ds_task_rlvr, &ds_task_fdpo, &ds_task_logits, &ds_task_exec, NULL};

const ds_task_t *ds_task_find(const char *name) {
  for (int i = 0; registry[i]; i++)
    if (!strcmp(registry[i]->name, name)) return registry[i];
  return NULL;
}

int ds_task_known(const char *name) { return ds_task_find(name) != NULL; }

/* The parameter table (params.c) comes first: it knows every name a task takes, so an unknown
 * one is answered with the nearest valid name, and it checks every scalar's type and range (the
 * same rows `divsweep help TASK` prints).  The task's own check() then sees structured values and
 * checks scalars a second time; tests/test_params.c keeps the two in agreement. */
int ds_task_check_param(const char *task, const char *key, const cJSON *value, char *err, size_t err_len) {
  const ds_task_t *t = ds_task_find(task);
  const ds_task_info_t *ti = ds_params_task(task);
  if (ti) {
    const ds_param_info_t *pi = ds_params_find(ti, key);
    if (!pi && !ti->open) {
      const char *near = ds_params_suggest(key, NULL, ti);
      if (near) snprintf(err, err_len, ": unknown parameter for task %s; did you mean \"%s\"?", task, near);
      else snprintf(err, err_len, ": unknown parameter for task %s (`divsweep help %s` lists them)", task, task);
      return DS_ESPEC;
    }
    if (pi && ds_params_check(pi, value, err, err_len)) return DS_ESPEC;
  }
  if (!t || !t->check) return 0;
  return t->check(key, value, err, err_len);
}

int ds_task_should_stop(ds_task_ctx_t *ctx) {
  if (ds_worker_cancel) return DS_EINTR;
  double now = ds_now_s();
  if (ctx->deadline > 0 && now > ctx->deadline) return DS_ETIMEOUT;
  if (ctx->poll && now >= ctx->next_check) {
    ctx->next_check = now + 0.05;
    if (ctx->poll(ctx->poll_arg)) return DS_EINTR;
  }
  return 0;
}

int ds_task_fail(ds_task_ctx_t *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->res->error, sizeof ctx->res->error, fmt, ap);
  va_end(ap);
  return code;
}

double ds_param_num(const cJSON *params, const char *key, double def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  return def;
}

const char *ds_param_str(const cJSON *params, const char *key, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
  return cJSON_IsString(v) ? v->valuestring : def;
}

int ds_check_fail(char *err, size_t err_len, const char *suffix, const char *fmt, ...) {
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(err, err_len, "%s: %s", suffix, msg);
  return DS_ESPEC;
}

int ds_check_num(const cJSON *v, double lo, double hi, int lo_incl, int hi_incl, char *err, size_t err_len) {
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return ds_check_fail(err, err_len, "", "expected a number");
  double x = v->valuedouble;
  if ((lo_incl ? x < lo : x <= lo) || (hi_incl ? x > hi : x >= hi))
    return ds_check_fail(err, err_len, "", "expected a number in %s%g, %g%s", lo_incl ? "[" : "(", lo, hi,
                         hi_incl ? "]" : ")");
  return 0;
}

int ds_check_int(const cJSON *v, double lo, double hi, char *err, size_t err_len) {
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
    return ds_check_fail(err, err_len, "", "expected an integer in %g..%g", lo, hi);
  return 0;
}

/* Runs the task in this thread: parse, run, check metrics. */
static void run_here(const ds_task_t *task, const ds_wire_trial_t *t, const ds_worker_env_t *env,
                     ds_result_t *res, double t0) {
  cJSON *params = cJSON_ParseWithLength(t->params, t->params_len);
  if (!params) {
    res->status = DS_EWIRE;
    snprintf(res->error, sizeof res->error, "malformed params JSON");
    return;
  }
  ds_task_ctx_t ctx = {
      .params = params,
      .seed = t->rng_seed,
      .trial_seed = (int64_t)ds_param_num(params, "seed", 0),
      .deadline = t->timeout_s > 0 ? t0 + t->timeout_s : 0,
      /* Kernel threads: trial.threads, else this worker's share of its node's cores (results do
       * not depend on the count: rows are split deterministically). */
      .threads = t->threads > 0         ? (int)t->threads
                 : env->core_share > 0 ? env->core_share
                                       : (env->threads > 0 ? env->threads : 1),
      .device = ds_wire_device_name(t->device),
      /* trial.device "cuda" is a request for the CUDA backend too (never a silent CPU run). */
      .backend = t->backend == DS_WIRE_BACKEND_AUTO && t->device == DS_WIRE_DEVICE_CUDA ? "cuda" : ds_wire_backend_name(t->backend),
      .gpu = env->gpu,
      .gpu_id = env->gpu_id,
      .res = res,
      .poll = env->poll,
      .poll_arg = env->poll_arg,
      .key = t->key,
      .attempt = t->attempt,
      .core_share = t->threads > 0       ? (int)t->threads
                    : env->core_share > 0 ? env->core_share
                                          : (env->threads > 0 ? env->threads : 1),
      .kill_grace_s = t->kill_grace_s,
      .run_dir = t->run_dir,
      .run_dir_len = t->run_dir_len,
      .objectives = t->objectives,
      .objectives_len = t->objectives_len,
  };
  int rc = task->run(&ctx);
  cJSON_Delete(params);
  if (rc == 0 && ctx.deadline > 0 && ds_now_s() > ctx.deadline) rc = DS_ETIMEOUT;
  if (rc == 0)
    for (size_t i = 0; i < res->n_metrics; i++)
      if (!isfinite(res->metrics[i].value)) {
        rc = DS_ENANINF;
        snprintf(res->error, sizeof res->error, "metric %s is %s", res->metrics[i].name,
                 isnan(res->metrics[i].value) ? "NaN" : "infinite");
        break;
      }
  if (rc && !res->error[0]) snprintf(res->error, sizeof res->error, "%s", ds_strerror(rc));
  if (rc == DS_ETIMEOUT) snprintf(res->error, sizeof res->error, "timed out after %g s", t->timeout_s);
  res->status = rc;
}

void ds__child_reset_signals(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
}

void ds__close_from(int lowfd) {
  if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0U) == 0) return;
  /* Kernels before 5.9: close what /proc lists. */
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  int dfd = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      int fd = atoi(e->d_name);
      if (fd >= lowfd && fd != dfd) close(fd);
    }
  closedir(d);
}

/* In the forked child: see the invariants at the top.  Returns the result pipe's (possibly moved)
 * fd, or −1 when the parent is already gone. */
static int child_setup(int result_fd, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return -1; /* the parent died before prctl took effect */
  ds__child_reset_signals();
  if (result_fd != 3) {
    if (dup2(result_fd, 3) < 0) return -1;
    close(result_fd);
    result_fd = 3;
  }
  ds__close_from(4);
  return result_fd;
}

static void run_child(const ds_task_t *task, const ds_wire_trial_t *t, const ds_worker_env_t *env,
                      ds_result_t *res, double t0) {
  int fds[2];
  if (pipe(fds)) {
    res->status = DS_EIO;
    snprintf(res->error, sizeof res->error, "pipe: %s", strerror(errno));
    return;
  }
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    res->status = DS_EIO;
    snprintf(res->error, sizeof res->error, "fork: %s", strerror(errno));
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    fds[1] = child_setup(fds[1], parent);
    if (fds[1] < 0) _exit(127);
    ds_worker_env_t child_env = *env;
    child_env.poll = NULL; /* never touch MPI from the child */
    run_here(task, t, &child_env, res, t0);
    ds_wbuf_t w = {0};
    ds_wire_begin(&w, DS_MSG_RESULT);
    ds_wire_put_result(&w, res);
    if (ds_wire_end(&w) == 0) {
      size_t off = 0;
      while (off < w.len) {
        ssize_t n = write(fds[1], w.data + off, w.len - off);
        if (n <= 0) break;
        off += (size_t)n;
      }
    }
    _exit(0);
  }
  close(fds[1]);
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  int timed_out = 0, cancelled = 0;
  for (;;) {
    double now = ds_now_s();
    int wait_ms = 50;
    if (t->timeout_s > 0) {
      double left = t0 + t->timeout_s - now;
      if (left <= 0) {
        timed_out = 1;
        break;
      }
      if (left * 1000 < wait_ms) wait_ms = (int)(left * 1000) + 1;
    }
    if (ds_worker_cancel || (env->poll && env->poll(env->poll_arg))) {
      cancelled = 1;
      break;
    }
    struct pollfd pfd = {fds[0], POLLIN, 0};
    int pr = poll(&pfd, 1, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    if (len == cap) {
      cap = cap ? 2 * cap : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) break;
      buf = nb;
    }
    ssize_t n = read(fds[0], buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EOF: the child is done (or died) */
    len += (size_t)n;
  }
  close(fds[0]);
  if (timed_out || cancelled) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ds_rbuf_t r;
  if (timed_out) {
    res->status = DS_ETIMEOUT;
    snprintf(res->error, sizeof res->error, "timed out after %g s (child killed)", t->timeout_s);
  } else if (cancelled) {
    res->status = DS_EINTR;
    snprintf(res->error, sizeof res->error, "interrupted");
  } else if (WIFSIGNALED(status)) {
    res->status = DS_ECRASH;
    snprintf(res->error, sizeof res->error, "trial process crashed (signal %d: %s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  } else if (ds_wire_open(&r, buf, len) || r.type != DS_MSG_RESULT || r.count != 1 ||
             ds_wire_get_result(&r, res)) {
    res->status = DS_ECRASH;
    snprintf(res->error, sizeof res->error, "trial process exited (status %d) without a result",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  free(buf);
}

int ds_worker_run_trial(const ds_wire_trial_t *t, const ds_worker_env_t *env, ds_result_t *res) {
  ds_result_reset(res);
  /* Before the task runs: tasks draw from (seed, attempt), so that a retry is a new draw. */
  res->idx = t->idx;
  res->attempt = t->attempt;
  double t0 = ds_now_s();
  char task_name[64];
  size_t n = t->task_len < sizeof task_name - 1 ? t->task_len : sizeof task_name - 1;
  memcpy(task_name, t->task, n);
  task_name[n] = 0;
  const ds_task_t *task = ds_task_find(task_name);
  if (!task) {
    res->status = DS_ETASK;
    snprintf(res->error, sizeof res->error, "unknown task %s", task_name);
  } else if (t->isolation && task != &ds_task_exec) { /* exec trials are child processes already */
    run_child(task, t, env, res, t0);
  } else {
    run_here(task, t, env, res, t0);
  }
  res->idx = t->idx;
  res->attempt = t->attempt;
  res->wall_s = ds_now_s() - t0;
  return 0;
}
