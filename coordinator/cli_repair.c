/* cli_repair.c — `divsweep repair --db FILE [--campaign NAME] [--apply]`.
 *
 * Puts a database that an older divsweep (or a killed run) left in a state divsweep never writes
 * back into one that `run`/`resume` can finish.  Dry run by default: a repair deletes rows, so the
 * safe default is to show what it would do and change nothing; `--apply` makes the same changes.
 *
 *   1. PRAGMA quick_check.  A file SQLite finds damaged is not repaired here — rewriting a file
 *      with broken pages could lose more — it is reported with the remedy (a backup, or
 *      `sqlite3 FILE .recover`), unchanged, exit 2.
 *   2. One transaction (BEGIN IMMEDIATE, after the same lock a run takes, so never beside a live
 *      run): migrate an older schema; per campaign keep one row per trial key (a done row with
 *      metrics, else the latest finished, else the latest) and delete the others with their
 *      params/metrics/curves/pareto rows; renumber idx to the stored spec's canonical order
 *      (trials whose key is not in the spec are kept, numbered −1, and listed); trials left
 *      `running` become `pending`; the campaign status follows its trials; views are rebuilt.
 *      Then runs rows left `running` become `killed` and the missing indexes (trials_key first)
 *      are built.
 *   3. Dry run: roll back (and never checkpoint on close, so the file's bytes do not change) and
 *      exit 5 when there was something to change; --apply: commit, exit 0.
 *
 * Every step reports each change as it makes it (ds_repair_log_t), so the dry run's list is what
 * --apply does, not a separate prediction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_cli.h"
#include "ds_error.h"
#include "ds_store.h"

typedef struct repair_out {
  const char *campaign; /* prefix of each line; NULL for file-wide changes */
} repair_out_t;

static void print_line(void *arg, const char *text) {
  const repair_out_t *o = arg;
  if (o->campaign) printf("  campaign %s: %s\n", o->campaign, text);
  else printf("  %s\n", text);
}

static const char *REMEDY =
    "Nothing was changed.  Restore the file from a backup, or copy out what SQLite can still read:"
    " `sqlite3 %s .recover | sqlite3 recovered.db`, then run `divsweep repair --db recovered.db`.\n";

/* Repairs one campaign inside the open transaction. */
static int repair_campaign(ds_store_t *s, const char *name, ds_repair_log_t *log) {
  ds_campaign_row_t row;
  int rc = ds_store_campaign_get(s, name, &row);
  if (rc) return rc;
  ds_spec_t *spec = NULL;
  char err[512] = "", file[300];
  snprintf(file, sizeof file, "campaigns[%s].spec_json", row.name);
  if (ds_spec_parse(row.spec_json, strlen(row.spec_json), file, NULL, &spec, err, sizeof err) == 0)
    spec->key_scheme = row.key_scheme == DS_KEYS_FNV ? DS_KEYS_FNV : DS_KEYS_XXH3;
  else
    fprintf(stderr, "divsweep repair: %s; its trials keep their numbers and its view is left as it is\n", err);
  int64_t n = 0, strays = 0;
  rc = ds_store_repair_duplicates(s, row.id, log, &n);
  if (!rc && spec) rc = ds_store_repair_order(s, &row, spec, log, &n, &strays);
  if (!rc) rc = ds_store_repair_unfinished(s, row.id, log, &n);
  if (!rc) rc = ds_store_repair_campaign_status(s, &row, spec ? spec->n_trials : row.n_trials, log);
  if (!rc && spec) rc = ds_store_repair_view(s, &row, spec, log);
  if (!rc && strays)
    printf("  campaign %s: %lld trials are not trials of the stored spec; they are kept (idx -1, left out of every"
           " count and of resume); to delete them: sqlite3 FILE \"DELETE FROM trials WHERE campaign_id = %lld AND"
           " idx = -1\" (with their params/metrics rows)\n",
           row.name, (long long)strays, (long long)row.id);
  ds_spec_free(spec);
  free(row.spec_json);
  return rc;
}

int ds_cli_repair(int argc, char **argv) {
  const char *db_path = NULL, *campaign = NULL;
  int apply = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--campaign") && i + 1 < argc) campaign = argv[++i];
    else if (!strcmp(argv[i], "--apply")) apply = 1;
    else if (!strcmp(argv[i], "--dry-run")) apply = 0;
    else {
      fprintf(stderr, "divsweep repair: unexpected argument %s\nusage: divsweep repair --db FILE [--campaign NAME] [--apply]\n",
              argv[i]);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path) {
    fprintf(stderr, "usage: divsweep repair --db FILE [--campaign NAME] [--apply]\n");
    return DS_EXIT_USAGE;
  }
  char err[1024];
  ds_store_t *s = NULL;
  int rc = ds_store_open(db_path, DS_STORE_REPAIR, &s, err, sizeof err);
  if (rc) {
    fprintf(stderr, "divsweep repair: %s\n", err);
    if (strstr(err, "corrupt") || strstr(err, "malformed")) fprintf(stderr, REMEDY, db_path);
    return DS_EXIT_STORE;
  }
  sqlite3 *db = ds_store_db(s);
  /* A dry run leaves the file's bytes as they were: a WAL that a killed run left behind is not
   * checkpointed into it on close (an empty or absent one is simply removed, as usual). */
  char wal[4200];
  struct stat wst;
  snprintf(wal, sizeof wal, "%s-wal", db_path);
  if (!apply && stat(wal, &wst) == 0 && wst.st_size > 0) sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  char damage[1024];
  if (ds_store_quick_check(s, damage, sizeof damage)) {
    fprintf(stderr, "divsweep repair: %s: this database is damaged; SQLite's integrity check reports: %s\n", db_path,
            damage);
    fprintf(stderr, REMEDY, db_path);
    ds_store_close(s);
    return DS_EXIT_STORE;
  }
  printf("divsweep repair: %s%s\n", db_path, apply ? "" : " (dry run: nothing will be changed)");
  repair_out_t out = {NULL};
  ds_repair_log_t log = {print_line, &out, 0};
  int code = DS_EXIT_STORE;
  char **names = NULL;
  size_t n_names = 0;
  if ((rc = ds_store_repair_begin(s, &log))) goto store_fail;
  /* The campaigns to repair: all of them, or the one named. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, campaign ? "SELECT name FROM campaigns WHERE name = ?1" : "SELECT name FROM campaigns ORDER BY campaign_id",
                         -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, sizeof err, "%s: table campaigns: %s", db_path, sqlite3_errmsg(db));
    goto fail;
  }
  if (campaign) sqlite3_bind_text(st, 1, campaign, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    char **v = realloc(names, (n_names + 1) * sizeof *names);
    if (!v || !(v[n_names] = strdup((const char *)sqlite3_column_text(st, 0)))) {
      names = v ? v : names;
      sqlite3_finalize(st);
      snprintf(err, sizeof err, "out of memory");
      goto fail;
    }
    names = v;
    n_names++;
  }
  if (step != SQLITE_DONE) {
    snprintf(err, sizeof err, "%s: reading table campaigns: %s", db_path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    goto fail;
  }
  sqlite3_finalize(st);
  if (campaign && !n_names) {
    snprintf(err, sizeof err, "%s: no campaign named %s (table campaigns)", db_path, campaign);
    code = DS_EXIT_USAGE;
    goto fail;
  }
  for (size_t i = 0; i < n_names; i++) {
    out.campaign = names[i];
    if ((rc = repair_campaign(s, names[i], &log))) goto store_fail;
  }
  out.campaign = NULL;
  if ((rc = ds_store_repair_runs(s, &log))) goto store_fail;
  if ((rc = ds_store_repair_indexes(s, &log))) goto store_fail;
  if (log.changes == 0) {
    ds_store_rollback(s);
    printf("divsweep repair: nothing to repair\n");
    code = DS_EXIT_OK;
    goto done;
  }
  if (!apply) {
    ds_store_rollback(s);
    printf("divsweep repair: dry run: %lld change%s listed above, none made; make them with: divsweep repair --db %s%s%s --apply\n",
           (long long)log.changes, log.changes == 1 ? "" : "s", db_path, campaign ? " --campaign " : "",
           campaign ? campaign : "");
    code = DS_EXIT_REPAIR_NEEDED;
    goto done;
  }
  if ((rc = ds_store_commit(s))) goto store_fail;
  printf("divsweep repair: %lld change%s made (one transaction); continue with: divsweep resume --db %s\n",
         (long long)log.changes, log.changes == 1 ? "" : "s", db_path);
  code = DS_EXIT_OK;
  goto done;
store_fail:
  snprintf(err, sizeof err, "%s", ds_store_errmsg(s));
fail:
  ds_store_rollback(s);
  fprintf(stderr, "divsweep repair: %s\n", err);
  if (strstr(err, "malformed")) fprintf(stderr, REMEDY, db_path);
  else fprintf(stderr, "divsweep repair: nothing was changed\n");
done:
  for (size_t i = 0; i < n_names; i++) free(names[i]);
  free(names);
  ds_store_close(s);
  return code;
}
