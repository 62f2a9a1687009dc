/* spec.c — parse and validate a campaign spec (its sweep is expanded in expand.c).
 *
 * Parsing renders every value a parameter can take to canonical JSON once (ds_pval_t), together
 * with its flattened scalars for the `params` table.  ds_spec_trial() then only concatenates
 * pre-rendered pieces in sorted key order and hashes the result, which is what lets the
 * coordinator produce trials at well over 10⁵/s and resume a 10⁶-trial sweep without holding it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds__schema.h"

/* Caps on what a spec may ask for, each checked by counting before anything is expanded: a
 * parsed value costs about 200 bytes (two axes of 10⁶ points took 433 MiB before the count came
 * first), and a campaign of 10⁹ trials is already ~330 GB of store. */
#define MAX_AXIS_POINTS 10000000
#define MAX_TOTAL_POINTS 10000000
#define MAX_TRIALS ((int64_t)1000000000)
#define MAX_AXES 64          /* ds_spec_trial() picks values for at most this many axes */
#define MAX_SPEC_BYTES ((size_t)64 << 20)

typedef struct parser {
  ds_spec_t *s;
  const ds_spec_opts_t *opts;
  char *err;
  size_t err_len;
} parser_t;

static int fail(parser_t *p, const char *path, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->err && p->err_len)
    snprintf(p->err, p->err_len, "%s: %s%s%s", p->s->file, path, *path ? ": " : "", msg);
  return DS_ESPEC;
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- flattening for the params table ---------------------------------------------------- */

static void sanitize(char *name) {
  for (char *c = name; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_') *c = '_';
}

static int flat_push(ds_pval_t *pv, const char *name, double value, const char *text) {
  ds_flat_t *f = realloc(pv->flat, (pv->n_flat + 1) * sizeof *f);
  if (!f) return DS_ENOMEM;
  pv->flat = f;
  f = &pv->flat[pv->n_flat];
  f->name = strdup(name);
  f->value = value;
  f->text = xstrdup(text);
  if (!f->name || (text && !f->text)) return DS_ENOMEM;
  sanitize(f->name);
  pv->n_flat++;
  return 0;
}

static int all_numbers(const cJSON *a) {
  for (const cJSON *c = a->child; c; c = c->next)
    if (!cJSON_IsNumber(c)) return 0;
  return 1;
}

static int flatten(ds_pval_t *pv, const char *name, const cJSON *v, int depth) {
  char sub[256];
  int rc = 0;
  if (depth > 4) return 0;
  if (cJSON_IsNumber(v)) return flat_push(pv, name, v->valuedouble, NULL);
  if (cJSON_IsBool(v)) return flat_push(pv, name, cJSON_IsTrue(v) ? 1 : 0, NULL);
  if (cJSON_IsString(v)) return flat_push(pv, name, NAN, v->valuestring);
  if (cJSON_IsObject(v)) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (cJSON_IsString(nm)) rc = flat_push(pv, name, NAN, nm->valuestring);
    for (const cJSON *c = v->child; c && !rc; c = c->next) {
      if (c == nm) continue;
      snprintf(sub, sizeof sub, "%s_%s", name, c->string);
      rc = flatten(pv, sub, c, depth + 1);
    }
    return rc;
  }
  if (cJSON_IsArray(v)) {
    int n = cJSON_GetArraySize(v);
    char *json = ds_json_canonical(v);
    if (!json) return DS_ENOMEM;
    if (strlen(json) <= 256) rc = flat_push(pv, name, NAN, json);
    free(json);
    if (!rc && n <= 16 && all_numbers(v)) {
      int i = 0;
      for (const cJSON *c = v->child; c && !rc; c = c->next, i++) {
        snprintf(sub, sizeof sub, "%s_%d", name, i);
        rc = flat_push(pv, sub, c->valuedouble, NULL);
      }
    }
    return rc;
  }
  return 0;
}

static void pval_free(ds_pval_t *pv) {
  if (!pv) return;
  free(pv->json);
  for (size_t i = 0; i < pv->n_flat; i++) {
    free(pv->flat[i].name);
    free(pv->flat[i].text);
  }
  free(pv->flat);
  memset(pv, 0, sizeof *pv);
}

static int pval_make(ds_pval_t *pv, const char *name, const cJSON *v) {
  memset(pv, 0, sizeof *pv);
  pv->json = ds_json_canonical(v);
  if (!pv->json) return DS_ENOMEM;
  pv->json_len = strlen(pv->json);
  return flatten(pv, name, v, 0);
}

/* ---- value checks --------------------------------------------------------------------- */

/* Checks that apply to a parameter of any task, then the task's own check. */
static int check_value(parser_t *p, const char *path, const char *key, const cJSON *v) {
  if (!strcmp(key, "temperature") && (!cJSON_IsNumber(v) || !(v->valuedouble > 0)))
    return fail(p, path, "temperature must be a number > 0");
  if (!strcmp(key, "beta") && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0)))
    return fail(p, path, "beta must be a number >= 0");
  if (!strcmp(key, "mixture")) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || !all_numbers(v))
      return fail(p, path, "mixture must be a non-empty list of weights");
    double sum = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (!(c->valuedouble >= 0)) return fail(p, path, "mixture weights must be >= 0");
      sum += c->valuedouble;
    }
    if (fabs(sum - 1) > 1e-9) return fail(p, path, "mixture weights must sum to 1 (they sum to %.17g)", sum);
  }
  if (p->opts && p->opts->check) {
    char msg[400];
    msg[0] = 0;
    if (p->opts->check(p->s->task, key, v, msg, sizeof msg)) {
      /* msg is "<suffix>: <text>"; join the suffix onto our path. */
      char full[1024];
      const char *colon = strstr(msg, ": ");
      if (colon) {
        snprintf(full, sizeof full, "%s%.*s", path, (int)(colon - msg), msg);
        return fail(p, full, "%s", colon + 2);
      }
      return fail(p, path, "%s", msg);
    }
  }
  return 0;
}

/* ---- sweep axes ----------------------------------------------------------------------- */

static int axis_push(parser_t *p, ds_axis_t *ax, const cJSON *v, const char *path) {
  int rc = check_value(p, path, ax->name, v);
  if (rc) return rc;
  if (ax->n >= MAX_AXIS_POINTS) return fail(p, path, "too many values (at most %d)", MAX_AXIS_POINTS);
  if (ax->n == ax->cap) { /* geometric growth: a 10⁵-point simplex lattice must not be O(n²) */
    size_t cap = ax->cap ? 2 * ax->cap : 8;
    ds_pval_t *vals = realloc(ax->vals, cap * sizeof *vals);
    if (!vals) return DS_ENOMEM;
    ax->vals = vals;
    ax->cap = cap;
  }
  rc = pval_make(&ax->vals[ax->n], ax->name, v);
  ax->n++;
  return rc;
}

static int get_points(parser_t *p, const cJSON *obj, const char *path, int *n) {
  const cJSON *pts = cJSON_GetObjectItemCaseSensitive(obj, "points");
  char sub[512];
  snprintf(sub, sizeof sub, "%s.points", path);
  if (!pts) return fail(p, sub, "missing (a positive integer)");
  if (!cJSON_IsNumber(pts) || pts->valuedouble < 1 || pts->valuedouble != floor(pts->valuedouble) ||
      pts->valuedouble > MAX_AXIS_POINTS)
    return fail(p, sub, "expected a positive integer");
  *n = (int)pts->valuedouble;
  return 0;
}

static int get_range(parser_t *p, const cJSON *r, const char *path, double *lo, double *hi, int log) {
  if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 2 || !all_numbers(r))
    return fail(p, path, "expected [low, high]");
  *lo = r->child->valuedouble;
  *hi = r->child->next->valuedouble;
  if (!isfinite(*lo) || !isfinite(*hi)) return fail(p, path, "bounds must be finite");
  if (log && !(*lo > 0 && *hi > 0)) return fail(p, path, "log bounds must be > 0");
  return 0;
}

/* Expands a range object {"linear"|"log": [a, b], "points": n} into numbers, appended to out. */
static int range_values(parser_t *p, const cJSON *obj, const char *path, double **out, int *n,
                        double *lo, double *hi, int *is_log) {
  const cJSON *lin = cJSON_GetObjectItemCaseSensitive(obj, "linear");
  const cJSON *lg = cJSON_GetObjectItemCaseSensitive(obj, "log");
  char sub[512];
  if (!lin == !lg) return fail(p, path, "expected a list, {\"linear\": [a, b], \"points\": n}, {\"log\": [a, b], \"points\": n} or {\"simplex\": M, \"steps\": s}");
  *is_log = lg != NULL;
  for (const cJSON *c = obj->child; c; c = c->next)
    if (strcmp(c->string, "linear") && strcmp(c->string, "log") && strcmp(c->string, "points")) {
      snprintf(sub, sizeof sub, "%s.%s", path, c->string);
      return fail(p, sub, "unknown key");
    }
  snprintf(sub, sizeof sub, "%s.%s", path, lg ? "log" : "linear");
  int rc = get_range(p, lg ? lg : lin, sub, lo, hi, *is_log);
  if (!rc) rc = get_points(p, obj, path, n);
  if (rc) return rc;
  *out = malloc((size_t)*n * sizeof **out);
  if (!*out) return DS_ENOMEM;
  for (int i = 0; i < *n; i++) {
    double f = *n == 1 ? 0 : (double)i / (*n - 1);
    (*out)[i] = *is_log ? exp(log(*lo) + f * (log(*hi) - log(*lo))) : *lo + f * (*hi - *lo);
    if (i == 0) (*out)[i] = *lo; /* exact end points: exp(log(x)) need not be x */
    if (i == *n - 1 && *n > 1) (*out)[i] = *hi;
  }
  return 0;
}

/* Simplex lattice {k_1/s, ..., k_M/s : Σk = s}, in lexicographic order of k. */
static int simplex_axis(parser_t *p, ds_axis_t *ax, const cJSON *obj, const char *path) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "simplex");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "steps");
  char sub[512];
  for (const cJSON *c = obj->child; c; c = c->next)
    if (strcmp(c->string, "simplex") && strcmp(c->string, "steps")) {
      snprintf(sub, sizeof sub, "%s.%s", path, c->string);
      return fail(p, sub, "unknown key");
    }
  snprintf(sub, sizeof sub, "%s.simplex", path);
  if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > 32 || m->valuedouble != floor(m->valuedouble))
    return fail(p, sub, "expected the number of teachers, an integer in 1..32");
  snprintf(sub, sizeof sub, "%s.steps", path);
  if (!cJSON_IsNumber(st) || st->valuedouble < 1 || st->valuedouble > 1000 || st->valuedouble != floor(st->valuedouble))
    return fail(p, sub, "expected a positive integer (at most 1000)");
  int M = (int)m->valuedouble, S = (int)st->valuedouble;
  /* Count before expanding: the lattice has C(S + M − 1, M − 1) points, which for 23 teachers at
   * 94 steps would take hours to list (found by fuzz_spec). */
  double points = 1;
  for (int i = 1; i < M && points <= 100000; i++) points = points * (S + i) / i;
  if (points > 100000)
    return fail(p, path, "the simplex lattice has more than 100000 points (C(steps + simplex - 1, simplex - 1));"
                " use fewer steps, or Dirichlet draws {\"dirichlet\": M, \"points\": n}");
  ax->kind = DS_AXIS_SIMPLEX;
  ax->simplex_m = M;
  int k[32] = {0};
  k[0] = S; /* start at (S, 0, ..., 0) and walk compositions in reverse-lexicographic order */
  for (;;) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return DS_ENOMEM;
    for (int i = 0; i < M; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)k[i] / S));
    int rc = axis_push(p, ax, arr, path);
    cJSON_Delete(arr);
    if (rc) return rc;
    /* next composition: find rightmost i < M-1 with k[i] > 0, move one unit right */
    int i = M - 2;
    while (i >= 0 && k[i] == 0) i--;
    if (i < 0) break;
    k[i]--;
    int rest = k[M - 1];
    k[M - 1] = 0;
    k[i + 1] = rest + 1;
  }
  return 0;
}

/* Gamma(a, 1) by Marsaglia–Tsang (a < 1 through the a + 1 boost), from the spec's generator. */
static double gamma_draw(double a, uint64_t *st) {
  double boost = 1;
  if (a < 1) {
    boost = pow(ds_rand_unit(st) + 1e-300, 1 / a);
    a += 1;
  }
  double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
  for (;;) {
    double x, v;
    do {
      double u1 = ds_rand_unit(st) + 1e-300, u2 = ds_rand_unit(st);
      x = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = ds_rand_unit(st);
    if (u < 1 - 0.0331 * x * x * x * x || log(u + 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return boost * d * v;
  }
}

/* Dirichlet draws {"dirichlet": M, "points": n, "alpha": a?, "seed": s?}: n weight vectors on the
 * simplex, drawn once at parse time from a generator seeded by `seed` (default 0), so the same spec
 * always gives the same draws. */
static int dirichlet_axis(parser_t *p, ds_axis_t *ax, const cJSON *obj, const char *path) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "dirichlet");
  const cJSON *al = cJSON_GetObjectItemCaseSensitive(obj, "alpha");
  const cJSON *sd = cJSON_GetObjectItemCaseSensitive(obj, "seed");
  char sub[512];
  for (const cJSON *c = obj->child; c; c = c->next)
    if (strcmp(c->string, "dirichlet") && strcmp(c->string, "points") && strcmp(c->string, "alpha") &&
        strcmp(c->string, "seed")) {
      snprintf(sub, sizeof sub, "%s.%s", path, c->string);
      return fail(p, sub, "unknown key (expected dirichlet, points, alpha, seed)");
    }
  snprintf(sub, sizeof sub, "%s.dirichlet", path);
  if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > 32 || m->valuedouble != floor(m->valuedouble))
    return fail(p, sub, "expected the number of teachers, an integer in 1..32");
  int n, rc = get_points(p, obj, path, &n);
  if (rc) return rc;
  if (n > 100000) return fail(p, path, "at most 100000 Dirichlet draws");
  double alpha = 1;
  if (al) {
    snprintf(sub, sizeof sub, "%s.alpha", path);
    if (!cJSON_IsNumber(al) || !(al->valuedouble > 0) || !isfinite(al->valuedouble))
      return fail(p, sub, "expected a concentration > 0");
    alpha = al->valuedouble;
  }
  uint64_t st = 0x6469726963686c65ULL;
  if (sd) {
    snprintf(sub, sizeof sub, "%s.seed", path);
    if (!cJSON_IsNumber(sd) || sd->valuedouble < 0 || sd->valuedouble != floor(sd->valuedouble))
      return fail(p, sub, "expected a non-negative integer");
    st ^= (uint64_t)sd->valuedouble * 0x9e3779b97f4a7c15ULL;
  }
  int M = (int)m->valuedouble;
  ax->kind = DS_AXIS_SIMPLEX;
  ax->simplex_m = M;
  for (int i = 0; i < n; i++) {
    double g[32], sum = 0;
    for (int k = 0; k < M; k++) sum += g[k] = gamma_draw(alpha, &st);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return DS_ENOMEM;
    double acc = 0;
    for (int k = 0; k < M; k++) {
      /* The last weight closes the sum exactly, so the mixture check (|Σ−1| ≤ 1e-9) always holds. */
      double w = k == M - 1 ? fmax(0, 1 - acc) : g[k] / sum;
      acc += w;
      cJSON_AddItemToArray(arr, cJSON_CreateNumber(w));
    }
    rc = axis_push(p, ax, arr, path);
    cJSON_Delete(arr);
    if (rc) return rc;
  }
  return 0;
}

/* A list item that is an object with a "name" (a divergence) may carry lists or ranges as its
 * parameters: expand their Cartesian product, in key order. */
static int expand_named(parser_t *p, ds_axis_t *ax, const cJSON *item, const char *path) {
  size_t nk = 0;
  const cJSON *keys[16];
  double *vals[16] = {0};
  int nv[16] = {0};
  int rc = 0;
  for (const cJSON *c = item->child; c; c = c->next) {
    if (!cJSON_IsArray(c) && !(cJSON_IsObject(c) && (cJSON_GetObjectItemCaseSensitive(c, "linear") ||
                                                     cJSON_GetObjectItemCaseSensitive(c, "log"))))
      continue;
    char sub[512];
    snprintf(sub, sizeof sub, "%s.%s", path, c->string);
    if (nk == 16) return fail(p, sub, "too many swept parameters");
    keys[nk] = c;
    if (cJSON_IsArray(c)) {
      nv[nk] = cJSON_GetArraySize(c);
      if (nv[nk] < 1 || !all_numbers(c)) { rc = fail(p, sub, "expected a non-empty list of numbers"); goto done; }
      vals[nk] = malloc((size_t)nv[nk] * sizeof(double));
      if (!vals[nk]) { rc = DS_ENOMEM; goto done; }
      int i = 0;
      for (const cJSON *e = c->child; e; e = e->next) vals[nk][i++] = e->valuedouble;
    } else {
      double lo, hi;
      int lg;
      rc = range_values(p, c, sub, &vals[nk], &nv[nk], &lo, &hi, &lg);
      if (rc) goto done;
    }
    nk++;
  }
  if (nk == 0) { rc = axis_push(p, ax, item, path); goto done; }
  /* Expand in the parameters' name order, not the order the file lists them in: the trial order
   * (and so every trial index the store keeps) must not depend on how the spec was written. */
  for (size_t i = 1; i < nk; i++)
    for (size_t j = i; j > 0 && strcmp(keys[j - 1]->string, keys[j]->string) > 0; j--) {
      const cJSON *tk = keys[j];
      double *tv = vals[j];
      int tn = nv[j];
      keys[j] = keys[j - 1], vals[j] = vals[j - 1], nv[j] = nv[j - 1];
      keys[j - 1] = tk, vals[j - 1] = tv, nv[j - 1] = tn;
    }
  int idx[16] = {0};
  for (;;) {
    cJSON *copy = cJSON_Duplicate(item, 1);
    if (!copy) { rc = DS_ENOMEM; goto done; }
    for (size_t i = 0; i < nk; i++)
      cJSON_ReplaceItemInObjectCaseSensitive(copy, keys[i]->string, cJSON_CreateNumber(vals[i][idx[i]]));
    rc = axis_push(p, ax, copy, path);
    cJSON_Delete(copy);
    if (rc) goto done;
    size_t i = nk;
    while (i > 0) {
      i--;
      if (++idx[i] < nv[i]) break;
      idx[i] = 0;
      if (i == 0) goto done;
    }
  }
done:
  for (size_t i = 0; i < 16; i++) free(vals[i]);
  return rc;
}

static int parse_axis(parser_t *p, ds_axis_t *ax, const cJSON *v) {
  char path[300], sub[400];
  snprintf(path, sizeof path, "sweep.%s", ax->name);
  if (cJSON_IsArray(v)) {
    ax->kind = DS_AXIS_LIST;
    if (cJSON_GetArraySize(v) == 0) return fail(p, path, "expected a non-empty list");
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
      snprintf(sub, sizeof sub, "%s[%d]", path, i);
      int rc = cJSON_IsObject(c) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "name"))
                   ? expand_named(p, ax, c, sub)
                   : axis_push(p, ax, c, sub);
      if (rc) return rc;
    }
    return 0;
  }
  if (!cJSON_IsObject(v))
    return fail(p, path, "expected a list, {\"linear\": [a, b], \"points\": n}, {\"log\": [a, b], \"points\": n}, {\"simplex\": M, \"steps\": s} or {\"dirichlet\": M, \"points\": n}");
  if (cJSON_GetObjectItemCaseSensitive(v, "simplex")) return simplex_axis(p, ax, v, path);
  if (cJSON_GetObjectItemCaseSensitive(v, "dirichlet")) return dirichlet_axis(p, ax, v, path);
  double *vals = NULL, lo, hi;
  int n, lg, rc = range_values(p, v, path, &vals, &n, &lo, &hi, &lg);
  if (rc) return rc;
  ax->kind = lg ? DS_AXIS_LOG : DS_AXIS_LINEAR;
  ax->lo = lo;
  ax->hi = hi;
  for (int i = 0; i < n && !rc; i++) {
    cJSON *num = cJSON_CreateNumber(vals[i]);
    rc = num ? axis_push(p, ax, num, path) : DS_ENOMEM;
    cJSON_Delete(num);
  }
  free(vals);
  return rc;
}

/* Two grid points of one axis with the same canonical JSON ([1, 1.0], or a linear range with
 * equal ends) would give two trials the same key: the store keeps one row per key, so such a
 * campaign could never complete.  Finds the first such pair (sorted by JSON: O(n log n)). */
typedef struct jref {
  const char *json;
  size_t len, i;
} jref_t;

static int cmp_jref(const void *a, const void *b) {
  const jref_t *x = a, *y = b;
  int c = memcmp(x->json, y->json, x->len < y->len ? x->len : y->len);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int axis_duplicates(parser_t *p, const ds_axis_t *ax) {
  if (ax->n < 2) return 0;
  jref_t *ord = malloc(ax->n * sizeof *ord);
  if (!ord) return DS_ENOMEM;
  for (size_t i = 0; i < ax->n; i++) ord[i] = (jref_t){ax->vals[i].json, ax->vals[i].json_len, i};
  qsort(ord, ax->n, sizeof *ord, cmp_jref);
  int rc = 0;
  for (size_t i = 1; i < ax->n && !rc; i++)
    if (cmp_jref(&ord[i - 1], &ord[i]) == 0) {
      char path[300];
      size_t a = ord[i - 1].i < ord[i].i ? ord[i - 1].i : ord[i].i, b = ord[i - 1].i ^ ord[i].i ^ a;
      snprintf(path, sizeof path, "sweep.%s", ax->name);
      rc = fail(p, path, "values %zu and %zu are the same (%.*s); grid values must differ", a, b,
                (int)(ord[i].len > 60 ? 60 : ord[i].len), ord[i].json);
    }
  free(ord);
  return rc;
}


/* ---- counting before expanding -------------------------------------------------------- */

/* The number of values a "points" member asks for, or 1 when it is malformed (the parser then
 * reports it with its path). */
static double count_points(const cJSON *obj) {
  const cJSON *pts = cJSON_GetObjectItemCaseSensitive(obj, "points");
  return cJSON_IsNumber(pts) && pts->valuedouble >= 1 ? floor(pts->valuedouble) : 1;
}

/* How many values axis value v would expand to, without expanding it (saturates at 1e300).
 * Mirrors parse_axis(), expand_named() and the range/simplex/dirichlet forms. */
static double count_axis(const cJSON *v) {
  if (cJSON_IsArray(v)) {
    double n = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
      double k = 1;
      if (cJSON_IsObject(c) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "name")))
        for (const cJSON *e = c->child; e; e = e->next) {
          if (cJSON_IsArray(e)) k *= fmax(1, cJSON_GetArraySize(e));
          else if (cJSON_IsObject(e) && (cJSON_GetObjectItemCaseSensitive(e, "linear") ||
                                         cJSON_GetObjectItemCaseSensitive(e, "log")))
            k *= count_points(e);
          if (k > 1e300) k = 1e300;
        }
      n += k;
    }
    return fmin(n, 1e300);
  }
  if (!cJSON_IsObject(v)) return 1;
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "simplex");
  if (m) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(v, "steps");
    if (!cJSON_IsNumber(m) || !cJSON_IsNumber(st) || m->valuedouble < 1 || m->valuedouble > 32 ||
        st->valuedouble < 1 || st->valuedouble > 1000)
      return 1;
    double points = 1, S = floor(st->valuedouble);
    for (int i = 1; i < (int)m->valuedouble; i++) points = points * (S + i) / i;
    return points;
  }
  return count_points(v);
}

/* ---- whole-document checks ------------------------------------------------------------ */

/* JSON path of member c under parent path `path` ("fixed.x", "sweep.x[2]"). */
static void child_path(char *out, size_t cap, const char *path, const cJSON *c, int i) {
  if (c->string) snprintf(out, cap, "%s%s%s", path, *path ? "." : "", c->string);
  else snprintf(out, cap, "%s[%d]", path, i);
}

/* cJSON reads 1e400 as inf, which would be stored as null in params_json but Inf in params:
 * every number of a spec must be finite.  Nesting is bounded by cJSON (1000 levels). */
static int check_finite(parser_t *p, const cJSON *v, const char *path) {
  if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
    return fail(p, path, "not a finite number (JSON numbers beyond ±1.8e308 overflow)");
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    char sub[600];
    child_path(sub, sizeof sub, path, c, i);
    int rc = check_finite(p, c, sub);
    if (rc) return rc;
  }
  return 0;
}

/* Duplicate member names in one object (cJSON keeps both): sorted, so linear-time after the
 * sort — 60,000 fixed keys took 25 s with the pairwise check. */
typedef struct named {
  const char *name; /* compared */
  const char *key;  /* the top-level key it came from */
  const char *section;
  size_t order;
} named_t;

static int cmp_named(const void *a, const void *b) {
  const named_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int check_unique_members(parser_t *p, const cJSON *obj, const char *section) {
  size_t n = 0, i = 0;
  for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) n++;
  if (n < 2) return 0;
  named_t *v = malloc(n * sizeof *v);
  if (!v) return DS_ENOMEM;
  for (const cJSON *c = obj->child; c; c = c->next, i++) v[i] = (named_t){c->string, c->string, section, i};
  qsort(v, n, sizeof *v, cmp_named);
  int rc = 0;
  for (i = 1; i < n && !rc; i++)
    if (!strcmp(v[i - 1].name, v[i].name)) {
      char path[300];
      snprintf(path, sizeof path, "%s.%s", section, v[i].name);
      rc = fail(p, path, "duplicate key");
    }
  free(v);
  return rc;
}

static int cmp_named_ci(const void *a, const void *b) {
  const named_t *x = a, *y = b;
  int c = strcasecmp(x->name, y->name);
  return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int names_push(named_t **v, size_t *n, size_t *cap, const char *name, const char *key, const char *section) {
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 64;
    named_t *d = realloc(*v, c * sizeof *d);
    if (!d) return DS_ENOMEM;
    *v = d;
    *cap = c;
  }
  (*v)[*n] = (named_t){name, key, section, *n};
  (*n)++;
  return 0;
}

/* Parameter names become `params.name` (letters, digits and '_', so "a-b" and "a_b" are one)
 * and columns of the campaign view (where SQLite compares names without case, so "X" and "x"
 * are one): two different keys of the spec whose flattened names meet that way would silently
 * lose one of them.  Refuses the first such pair with both JSON paths.  slot_name[i] is the
 * spec key of slot i (borrowed from the cJSON tree). */
static int check_collisions(parser_t *p, const char *const *slot_name) {
  ds_spec_t *s = p->s;
  named_t *v = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  for (size_t i = 0; i < s->n_slots && !rc; i++) {
    if (s->slot_axis[i] != -1) continue;
    const ds_pval_t *pv = &s->slot_fixed[i];
    for (size_t f = 0; f < pv->n_flat && !rc; f++) rc = names_push(&v, &n, &cap, pv->flat[f].name, slot_name[i], "fixed");
  }
  for (size_t a = 0; a < s->n_axes && !rc; a++) {
    const ds_axis_t *ax = &s->axes[a];
    for (size_t j = 0; j < ax->n && !rc; j++) {
      const ds_pval_t *pv = &ax->vals[j];
      for (size_t f = 0; f < pv->n_flat && !rc; f++) {
        /* The values of one axis mostly repeat the first value's names: skip those cheaply. */
        if (j > 0 && f < ax->vals[0].n_flat && !strcmp(pv->flat[f].name, ax->vals[0].flat[f].name)) continue;
        rc = names_push(&v, &n, &cap, pv->flat[f].name, ax->name, "sweep");
      }
    }
  }
  if (!rc && n > 1) {
    qsort(v, n, sizeof *v, cmp_named_ci);
    for (size_t i = 1; i < n && !rc; i++) {
      const named_t *x = &v[i - 1], *y = &v[i];
      /* Names that meet within one key are that key's own flattening (the values of one axis
       * all give the axis's name). */
      if (strcasecmp(x->name, y->name) || !strcmp(x->key, y->key)) continue;
      char px[400], py[400];
      snprintf(px, sizeof px, "%s.%s", x->section, x->key);
      snprintf(py, sizeof py, "%s.%s", y->section, y->key);
      rc = fail(p, py, "collides with %s: both become the parameter column \"%s\" (in params and the campaign"
                " view, names compare without case and characters other than letters, digits and '_' read"
                " as '_'); rename one", px, y->name);
    }
  }
  free(v);
  return rc;
}

/* ---- top level ------------------------------------------------------------------------ */

static int is_uint(const cJSON *v, double max) {
  return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
         v->valuedouble == floor(v->valuedouble);
}

static int parse_sampler(parser_t *p, const cJSON *v) {
  ds_spec_t *s = p->s;
  s->sampler = DS_SAMPLER_GRID;
  if (!v) return 0;
  if (cJSON_IsString(v)) {
    if (!strcmp(v->valuestring, "grid")) return 0;
    return fail(p, "sampler", "unknown sampler \"%s\" (expected \"grid\", {\"random\": n, \"seed\": s} or {\"lhs\": n, \"seed\": s})", v->valuestring);
  }
  if (!cJSON_IsObject(v)) return fail(p, "sampler", "expected \"grid\" or an object");
  static const char *kinds[] = {"random", "lhs"};
  static const ds_sampler_t kv[] = {DS_SAMPLER_RANDOM, DS_SAMPLER_LHS};
  const cJSON *n = NULL;
  for (int i = 0; i < 2 && !n; i++)
    if ((n = cJSON_GetObjectItemCaseSensitive(v, kinds[i]))) s->sampler = kv[i];
  if (!n) return fail(p, "sampler", "expected {\"random\": n, \"seed\": s} or {\"lhs\": n, \"seed\": s}");
  char path[64];
  snprintf(path, sizeof path, "sampler.%s", n->string);
  if (!is_uint(n, 1e9) || n->valuedouble < 1) return fail(p, path, "expected a positive integer");
  s->sampler_n = (int64_t)n->valuedouble;
  for (const cJSON *c = v->child; c; c = c->next) {
    snprintf(path, sizeof path, "sampler.%s", c->string);
    if (c == n) continue;
    if (!strcmp(c->string, "seed")) {
      if (!is_uint(c, 9007199254740992.0)) return fail(p, path, "expected a non-negative integer");
      s->sampler_seed = (uint64_t)c->valuedouble;
    } else {
      return fail(p, path, "unknown key");
    }
  }
  return 0;
}

static int parse_seeds(parser_t *p, const cJSON *v) {
  ds_spec_t *s = p->s;
  if (!v) {
    s->n_seeds = 1;
    s->seeds = calloc(1, sizeof *s->seeds);
    return s->seeds ? 0 : DS_ENOMEM;
  }
  if (is_uint(v, 1e6) && v->valuedouble >= 1) {
    s->n_seeds = (size_t)v->valuedouble;
    s->seeds = malloc(s->n_seeds * sizeof *s->seeds);
    if (!s->seeds) return DS_ENOMEM;
    for (size_t i = 0; i < s->n_seeds; i++) s->seeds[i] = (int64_t)i;
    return 0;
  }
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
    s->n_seeds = (size_t)cJSON_GetArraySize(v);
    s->seeds = malloc(s->n_seeds * sizeof *s->seeds);
    if (!s->seeds) return DS_ENOMEM;
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
      char path[64];
      snprintf(path, sizeof path, "seeds[%zu]", i);
      if (!is_uint(c, 9007199254740992.0)) return fail(p, path, "expected a non-negative integer");
      s->seeds[i] = (int64_t)c->valuedouble;
      for (size_t j = 0; j < i; j++)
        if (s->seeds[j] == s->seeds[i]) return fail(p, path, "duplicate seed %lld", (long long)s->seeds[i]);
    }
    return 0;
  }
  return fail(p, "seeds", "expected a positive integer or a non-empty list of seeds");
}

static int parse_trial_opts(parser_t *p, const cJSON *v) {
  ds_trial_opts_t *t = &p->s->trial;
  t->timeout_s = 0;
  t->retries = 0;
  t->kill_grace_s = 10;
  strcpy(t->device, "auto");
  strcpy(t->backend, "auto");
  t->threads = 0;
  if (!v) return 0;
  if (!cJSON_IsObject(v)) return fail(p, "trial", "expected an object");
  for (const cJSON *c = v->child; c; c = c->next) {
    char path[80];
    snprintf(path, sizeof path, "trial.%s", c->string);
    if (!strcmp(c->string, "timeout_s")) {
      if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0) || !isfinite(c->valuedouble))
        return fail(p, path, "expected a number >= 0 (0 = no timeout)");
      t->timeout_s = c->valuedouble;
    } else if (!strcmp(c->string, "retries")) {
      if (!is_uint(c, 100)) return fail(p, path, "expected an integer in 0..100");
      t->retries = (int)c->valuedouble;
    } else if (!strcmp(c->string, "isolation")) {
      if (!cJSON_IsString(c) || (strcmp(c->valuestring, "thread") && strcmp(c->valuestring, "process")))
        return fail(p, path, "expected \"thread\" or \"process\"");
      t->isolation_process = !strcmp(c->valuestring, "process");
    } else if (!strcmp(c->string, "device")) {
      if (!cJSON_IsString(c) || (strcmp(c->valuestring, "auto") && strcmp(c->valuestring, "cpu") &&
                                 strcmp(c->valuestring, "cuda")))
        return fail(p, path, "expected \"auto\", \"cpu\" or \"cuda\"");
      snprintf(t->device, sizeof t->device, "%s", c->valuestring);
    } else if (!strcmp(c->string, "kill_grace_s")) {
      if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0 && c->valuedouble <= 3600))
        return fail(p, path, "expected a number of seconds in 0..3600");
      t->kill_grace_s = c->valuedouble;
    } else if (!strcmp(c->string, "backend")) {
      if (!cJSON_IsString(c) || (strcmp(c->valuestring, "auto") && strcmp(c->valuestring, "ref") &&
                                 strcmp(c->valuestring, "cpu") && strcmp(c->valuestring, "cuda")))
        return fail(p, path, "expected \"auto\", \"ref\", \"cpu\" or \"cuda\"");
      snprintf(t->backend, sizeof t->backend, "%s", c->valuestring);
    } else if (!strcmp(c->string, "threads")) {
      if (!is_uint(c, 1024)) return fail(p, path, "expected an integer in 0..1024 (0 = the rank's default)");
      t->threads = (int)c->valuedouble;
    } else {
      return fail(p, path, "unknown key (expected timeout_s, retries, isolation, device, backend, threads, kill_grace_s)");
    }
  }
  return 0;
}

/* Orders the parameter slots by key, pre-rendering each "\"key\":" prefix, then refuses
 * parameter names that collide.  Linear after one sort (60,000 fixed keys: the lookup of each
 * key's value by name made this quadratic). */
typedef struct slot_src {
  const char *name;
  const cJSON *fixed; /* the value, for a fixed key */
  int axis;           /* -1 fixed, -2 seed, else the axis */
} slot_src_t;

static int cmp_slot_src(const void *a, const void *b) {
  return strcmp(((const slot_src_t *)a)->name, ((const slot_src_t *)b)->name);
}

static int build_slots(parser_t *p, const cJSON *fixed) {
  ds_spec_t *s = p->s;
  size_t n = s->n_axes + 1;
  for (const cJSON *c = fixed ? fixed->child : NULL; c; c = c->next) n++;
  slot_src_t *src = calloc(n, sizeof *src);
  const char **names = calloc(n, sizeof *names);
  if (!src || !names) { free(src); free(names); return DS_ENOMEM; }
  size_t k = 0;
  for (const cJSON *c = fixed ? fixed->child : NULL; c; c = c->next) src[k++] = (slot_src_t){c->string, c, -1};
  for (size_t i = 0; i < s->n_axes; i++) src[k++] = (slot_src_t){s->axes[i].name, NULL, (int)i};
  src[k++] = (slot_src_t){"seed", NULL, -2};
  qsort(src, n, sizeof *src, cmp_slot_src);
  s->n_slots = n;
  s->slot_key = calloc(n, sizeof *s->slot_key);
  s->slot_axis = calloc(n, sizeof *s->slot_axis);
  s->slot_fixed = calloc(n, sizeof *s->slot_fixed);
  int rc = (!s->slot_key || !s->slot_axis || !s->slot_fixed) ? DS_ENOMEM : 0;
  for (size_t i = 0; i < n && !rc; i++) {
    ds__buf_t b = {0};
    if (ds__buf_json_string(&b, src[i].name) || ds__buf_put(&b, ":", 1)) { free(b.data); rc = DS_ENOMEM; break; }
    s->slot_key[i] = b.data;
    s->slot_axis[i] = src[i].axis;
    names[i] = src[i].name;
    if (src[i].axis == -1) rc = pval_make(&s->slot_fixed[i], src[i].name, src[i].fixed);
  }
  if (!rc) rc = check_collisions(p, names);
  free(src);
  free(names);
  return rc;
}

static int cmp_axis(const void *a, const void *b) {
  return strcmp(((const ds_axis_t *)a)->name, ((const ds_axis_t *)b)->name);
}

static int valid_name(const char *n) {
  if (!*n || strlen(n) > 100) return 0;
  for (const char *c = n; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.') return 0;
  return 1;
}

/* "pareto": {"over": "config"|"trial", "ref_point": {objective: number, ...}}.  Needs the
 * objectives already parsed: a reference point names every objective and nothing else. */
static int parse_pareto_opts(parser_t *p, const cJSON *v) {
  ds_spec_t *s = p->s;
  if (!v) return 0;
  if (!cJSON_IsObject(v)) return fail(p, "pareto", "expected an object {\"over\": ..., \"ref_point\": {...}}");
  for (const cJSON *c = v->child; c; c = c->next) {
    char path[300];
    snprintf(path, sizeof path, "pareto.%s", c->string);
    if (!strcmp(c->string, "over")) {
      if (!cJSON_IsString(c) || (strcmp(c->valuestring, "config") && strcmp(c->valuestring, "trial")))
        return fail(p, path, "expected \"config\" (fronts over means across seeds) or \"trial\"");
      s->pareto_over_trial = !strcmp(c->valuestring, "trial");
    } else if (!strcmp(c->string, "ref_point")) {
      if (!cJSON_IsObject(c)) return fail(p, path, "expected an object {objective: number}");
      if (!s->n_objectives) return fail(p, path, "the spec declares no objectives");
      s->pareto_ref = calloc(s->n_objectives, sizeof *s->pareto_ref);
      if (!s->pareto_ref) return DS_ENOMEM;
      for (size_t j = 0; j < s->n_objectives; j++) s->pareto_ref[j] = NAN;
      for (const cJSON *d = c->child; d; d = d->next) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s.%s", path, d->string);
        size_t j = 0;
        while (j < s->n_objectives && strcmp(s->objectives[j].name, d->string)) j++;
        if (j == s->n_objectives) return fail(p, sub, "not an objective");
        if (!cJSON_IsNumber(d) || !isfinite(d->valuedouble)) return fail(p, sub, "expected a finite number");
        s->pareto_ref[j] = d->valuedouble;
      }
      for (size_t j = 0; j < s->n_objectives; j++)
        if (isnan(s->pareto_ref[j])) return fail(p, path, "missing objective \"%s\"", s->objectives[j].name);
    } else {
      return fail(p, path, "unknown key (expected over or ref_point)");
    }
  }
  return 0;
}

int ds_spec_parse(const char *text, size_t len, const char *file, const ds_spec_opts_t *opts,
                  ds_spec_t **out, char *err, size_t err_len) {
  *out = NULL;
  ds_spec_t *s = calloc(1, sizeof *s);
  if (!s) {
    if (err && err_len) snprintf(err, err_len, "%s: out of memory", file ? file : "spec");
    return DS_ENOMEM;
  }
  parser_t P = {s, opts, err, err_len}, *p = &P;
  int rc = 0;
  s->file = strdup(file ? file : "spec");
  const char *end = NULL;
  s->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!s->root) {
    size_t off = end ? (size_t)(end - text) : 0, line = 1;
    for (size_t i = 0; i < off && i < len; i++) line += text[i] == '\n';
    rc = fail(p, "", "malformed JSON near line %zu (byte %zu)", line, off);
    goto fail;
  }
  /* cJSON stops after the first value; anything but whitespace after it is a malformed file
   * (a pasted second spec, a stray brace), not something to ignore (found by fuzz_spec). */
  for (const char *q = end; q && q < text + len; q++)
    if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0) {
      size_t off = (size_t)(q - text), line = 1;
      for (size_t i = 0; i < off; i++) line += text[i] == '\n';
      rc = fail(p, "", "malformed JSON: unexpected text after the spec near line %zu (byte %zu)", line, off);
      goto fail;
    }
  const cJSON *r = s->root;
  if (!cJSON_IsObject(r)) { rc = fail(p, "", "the spec must be a JSON object"); goto fail; }
  if ((rc = check_finite(p, r, ""))) goto fail;
  static const char *known[] = {"name", "task", "fixed", "sweep", "sampler", "seeds", "objectives",
                                "pareto_by", "pareto", "trial", "description", NULL};
  for (const cJSON *c = r->child; c; c = c->next) {
    int ok = 0;
    for (int i = 0; known[i]; i++) ok |= !strcmp(c->string, known[i]);
    if (!ok) { rc = fail(p, c->string, "unknown key (expected one of name, task, fixed, sweep, sampler, seeds, objectives, pareto_by, pareto, trial, description)"); goto fail; }
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "name");
  if (!cJSON_IsString(v) || !valid_name(v->valuestring)) {
    rc = fail(p, "name", "expected a name of letters, digits, '_', '-' or '.' (at most 100)");
    goto fail;
  }
  s->name = strdup(v->valuestring);
  v = cJSON_GetObjectItemCaseSensitive(r, "task");
  if (!cJSON_IsString(v)) { rc = fail(p, "task", "expected a task name (noop, distill, rlvr, fdpo, logits)"); goto fail; }
  s->task = strdup(v->valuestring);
  if (opts && opts->task_known && !opts->task_known(s->task)) {
    rc = fail(p, "task", "unknown task \"%s\" (expected noop, distill, rlvr, fdpo or logits)", s->task);
    goto fail;
  }
  const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(r, "fixed");
  if (fixed && !cJSON_IsObject(fixed)) { rc = fail(p, "fixed", "expected an object"); goto fail; }
  if ((rc = check_unique_members(p, fixed, "fixed"))) goto fail;
  for (const cJSON *c = fixed ? fixed->child : NULL; c; c = c->next) {
    char path[300];
    snprintf(path, sizeof path, "fixed.%s", c->string);
    if (!strcmp(c->string, "seed")) { rc = fail(p, path, "\"seed\" is reserved; use the top-level \"seeds\""); goto fail; }
    if ((rc = check_value(p, path, c->string, c))) goto fail;
  }
  const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(r, "sweep");
  if (sweep && !cJSON_IsObject(sweep)) { rc = fail(p, "sweep", "expected an object"); goto fail; }
  for (const cJSON *c = sweep ? sweep->child : NULL; c; c = c->next) s->n_axes++;
  if (s->n_axes > MAX_AXES) { rc = fail(p, "sweep", "%zu swept parameters; at most %d", s->n_axes, MAX_AXES); goto fail; }
  /* Seeds and sampler first, then count the trials the sweep asks for before expanding a single
   * value: a grid of two 10⁶-point axes is refused here in microseconds instead of after
   * 433 MiB of parsed values. */
  if ((rc = parse_seeds(p, cJSON_GetObjectItemCaseSensitive(r, "seeds")))) goto fail;
  if ((rc = parse_sampler(p, cJSON_GetObjectItemCaseSensitive(r, "sampler")))) goto fail;
  {
    double configs = 1, points = 0;
    for (const cJSON *c = sweep ? sweep->child : NULL; c; c = c->next) {
      double k = count_axis(c);
      points += k;
      configs = fmin(configs * k, 1e300);
    }
    if (s->sampler != DS_SAMPLER_GRID) configs = fmin(configs, (double)s->sampler_n);
    double trials = configs * (double)s->n_seeds;
    if (s->sampler == DS_SAMPLER_GRID && trials > (double)MAX_TRIALS) {
      rc = fail(p, "sweep", "the grid has %.4g configurations x %zu seeds = %.4g trials; at most %lld trials"
                " (sample it with {\"random\": n} or {\"lhs\": n}, or use fewer points)",
                configs, s->n_seeds, trials, (long long)MAX_TRIALS);
      goto fail;
    }
    if (points > MAX_TOTAL_POINTS) {
      rc = fail(p, "sweep", "the axes list %.4g values in all; at most %d", points, MAX_TOTAL_POINTS);
      goto fail;
    }
  }
  if ((rc = check_unique_members(p, sweep, "sweep"))) goto fail;
  s->axes = calloc(s->n_axes + 1, sizeof *s->axes);
  if (!s->axes) { rc = DS_ENOMEM; goto fail; }
  size_t a = 0;
  for (const cJSON *c = sweep ? sweep->child : NULL; c; c = c->next, a++) {
    char path[300];
    snprintf(path, sizeof path, "sweep.%s", c->string);
    if (!strcmp(c->string, "seed")) { rc = fail(p, path, "\"seed\" is reserved; use the top-level \"seeds\""); goto fail; }
    if (cJSON_GetObjectItemCaseSensitive(fixed, c->string)) { rc = fail(p, path, "also given in fixed"); goto fail; }
    s->axes[a].name = strdup(c->string);
    if ((rc = parse_axis(p, &s->axes[a], c))) goto fail;
  }
  /* Axes in name order (bytewise), whatever order the file lists them in: `run SPEC` with the keys
   * in any order and `resume`, which reads the stored canonical spec, must expand the same trials
   * in the same order, since the store and the resume bitmap refer to trials by index. */
  qsort(s->axes, s->n_axes, sizeof *s->axes, cmp_axis);
  if ((rc = parse_trial_opts(p, cJSON_GetObjectItemCaseSensitive(r, "trial")))) goto fail;

  v = cJSON_GetObjectItemCaseSensitive(r, "objectives");
  if (v && !cJSON_IsObject(v)) { rc = fail(p, "objectives", "expected an object {metric: \"min\"|\"max\"}"); goto fail; }
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next) s->n_objectives++;
  s->objectives = calloc(s->n_objectives + 1, sizeof *s->objectives);
  a = 0;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next, a++) {
    char path[300];
    snprintf(path, sizeof path, "objectives.%s", c->string);
    if (!cJSON_IsString(c) || (strcmp(c->valuestring, "min") && strcmp(c->valuestring, "max"))) {
      rc = fail(p, path, "expected \"min\" or \"max\"");
      goto fail;
    }
    s->objectives[a].name = strdup(c->string);
    s->objectives[a].maximize = !strcmp(c->valuestring, "max");
  }
  v = cJSON_GetObjectItemCaseSensitive(r, "pareto_by");
  if (v && !cJSON_IsArray(v)) { rc = fail(p, "pareto_by", "expected a list of parameter names"); goto fail; }
  s->pareto_by = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *s->pareto_by);
  a = 0;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next, a++) {
    char path[64];
    snprintf(path, sizeof path, "pareto_by[%zu]", a);
    if (!cJSON_IsString(c)) { rc = fail(p, path, "expected a parameter name"); goto fail; }
    int found = cJSON_GetObjectItemCaseSensitive(fixed, c->valuestring) != NULL || !strcmp(c->valuestring, "seed");
    for (size_t i = 0; i < s->n_axes; i++) found |= !strcmp(s->axes[i].name, c->valuestring);
    if (!found) { rc = fail(p, path, "\"%s\" is not a swept or fixed parameter", c->valuestring); goto fail; }
    s->pareto_by[s->n_pareto_by++] = strdup(c->valuestring);
  }

  if ((rc = parse_pareto_opts(p, cJSON_GetObjectItemCaseSensitive(r, "pareto")))) goto fail;

  if (s->sampler == DS_SAMPLER_GRID) {
    s->n_configs = 1;
    for (size_t i = 0; i < s->n_axes; i++) {
      if ((rc = axis_duplicates(p, &s->axes[i]))) goto fail;
      if (s->n_configs > MAX_TRIALS / (int64_t)s->axes[i].n) {
        rc = fail(p, "sweep", "the grid has more than %lld configurations", (long long)MAX_TRIALS);
        goto fail;
      }
      s->n_configs *= (int64_t)s->axes[i].n;
    }
  } else {
    /* Discrete axes only: a finite space, drawn without replacement and capped at its size. */
    int64_t space = 1;
    for (size_t i = 0; i < s->n_axes && space > 0; i++) {
      const ds_axis_t *ax = &s->axes[i];
      if (ax->kind == DS_AXIS_LINEAR || ax->kind == DS_AXIS_LOG) space = 0;
      else if ((rc = axis_duplicates(p, ax))) goto fail;
      else space = space > MAX_TRIALS / (int64_t)ax->n ? MAX_TRIALS : space * (int64_t)ax->n;
    }
    s->draw_space = space;
    s->n_configs = space > 0 && space < s->sampler_n ? space : s->sampler_n;
  }
  if (s->n_configs > MAX_TRIALS / (int64_t)s->n_seeds) { rc = fail(p, "seeds", "%lld configurations x %zu seeds: more than %lld trials", (long long)s->n_configs, s->n_seeds, (long long)MAX_TRIALS); goto fail; }
  s->n_trials = s->n_configs * (int64_t)s->n_seeds;
  if ((rc = build_slots(p, fixed))) goto fail;
  s->canonical = ds_json_canonical(s->root);
  if (!s->canonical) { rc = DS_ENOMEM; goto fail; }
  ds_key_hash_hex(s->task, s->canonical, strlen(s->canonical), s->hash);
  s->key_scheme = DS_KEYS_XXH3;
  *out = s;
  return 0;
fail:
  if (rc == DS_ENOMEM && err && err_len) snprintf(err, err_len, "%s: out of memory", s->file);
  ds_spec_free(s);
  return rc;
}

/* Reads the spec file: a regular file of at most MAX_SPEC_BYTES, refused by what it is before a
 * byte is read (a FIFO would block, /dev/zero would read without bound), and read with the cap
 * enforced on the bytes actually read too (a file that grows, /proc).  Every failure writes a
 * message naming the file. */
int ds_spec_read_file(const char *path, char **text, size_t *text_len, char *err, size_t err_len) {
  *text = NULL;
  *text_len = 0;
  /* O_NONBLOCK so that opening a FIFO without a writer returns instead of waiting forever. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    return DS_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, err_len, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return DS_EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, err_len, "%s: %s, not a spec file (want a regular JSON file)", path,
             S_ISDIR(st.st_mode) ? "is a directory" : S_ISFIFO(st.st_mode) ? "is a FIFO" :
             S_ISCHR(st.st_mode) ? "is a character device" : S_ISSOCK(st.st_mode) ? "is a socket" :
             "is not a regular file");
    close(fd);
    return DS_EIO;
  }
  if ((uint64_t)st.st_size > MAX_SPEC_BYTES) {
    snprintf(err, err_len, "%s: %lld bytes; a spec file may have at most %zu MiB", path,
             (long long)st.st_size, MAX_SPEC_BYTES >> 20);
    close(fd);
    return DS_EIO;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) {
    snprintf(err, err_len, "%s: out of memory reading %zu bytes", path, cap);
    close(fd);
    return DS_ENOMEM;
  }
  for (;;) {
    if (len == cap) { /* it grew since fstat: allow up to the cap, then refuse */
      size_t nc = cap * 2 > MAX_SPEC_BYTES + 1 ? MAX_SPEC_BYTES + 1 : cap * 2;
      char *nb = nc > cap ? realloc(buf, nc + 1) : NULL;
      if (!nb) {
        snprintf(err, err_len, "%s: more than %zu MiB; a spec file may have at most that", path, MAX_SPEC_BYTES >> 20);
        free(buf);
        close(fd);
        return DS_EIO;
      }
      buf = nb;
      cap = nc;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return DS_EIO;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  *text = buf;
  *text_len = len;
  return 0;
}

int ds_spec_load(const char *path, const ds_spec_opts_t *opts, ds_spec_t **out, char *err, size_t err_len) {
  *out = NULL;
  char *buf;
  size_t len;
  int rc = ds_spec_read_file(path, &buf, &len, err, err_len);
  if (rc) return rc;
  rc = ds_spec_parse(buf, len, path, opts, out, err, err_len);
  free(buf);
  return rc;
}

void ds_spec_free(ds_spec_t *s) {
  if (!s) return;
  free(s->file);
  free(s->name);
  free(s->task);
  cJSON_Delete(s->root);
  free(s->canonical);
  for (size_t i = 0; i < s->n_slots; i++) {
    free(s->slot_key ? s->slot_key[i] : NULL);
    if (s->slot_fixed) pval_free(&s->slot_fixed[i]);
  }
  free(s->slot_key);
  free(s->slot_axis);
  free(s->slot_fixed);
  for (size_t i = 0; s->axes && i < s->n_axes; i++) {
    free(s->axes[i].name);
    for (size_t j = 0; j < s->axes[i].n; j++) pval_free(&s->axes[i].vals[j]);
    free(s->axes[i].vals);
  }
  free(s->axes);
  free(s->seeds);
  for (size_t i = 0; s->objectives && i < s->n_objectives; i++) free(s->objectives[i].name);
  free(s->objectives);
  for (size_t i = 0; s->pareto_by && i < s->n_pareto_by; i++) free(s->pareto_by[i]);
  free(s->pareto_by);
  free(s->pareto_ref);
  free(s);
}

/* ---- diff ----------------------------------------------------------------------------- */

/* Appends "<prefix>.<key> changed|added|removed" for every key of a or b whose canonical values
 * differ.  At the top level (prefix "") the sections fixed, sweep, trial and objectives are
 * compared key by key, so the message says which parameter changed, not just "sweep changed". */
static void diff_obj(const cJSON *a, const cJSON *b, const char *prefix, char *out, size_t out_len, int *n) {
  static const char *nested[] = {"fixed", "sweep", "trial", "objectives", NULL};
  for (int pass = 0; pass < 2; pass++) {
    const cJSON *x = pass ? b : a, *y = pass ? a : b;
    for (const cJSON *c = x ? x->child : NULL; c; c = c->next) {
      const cJSON *d = y ? cJSON_GetObjectItemCaseSensitive(y, c->string) : NULL;
      if (pass && d) continue; /* already compared in pass 0 */
      int is_nested = 0;
      for (int i = 0; !*prefix && nested[i]; i++) is_nested |= !strcmp(nested[i], c->string);
      if (is_nested && cJSON_IsObject(c) && (!d || cJSON_IsObject(d))) {
        diff_obj(pass ? d : c, pass ? c : d, c->string, out, out_len, n);
        continue;
      }
      char *cj = ds_json_canonical(c), *dj = d ? ds_json_canonical(d) : NULL;
      int same = cj && dj && !strcmp(cj, dj);
      free(cj);
      free(dj);
      if (same) continue;
      size_t used = strlen(out);
      snprintf(out + used, out_len - used, "%s%s%s%s %s", *n ? "; " : "", prefix, *prefix ? "." : "",
               c->string, !d ? (pass ? "added" : "removed") : "changed");
      (*n)++;
    }
  }
}

int ds_spec_diff(const ds_spec_t *a, const ds_spec_t *b, char *out, size_t out_len) {
  int n = 0;
  out[0] = 0;
  diff_obj(a->root, b->root, "", out, out_len, &n);
  return n;
}
