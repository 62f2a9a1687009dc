/* spec_check.c — whole-spec checks that need more than one parameter at a time, run by
 * `divsweep validate` on the coordinator before any trial exists (ds_spec_check.h):
 *   - names: a parameter the task does not take, reported at its key (no "[0]" of a sweep list)
 *     with the nearest valid name;
 *   - lengths: every per-answer list agrees with `answers`, a mixture with the number of teachers;
 *   - files: every distinct .npy the spec names exists, is readable, has a valid header and dtype,
 *     and the shapes agree (teachers and student vocab and rows, `vocab`, `rows`, labels);
 *   - objectives: each is a metric the task reports for these parameters (ds_params.h).
 * Without these, each of those mistakes passed validation and then failed every trial at run
 * time (and was retried).  Only fixed values and the values of list axes are looked at; a value
 * built by a range or simplex axis is checked where it matters (mixture lengths).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_npy.h"
#include "ds_params.h"
#include "ds_spec_check.h"

static int fail(char *err, size_t len, const char *path, const char *fmt, const char *a, long x, long y) {
  char msg[600];
  snprintf(msg, sizeof msg, fmt, a, x, y);
  snprintf(err, len, "%s: %s", path, msg);
  return DS_ESPEC;
}

/* The values a parameter takes: the fixed value, or each entry of a list axis (at most 64). */
static size_t values_of(const cJSON *root, const char *key, const cJSON **out, const char **where, char paths[][128]) {
  const cJSON *fx = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "fixed"), key);
  if (fx) {
    snprintf(paths[0], 128, "fixed.%s", key);
    out[0] = fx;
    where[0] = paths[0];
    return 1;
  }
  const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "sweep"), key);
  size_t n = 0;
  if (cJSON_IsArray(sw))
    for (const cJSON *c = sw->child; c && n < 64; c = c->next, n++) {
      snprintf(paths[n], 128, "sweep.%s[%zu]", key, n);
      out[n] = c;
      where[n] = paths[n];
    }
  return n;
}

static int check_names(const cJSON *root, const ds_task_info_t *t, char *err, size_t len) {
  static const char *sect[] = {"fixed", "sweep"};
  for (int s = 0; s < 2; s++)
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, sect[s]) ? cJSON_GetObjectItemCaseSensitive(root, sect[s])->child : NULL; c; c = c->next) {
      if (!c->string || !strcmp(c->string, "seed") || ds_params_find(t, c->string)) continue;
      char path[200];
      snprintf(path, sizeof path, "%s.%s", sect[s], c->string);
      const char *near = ds_params_suggest(c->string, NULL, t);
      if (near) {
        snprintf(err, len, "%s: unknown parameter for task %s; did you mean \"%s\"?", path, t->name, near);
        return DS_ESPEC;
      }
      snprintf(err, len, "%s: unknown parameter for task %s (`divsweep help %s` lists them)", path, t->name, t->name);
      return DS_ESPEC;
    }
  return 0;
}

/* ---- per-answer lists ------------------------------------------------------------------------ */

static int check_len(const cJSON *v, long K, const char *path, char *err, size_t len) {
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) != K)
    return fail(err, len, path, "%s%ld values for answers = %ld", "", cJSON_GetArraySize(v), K);
  if (cJSON_IsObject(v)) {
    const cJSON *ones = cJSON_GetObjectItemCaseSensitive(v, "ones");
    int i = 0;
    for (const cJSON *e = ones ? ones->child : NULL; e; e = e->next, i++)
      if (cJSON_IsNumber(e) && e->valuedouble >= (double)K) {
        char p2[300];
        snprintf(p2, sizeof p2, "%s.ones[%d]", path, i);
        return fail(err, len, p2, "%sanswer %ld out of range (answers = %ld)", "", (long)e->valuedouble, K);
      }
  }
  return 0;
}

static int check_lengths(const cJSON *root, const ds_task_info_t *t, char *err, size_t len) {
  const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(root, "fixed");
  const cJSON *vals[64];
  const char *where[64];
  char paths[64][128];
  if (!strcmp(t->name, "rlvr") || !strcmp(t->name, "fdpo")) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(fixed, "answers");
    if (!cJSON_IsNumber(a)) return 0; /* swept or inferred: checked per trial */
    long K = (long)a->valuedouble;
    int rc;
    static const char *flat[] = {"init_theta", "base_logits", "reward", "rewards", NULL};
    for (int f = 0; flat[f]; f++) {
      size_t n = values_of(root, flat[f], vals, where, paths);
      for (size_t i = 0; i < n; i++)
        if ((rc = check_len(vals[i], K, where[i], err, len))) return rc;
    }
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(fixed, "collapse_answer");
    if (cJSON_IsNumber(ca) && ca->valuedouble >= (double)K)
      return fail(err, len, "fixed.collapse_answer", "%sanswer %ld out of range (answers = %ld)", "", (long)ca->valuedouble, K);
    static const char *tl[] = {"types", "eval_types", NULL};
    static const char *per[] = {"base_logits", "reward", "teacher_logits", NULL};
    for (int f = 0; tl[f]; f++) {
      size_t n = values_of(root, tl[f], vals, where, paths);
      for (size_t i = 0; i < n; i++) {
        int j = 0;
        for (const cJSON *ty = cJSON_IsArray(vals[i]) ? vals[i]->child : NULL; ty; ty = ty->next, j++)
          for (int q = 0; per[q]; q++) {
            char p2[300];
            snprintf(p2, sizeof p2, "%s[%d].%s", where[i], j, per[q]);
            if ((rc = check_len(cJSON_GetObjectItemCaseSensitive(ty, per[q]), K, p2, err, len))) return rc;
          }
      }
    }
    return 0;
  }
  /* distill, logits: a mixture has one weight per teacher. */
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(fixed, "teachers");
  if (!cJSON_IsArray(teachers)) return 0;
  long nt = cJSON_GetArraySize(teachers);
  size_t n = values_of(root, "mixture", vals, where, paths);
  for (size_t i = 0; i < n; i++)
    if (cJSON_IsArray(vals[i]) && cJSON_GetArraySize(vals[i]) != nt)
      return fail(err, len, where[i], "%s%ld weights for %ld teachers", "", cJSON_GetArraySize(vals[i]), nt);
  const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "sweep"), "mixture");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(sw, "simplex");
  if (!m) m = cJSON_GetObjectItemCaseSensitive(sw, "dirichlet");
  if (cJSON_IsNumber(m) && (long)m->valuedouble != nt)
    return fail(err, len, "sweep.mixture", "%s%ld weights for %ld teachers", "", (long)m->valuedouble, nt);
  return 0;
}

/* ---- .npy files ------------------------------------------------------------------------------ */

typedef struct {
  const char *path;  /* JSON path of the first mention */
  const char *file;
  size_t rows, cols;
  int ndim;
} npy_seen_t;

static int open_npy(const char *where, const char *file, npy_seen_t *seen, size_t *n_seen, const npy_seen_t **out,
                    char *err, size_t len) {
  for (size_t i = 0; i < *n_seen; i++)
    if (!strcmp(seen[i].file, file)) {
      *out = &seen[i];
      return 0;
    }
  FILE *f = fopen(file, "rb");
  if (!f) {
    snprintf(err, len, "%s: %s: cannot open: %s", where, file, strerror(errno));
    return DS_EIO;
  }
  fclose(f);
  /* Header, dtype, shape and file size: the mapping checks them without reading the data (a
   * campaign over 8192 x 128256 logits must not read gigabytes to validate). */
  ds_npy_map_t a;
  char msg[300];
  if (ds_npy_map(file, &a, msg, sizeof msg)) {
    /* ds_npy's message names the file already. */
    snprintf(err, len, "%s: %s", where, msg);
    return DS_ENPY;
  }
  npy_seen_t *s = &seen[(*n_seen)++];
  s->path = where;
  s->file = file;
  s->rows = a.hdr.rows;
  s->cols = a.hdr.cols;
  s->ndim = a.hdr.ndim;
  ds_npy_unmap(&a);
  *out = s;
  return 0;
}

/* Files named by swept values (a list axis of student_npy, of teacher lists, ...): each must
 * open and parse; shapes are compared only among the fixed files (check_files).  The paths kept
 * in seen[] point at this walk's stack and are not used after it. */
static int check_swept_files(const cJSON *v, const char *path, npy_seen_t *seen, size_t *n_seen, char *err, size_t len) {
  if (!v) return 0;
  if (v->string && cJSON_IsString(v) &&
      (!strcmp(v->string, "npy") || !strcmp(v->string, "features") || !strcmp(v->string, "student_npy") ||
       !strcmp(v->string, "labels"))) {
    const npy_seen_t *a;
    if (*n_seen >= 64) return 0;
    return open_npy(path, v->valuestring, seen, n_seen, &a, err, len);
  }
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    char sub[160];
    if (cJSON_IsArray(v)) snprintf(sub, sizeof sub, "%s[%d]", path, i);
    else snprintf(sub, sizeof sub, "%s.%s", path, c->string);
    /* A list axis entry of a file parameter is a bare string: give it the parameter's name. */
    if (cJSON_IsString(c) && cJSON_IsArray(v) && v->string &&
        (!strcmp(v->string, "student_npy") || !strcmp(v->string, "labels"))) {
      const npy_seen_t *a;
      int rc;
      if (*n_seen < 64 && (rc = open_npy(sub, c->valuestring, seen, n_seen, &a, err, len))) return rc;
      continue;
    }
    int rc = check_swept_files(c, sub, seen, n_seen, err, len);
    if (rc) return rc;
  }
  return 0;
}

static int check_files(const cJSON *root, const ds_task_info_t *t, char *err, size_t len) {
  if (strcmp(t->name, "distill") && strcmp(t->name, "logits")) return 0;
  const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(root, "fixed");
  npy_seen_t seen[64];
  size_t n_seen = 0;
  {
    npy_seen_t swept[64];
    size_t n_swept = 0;
    int rc0 = check_swept_files(cJSON_GetObjectItemCaseSensitive(root, "sweep"), "sweep", swept, &n_swept, err, len);
    if (rc0) return rc0;
  }
  char paths[64][160];
  size_t np = 0;
  int rc;
  const npy_seen_t *first = NULL, *a;
  /* Logit files: every teacher and the student share V; their rows agree or are 1 (broadcast). */
  const cJSON *teachers = cJSON_GetObjectItemCaseSensitive(fixed, "teachers");
  const cJSON *logit_files[66];
  const char *logit_where[66];
  size_t nl = 0;
  int i = 0;
  for (const cJSON *c = cJSON_IsArray(teachers) ? teachers->child : NULL; c && nl < 64; c = c->next, i++) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "npy");
    if (!cJSON_IsString(f)) continue;
    snprintf(paths[np], sizeof paths[np], "fixed.teachers[%d].npy", i);
    logit_files[nl] = f;
    logit_where[nl++] = paths[np++];
  }
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(fixed, "student_npy");
  if (cJSON_IsString(st)) {
    logit_files[nl] = st;
    logit_where[nl++] = "fixed.student_npy";
  }
  for (size_t k = 0; k < nl; k++) {
    if ((rc = open_npy(logit_where[k], logit_files[k]->valuestring, seen, &n_seen, &a, err, len))) return rc;
    if (!first) {
      first = a;
      continue;
    }
    if (a->cols != first->cols) {
      snprintf(err, len, "%s: %s has vocab %zu but %s (%s) has %zu", logit_where[k], a->file, a->cols, first->path,
               first->file, first->cols);
      return DS_ENPY;
    }
    if (a->rows != first->rows && a->rows != 1 && first->rows != 1) {
      snprintf(err, len, "%s: %s has %zu rows but %s (%s) has %zu", logit_where[k], a->file, a->rows, first->path,
               first->file, first->rows);
      return DS_ENPY;
    }
  }
  size_t rows = 0;
  for (size_t k = 0; k < n_seen; k++)
    if (seen[k].rows > rows) rows = seen[k].rows;
  if (first) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fixed, "vocab");
    if (cJSON_IsNumber(v) && (size_t)v->valuedouble != first->cols) {
      snprintf(err, len, "fixed.vocab: %zu, but %s (%s) has vocab %zu", (size_t)v->valuedouble, first->path, first->file,
               first->cols);
      return DS_ESPEC;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(fixed, "rows");
    if (cJSON_IsNumber(r) && rows > 1 && (size_t)r->valuedouble != rows) {
      snprintf(err, len, "fixed.rows: %zu, but the logit files have %zu rows", (size_t)r->valuedouble, rows);
      return DS_ESPEC;
    }
  }
  const cJSON *student = cJSON_GetObjectItemCaseSensitive(fixed, "student");
  const cJSON *feat = cJSON_GetObjectItemCaseSensitive(student, "features");
  if (cJSON_IsString(feat)) {
    if ((rc = open_npy("fixed.student.features", feat->valuestring, seen, &n_seen, &a, err, len))) return rc;
    if (rows > 1 && a->rows != rows) {
      snprintf(err, len, "fixed.student.features: %s has %zu rows but the logit files have %zu", a->file, a->rows, rows);
      return DS_ENPY;
    }
    if (!rows) rows = a->rows;
  }
  const cJSON *lab = cJSON_GetObjectItemCaseSensitive(fixed, "labels");
  if (cJSON_IsString(lab)) {
    if ((rc = open_npy("fixed.labels", lab->valuestring, seen, &n_seen, &a, err, len))) return rc;
    size_t n = a->rows * a->cols;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(fixed, "rows");
    size_t want = rows ? rows : cJSON_IsNumber(r) ? (size_t)r->valuedouble : 0;
    if (want && n != want) {
      snprintf(err, len, "fixed.labels: %s has %zu labels for %zu rows", a->file, n, want);
      return DS_ENPY;
    }
  }
  return 0;
}

/* ---- objectives ------------------------------------------------------------------------------ */

static int check_objectives(const cJSON *root, const ds_task_info_t *t, char *err, size_t len) {
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "objectives");
  const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(root, "fixed");
  const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(root, "sweep");
  for (const cJSON *c = cJSON_IsObject(obj) ? obj->child : NULL; c; c = c->next) {
    char why[800];
    if (ds_params_metric_possible(t, c->string, fixed, sweep, why, sizeof why)) continue;
    snprintf(err, len, "objectives.%s: task %s does not report this metric with these parameters (it reports %s)",
             c->string, t->name, why);
    return DS_ESPEC;
  }
  return 0;
}

int ds_spec_check_names(const cJSON *root, char *err, size_t err_len) {
  const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
  const ds_task_info_t *t = cJSON_IsString(task) ? ds_params_task(task->valuestring) : NULL;
  if (!t || t->open) return 0;
  return check_names(root, t, err, err_len);
}

int ds_spec_check_whole(const cJSON *root, char *err, size_t err_len) {
  const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
  const ds_task_info_t *t = cJSON_IsString(task) ? ds_params_task(task->valuestring) : NULL;
  if (!t) return 0;
  int rc;
  if ((rc = check_lengths(root, t, err, err_len))) return rc;
  if ((rc = check_objectives(root, t, err, err_len))) return rc;
  return check_files(root, t, err, err_len);
}
