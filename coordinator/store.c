/* store.c — the SQLite store: schema and migrations, campaigns, runs, batched trial writes.
 *
 * Invariants:
 *   - Only this module issues SQL that writes; every statement on the hot path is prepared once.
 *   - A trial key appears at most once per campaign, and SQLite checks it on every write: the
 *     unique index trials_key(campaign_id, trial_key) is never dropped (schema 3).  A coordinator
 *     bug that writes a key twice fails its statement, and the caller rolls the batch back
 *     (ds_store_rollback) instead of committing a wrong state.  Schema 2 dropped the index while
 *     a run appended (hash-ordered inserts rewrote most of the index into the WAL at each commit)
 *     and trusted the coordinator to keep keys unique; a resume that expanded the sweep in another
 *     order then wrote duplicates that only the end-of-run rebuild noticed.  What schema 3 does
 *     instead to keep the writer fast: keys are 16-byte BLOBs (XXH3-128, key scheme 2) instead
 *     of 32 hex characters, which halves the index (measured in tests/bench/SCHED_RESULTS.md).
 *   - Trial indices (trials.idx) follow the canonical spec's order (ds_spec.h): the stored spec
 *     and any spelling of the spec file expand alike.  Campaigns from schema 2 are renumbered by
 *     key once (ds_store_campaign_reindex) before they are resumed.
 *   - A first write is a plain INSERT (no upsert, no RETURNING: those cost 3x on this path).
 *   - Apart from --retry-failed's re-queue of failed rows, finished rows are deleted only by
 *     `divsweep repair` (the ds_store_repair_* steps at the end), and only rows whose key another
 *     row of the campaign also holds; it runs in one transaction under the same lock as a run,
 *     and reports every change it makes.
 *   - Opening never changes a database it then refuses (checks precede the first write).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_buf.h"
#include "ds_store.h"

struct ds_store {
  sqlite3 *db;
  char *path;
  int readonly;
  int in_txn;
  int lock_fd;
  char errmsg[512];
  char note[512];          /* what a reader should know about how it opened the file, or "" */
  sqlite3_stmt *ins_trial, *ins_param, *ins_metric, *ins_curve, *ins_running, *note_metric;
  sqlite3_stmt *upd_trial, *upd_running, *sel_trial_id;
  int version;             /* user_version after opening (and migrating) */
  int repair;              /* opened with DS_STORE_REPAIR */
  /* Background checkpointer (ds_store_checkpointer): its own connection and thread. */
  pthread_t ckpt_thread;
  int ckpt_running;
  atomic_int ckpt_stop;
  int wal_frames;          /* frames in the WAL after the last commit (sqlite3_wal_hook) */
};

static const char *DDL_V1 =
    "CREATE TABLE campaigns(\n"
    "  campaign_id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  task TEXT NOT NULL,\n"
    "  spec_json TEXT NOT NULL,\n"
    "  spec_hash TEXT NOT NULL,\n"
    "  status TEXT NOT NULL DEFAULT 'pending',\n"
    "  n_trials INTEGER NOT NULL,\n"
    "  created_at REAL NOT NULL,\n"
    "  updated_at REAL NOT NULL);\n"
    "CREATE TABLE trials(\n"
    "  trial_id INTEGER PRIMARY KEY,\n"
    "  campaign_id INTEGER NOT NULL REFERENCES campaigns(campaign_id),\n"
    "  trial_key TEXT NOT NULL,\n"
    "  idx INTEGER NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  params_json TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK(status IN ('pending','running','done','failed')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  rank INTEGER, host TEXT, started_at REAL, finished_at REAL, wall_s REAL, error TEXT,\n"
    "  UNIQUE(campaign_id, trial_key));\n"
    "CREATE INDEX trials_by_status ON trials(campaign_id, status, idx);\n"
    "CREATE TABLE params(trial_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL, text TEXT,\n"
    "  PRIMARY KEY(trial_id, name)) WITHOUT ROWID;\n"
    "CREATE TABLE metrics(trial_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL,\n"
    "  PRIMARY KEY(trial_id, name)) WITHOUT ROWID;\n"
    "CREATE TABLE curves(trial_id INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL,\n"
    "  PRIMARY KEY(trial_id, name, step)) WITHOUT ROWID;\n"
    "CREATE TABLE metric_names(campaign_id INTEGER NOT NULL, name TEXT NOT NULL,\n"
    "  PRIMARY KEY(campaign_id, name)) WITHOUT ROWID;\n"
    "CREATE TABLE pareto(campaign_id INTEGER NOT NULL, grp TEXT NOT NULL, trial_id INTEGER NOT NULL,\n"
    "  front_rank INTEGER NOT NULL, PRIMARY KEY(campaign_id, grp, trial_id)) WITHOUT ROWID;\n"
    "CREATE TABLE hypervolume(campaign_id INTEGER NOT NULL, grp TEXT NOT NULL, value REAL,\n"
    "  ref_point TEXT, n_trials INTEGER, updated_at REAL, ref_source TEXT, over TEXT,\n"
    "  n_points INTEGER, front_size INTEGER, PRIMARY KEY(campaign_id, grp)) WITHOUT ROWID;\n"
    "CREATE TABLE hypervolume_history(campaign_id INTEGER NOT NULL, grp TEXT NOT NULL, n_trials INTEGER,\n"
    "  at REAL, value REAL, ref_point TEXT);\n"
    "CREATE INDEX hypervolume_history_by_grp ON hypervolume_history(campaign_id, grp, at);\n"
    "CREATE TABLE runs(\n"
    "  run_id INTEGER PRIMARY KEY,\n"
    "  campaign_id INTEGER NOT NULL,\n"
    "  started_at REAL NOT NULL, ended_at REAL,\n"
    "  ranks INTEGER, hosts TEXT, gpus TEXT, mode TEXT, version TEXT, pid INTEGER,\n"
    "  how_ended TEXT NOT NULL DEFAULT 'running',\n"
    "  exit_code INTEGER, trials_done INTEGER DEFAULT 0, trials_failed INTEGER DEFAULT 0);\n";

/* Version 2: the trials table without its inline UNIQUE(campaign_id, trial_key), so that the
 * unique key index can be dropped while a run appends and rebuilt (by sorting) when it ends; idx
 * lookups go through trials_by_idx, and unfinished rows through a small partial index. */
static const char *DDL_V2 =
    "CREATE TABLE trials_v2(\n"
    "  trial_id INTEGER PRIMARY KEY,\n"
    "  campaign_id INTEGER NOT NULL REFERENCES campaigns(campaign_id),\n"
    "  trial_key TEXT NOT NULL,\n"
    "  idx INTEGER NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  params_json TEXT NOT NULL,\n"
    "  status TEXT NOT NULL CHECK(status IN ('pending','running','done','failed')),\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  rank INTEGER, host TEXT, started_at REAL, finished_at REAL, wall_s REAL, error TEXT);\n"
    "INSERT INTO trials_v2 SELECT trial_id, campaign_id, trial_key, idx, seed, params_json, status, attempts,"
    " rank, host, started_at, finished_at, wall_s, error FROM trials;\n"
    "DROP TABLE trials;\n"
    "ALTER TABLE trials_v2 RENAME TO trials;\n"
    "CREATE INDEX trials_by_idx ON trials(campaign_id, idx, status);\n"
    "CREATE INDEX trials_unfinished ON trials(campaign_id) WHERE status IN ('pending','running');\n"
    "CREATE UNIQUE INDEX trials_key ON trials(campaign_id, trial_key);\n";

/* Version 3: the key index is permanent (see the invariants); campaigns record their key scheme
 * and whether their trial indices follow the canonical order; failed attempts re-queued by
 * --retry-failed keep their errors in trial_errors.  The index is created by migrate() only when
 * the keys are unique: a database damaged by schema 2's resume bug migrates without it, and
 * set-up then refuses it and points at `divsweep repair`. */
static const char *DDL_V3 =
    "ALTER TABLE campaigns ADD COLUMN key_scheme INTEGER NOT NULL DEFAULT 1;\n"
    "ALTER TABLE campaigns ADD COLUMN trial_order INTEGER NOT NULL DEFAULT 1;\n"
    "CREATE TABLE trial_errors(campaign_id INTEGER NOT NULL, trial_key BLOB NOT NULL, attempts INTEGER,\n"
    "  error TEXT, rank INTEGER, host TEXT, started_at REAL, finished_at REAL, requeued_at REAL);\n"
    "CREATE INDEX trial_errors_by_key ON trial_errors(campaign_id, trial_key);\n";

/* Version 4: how each run was started (runs.launcher: srun, mpirun, mpi or local) and, inside a
 * SLURM job, the job's id, its restart count (0 on the first start, n after n requeues) and its
 * node list as SLURM wrote it (SLURM_JOB_NODELIST, e.g. "node[01-04]"): a requeued campaign has
 * one runs row per start, and these columns say which start it was. */
static const char *DDL_V4 =
    "ALTER TABLE runs ADD COLUMN launcher TEXT;\n"
    "ALTER TABLE runs ADD COLUMN slurm_job_id TEXT;\n"
    "ALTER TABLE runs ADD COLUMN slurm_restart_count INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN slurm_nodelist TEXT;\n";

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int set_err(ds_store_t *s, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  return code;
}

static int sql_err(ds_store_t *s, const char *what) {
  int ec = sqlite3_extended_errcode(s->db);
  int code = (ec & 0xff) == SQLITE_BUSY || (ec & 0xff) == SQLITE_LOCKED ? DS_EBUSY : DS_ESTORE;
  return set_err(s, code, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

const char *ds_store_errmsg(ds_store_t *s) { return s ? s->errmsg : "no store"; }
sqlite3 *ds_store_db(ds_store_t *s) { return s->db; }
int ds_store_in_txn(ds_store_t *s) { return s->in_txn; }

static int exec(ds_store_t *s, const char *sql, const char *what) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    sqlite3_free(msg);
    return sql_err(s, what);
  }
  return 0;
}

static int prepare(ds_store_t *s, sqlite3_stmt **st, const char *sql) {
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
    return sql_err(s, "prepare");
  return 0;
}

/* The migration steps from version `from` to the current one, inside the caller's transaction
 * (with legacy_alter_table on: the campaign views name `trials`; schema 2's rename must not
 * re-check them). */
static int migrate_steps(ds_store_t *s, int from) {
  int rc = 0;
  if (!rc && from < 1) rc = exec(s, DDL_V1, "create tables");
  if (!rc && from < 2) rc = exec(s, DDL_V2, "migrating table trials to schema 2");
  if (!rc && from < 3) {
    rc = exec(s, DDL_V3, "migrating to schema 3");
    /* A failed build (duplicate keys) is not a failed migration: the savepoint keeps the rest. */
    if (!rc) rc = exec(s, "SAVEPOINT key_index", "savepoint");
    if (!rc && sqlite3_exec(s->db, "CREATE UNIQUE INDEX IF NOT EXISTS trials_key ON trials(campaign_id, trial_key)",
                            NULL, NULL, NULL) != SQLITE_OK)
      rc = exec(s, "ROLLBACK TO key_index", "rollback to savepoint");
    if (!rc) rc = exec(s, "RELEASE key_index", "release savepoint");
  }
  if (!rc && from < 4) rc = exec(s, DDL_V4, "migrating table runs to schema 4");
  if (!rc) rc = exec(s, "PRAGMA user_version = 4", "set user_version");
  return rc;
}

static int migrate(ds_store_t *s, int from) {
  /* Forward-only, and one transaction from whatever version the file has to the current one, so
   * that a reader sees either the old schema or the new, never a step between (nor, for a new
   * file, tables without their version). */
  if (from >= DS_SCHEMA_VERSION) return 0;
  if (from >= 1 && from < 3) {
    /* Opening never changes a database it then refuses: an older file whose trials hold a key
     * twice (an older divsweep's resume) stays as it is, for `repair` to show and fix. */
    sqlite3_stmt *st = NULL;
    int dups = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM trials GROUP BY campaign_id, trial_key HAVING count(*) > 1 LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
      return sql_err(s, "reading table trials");
    int step = sqlite3_step(st);
    dups = step == SQLITE_ROW;
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return sql_err(s, "reading table trials");
    if (dups)
      return set_err(s, DS_EDAMAGED,
                     "%s: table trials holds trial keys more than once (left by an older divsweep's resume); run"
                     " `divsweep repair --db %s` to see what it would change, then `divsweep repair --db %s --apply`",
                     s->path, s->path, s->path);
  }
  int rc = exec(s, "PRAGMA legacy_alter_table = ON; BEGIN IMMEDIATE", "begin migration");
  if (!rc) rc = migrate_steps(s, from);
  if (!rc) rc = exec(s, "COMMIT", "commit migration");
  sqlite3_exec(s->db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
  if (rc) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  s->version = DS_SCHEMA_VERSION;
  return 0;
}

static int check_file(const char *path, int flags, char *err, size_t err_len) {
  struct stat st;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) dir[1] = 0;
  else if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) {
      snprintf(err, err_len, "%s: %s", path, strerror(errno));
      return DS_ESTORE;
    }
    if (!(flags & DS_STORE_CREATE)) {
      snprintf(err, err_len, "%s: no such database", path);
      return DS_ENOTFOUND;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(err, err_len, "%s: directory %s does not exist", path, dir);
      return DS_ESTORE;
    }
    if (access(dir, W_OK) != 0) {
      snprintf(err, err_len, "%s: directory %s is not writable", path, dir);
      return DS_ESTORE;
    }
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, err_len, "%s: not a regular file", path);
    return DS_ESTORE;
  }
  if (!(flags & DS_STORE_READONLY) && access(path, W_OK) != 0) {
    snprintf(err, err_len, "%s: the database file is read-only", path);
    return DS_ESTORE;
  }
  if (!(flags & DS_STORE_READONLY) && access(dir, W_OK) != 0) {
    snprintf(err, err_len, "%s: directory %s is not writable (SQLite needs it for the WAL)", path, dir);
    return DS_ESTORE;
  }
  /* Not SQLite at all?  Check the header before SQLite touches the file. */
  if (st.st_size > 0) {
    FILE *f = fopen(path, "rb");
    char hdr[16] = {0};
    size_t n = f ? fread(hdr, 1, 16, f) : 0;
    if (f) fclose(f);
    if (n < 16 || memcmp(hdr, "SQLite format 3", 16) != 0) {
      snprintf(err, err_len, "%s: not a SQLite database", path);
      return DS_ESTORE;
    }
  }
  return 0;
}

/* The number of schema objects, or -1 when sqlite_master cannot be read (a damaged file must not
 * pass for an empty one and get a fresh schema). */
static int count_tables(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return n;
}

static int user_version(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int v = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

typedef struct { char *data; } sqlbuf_uri_t;

static int uri_immutable(const char *path, sqlbuf_uri_t *u) {
  size_t n = strlen(path);
  char *d = malloc(3 * n + 32), *o = d;
  if (!d) return -1;
  o += sprintf(o, "file:");
  for (const unsigned char *c = (const unsigned char *)path; *c; c++)
    if (*c == '?' || *c == '#' || *c == '%' || *c < 0x20 || *c >= 0x7f) o += sprintf(o, "%%%02X", *c);
    else *o++ = (char)*c;
  strcpy(o, "?immutable=1");
  u->data = d;
  return 0;
}

/* A WAL database can only be read with its -shm index, which the first reader creates beside the
 * file: on a read-only file system (a snapshot, a read-only NFS or Lustre export) where none is
 * left, SQLite fails with a bare "unable to open database file".  If the WAL is empty too (the
 * last writer checkpointed and removed it), the file alone holds every committed result and
 * reading it with immutable=1 (no locks, no -shm) is exact for as long as nobody writes it: do
 * that, and say so in ds_store_note().  With a non-empty -wal beside it, immutable=1 would
 * silently miss those results: refuse and say how to read it. */
static int reader_fallback(ds_store_t *s) {
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  int ec = sqlite3_extended_errcode(s->db);
  sqlite3_finalize(st);
  if (ok || (ec & 0xff) != SQLITE_CANTOPEN) return 0; /* opens, or fails for another reason */
  size_t n = strlen(s->path);
  char *side = malloc(n + 5), dir[4096];
  if (!side) return set_err(s, DS_ENOMEM, "%s: out of memory", s->path);
  snprintf(dir, sizeof dir, "%s", s->path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) dir[1] = 0;
  else if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  struct statvfs vfs;
  struct stat sb;
  int ro_dir = (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) || access(dir, W_OK) != 0;
  snprintf(side, n + 5, "%s-shm", s->path);
  int have_shm = stat(side, &sb) == 0;
  snprintf(side, n + 5, "%s-wal", s->path);
  int wal_bytes = stat(side, &sb) == 0 && sb.st_size > 0;
  free(side);
  if (!ro_dir || have_shm) return 0; /* not the WAL limitation: the caller reports SQLite's error */
  if (wal_bytes)
    return set_err(s, DS_ESTORE, "%s: cannot read a WAL database on a read-only file system without its -shm file"
                   " (SQLite creates it beside the database), and %s-wal holds commits not yet copied into"
                   " the file; copy %s and %s-wal to a writable directory and read the copy", s->path, s->path,
                   s->path, s->path);
  /* file:PATH?immutable=1, with the characters a URI path may not hold percent-encoded. */
  sqlbuf_uri_t u = {0};
  if (uri_immutable(s->path, &u)) return set_err(s, DS_ENOMEM, "%s: out of memory", s->path);
  sqlite3_close(s->db);
  s->db = NULL;
  int rc = sqlite3_open_v2(u.data, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
  free(u.data);
  if (rc != SQLITE_OK)
    return set_err(s, DS_ESTORE, "%s: cannot open with immutable=1: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
  sqlite3_busy_timeout(s->db, 5000);
  sqlite3_extended_result_codes(s->db, 1);
  snprintf(s->note, sizeof s->note, "%s: read-only file system and no %s-shm, which SQLite's WAL mode needs to"
           " read; opened as file:...?immutable=1 instead (exact while no run writes this database)", s->path, s->path);
  return 0;
}

const char *ds_store_note(ds_store_t *s) { return s ? s->note : ""; }

int ds_store_open(const char *path, int flags, ds_store_t **out, char *err, size_t err_len) {
  *out = NULL;
  int rc = check_file(path, flags, err, err_len);
  if (rc) return rc;
  /* SQLite's allocation statistics take a global mutex on every malloc and free: off (before the
   * library initialises; later calls are refused harmlessly). */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  ds_store_t *s = calloc(1, sizeof *s);
  if (!s) return DS_ENOMEM;
  s->path = strdup(path);
  s->lock_fd = -1;
  s->readonly = (flags & DS_STORE_READONLY) != 0;
  int oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    rc = set_err(s, DS_ESTORE, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(s->db, s->readonly ? 5000 : 2000);
  sqlite3_extended_result_codes(s->db, 1);
  int version = -1;
  sqlite3_stmt *st = NULL;
  if (s->readonly && (rc = reader_fallback(s))) goto fail;
  if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    rc = sql_err(s, "reading the schema version"); /* the message before finalize resets it */
    sqlite3_finalize(st);
    if (rc == DS_ESTORE && strstr(s->errmsg, "not a database"))
      set_err(s, DS_ESTORE, "%s: not a SQLite database (or corrupt)", path);
    goto fail;
  }
  version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  s->version = version;
  if (version > DS_SCHEMA_VERSION) {
    rc = set_err(s, DS_ESCHEMA, "%s: schema version %d is newer than this divsweep (%d); upgrade divsweep",
                 path, version, DS_SCHEMA_VERSION);
    goto fail;
  }
  /* A reader can meet a file that a starting run has created but not yet given its schema:
   * wait for it (as SQLite's busy timeout waits for a lock) before calling the file empty. */
  for (int waited_ms = 0; version == 0 && s->readonly && waited_ms < 2000; waited_ms += 20) {
    if (count_tables(s->db) > 0) break;
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    version = user_version(s->db);
  }
  if (version == 0) {
    /* Either a new file or somebody else's SQLite database: refuse the latter. */
    int tables = count_tables(s->db);
    if (tables < 0) {
      rc = set_err(s, DS_ESTORE, "%s: reading sqlite_master: %s; " DS_STORE_DAMAGED_HINT, path,
                   sqlite3_errmsg(s->db), path);
      goto fail;
    }
    if (tables > 0) {
      rc = set_err(s, DS_ESTORE, "%s: a SQLite database that is not a divsweep store", path);
      goto fail;
    }
    if (s->readonly || (flags & DS_STORE_REPAIR)) {
      rc = set_err(s, DS_ESTORE, "%s: empty database (no campaigns yet)", path);
      goto fail;
    }
  }
  if (s->readonly) {
    sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    *out = s;
    return 0;
  }
  /* One writer per database: an advisory lock on the file (independent of SQLite's own POSIX
   * locks) keeps a second divsweep run out, and BEGIN IMMEDIATE checks nobody else holds SQLite's
   * write lock, before anything is written. */
  s->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->lock_fd >= 0 && flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    rc = set_err(s, DS_EBUSY, "%s: another divsweep run is using this database", path);
    goto fail;
  }
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    rc = sql_err(s, "taking the write lock");
    if (rc == DS_EBUSY) set_err(s, DS_EBUSY, "%s: database is locked by another process", path);
    goto fail;
  }
  /* Check before the first write (migration, the journal-mode switch): a damaged file is left as
   * it was found, for `repair` or a backup. */
  if (version > 0 && (flags & DS_STORE_CHECK) && (rc = ds_store_check(s))) goto fail;
  if (flags & DS_STORE_REPAIR) {
    /* No migration, no journal-mode switch, no prepared hot path: `repair` first checks the file
     * (a damaged one must not be written), then migrates inside its own transaction. */
    s->repair = 1;
    exec(s, "PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY", "pragmas");
    *out = s;
    return 0;
  }
  if ((rc = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;"
                    "PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;",
                 "setting WAL mode")))
    goto fail;
  if ((rc = migrate(s, version))) goto fail;
  if ((rc = prepare(s, &s->ins_trial,
                    "INSERT INTO trials(campaign_id, trial_key, idx, seed, params_json, status, attempts, rank,"
                    " host, started_at, finished_at, wall_s, error) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")) ||
      (rc = prepare(s, &s->upd_trial,
                    "UPDATE trials SET status=?6, attempts=?7, rank=?8, host=?9, started_at=?10, finished_at=?11,"
                    " wall_s=?12, error=?13 WHERE campaign_id=?1 AND idx=?3 AND trial_key=?2")) ||
      (rc = prepare(s, &s->sel_trial_id, "SELECT trial_id FROM trials WHERE campaign_id=?1 AND idx=?2 AND trial_key=?3")) ||
      (rc = prepare(s, &s->ins_running,
                    "INSERT INTO trials(campaign_id, trial_key, idx, seed, params_json, status, attempts, rank,"
                    " host, started_at) VALUES(?1,?2,?3,?4,?5,'running',?6,?7,?8,?9)")) ||
      (rc = prepare(s, &s->upd_running,
                    "UPDATE trials SET status='running', attempts=?6, rank=?7, host=?8, started_at=?9"
                    " WHERE campaign_id=?1 AND idx=?3 AND trial_key=?2 AND status NOT IN ('done','failed')")) ||
      (rc = prepare(s, &s->ins_param, "INSERT OR REPLACE INTO params(trial_id, name, value, text) VALUES(?1,?2,?3,?4)")) ||
      (rc = prepare(s, &s->ins_metric, "INSERT OR REPLACE INTO metrics(trial_id, name, value) VALUES(?1,?2,?3)")) ||
      (rc = prepare(s, &s->ins_curve, "INSERT OR REPLACE INTO curves(trial_id, step, name, value) VALUES(?1,?2,?3,?4)")) ||
      (rc = prepare(s, &s->note_metric, "INSERT OR IGNORE INTO metric_names(campaign_id, name) VALUES(?1,?2)")))
    goto fail;
  *out = s;
  return 0;
fail:
  snprintf(err, err_len, "%s", s->errmsg);
  ds_store_close(s);
  return rc;
}

int ds_store_code_is_damage(int ec) {
  int p = ec & 0xff;
  return p == SQLITE_CORRUPT || p == SQLITE_NOTADB || p == SQLITE_IOERR || p == SQLITE_FORMAT;
}

/* Runs sql (one statement) to completion; every row of a quick_check must read "ok". */
static int check_stmt(ds_store_t *s, const char *sql, const char *what, int expect_ok) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), step = SQLITE_DONE;
  if (rc != SQLITE_OK) {
    set_err(s, DS_ESTORE, "%s: %s: %s; " DS_STORE_DAMAGED_HINT, s->path, what, sqlite3_errmsg(s->db), s->path);
    sqlite3_finalize(st);
    return DS_ESTORE;
  }
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (expect_ok && (!t || strcmp(t, "ok"))) {
      /* quick_check's report is several lines ("*** in database main ***\nPage 2: ..."): the
       * first finding, on one line. */
      char line[200];
      const char *from = t && !strncmp(t, "*** in database main ***\n", 25) ? t + 25 : t ? t : "(null)";
      snprintf(line, sizeof line, "%s", from);
      for (char *c = line; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
      set_err(s, DS_ESTORE, "%s: %s: %s; " DS_STORE_DAMAGED_HINT, s->path, what, line, s->path);
      sqlite3_finalize(st);
      return DS_ESTORE;
    }
  }
  if (step != SQLITE_DONE) {
    /* The message now, before finalize or any later statement replaces it. */
    set_err(s, DS_ESTORE, "%s: %s: %s; " DS_STORE_DAMAGED_HINT, s->path, what, sqlite3_errmsg(s->db), s->path);
    sqlite3_finalize(st);
    return DS_ESTORE;
  }
  sqlite3_finalize(st);
  return 0;
}

int ds_store_check(ds_store_t *s) {
  struct stat st;
  if (stat(s->path, &st) == 0 && st.st_size <= ((off_t)64 << 20))
    return check_stmt(s, "PRAGMA quick_check", "PRAGMA quick_check", 1);
  static const char *small[] = {"campaigns", "runs", "metric_names"};
  static const char *large[] = {"trials", "params", "metrics", "curves"};
  char sql[200], what[120];
  int rc = 0;
  for (size_t i = 0; i < sizeof small / sizeof *small && !rc; i++) {
    snprintf(sql, sizeof sql, "PRAGMA quick_check(%s)", small[i]);
    snprintf(what, sizeof what, "table %s (quick_check)", small[i]);
    rc = check_stmt(s, sql, what, 1);
  }
  for (size_t i = 0; i < sizeof large / sizeof *large && !rc; i++) {
    snprintf(sql, sizeof sql, "SELECT 1 FROM (SELECT trial_id FROM %s ORDER BY trial_id LIMIT 1) UNION ALL"
             " SELECT 1 FROM (SELECT trial_id FROM %s ORDER BY trial_id DESC LIMIT 1)", large[i], large[i]);
    snprintf(what, sizeof what, "table %s", large[i]);
    rc = check_stmt(s, sql, what, 0);
  }
  return rc;
}

/* Copies WAL frames back into the database file every ~50 ms from its own connection, so that
 * the writer's commits never pay for it (with wal_autocheckpoint off, SQLite's own checkpoints
 * would run inside the writer's COMMIT).  PASSIVE never waits for, nor blocks, the writer or any
 * reader; the WAL restarts from its beginning once everything in it has been copied. */
static void *checkpointer_main(void *arg) {
  ds_store_t *s = arg;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 0);
  while (!atomic_load(&s->ckpt_stop)) {
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  }
  sqlite3_close(db);
  return NULL;
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames) {
  (void)db;
  (void)name;
  ((ds_store_t *)arg)->wal_frames = frames;
  return SQLITE_OK;
}

int ds_store_checkpointer(ds_store_t *s, int on) {
  if (s->readonly || on == s->ckpt_running) return 0;
  if (on) {
    atomic_store(&s->ckpt_stop, 0);
    if (pthread_create(&s->ckpt_thread, NULL, checkpointer_main, s) != 0)
      return set_err(s, DS_ESTORE, "%s: cannot start the checkpoint thread", s->path);
    s->ckpt_running = 1;
    int rc = exec(s, "PRAGMA wal_autocheckpoint = 0", "setting wal_autocheckpoint");
    sqlite3_wal_hook(s->db, on_wal_commit, s); /* after wal_autocheckpoint, which sets its own hook */
    return rc;
  }
  atomic_store(&s->ckpt_stop, 1);
  pthread_join(s->ckpt_thread, NULL);
  s->ckpt_running = 0;
  return exec(s, "PRAGMA wal_autocheckpoint = 1000", "setting wal_autocheckpoint");
}

int ds_store_open_reader(ds_store_t *w, ds_store_t **out) {
  /* No check_file() here: closing any descriptor of the database file drops every POSIX lock this
   * process holds on it, the writer's included; SQLite itself shares descriptors between its
   * connections to avoid exactly that. */
  *out = NULL;
  ds_store_t *s = calloc(1, sizeof *s);
  if (!s) return DS_ENOMEM;
  s->path = strdup(w->path);
  s->lock_fd = -1;
  s->readonly = 1;
  if (!s->path || sqlite3_open_v2(w->path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    int rc = set_err(w, DS_ESTORE, "%s: cannot open a reader: %s", w->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    ds_store_close(s);
    return rc;
  }
  sqlite3_busy_timeout(s->db, 5000);
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_exec(s->db, "PRAGMA query_only = 1", NULL, NULL, NULL);
  *out = s;
  return 0;
}

void ds_store_close(ds_store_t *s) {
  if (!s) return;
  if (s->ckpt_running) ds_store_checkpointer(s, 0);
  /* An open transaction is rolled back, never committed: whoever left it open did not finish it
   * (a failed set-up, a store error mid-batch), and committing half of it would store a state the
   * code never meant to write. */
  if (s->in_txn) ds_store_rollback(s);
  sqlite3_stmt *all[] = {s->ins_trial,   s->ins_param,   s->ins_metric,   s->ins_curve, s->ins_running,
                         s->note_metric, s->upd_trial, s->upd_running, s->sel_trial_id};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
  if (s->db) sqlite3_close(s->db);
  if (s->lock_fd >= 0) close(s->lock_fd);
  free(s->path);
  free(s);
}

int ds_store_begin(ds_store_t *s) {
  if (s->in_txn) return 0;
  int rc = exec(s, "BEGIN IMMEDIATE", "begin");
  if (!rc) s->in_txn = 1;
  return rc;
}

int ds_store_rollback(ds_store_t *s) {
  if (!s->in_txn) return 0;
  s->in_txn = 0;
  /* SQLite may have rolled back on its own (SQLITE_FULL, SQLITE_IOERR): then there is nothing to
   * roll back and that is not an error. */
  if (sqlite3_get_autocommit(s->db)) return 0;
  return exec(s, "ROLLBACK", "rollback");
}

int ds_store_commit(ds_store_t *s) {
  if (!s->in_txn) return 0;
  int rc = exec(s, "COMMIT", "commit");
  if (!rc) s->in_txn = 0;
  /* The WAL starts over only when a write begins with every frame copied back, which a
   * checkpointer trailing a busy writer never sees: past 64 MiB of frames, catch up here (the
   * background thread has copied all but the last few hundred ms) so the next write restarts
   * the WAL, keeping its size bounded instead of growing to the size of the database. */
  if (!rc && s->ckpt_running && s->wal_frames > 16384) {
    sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    s->wal_frames = 0;
  }
  return rc;
}

/* A key as its campaign stores it: a 16-byte BLOB (scheme 2) or 32 hex characters (scheme 1). */
static void bind_key(sqlite3_stmt *st, int col, const ds_trial_t *t) {
  if (t->key_scheme == DS_KEYS_FNV) sqlite3_bind_text(st, col, t->key, DS_KEY_LEN, SQLITE_STATIC);
  else sqlite3_bind_blob(st, col, t->key_bin, DS_KEY_BYTES, SQLITE_STATIC);
}

/* ---- campaigns ------------------------------------------------------------------------ */

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int ds_store_campaign_get(ds_store_t *s, const char *name, ds_campaign_row_t *out) {
  sqlite3_stmt *st;
  memset(out, 0, sizeof *out);
  if (sqlite3_prepare_v2(s->db,
                         s->version >= 3
                             ? "SELECT campaign_id, name, task, status, spec_hash, spec_json, n_trials, key_scheme,"
                               " trial_order FROM campaigns WHERE name = ?1"
                             : "SELECT campaign_id, name, task, status, spec_hash, spec_json, n_trials, 1, 1"
                               " FROM campaigns WHERE name = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table campaigns");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->id = sqlite3_column_int64(st, 0);
    copy_col(out->name, sizeof out->name, st, 1);
    copy_col(out->task, sizeof out->task, st, 2);
    copy_col(out->status, sizeof out->status, st, 3);
    copy_col(out->spec_hash, sizeof out->spec_hash, st, 4);
    const unsigned char *j = sqlite3_column_text(st, 5);
    out->spec_json = strdup(j ? (const char *)j : "{}");
    out->n_trials = sqlite3_column_int64(st, 6);
    out->key_scheme = sqlite3_column_int(st, 7);
    out->trial_order = sqlite3_column_int(st, 8);
    rc = out->spec_json ? 0 : set_err(s, DS_ENOMEM, "%s: out of memory", s->path);
  } else if (rc == SQLITE_DONE) {
    rc = set_err(s, DS_ENOTFOUND, "%s: no campaign named %s (table campaigns)", s->path, name);
  } else {
    rc = sql_err(s, "table campaigns");
  }
  sqlite3_finalize(st);
  return rc;
}

int ds_store_campaign_create(ds_store_t *s, const ds_spec_t *spec, int64_t *id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO campaigns(name, task, spec_json, spec_hash, status, n_trials, created_at,"
                         " updated_at, key_scheme, trial_order) VALUES(?1,?2,?3,?4,'pending',?5,?6,?6,?7,2)",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table campaigns");
  sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, spec->task, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, spec->canonical, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, spec->hash, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, spec->n_trials);
  sqlite3_bind_double(st, 6, wall_now());
  sqlite3_bind_int(st, 7, spec->key_scheme);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "inserting into table campaigns");
  sqlite3_finalize(st);
  *id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

static int exec_bind_id_text(ds_store_t *s, const char *sql, int64_t id, const char *text, const char *what) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sql_err(s, what);
  sqlite3_bind_int64(st, 1, id);
  if (text) sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 3, wall_now());
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, what);
  sqlite3_finalize(st);
  return rc;
}

int ds_store_campaign_rename(ds_store_t *s, int64_t id, const char *new_name) {
  return exec_bind_id_text(s, "UPDATE campaigns SET name = ?2, updated_at = ?3 WHERE campaign_id = ?1", id,
                           new_name, "renaming in table campaigns");
}

int ds_store_campaign_status(ds_store_t *s, int64_t id, const char *status) {
  return exec_bind_id_text(s, "UPDATE campaigns SET status = ?2, updated_at = ?3 WHERE campaign_id = ?1", id,
                           status, "updating table campaigns");
}

/* Fills the temporary table ds_newidx with (key, idx) of every trial of spec, streaming the sweep
 * (10⁶ trials: ~1 s).  Keys are bound as the campaign stores them (spec->key_scheme). */
static int fill_newidx(ds_store_t *s, const ds_spec_t *spec) {
  int rc = exec(s, "CREATE TEMP TABLE IF NOT EXISTS ds_newidx(trial_key PRIMARY KEY, idx INTEGER) WITHOUT ROWID;"
                   "DELETE FROM ds_newidx;",
                "temp table ds_newidx");
  if (rc) return rc;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO ds_newidx VALUES(?1, ?2)", -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "temp table ds_newidx");
  ds_trial_t t = {0};
  for (int64_t i = 0; i < spec->n_trials && !rc; i++) {
    if ((rc = ds_spec_trial(spec, i, &t))) {
      set_err(s, rc, "%s: cannot expand trial %lld of the spec", s->path, (long long)i);
      break;
    }
    bind_key(st, 1, &t);
    sqlite3_bind_int64(st, 2, i);
    if (sqlite3_step(st) != SQLITE_DONE) rc = sql_err(s, "temp table ds_newidx");
    sqlite3_reset(st);
  }
  ds_trial_free(&t);
  sqlite3_finalize(st);
  return rc;
}

/* Renumbers the campaign's trials by key from ds_newidx; *moved gets how many changed idx. */
static int renumber_from_newidx(ds_store_t *s, int64_t id, int64_t *moved) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "UPDATE trials SET idx = coalesce((SELECT n.idx FROM ds_newidx n WHERE n.trial_key ="
                         " trials.trial_key), -1) WHERE campaign_id = ?1 AND idx IS NOT coalesce((SELECT n.idx FROM"
                         " ds_newidx n WHERE n.trial_key = trials.trial_key), -1)",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "renumbering table trials");
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "renumbering table trials");
  sqlite3_finalize(st);
  if (moved) *moved = rc ? 0 : sqlite3_changes(s->db);
  return rc;
}

int ds_store_campaign_reindex(ds_store_t *s, int64_t id, const ds_spec_t *spec, int64_t *moved) {
  int rc = fill_newidx(s, spec);
  if (!rc) rc = renumber_from_newidx(s, id, moved);
  if (!rc) rc = exec_bind_id_text(s, "UPDATE campaigns SET trial_order = 2, updated_at = ?3 WHERE campaign_id = ?1", id,
                                  NULL, "updating table campaigns");
  exec(s, "DELETE FROM ds_newidx", "temp table ds_newidx");
  return rc;
}

int ds_store_campaign_extend(ds_store_t *s, int64_t id, const ds_spec_t *old, const ds_spec_t *spec,
                             int64_t *missing_idx) {
  *missing_idx = -1;
  int rc = fill_newidx(s, spec);
  /* Growth only: every trial of the old spec must be a trial of the new one (by key), or the
   * campaign would mix results of two different studies (a changed fixed.lr, a shrunk axis). */
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(s->db, "SELECT 1 FROM ds_newidx WHERE trial_key = ?1", -1, &st, NULL) != SQLITE_OK)
    rc = sql_err(s, "temp table ds_newidx");
  ds_trial_t t = {0};
  for (int64_t i = 0; !rc && i < old->n_trials; i++) {
    if ((rc = ds_spec_trial(old, i, &t))) break;
    bind_key(st, 1, &t);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_DONE) {
      *missing_idx = i;
      rc = DS_ECHANGED;
    } else if (step != SQLITE_ROW) {
      rc = sql_err(s, "temp table ds_newidx");
    }
  }
  ds_trial_free(&t);
  sqlite3_finalize(st);
  if (!rc) rc = renumber_from_newidx(s, id, NULL);
  if (!rc) {
    sqlite3_stmt *up;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE campaigns SET spec_json = ?2, spec_hash = ?3, n_trials = ?4, updated_at = ?5,"
                           " trial_order = 2 WHERE campaign_id = ?1",
                           -1, &up, NULL) != SQLITE_OK)
      return sql_err(s, "table campaigns");
    sqlite3_bind_int64(up, 1, id);
    sqlite3_bind_text(up, 2, spec->canonical, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 3, spec->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 4, spec->n_trials);
    sqlite3_bind_double(up, 5, wall_now());
    if (sqlite3_step(up) != SQLITE_DONE) rc = sql_err(s, "updating table campaigns");
    sqlite3_finalize(up);
  }
  exec(s, "DELETE FROM ds_newidx", "temp table ds_newidx");
  return rc;
}

int ds_store_requeue_failed(ds_store_t *s, int64_t campaign_id, int64_t **idx, uint32_t **attempts, size_t *n) {
  *idx = NULL;
  *attempts = NULL;
  *n = 0;
  /* History first: every failed row's error joins trial_errors, so the re-run replaces nothing a
   * user may want to read. */
  int rc = exec_bind_id_text(s,
                             "INSERT INTO trial_errors(campaign_id, trial_key, attempts, error, rank, host, started_at,"
                             " finished_at, requeued_at) SELECT campaign_id, trial_key, attempts, error, rank, host,"
                             " started_at, finished_at, ?3 FROM trials WHERE campaign_id = ?1 AND status = 'failed'",
                             campaign_id, NULL, "writing table trial_errors");
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(s->db,
                                "SELECT idx, attempts FROM trials WHERE campaign_id = ?1 AND status = 'failed' AND idx >= 0"
                                " ORDER BY idx",
                                -1, &st, NULL) != SQLITE_OK)
    rc = sql_err(s, "table trials");
  size_t cap = 0;
  int step = SQLITE_DONE;
  if (!rc) sqlite3_bind_int64(st, 1, campaign_id);
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 256;
      int64_t *i2 = realloc(*idx, cap * sizeof **idx);
      if (i2) *idx = i2;
      uint32_t *a2 = realloc(*attempts, cap * sizeof **attempts);
      if (a2) *attempts = a2;
      if (!i2 || !a2) {
        rc = set_err(s, DS_ENOMEM, "%s: out of memory", s->path);
        break;
      }
    }
    (*idx)[*n] = sqlite3_column_int64(st, 0);
    (*attempts)[(*n)++] = (uint32_t)sqlite3_column_int(st, 1);
  }
  if (!rc && step != SQLITE_DONE) rc = sql_err(s, "reading table trials");
  sqlite3_finalize(st);
  if (!rc)
    rc = exec_bind_id_text(s,
                           "DELETE FROM params WHERE trial_id IN (SELECT trial_id FROM trials WHERE campaign_id = ?1"
                           " AND status = 'failed')",
                           campaign_id, NULL, "re-queueing in table params");
  if (!rc)
    rc = exec_bind_id_text(s, "DELETE FROM trials WHERE campaign_id = ?1 AND status = 'failed'", campaign_id, NULL,
                           "re-queueing in table trials");
  if (rc) {
    free(*idx);
    free(*attempts);
    *idx = NULL;
    *attempts = NULL;
    *n = 0;
  }
  return rc;
}

int ds_store_requeue_running(ds_store_t *s, int64_t campaign_id, int64_t *n) {
  /* An unfinished row holds no result (a `running` row has no params or metrics; `pending` rows
   * come from older versions): deleting it re-queues the trial, and leaves the invariant the fast
   * write path relies on — a trial that is not finished has no row. */
  *n = 0;
  int rc = exec_bind_id_text(s,
                             "DELETE FROM params WHERE trial_id IN (SELECT trial_id FROM trials WHERE campaign_id = ?1"
                             " AND status IN ('pending','running'))",
                             campaign_id, NULL, "re-queueing in table params");
  if (!rc)
    rc = exec_bind_id_text(s,
                           "DELETE FROM metrics WHERE trial_id IN (SELECT trial_id FROM trials WHERE campaign_id = ?1"
                           " AND status IN ('pending','running'))",
                           campaign_id, NULL, "re-queueing in table metrics");
  if (!rc)
    rc = exec_bind_id_text(s,
                           "DELETE FROM curves WHERE trial_id IN (SELECT trial_id FROM trials WHERE campaign_id = ?1"
                           " AND status IN ('pending','running'))",
                           campaign_id, NULL, "re-queueing in table curves");
  if (!rc)
    rc = exec_bind_id_text(s, "DELETE FROM trials WHERE campaign_id = ?1 AND status IN ('pending','running')",
                           campaign_id, NULL, "re-queueing in table trials");
  if (!rc) *n = sqlite3_changes(s->db);
  return rc;
}

int ds_store_count_finished(ds_store_t *s, int64_t campaign_id, int64_t n_trials, int64_t *n_done,
                            int64_t *n_failed) {
  sqlite3_stmt *st;
  *n_done = *n_failed = 0;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT status, count(*) FROM trials WHERE campaign_id = ?1 AND idx >= 0 AND idx < ?2"
                         " AND status IN ('done','failed') GROUP BY status",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_int64(st, 2, n_trials);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *status = sqlite3_column_text(st, 0);
    if (status && status[0] == 'd') *n_done = sqlite3_column_int64(st, 1);
    else *n_failed = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : sql_err(s, "reading table trials");
}

int ds_store_load_finished_range(ds_store_t *s, int64_t campaign_id, int64_t lo, int64_t hi, uint8_t *bits) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT idx FROM trials WHERE campaign_id = ?1 AND idx >= ?2 AND idx < ?3"
                         " AND status IN ('done','failed')",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_int64(st, 2, lo);
  sqlite3_bind_int64(st, 3, hi);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t i = sqlite3_column_int64(st, 0) - lo;
    bits[i >> 3] |= (uint8_t)(1u << (i & 7));
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : sql_err(s, "reading table trials");
}

int ds_store_load_finished(ds_store_t *s, int64_t campaign_id, int64_t n_trials, uint8_t *finished,
                           int64_t *n_done, int64_t *n_failed) {
  int rc = ds_store_count_finished(s, campaign_id, n_trials, n_done, n_failed);
  return rc ? rc : ds_store_load_finished_range(s, campaign_id, 0, n_trials, finished);
}

/* One integer from a query with ?1 = id (or none).  -1 when it returns no row. */
static int query_int64(ds_store_t *s, const char *sql, int64_t id, int64_t *out, const char *what) {
  sqlite3_stmt *st;
  *out = -1;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return sql_err(s, what);
  if (sqlite3_bind_parameter_count(st) > 0) sqlite3_bind_int64(st, 1, id);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  int rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : sql_err(s, what);
  sqlite3_finalize(st);
  return rc;
}

int ds_store_check_keys(ds_store_t *s, int64_t campaign_id) {
  int64_t has_index, dups;
  int rc = query_int64(s, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'trials_key'", 0,
                       &has_index, "reading sqlite_master");
  if (rc) return rc;
  if (has_index > 0) return 0;
  /* No index: an older divsweep dropped it and never rebuilt it.  Build it now if the keys allow;
   * otherwise the campaign holds duplicates that only `repair` may resolve. */
  rc = query_int64(s,
                   "SELECT count(*) FROM (SELECT 1 FROM trials WHERE campaign_id = ?1 GROUP BY trial_key HAVING"
                   " count(*) > 1)",
                   campaign_id, &dups, "reading table trials");
  if (rc) return rc;
  if (dups == 0) {
    if (sqlite3_exec(s->db, "CREATE UNIQUE INDEX IF NOT EXISTS trials_key ON trials(campaign_id, trial_key)", NULL,
                     NULL, NULL) == SQLITE_OK)
      return 0;
    if ((sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_CONSTRAINT) return sql_err(s, "building index trials_key");
    dups = 1; /* another campaign of the file holds duplicates */
  }
  return set_err(s, DS_EDAMAGED,
                 "%s: table trials holds trial keys more than once (left by an older divsweep's resume); run `divsweep"
                 " repair --db %s` to see what it would change, then `divsweep repair --db %s --apply`",
                 s->path, s->path, s->path);
}

int ds_store_mark_killed_runs(ds_store_t *s, int64_t *n) {
  /* Called by the process holding the store's lock: a `running` row then belongs to a process
   * that died without recording its end (kill -9, a node lost). */
  *n = 0;
  int rc = exec(s, "UPDATE runs SET how_ended = 'killed' WHERE how_ended = 'running'", "updating table runs");
  if (!rc) *n = sqlite3_changes(s->db);
  return rc;
}

/* ---- runs ----------------------------------------------------------------------------- */

int ds_store_recent_wall_max(ds_store_t *s, int64_t campaign_id, int n, double *max_s) {
  *max_s = -1;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT max(wall_s) FROM (SELECT wall_s FROM trials WHERE campaign_id = ?1 AND"
                         " status IN ('done', 'failed') AND wall_s IS NOT NULL ORDER BY trial_id DESC LIMIT ?2)",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_int(st, 2, n);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) *max_s = sqlite3_column_double(st, 0);
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_err(s, "reading table trials");
  sqlite3_finalize(st);
  return rc;
}

int ds_store_run_set_gpus(ds_store_t *s, int64_t run_id, const char *gpus) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "UPDATE runs SET gpus = ?1 WHERE run_id = ?2", -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table runs");
  sqlite3_bind_text(st, 1, gpus, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, run_id);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "updating table runs");
  sqlite3_finalize(st);
  return rc;
}

int ds_store_run_set_launch(ds_store_t *s, int64_t run_id, const ds_launch_t *l) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "UPDATE runs SET launcher = ?2, slurm_job_id = ?3, slurm_restart_count = ?4,"
                         " slurm_nodelist = ?5 WHERE run_id = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table runs");
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_text(st, 2, l->launcher, -1, SQLITE_STATIC);
  if (l->slurm_job_id[0]) {
    sqlite3_bind_text(st, 3, l->slurm_job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, l->slurm_restart_count);
  }
  if (l->slurm_nodelist[0]) sqlite3_bind_text(st, 5, l->slurm_nodelist, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "updating table runs");
  sqlite3_finalize(st);
  return rc;
}

int ds_store_run_begin(ds_store_t *s, int64_t campaign_id, int ranks, const char *hosts, const char *mode,
                       int64_t *run_id) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO runs(campaign_id, started_at, ranks, hosts, mode, version, pid)"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7)",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table runs");
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_double(st, 2, wall_now());
  sqlite3_bind_int(st, 3, ranks);
  sqlite3_bind_text(st, 4, hosts, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, mode, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, DS_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, (int)getpid());
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "inserting into table runs");
  sqlite3_finalize(st);
  *run_id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int ds_store_run_end(ds_store_t *s, int64_t run_id, const char *how, int exit_code, int64_t trials_done,
                     int64_t trials_failed) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "UPDATE runs SET ended_at = ?2, how_ended = ?3, exit_code = ?4, trials_done = ?5,"
                         " trials_failed = ?6 WHERE run_id = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table runs");
  sqlite3_bind_int64(st, 1, run_id);
  sqlite3_bind_double(st, 2, wall_now());
  sqlite3_bind_text(st, 3, how, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, exit_code);
  sqlite3_bind_int64(st, 5, trials_done);
  sqlite3_bind_int64(st, 6, trials_failed);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_err(s, "updating table runs");
  sqlite3_finalize(st);
  return rc;
}

/* ---- trials --------------------------------------------------------------------------- */

static int step_reset(ds_store_t *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_err(s, what);
}

static void bind_trial_common(sqlite3_stmt *st, int64_t campaign_id, const ds_trial_t *t) {
  sqlite3_bind_int64(st, 1, campaign_id);
  bind_key(st, 2, t);
  sqlite3_bind_int64(st, 3, t->idx);
  sqlite3_bind_int64(st, 4, t->seed);
  sqlite3_bind_text(st, 5, t->params_json, (int)t->params_len, SQLITE_STATIC);
}

/* Binds ?6..?13 of ins_trial / upd_trial. */
static void bind_outcome(sqlite3_stmt *st, int status, const char *error, size_t error_len, double wall_s,
                         const ds_run_info_t *info) {
  sqlite3_bind_text(st, 6, status == 0 ? "done" : "failed", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, (int)info->attempts);
  sqlite3_bind_int(st, 8, info->rank);
  if (info->host) sqlite3_bind_text(st, 9, info->host, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 9);
  sqlite3_bind_double(st, 10, info->started_at);
  sqlite3_bind_double(st, 11, info->finished_at);
  sqlite3_bind_double(st, 12, wall_s);
  if (status) sqlite3_bind_text(st, 13, error, (int)error_len, SQLITE_STATIC);
  else sqlite3_bind_null(st, 13);
}

/* Rows of a trial that already has one (written `running`, or a duplicate key under a spec that
 * keeps the key index): updated in place, keeping the trial_id. */
static int update_trial_row(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, int status, const char *error,
                            size_t error_len, double wall_s, const ds_run_info_t *info, int64_t *trial_id) {
  sqlite3_stmt *st = s->upd_trial;
  bind_trial_common(st, campaign_id, t);
  bind_outcome(st, status, error, error_len, wall_s, info);
  int rc = step_reset(s, st, "updating table trials");
  if (rc) return rc;
  if (sqlite3_changes(s->db) == 0) return DS_ENOTFOUND;
  st = s->sel_trial_id;
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_int64(st, 2, t->idx);
  bind_key(st, 3, t);
  rc = sqlite3_step(st);
  *trial_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return set_err(s, DS_ESTORE, "%s: table trials: the row of trial %lld vanished", s->path, (long long)t->idx);
  return rc == SQLITE_ROW ? 0 : sql_err(s, "reading table trials");
}

static int put_trial_row(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, int status, const char *error,
                         size_t error_len, double wall_s, const ds_run_info_t *info, int64_t *trial_id) {
  if (info->has_row) {
    int rc = update_trial_row(s, campaign_id, t, status, error, error_len, wall_s, info, trial_id);
    if (rc != DS_ENOTFOUND) return rc;
  }
  sqlite3_stmt *st = s->ins_trial;
  bind_trial_common(st, campaign_id, t);
  bind_outcome(st, status, error, error_len, wall_s, info);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) {
    *trial_id = sqlite3_last_insert_rowid(s->db);
    return 0;
  }
  if ((sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_CONSTRAINT) return sql_err(s, "writing table trials");
  /* The database refused a second row for this key (index trials_key).  That is a divsweep bug,
   * caught before it could be committed: the caller rolls the batch back and stops. */
  return set_err(s, DS_ESTORE,
                 "%s: table trials already holds trial key %s (trial %lld of campaign %lld); the database refused"
                 " to store it twice (index trials_key) and nothing of this batch was committed",
                 s->path, t->key, (long long)t->idx, (long long)campaign_id);
}

static int put_params(ds_store_t *s, int64_t trial_id, const ds_trial_t *t) {
  sqlite3_stmt *st = s->ins_param;
  int rc = 0;
  for (size_t i = 0; i < t->n_flat && !rc; i++) {
    const ds_flat_t *f = t->flat[i];
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
    if (f->text) {
      sqlite3_bind_null(st, 3);
      sqlite3_bind_text(st, 4, f->text, -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_double(st, 3, f->value);
      sqlite3_bind_null(st, 4);
    }
    rc = step_reset(s, st, "writing table params");
  }
  return rc;
}

static int put_metric(ds_store_t *s, int64_t trial_id, const char *name, size_t name_len, double value) {
  sqlite3_stmt *st = s->ins_metric;
  sqlite3_bind_int64(st, 1, trial_id);
  sqlite3_bind_text(st, 2, name, (int)name_len, SQLITE_STATIC);
  sqlite3_bind_double(st, 3, value);
  return step_reset(s, st, "writing table metrics");
}

static int put_curve(ds_store_t *s, int64_t trial_id, int64_t step, const char *name, size_t name_len, double value) {
  sqlite3_stmt *st = s->ins_curve;
  sqlite3_bind_int64(st, 1, trial_id);
  sqlite3_bind_int64(st, 2, step);
  sqlite3_bind_text(st, 3, name, (int)name_len, SQLITE_STATIC);
  if (isfinite(value)) sqlite3_bind_double(st, 4, value);
  else sqlite3_bind_null(st, 4);
  return step_reset(s, st, "writing table curves");
}

int ds_store_put_result(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, const ds_result_t *r,
                        const ds_run_info_t *info) {
  int64_t trial_id;
  int rc = put_trial_row(s, campaign_id, t, r->status, r->error, strlen(r->error), r->wall_s, info, &trial_id);
  if (!rc) rc = put_params(s, trial_id, t);
  if (rc || r->status) return rc; /* a failed trial keeps no metrics: it never enters a front */
  for (size_t i = 0; i < r->n_metrics && !rc; i++)
    rc = put_metric(s, trial_id, r->metrics[i].name, strlen(r->metrics[i].name), r->metrics[i].value);
  for (size_t i = 0; i < r->n_curve && !rc; i++)
    rc = put_curve(s, trial_id, r->curve[i].step, r->curve[i].name, strlen(r->curve[i].name), r->curve[i].value);
  return rc;
}

int ds_store_put_result_view(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t,
                             const ds_wire_result_view_t *v, const ds_run_info_t *info) {
  int64_t trial_id;
  int rc = put_trial_row(s, campaign_id, t, v->status, v->error, v->error_len, v->wall_s, info, &trial_id);
  if (!rc) rc = put_params(s, trial_id, t);
  if (rc || v->status) return rc;
  ds_rbuf_t m = v->metrics, c = v->curve;
  const char *name;
  size_t len;
  double x;
  int64_t step;
  for (uint32_t i = 0; i < v->n_metrics && !rc; i++)
    rc = ds_wire_next_metric(&m, &name, &len, &x) ? DS_EWIRE : put_metric(s, trial_id, name, len, x);
  for (uint32_t i = 0; i < v->n_curve && !rc; i++)
    rc = ds_wire_next_curve(&c, &step, &name, &len, &x) ? DS_EWIRE : put_curve(s, trial_id, step, name, len, x);
  return rc;
}

int ds_store_put_running(ds_store_t *s, int64_t campaign_id, const ds_trial_t *t, const ds_run_info_t *info) {
  sqlite3_stmt *st = info->has_row ? s->upd_running : s->ins_running;
  bind_trial_common(st, campaign_id, t);
  sqlite3_bind_int(st, 6, (int)info->attempts);
  sqlite3_bind_int(st, 7, info->rank);
  if (info->host) sqlite3_bind_text(st, 8, info->host, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, 8);
  sqlite3_bind_double(st, 9, info->started_at);
  return step_reset(s, st, "writing table trials");
}

int ds_store_note_metric(ds_store_t *s, int64_t campaign_id, const char *name, int *added) {
  sqlite3_stmt *st = s->note_metric;
  sqlite3_bind_int64(st, 1, campaign_id);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = step_reset(s, st, "writing table metric_names");
  *added = rc == 0 && sqlite3_changes(s->db) > 0;
  return rc;
}

/* ---- the wide view -------------------------------------------------------------------- */

void ds_store_view_name(const char *campaign_name, char *out, size_t out_len) {
  snprintf(out, out_len, "v_%s", campaign_name);
  for (char *c = out + 2; *c; c++) *c = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c) : '_';
}

typedef struct namelist {
  char **v;
  size_t n;
} namelist_t;

/* Case-insensitive, as SQLite compares column names: a metric "value" beside a parameter
 * "Value" must become m_value, not a second column SQLite calls the same. */
static int names_has(const namelist_t *l, const char *name) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcasecmp(l->v[i], name)) return 1;
  return 0;
}

static void names_add(namelist_t *l, const char *name) {
  if (names_has(l, name)) return;
  char **v = realloc(l->v, (l->n + 1) * sizeof *v);
  if (!v) return;
  l->v = v;
  l->v[l->n++] = strdup(name);
}

static void names_free(namelist_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

/* SQL text is built in a ds_buf_t (ds_buf.h): out of memory is reported once at the end, so
 * truncated SQL is never run. */

/* s quoted as q (" for an identifier, ' for a string literal), the quote doubled inside. */
static void sb_quoted(ds_buf_t *b, const char *s, char q) {
  ds_buf_put(b, &q, 1);
  for (const char *p = s; *p; p++) {
    ds_buf_put(b, p, 1);
    if (*p == q) ds_buf_put(b, p, 1);
  }
  ds_buf_put(b, &q, 1);
}

int ds_store_update_view(ds_store_t *s, int64_t campaign_id, const char *campaign_name, const ds_spec_t *spec) {
  namelist_t params = {0}, metrics = {0}, used = {0};
  for (size_t i = 0; i < spec->n_slots; i++)
    for (size_t f = 0; f < spec->slot_fixed[i].n_flat; f++) names_add(&params, spec->slot_fixed[i].flat[f].name);
  for (size_t a = 0; a < spec->n_axes; a++)
    for (size_t v = 0; v < spec->axes[a].n; v++)
      for (size_t f = 0; f < spec->axes[a].vals[v].n_flat; f++) names_add(&params, spec->axes[a].vals[v].flat[f].name);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT name FROM metric_names WHERE campaign_id = ?1 ORDER BY name", -1, &st,
                         NULL) != SQLITE_OK) {
    names_free(&params);
    return sql_err(s, "table metric_names");
  }
  sqlite3_bind_int64(st, 1, campaign_id);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) names_add(&metrics, (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) {
    names_free(&params);
    names_free(&metrics);
    return sql_err(s, "reading table metric_names");
  }

  char view[160];
  ds_store_view_name(campaign_name, view, sizeof view);
  ds_buf_t q = {0};
  ds_buf_puts(&q, "DROP VIEW IF EXISTS ");
  sb_quoted(&q, view, '"');
  ds_buf_puts(&q, "; CREATE VIEW ");
  sb_quoted(&q, view, '"');
  /* Keys read as lower-case hex whatever the campaign's key scheme stores (BLOB or TEXT). */
  ds_buf_puts(&q, " AS SELECT t.trial_id AS trial_id, CASE WHEN typeof(t.trial_key) = 'blob' THEN lower(hex(t.trial_key))"
              " ELSE t.trial_key END AS trial_key, t.idx AS idx, t.seed AS seed, t.status AS status,"
              " t.attempts AS attempts, t.wall_s AS wall_s, t.rank AS rank");
  static const char *reserved[] = {"trial_id", "trial_key", "idx", "seed", "status", "attempts", "wall_s", "rank", NULL};
  for (int i = 0; reserved[i]; i++) names_add(&used, reserved[i]);
  for (size_t i = 0; i < params.n; i++) {
    /* A parameter named like one of the trial columns (rank, status, in any case) is p_<name>:
     * it used to be left out of the view.  The spec refuses parameters that meet each other. */
    const char *name = params.v[i];
    char *pcol = NULL;
    if (names_has(&used, name)) {
      size_t n = strlen(name);
      if (!(pcol = malloc(n + 3))) {
        q.oom = 1;
        break;
      }
      snprintf(pcol, n + 3, "p_%s", name);
      if (names_has(&used, pcol)) {
        free(pcol);
        continue;
      }
    }
    names_add(&used, pcol ? pcol : name);
    ds_buf_puts(&q, ", (SELECT coalesce(p.text, p.value) FROM params p WHERE p.trial_id = t.trial_id AND p.name = ");
    sb_quoted(&q, name, '\'');
    ds_buf_puts(&q, ") AS ");
    sb_quoted(&q, pcol ? pcol : name, '"');
    free(pcol);
  }
  for (size_t i = 0; i < metrics.n; i++) {
    size_t n = strlen(metrics.v[i]);
    char *col = malloc(n + 2 * 8 + 1);
    if (!col) {
      q.oom = 1;
      break;
    }
    snprintf(col, n + 1, "%s", metrics.v[i]);
    for (char *c = col; *c; c++)
      if (!isalnum((unsigned char)*c) && *c != '_') *c = '_';
    /* m_ until it is a column of its own (a parameter m_value beside a metric value gives
     * m_m_value); after 8 the column is left out rather than shadowing another. */
    int tries = 0;
    while (names_has(&used, col) && tries < 8) {
      memmove(col + 2, col, strlen(col) + 1);
      col[0] = 'm', col[1] = '_';
      tries++;
    }
    if (names_has(&used, col)) {
      free(col);
      continue;
    }
    names_add(&used, col);
    ds_buf_puts(&q, ", (SELECT m.value FROM metrics m WHERE m.trial_id = t.trial_id AND m.name = ");
    sb_quoted(&q, metrics.v[i], '\'');
    ds_buf_puts(&q, ") AS ");
    sb_quoted(&q, col, '"');
    free(col);
  }
  char tail[64];
  snprintf(tail, sizeof tail, " FROM trials t WHERE t.campaign_id = %lld;", (long long)campaign_id);
  ds_buf_puts(&q, tail);
  int rc = q.oom ? set_err(s, DS_ENOMEM, "%s: out of memory building the view", s->path)
                 : exec(s, q.data, "creating the campaign view");
  free(q.data);
  names_free(&params);
  names_free(&metrics);
  names_free(&used);
  return rc;
}

/* ---- repair (`divsweep repair`) --------------------------------------------------------
 * Each step below finds what it would change, reports every change through the log, then makes
 * it, all inside the caller's one transaction: a dry run is the same steps rolled back, so what
 * it prints is exactly what --apply does. */

int ds_store_version(ds_store_t *s) { return s->version; }

static void note(ds_repair_log_t *log, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log->changes++;
  if (log->line) log->line(log->arg, line);
}

/* A key as text, whatever its scheme stores. */
#define KEY_HEX_SQL(col) "CASE WHEN typeof(" col ") = 'blob' THEN lower(hex(" col ")) ELSE " col " END"

int ds_store_quick_check(ds_store_t *s, char *out, size_t out_len) {
  out[0] = 0;
  sqlite3_stmt *st = NULL;
  size_t len = 0;
  int n = 0, step = SQLITE_DONE, ok = 0;
  char trees[256] = "";
  if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(20)", -1, &st, NULL) == SQLITE_OK) {
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      const char *r = (const char *)sqlite3_column_text(st, 0);
      if (!r) continue;
      if (!strcmp(r, "ok")) {
        ok = 1;
        continue;
      }
      /* SQLite's report starts "*** in database main ***\n": keep it to one line. */
      if (!strncmp(r, "*** in database main ***\n", 25)) r += 25;
      if (n++ < 4 && len + 8 < out_len) {
        size_t at = len;
        len += (size_t)snprintf(out + len, out_len - len, "%s%s", len ? "; " : "", r);
        if (len >= out_len) len = out_len - 1;
        for (char *c = out + at; *c; c++)
          if (*c == '\n') *c = ' ';
      }
      /* "Tree N page P ..." (N is the root page of the damaged table or index) or "Page N: ..."
       * (a root page when N is one). */
      const char *t = strstr(r, "Tree ");
      if (!t) t = strstr(r, "Page ");
      if (t && strlen(trees) + 16 < sizeof trees)
        snprintf(trees + strlen(trees), sizeof trees - strlen(trees), "%s%ld", trees[0] ? "," : "", strtol(t + 5, NULL, 10));
    }
  }
  int failed = !st || step != SQLITE_DONE;
  if (failed) snprintf(out + len, out_len - len, "%sPRAGMA quick_check failed: %s", len ? "; " : "", sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  st = NULL;
  if (!failed && ok && n == 0) return 0;
  /* Name what the damaged b-trees are, when the schema itself is still readable. */
  if (trees[0]) {
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT group_concat(type || ' ' || name || ' (root page ' || rootpage || ')', ', ') FROM sqlite_master"
                        " WHERE rootpage IN (%s)", trees);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_text(st, 0))
      snprintf(out + strlen(out), out_len - strlen(out), "; damaged: %s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  return DS_EDAMAGED;
}

int ds_store_repair_begin(ds_store_t *s, ds_repair_log_t *log) {
  if (s->in_txn) return set_err(s, DS_EINVAL, "%s: repair inside an open transaction", s->path);
  int rc = exec(s, "PRAGMA legacy_alter_table = ON; BEGIN IMMEDIATE", "begin repair");
  if (rc) return rc;
  s->in_txn = 1;
  if (s->version < DS_SCHEMA_VERSION) {
    note(log, "schema: migrate from version %d to %d (%s)", s->version, DS_SCHEMA_VERSION,
         s->version < 3 ? "key scheme and trial order columns, table trial_errors; launcher and SLURM columns of runs"
                        : "launcher and SLURM columns of runs");
    if ((rc = migrate_steps(s, s->version))) return rc;
    s->version = DS_SCHEMA_VERSION;
  }
  return 0;
}

int ds_store_repair_duplicates(ds_store_t *s, int64_t campaign_id, ds_repair_log_t *log, int64_t *n_deleted) {
  *n_deleted = 0;
  /* One row per key: a done row with metrics first, then any finished row, latest first, then the
   * latest row of all (trial_id breaks ties: the row written last). */
  int rc = exec(s, "CREATE TEMP TABLE IF NOT EXISTS ds_repair_drop(trial_id INTEGER PRIMARY KEY, keep INTEGER);"
                   "DELETE FROM ds_repair_drop;",
                "temp table ds_repair_drop");
  if (rc) return rc;
  rc = exec_bind_id_text(
      s,
      "INSERT INTO ds_repair_drop SELECT trial_id, keep FROM (SELECT trial_id, first_value(trial_id) OVER w AS keep,"
      " row_number() OVER w AS rn FROM trials t WHERE campaign_id = ?1 AND trial_key IN (SELECT trial_key FROM trials"
      " WHERE campaign_id = ?1 GROUP BY trial_key HAVING count(*) > 1)"
      " WINDOW w AS (PARTITION BY trial_key ORDER BY (status = 'done' AND EXISTS(SELECT 1 FROM metrics m WHERE"
      " m.trial_id = t.trial_id)) DESC, status IN ('done','failed') DESC, coalesce(finished_at, started_at, 0) DESC,"
      " trial_id DESC)) WHERE rn > 1",
      campaign_id, NULL, "finding duplicate keys in table trials");
  if (rc) return rc;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " KEY_HEX_SQL("t.trial_key") ", d.trial_id, t.idx, t.status, (SELECT count(*) FROM"
                         " metrics m WHERE m.trial_id = d.trial_id), k.trial_id, k.idx, k.status, (SELECT count(*)"
                         " FROM metrics m WHERE m.trial_id = k.trial_id) FROM ds_repair_drop d JOIN trials t ON"
                         " t.trial_id = d.trial_id JOIN trials k ON k.trial_id = d.keep ORDER BY k.idx, d.keep,"
                         " d.trial_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    note(log,
         "table trials: key %s is held more than once: delete trial_id %lld (idx %lld, %s, metrics: %d) with its"
         " params, metrics, curves and pareto rows; keep trial_id %lld (idx %lld, %s, metrics: %d)",
         (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 1),
         (long long)sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3), sqlite3_column_int(st, 4),
         (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6),
         (const char *)sqlite3_column_text(st, 7), sqlite3_column_int(st, 8));
    (*n_deleted)++;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) return sql_err(s, "reading table trials");
  /* Every table that refers to a trial by trial_id (DDL_V1): params, metrics, curves, pareto. */
  static const char *del[] = {
      "DELETE FROM params WHERE trial_id IN (SELECT trial_id FROM ds_repair_drop)",
      "DELETE FROM metrics WHERE trial_id IN (SELECT trial_id FROM ds_repair_drop)",
      "DELETE FROM curves WHERE trial_id IN (SELECT trial_id FROM ds_repair_drop)",
      "DELETE FROM pareto WHERE trial_id IN (SELECT trial_id FROM ds_repair_drop)",
      "DELETE FROM trials WHERE trial_id IN (SELECT trial_id FROM ds_repair_drop)",
      "DELETE FROM ds_repair_drop",
  };
  for (size_t i = 0; !rc && i < sizeof del / sizeof del[0]; i++) rc = exec(s, del[i], "deleting duplicate rows");
  return rc;
}

int ds_store_repair_order(ds_store_t *s, const ds_campaign_row_t *row, const ds_spec_t *spec, ds_repair_log_t *log,
                          int64_t *moved, int64_t *strays) {
  *moved = *strays = 0;
  int rc = fill_newidx(s, spec);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT t.trial_id, " KEY_HEX_SQL("t.trial_key") ", t.idx, n.idx, t.status FROM trials t"
                         " LEFT JOIN ds_newidx n ON n.trial_key = t.trial_key WHERE t.campaign_id = ?1 AND"
                         " (t.idx IS NOT coalesce(n.idx, -1) OR n.idx IS NULL) ORDER BY coalesce(n.idx, -1), t.idx",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  sqlite3_bind_int64(st, 1, row->id);
  int step;
  int64_t listed = 0;
  enum { LIST_MAX = 20 };
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0), from = sqlite3_column_int64(st, 2);
    int stray = sqlite3_column_type(st, 3) == SQLITE_NULL;
    int64_t to = stray ? -1 : sqlite3_column_int64(st, 3);
    if (stray) (*strays)++;
    if (from == to) continue; /* a stray already numbered −1: reported below, not a change */
    (*moved)++;
    if (listed++ < LIST_MAX)
      note(log, "table trials: trial_id %lld (key %s, %s): idx %lld -> %lld%s", (long long)id,
           (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 4), (long long)from,
           (long long)to, stray ? " (not a trial of the stored spec: kept, numbered -1)" : "");
    else
      log->changes++;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) return sql_err(s, "reading table trials");
  if (listed > LIST_MAX && log->line) {
    char line[200];
    snprintf(line, sizeof line, "table trials: ... and %lld more idx changes (%lld in all) to the canonical trial order",
             (long long)(listed - LIST_MAX), (long long)listed);
    log->line(log->arg, line);
  }
  if (*moved) rc = renumber_from_newidx(s, row->id, NULL);
  if (!rc && row->trial_order < 2) {
    note(log, "table campaigns: trial_order 1 -> 2 (trial indices follow the canonical order)");
    rc = exec_bind_id_text(s, "UPDATE campaigns SET trial_order = 2, updated_at = ?3 WHERE campaign_id = ?1", row->id,
                           NULL, "updating table campaigns");
  }
  if (!rc && row->n_trials != spec->n_trials) {
    note(log, "table campaigns: n_trials %lld -> %lld (the stored spec's count)", (long long)row->n_trials,
         (long long)spec->n_trials);
    sqlite3_stmt *up;
    if (sqlite3_prepare_v2(s->db, "UPDATE campaigns SET n_trials = ?2 WHERE campaign_id = ?1", -1, &up, NULL) != SQLITE_OK)
      return sql_err(s, "table campaigns");
    sqlite3_bind_int64(up, 1, row->id);
    sqlite3_bind_int64(up, 2, spec->n_trials);
    if (sqlite3_step(up) != SQLITE_DONE) rc = sql_err(s, "updating table campaigns");
    sqlite3_finalize(up);
  }
  exec(s, "DELETE FROM ds_newidx", "temp table ds_newidx");
  return rc;
}

int ds_store_repair_unfinished(ds_store_t *s, int64_t campaign_id, ds_repair_log_t *log, int64_t *n) {
  *n = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT trial_id, idx, " KEY_HEX_SQL("trial_key") ", rank, host FROM trials WHERE campaign_id"
                         " = ?1 AND status = 'running' ORDER BY idx",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table trials");
  sqlite3_bind_int64(st, 1, campaign_id);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    note(log, "table trials: trial_id %lld (idx %lld, key %s) left running by a run that is gone (rank %d, host %s):"
              " running -> pending",
         (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
         (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
         sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "?");
    (*n)++;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) return sql_err(s, "reading table trials");
  if (!*n) return 0;
  return exec_bind_id_text(s, "UPDATE trials SET status = 'pending' WHERE campaign_id = ?1 AND status = 'running'",
                           campaign_id, NULL, "updating table trials");
}

int ds_store_repair_campaign_status(ds_store_t *s, const ds_campaign_row_t *row, int64_t n_trials, ds_repair_log_t *log) {
  int64_t done, failed;
  int rc = ds_store_count_finished(s, row->id, n_trials, &done, &failed);
  if (rc) return rc;
  /* What the coordinator would have recorded had the last run ended normally (coord.c). */
  const char *want = row->status;
  if (done == n_trials) want = "done";
  else if (done + failed == n_trials) want = "failed";
  else if (!strcmp(row->status, "running")) want = "interrupted";
  else if (!strcmp(row->status, "done") || !strcmp(row->status, "failed")) want = "incomplete";
  if (!strcmp(want, row->status)) return 0;
  note(log, "table campaigns: status %s -> %s (%lld done, %lld failed of %lld trials)", row->status, want,
       (long long)done, (long long)failed, (long long)n_trials);
  return ds_store_campaign_status(s, row->id, want);
}

int ds_store_repair_runs(ds_store_t *s, ds_repair_log_t *log) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT r.run_id, coalesce(c.name, '?'), r.pid, r.mode, datetime(r.started_at, 'unixepoch')"
                         " FROM runs r LEFT JOIN campaigns c USING (campaign_id) WHERE r.how_ended = 'running' ORDER BY"
                         " r.run_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "table runs");
  int step, n = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    note(log, "table runs: run %lld (campaign %s, pid %d, %s, started %s UTC) never recorded its end: running -> killed",
         (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
         sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "?",
         sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "?");
    n++;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) return sql_err(s, "reading table runs");
  int64_t killed;
  return n ? ds_store_mark_killed_runs(s, &killed) : 0;
}

/* The SQL text of a schema object, malloc'd ("" when absent); NULL when out of memory. */
static char *object_sql(ds_store_t *s, const char *name) {
  sqlite3_stmt *st;
  char *out = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT sql FROM sqlite_master WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
    return strdup("");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) out = strdup((const char *)sqlite3_column_text(st, 0));
  else out = strdup("");
  sqlite3_finalize(st);
  return out;
}

int ds_store_repair_view(ds_store_t *s, const ds_campaign_row_t *row, const ds_spec_t *spec, ds_repair_log_t *log) {
  char view[160];
  ds_store_view_name(row->name, view, sizeof view);
  char *before = object_sql(s, view);
  int rc = ds_store_update_view(s, row->id, row->name, spec);
  char *after = rc ? NULL : object_sql(s, view);
  if (!rc && (!before || !after)) rc = set_err(s, DS_ENOMEM, "%s: out of memory", s->path);
  if (!rc && strcmp(before, after))
    note(log, "view %s: %s", view, before[0] ? "rebuilt (its columns differed from the campaign's)" : "created (it was missing)");
  free(before);
  free(after);
  return rc;
}

int ds_store_repair_indexes(ds_store_t *s, ds_repair_log_t *log) {
  static const struct {
    const char *name, *sql;
  } idx[] = {
      {"trials_key", "CREATE UNIQUE INDEX trials_key ON trials(campaign_id, trial_key)"},
      {"trials_by_idx", "CREATE INDEX trials_by_idx ON trials(campaign_id, idx, status)"},
      {"trials_unfinished", "CREATE INDEX trials_unfinished ON trials(campaign_id) WHERE status IN ('pending','running')"},
  };
  for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
    int64_t has;
    char q[160];
    snprintf(q, sizeof q, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '%s'", idx[i].name);
    int rc = query_int64(s, q, 0, &has, "reading sqlite_master");
    if (rc) return rc;
    if (has) continue;
    if (sqlite3_exec(s->db, idx[i].sql, NULL, NULL, NULL) != SQLITE_OK) {
      if (i == 0 && (sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT) {
        /* Only another campaign than the one repaired can still hold a key twice. */
        sqlite3_stmt *st;
        char names[300] = "?";
        if (sqlite3_prepare_v2(s->db,
                               "SELECT group_concat(name, ', ') FROM campaigns WHERE campaign_id IN (SELECT campaign_id"
                               " FROM trials GROUP BY campaign_id, trial_key HAVING count(*) > 1)",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
          snprintf(names, sizeof names, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return set_err(s, DS_EDAMAGED,
                       "%s: index trials_key covers every campaign of the file, and campaign %s still holds trial keys"
                       " more than once; repair without --campaign",
                       s->path, names);
      }
      return sql_err(s, "building an index of table trials");
    }
    note(log, "index %s: built (it was missing)", idx[i].name);
  }
  return 0;
}

int ds_store_drop_view(ds_store_t *s, const char *campaign_name) {
  char view[160], sql[256];
  ds_store_view_name(campaign_name, view, sizeof view);
  snprintf(sql, sizeof sql, "DROP VIEW IF EXISTS \"%s\"", view);
  return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : DS_ESTORE;
}
