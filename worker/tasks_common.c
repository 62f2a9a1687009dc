/* tasks_common.c — helpers shared by the science tasks: divergence parameters, optimisers (gd,
 * Adam, damped Newton), distribution statistics, label metrics, .npy mapping (shared per rank)
 * and loading in double precision, and the per-trial kernel backend choice.
 *
 * Invariants: everything is double precision; the only state kept between calls is the table of
 * shared .npy mappings (behind its mutex) and the optimiser objects the caller owns.
 */
#define _GNU_SOURCE /* st_mtim */
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds__tasks.h"
#include "ds_error.h"
#include "ds_npy.h"
#include "ds_rand.h"

/* ---- Kernel backend of a trial -------------------------------------------------------------- */

int ds__backend_pick(ds_task_ctx_t *ctx, const char *task, size_t elems, int has_cuda_path, ds__backend_t *out) {
  memset(out, 0, sizeof *out);
  const char *want = ctx->backend ? ctx->backend : "auto";
  out->threads = ctx->threads > 0 ? ctx->threads : 1;
  int gpu = ctx->gpu >= 0 && ds_kern_cuda_device_count() > 0;
  if (!strcmp(want, "cuda")) {
    if (!has_cuda_path)
      return ds_task_fail(ctx, DS_EUNSUP, "trial.backend \"cuda\": task %s has no CUDA path; use \"cpu\" or \"auto\"", task);
    const ds_backend_t *be = gpu ? ds_kern_backend_get("cuda") : NULL;
    if (!be)
      return ds_task_fail(ctx, DS_EUNSUP,
                          "trial.backend \"cuda\" but this rank has no usable GPU (%s); use \"cpu\" or \"auto\"",
                          ds_kern_cuda_device_count() > 0 ? "none bound to it" : "no CUDA device or driver, or a CPU-only build");
    out->be = be;
  } else if (!strcmp(want, "cpu")) {
    out->be = ds_kern_backend_get("cpu");
  } else if (!strcmp(want, "auto") && elems >= DS__AUTO_MIN_ELEMS) {
    const ds_backend_t *cu = gpu && has_cuda_path ? ds_kern_backend_get("cuda") : NULL;
    out->be = cu ? cu : ds_kern_backend_get("cpu");
  } /* else ref: auto below the threshold, or asked for */
  const char *name = out->be ? ds_kern_backend_name(out->be) : "ref";
  snprintf(out->name, sizeof out->name, "%s", name);
  out->id = !out->be ? DS__BACKEND_REF : !strncmp(name, "cuda", 4) ? DS__BACKEND_CUDA : DS__BACKEND_CPU;
  out->isa = !strcmp(name, "cpu-generic") ? 1 : !strcmp(name, "cpu-avx2") ? 2 : !strcmp(name, "cpu-avx512") ? 3 : 0;
  int rc = ds_result_metric(ctx->res, "backend_id", out->id);
  if (!rc) rc = ds_result_metric(ctx->res, "cpu_isa_id", out->isa);
  if (!rc) rc = ds_result_metric(ctx->res, "kernel_threads", out->be && out->id == DS__BACKEND_CPU ? out->threads : 1);
  return rc ? ds_task_fail(ctx, rc, "out of memory") : 0;
}

/* ---- Parameters ----------------------------------------------------------------------------- */

void ds__div_watch(ds_div_t *d, const ds_task_ctx_t *ctx) {
  d->stop = &ds_worker_cancel;
  d->deadline = ctx->deadline; /* ds_now_s() is CLOCK_MONOTONIC seconds, as the kernel reads it */
}

int ds__div_parse(const cJSON *v, ds_div_t *out, char *err, size_t err_len) {
  const char *name = NULL;
  if (cJSON_IsString(v)) name = v->valuestring;
  else if (cJSON_IsObject(v)) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (!cJSON_IsString(n)) return ds_check_fail(err, err_len, ".name", "expected a divergence name");
    name = n->valuestring;
  } else {
    return ds_check_fail(err, err_len, "", "expected a divergence name or {\"name\": ..., params}");
  }
  ds_div_t d;
  if (ds_div_from_name(name, &d))
    return ds_check_fail(err, err_len, cJSON_IsObject(v) ? ".name" : "", "unknown divergence \"%s\"", name);
  if (cJSON_IsObject(v)) {
    for (const cJSON *c = v->child; c; c = c->next) {
      if (!strcmp(c->string, "name")) continue;
      char sfx[80];
      snprintf(sfx, sizeof sfx, ".%s", c->string);
      if (!strcmp(c->string, "cost")) {
        if (!cJSON_IsString(c) || ds_div_set_param_str(&d, "cost", c->valuestring))
          return ds_check_fail(err, err_len, sfx, "expected \"ordinal\" or \"01\" (for sinkhorn)");
        continue;
      }
      if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
        return ds_check_fail(err, err_len, sfx, "expected a number");
      if (ds_div_set_param(&d, c->string, c->valuedouble))
        return ds_check_fail(err, err_len, sfx, "%s has no parameter \"%s\"", name, c->string);
    }
  }
  char msg[200] = "";
  if (ds_div_check(&d, msg, sizeof msg)) {
    /* ds_div_check says "amari: parameter alpha must lie in (0, 1), got 2": name the parameter
     * in the path and keep the rest as the message. */
    const char *pp = strstr(msg, "parameter ");
    if (pp) {
      char key[16] = "";
      if (sscanf(pp, "parameter %15[a-z] ", key) == 1) {
        char sfx[40];
        snprintf(sfx, sizeof sfx, ".%s", key);
        return ds_check_fail(err, err_len, sfx, "%s %s %s", name, key, pp + 10 + strlen(key) + 1);
      }
    }
    return ds_check_fail(err, err_len, "", "%s", msg);
  }
  if (out) *out = d;
  return 0;
}

int ds__check_nums(const cJSON *v, size_t n, char *err, size_t err_len) {
  if (!cJSON_IsArray(v)) return ds_check_fail(err, err_len, "", "expected a list of numbers");
  size_t k = 0;
  for (const cJSON *c = v->child; c; c = c->next, k++)
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble)) {
      char sfx[32];
      snprintf(sfx, sizeof sfx, "[%zu]", k);
      return ds_check_fail(err, err_len, sfx, "expected a finite number");
    }
  if (n ? k != n : k == 0)
    return n ? ds_check_fail(err, err_len, "", "expected %zu numbers (got %zu)", n, k)
             : ds_check_fail(err, err_len, "", "expected a non-empty list of numbers");
  return 0;
}

size_t ds__get_nums(const cJSON *v, double *out, size_t n) {
  size_t k = 0;
  for (const cJSON *c = cJSON_IsArray(v) ? v->child : NULL; c && k < n; c = c->next) out[k++] = c->valuedouble;
  return k;
}

int ds__opt_from_name(const char *name, ds__opt_kind_t *out) {
  static const char *const names[] = {"gd", "adam", "newton", "mirror"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, names[i])) {
      *out = (ds__opt_kind_t)i;
      return 0;
    }
  return DS_EINVAL;
}

/* ---- First-order optimisers ----------------------------------------------------------------- */

int ds__opt_init(ds__opt_t *o, ds__opt_kind_t kind, size_t n, double lr, double clip) {
  memset(o, 0, sizeof *o);
  o->kind = kind;
  o->n = n;
  o->lr = lr;
  o->clip = clip;
  o->m = calloc(n ? n : 1, sizeof *o->m);
  o->v = calloc(n ? n : 1, sizeof *o->v);
  return o->m && o->v ? 0 : DS_ENOMEM;
}

void ds__opt_reset(ds__opt_t *o) {
  memset(o->m, 0, o->n * sizeof *o->m);
  memset(o->v, 0, o->n * sizeof *o->v);
  o->t = 0;
}

/* One loop per case, without branches inside, so that the compiler vectorises it (sqrt and
 * division are correctly rounded in every vector width, so every clone computes the same bits as
 * the scalar loop).  For a free student at V = 32000 × 64 rows this loop was half of a trial on
 * the cpu backend. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void adam_loop(size_t n, double *restrict x, const double *restrict g, double *restrict m, double *restrict v,
                      double lr, double c1, double c2, double clip) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  if (clip > 0) {
    for (size_t i = 0; i < n; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double step = lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
      x[i] -= fmax(-clip, fmin(clip, step));
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      x[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + eps);
    }
  }
}

void ds__opt_step(ds__opt_t *o, double *x, const double *g) {
  o->t++;
  const double b1 = 0.9, b2 = 0.999;
  double c1 = 1 - pow(b1, (double)o->t), c2 = 1 - pow(b2, (double)o->t);
  if (o->kind == DS__OPT_ADAM) {
    adam_loop(o->n, x, g, o->m, o->v, o->lr, c1, c2, o->clip);
    return;
  }
  for (size_t i = 0; i < o->n; i++) {
    double step = o->lr * g[i];
    if (o->clip > 0) step = fmax(-o->clip, fmin(o->clip, step));
    x[i] -= step;
  }
}

void ds__opt_free(ds__opt_t *o) {
  if (!o) return;
  free(o->m);
  free(o->v);
  o->m = o->v = NULL;
}

/* ---- Damped Newton -------------------------------------------------------------------------- */

/* Cholesky solve of A x = b (A n×n, overwritten by its factor).  Returns 0, or −1 if A is not
 * positive definite. */
static int chol_solve(size_t n, double *A, const double *b, double *x) {
  for (size_t j = 0; j < n; j++) {
    double s = A[j * n + j];
    for (size_t k = 0; k < j; k++) s -= A[j * n + k] * A[j * n + k];
    if (!(s > 0)) return -1;
    double d = sqrt(s);
    A[j * n + j] = d;
    for (size_t i = j + 1; i < n; i++) {
      double t = A[i * n + j];
      for (size_t k = 0; k < j; k++) t -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = t / d;
    }
  }
  for (size_t i = 0; i < n; i++) {
    double t = b[i];
    for (size_t k = 0; k < i; k++) t -= A[i * n + k] * x[k];
    x[i] = t / A[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {
    double t = x[i];
    for (size_t k = i + 1; k < n; k++) t -= A[k * n + i] * x[k];
    x[i] = t / A[i * n + i];
  }
  return 0;
}

static double norm_inf(size_t n, const double *x) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* Mirror (natural-gradient) ascent phase: x ← x − η·∇f/π with backtracking; see ds__tasks.h. */
static int mirror_phase(ds__objective_fn f, ds__probs_fn probs, void *arg, size_t n, double *x, double *g,
                        double *xt, double *gt, double *pi, ds_task_ctx_t *ctx, long *iters) {
  double fx = f(arg, x, g), eta = 1;
  int flat = 0, rc;
  long it = 0;
  for (; it < 20000 && flat < 5 && eta > 1e-12; it++) {
    if ((it & 255) == 0 && ctx && (rc = ds_task_should_stop(ctx))) return rc;
    probs(arg, x, pi);
    for (size_t i = 0; i < n; i++) xt[i] = pi[i] > 0 ? x[i] - eta * g[i] / pi[i] : x[i];
    double ft = f(arg, xt, gt);
    if (isfinite(ft) && ft < fx) {
      flat = fx - ft <= 1e-14 * (1 + fabs(fx)) ? flat + 1 : 0;
      memcpy(x, xt, n * sizeof *x);
      memcpy(g, gt, n * sizeof *g);
      fx = ft;
      eta = fmin(eta * 2, 1e8);
    } else {
      eta /= 4;
    }
  }
  *iters = it;
  return 0;
}

int ds__newton(ds__objective_fn f, ds__probs_fn probs, void *arg, size_t n, double *x, long max_iter,
               ds_task_ctx_t *ctx, long *iters_out) {
  if (n == 0 || n > 2048) return DS_EINVAL;
  int rc = 0;
  double *H = malloc(n * n * sizeof *H), *A = malloc(n * n * sizeof *A);
  double *g = malloc(n * sizeof *g), *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
  double *xt = malloc(n * sizeof *xt), *d = malloc(n * sizeof *d), *b = malloc(n * sizeof *b);
  if (!H || !A || !g || !gp || !gm || !xt || !d || !b) {
    rc = DS_ENOMEM;
    goto done;
  }
  if (probs) {
    long mi = 0;
    double *pi = malloc(n * sizeof *pi);
    if (!pi) {
      rc = DS_ENOMEM;
      goto done;
    }
    rc = mirror_phase(f, probs, arg, n, x, g, xt, gp, pi, ctx, &mi);
    free(pi);
    if (rc) goto done;
  }
  double fx = f(arg, x, g), mu = 1e-6;
  long it = 0;
  for (; it < max_iter; it++) {
    if (ctx && (rc = ds_task_should_stop(ctx))) goto done;
    double gn = norm_inf(n, g);
    if (!(gn > 0)) break;
    /* Hessian by central differences of the exact gradient. */
    const double h = 1e-5;
    memcpy(xt, x, n * sizeof *xt);
    for (size_t j = 0; j < n; j++) {
      xt[j] = x[j] + h;
      f(arg, xt, gp);
      xt[j] = x[j] - h;
      f(arg, xt, gm);
      xt[j] = x[j];
      for (size_t i = 0; i < n; i++) H[i * n + j] = (gp[i] - gm[i]) / (2 * h);
    }
    double hmax = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < i; j++) H[i * n + j] = H[j * n + i] = 0.5 * (H[i * n + j] + H[j * n + i]);
    for (size_t i = 0; i < n; i++) hmax = fmax(hmax, fabs(H[i * n + i]));
    if (!(hmax > 0)) hmax = 1;
    for (size_t i = 0; i < n; i++) b[i] = -g[i];
    int accepted = 0, done_now = 0;
    for (int tries = 0; tries < 60 && !accepted; tries++) {
      memcpy(A, H, n * n * sizeof *A);
      for (size_t i = 0; i < n; i++) A[i * n + i] += mu * hmax;
      if (chol_solve(n, A, b, d)) {
        mu *= 10;
        continue;
      }
      if (norm_inf(n, d) <= 1e-15 * (1 + norm_inf(n, x))) {
        done_now = 1;
        break;
      }
      /* Trust region: no coordinate moves by more than 2 per step (2 nats of probability). */
      double dn = norm_inf(n, d), sc = dn > 2 ? 2 / dn : 1;
      for (size_t i = 0; i < n; i++) xt[i] = x[i] + sc * d[i];
      double ft = f(arg, xt, gp);
      double gnt = norm_inf(n, gp);
      if (isfinite(ft) && (ft < fx || (ft <= fx + 1e-13 * fabs(fx) && gnt < gn))) {
        memcpy(x, xt, n * sizeof *x);
        memcpy(g, gp, n * sizeof *g);
        fx = ft;
        accepted = 1;
        mu = fmax(mu / 10, 1e-15);
      } else {
        mu *= 10;
      }
    }
    if (done_now || !accepted) break;
  }
  if (iters_out) *iters_out = it;
done:
  free(H);
  free(A);
  free(g);
  free(gp);
  free(gm);
  free(xt);
  free(d);
  free(b);
  return rc;
}

/* ---- Distributions -------------------------------------------------------------------------- */

/* The metric divergences of the tasks, for ds_ref_div_logprob (kernels/ref.c): one implementation
 * of each, shared with the kernels' reference. */
const ds_div_t ds__div_kl = {.kind = DS_DIV_FKL};
const ds_div_t ds__div_tvd = {.kind = DS_DIV_TVD};
const ds_div_t ds__div_entropy = {.kind = DS_DIV_ENTROPY};

/* Not ds_ref_div_logprob's jsd at beta ½: that one rounds log m = LSE(log ½ + a, log ½ + b) and
 * sums the two halves in another order, so replacing this would move the jsd metric of the
 * shipped experiments in its last bits. */
double ds__jsd(size_t V, const double *la, const double *lb) {
  double s = 0;
  for (size_t i = 0; i < V; i++) {
    double a = exp(la[i]), b = exp(lb[i]);
    double lm = log(0.5) + (la[i] > lb[i] ? la[i] + log1p(exp(lb[i] - la[i]))
                                          : (isinf(lb[i]) && lb[i] < 0 ? -INFINITY : lb[i] + log1p(exp(la[i] - lb[i]))));
    if (a > 0) s += 0.5 * a * (la[i] - lm);
    if (b > 0) s += 0.5 * b * (lb[i] - lm);
  }
  return s;
}

size_t ds__argmax(size_t V, const double *x) {
  size_t k = 0;
  for (size_t i = 1; i < V; i++)
    if (x[i] > x[k]) k = i;
  return k;
}

/* ---- Files ---------------------------------------------------------------------------------- */

/* Mappings shared by the trials of a rank: a campaign's trials usually read the same teacher files,
 * so a file is mapped once and reused while its identity (device, inode, size, mtime) is unchanged.
 * At most NPY_CACHE mappings stay open; an unused one is replaced when the table is full. */
enum { NPY_CACHE = 16 };
typedef struct npy_slot {
  char path[512];
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  int refs;
  unsigned long used;
  ds_npy_map_t m;
} npy_slot_t;
static npy_slot_t npy_cache[NPY_CACHE];
static unsigned long npy_clock;
static unsigned long npy_maps_made;
static pthread_mutex_t npy_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned long ds__npy_maps_made(void) {
  pthread_mutex_lock(&npy_lock);
  unsigned long n = npy_maps_made;
  pthread_mutex_unlock(&npy_lock);
  return n;
}

int ds__npy_open(const char *path, const ds_npy_map_t **out, char *err, size_t err_len) {
  *out = NULL;
  struct stat st;
  int have = stat(path, &st) == 0 && S_ISREG(st.st_mode) && strlen(path) < sizeof npy_cache[0].path;
  pthread_mutex_lock(&npy_lock);
  npy_slot_t *free_slot = NULL;
  for (int i = 0; i < NPY_CACHE && have; i++) {
    npy_slot_t *c = &npy_cache[i];
    if (c->m.base && !strcmp(c->path, path) && c->dev == st.st_dev && c->ino == st.st_ino &&
        c->size == st.st_size && c->mtime.tv_sec == st.st_mtim.tv_sec && c->mtime.tv_nsec == st.st_mtim.tv_nsec) {
      c->refs++;
      c->used = ++npy_clock;
      *out = &c->m;
      pthread_mutex_unlock(&npy_lock);
      return 0;
    }
  }
  for (int i = 0; i < NPY_CACHE && have; i++) {
    npy_slot_t *c = &npy_cache[i];
    if (c->refs == 0 && (!free_slot || !c->m.base || (free_slot->m.base && c->used < free_slot->used))) free_slot = c;
  }
  ds_npy_map_t m;
  int rc = ds_npy_map(path, &m, err, err_len);
  if (rc == 0) npy_maps_made++;
  if (rc == 0 && free_slot) {
    ds_npy_unmap(&free_slot->m);
    snprintf(free_slot->path, sizeof free_slot->path, "%s", path);
    free_slot->dev = st.st_dev;
    free_slot->ino = st.st_ino;
    free_slot->size = st.st_size;
    free_slot->mtime = st.st_mtim;
    free_slot->refs = 1;
    free_slot->used = ++npy_clock;
    free_slot->m = m;
    *out = &free_slot->m;
  } else if (rc == 0) {
    /* No slot (every one in use, or the path too long): a private mapping, unmapped on close. */
    ds_npy_map_t *own = malloc(sizeof *own);
    if (!own) {
      ds_npy_unmap(&m);
      rc = DS_ENOMEM;
      snprintf(err, err_len, "%s: out of memory", path);
    } else {
      *own = m;
      *out = own;
    }
  }
  pthread_mutex_unlock(&npy_lock);
  return rc;
}

void ds__npy_close(const ds_npy_map_t *m) {
  if (!m) return;
  pthread_mutex_lock(&npy_lock);
  for (int i = 0; i < NPY_CACHE; i++)
    if (&npy_cache[i].m == m) {
      npy_cache[i].refs--;
      pthread_mutex_unlock(&npy_lock);
      return;
    }
  pthread_mutex_unlock(&npy_lock);
  ds_npy_map_t *own = (ds_npy_map_t *)m;
  ds_npy_unmap(own);
  free(own);
}

int ds__npy_load(const char *path, double **data, size_t *rows, size_t *cols, char *err, size_t err_len) {
  *data = NULL;
  const ds_npy_map_t *m;
  int rc = ds__npy_open(path, &m, err, err_len);
  if (rc) return rc;
  size_t n = m->hdr.rows * m->hdr.cols;
  double *out = malloc(n * sizeof *out);
  if (!out) {
    ds__npy_close(m);
    snprintf(err, err_len, "%s: out of memory", path);
    return DS_ENOMEM;
  }
  /* float64 files stay exact; float16/float32 convert exactly. */
  ds_npy_convert_f64(m->data, m->hdr.item, n, out);
  *rows = m->hdr.rows;
  *cols = m->hdr.cols;
  *data = out;
  ds__npy_close(m);
  return 0;
}

void ds__label_metrics(size_t rows, size_t V, const double *lp, const double *labels, ds__label_stats_t *out) {
  enum { NB = 15 };
  double bconf[NB] = {0}, bacc[NB] = {0}, bn[NB] = {0};
  double acc = 0, conf = 0, lprob = 0;
  for (size_t r = 0; r < rows; r++) {
    const double *l = lp + r * V;
    size_t k = ds__argmax(V, l);
    long y = (long)labels[r];
    double c = exp(l[k]), a = (long)k == y ? 1.0 : 0.0;
    acc += a;
    conf += c;
    if (y >= 0 && (size_t)y < V) lprob += exp(l[y]);
    int b = (int)(c * NB);
    if (b >= NB) b = NB - 1;
    if (b < 0) b = 0;
    bconf[b] += c;
    bacc[b] += a;
    bn[b] += 1;
  }
  double ece = 0;
  for (int b = 0; b < NB; b++)
    if (bn[b] > 0) ece += fabs(bacc[b] - bconf[b]) / (double)rows;
  out->accuracy = acc / (double)rows;
  out->confidence = conf / (double)rows;
  out->ece = ece;
  out->label_prob = lprob / (double)rows;
}

/* ---- Curves and misc ------------------------------------------------------------------------ */

int ds__curve_point(long s, long last) {
  if (s == 0 || s == last) return 1;
  long j = lround(8 * log10((double)s));
  for (long d = -1; d <= 1; d++)
    if (j + d >= 0 && lround(pow(10, (double)(j + d) / 8)) == s) return 1;
  return 0;
}

double ds__gauss(uint64_t *st) {
  double u1 = ds_rand_unit(st), u2 = ds_rand_unit(st);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

int ds__stopped(ds_task_ctx_t *ctx, int rc, long step) {
  return ds_task_fail(ctx, rc, rc == DS_ETIMEOUT ? "timed out at step %ld" : "interrupted at step %ld", step);
}
