/* ds_coord.h — the coordinator of a campaign run (rank 0, or the only process).
 *
 * ds_coord_run() loads the spec, opens the store, creates or resumes the campaign, and then runs
 * two threads: a dispatcher that owns all MPI traffic (or, with one rank, feeds in-process worker
 * threads) and the libuv loop on the calling thread, which owns the store: it writes results in
 * batched transactions (a commit at least every 200 ms), draws the progress line, and handles
 * SIGINT/SIGTERM (first: stop dispatching, collect what arrives within about a second, commit,
 * record the run as interrupted, exit 3; second: exit at once).
 */
#ifndef DS_COORD_H
#define DS_COORD_H

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
  const ds_spec_opts_t *spec_opts;
  /* run: the checks `validate` makes on the spec file beyond ds_spec_load's (parameter names
   * before it, whole-spec checks after; phase 0 and 1).  0 or an error with one line in err.
   * NULL: none. */
  int (*spec_check)(const char *path, int phase, char *err, size_t err_len);
  /* MPI: comm is &MPI_COMM_WORLD (as void*) when size > 1, else NULL for local mode. */
  void *mpi_comm;
  int mpi_size;
  char **hosts;              /* host name per rank (mpi_size entries), or NULL */
  int *gpus;                 /* CUDA device per rank (mpi_size entries; local mode: 1), −1 none;
                                or NULL (no GPU anywhere).  Recorded in runs.gpus. */
  ds_local_trial_fn local_fn;
  void *local_arg;
} ds_run_opts_t;

/* Runs (or resumes) a campaign to completion or interruption.  Returns a process exit code
 * (DS_EXIT_*: 0 done, 1 usage/spec error, 2 store error, 3 interrupted, 4 trials failed) and
 * prints one clear line on error.  *abandoned is set when workers did not acknowledge the stop in
 * time (the caller should MPI_Abort with the exit code). */
int ds_coord_run(const ds_run_opts_t *o, int *abandoned);

#endif /* DS_COORD_H */
