/* ds_coord.h — the coordinator of a campaign run (rank 0, or the only process).
 *
 * ds_coord_run() loads the spec, opens the store, creates or resumes the campaign, and then runs
 * two threads: a dispatcher that owns all MPI traffic (or, with one rank, feeds in-process worker
 * threads) and the libuv loop on the calling thread, which owns the store: it writes results in
 * batched transactions (a commit at least every 200 ms) and draws the progress line.
 *
 * Signals (ds_coord_signals_install, from the first moment of `run`/`resume` to the last):
 * SIGINT, SIGTERM, SIGHUP, and SIGPIPE when stderr/stdout has lost its reader, ask for a graceful
 * stop — during set-up it rolls back (nothing changes, exit 3); during the run the loop commits
 * and records the run `interrupted` at once, then collects what arrives within ~0.7 s, commits
 * and exits 3; during close-out, close-out finishes (a run that completed stays `done`).  A
 * second SIGINT/SIGTERM/SIGHUP exits 3 at once.
 *
 * Deadline (o->deadline): no trial is handed out that would not end before it, judged by the
 * longest of the campaign's last DL_RECENT trial times (the store's, on a resume) plus a margin
 * for the commit; when an idle worker cannot fit one, dispatching stops, the trials in flight
 * finish, and the run ends `deadline` (runs.how_ended; the campaign `interrupted`), exit 3.
 * Trials still running DL_MARGIN_S before the deadline are stopped as on SIGTERM.
 */
#ifndef DS_COORD_H
#define DS_COORD_H

#include <signal.h>
#include <stdint.h>

#include "ds_spec.h"
#include "ds_wire.h"

/* Runs one trial in-process (single-rank mode); thread_index is 0..threads−1; arg is opaque.
 * Provided by main, which links the worker library. */
typedef int (*ds_local_trial_fn)(const ds_wire_trial_t *t, int thread_index, ds_result_t *res, void *arg);

typedef struct ds_run_opts {
  const char *spec_path;     /* run: the spec file; NULL for resume */
  const char *db_path;
  const char *campaign;      /* resume: campaign name (NULL: the only unfinished one) */
  int fresh, extend;
  int retry_failed;          /* re-queue failed trials (their errors stay in trial_errors) */
  int threads;               /* local mode worker threads (0: number of cores) */
  int quiet;
  int depth;                 /* trials in flight per worker (0: adaptive) */
  /* The deadline guard: the Unix time by which the run should have exited (0: none), from
   * --deadline or the SLURM job's time limit, and where it came from, for messages. */
  double deadline;
  const char *deadline_from;
  const ds_spec_opts_t *spec_opts;
  /* run: the checks `validate` makes on the spec file beyond ds_spec_load's (parameter names
   * before it, whole-spec checks after; phase 0 and 1).  0 or an error with one line in err.
   * NULL: none. */
  int (*spec_check)(const char *path, int phase, char *err, size_t err_len);
  /* MPI: comm is &MPI_COMM_WORLD (as void*) when size > 1, else NULL for local mode. */
  void *mpi_comm;
  int mpi_size;
  char **hosts;              /* host name per rank (mpi_size entries), or NULL */
  char **gpus;               /* the GPU each rank bound, as CUDA_VISIBLE_DEVICES names it (mpi_size
                                entries; local mode: 1), "" none; or NULL (no GPU anywhere).
                                Recorded in runs.gpus. */
  ds_local_trial_fn local_fn;
  void *local_arg;
  volatile sig_atomic_t *local_cancel; /* local mode: set to 1 when a stop is requested (or NULL) */
} ds_run_opts_t;

/* Runs (or resumes) a campaign to completion or interruption.  Returns a process exit code
 * (DS_EXIT_*: 0 done, 1 usage/spec error, 2 store error, 3 interrupted, 4 trials failed) and
 * prints one clear line on error.  *abandoned is 1 when workers did not acknowledge the stop in
 * time (the caller should MPI_Abort with the exit code), −1 when the run failed before any work
 * was handed out (MPI workers still wait for work: the caller sends them STOP), else 0. */
int ds_coord_run(const ds_run_opts_t *o, int *abandoned);

/* Installs the stop-signal handlers described above for the rest of the process's life
 * (main thread, before any other thread starts).  launcher_pid: the launcher (mpirun's or
 * slurmstepd's pid, the parent at start) when ranks were started by one, else 0; see
 * ds_coord_launcher_gone(). */
void ds_coord_signals_install(int launcher_pid);

/* The first stop signal received (SIGINT, SIGTERM, SIGHUP or SIGPIPE), or 0.  Any thread. */
int ds_coord_stop_signal(void);

/* 1 when a launcher was given and this process's parent is no longer it (it died: the workers
 * died with it, so MPI must not be called again).  Any thread. */
int ds_coord_launcher_gone(void);

#endif /* DS_COORD_H */
