/* store_rounds.c — the `proposals` table of adaptive rounds (ds_rounds.h).  Kept out of store.c, which
 * is being refactored; it only uses the store's connection.  Idempotent writes make a resumed run that
 * recomputes a round (from the same spec, seed and committed results) harmless and checked. */
#include "ds_rounds.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "ds_error.h"

int ds_rounds_init(ds_store_t *s, char *err, size_t err_len) {
  char *msg = NULL;
  int rc = sqlite3_exec(ds_store_db(s),
                        "CREATE TABLE IF NOT EXISTS proposals(campaign TEXT NOT NULL, idx INTEGER NOT NULL,"
                        " round INTEGER NOT NULL, why TEXT NOT NULL, budget REAL, params_json TEXT NOT NULL,"
                        " PRIMARY KEY(campaign, idx))",
                        NULL, NULL, &msg);
  if (rc != SQLITE_OK) snprintf(err, err_len, "create proposals: %s", msg ? msg : "?");
  sqlite3_free(msg);
  return rc == SQLITE_OK ? 0 : DS_ESTORE;
}

int ds_rounds_put(ds_store_t *s, const char *campaign, const ds_proposal_t *p, size_t n, char *err, size_t err_len) {
  sqlite3 *db = ds_store_db(s);
  sqlite3_stmt *ins = NULL, *get = NULL;
  int rc = DS_ESTORE;
  if (sqlite3_exec(db, "SAVEPOINT rounds_put", NULL, NULL, NULL) != SQLITE_OK) goto fail;
  if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO proposals VALUES(?1,?2,?3,?4,?5,?6)", -1, &ins, NULL) ||
      sqlite3_prepare_v2(db, "SELECT round, why, budget IS ?3, params_json FROM proposals WHERE campaign=?1 AND idx=?2",
                         -1, &get, NULL))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_text(ins, 1, campaign, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, p[i].idx);
    sqlite3_bind_int64(ins, 3, p[i].round);
    sqlite3_bind_text(ins, 4, p[i].why, -1, SQLITE_STATIC);
    if (isnan(p[i].budget)) sqlite3_bind_null(ins, 5); else sqlite3_bind_double(ins, 5, p[i].budget);
    sqlite3_bind_text(ins, 6, p[i].params, -1, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) goto fail;
    sqlite3_reset(ins);
    if (sqlite3_changes(db) == 0) {
      sqlite3_bind_text(get, 1, campaign, -1, SQLITE_STATIC);
      sqlite3_bind_int64(get, 2, p[i].idx);
      if (isnan(p[i].budget)) sqlite3_bind_null(get, 3); else sqlite3_bind_double(get, 3, p[i].budget);
      int same = sqlite3_step(get) == SQLITE_ROW && sqlite3_column_int64(get, 0) == p[i].round &&
                 !strcmp((const char *)sqlite3_column_text(get, 1), p[i].why) && sqlite3_column_int(get, 2) &&
                 !strcmp((const char *)sqlite3_column_text(get, 3), p[i].params);
      sqlite3_reset(get);
      if (!same) { rc = DS_EDAMAGED; snprintf(err, err_len, "proposal %lld differs from the stored one", (long long)p[i].idx); goto fail; }
    }
  }
  sqlite3_finalize(ins);
  sqlite3_finalize(get);
  return sqlite3_exec(db, "RELEASE rounds_put", NULL, NULL, NULL) == SQLITE_OK ? 0 : DS_ESTORE;
fail:
  if (rc == DS_ESTORE) snprintf(err, err_len, "proposals: %s", sqlite3_errmsg(db));
  sqlite3_finalize(ins);
  sqlite3_finalize(get);
  sqlite3_exec(db, "ROLLBACK TO rounds_put; RELEASE rounds_put", NULL, NULL, NULL);
  return rc;
}

int ds_rounds_count(ds_store_t *s, const char *campaign, int64_t round, int64_t *n_out) {
  sqlite3_stmt *st = NULL;
  *n_out = 0;
  if (sqlite3_prepare_v2(ds_store_db(s), "SELECT count(*) FROM proposals WHERE campaign=?1 AND round=?2", -1, &st, NULL)) return DS_ESTORE;
  sqlite3_bind_text(st, 1, campaign, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, round);
  int ok = sqlite3_step(st) == SQLITE_ROW;
  if (ok) *n_out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return ok ? 0 : DS_ESTORE;
}
