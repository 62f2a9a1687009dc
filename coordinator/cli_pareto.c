/* cli_pareto.c — `divsweep pareto` and `divsweep report` (DESIGN.md §2): read-only views of the
 * fronts that coordinator/fronts.c keeps in the store.
 *
 *   divsweep pareto --db F --campaign C [--group G] [--all] [--format table|csv|json]
 *     One row per front member: trial_id, group, front_rank, one column per objective, then the
 *     parameters that vary across the campaign.  Front 0 only unless --all.  Fronts over
 *     per-configuration means (spec "pareto": {"over": "config"}, the default with seeds > 1) give
 *     one row per configuration: objective means, <objective>_std (sample std over seeds), n_seeds
 *     and trial_ids (space-separated); trial_id is its first trial.  The group "all" is the whole
 *     campaign; with pareto_by every group has its own ranks.
 *   divsweep report --db F --campaign C --out report.html
 *     One self-contained HTML file (coordinator/report.c) built from done trials, their per-group
 *     ranks, and the hypervolume history measured against the current reference point.
 *
 * Both open the store read-only and never write to it; errors name the file and the table.
 */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_cli.h"
#include "ds_error.h"
#include "ds_fronts.h"
#include "ds_report.h"
#include "ds_spec.h"
#include "ds_store.h"

/* ---- shared set-up --------------------------------------------------------------------- */

typedef struct ctx {
  const char *db_path;
  ds_store_t *s;
  sqlite3 *db;
  ds_campaign_row_t c;
  ds_spec_t *spec;
  int by_config;
  char **param;      /* parameters that vary across done trials (flattened names, no seed) */
  size_t n_param;
  int sql_failed;    /* a read failed (damage, I/O): the command must not succeed */
  char sql_err[300];
} ctx_t;

/* sqlite3_step that remembers a failure (every SQLite error is an error: a damaged page must not
 * read as "no rows"); the first message is kept, read right after the failing call. */
static int xstep(ctx_t *x, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE && !x->sql_failed) {
    x->sql_failed = rc;
    snprintf(x->sql_err, sizeof x->sql_err, "%s", sqlite3_errmsg(x->db));
  }
  return rc;
}

/* The exit code once a command is done: a failed read turns success into a store error. */
static int sql_verdict(ctx_t *x, int code) {
  if (!x->sql_failed || code) return code;
  fprintf(stderr, "divsweep: %s: reading the store failed: %s; " DS_STORE_DAMAGED_HINT "\n", x->db_path, x->sql_err,
          x->db_path);
  return DS_EXIT_STORE;
}

static void ctx_close(ctx_t *x) {
  for (size_t i = 0; i < x->n_param; i++) free(x->param[i]);
  free(x->param);
  ds_spec_free(x->spec);
  free(x->c.spec_json);
  ds_store_close(x->s);
}

/* Opens the store and the campaign, parses its spec, lists its varying parameters.  Returns an
 * exit code (0 when all is well), with the message printed. */
static int ctx_open(ctx_t *x, const char *db_path, const char *campaign) {
  char err[1024];
  x->db_path = db_path;
  if (!(x->s = ds_cli_open_reader(db_path))) return DS_EXIT_STORE;
  x->db = ds_store_db(x->s);
  int rc = ds_store_campaign_get(x->s, campaign, &x->c);
  if (rc) {
    fprintf(stderr, "divsweep: %s\n", ds_store_errmsg(x->s));
    return rc == DS_ENOTFOUND ? DS_EXIT_USAGE : DS_EXIT_STORE;
  }
  if (ds_spec_parse(x->c.spec_json, strlen(x->c.spec_json), "campaigns.spec_json", NULL, &x->spec, err, sizeof err)) {
    fprintf(stderr, "divsweep: %s: campaign %s: %s\n", db_path, campaign, err);
    return DS_EXIT_STORE;
  }
  if (!x->spec->n_objectives) {
    fprintf(stderr, "divsweep: %s: campaign %s declares no objectives, so it has no fronts (table pareto)\n",
            db_path, campaign);
    return DS_EXIT_USAGE;
  }
  x->by_config = !x->spec->pareto_over_trial && x->spec->n_seeds > 1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(x->db,
                         "SELECT p.name FROM params p JOIN trials t ON t.trial_id = p.trial_id"
                         " WHERE t.campaign_id = ?1 AND t.status = 'done' AND p.name <> 'seed'"
                         " GROUP BY p.name HAVING count(DISTINCT coalesce(p.text, p.value)) > 1 ORDER BY p.name",
                         -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "divsweep: %s: table params: %s\n", db_path, sqlite3_errmsg(x->db));
    return DS_EXIT_STORE;
  }
  sqlite3_bind_int64(st, 1, x->c.id);
  while (xstep(x, st) == SQLITE_ROW) {
    char **p = realloc(x->param, (x->n_param + 1) * sizeof *p);
    if (!p) break;
    x->param = p;
    x->param[x->n_param++] = strdup((const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return sql_verdict(x, 0);
}

/* ---- growing string buffer for SQL --------------------------------------------------- */

typedef struct sbuf {
  char *s;
  size_t n, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf_t *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->n + (size_t)k + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) return;
    b->s = s;
    b->cap = cap;
  }
}

/* An SQL identifier in double quotes. */
static void sb_ident(sbuf_t *b, const char *name) {
  sb_add(b, "\"");
  for (const char *p = name; *p; p++) sb_add(b, *p == '"' ? "\"\"" : "%c", *p);
  sb_add(b, "\"");
}

/* Sample standard deviation as an SQL aggregate (SQLite has none built in). */
typedef struct { double n, mean, m2; } welford_t;
static void std_step(sqlite3_context *cx, int argc, sqlite3_value **v) {
  (void)argc;
  if (sqlite3_value_type(v[0]) == SQLITE_NULL) return;
  welford_t *w = sqlite3_aggregate_context(cx, sizeof *w);
  if (!w) return;
  double x = sqlite3_value_double(v[0]), d = x - w->mean;
  w->n += 1;
  w->mean += d / w->n;
  w->m2 += d * (x - w->mean);
}
static void std_final(sqlite3_context *cx) {
  welford_t *w = sqlite3_aggregate_context(cx, 0);
  if (!w || w->n < 1) sqlite3_result_null(cx);
  else sqlite3_result_double(cx, w->n < 2 ? 0.0 : sqrt(w->m2 / (w->n - 1)));
}

/* ---- pareto ---------------------------------------------------------------------------- */

static const char *PARETO_USAGE =
    "usage: divsweep pareto --db FILE [--campaign NAME] [--group KEY] [--all] [--format table|csv|json]\n";

int ds_cli_pareto(int argc, char **argv) {
  const char *db_path = NULL, *campaign = NULL, *group = NULL;
  int fmt = DS_FMT_TABLE, all = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--campaign") && i + 1 < argc) campaign = argv[++i];
    else if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
    else if (!strcmp(argv[i], "--all")) all = 1;
    else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
      if ((fmt = ds_cli_format(argv[++i])) < 0) {
        fprintf(stderr, "divsweep pareto: --format: expected table, csv or json, not %s\n%s", argv[i], PARETO_USAGE);
        return DS_EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "divsweep pareto: unknown argument %s\n%s", argv[i], PARETO_USAGE);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path) {
    fputs(PARETO_USAGE, stderr);
    return DS_EXIT_USAGE;
  }
  char only[256];
  int pick;
  if (!(campaign = ds_cli_pick_campaign(db_path, campaign, only, sizeof only, &pick))) return pick;
  ctx_t X = {0}, *x = &X;
  sbuf_t q = {0};
  sqlite3_stmt *st = NULL;
  int code = ctx_open(x, db_path, campaign);
  if (code) goto out;
  const ds_spec_t *sp = x->spec;

  if (group) {
    int found = 0;
    if (sqlite3_prepare_v2(x->db, "SELECT 1 FROM pareto WHERE campaign_id = ?1 AND grp = ?2 LIMIT 1", -1, &st, NULL) ==
        SQLITE_OK) {
      sqlite3_bind_int64(st, 1, x->c.id);
      sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
      found = xstep(x, st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!found) {
      fprintf(stderr, "divsweep: %s: campaign %s has no group \"%s\" in table pareto; groups:", db_path, campaign, group);
      if (sqlite3_prepare_v2(x->db, "SELECT DISTINCT grp FROM pareto WHERE campaign_id = ?1 ORDER BY grp", -1, &st,
                             NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, x->c.id);
        while (xstep(x, st) == SQLITE_ROW) fprintf(stderr, " \"%s\"", (const char *)sqlite3_column_text(st, 0));
      }
      fputc('\n', stderr);
      code = DS_EXIT_USAGE;
      goto out;
    }
  }

  /* Objective names bind at ?10.., parameter names at ?1000..; nothing from the store is spliced
   * into the SQL except as a quoted identifier (column alias). */
  if (x->by_config) sb_add(&q, "SELECT min(p.trial_id) AS trial_id");
  else sb_add(&q, "SELECT p.trial_id AS trial_id");
  sb_add(&q, ", p.grp AS \"group\", p.front_rank AS front_rank");
  for (size_t j = 0; j < sp->n_objectives; j++) {
    sb_add(&q, x->by_config ? ", avg(m%zu.value) AS " : ", m%zu.value AS ", j);
    sb_ident(&q, sp->objectives[j].name);
  }
  if (x->by_config) {
    for (size_t j = 0; j < sp->n_objectives; j++) {
      char name[300];
      snprintf(name, sizeof name, "%s_std", sp->objectives[j].name);
      sb_add(&q, ", ds_std(m%zu.value) AS ", j);
      sb_ident(&q, name);
    }
    sb_add(&q, ", count(*) AS n_seeds, group_concat(p.trial_id, ' ') AS trial_ids");
  } else {
    sb_add(&q, ", t.seed AS seed");
  }
  for (size_t k = 0; k < x->n_param; k++) {
    int clash = !strcmp(x->param[k], "trial_id") || !strcmp(x->param[k], "group") || !strcmp(x->param[k], "front_rank");
    for (size_t j = 0; j < sp->n_objectives; j++) clash |= !strcmp(x->param[k], sp->objectives[j].name);
    char name[300];
    snprintf(name, sizeof name, "%s%s", clash ? "param_" : "", x->param[k]);
    sb_add(&q, x->by_config ? ", min(coalesce(q%zu.text, q%zu.value)) AS " : ", coalesce(q%zu.text, q%zu.value) AS ", k, k);
    sb_ident(&q, name);
  }
  sb_add(&q, " FROM pareto p JOIN trials t ON t.trial_id = p.trial_id");
  for (size_t j = 0; j < sp->n_objectives; j++)
    sb_add(&q, " LEFT JOIN metrics m%zu ON m%zu.trial_id = p.trial_id AND m%zu.name = ?%zu", j, j, j, j + 10);
  for (size_t k = 0; k < x->n_param; k++)
    sb_add(&q, " LEFT JOIN params q%zu ON q%zu.trial_id = p.trial_id AND q%zu.name = ?%zu", k, k, k, k + 1000);
  sb_add(&q, " WHERE p.campaign_id = ?1 AND (?2 IS NULL OR p.grp = ?2) AND (?3 OR p.front_rank = 0)");
  if (x->by_config) sb_add(&q, " GROUP BY p.grp, p.front_rank, t.idx / %zu", sp->n_seeds);
  sb_add(&q, " ORDER BY p.grp = '%s' DESC, p.grp, p.front_rank, %s, trial_id", DS_FRONTS_ALL, "4");
  if (!q.s) {
    code = DS_EXIT_STORE;
    goto out;
  }
  sqlite3_create_function(x->db, "ds_std", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, NULL, std_step, std_final);
  if (sqlite3_prepare_v2(x->db, q.s, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "divsweep: %s: tables pareto, metrics, params: %s\n", db_path, sqlite3_errmsg(x->db));
    code = DS_EXIT_STORE;
    goto out;
  }
  sqlite3_bind_int64(st, 1, x->c.id);
  if (group) sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, all);
  for (size_t j = 0; j < sp->n_objectives; j++) sqlite3_bind_text(st, (int)j + 10, sp->objectives[j].name, -1, SQLITE_STATIC);
  for (size_t k = 0; k < x->n_param; k++) sqlite3_bind_text(st, (int)k + 1000, x->param[k], -1, SQLITE_STATIC);
  if (ds_cli_print_stmt(x->db, st, (ds_format_t)fmt, stdout)) code = DS_EXIT_STORE;
out:
  sqlite3_finalize(st);
  free(q.s);
  code = sql_verdict(x, code);
  ctx_close(x);
  return code;
}

/* ---- report ---------------------------------------------------------------------------- */

static const char *REPORT_USAGE = "usage: divsweep report --db FILE [--campaign NAME] --out report.html\n";

typedef struct vec {
  void *v;
  size_t n, cap, size;
} vec_t;

/* Room for one more element; NULL on OOM. */
static void *vec_push(vec_t *a) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 256;
    void *v = realloc(a->v, cap * a->size);
    if (!v) return NULL;
    a->v = v;
    a->cap = cap;
  }
  return (char *)a->v + a->size * a->n++;
}

/* Replaces the per-trial vectors by one entry per configuration (cfg: each trial's configuration
 * number): the first trial's id, group, rank (a configuration's seeds share it) and parameters,
 * the mean of each objective over the seeds where it is finite, its sample std (0 for one seed,
 * NaN for none) into msd, and the seed count into nsd.  Returns 0 or DS_ENOMEM. */
static int aggregate_configs(size_t m, size_t np, vec_t *tid, vec_t *seed, vec_t *cfg, vec_t *grp, vec_t *rank,
                             vec_t *met, vec_t *pval, vec_t *ptext, vec_t *msd, vec_t *nsd) {
  size_t n = tid->n, k = 0;
  const int64_t *c = cfg->v;
  size_t *slot = malloc((n ? n : 1) * sizeof *slot), *first = malloc((n ? n : 1) * sizeof *first);
  double *sum = calloc((n ? n : 1) * (m ? m : 1), sizeof *sum), *sq = calloc((n ? n : 1) * (m ? m : 1), sizeof *sq);
  int32_t *cnt = calloc((n ? n : 1) * (m ? m : 1), sizeof *cnt), *ns = calloc(n ? n : 1, sizeof *ns);
  if (!slot || !first || !sum || !sq || !cnt || !ns) goto oom;
  /* Configurations in order of first appearance (trials come ordered by trial_id), through a
   * table indexed by configuration number (linear time). */
  int64_t cmax = -1;
  for (size_t i = 0; i < n; i++)
    if (c[i] > cmax) cmax = c[i];
  size_t *of = malloc((size_t)(cmax + 1 > 0 ? cmax + 1 : 1) * sizeof *of);
  if (!of) goto oom;
  for (int64_t j = 0; j <= cmax; j++) of[j] = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    size_t ci = c[i] >= 0 ? (size_t)c[i] : 0;
    if (of[ci] == SIZE_MAX) {
      of[ci] = k;
      first[k++] = i;
    }
    slot[i] = of[ci];
  }
  free(of);
  const double *mv = met->v;
  for (size_t i = 0; i < n; i++) {
    ns[slot[i]]++;
    for (size_t o = 0; o < m; o++) {
      double v = mv[i * m + o];
      if (!isfinite(v)) continue;
      sum[slot[i] * m + o] += v;
      cnt[slot[i] * m + o]++;
    }
  }
  for (size_t i = 0; i < n; i++) /* second pass: squared deviations from the mean (stable) */
    for (size_t o = 0; o < m; o++) {
      double v = mv[i * m + o];
      size_t q = slot[i] * m + o;
      if (isfinite(v)) sq[q] += (v - sum[q] / cnt[q]) * (v - sum[q] / cnt[q]);
    }
  msd->n = nsd->n = 0;
  for (size_t j = 0; j < k; j++) {
    int32_t *pn = vec_push(nsd);
    if (!pn) goto oom;
    *pn = ns[j];
    for (size_t o = 0; o < m; o++) {
      double *d = vec_push(msd);
      if (!d) goto oom;
      size_t q = j * m + o;
      *d = cnt[q] == 0 ? NAN : cnt[q] < 2 ? 0.0 : sqrt(sq[q] / (cnt[q] - 1));
    }
  }
  /* Compact in place: entry j takes trial first[j] (first[j] ≥ j, so nothing is overwritten
   * before it is read); the other trials' strings are freed. */
  int64_t *ti = tid->v, *se = seed->v;
  char **gr = grp->v, **pt = ptext->v;
  int32_t *rk = rank->v;
  double *pv = pval->v, *me = met->v;
  char *keep = calloc(n ? n : 1, 1);
  if (!keep) goto oom;
  for (size_t j = 0; j < k; j++) keep[first[j]] = 1;
  for (size_t i = 0; i < n; i++)
    if (!keep[i]) {
      free(gr[i]);
      for (size_t q = 0; q < np; q++) free(pt[i * np + q]);
    }
  for (size_t j = 0; j < k; j++) {
    size_t i = first[j];
    ti[j] = ti[i];
    se[j] = se[i];
    gr[j] = gr[i];
    rk[j] = rk[i];
    for (size_t q = 0; q < np; q++) {
      pv[j * np + q] = pv[i * np + q];
      pt[j * np + q] = pt[i * np + q];
    }
    for (size_t o = 0; o < m; o++) me[j * m + o] = cnt[j * m + o] ? sum[j * m + o] / cnt[j * m + o] : NAN;
  }
  free(keep);
  tid->n = seed->n = grp->n = rank->n = cfg->n = k;
  met->n = k * m;
  pval->n = ptext->n = k * np;
  free(slot);
  free(first);
  free(sum);
  free(sq);
  free(cnt);
  free(ns);
  return 0;
oom:
  free(slot);
  free(first);
  free(sum);
  free(sq);
  free(cnt);
  free(ns);
  return DS_ENOMEM;
}

int ds_cli_report(int argc, char **argv) {
  const char *db_path = NULL, *campaign = NULL, *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--campaign") && i + 1 < argc) campaign = argv[++i];
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out_path = argv[++i];
    else {
      fprintf(stderr, "divsweep report: unknown argument %s\n%s", argv[i], REPORT_USAGE);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path || !out_path) {
    fputs(REPORT_USAGE, stderr);
    return DS_EXIT_USAGE;
  }
  char only[256];
  int pick;
  if (!(campaign = ds_cli_pick_campaign(db_path, campaign, only, sizeof only, &pick))) return pick;
  ctx_t X = {0}, *x = &X;
  sbuf_t q = {0};
  sqlite3_stmt *st = NULL, *rk = NULL, *pv = NULL;
  vec_t tid = {.size = sizeof(int64_t)}, seed = {.size = sizeof(int64_t)}, grp = {.size = sizeof(char *)},
        rank = {.size = sizeof(int32_t)}, met = {.size = sizeof(double)}, pval = {.size = sizeof(double)},
        ptext = {.size = sizeof(char *)}, hv = {.size = sizeof(ds_report_hv_t)}, hvgrp = {.size = sizeof(char *)},
        cfg = {.size = sizeof(int64_t)}, msd = {.size = sizeof(double)}, nsd = {.size = sizeof(int32_t)};
  ds_report_kv_t kv[24];
  char kvbuf[24][512];
  size_t nkv = 0;
  int code = ctx_open(x, db_path, campaign);
  if (code) goto out;
  const ds_spec_t *sp = x->spec;
  size_t m = sp->n_objectives;

  /* Done trials with their objectives; group labels from params_json, ranks from table pareto. */
  sb_add(&q, "SELECT t.trial_id, t.seed, t.params_json");
  for (size_t j = 0; j < m; j++) sb_add(&q, ", m%zu.value", j);
  sb_add(&q, ", t.idx FROM trials t");
  for (size_t j = 0; j < m; j++)
    sb_add(&q, " LEFT JOIN metrics m%zu ON m%zu.trial_id = t.trial_id AND m%zu.name = ?%zu", j, j, j, j + 10);
  sb_add(&q, " WHERE t.campaign_id = ?1 AND t.status = 'done' ORDER BY t.trial_id");
  if (!q.s || sqlite3_prepare_v2(x->db, q.s, -1, &st, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(x->db, "SELECT front_rank FROM pareto WHERE campaign_id = ?1 AND grp = ?2 AND trial_id = ?3", -1,
                         &rk, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(x->db, "SELECT value, text FROM params WHERE trial_id = ?1 AND name = ?2", -1, &pv, NULL) !=
          SQLITE_OK) {
    fprintf(stderr, "divsweep: %s: tables trials, metrics, pareto, params: %s\n", db_path, sqlite3_errmsg(x->db));
    code = DS_EXIT_STORE;
    goto out;
  }
  sqlite3_bind_int64(st, 1, x->c.id);
  for (size_t j = 0; j < m; j++) sqlite3_bind_text(st, (int)j + 10, sp->objectives[j].name, -1, SQLITE_STATIC);
  int step;
  while ((step = xstep(x, st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *pj = (const char *)sqlite3_column_text(st, 2);
    cJSON *params = pj ? cJSON_Parse(pj) : NULL;
    char label[512];
    ds_fronts_group_label(sp, params, label, sizeof label);
    cJSON_Delete(params);
    int64_t *pt = vec_push(&tid), *ps = vec_push(&seed), *pc = vec_push(&cfg);
    char **pg = vec_push(&grp);
    int32_t *pr = vec_push(&rank);
    if (!pt || !ps || !pc || !pg || !pr) goto oom;
    *pc = sqlite3_column_int64(st, 3 + (int)m) / (int64_t)(sp->n_seeds ? sp->n_seeds : 1);
    *pt = id;
    *ps = sqlite3_column_int64(st, 1);
    *pg = strdup(label);
    if (!*pg) goto oom;
    sqlite3_bind_int64(rk, 1, x->c.id);
    sqlite3_bind_text(rk, 2, label, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(rk, 3, id);
    *pr = xstep(x, rk) == SQLITE_ROW ? sqlite3_column_int(rk, 0) : -1;
    sqlite3_reset(rk);
    for (size_t j = 0; j < m; j++) {
      double *v = vec_push(&met);
      if (!v) goto oom;
      *v = sqlite3_column_type(st, 3 + (int)j) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3 + (int)j);
    }
    for (size_t k = 0; k < x->n_param; k++) {
      double *v = vec_push(&pval);
      char **t = vec_push(&ptext);
      if (!v || !t) goto oom;
      *v = NAN;
      *t = NULL;
      sqlite3_bind_int64(pv, 1, id);
      sqlite3_bind_text(pv, 2, x->param[k], -1, SQLITE_STATIC);
      if (xstep(x, pv) == SQLITE_ROW) {
        if (sqlite3_column_type(pv, 0) != SQLITE_NULL) *v = sqlite3_column_double(pv, 0);
        if (sqlite3_column_type(pv, 1) != SQLITE_NULL) *t = strdup((const char *)sqlite3_column_text(pv, 1));
      }
      sqlite3_reset(pv);
    }
  }
  if (step != SQLITE_DONE) {
    fprintf(stderr, "divsweep: %s: table trials: %s\n", db_path, sqlite3_errmsg(x->db));
    code = DS_EXIT_STORE;
    goto out;
  }
  if (tid.n == 0) {
    fprintf(stderr, "divsweep: %s: campaign %s has no done trials yet (table trials)\n", db_path, campaign);
    code = DS_EXIT_USAGE;
    goto out;
  }

  /* Fronts over per-configuration means: one point per configuration (the mean of its seeds,
   * the sample std as error bars), in the order of each configuration's first trial. */
  if (x->by_config && aggregate_configs(m, x->n_param, &tid, &seed, &cfg, &grp, &rank, &met, &pval, &ptext, &msd, &nsd))
    goto oom;

  /* Hypervolume history, only the rows measured against the current reference point (a derived
   * reference moves early in a campaign; values against different references do not compare). */
  sqlite3_finalize(st);
  st = NULL;
  char ref[512] = "", over[16] = "", refsrc[16] = "";
  if (sqlite3_prepare_v2(x->db, "SELECT ref_point, over, ref_source FROM hypervolume WHERE campaign_id = ?1 AND grp = ?2",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, x->c.id);
    sqlite3_bind_text(st, 2, DS_FRONTS_ALL, -1, SQLITE_STATIC);
    if (xstep(x, st) == SQLITE_ROW) {
      snprintf(ref, sizeof ref, "%s", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
      snprintf(over, sizeof over, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
      snprintf(refsrc, sizeof refsrc, "%s", sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(x->db,
                         /* The history by the group's trial count, and the current value at the
                          * current count (the history only has rows where the value moved). */
                         "SELECT grp, n_trials, value FROM (SELECT grp, n_trials, value, at FROM hypervolume_history"
                         " WHERE campaign_id = ?1 AND ref_point = ?2 UNION ALL SELECT grp, n_trials, value, 1e300"
                         " FROM hypervolume WHERE campaign_id = ?1 AND ref_point = ?2) WHERE (?3 = 0 OR grp <> ?4)"
                         " ORDER BY grp, at, n_trials",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, x->c.id);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    /* With pareto_by the report's groups are the pareto_by values; the campaign-wide line
     * would be a group the scatters do not have. */
    sqlite3_bind_int(st, 3, sp->n_pareto_by > 0);
    sqlite3_bind_text(st, 4, DS_FRONTS_ALL, -1, SQLITE_STATIC);
    while (xstep(x, st) == SQLITE_ROW) {
      ds_report_hv_t *h = vec_push(&hv);
      char **hg = vec_push(&hvgrp);
      if (!h || !hg) goto oom;
      *hg = strdup((const char *)sqlite3_column_text(st, 0));
      h->group = *hg;
      h->t = sqlite3_column_double(st, 1);
      h->value = sqlite3_column_double(st, 2);
    }
  }
  sqlite3_finalize(st);
  st = NULL;

  /* Summary. */
  int64_t n_failed = 0;
  if (sqlite3_prepare_v2(x->db, "SELECT count(*) FROM trials WHERE campaign_id = ?1 AND status = 'failed'", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, x->c.id);
    if (xstep(x, st) == SQLITE_ROW) n_failed = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  st = NULL;
#define KV(k, ...)                                                        \
  do {                                                                    \
    if (nkv < 24) {                                                       \
      snprintf(kvbuf[nkv], sizeof kvbuf[nkv], __VA_ARGS__);               \
      kv[nkv].key = k;                                                    \
      kv[nkv].value = kvbuf[nkv];                                         \
      nkv++;                                                              \
    }                                                                     \
  } while (0)
  KV("task", "%s", x->c.task);
  KV("status", "%s", x->c.status);
  KV("trials", "%lld done, %lld failed of %lld", (long long)tid.n, (long long)n_failed, (long long)x->c.n_trials);
  /* (The renderer lists the objectives itself.) */
  KV("fronts over", "%s", x->by_config ? "per-configuration means across seeds (ranks shown on every seed)"
                                       : "individual trials");
  if (ref[0]) {
    /* The stored point is JSON with round-trip digits; show 4 significant digits per objective. */
    char nice[400] = "";
    cJSON *rj = cJSON_Parse(ref);
    for (const cJSON *c = rj ? rj->child : NULL; c; c = c->next)
      if (cJSON_IsNumber(c) && c->string)
        snprintf(nice + strlen(nice), sizeof nice - strlen(nice), "%s%s %.4g", nice[0] ? ", " : "", c->string,
                 c->valuedouble);
    cJSON_Delete(rj);
    KV("reference point", "%s (%s)", nice[0] ? nice : ref, refsrc[0] ? refsrc : "?");
  }
  (void)over;
  if (sqlite3_prepare_v2(x->db, "SELECT grp, value, front_size, n_points FROM hypervolume WHERE campaign_id = ?1"
                         " ORDER BY grp = ?2 DESC, grp", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, x->c.id);
    sqlite3_bind_text(st, 2, DS_FRONTS_ALL, -1, SQLITE_STATIC);
    while (xstep(x, st) == SQLITE_ROW && nkv < 22) {
      KV("hypervolume", "%s: %.6g (front %d of %d)", (const char *)sqlite3_column_text(st, 0),
         sqlite3_column_double(st, 1), sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  /* Nothing is written from a store that failed to read. */
  if (x->sql_failed) {
    code = sql_verdict(x, 0);
    goto out;
  }

  const char **onames = calloc(m, sizeof *onames);
  ds_pareto_sense_t *sense = calloc(m, sizeof *sense);
  if (!onames || !sense) {
    free(onames);
    free(sense);
    goto oom;
  }
  for (size_t j = 0; j < m; j++) {
    onames[j] = sp->objectives[j].name;
    sense[j] = sp->objectives[j].maximize ? DS_PARETO_MAX : DS_PARETO_MIN;
  }
  char group_label[256] = "";
  for (size_t k = 0; k < sp->n_pareto_by; k++)
    snprintf(group_label + strlen(group_label), sizeof group_label - strlen(group_label), "%s%s", k ? " / " : "",
             sp->pareto_by[k]);
  char subtitle[1024];
  snprintf(subtitle, sizeof subtitle, "task %s · %s", x->c.task, db_path);
  ds_report_t r = {
      .title = x->c.name,
      .subtitle = subtitle,
      .summary = kv,
      .n_summary = nkv,
      .n_objectives = m,
      .objective = onames,
      .sense = sense,
      .n_params = x->n_param,
      .param = (const char *const *)x->param,
      .n_points = tid.n,
      .trial_id = tid.v,
      .group = (const char *const *)grp.v,
      .seed = seed.v,
      .front_rank = rank.v,
      .param_value = pval.v,
      .param_text = (const char *const *)ptext.v,
      .metric = met.v,
      .metric_std = x->by_config ? msd.v : NULL,
      .n_seeds = x->by_config ? nsd.v : NULL,
      .point_noun = x->by_config ? "configurations" : NULL,
      .scatter_x = 0,
      .scatter_y = m > 1 ? 1 : 0,
      .group_label = group_label[0] ? group_label : NULL,
      .hv = hv.v,
      .n_hv = hv.n,
      .hv_time_label = "trials of the group committed",
  };
  /* Chart.js from Debian's libjs-chart.js (DS_CHARTJS overrides the path), inlined; without it
   * the report keeps its SVG charts only. */
  const char *cj_path = getenv("DS_CHARTJS") ? getenv("DS_CHARTJS") : "/usr/share/javascript/chart.js/chart.min.js";
  char *cj = NULL;
  FILE *cf = fopen(cj_path, "rb");
  if (cf) {
    if (fseek(cf, 0, SEEK_END) == 0) {
      long n = ftell(cf);
      if (n > 0 && fseek(cf, 0, SEEK_SET) == 0 && (cj = malloc((size_t)n + 1))) {
        if (fread(cj, 1, (size_t)n, cf) != (size_t)n || memmem(cj, (size_t)n, "</script", 8)) {
          free(cj);
          cj = NULL;
        } else {
          cj[n] = 0;
        }
      }
    }
    fclose(cf);
  }
  if (!cj) fprintf(stderr, "divsweep: report: %s not readable (Debian package libjs-chart.js): SVG charts only\n", cj_path);
  r.chartjs = cj;
  int rc = ds_report_write(&r, out_path);
  free(cj);
  free(onames);
  free(sense);
  if (rc == DS_EIO) {
    fprintf(stderr, "divsweep: %s: cannot write the report\n", out_path);
    code = DS_EXIT_USAGE;
  } else if (rc) {
    fprintf(stderr, "divsweep: report of campaign %s: %s\n", campaign, ds_strerror(rc));
    code = DS_EXIT_STORE;
  }
  goto out;
oom:
  fprintf(stderr, "divsweep: report of campaign %s: out of memory\n", campaign);
  code = DS_EXIT_STORE;
out:
  sqlite3_finalize(st);
  sqlite3_finalize(rk);
  sqlite3_finalize(pv);
  for (size_t i = 0; i < grp.n; i++) free(((char **)grp.v)[i]);
  for (size_t i = 0; i < ptext.n; i++) free(((char **)ptext.v)[i]);
  for (size_t i = 0; i < hvgrp.n; i++) free(((char **)hvgrp.v)[i]);
  free(tid.v);
  free(seed.v);
  free(grp.v);
  free(rank.v);
  free(met.v);
  free(pval.v);
  free(ptext.v);
  free(hv.v);
  free(hvgrp.v);
  free(cfg.v);
  free(msd.v);
  free(nsd.v);
  free(q.s);
  ctx_close(x);
  return code;
}
