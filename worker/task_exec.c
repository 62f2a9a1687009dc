/* task_exec.c — the `exec` task: the user's own program as a trial (DESIGN.md §6, issue 14).
 *
 * Parameters in: fixed.command is an argv list (no shell) whose elements may hold {name}
 * placeholders for any parameter, plus {trial_key}, {seed} (the key-derived seed, not the
 * spec-level one, which is "seed" in DIVSWEEP_PARAMS), {attempt}, {threads} and {gpu} ("" without
 * one); "{{" and "}}" stand for braces.  fixed.workdir and the values of fixed.env take the same
 * placeholders.  Numbers render in shortest round-trip form, strings as they are, anything else
 * as canonical JSON.  The environment is divsweep's own minus the MPI launcher's variables
 * (OMPI_*, PMIX_*, PMI_*, OPAL_*, PRTE_*, ORTE_*, HYDRA_*, I_MPI_*, MPI_LOCAL*) and any inherited
 * DIVSWEEP_*, plus DIVSWEEP_PARAMS, _PARAMS_FILE, _TRIAL_KEY, _SEED, _ATTEMPT, _TRIAL_DIR,
 * _CHECKPOINT_DIR, _RESULTS_FD, _RESUMED, _THREADS, OMP_NUM_THREADS and (with a GPU)
 * CUDA_VISIBLE_DEVICES and DIVSWEEP_GPU, both the rank's GPU as the rank's own
 * CUDA_VISIBLE_DEVICES names it (so the program sees exactly that one, as its device 0), and
 * last fixed.env.
 *
 * Metrics out: JSON lines on fd 3 (DIVSWEEP_RESULTS_FD) or stdout lines that start with
 * "divsweep: ".  {"step": s, name: number...} adds curve points (a step reported twice keeps the
 * last value); {"final": {...}} sets the metrics; without a final line, the last line without
 * "step" does.  A line that is not a JSON object of finite numbers fails the trial with the line
 * quoted (and stops the program); an exit status ≠ 0 or a signal fails it with the end of stderr.
 *
 * Processes: the rank forks a supervisor, which never execs: it starts a new session, is the
 * child subreaper of everything below it, dies-with-parent (PR_SET_PDEATHSIG) by killing
 * everything below it, and forks the program into its own process group.  On SIGTERM from the
 * rank (timeout, stop) it sends SIGTERM to the program's group and SIGKILL kill_grace_s later;
 * when the program exits it SIGKILLs whatever is left — the group, and every process re-parented
 * to it (daemons that left the group by setsid) — reaps them all and only then reports the
 * program's wait status on its status pipe and exits.  So no process of a trial outlives it, in
 * MPI and in local mode (where several trials share the rank: each has its own supervisor, so
 * nobody reaps another trial's children).  The supervisor is named "divsweep-trial" (comm), and
 * the program has PR_SET_PDEATHSIG too, so that even a SIGKILL of the supervisor takes the
 * program along (only the program's own children could then outlive it).
 *
 * Files: <run_dir>/<trial_key>/ (ds_trial_dir.h) holds params.json, checkpoint/ (kept across
 * attempts and interruptions), work/ (the default working directory), attempt-N.out and .err
 * (stdout and stderr, each capped at LOG_CAP bytes, the tail kept), curve.jsonl (every curve line
 * received, so that the points reported before an interruption survive it) and, after a stop,
 * the marker `interrupted`.  The next start of a trial with the marker or with anything in its
 * checkpoint directory is DIVSWEEP_RESUMED=1: it continues its log files and its curve.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds_task.h"
#include "ds__tasks.h"

extern char **environ;

#define LOG_CAP (16u << 20) /* bytes kept per log file; past it the older half is dropped */
#define TAIL_MAX 2048       /* bytes of stderr kept for the error message */
#define LINE_MAX_B (1u << 20) /* a results line longer than this fails the trial */

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf_t;

static int sb_add(sbuf_t *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) return DS_ENOMEM;
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

static int sb_str(sbuf_t *b, const char *s) { return sb_add(b, s, strlen(s)); }

/* ---- placeholders ------------------------------------------------------------------------- */

typedef struct vars {
  const cJSON *params;
  char key[40], seed[24], attempt[16], threads[16], gpu[64];
} vars_t;

static const char *special(const vars_t *v, const char *name) {
  if (!strcmp(name, "trial_key")) return v->key;
  if (!strcmp(name, "seed")) return v->seed;
  if (!strcmp(name, "attempt")) return v->attempt;
  if (!strcmp(name, "threads")) return v->threads;
  if (!strcmp(name, "gpu")) return v->gpu;
  return NULL;
}

static int render(sbuf_t *out, const cJSON *x) {
  if (cJSON_IsString(x)) return sb_str(out, x->valuestring);
  if (cJSON_IsNumber(x)) {
    char num[40];
    ds_fmt_double(num, x->valuedouble);
    return sb_str(out, num);
  }
  char *j = ds_json_canonical(x);
  if (!j) return DS_ENOMEM;
  int rc = sb_str(out, j);
  free(j);
  return rc;
}

/* Expands tmpl into out (reset first).  Unknown names fail with err (validate checked them). */
static int expand(const char *tmpl, const vars_t *v, sbuf_t *out, char *err, size_t err_len) {
  out->n = 0;
  if (sb_add(out, "", 0)) return DS_ENOMEM;
  for (const char *p = tmpl; *p;) {
    if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
      if (sb_add(out, p, 1)) return DS_ENOMEM;
      p += 2;
      continue;
    }
    if (*p != '{') {
      if (sb_add(out, p++, 1)) return DS_ENOMEM;
      continue;
    }
    const char *end = strchr(p, '}');
    if (!end || end - p - 1 >= 128) {
      snprintf(err, err_len, "unterminated placeholder in \"%.100s\"", tmpl);
      return DS_ESPEC;
    }
    char name[128];
    memcpy(name, p + 1, (size_t)(end - p - 1));
    name[end - p - 1] = 0;
    const char *sv = special(v, name);
    const cJSON *pv = sv ? NULL : cJSON_GetObjectItemCaseSensitive(v->params, name);
    int rc = sv ? sb_str(out, sv) : pv ? render(out, pv) : DS_ESPEC;
    if (rc == DS_ESPEC) snprintf(err, err_len, "placeholder {%s} names no parameter", name);
    if (rc) return rc;
    p = end + 1;
  }
  return 0;
}

/* ---- files -------------------------------------------------------------------------------- */

static int mkdir_p(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n >= sizeof tmp) return -1;
  memcpy(tmp, path, n + 1);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0777) && errno != EEXIST) return -1;
      *p = '/';
    }
  return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *path, const char *text, size_t n) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  size_t w = fwrite(text, 1, n, f);
  return fclose(f) || w != n ? -1 : 0;
}

/* A log file: appended to, capped at LOG_CAP by keeping its newer half. */
typedef struct logf {
  int fd;
  off_t size;
} logf_t;

static void log_write(logf_t *l, const char *s, size_t n) {
  if (l->fd < 0) return;
  while (n > 0) {
    ssize_t w = pwrite(l->fd, s, n, l->size);
    if (w <= 0) return;
    l->size += w;
    s += w;
    n -= (size_t)w;
  }
  if (l->size <= (off_t)LOG_CAP) return;
  size_t keep = LOG_CAP / 2;
  char *tail = malloc(keep);
  if (!tail) return;
  ssize_t r = pread(l->fd, tail, keep, l->size - (off_t)keep);
  if (r > 0) {
    char head[160];
    int h = snprintf(head, sizeof head, "[divsweep: %lld earlier bytes dropped (log cap %u bytes)]\n",
                     (long long)(l->size - r), LOG_CAP);
    if (pwrite(l->fd, head, (size_t)h, 0) == h && pwrite(l->fd, tail, (size_t)r, h) == r) {
      l->size = h + r;
      if (ftruncate(l->fd, l->size)) { /* the file keeps its old length: nothing lost */
      }
    }
  }
  free(tail);
}

/* ---- the supervisor ----------------------------------------------------------------------- */

typedef struct launch {
  char **argv, **envp;
  const char *workdir;
  double grace_s;
  pid_t parent;
  int fd_out, fd_err, fd_res, fd_status; /* write ends */
} launch_t;


/* SIGKILLs everything below the supervisor and reaps it; *main_status gets the program's status
 * if it is reaped here. */
static void kill_all(pid_t prog, int *main_status, int *main_done) {
  pid_t self = getpid();
  for (;;) {
    if (prog > 0) kill(-prog, SIGKILL);
    /* Every living descendant has a living parent chain up to this subreaper, so no child means
     * nothing left: the common case, decided without reading /proc. */
    int status;
    pid_t r = waitpid(-1, &status, WNOHANG);
    if (r < 0 && errno == ECHILD) return;
    if (r > 0) {
      if (r == prog && !*main_done) {
        *main_status = status;
        *main_done = 1;
      }
      continue;
    }
    /* Re-parented processes (daemons that left the group) are our children now. */
    DIR *d = opendir("/proc");
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        char st;
        if (rp && sscanf(rp + 1, " %c %d", &st, &ppid) == 2 && ppid == self) kill(atoi(e->d_name), SIGKILL);
      }
      closedir(d);
    }
    r = waitpid(-1, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return; /* ECHILD: nothing is left */
    if (r == prog && !*main_done) {
      *main_status = status;
      *main_done = 1;
    }
  }
}

static void move_fd(int from, int to) {
  if (from != to) dup2(from, to);
}

static _Noreturn void supervise(const launch_t *L) {
  setsid();
  prctl(PR_SET_NAME, "divsweep-trial"); /* ps and pgrep tell it from the rank it was forked from */
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != L->parent) _exit(125);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  ds__child_reset_signals();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  /* Known fd numbers: 0 /dev/null, 1 stdout pipe, 2 stderr pipe, 3 results, 4 status. */
  int hi[4] = {fcntl(L->fd_out, F_DUPFD, 100), fcntl(L->fd_err, F_DUPFD, 100), fcntl(L->fd_res, F_DUPFD, 100),
               fcntl(L->fd_status, F_DUPFD, 100)};
  int null = open("/dev/null", O_RDONLY);
  if (null >= 0) move_fd(null, 0);
  for (int i = 0; i < 4; i++) move_fd(hi[i], i + 1);
  ds__close_from(5);
  pid_t prog = fork();
  if (prog == 0) {
    setpgid(0, 0);
    /* Should the supervisor itself be killed outright (kill -9 of every divsweep process), the
     * program still dies with it; its own children are then beyond reach without cgroups. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(125);
    close(4);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir(L->workdir)) {
      dprintf(2, "divsweep: cannot enter the working directory %s: %s\n", L->workdir, strerror(errno));
      _exit(126);
    }
    execvpe(L->argv[0], L->argv, L->envp);
    dprintf(2, "divsweep: cannot run %s: %s\n", L->argv[0], strerror(errno));
    _exit(127);
  }
  int main_status = 0, main_done = 0;
  if (prog < 0) {
    dprintf(2, "divsweep: fork: %s\n", strerror(errno));
    main_status = 127 << 8;
    main_done = 1;
  } else {
    setpgid(prog, prog);
  }
  close(1);
  close(2);
  close(3);
  double kill_at = 0;
  while (!main_done) {
    struct timespec ts = {1, 0};
    if (kill_at > 0) {
      double left = kill_at - ds_now_s();
      if (left <= 0) break;
      ts.tv_sec = (time_t)left;
      ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    }
    siginfo_t si;
    int sig = sigtimedwait(&set, &si, &ts);
    if (sig == SIGUSR1 || getppid() != L->parent) break; /* the rank died: take everything now */
    if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && kill_at == 0) {
      kill(-prog, SIGTERM);
      kill_at = ds_now_s() + L->grace_s;
    }
    for (;;) { /* reap what exited (SIGCHLD or not: a signal may have been merged) */
      int st;
      pid_t r = waitpid(-1, &st, WNOHANG);
      if (r <= 0) break;
      if (r == prog) {
        main_status = st;
        main_done = 1;
      }
    }
  }
  kill_all(prog, &main_status, &main_done);
  int32_t msg[2] = {main_status, main_done};
  if (write(4, msg, sizeof msg) != (ssize_t)sizeof msg) _exit(124);
  _exit(0);
}

/* ---- results lines ------------------------------------------------------------------------ */

typedef struct run {
  ds_task_ctx_t *ctx;
  ds_result_t *res;
  int have_final, have_metrics;
  char err[256];              /* the first protocol error, "" while none */
  int curve_fd;               /* curve.jsonl, or −1 */
  long lineno;
} run_t;

static void quote(char *dst, size_t len, const char *line, size_t n) {
  size_t k = 0, i = 0;
  for (; i < n && k + 6 < len; i++) {
    unsigned char ch = (unsigned char)line[i];
    if (ch == '"' || ch == '\\') dst[k++] = '\\';
    dst[k++] = ch < 0x20 ? '?' : (char)ch;
  }
  if (i < n) memcpy(dst + k, "...", 3), k += 3;
  dst[k] = 0;
}

static int line_fail(run_t *r, const char *why, const char *line, size_t n) {
  if (r->err[0]) return -1;
  char q[140];
  quote(q, sizeof q, line, n);
  snprintf(r->err, sizeof r->err, "results line %ld %s: \"%s\"", r->lineno, why, q);
  return -1;
}

/* Numbers of obj as metrics (replace = start from none) or as curve points at step. */
static int take_numbers(run_t *r, const cJSON *obj, int is_curve, int64_t step, const char *line, size_t n) {
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (is_curve && !strcmp(c->string, "step")) continue;
    if (!cJSON_IsNumber(c)) {
      char why[120];
      snprintf(why, sizeof why, "has a value that is not a number (%.40s)", c->string);
      return line_fail(r, why, line, n);
    }
    if (!isfinite(c->valuedouble)) return line_fail(r, "has a non-finite value", line, n);
    size_t max = is_curve ? sizeof r->res->curve[0].name : sizeof r->res->metrics[0].name;
    if (strlen(c->string) >= max || !c->string[0]) return line_fail(r, "has a name that is empty or too long", line, n);
  }
  if (!is_curve) r->res->n_metrics = 0;
  for (const cJSON *c = obj->child; c; c = c->next) {
    if (is_curve && !strcmp(c->string, "step")) continue;
    int rc = 0;
    if (is_curve) {
      /* A step reported again (a resumed program re-reporting after its checkpoint) replaces. */
      size_t i = 0;
      for (; i < r->res->n_curve; i++)
        if (r->res->curve[i].step == step && !strcmp(r->res->curve[i].name, c->string)) break;
      if (i < r->res->n_curve) r->res->curve[i].value = c->valuedouble;
      else rc = ds_result_curve(r->res, step, c->string, c->valuedouble);
    } else {
      rc = ds_result_metric(r->res, c->string, c->valuedouble);
    }
    if (rc) return line_fail(r, "could not be stored (out of memory)", line, n);
  }
  return 0;
}

/* One results line (without its newline).  persist: append curve lines to curve.jsonl. */
static int take_line(run_t *r, const char *line, size_t n, int persist) {
  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ')) n--;
  if (n == 0) return 0;
  r->lineno++;
  cJSON *j = cJSON_ParseWithLength(line, n);
  if (!j) {
    int nonfinite = memmem(line, n, "NaN", 3) || memmem(line, n, "Infinity", 8);
    return line_fail(r, nonfinite ? "has a non-finite value (NaN/Infinity is not JSON)" : "is not valid JSON", line,
                     n);
  }
  int rc = 0;
  const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
  const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
  if (!cJSON_IsObject(j)) {
    rc = line_fail(r, "is not a JSON object", line, n);
  } else if (fin) {
    if (!cJSON_IsObject(fin) || cJSON_GetArraySize(j) != 1) rc = line_fail(r, "has a final that is not an object", line, n);
    else if (!(rc = take_numbers(r, fin, 0, 0, line, n))) r->have_final = r->have_metrics = 1;
  } else if (step) {
    if (!cJSON_IsNumber(step) || step->valuedouble != floor(step->valuedouble) || step->valuedouble < 0 ||
        step->valuedouble > 9e15)
      rc = line_fail(r, "has a step that is not a non-negative integer", line, n);
    else if (!(rc = take_numbers(r, j, 1, (int64_t)step->valuedouble, line, n)) && persist && r->curve_fd >= 0) {
      /* One write per line (O_APPEND): a rank killed mid-way leaves whole lines, never a torn one
       * that the next line would be glued to. */
      char *l = malloc(n + 1);
      if (l) {
        memcpy(l, line, n);
        l[n] = '\n';
        if (write(r->curve_fd, l, n + 1) != (ssize_t)(n + 1)) { /* the curve in the store is unaffected */
        }
        free(l);
      }
    }
  } else if (!r->have_final) {
    if (!(rc = take_numbers(r, j, 0, 0, line, n))) r->have_metrics = 1;
  }
  cJSON_Delete(j);
  return rc;
}

/* Splits buffered input into lines; prefix: only lines starting with it count (stdout). */
static void take_lines(run_t *r, sbuf_t *b, const char *prefix, int final) {
  size_t start = 0;
  for (;;) {
    char *nl = b->n > start ? memchr(b->p + start, '\n', b->n - start) : NULL;
    size_t end = nl ? (size_t)(nl - b->p) : b->n;
    if (!nl && !final) break;
    if (end > start) {
      size_t pl = prefix ? strlen(prefix) : 0;
      if (!prefix) take_line(r, b->p + start, end - start, 1);
      else if (end - start >= pl && !memcmp(b->p + start, prefix, pl))
        take_line(r, b->p + start + pl, end - start - pl, 1);
    }
    start = nl ? end + 1 : end;
    if (!nl) break;
  }
  memmove(b->p, b->p + start, b->n - start);
  b->n -= start;
  if (b->n > LINE_MAX_B) {
    if (!prefix) line_fail(r, "is longer than 1 MiB", b->p, 120);
    b->n = 0;
  }
}

/* ---- the task ----------------------------------------------------------------------------- */

static void free_strv(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static int strv_push(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 2) * sizeof *nv);
  if (!nv) return DS_ENOMEM;
  *v = nv;
  if (!(nv[*n] = strdup(s))) return DS_ENOMEM;
  nv[++*n] = NULL;
  return 0;
}

static int leaks(const char *kv) {
  static const char *const drop[] = {"OMPI_", "PMIX_", "PMI_", "OPAL_", "PRTE_", "ORTE_", "HYDRA_",
                                     "I_MPI_", "MPI_LOCAL", "DIVSWEEP_", NULL};
  for (int i = 0; drop[i]; i++)
    if (!strncmp(kv, drop[i], strlen(drop[i]))) return 1;
  return 0;
}

/* Sets name=value in v (replacing an earlier entry of the same name). */
static int env_set(char ***v, size_t *n, const char *name, const char *value) {
  size_t nl = strlen(name);
  char *kv = malloc(nl + strlen(value) + 2);
  if (!kv) return DS_ENOMEM;
  sprintf(kv, "%s=%s", name, value);
  for (size_t i = 0; i < *n; i++)
    if (!strncmp((*v)[i], name, nl) && (*v)[i][nl] == '=') {
      free((*v)[i]);
      (*v)[i] = kv;
      return 0;
    }
  int rc = strv_push(v, n, kv);
  free(kv);
  return rc;
}

/* The end of stderr as one line: its last lines, newlines shown as " | ". */
static void tail_text(const char *t, size_t n, char *out, size_t len) {
  while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == ' ')) n--;
  size_t from = n > len - 1 ? n - (len - 1) : 0;
  size_t k = 0;
  for (size_t i = from; i < n && k + 4 < len; i++) {
    if (t[i] == '\n') {
      memcpy(out + k, " | ", 3);
      k += 3;
    } else {
      out[k++] = (unsigned char)t[i] < 0x20 ? ' ' : t[i];
    }
  }
  out[k] = 0;
}

static int run_exec(ds_task_ctx_t *ctx) {
  const cJSON *P = ctx->params;
  const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(P, "command");
  const cJSON *wd = cJSON_GetObjectItemCaseSensitive(P, "workdir");
  const cJSON *uenv = cJSON_GetObjectItemCaseSensitive(P, "env");
  char err[512] = "";
  int rc = 0;
  char **argv = NULL, **envp = NULL;
  size_t argc = 0, envc = 0;
  sbuf_t tmp = {0}, obuf = {0}, rbuf = {0};
  char *pjson = NULL;
  int pipes[4][2] = {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}};
  logf_t lout = {-1, 0}, lerr = {-1, 0};
  run_t R = {.ctx = ctx, .res = ctx->res, .curve_fd = -1};
  char tailbuf[TAIL_MAX];
  size_t tail_n = 0;
  pid_t sup = -1;

  if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) < 1)
    return ds_task_fail(ctx, DS_ESPEC, "fixed.command: expected a non-empty list of strings");
  vars_t V = {.params = P};
  snprintf(V.key, sizeof V.key, "%s", ctx->key ? ctx->key : "");
  snprintf(V.seed, sizeof V.seed, "%llu", (unsigned long long)ctx->seed);
  snprintf(V.attempt, sizeof V.attempt, "%u", ctx->attempt);
  snprintf(V.threads, sizeof V.threads, "%d", ctx->core_share > 0 ? ctx->core_share : ctx->threads);
  /* The rank's GPU as its own CUDA_VISIBLE_DEVICES names it (an entry of SLURM's list, say),
   * not CUDA's number for it, which would be another GPU once the program's CUDA renumbers. */
  if (ctx->gpu >= 0) snprintf(V.gpu, sizeof V.gpu, "%s", ctx->gpu_id && ctx->gpu_id[0] ? ctx->gpu_id : "0");

  /* Directories. */
  char dir[4096], ckpt[4200], path[4300], work[4300];
  if (ctx->run_dir_len > 0)
    snprintf(dir, sizeof dir, "%.*s/%s", (int)ctx->run_dir_len, ctx->run_dir, V.key);
  else
    snprintf(dir, sizeof dir, "divsweep.trials/%s", V.key);
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint", dir);
  if (mkdir_p(ckpt)) {
    rc = ds_task_fail(ctx, DS_EIO, "cannot create %s: %s", ckpt, strerror(errno));
    goto out;
  }
  if (cJSON_IsString(wd)) {
    if ((rc = expand(wd->valuestring, &V, &tmp, err, sizeof err))) goto bad_template;
    snprintf(work, sizeof work, "%s", tmp.p);
  } else {
    snprintf(work, sizeof work, "%s/work", dir);
  }
  if (mkdir_p(work)) {
    rc = ds_task_fail(ctx, DS_EIO, "cannot create the working directory %s: %s", work, strerror(errno));
    goto out;
  }
  snprintf(path, sizeof path, "%s/interrupted", dir);
  /* Resumed: an earlier run of this trial was stopped, or left state in its checkpoint directory
   * (a rank killed outright writes no marker, but its program may have saved). */
  int resumed = access(path, F_OK) == 0;
  if (resumed) unlink(path);
  DIR *cd = opendir(ckpt);
  for (struct dirent *e; cd && !resumed && (e = readdir(cd));) resumed = e->d_name[0] != '.';
  if (cd) closedir(cd);

  /* The parameters the program sees: everything but the exec task's own keys. */
  cJSON *user = cJSON_Duplicate(P, 1);
  if (!user) {
    rc = DS_ENOMEM;
    goto out;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(user, "command");
  cJSON_DeleteItemFromObjectCaseSensitive(user, "workdir");
  cJSON_DeleteItemFromObjectCaseSensitive(user, "env");
  pjson = ds_json_canonical(user);
  cJSON_Delete(user);
  if (!pjson) {
    rc = DS_ENOMEM;
    goto out;
  }
  snprintf(path, sizeof path, "%s/params.json", dir);
  write_file(path, pjson, strlen(pjson));

  /* argv and environment, built before the fork (the child only dups fds and execs). */
  for (const cJSON *c = cmd->child; c; c = c->next) {
    if (!cJSON_IsString(c)) {
      rc = ds_task_fail(ctx, DS_ESPEC, "fixed.command: expected a list of strings");
      goto out;
    }
    if ((rc = expand(c->valuestring, &V, &tmp, err, sizeof err))) goto bad_template;
    if ((rc = strv_push(&argv, &argc, tmp.p))) goto out;
  }
  for (char **e = environ; *e; e++)
    if (!leaks(*e) && (rc = strv_push(&envp, &envc, *e))) goto out;
  const char *kv[][2] = {{"DIVSWEEP_PARAMS", pjson},       {"DIVSWEEP_PARAMS_FILE", path},
                         {"DIVSWEEP_TRIAL_KEY", V.key},    {"DIVSWEEP_SEED", V.seed},
                         {"DIVSWEEP_ATTEMPT", V.attempt},  {"DIVSWEEP_TRIAL_DIR", dir},
                         {"DIVSWEEP_CHECKPOINT_DIR", ckpt}, {"DIVSWEEP_RESULTS_FD", "3"},
                         {"DIVSWEEP_RESUMED", resumed ? "1" : "0"}, {"DIVSWEEP_THREADS", V.threads},
                         {"OMP_NUM_THREADS", V.threads}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if ((rc = env_set(&envp, &envc, kv[i][0], kv[i][1]))) goto out;
  if (ctx->gpu >= 0 && ((rc = env_set(&envp, &envc, "CUDA_VISIBLE_DEVICES", V.gpu)) ||
                        (rc = env_set(&envp, &envc, "DIVSWEEP_GPU", V.gpu))))
    goto out;
  for (const cJSON *c = cJSON_IsObject(uenv) ? uenv->child : NULL; c; c = c->next) {
    if (!cJSON_IsString(c)) {
      rc = ds_task_fail(ctx, DS_ESPEC, "fixed.env.%s: expected a string", c->string);
      goto out;
    }
    if ((rc = expand(c->valuestring, &V, &tmp, err, sizeof err))) goto bad_template;
    if ((rc = env_set(&envp, &envc, c->string, tmp.p))) goto out;
  }

  /* Logs of this attempt (an interrupted attempt continues its files) and the curve so far. */
  char lpath[4400];
  snprintf(lpath, sizeof lpath, "%s/attempt-%u.out", dir, ctx->attempt);
  lout.fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0666);
  snprintf(lpath, sizeof lpath, "%s/attempt-%u.err", dir, ctx->attempt);
  lerr.fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0666);
  if (lout.fd >= 0) lout.size = lseek(lout.fd, 0, SEEK_END);
  if (lerr.fd >= 0) lerr.size = lseek(lerr.fd, 0, SEEK_END);
  if (resumed) {
    static const char mark[] = "[divsweep: resumed after an interruption]\n";
    log_write(&lout, mark, sizeof mark - 1);
    log_write(&lerr, mark, sizeof mark - 1);
  }
  snprintf(lpath, sizeof lpath, "%s/curve.jsonl", dir);
  if (resumed) {
    FILE *f = fopen(lpath, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (f && (n = getline(&line, &cap, f)) > 0) {
      if (line[n - 1] == '\n') n--;
      take_line(&R, line, (size_t)n, 0);
    }
    free(line);
    if (f) fclose(f);
    R.err[0] = 0; /* a torn last line of an earlier run is not this run's fault */
    R.have_final = R.have_metrics = 0;
    ctx->res->n_metrics = 0;
    R.lineno = 0;
  }
  R.curve_fd = open(lpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0666);

  for (int i = 0; i < 4; i++)
    if (pipe2(pipes[i], O_CLOEXEC)) {
      rc = ds_task_fail(ctx, DS_EIO, "pipe: %s", strerror(errno));
      goto out;
    }
  launch_t L = {argv, envp, work, ctx->kill_grace_s, getpid(), pipes[0][1], pipes[1][1], pipes[2][1], pipes[3][1]};
  fflush(NULL);
  sup = fork();
  if (sup < 0) {
    rc = ds_task_fail(ctx, DS_EIO, "fork: %s", strerror(errno));
    goto out;
  }
  if (sup == 0) supervise(&L);
  for (int i = 0; i < 4; i++) {
    close(pipes[i][1]);
    pipes[i][1] = -1;
  }

  /* Watch the program: outputs to the logs, results parsed as they come, stop and timeout. */
  int open_fds = 4, got_status = 0;
  int32_t st[2] = {0, 0};
  enum { RUNNING, TIMEOUT, STOPPED, PROTOCOL } why = RUNNING;
  double term_at = 0, status_at = 0;
  double next_poll = 0;
  while (open_fds > 0) {
    double now = ds_now_s();
    if (why == RUNNING) {
      if (ctx->deadline > 0 && now > ctx->deadline) why = TIMEOUT;
      else if (ds_worker_cancel) why = STOPPED;
      else if (ctx->poll && now >= next_poll) {
        next_poll = now + 0.05;
        if (ctx->poll(ctx->poll_arg)) why = STOPPED;
      }
      if (why == RUNNING && R.err[0]) why = PROTOCOL;
      if (why != RUNNING) {
        kill(sup, SIGTERM);
        term_at = now;
      }
    }
    /* The supervisor kills everything kill_grace_s after SIGTERM; if it cannot (it was itself
     * stopped or killed), stop waiting a few seconds later. */
    if (term_at > 0 && now > term_at + ctx->kill_grace_s + 5) break;
    if (got_status && now > status_at + 2) break; /* a pipe held open by nobody we know */
    struct pollfd pf[4];
    int map[4], np = 0;
    for (int i = 0; i < 4; i++)
      if (pipes[i][0] >= 0) {
        pf[np] = (struct pollfd){pipes[i][0], POLLIN, 0};
        map[np++] = i;
      }
    int pr = poll(pf, (nfds_t)np, 50);
    if (pr <= 0) continue;
    for (int k = 0; k < np; k++) {
      if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int i = map[k];
      char buf[65536];
      ssize_t n = read(pipes[i][0], buf, i == 3 ? sizeof st - (size_t)got_status : sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(pipes[i][0]);
        pipes[i][0] = -1;
        open_fds--;
        continue;
      }
      if (i == 0) { /* stdout */
        log_write(&lout, buf, (size_t)n);
        sb_add(&obuf, buf, (size_t)n);
        take_lines(&R, &obuf, "divsweep: ", 0);
      } else if (i == 1) { /* stderr */
        log_write(&lerr, buf, (size_t)n);
        for (ssize_t j = 0; j < n; j++) {
          if (tail_n == TAIL_MAX) {
            memmove(tailbuf, tailbuf + TAIL_MAX / 2, TAIL_MAX / 2);
            tail_n = TAIL_MAX / 2;
          }
          tailbuf[tail_n++] = buf[j];
        }
      } else if (i == 2) { /* results */
        sb_add(&rbuf, buf, (size_t)n);
        take_lines(&R, &rbuf, NULL, 0);
      } else { /* status: 8 bytes from the supervisor once everything below it is gone */
        memcpy((char *)st + got_status, buf, (size_t)n);
        got_status += (int)n;
        if (got_status == (int)sizeof st) status_at = ds_now_s();
      }
    }
  }
  if (obuf.n) take_lines(&R, &obuf, "divsweep: ", 1);
  if (rbuf.n) take_lines(&R, &rbuf, NULL, 1);
  if (got_status != (int)sizeof st) kill(sup, SIGKILL);
  int sst;
  while (waitpid(sup, &sst, 0) < 0 && errno == EINTR) {
  }
  sup = -1;

  char tail[200];
  tail_text(tailbuf, tail_n, tail, sizeof tail);
  int ws = st[0];
  if (why == STOPPED) {
    snprintf(path, sizeof path, "%s/interrupted", dir);
    write_file(path, "", 0);
    rc = ds_task_fail(ctx, DS_EINTR, "interrupted (the program had %g s to checkpoint)", ctx->kill_grace_s);
  } else if (why == TIMEOUT) {
    rc = ds_task_fail(ctx, DS_ETIMEOUT, "timed out (the program's process group was killed)");
  } else if (R.err[0]) {
    rc = ds_task_fail(ctx, DS_ETASK, "%s", R.err);
  } else if (got_status != (int)sizeof st) {
    rc = ds_task_fail(ctx, DS_ECRASH, "the trial's supervisor died without a status");
  } else if (WIFSIGNALED(ws)) {
    rc = ds_task_fail(ctx, DS_ECRASH, "program killed by signal %d (%s)%s%s", WTERMSIG(ws), strsignal(WTERMSIG(ws)),
                      tail[0] ? "; stderr: " : "", tail);
  } else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
    rc = ds_task_fail(ctx, DS_ETASK, "program exited with status %d%s%s", WEXITSTATUS(ws),
                      tail[0] ? "; stderr: " : "", tail);
  } else if (!R.have_metrics) {
    rc = ds_task_fail(ctx, DS_ETASK,
                      "program exited 0 without reporting metrics (a {\"final\": {...}} line on fd 3, or "
                      "'divsweep: {...}' on stdout)");
  }
  /* Every objective must be reported: a front cannot rank a trial that lacks one. */
  for (size_t i = 0, j; !rc && i < ctx->objectives_len; i = j + 1) {
    for (j = i; j < ctx->objectives_len && ctx->objectives[j] != ','; j++) {
    }
    size_t k = 0;
    while (k < ctx->res->n_metrics &&
           (strlen(ctx->res->metrics[k].name) != j - i || memcmp(ctx->res->metrics[k].name, ctx->objectives + i, j - i)))
      k++;
    if (k == ctx->res->n_metrics)
      rc = ds_task_fail(ctx, DS_ETASK, "the program did not report objective %.*s (its metrics need every objective)",
                        (int)(j - i), ctx->objectives + i);
  }
  if (rc) {
    ctx->res->n_metrics = 0;
    ctx->res->n_curve = 0;
  }
  goto out;

bad_template:
  if (rc == DS_ESPEC) rc = ds_task_fail(ctx, DS_ESPEC, "%s", err);
out:
  if (sup > 0) {
    kill(sup, SIGKILL);
    waitpid(sup, NULL, 0);
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++)
      if (pipes[i][j] >= 0) close(pipes[i][j]);
  if (lout.fd >= 0) close(lout.fd);
  if (lerr.fd >= 0) close(lerr.fd);
  if (R.curve_fd >= 0) close(R.curve_fd);
  free_strv(argv);
  free_strv(envp);
  free(tmp.p);
  free(obuf.p);
  free(rbuf.p);
  free(pjson);
  return rc;
}

/* Per-parameter checks: command, workdir and env are the task's own; every other name is the
 * user's.  Placeholders are checked against the whole spec in worker/spec_check.c. */
static int check_exec(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "command")) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
      return ds_check_fail(err, err_len, "", "expected a non-empty list of strings (an argv: no shell)");
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++)
      if (!cJSON_IsString(c)) {
        char sfx[32];
        snprintf(sfx, sizeof sfx, "[%d]", i);
        return ds_check_fail(err, err_len, sfx, "expected a string");
      }
    if (!v->child->valuestring[0]) return ds_check_fail(err, err_len, "[0]", "the program name is empty");
  } else if (!strcmp(key, "workdir")) {
    if (!cJSON_IsString(v) || !v->valuestring[0]) return ds_check_fail(err, err_len, "", "expected a directory name");
  } else if (!strcmp(key, "env")) {
    if (!cJSON_IsObject(v)) return ds_check_fail(err, err_len, "", "expected an object of strings");
    for (const cJSON *c = v->child; c; c = c->next) {
      char sfx[160];
      snprintf(sfx, sizeof sfx, ".%.150s", c->string);
      if (!cJSON_IsString(c)) return ds_check_fail(err, err_len, sfx, "expected a string");
      if (!c->string[0] || strchr(c->string, '='))
        return ds_check_fail(err, err_len, sfx, "not a valid environment variable name");
    }
  }
  return 0;
}

const ds_task_t ds_task_exec = {"exec", run_exec, check_exec};
