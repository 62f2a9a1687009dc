/* fronts.c — a campaign's Pareto fronts and hypervolumes, kept incrementally in the store.  See
 * ds_fronts.h for what is written where; ds_pareto.h for the ranking and hypervolume algorithms.
 *
 * Invariants:
 *   - Every trial row is consumed once: rows above `watermark` are read in trial_id order; a row
 *     seen as pending/running (written early for slow trials, or re-queued on resume) goes on the
 *     watch list and is consumed when its status becomes done or failed.
 *   - A point never changes once added (ds_pareto_t only grows): per-trial points are final when
 *     the trial is, per-configuration means are added once all seeds have finished.
 *   - groups[0] is the campaign-wide front (DS_FRONTS_ALL); every point is in it and, with
 *     pareto_by, in exactly one other group.
 *   - `pareto` rows change only for ids reported by ds_pareto_commit, so a commit's store work is
 *     proportional to what changed, not to the campaign.
 */
#include "ds_fronts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_pareto.h"

#define NONE UINT32_MAX

/* ---- small open-addressing map uint64 → uint32 (keys hashed by the caller) ---------------- */

typedef struct u64map {
  uint64_t *key;
  uint32_t *val; /* NONE = empty slot */
  size_t cap;    /* power of two */
  size_t n;
} u64map_t;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

static int map_grow(u64map_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  uint64_t *k = malloc(cap * sizeof *k);
  uint32_t *v = malloc(cap * sizeof *v);
  if (!k || !v) {
    free(k);
    free(v);
    return DS_ENOMEM;
  }
  for (size_t i = 0; i < cap; i++) v[i] = NONE;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->val[i] == NONE) continue;
    size_t j = mix64(m->key[i]) & (cap - 1);
    while (v[j] != NONE) j = (j + 1) & (cap - 1);
    k[j] = m->key[i];
    v[j] = m->val[i];
  }
  free(m->key);
  free(m->val);
  m->key = k;
  m->val = v;
  m->cap = cap;
  return 0;
}

/* Slot of key (occupied or the empty slot where it would go); the map must have room. */
static size_t map_slot(const u64map_t *m, uint64_t key) {
  size_t j = mix64(key) & (m->cap - 1);
  while (m->val[j] != NONE && m->key[j] != key) j = (j + 1) & (m->cap - 1);
  return j;
}

static void map_free(u64map_t *m) {
  free(m->key);
  free(m->val);
}

/* ---- state ---------------------------------------------------------------------------- */

typedef struct group {
  char *label;
  ds_pareto_t *p;
  size_t staged;      /* points added since the last commit */
  int touched;        /* front may have changed since the last hypervolume write */
  int64_t n_trials;   /* done trials behind its points */
  int have_hist;      /* last history row known (value + ref) */
  double last_hist;
  char *last_hist_ref;
} group_t;

typedef struct config {
  int64_t *tids;      /* done trials with finite objectives */
  size_t n_tids, cap;
  uint32_t n_finished;
  uint32_t group;     /* index into groups, NONE until its first trial */
  int entered;
} config_t;

struct ds_fronts {
  ds_store_t *s;
  sqlite3 *db;
  int64_t cid;
  const ds_spec_t *spec;
  size_t m;
  ds_pareto_sense_t *sense;
  int by_config;

  group_t *g;
  size_t ng, gcap;
  u64map_t gmap;      /* hash(label) chains resolved by comparing labels: see group_find */

  config_t *cf;
  size_t ncf, cfcap;
  double *cf_sum;     /* [ncf * m] sums of finite values */
  u64map_t cmap;      /* configuration index (idx / n_seeds) → cf */

  int64_t watermark;
  int64_t *watch;
  size_t nwatch, watchcap;

  double *ref;
  int have_ref;
  char *ref_json;

  double *vals;       /* scratch [m] */
  sqlite3_stmt *sel_new, *sel_one, *up_pareto, *up_hv, *ins_hist, *sel_hist;
};

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

/* Errors go where the writer looks for them: the store's message buffer (ds_store_errmsg returns
 * the store's own 512-byte buffer; ds_store.h has no setter, and the store is ours for the call). */
#define ERRMSG_LEN 512
static void set_msg(ds_store_t *s, const char *fmt, const char *a, const char *b) {
  snprintf((char *)ds_store_errmsg(s), ERRMSG_LEN, fmt, a, b);
}

static int sqlerr(ds_fronts_t *f, const char *what) {
  set_msg(f->s, "%s: %s", what, sqlite3_errmsg(f->db));
  return DS_ESTORE;
}

/* ---- group labels ---------------------------------------------------------------------- */

static void put(char *out, size_t len, size_t *at, const char *s) {
  size_t n = strlen(s);
  if (*at + 1 >= len) return;
  if (n > len - 1 - *at) n = len - 1 - *at;
  memcpy(out + *at, s, n);
  *at += n;
  out[*at] = 0;
}

static void label_value(const cJSON *v, char *out, size_t len, size_t *at) {
  char num[40];
  if (cJSON_IsString(v)) {
    put(out, len, at, v->valuestring);
  } else if (cJSON_IsNumber(v)) {
    ds_fmt_double(num, v->valuedouble);
    put(out, len, at, num);
  } else if (cJSON_IsObject(v) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "name"))) {
    put(out, len, at, cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring);
    int k = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (!strcmp(c->string, "name")) continue;
      put(out, len, at, k++ ? "," : "(");
      put(out, len, at, c->string);
      put(out, len, at, "=");
      label_value(c, out, len, at);
    }
    if (k) put(out, len, at, ")");
  } else {
    char *j = ds_json_canonical(v);
    put(out, len, at, j ? j : "?");
    free(j);
  }
}

void ds_fronts_group_label(const ds_spec_t *spec, const cJSON *params, char *out, size_t len) {
  size_t at = 0;
  if (!len) return;
  out[0] = 0;
  if (!spec->n_pareto_by) {
    put(out, len, &at, DS_FRONTS_ALL);
    return;
  }
  for (size_t k = 0; k < spec->n_pareto_by; k++) {
    if (k) put(out, len, &at, " / ");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, spec->pareto_by[k]);
    if (v) label_value(v, out, len, &at);
    else put(out, len, &at, "null");
  }
  if (!strcmp(out, DS_FRONTS_ALL)) snprintf(out, len, "=%s", DS_FRONTS_ALL);
}

/* ---- groups ---------------------------------------------------------------------------- */

/* Index of the group with this label, creating it (and its ds_pareto_t) when new.  Labels hash
 * into gmap; the rare collision is resolved by perturbing the key until the labels match or an
 * empty slot turns up. */
static int group_find(ds_fronts_t *f, const char *label, uint32_t *gi) {
  if (f->gmap.n * 2 >= f->gmap.cap && map_grow(&f->gmap)) return DS_ENOMEM;
  uint64_t key = fnv1a(label);
  for (;;) {
    size_t j = map_slot(&f->gmap, key);
    if (f->gmap.val[j] == NONE) break;
    if (!strcmp(f->g[f->gmap.val[j]].label, label)) {
      *gi = f->gmap.val[j];
      return 0;
    }
    key = mix64(key + 1);
  }
  if (f->ng == f->gcap) {
    size_t cap = f->gcap ? f->gcap * 2 : 8;
    group_t *g = realloc(f->g, cap * sizeof *g);
    if (!g) return DS_ENOMEM;
    f->g = g;
    f->gcap = cap;
  }
  group_t *g = &f->g[f->ng];
  memset(g, 0, sizeof *g);
  g->label = strdup(label);
  if (!g->label) return DS_ENOMEM;
  int rc = ds_pareto_init(&g->p, f->m, f->sense);
  if (rc) {
    free(g->label);
    return rc;
  }
  /* The last history row (from an earlier run), so a resumed campaign does not repeat it. */
  sqlite3_bind_int64(f->sel_hist, 1, f->cid);
  sqlite3_bind_text(f->sel_hist, 2, label, -1, SQLITE_STATIC);
  int step = sqlite3_step(f->sel_hist);
  if (step == SQLITE_ROW && sqlite3_column_type(f->sel_hist, 0) != SQLITE_NULL) {
    g->have_hist = 1;
    g->last_hist = sqlite3_column_double(f->sel_hist, 0);
    const unsigned char *r = sqlite3_column_text(f->sel_hist, 1);
    g->last_hist_ref = r ? strdup((const char *)r) : NULL;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) { /* an error is not "no history" */
    rc = sqlerr(f, "fronts: reading table hypervolume_history");
    sqlite3_reset(f->sel_hist);
    ds_pareto_free(g->p);
    free(g->label);
    return rc;
  }
  sqlite3_reset(f->sel_hist);
  size_t j = map_slot(&f->gmap, key);
  f->gmap.key[j] = key;
  f->gmap.val[j] = (uint32_t)f->ng;
  f->gmap.n++;
  *gi = (uint32_t)f->ng++;
  return 0;
}

static int group_add(ds_fronts_t *f, uint32_t gi, int64_t id, const double *v, int64_t n_trials) {
  group_t *g = &f->g[gi];
  int rc = ds_pareto_add(g->p, id, v);
  if (rc) return rc;
  g->staged++;
  g->n_trials += n_trials;
  return 0;
}

/* Adds one point to the campaign front and to its group's. */
static int add_point(ds_fronts_t *f, uint32_t gi, int64_t id, const double *v, int64_t n_trials) {
  int rc = group_add(f, 0, id, v, n_trials);
  if (!rc && gi != 0) rc = group_add(f, gi, id, v, n_trials);
  return rc;
}

/* ---- consuming trial rows -------------------------------------------------------------- */

/* Columns of sel_new / sel_one: trial_id, status, idx, params_json, objective values... */
static int label_of_row(ds_fronts_t *f, sqlite3_stmt *st, uint32_t *gi) {
  if (!f->spec->n_pareto_by) {
    *gi = 0;
    return 0;
  }
  const char *pj = (const char *)sqlite3_column_text(st, 3);
  cJSON *params = pj ? cJSON_Parse(pj) : NULL;
  char label[512];
  ds_fronts_group_label(f->spec, params, label, sizeof label);
  cJSON_Delete(params);
  return group_find(f, label, gi);
}

static int consume_row(ds_fronts_t *f, sqlite3_stmt *st, int *pending) {
  int64_t tid = sqlite3_column_int64(st, 0);
  const char *status = (const char *)sqlite3_column_text(st, 1);
  int64_t idx = sqlite3_column_int64(st, 2);
  int done = status && !strcmp(status, "done"), failed = status && !strcmp(status, "failed");
  *pending = !done && !failed;
  if (*pending) return 0;
  int finite = done;
  for (size_t j = 0; j < f->m; j++) {
    /* SQLite stores NaN as NULL: a missing or NaN objective both read as NULL here. */
    f->vals[j] = sqlite3_column_type(st, 4 + (int)j) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 4 + (int)j);
    finite &= isfinite(f->vals[j]) != 0;
  }
  int rc = 0;
  uint32_t gi;
  if (!f->by_config) {
    if (!finite) return 0;
    int32_t r;
    if (ds_pareto_rank_of(f->g[0].p, tid, &r) != DS_ENOTFOUND) return 0; /* seen already */
    if ((rc = label_of_row(f, st, &gi))) return rc;
    return add_point(f, gi, tid, f->vals, 1);
  }
  if (idx < 0) return 0;
  uint64_t c = (uint64_t)(idx / (int64_t)f->spec->n_seeds);
  if (f->cmap.n * 2 >= f->cmap.cap && (rc = map_grow(&f->cmap))) return rc;
  size_t j = map_slot(&f->cmap, c);
  uint32_t ci = f->cmap.val[j];
  if (ci == NONE) {
    if (f->ncf == f->cfcap) {
      size_t cap = f->cfcap ? f->cfcap * 2 : 64;
      config_t *cf = realloc(f->cf, cap * sizeof *cf);
      if (!cf) return DS_ENOMEM;
      f->cf = cf;
      double *sum = realloc(f->cf_sum, cap * f->m * sizeof *sum);
      if (!sum) return DS_ENOMEM;
      f->cf_sum = sum;
      f->cfcap = cap;
    }
    ci = (uint32_t)f->ncf++;
    memset(&f->cf[ci], 0, sizeof f->cf[ci]);
    f->cf[ci].group = NONE;
    for (size_t k = 0; k < f->m; k++) f->cf_sum[(size_t)ci * f->m + k] = 0;
    f->cmap.key[j] = c;
    f->cmap.val[j] = ci;
    f->cmap.n++;
  }
  config_t *cf = &f->cf[ci];
  if (cf->entered) return 0; /* a config complete under an older, smaller seeds list */
  if (cf->group == NONE) {
    if ((rc = label_of_row(f, st, &gi))) return rc;
    cf->group = gi;
  }
  cf->n_finished++;
  if (finite) {
    if (cf->n_tids == cf->cap) {
      size_t cap = cf->cap ? cf->cap * 2 : 4;
      int64_t *t = realloc(cf->tids, cap * sizeof *t);
      if (!t) return DS_ENOMEM;
      cf->tids = t;
      cf->cap = cap;
    }
    cf->tids[cf->n_tids++] = tid;
    for (size_t k = 0; k < f->m; k++) f->cf_sum[(size_t)ci * f->m + k] += f->vals[k];
  }
  if (cf->n_finished < f->spec->n_seeds) return 0;
  cf->entered = 1;
  if (!cf->n_tids) return 0; /* every seed failed: no point */
  for (size_t k = 0; k < f->m; k++) f->vals[k] = f->cf_sum[(size_t)ci * f->m + k] / (double)cf->n_tids;
  return add_point(f, cf->group, (int64_t)ci, f->vals, (int64_t)cf->n_tids);
}

static int watch_add(ds_fronts_t *f, int64_t tid) {
  for (size_t i = 0; i < f->nwatch; i++)
    if (f->watch[i] == tid) return 0;
  if (f->nwatch == f->watchcap) {
    size_t cap = f->watchcap ? f->watchcap * 2 : 64;
    int64_t *w = realloc(f->watch, cap * sizeof *w);
    if (!w) return DS_ENOMEM;
    f->watch = w;
    f->watchcap = cap;
  }
  f->watch[f->nwatch++] = tid;
  return 0;
}

static int read_rows(ds_fronts_t *f) {
  int rc = 0, pending, step;
  sqlite3_stmt *st = f->sel_new;
  sqlite3_bind_int64(st, 1, f->cid);
  sqlite3_bind_int64(st, 2, f->watermark);
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t tid = sqlite3_column_int64(st, 0);
    if (tid > f->watermark) f->watermark = tid;
    rc = consume_row(f, st, &pending);
    if (!rc && pending) rc = watch_add(f, tid);
  }
  if (!rc && step != SQLITE_DONE) rc = sqlerr(f, "fronts: reading table trials");
  sqlite3_reset(st);
  /* Rows seen before as pending/running: consume those that have finished since. */
  for (size_t i = 0; !rc && i < f->nwatch;) {
    st = f->sel_one;
    sqlite3_bind_int64(st, 1, f->watch[i]);
    pending = 1;
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) rc = consume_row(f, st, &pending);
    else if (step != SQLITE_DONE) rc = sqlerr(f, "fronts: reading table trials");
    else pending = 0; /* the row is gone (campaign renamed away?): stop watching */
    sqlite3_reset(st);
    if (!rc && !pending) f->watch[i] = f->watch[--f->nwatch];
    else i++;
  }
  return rc;
}

/* ---- writing --------------------------------------------------------------------------- */

static int put_rank(ds_fronts_t *f, const char *label, int64_t tid, int32_t rank) {
  sqlite3_stmt *st = f->up_pareto;
  sqlite3_bind_int64(st, 1, f->cid);
  sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, tid);
  sqlite3_bind_int(st, 4, rank);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  return step == SQLITE_DONE ? 0 : sqlerr(f, "fronts: writing table pareto");
}

static int commit_group(ds_fronts_t *f, group_t *g) {
  const ds_pareto_change_t *ch;
  size_t n;
  int rc = ds_pareto_commit(g->p, &ch, &n);
  if (rc) return rc;
  g->staged = 0;
  g->touched = 1;
  for (size_t i = 0; i < n && !rc; i++) {
    if (ch[i].new_rank < 0) continue;
    if (!f->by_config) {
      rc = put_rank(f, g->label, ch[i].id, ch[i].new_rank);
    } else {
      const config_t *cf = &f->cf[ch[i].id];
      for (size_t k = 0; k < cf->n_tids && !rc; k++) rc = put_rank(f, g->label, cf->tids[k], ch[i].new_rank);
    }
  }
  return rc;
}

static char *ref_to_json(const ds_fronts_t *f, const double *ref) {
  cJSON *o = cJSON_CreateObject();
  for (size_t j = 0; o && j < f->m; j++) cJSON_AddNumberToObject(o, f->spec->objectives[j].name, ref[j]);
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return s;
}

/* Chooses the reference point; returns 1 in *changed when it differs from the last one. */
static int update_ref(ds_fronts_t *f, int *changed) {
  *changed = 0;
  double *r = malloc(f->m * sizeof *r);
  if (!r) return DS_ENOMEM;
  int rc = 0;
  if (f->spec->pareto_ref) memcpy(r, f->spec->pareto_ref, f->m * sizeof *r);
  else if ((rc = ds_pareto_front_ref_point(f->g[0].p, DS_PARETO_REF_MARGIN, r))) {
    free(r);
    return rc == DS_ENOTFOUND ? 0 : rc; /* no finite point yet: no reference, no hypervolume */
  }
  if (!f->have_ref || memcmp(r, f->ref, f->m * sizeof *r)) {
    char *js = ref_to_json(f, r);
    if (!js) {
      free(r);
      return DS_ENOMEM;
    }
    free(f->ref_json);
    f->ref_json = js;
    memcpy(f->ref, r, f->m * sizeof *r);
    f->have_ref = 1;
    *changed = 1;
  }
  free(r);
  return 0;
}

static int write_hv(ds_fronts_t *f, group_t *g, double now) {
  double hv = 0;
  int rc = ds_pareto_front_hypervolume(g->p, f->ref, &hv);
  if (rc) return rc;
  size_t front = 0;
  const uint32_t *idx;
  if (ds_pareto_n_fronts(g->p) > 0) ds_pareto_front(g->p, 0, &idx, &front);
  sqlite3_stmt *st = f->up_hv;
  sqlite3_bind_int64(st, 1, f->cid);
  sqlite3_bind_text(st, 2, g->label, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 3, hv);
  sqlite3_bind_text(st, 4, f->ref_json, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, g->n_trials);
  sqlite3_bind_double(st, 6, now);
  sqlite3_bind_text(st, 7, f->spec->pareto_ref ? "spec" : "derived", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, f->by_config ? "config" : "trial", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 9, (int64_t)ds_pareto_count(g->p));
  sqlite3_bind_int64(st, 10, (int64_t)front);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_DONE) return sqlerr(f, "fronts: writing table hypervolume");
  /* History: one row whenever the value (or the reference it is measured against) moved. */
  if (g->have_hist && g->last_hist == hv && g->last_hist_ref && !strcmp(g->last_hist_ref, f->ref_json)) return 0;
  st = f->ins_hist;
  sqlite3_bind_int64(st, 1, f->cid);
  sqlite3_bind_text(st, 2, g->label, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, g->n_trials);
  sqlite3_bind_double(st, 4, now);
  sqlite3_bind_double(st, 5, hv);
  sqlite3_bind_text(st, 6, f->ref_json, -1, SQLITE_STATIC);
  step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_DONE) return sqlerr(f, "fronts: writing table hypervolume_history");
  char *r = strdup(f->ref_json);
  if (!r) return DS_ENOMEM;
  free(g->last_hist_ref);
  g->last_hist_ref = r;
  g->last_hist = hv;
  g->have_hist = 1;
  return 0;
}

int ds_fronts_sync(ds_fronts_t *f, int final) {
  (void)final; /* every sync leaves the store complete; the last one has nothing extra to do */
  if (!f) return 0;
  int rc = read_rows(f);
  for (size_t i = 0; !rc && i < f->ng; i++)
    if (f->g[i].staged) rc = commit_group(f, &f->g[i]);
  int ref_changed = 0;
  if (!rc) rc = update_ref(f, &ref_changed);
  double now = wall_now();
  for (size_t i = 0; !rc && f->have_ref && i < f->ng; i++) {
    if (!f->g[i].touched && !ref_changed) continue;
    rc = write_hv(f, &f->g[i], now);
    f->g[i].touched = 0;
  }
  if (rc && rc != DS_ESTORE) set_msg(f->s, "%s: %s", "fronts (tables pareto, hypervolume)", ds_strerror(rc));
  return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static int prep(ds_fronts_t *f, sqlite3_stmt **st, const char *sql, const char *what) {
  if (sqlite3_prepare_v3(f->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) return sqlerr(f, what);
  return 0;
}

int ds_fronts_open(ds_store_t *s, int64_t campaign_id, const ds_spec_t *spec, ds_fronts_t **out) {
  *out = NULL;
  if (!spec->n_objectives) return 0;
  int rc = DS_ENOMEM, own_txn = 0;
  char *sql = NULL;
  ds_fronts_t *f = calloc(1, sizeof *f);
  if (!f) goto fail;
  f->s = s;
  f->db = ds_store_db(s);
  f->cid = campaign_id;
  f->spec = spec;
  f->m = spec->n_objectives;
  f->by_config = !spec->pareto_over_trial && spec->n_seeds > 1;
  f->sense = calloc(f->m, sizeof *f->sense);
  f->vals = calloc(f->m, sizeof *f->vals);
  f->ref = calloc(f->m, sizeof *f->ref);
  if (!f->sense || !f->vals || !f->ref) goto fail;
  for (size_t j = 0; j < f->m; j++) f->sense[j] = spec->objectives[j].maximize ? DS_PARETO_MAX : DS_PARETO_MIN;

  /* One statement reads a trial row with every objective, LEFT JOINed so a missing metric is
   * NULL; metric names are bound, never spliced into the SQL. */
  size_t cap = 256 + f->m * 160;
  sql = malloc(cap);
  if (!sql) goto fail;
  for (int one = 0; one < 2; one++) {
    size_t at = (size_t)snprintf(sql, cap, "SELECT t.trial_id, t.status, t.idx, t.params_json");
    for (size_t j = 0; j < f->m; j++) at += (size_t)snprintf(sql + at, cap - at, ", m%zu.value", j);
    at += (size_t)snprintf(sql + at, cap - at, " FROM trials t");
    for (size_t j = 0; j < f->m; j++)
      at += (size_t)snprintf(sql + at, cap - at,
                             " LEFT JOIN metrics m%zu ON m%zu.trial_id = t.trial_id AND m%zu.name = ?%zu", j, j, j, j + 10);
    snprintf(sql + at, cap - at, one ? " WHERE t.trial_id = ?1"
                                     : " WHERE t.campaign_id = ?1 AND t.trial_id > ?2 ORDER BY t.trial_id");
    sqlite3_stmt **st = one ? &f->sel_one : &f->sel_new;
    if ((rc = prep(f, st, sql, "fronts: preparing a read of table trials"))) goto fail;
    for (size_t j = 0; j < f->m; j++) sqlite3_bind_text(*st, (int)j + 10, spec->objectives[j].name, -1, SQLITE_STATIC);
  }
  if ((rc = prep(f, &f->up_pareto,
                 "INSERT INTO pareto(campaign_id, grp, trial_id, front_rank) VALUES(?1,?2,?3,?4)"
                 " ON CONFLICT(campaign_id, grp, trial_id) DO UPDATE SET front_rank = excluded.front_rank",
                 "fronts: preparing a write of table pareto")) ||
      (rc = prep(f, &f->up_hv,
                 "INSERT OR REPLACE INTO hypervolume(campaign_id, grp, value, ref_point, n_trials, updated_at,"
                 " ref_source, over, n_points, front_size) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                 "fronts: preparing a write of table hypervolume")) ||
      (rc = prep(f, &f->ins_hist,
                 "INSERT INTO hypervolume_history(campaign_id, grp, n_trials, at, value, ref_point)"
                 " VALUES(?1,?2,?3,?4,?5,?6)", "fronts: preparing a write of table hypervolume_history")) ||
      (rc = prep(f, &f->sel_hist,
                 "SELECT value, ref_point FROM hypervolume_history WHERE campaign_id = ?1 AND grp = ?2"
                 " ORDER BY at DESC, rowid DESC LIMIT 1", "fronts: preparing a read of table hypervolume_history")))
    goto fail;
  uint32_t g0;
  if ((rc = group_find(f, DS_FRONTS_ALL, &g0))) goto fail;

  /* Rebuild: the fronts are a function of the trials, so start from an empty pareto/hypervolume
   * and add every finished trial as one batch (ds_pareto_commit ranks it in one sort). */
  own_txn = !ds_store_in_txn(s);
  if (own_txn && (rc = ds_store_begin(s))) goto fail;
  sqlite3_stmt *del = NULL;
  const char *dels[] = {"DELETE FROM pareto WHERE campaign_id = ?1", "DELETE FROM hypervolume WHERE campaign_id = ?1"};
  for (int i = 0; i < 2; i++) {
    if (sqlite3_prepare_v2(f->db, dels[i], -1, &del, NULL) != SQLITE_OK) {
      rc = sqlerr(f, i ? "fronts: clearing table hypervolume" : "fronts: clearing table pareto");
      goto fail;
    }
    sqlite3_bind_int64(del, 1, campaign_id);
    int step = sqlite3_step(del);
    sqlite3_finalize(del);
    if (step != SQLITE_DONE) {
      rc = sqlerr(f, i ? "fronts: clearing table hypervolume" : "fronts: clearing table pareto");
      goto fail;
    }
  }
  if ((rc = ds_fronts_sync(f, 0))) goto fail;
  if (own_txn && (rc = ds_store_commit(s))) goto fail;
  free(sql);
  *out = f;
  return 0;
fail:
  /* A transaction we opened stays open and uncommitted: the caller gives up on the store, and
   * closing it rolls the half-written fronts back. */
  if (rc == DS_ENOMEM) set_msg(s, "%s: %s", "fronts (tables pareto, hypervolume)", "out of memory");
  free(sql);
  ds_fronts_close(f);
  return rc;
}

void ds_fronts_close(ds_fronts_t *f) {
  if (!f) return;
  for (size_t i = 0; i < f->ng; i++) {
    free(f->g[i].label);
    free(f->g[i].last_hist_ref);
    ds_pareto_free(f->g[i].p);
  }
  free(f->g);
  map_free(&f->gmap);
  for (size_t i = 0; i < f->ncf; i++) free(f->cf[i].tids);
  free(f->cf);
  free(f->cf_sum);
  map_free(&f->cmap);
  free(f->watch);
  free(f->ref);
  free(f->ref_json);
  free(f->vals);
  free(f->sense);
  sqlite3_finalize(f->sel_new);
  sqlite3_finalize(f->sel_one);
  sqlite3_finalize(f->up_pareto);
  sqlite3_finalize(f->up_hv);
  sqlite3_finalize(f->ins_hist);
  sqlite3_finalize(f->sel_hist);
  free(f);
}
