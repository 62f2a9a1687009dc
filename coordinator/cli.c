/* cli.c — read-side commands: `validate`, `status` and `query`, and the table/csv/json printer.
 *
 * `status` and `query` open the store read-only (SQLite WAL readers never block the running
 * coordinator, and the coordinator never blocks them).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ds_cli.h"
#include "ds_error.h"
#include "ds_store.h"

int ds_cli_format(const char *s) {
  if (!strcmp(s, "table")) return DS_FMT_TABLE;
  if (!strcmp(s, "csv")) return DS_FMT_CSV;
  if (!strcmp(s, "json")) return DS_FMT_JSON;
  return -1;
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void csv_str(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

static void fmt_num(char *buf, double x) {
  if (isnan(x)) snprintf(buf, 40, "NaN");
  else if (isinf(x)) snprintf(buf, 40, x > 0 ? "Inf" : "-Inf");
  else ds_fmt_double(buf, x);
}

/* Text of a cell for table (6 significant digits) or csv output (full = 1: shortest round-trip,
 * so that a CSV reader gets back the stored doubles). */
static char *cell_text(sqlite3_stmt *st, int i, int full) {
  char buf[48];
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL: return strdup("");
  case SQLITE_INTEGER: snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(st, i)); return strdup(buf);
  case SQLITE_FLOAT: {
    double x = sqlite3_column_double(st, i);
    const char *col = sqlite3_column_name(st, i);
    size_t cl = col ? strlen(col) : 0;
    if (isfinite(x) && full) ds_fmt_double(buf, x);
    else if (isfinite(x) && cl > 3 && !strcmp(col + cl - 3, "_at") && x >= 1e9 && x < 1e10) {
      /* The store's times are Unix seconds (created_at, started_at, ...): a table shows them as
       * ISO 8601 UTC; csv and json keep the number. */
      time_t t = (time_t)x;
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else if (isfinite(x)) snprintf(buf, sizeof buf, "%.6g", x);
    else fmt_num(buf, x);
    return strdup(buf);
  }
  default: return strdup((const char *)sqlite3_column_text(st, i));
  }
}

int ds_cli_print_stmt(sqlite3 *db, sqlite3_stmt *st, ds_format_t fmt, FILE *f) {
  int ncol = sqlite3_column_count(st), rc;
  size_t nrows = 0, cap = 0;
  char **cells = NULL;
  if (fmt == DS_FMT_JSON) fputc('[', f);
  if (fmt == DS_FMT_CSV) {
    for (int i = 0; i < ncol; i++) {
      if (i) fputc(',', f);
      csv_str(f, sqlite3_column_name(st, i));
    }
    fputc('\n', f);
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (fmt == DS_FMT_JSON) {
      fputs(nrows ? ",\n {" : "\n {", f);
      for (int i = 0; i < ncol; i++) {
        if (i) fputs(", ", f);
        json_str(f, sqlite3_column_name(st, i));
        fputs(": ", f);
        char buf[48];
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: fputs("null", f); break;
        case SQLITE_INTEGER: fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT:
          if (isfinite(sqlite3_column_double(st, i))) {
            ds_fmt_double(buf, sqlite3_column_double(st, i));
            fputs(buf, f);
          } else {
            fputs("null", f);
          }
          break;
        default: json_str(f, (const char *)sqlite3_column_text(st, i));
        }
      }
      fputc('}', f);
    } else if (fmt == DS_FMT_CSV) {
      for (int i = 0; i < ncol; i++) {
        if (i) fputc(',', f);
        char *t = cell_text(st, i, 1);
        csv_str(f, t);
        free(t);
      }
      fputc('\n', f);
    } else {
      if ((nrows + 1) * (size_t)ncol > cap) {
        cap = cap ? 2 * cap : (size_t)ncol * 64;
        char **nc = realloc(cells, cap * sizeof *nc);
        if (!nc) break;
        cells = nc;
      }
      for (int i = 0; i < ncol; i++) cells[nrows * (size_t)ncol + (size_t)i] = cell_text(st, i, 0);
    }
    nrows++;
  }
  /* SQLite's message now: the printing below calls into SQLite again. */
  char errmsg[400] = "";
  int damage = 0;
  if (rc != SQLITE_DONE) {
    snprintf(errmsg, sizeof errmsg, "%s", sqlite3_errmsg(db));
    damage = ds_store_code_is_damage(sqlite3_extended_errcode(db));
  }
  if (fmt == DS_FMT_JSON) fputs(nrows ? "\n]\n" : "]\n", f);
  if (fmt == DS_FMT_TABLE && ncol > 0) {
    size_t *w = calloc((size_t)ncol, sizeof *w);
    for (int i = 0; i < ncol; i++) w[i] = strlen(sqlite3_column_name(st, i));
    for (size_t r = 0; r < nrows; r++)
      for (int i = 0; i < ncol; i++) {
        size_t l = strlen(cells[r * (size_t)ncol + (size_t)i]);
        if (l > w[i]) w[i] = l;
      }
    for (int i = 0; i < ncol; i++) fprintf(f, "%s%-*s", i ? "  " : "", (int)w[i], sqlite3_column_name(st, i));
    fputc('\n', f);
    for (int i = 0; i < ncol; i++) {
      fputs(i ? "  " : "", f);
      for (size_t k = 0; k < w[i]; k++) fputc('-', f);
    }
    fputc('\n', f);
    for (size_t r = 0; r < nrows; r++) {
      for (int i = 0; i < ncol; i++) {
        const char *t = cells[r * (size_t)ncol + (size_t)i];
        int numeric = sqlite3_column_decltype(st, i) == NULL && t[0] && strspn(t, "0123456789.-+eE") == strlen(t);
        fprintf(f, numeric ? "%s%*s" : "%s%-*s", i ? "  " : "", (int)w[i], t);
        free(cells[r * (size_t)ncol + (size_t)i]);
      }
      fputc('\n', f);
    }
    fprintf(f, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
    free(w);
  }
  free(cells);
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "divsweep: query: %s", errmsg);
    if (damage) {
      fputs("; ", stderr);
      fprintf(stderr, DS_STORE_DAMAGED_HINT, sqlite3_db_filename(db, "main"));
    }
    fputc('\n', stderr);
    return damage ? DS_EDAMAGED : DS_ESTORE;
  }
  return 0;
}

ds_store_t *ds_cli_open_reader(const char *db_path) {
  ds_store_t *s;
  char err[600];
  if (ds_store_open(db_path, DS_STORE_READONLY, &s, err, sizeof err)) {
    fprintf(stderr, "divsweep: %s\n", err);
    return NULL;
  }
  if (*ds_store_note(s)) fprintf(stderr, "divsweep: note: %s\n", ds_store_note(s));
  return s;
}

/* Prints "divsweep: PATH: WHAT: <SQLite's message>" (with the damaged-database hint when the file
 * itself is bad) and returns the store exit code.  Call it right after the failing call: a later
 * statement, even a successful PRAGMA, replaces sqlite3_errmsg() (the duplicate-key message once
 * ended in "not an error" that way). */
static int db_fail(sqlite3 *db, const char *path, const char *what) {
  int ec = sqlite3_extended_errcode(db);
  fprintf(stderr, "divsweep: %s: %s: %s", path, what, sqlite3_errmsg(db));
  if (ds_store_code_is_damage(ec)) {
    fputs("; ", stderr);
    fprintf(stderr, DS_STORE_DAMAGED_HINT, path);
  }
  fputc('\n', stderr);
  return DS_EXIT_STORE;
}

/* ---- campaign choice ------------------------------------------------------------------ */

const char *ds_cli_pick_campaign(const char *db_path, const char *campaign, char *buf, size_t len, int *code) {
  *code = 0;
  ds_store_t *s = ds_cli_open_reader(db_path);
  if (!s) {
    *code = DS_EXIT_STORE;
    return NULL;
  }
  sqlite3 *db = ds_store_db(s);
  sqlite3_stmt *st;
  char names[2048] = "";
  size_t o = 0;
  int n = 0, found = 0;
  if (sqlite3_prepare_v2(db, "SELECT name FROM campaigns ORDER BY campaign_id", -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "divsweep: %s: table campaigns: %s\n", db_path, sqlite3_errmsg(db));
    ds_store_close(s);
    *code = DS_EXIT_STORE;
    return NULL;
  }
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *nm = (const char *)sqlite3_column_text(st, 0);
    if (campaign && !strcmp(nm, campaign)) found = 1;
    if (n == 0) snprintf(buf, len, "%s", nm);
    if (o + 8 < sizeof names) o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", n ? ", " : "", nm);
    if (o >= sizeof names) o = sizeof names - 1;
    n++;
  }
  if (step != SQLITE_DONE) {
    *code = db_fail(db, db_path, "reading table campaigns");
    sqlite3_finalize(st);
    ds_store_close(s);
    return NULL;
  }
  sqlite3_finalize(st);
  ds_store_close(s);
  if (campaign && found) return campaign;
  if (!campaign && n == 1) return buf;
  if (campaign)
    fprintf(stderr, "divsweep: %s: unknown campaign %s in table campaigns (it holds: %s)\n", db_path, campaign,
            n ? names : "none");
  else if (n == 0)
    fprintf(stderr, "divsweep: %s: table campaigns is empty\n", db_path);
  else
    fprintf(stderr, "divsweep: %s: %d campaigns, choose one with --campaign: %s\n", db_path, n, names);
  *code = DS_EXIT_USAGE;
  return NULL;
}

/* ---- validate ------------------------------------------------------------------------- */

/* Read through the same bounded reader as ds_spec_load, so that a FIFO or /dev/zero is refused
 * (NULL here, then ds_spec_load's message) instead of blocking or reading without bound. */
cJSON *ds_cli_read_json(const char *path) {
  char *buf, err[16];
  size_t n;
  if (ds_spec_read_file(path, &buf, &n, err, sizeof err)) return NULL;
  cJSON *root = cJSON_ParseWithLength(buf, n);
  free(buf);
  return root;
}

int ds_cli_validate(int argc, char **argv, const ds_spec_opts_t *opts, const ds_cli_spec_checks_t *checks) {
  const char *path = NULL;
  int show = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--show") && i + 1 < argc) show = atoi(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "divsweep validate: unknown option %s\n", argv[i]);
      return DS_EXIT_USAGE;
    } else path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: divsweep validate SPEC.json [--show N]\n");
    return DS_EXIT_USAGE;
  }
  ds_spec_t *s;
  char err[1024];
  cJSON *root = checks ? ds_cli_read_json(path) : NULL;
  if (root && checks->names && checks->names(root, err, sizeof err)) {
    fprintf(stderr, "divsweep: %s: %s\n", path, err);
    cJSON_Delete(root);
    return DS_EXIT_USAGE;
  }
  if (ds_spec_load(path, opts, &s, err, sizeof err)) {
    fprintf(stderr, "divsweep: %s\n", err);
    cJSON_Delete(root);
    return DS_EXIT_USAGE;
  }
  if (root && checks->whole && checks->whole(root, err, sizeof err)) {
    fprintf(stderr, "divsweep: %s: %s\n", path, err);
    cJSON_Delete(root);
    ds_spec_free(s);
    return DS_EXIT_USAGE;
  }
  cJSON_Delete(root);
  static const char *samplers[] = {"grid", "random", "lhs"};
  printf("%s: campaign %s, task %s: %lld trial%s (%lld configuration%s x %zu seed%s, sampler %s)\n", path, s->name,
         s->task, (long long)s->n_trials, s->n_trials == 1 ? "" : "s", (long long)s->n_configs,
         s->n_configs == 1 ? "" : "s", s->n_seeds, s->n_seeds == 1 ? "" : "s", samplers[s->sampler]);
  for (size_t a = 0; a < s->n_axes; a++) printf("  sweep %-14s %zu values\n", s->axes[a].name, s->axes[a].n);
  ds_trial_t t = {0};
  for (int64_t i = 0; i < s->n_trials && i < show; i++) {
    ds_spec_trial(s, i, &t);
    printf("  trial %lld  key %s  %s\n", (long long)i, t.key, t.params_json);
  }
  if (show > 0 && s->n_trials > show) printf("  ... %lld more\n", (long long)(s->n_trials - show));
  ds_trial_free(&t);
  ds_spec_free(s);
  return 0;
}

/* ---- status --------------------------------------------------------------------------- */

/* The number of trials of campaign cid in status; -1 after printing the error. */
static int64_t count_status(sqlite3 *db, const char *path, int64_t cid, const char *status) {
  sqlite3_stmt *st;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM trials WHERE campaign_id = ?1 AND status = ?2", -1, &st, NULL) !=
      SQLITE_OK) {
    db_fail(db, path, "table trials");
    return -1;
  }
  sqlite3_bind_int64(st, 1, cid);
  sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  else db_fail(db, path, "reading table trials");
  sqlite3_finalize(st);
  return n;
}

int ds_cli_status(int argc, char **argv) {
  const char *db_path = NULL, *campaign = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--campaign") && i + 1 < argc) campaign = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = 1;
    else {
      fprintf(stderr, "divsweep status: unknown argument %s\nusage: divsweep status --db FILE [--campaign NAME] [--json]\n", argv[i]);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path) {
    fprintf(stderr, "usage: divsweep status --db FILE [--campaign NAME] [--json]\n");
    return DS_EXIT_USAGE;
  }
  ds_store_t *s = ds_cli_open_reader(db_path);
  if (!s) return DS_EXIT_STORE;
  sqlite3 *db = ds_store_db(s);
  sqlite3_stmt *st;
  const char *sql = "SELECT c.campaign_id, c.name, c.task, c.status, c.n_trials,"
                    " (SELECT how_ended FROM runs r WHERE r.campaign_id = c.campaign_id ORDER BY run_id DESC LIMIT 1),"
                    " (SELECT pid FROM runs r WHERE r.campaign_id = c.campaign_id ORDER BY run_id DESC LIMIT 1),"
                    " (SELECT hosts FROM runs r WHERE r.campaign_id = c.campaign_id ORDER BY run_id DESC LIMIT 1),"
                    " (SELECT count(*) FROM runs r WHERE r.campaign_id = c.campaign_id)"
                    " FROM campaigns c WHERE ?1 IS NULL OR c.name = ?1 ORDER BY c.campaign_id";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "divsweep: %s: table campaigns: %s\n", db_path, sqlite3_errmsg(db));
    ds_store_close(s);
    return DS_EXIT_STORE;
  }
  if (campaign) sqlite3_bind_text(st, 1, campaign, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 1);
  int n = 0;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  if (json) printf("[");
  int step, bad = 0;
  while (!bad && (step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t cid = sqlite3_column_int64(st, 0), total = sqlite3_column_int64(st, 4);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    const char *status = (const char *)sqlite3_column_text(st, 3);
    const char *how = (const char *)sqlite3_column_text(st, 5);
    const char *hosts = (const char *)sqlite3_column_text(st, 7);
    int pid = sqlite3_column_int(st, 6);
    int64_t done = count_status(db, db_path, cid, "done");
    int64_t failed = done < 0 ? -1 : count_status(db, db_path, cid, "failed");
    int64_t running = failed < 0 ? -1 : count_status(db, db_path, cid, "running");
    if (running < 0) {
      bad = 1;
      break;
    }
    int64_t pending = total - done - failed - running;
    if (pending < 0) pending = 0;
    /* A run still marked running whose process is gone was killed: say so. */
    char state[64];
    snprintf(state, sizeof state, "%s", status ? status : "?");
    if (how && !strcmp(how, "running") && hosts && !strcmp(hosts, host) && pid > 0 && kill(pid, 0) != 0)
      snprintf(state, sizeof state, "killed (resume with the same command)");
    /* Recent throughput from the newest rows only: rows are appended as trials finish, so
     * trial_id order is finish order and the walk stops at the first row older than 10 s (or
     * after 50,000 rows).  A scan of the whole table took seconds at 10^6 trials. */
    double rate = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT finished_at FROM trials NOT INDEXED WHERE campaign_id = ?1 ORDER BY trial_id DESC"
                           " LIMIT 50000",
                           -1, &q, NULL) == SQLITE_OK) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec, oldest = now;
      int64_t k = 0;
      sqlite3_bind_int64(q, 1, cid);
      int qs;
      while ((qs = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 0) == SQLITE_NULL) continue; /* a running row */
        double f = sqlite3_column_double(q, 0);
        if (f < now - 10) break;
        k++;
        oldest = f;
      }
      if (qs != SQLITE_ROW && qs != SQLITE_DONE) bad = db_fail(db, db_path, "reading table trials");
      if (k > 1 && now - oldest > 0.05) rate = (double)k / (now - oldest);
      sqlite3_finalize(q);
    } else {
      bad = db_fail(db, db_path, "table trials");
    }
    if (bad) break;
    /* Not running: the campaign's own rate (trials done over the time of the runs that did
     * work), not the last run's, which is 0 after a rerun that found nothing to do. */
    if (strcmp(state, "running")) {
      sqlite3_stmt *rr;
      rate = 0;
      if (sqlite3_prepare_v2(db, "SELECT sum(trials_done), sum(ended_at - started_at) FROM runs"
                             " WHERE campaign_id = ?1 AND trials_done > 0 AND ended_at > started_at", -1, &rr, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(rr, 1, cid);
        int rs = sqlite3_step(rr);
        if (rs == SQLITE_ROW && sqlite3_column_double(rr, 1) > 0)
          rate = sqlite3_column_double(rr, 0) / sqlite3_column_double(rr, 1);
        else if (rs != SQLITE_ROW && rs != SQLITE_DONE)
          bad = db_fail(db, db_path, "reading table runs");
        sqlite3_finalize(rr);
      } else {
        bad = db_fail(db, db_path, "table runs");
      }
      if (bad) break;
    }
    if (json) {
      printf("%s\n {\"campaign\": ", n ? "," : "");
      json_str(stdout, name);
      printf(", \"task\": ");
      json_str(stdout, (const char *)sqlite3_column_text(st, 2));
      printf(", \"status\": ");
      json_str(stdout, state);
      printf(", \"trials\": %lld, \"done\": %lld, \"failed\": %lld, \"running\": %lld, \"pending\": %lld,"
             " \"runs\": %d, \"trials_per_s\": %.1f",
             (long long)total, (long long)done, (long long)failed, (long long)running, (long long)pending,
             sqlite3_column_int(st, 8), rate);
    } else {
      printf("%s%s (%s): %s\n  trials %lld: done %lld, failed %lld, running %lld, pending %lld  (%d run%s)\n",
             n ? "\n" : "", name, (const char *)sqlite3_column_text(st, 2), state, (long long)total, (long long)done,
             (long long)failed, (long long)running, (long long)pending, sqlite3_column_int(st, 8),
             sqlite3_column_int(st, 8) == 1 ? "" : "s");
      if (rate > 0 && !strcmp(state, "running")) {
        long eta = (long)((double)(pending + running) / rate);
        printf("  %.0f trials/s over the last 10 s, ETA %ld:%02ld:%02ld\n", rate, eta / 3600, eta / 60 % 60, eta % 60);
      }
    }
    /* Fronts and hypervolumes, when the campaign has objectives (table hypervolume, one row per
     * group, kept by coordinator/fronts.c; front_size counts configurations in per-config mode). */
    sqlite3_stmt *fr;
    int nf = 0;
    if (sqlite3_prepare_v2(db, "SELECT grp, front_size, n_points, value, over, n_trials FROM hypervolume"
                           " WHERE campaign_id = ?1 ORDER BY grp = 'all' DESC, grp", -1, &fr, NULL) == SQLITE_OK) {
      sqlite3_bind_int64(fr, 1, cid);
      if (json) printf(", \"fronts\": [");
      int fs;
      while ((fs = sqlite3_step(fr)) == SQLITE_ROW) {
        const char *grp = (const char *)sqlite3_column_text(fr, 0);
        const char *over = sqlite3_column_text(fr, 4) ? (const char *)sqlite3_column_text(fr, 4) : "trial";
        if (json) {
          printf("%s{\"group\": ", nf ? ", " : "");
          json_str(stdout, grp);
          printf(", \"over\": ");
          json_str(stdout, over);
          printf(", \"front_size\": %d, \"ranked\": %d, \"trials\": %d, \"hypervolume\": ", sqlite3_column_int(fr, 1),
                 sqlite3_column_int(fr, 2), sqlite3_column_int(fr, 5));
          if (sqlite3_column_type(fr, 3) == SQLITE_NULL) printf("null}");
          else printf("%.17g}", sqlite3_column_double(fr, 3));
        } else {
          printf("  front %-24s %d of %d %s non-dominated", grp, sqlite3_column_int(fr, 1), sqlite3_column_int(fr, 2),
                 strcmp(over, "config") ? "trials" : "configurations");
          if (sqlite3_column_type(fr, 3) != SQLITE_NULL) printf(", hypervolume %.6g", sqlite3_column_double(fr, 3));
          printf("\n");
        }
        nf++;
      }
      if (fs != SQLITE_DONE) bad = db_fail(db, db_path, "reading table hypervolume");
      if (json) printf("]");
      sqlite3_finalize(fr);
    } else {
      bad = db_fail(db, db_path, "table hypervolume");
    }
    if (json) printf("}");
    n++;
  }
  /* A failing step is an error, never "no more rows": a zeroed page of table campaigns once
   * printed "no campaigns" and exit 0. */
  if (!bad && step != SQLITE_DONE) bad = db_fail(db, db_path, "reading tables campaigns and runs");
  if (json && !bad) printf("%s]\n", n ? "\n" : "");
  sqlite3_finalize(st);
  ds_store_close(s);
  if (bad) return DS_EXIT_STORE;
  if (n == 0 && campaign) {
    fprintf(stderr, "divsweep: %s: no campaign named %s (table campaigns)\n", db_path, campaign);
    return DS_EXIT_USAGE;
  }
  if (n == 0 && !json) printf("%s: no campaigns\n", db_path);
  return 0;
}

/* ---- query ---------------------------------------------------------------------------- */

int ds_cli_query(int argc, char **argv) {
  const char *db_path = NULL, *sql = NULL;
  int fmt = DS_FMT_TABLE;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
      if ((fmt = ds_cli_format(argv[++i])) < 0) {
        fprintf(stderr, "divsweep query: --format must be table, csv or json\n");
        return DS_EXIT_USAGE;
      }
    } else if (!sql && argv[i][0] != '-') sql = argv[i];
    else {
      fprintf(stderr, "divsweep query: unexpected argument %s\n", argv[i]);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path || !sql) {
    fprintf(stderr, "usage: divsweep query --db FILE \"SQL\" [--format table|csv|json]\n");
    return DS_EXIT_USAGE;
  }
  ds_store_t *s = ds_cli_open_reader(db_path);
  if (!s) return DS_EXIT_STORE;
  sqlite3 *db = ds_store_db(s);
  int code = 0;
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
      fprintf(stderr, "divsweep: query: %s\n", sqlite3_errmsg(db));
      code = DS_EXIT_USAGE;
      break;
    }
    if (!st) break; /* trailing whitespace or comment */
    if (!sqlite3_stmt_readonly(st)) {
      fprintf(stderr, "divsweep: query: the connection is read-only; only SELECT-like statements are allowed\n");
      sqlite3_finalize(st);
      code = DS_EXIT_USAGE;
      break;
    }
    int prc = ds_cli_print_stmt(db, st, (ds_format_t)fmt, stdout);
    if (prc) code = prc == DS_EDAMAGED ? DS_EXIT_STORE : DS_EXIT_USAGE;
    sqlite3_finalize(st);
  }
  ds_store_close(s);
  return code;
}
