/* bench_store.c — the store writer alone: how many finished noop trials per second
 * ds_store_put_result() commits on one core, with the real schema, real trial keys (hashes, so
 * random index order) and the coordinator's batching.  It is the ceiling of a single coordinator.
 * Usage: bench_store SPEC.json DB [N] [BATCH]   (prints trials/s and bytes per trial) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds_clock.h"
#include "ds_error.h"
#include "ds_spec.h"
#include "ds_store.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_store SPEC.json DB [N] [BATCH]\n");
    return 1;
  }
  char err[1024];
  ds_spec_t *spec;
  if (ds_spec_load(argv[1], NULL, &spec, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int64_t n = argc > 3 ? atoll(argv[3]) : spec->n_trials;
  int64_t batch = argc > 4 ? atoll(argv[4]) : 20000;
  if (n > spec->n_trials) n = spec->n_trials;
  unlink(argv[2]);
  ds_store_t *s;
  if (ds_store_open(argv[2], DS_STORE_CREATE, &s, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  int64_t cid;
  ds_store_begin(s);
  /* DS_KEY_SCHEME=1: 32-hex TEXT keys (schema 2's); DS_BENCH_NO_INDEX=1: without the unique key
   * index (schema 2 dropped it while a run appended).  Both only to measure the old layouts. */
  const char *ks = getenv("DS_KEY_SCHEME");
  spec->key_scheme = ks && atoi(ks) == 1 ? DS_KEYS_FNV : DS_KEYS_XXH3;
  ds_store_campaign_create(s, spec, &cid);
  const char *noidx = getenv("DS_BENCH_NO_INDEX");
  if (noidx && atoi(noidx)) sqlite3_exec(ds_store_db(s), "DROP INDEX trials_key", NULL, NULL, NULL);
  ds_store_checkpointer(s, 1);
  ds_store_commit(s);
  ds_trial_t t = {0};
  ds_result_t r = {0};
  ds_run_info_t info = {1, "host", 0, 0, 1};
  double t0 = ds_now_s(), gen = 0;
  int rc = 0;
  for (int64_t i = 0; i < n && !rc; i++) {
    if (i % batch == 0) rc = ds_store_commit(s) || ds_store_begin(s);
    double g0 = ds_now_s();
    ds_spec_trial(spec, i, &t);
    gen += ds_now_s() - g0;
    ds_result_reset(&r);
    r.idx = i;
    r.attempt = 1;
    r.wall_s = 1e-6;
    ds_result_metric(&r, "value", 0.5 + (double)i);
    info.started_at = info.finished_at = 1.7e9 + (double)i;
    rc = ds_store_put_result(s, cid, &t, &r, &info);
  }
  rc = rc || ds_store_commit(s);
  if (noidx && atoi(noidx))
    rc = rc || sqlite3_exec(ds_store_db(s), "CREATE UNIQUE INDEX trials_key ON trials(campaign_id, trial_key)", NULL,
                            NULL, NULL) != SQLITE_OK;
  double dt = ds_now_s() - t0;
  /* The campaign view (v_<name>), as a run leaves it, for the aggregate queries of the layout
   * benchmark; not timed. */
  int added = 0;
  if (!rc && !ds_store_begin(s))
    rc = ds_store_note_metric(s, cid, "value", &added) || ds_store_update_view(s, cid, spec->name, spec) ||
         ds_store_commit(s);
  if (rc) fprintf(stderr, "%s\n", ds_store_errmsg(s));
  ds_store_close(s);
  struct stat st;
  stat(argv[2], &st);
  printf("store trials=%lld batch=%lld seconds=%.3f trials_per_s=%.0f generate_s=%.3f bytes_per_trial=%.0f\n",
         (long long)n, (long long)batch, dt, (double)n / dt, gen, (double)st.st_size / (double)n);
  ds_trial_free(&t);
  ds_result_free(&r);
  ds_spec_free(spec);
  return rc ? 2 : 0;
}
