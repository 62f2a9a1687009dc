/* ds_store.h — the SQLite store (DESIGN.md §4).  Only the coordinator writes; readers use
 * ds_store_open(..., DS_STORE_READONLY).
 *
 * One file in WAL mode.  PRAGMA user_version is the schema version; migrations are forward-only
 * and a database from a newer divsweep is refused untouched.  Writes are batched: the caller
 * brackets many ds_store_put_*() calls with ds_store_begin()/ds_store_commit(), committing at
 * least every ~200 ms, so a kill loses at most the uncommitted in-flight results.
 *
 * Trials are written once, when they finish (done or permanently failed), with a plain INSERT.  A
 * trial that has been running for a while is also written as `running` (cheap: only slow trials),
 * so that `status` shows it; the caller remembers that it has a row (ds_run_info_t.has_row) and
 * its final write then updates it in place.  Start-up deletes unfinished rows (re-queueing them).
 *
 * Trial keys are unique per campaign, checked by SQLite on every write (the unique index
 * trials_key is permanent from schema 3): a write of a key that is already there fails, and the
 * caller rolls its batch back.  See store.c.
 *
 * Not thread-safe: one thread owns a ds_store_t.
 */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "ds_spec.h"
#include "ds_wire.h"
#include "ds_launch.h"

#define DS_SCHEMA_VERSION 4

typedef struct ds_store ds_store_t;

/* DS_STORE_REPAIR: a writer (same lock and refusals) that neither migrates nor switches the
 * journal mode nor prepares the trial-writing statements, for `divsweep repair`, which checks the
 * file before anything is written and migrates inside its own transaction (ds_store_repair_begin). */
/* DS_STORE_CHECK: before anything is written, check an existing database (ds_store_check) and
 * refuse a damaged one with DS_ESTORE and the damaged-database hint (`run`, `resume`). */
enum { DS_STORE_READONLY = 1, DS_STORE_CREATE = 2, DS_STORE_REPAIR = 4, DS_STORE_CHECK = 8 };

/* What every damaged-database message ends with ("%s" is the database path). */
#define DS_STORE_DAMAGED_HINT "this database is damaged; run `divsweep repair --db %s` or restore from a backup"

/* Cheap integrity check of an open store: PRAGMA quick_check of the whole file when it is at most
 * 64 MiB (~0.25 s measured at 60 MB), else quick_check of the small tables a run trusts
 * (campaigns, runs, metric_names) and a read of the first and last rows of the large ones
 * (trials, params, metrics, curves), which walks every root and rightmost page a run writes
 * into.  0, or DS_ESTORE with "<path>: <table or check>: <what>; " DS_STORE_DAMAGED_HINT in
 * ds_store_errmsg(s). */
int ds_store_check(ds_store_t *s);

/* Non-zero when SQLite's extended result code ec means the file itself is bad (corrupt, not a
 * database, an I/O error reading it), as opposed to a wrong statement. */
int ds_store_code_is_damage(int ec);

/* Opens (and with DS_STORE_CREATE creates and migrates) the store at path.  Refuses, with one line
 * in err and nothing changed: a missing directory, a read-only file or directory (for writing), a
 * file that is not SQLite, a SQLite file that is not a divsweep store, a newer schema, and a
 * database another process holds a write lock on.  Returns 0, DS_ESTORE, DS_ESCHEMA or DS_EBUSY;
 * *out is NULL on failure. */
int ds_store_open(const char *path, int flags, ds_store_t **out, char *err, size_t err_len);
/* Opens a second, read-only connection to the database of an open store, for another thread of the
 * same process.  (Never ds_store_open a file this process already has open: its checks would
 * release the other connection's locks.)  Close it with ds_store_close before the writer. */
int ds_store_open_reader(ds_store_t *writer, ds_store_t **out);
void ds_store_close(ds_store_t *s);
/* A line a reader should show the user about how the file was opened ("" when nothing to say):
 * a read-only store on a read-only file system without its -shm file is opened with
 * immutable=1, and this says so.  Owned by s. */
const char *ds_store_note(ds_store_t *s);
sqlite3 *ds_store_db(ds_store_t *s);
/* The last error, with the table it concerns (owned by s). */
const char *ds_store_errmsg(ds_store_t *s);

typedef struct ds_campaign_row {
  int64_t id;
  char name[128];
  char task[32];
  char status[16];
  char spec_hash[DS_KEY_LEN + 1];
  char *spec_json;   /* malloc'd; free it */
  int64_t n_trials;
  int key_scheme;    /* DS_KEYS_* of its trial keys */
  int trial_order;   /* 2: trials.idx follows the canonical order; 1: an older divsweep's (reindex) */
} ds_campaign_row_t;

/* DS_ENOTFOUND when no campaign has that name. */
int ds_store_campaign_get(ds_store_t *s, const char *name, ds_campaign_row_t *out);
int ds_store_campaign_create(ds_store_t *s, const ds_spec_t *spec, int64_t *id);
/* Moves a campaign aside under a new name (for --fresh): results are kept, never deleted. */
int ds_store_campaign_rename(ds_store_t *s, int64_t id, const char *new_name);
/* Replaces the spec of a campaign (for --extend) after checking that every trial of old (its
 * stored spec, keyed under the campaign's scheme like spec) is also a trial of spec, and renumbers
 * the campaign's trials by key under spec.  Returns DS_ECHANGED with *missing_idx = the first old
 * trial index the new spec lacks, and changes nothing the caller does not roll back. */
int ds_store_campaign_extend(ds_store_t *s, int64_t id, const ds_spec_t *old, const ds_spec_t *spec,
                             int64_t *missing_idx);
/* Renumbers a campaign's trials (trials.idx) by key under spec, for campaigns whose indices an
 * older divsweep assigned in the spec file's axis order; keys not in spec get idx −1.  Marks the
 * campaign's trial_order 2.  *moved (may be NULL) gets how many rows changed idx. */
int ds_store_campaign_reindex(ds_store_t *s, int64_t id, const ds_spec_t *spec, int64_t *moved);
int ds_store_campaign_status(ds_store_t *s, int64_t id, const char *status);

/* Re-queues trials left `running` (or `pending`) by a killed run: deletes those rows, which hold
 * no results; *n gets how many. */
int ds_store_requeue_running(ds_store_t *s, int64_t campaign_id, int64_t *n);
/* Counts the campaign's done and failed trials with 0 <= idx < n_trials. */
int ds_store_count_finished(ds_store_t *s, int64_t campaign_id, int64_t n_trials, int64_t *n_done,
                            int64_t *n_failed);
/* Sets bit (idx − lo) of bits (hi − lo bits, zeroed by the caller) for every done or failed trial
 * with lo <= idx < hi: the coordinator loads its resume bitmap a window at a time, so that its
 * memory does not grow with the campaign. */
int ds_store_load_finished_range(ds_store_t *s, int64_t campaign_id, int64_t lo, int64_t hi, uint8_t *bits);
/* Checks that the unique key index exists, building it when the keys allow (an older divsweep
 * dropped it while running).  DS_EDAMAGED, with a message that names `divsweep repair`, when
 * the table holds a key twice. */
int ds_store_check_keys(ds_store_t *s, int64_t campaign_id);
/* Re-queues the campaign's failed trials (--retry-failed): copies their rows' errors into
 * trial_errors, deletes the rows, and returns their indices and attempt counts (malloc'd arrays
 * of *n entries, sorted by idx; the caller frees both).  Inside the caller's transaction. */
int ds_store_requeue_failed(ds_store_t *s, int64_t campaign_id, int64_t **idx, uint32_t **attempts, size_t *n);
/* Marks runs rows still `running` as `killed` (call while holding the store: such rows belong to
 * processes that died without recording their end); *n gets how many. */
int ds_store_mark_killed_runs(ds_store_t *s, int64_t *n);
/* Sets bit idx of `finished` (n_trials bits, zeroed by the caller) for every done or failed trial,
 * and counts them. */
int ds_store_load_finished(ds_store_t *s, int64_t campaign_id, int64_t n_trials, uint8_t *finished,
                           int64_t *n_done, int64_t *n_failed);

int ds_store_run_begin(ds_store_t *s, int64_t campaign_id, int ranks, const char *hosts, const char *mode,
                       int64_t *run_id);
/* The longest wall_s among the campaign's last n finished trials (by trial_id, the order they were
 * written), in *max_s; −1 when none has one.  The deadline guard (coord.c) starts a resumed run
 * with it instead of knowing nothing.  Reads at most n matching rows, walking trial_id down.
 * Same thread as the connection's other calls.  Returns 0 or DS_ESTORE (ds_store_errmsg). */
int ds_store_recent_wall_max(ds_store_t *s, int64_t campaign_id, int n, double *max_s);
/* Records which CUDA device each worker rank bound ("rank:device,..."; runs.gpus, NULL when none).
 * Same thread as ds_store_run_begin.  Returns 0 or DS_ESTORE (detail in ds_store_errmsg). */
int ds_store_run_set_gpus(ds_store_t *s, int64_t run_id, const char *gpus);
/* Records how the run was launched (runs.launcher, slurm_job_id, slurm_restart_count,
 * slurm_nodelist; the SLURM columns stay NULL outside a job).  Same thread as
 * ds_store_run_begin.  Returns 0 or DS_ESTORE (detail in ds_store_errmsg). */
int ds_store_run_set_launch(ds_store_t *s, int64_t run_id, const ds_launch_t *launch);
int ds_store_run_end(ds_store_t *s, int64_t run_id, const char *how, int exit_code, int64_t trials_done,
                     int64_t trials_failed);

/* Starts (on = 1) or stops a background thread that checkpoints the WAL from its own connection,
 * taking that work off the writing thread.  The store must outlive it (ds_store_close stops it). */
int ds_store_checkpointer(ds_store_t *s, int on);

int ds_store_begin(ds_store_t *s);
int ds_store_commit(ds_store_t *s);
/* Rolls back the open transaction (none open: 0).  ds_store_close rolls back too: nothing is
 * committed that its writer did not commit. */
int ds_store_rollback(ds_store_t *s);
int ds_store_in_txn(ds_store_t *s);

/* Where and when a trial ran. */
typedef struct ds_run_info {
  int rank;
  const char *host;
  double started_at;   /* Unix time */
  double finished_at;
  uint32_t attempts;
  int has_row;         /* this trial already has a row (written `running` earlier in this run) */
} ds_run_info_t;

/* Writes a finished trial: its row (status "done" or "failed"), params, metrics and curve. */
int ds_store_put_result(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, const ds_result_t *r,
                        const ds_run_info_t *info);
/* The same from a RESULT record read in place (the coordinator's path: no copy of the metrics). */
int ds_store_put_result_view(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t,
                             const ds_wire_result_view_t *v, const ds_run_info_t *info);
/* Writes a trial as `running` (slow trials only). */
int ds_store_put_running(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, const ds_run_info_t *info);

/* (Re)creates the view v_<name> with one column per parameter of the spec and per metric name
 * recorded for the campaign.  Call inside or outside a transaction. */
int ds_store_update_view(ds_store_t *s, int64_t campaign_id, const char *campaign_name, const ds_spec_t *spec);
/* Records a metric name for the campaign (for the view); *added = 1 when it is new. */
int ds_store_note_metric(ds_store_t *s, int64_t campaign_id, const char *name, int *added);

/* "v_" + name with every character outside [A-Za-z0-9_] replaced by '_' (lower-cased). */
void ds_store_view_name(const char *campaign_name, char *out, size_t out_len);

/* ---- repair (`divsweep repair`, coordinator/cli_repair.c) ----------------------------------
 * Each ds_store_repair_* step reports every change it makes as one line through the log (and
 * counts it in log->changes) and makes it inside the transaction ds_store_repair_begin opened; the
 * caller commits (--apply) or rolls back (a dry run), so a dry run prints exactly what --apply
 * does.  Call on a store opened with DS_STORE_REPAIR, from the thread that opened it. */
typedef struct ds_repair_log {
  void (*line)(void *arg, const char *text); /* may be NULL */
  void *arg;
  int64_t changes;
} ds_repair_log_t;

/* The schema version of the open file (after any migration). */
int ds_store_version(ds_store_t *s);
/* PRAGMA quick_check.  0 when SQLite finds nothing wrong; DS_EDAMAGED with what it found (and
 * which tables or indexes, when the schema is readable) in out. */
int ds_store_quick_check(ds_store_t *s, char *out, size_t out_len);
/* Opens the repair transaction (BEGIN IMMEDIATE) and migrates an older schema inside it. */
int ds_store_repair_begin(ds_store_t *s, ds_repair_log_t *log);
/* Keeps one row per trial key of the campaign — a done row with metrics, else the latest finished
 * row, else the latest row — and deletes the others with their params, metrics, curves and pareto
 * rows.  *n_deleted gets how many rows went. */
int ds_store_repair_duplicates(ds_store_t *s, int64_t campaign_id, ds_repair_log_t *log, int64_t *n_deleted);
/* Renumbers the campaign's trials to the canonical order of spec (its stored spec, with the
 * campaign's key scheme): keys not in spec are kept and numbered −1 (*strays counts them).  Marks
 * trial_order 2 and corrects n_trials.  Lists the first 20 idx changes one by one, then a count. */
int ds_store_repair_order(ds_store_t *s, const ds_campaign_row_t *row, const ds_spec_t *spec, ds_repair_log_t *log,
                          int64_t *moved, int64_t *strays);
/* Trials left `running` (no run is live: the caller holds the lock) become `pending`. */
int ds_store_repair_unfinished(ds_store_t *s, int64_t campaign_id, ds_repair_log_t *log, int64_t *n);
/* Sets the campaign's status to what its trials say (done, failed; a `running` campaign that is
 * not complete becomes interrupted, a `done` or `failed` one incomplete). */
int ds_store_repair_campaign_status(ds_store_t *s, const ds_campaign_row_t *row, int64_t n_trials, ds_repair_log_t *log);
/* runs rows left `running` become `killed`. */
int ds_store_repair_runs(ds_store_t *s, ds_repair_log_t *log);
/* Recreates the campaign's view; a change only when its SQL differs from the stored one. */
int ds_store_repair_view(ds_store_t *s, const ds_campaign_row_t *row, const ds_spec_t *spec, ds_repair_log_t *log);
/* Builds the indexes of table trials that are missing (trials_key first).  DS_EDAMAGED, naming
 * the campaigns, when some campaign still holds a key twice. */
int ds_store_repair_indexes(ds_store_t *s, ds_repair_log_t *log);

/* Drops campaign `name`'s view (v_<name>, see ds_store_view_name) if there is one: --fresh does it
 * before it renames the old campaign aside.  0, or DS_ESTORE when SQLite refused. */
int ds_store_drop_view(ds_store_t *s, const char *campaign_name);

#endif /* DS_STORE_H */
