/* test_store.c — the SQLite store: schema version, campaigns, batched writes, resume bitmap, and
 * refusals that leave the file untouched (read-only, not SQLite, newer schema, second writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_spec.h"
#include "ds_store.h"
#include "ds_test.h"

static char dir[256];

static const char *path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static ds_spec_t *spec(const char *json) {
  ds_spec_t *s = NULL;
  char err[256];
  ds_spec_parse(json, strlen(json), "t.json", NULL, &s, err, sizeof err);
  return s;
}

static int64_t scalar(ds_store_t *s, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  if (sqlite3_prepare_v2(ds_store_db(s), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void a_new_store_has_the_schema_version_and_survives_reopening(void) {
  ds_store_t *s;
  char err[512];
  ASSERT_EQ_INT(ds_store_open(path("a.db"), DS_STORE_CREATE, &s, err, sizeof err), 0);
  ASSERT_EQ_INT(scalar(s, "PRAGMA user_version"), DS_SCHEMA_VERSION);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM sqlite_master WHERE name IN ('campaigns','trials','params','metrics',"
                          "'curves','pareto','hypervolume','runs')"), 8);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(ds_store_db(s), "PRAGMA journal_mode", -1, &st, NULL);
  sqlite3_step(st);
  ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  ds_store_close(s);
  ASSERT_EQ_INT(ds_store_open(path("a.db"), DS_STORE_CREATE, &s, err, sizeof err), 0);
  ds_store_close(s);
}

static void results_written_in_batches_give_the_resume_bitmap(void) {
  ds_store_t *s;
  char err[512];
  ds_spec_t *sp = spec("{\"name\":\"c\",\"task\":\"noop\",\"sweep\":{\"x\":{\"linear\":[0,1],\"points\":10}},\"seeds\":2}");
  ASSERT_TRUE(sp != NULL);
  ASSERT_EQ_INT(ds_store_open(path("b.db"), DS_STORE_CREATE, &s, err, sizeof err), 0);
  int64_t cid;
  ASSERT_EQ_INT(ds_store_begin(s), 0);
  ASSERT_EQ_INT(ds_store_campaign_create(s, sp, &cid), 0);
  ds_trial_t t = {0};
  ds_result_t r = {0};
  ds_run_info_t info = {1, "h", 1.0, 2.0, 1, 0};
  for (int64_t i = 0; i < sp->n_trials; i += 2) { /* even trials done, trial 3 failed, 5 running */
    ds_spec_trial(sp, i, &t);
    ds_result_reset(&r);
    ds_result_metric(&r, "value", (double)i);
    ASSERT_EQ_INT(ds_store_put_result(s, cid, &t, &r, &info), 0);
  }
  ds_spec_trial(sp, 3, &t);
  ds_result_reset(&r);
  r.status = DS_ETASK;
  strcpy(r.error, "boom");
  ASSERT_EQ_INT(ds_store_put_result(s, cid, &t, &r, &info), 0);
  ds_spec_trial(sp, 5, &t);
  ASSERT_EQ_INT(ds_store_put_running(s, cid, &t, &info), 0);
  ASSERT_EQ_INT(ds_store_commit(s), 0);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials"), 12);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM params"), 11); /* a running row has no params yet */
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM metrics"), 10); /* none for the failed trial */
  uint8_t bits[4] = {0};
  int64_t done, failed, requeued;
  /* The running trial 5 finishing later in the same run is updated in place: same trial_id. */
  int64_t id5 = scalar(s, "SELECT trial_id FROM trials WHERE idx = 5");
  ds_store_begin(s);
  ds_result_reset(&r);
  ds_result_metric(&r, "value", 5);
  info.has_row = 1;
  ASSERT_EQ_INT(ds_store_put_result(s, cid, &t, &r, &info), 0);
  info.has_row = 0;
  ds_store_commit(s);
  ASSERT_EQ_INT(scalar(s, "SELECT trial_id FROM trials WHERE idx = 5 AND status = 'done'"), id5);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials"), 12);
  /* A running row left by a killed run is deleted at start-up (re-queued: it holds no result). */
  ds_spec_trial(sp, 7, &t);
  ds_store_begin(s);
  ASSERT_EQ_INT(ds_store_put_running(s, cid, &t, &info), 0);
  ds_store_commit(s);
  ASSERT_EQ_INT(ds_store_requeue_running(s, cid, &requeued), 0);
  ASSERT_EQ_INT(requeued, 1);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials WHERE idx = 7"), 0);
  ASSERT_EQ_INT(ds_store_load_finished(s, cid, sp->n_trials, bits, &done, &failed), 0);
  ASSERT_EQ_INT(done, 11);
  ASSERT_EQ_INT(failed, 1);
  ASSERT_EQ_INT(bits[0], 0x7d); /* trials 0,2,3,4,5,6 */
  /* A window of the bitmap: trials 4..11 */
  uint8_t win[1] = {0};
  ASSERT_EQ_INT(ds_store_load_finished_range(s, cid, 4, 12, win), 0);
  ASSERT_EQ_INT(win[0], 0x57); /* 4,5,6,8,10 */
  /* The key index is always there, and a second row for a key is refused at write time; the
   * batch rolls back and leaves what was committed. */
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM sqlite_master WHERE name = 'trials_key'"), 1);
  ASSERT_EQ_INT(ds_store_check_keys(s, cid), 0);
  ds_store_begin(s);
  ds_spec_trial(sp, 7, &t);
  ASSERT_EQ_INT(ds_store_put_result(s, cid, &t, &r, &info), 0); /* trial 7 (re-queued): a first write */
  ds_spec_trial(sp, 5, &t);
  ASSERT_TRUE(ds_store_put_result(s, cid, &t, &r, &info) == DS_ESTORE); /* trial 5 again */
  ASSERT_TRUE(strstr(ds_store_errmsg(s), "refused") != NULL);
  ASSERT_EQ_INT(ds_store_rollback(s), 0);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials WHERE idx = 7"), 0); /* rolled back with its batch */
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials"), 12);
  ASSERT_EQ_INT(scalar(s, "SELECT count(DISTINCT trial_key) FROM trials"), 12);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM trials WHERE typeof(trial_key) = 'blob' AND length(trial_key) = 16"), 12);
  /* The wide view has a column per parameter and per metric. */
  int added;
  ds_store_note_metric(s, cid, "value", &added);
  ASSERT_EQ_INT(added, 1);
  ASSERT_EQ_INT(ds_store_update_view(s, cid, "c", sp), 0);
  ASSERT_EQ_INT(scalar(s, "SELECT count(*) FROM v_c WHERE x IS NOT NULL AND value IS NOT NULL"), 11);
  ds_trial_free(&t);
  ds_result_free(&r);
  ds_store_close(s);
  ds_spec_free(sp);
}

static void refusals_name_the_problem_and_change_nothing(void) {
  ds_store_t *s = NULL;
  char err[512];
  /* missing directory */
  ASSERT_TRUE(ds_store_open(path("nope/x.db"), DS_STORE_CREATE, &s, err, sizeof err) != 0);
  ASSERT_CONTAINS(err, "does not exist");
  /* not SQLite */
  FILE *f = fopen(path("text.db"), "w");
  fputs("hello, this is not a database, not at all......\n", f);
  fclose(f);
  ASSERT_EQ_INT(ds_store_open(path("text.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_ESTORE);
  ASSERT_CONTAINS(err, "not a SQLite database");
  struct stat st;
  stat(path("text.db"), &st);
  ASSERT_EQ_INT(st.st_size, 48);
  /* newer schema */
  sqlite3 *db;
  sqlite3_open(path("new.db"), &db);
  sqlite3_exec(db, "PRAGMA user_version = 99; CREATE TABLE campaigns(x)", NULL, NULL, NULL);
  sqlite3_close(db);
  ASSERT_EQ_INT(ds_store_open(path("new.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_ESCHEMA);
  ASSERT_CONTAINS(err, "newer than this divsweep");
  /* someone else's SQLite database */
  sqlite3_open(path("other.db"), &db);
  sqlite3_exec(db, "CREATE TABLE stuff(x)", NULL, NULL, NULL);
  sqlite3_close(db);
  ASSERT_EQ_INT(ds_store_open(path("other.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_ESTORE);
  ASSERT_CONTAINS(err, "not a divsweep store");
  /* read-only file (skipped as root, who can write anyway: checked through access()) */
  ds_store_t *w;
  ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_CREATE, &w, err, sizeof err), 0);
  ds_store_close(w);
  chmod(path("ro.db"), 0444);
  if (access(path("ro.db"), W_OK) != 0) {
    ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_ESTORE);
    ASSERT_CONTAINS(err, "read-only");
  }
  chmod(path("ro.db"), 0644);
  /* a second writer */
  ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_CREATE, &w, err, sizeof err), 0);
  ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_EBUSY);
  ASSERT_CONTAINS(err, "another divsweep run");
  /* but readers are welcome, and cannot write */
  ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_READONLY, &s, err, sizeof err), 0);
  if (s) {
    ASSERT_TRUE(sqlite3_exec(ds_store_db(s), "DELETE FROM campaigns", NULL, NULL, NULL) != SQLITE_OK);
    ds_store_close(s);
  }
  ds_store_close(w);
  /* another process (here: another connection) holding SQLite's write lock */
  sqlite3_open(path("ro.db"), &db);
  sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO runs(campaign_id, started_at) VALUES(1, 0)", NULL, NULL, NULL);
  ASSERT_EQ_INT(ds_store_open(path("ro.db"), DS_STORE_CREATE, &s, err, sizeof err), DS_EBUSY);
  ASSERT_CONTAINS(err, "locked");
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ds_test_store_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  RUN_TEST(a_new_store_has_the_schema_version_and_survives_reopening);
  RUN_TEST(results_written_in_batches_give_the_resume_bitmap);
  RUN_TEST(refusals_name_the_problem_and_change_nothing);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) return 1;
  return ds_test_exit();
}
