/* launch.c — recognises the launcher and the SLURM job from the environment (ds_launch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_launch.h"

static void copy_env(char *dst, size_t n, const char *name) {
  const char *v = getenv(name);
  snprintf(dst, n, "%s", v ? v : "");
}

void ds_launch_detect(ds_launch_t *out, int under_mpi) {
  memset(out, 0, sizeof *out);
  const char *l = "local";
  if (under_mpi) {
    if (getenv("OMPI_COMM_WORLD_SIZE"))
      l = "mpirun";
    else if (getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID"))
      l = "srun";
    else
      l = "mpi";
  }
  snprintf(out->launcher, sizeof out->launcher, "%s", l);
  copy_env(out->slurm_job_id, sizeof out->slurm_job_id, "SLURM_JOB_ID");
  if (out->slurm_job_id[0]) {
    const char *rc = getenv("SLURM_RESTART_COUNT");
    out->slurm_restart_count = rc ? atoi(rc) : 0;
    copy_env(out->slurm_nodelist, sizeof out->slurm_nodelist, "SLURM_JOB_NODELIST");
  }
}

int ds_launch_refuse_unwired(int under_mpi, char *err, size_t err_len) {
  const char *n = getenv("SLURM_STEP_NUM_TASKS");
  if (under_mpi || !getenv("SLURM_STEP_ID") || !n || atoi(n) <= 1) return 0;
  snprintf(err, err_len,
           "srun started %d copies of divsweep without MPI between them (SLURM_STEP_NUM_TASKS=%d, no PMIx/PMI"
           " rank): run `srun --mpi=pmix ...` (or set MpiDefault=pmix), or run one task (`srun -n 1`, or"
           " divsweep alone in the batch script) for one process with worker threads",
           atoi(n), atoi(n));
  return 1;
}
