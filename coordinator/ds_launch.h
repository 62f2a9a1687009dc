/* ds_launch.h — how this process was started: by srun (SLURM's own launcher), by Open MPI's
 * mpirun (inside a SLURM job or not), by another MPI launcher, or as one local process; and,
 * inside a SLURM job, the job's id, restart count and node list.  The coordinator records it in
 * its runs row (store schema 4), so that a campaign requeued n times shows n + 1 rows that say
 * which start of which job each was.
 */
#ifndef DS_LAUNCH_H
#define DS_LAUNCH_H

#include <stddef.h>

typedef struct ds_launch {
  char launcher[16];        /* "srun", "mpirun", "mpi" (another MPI launcher) or "local" */
  char slurm_job_id[32];    /* SLURM_JOB_ID; "" outside a SLURM job */
  int slurm_restart_count;  /* SLURM_RESTART_COUNT, 0 when SLURM does not set it (first start) */
  char slurm_nodelist[512]; /* SLURM_JOB_NODELIST as SLURM writes it ("n[01-04]"), "" when unset */
} ds_launch_t;

/* Fills *out from this process's environment.  under_mpi: whether the process runs as one rank
 * of several (MPI initialised with more than one rank).  mpirun is recognised by the variables it
 * gives every rank (OMPI_COMM_WORLD_SIZE), srun by SLURM_STEP_ID with SLURM_PROCID and no
 * mpirun variables: mpirun inside a job starts its daemons with srun, so its ranks also carry
 * SLURM step variables, and the mpirun test comes first.  Never fails; any thread. */
void ds_launch_detect(ds_launch_t *out, int under_mpi);

/* Refuses (returns 1, one line in err) a run that is one of several copies srun started without
 * MPI wiring: not under MPI (under_mpi 0) inside an srun step of more than one task
 * (SLURM_STEP_NUM_TASKS > 1 with SLURM_STEP_ID set).  Each copy would otherwise run the whole
 * campaign on its own, all but one refused by the database lock (exit 2), the one left doing
 * every trial alone.  Returns 0 otherwise, err untouched.  Any thread. */
int ds_launch_refuse_unwired(int under_mpi, char *err, size_t err_len);

/* ---- the job's end: the deadline guard (coord.c) ------------------------------------------- */

/* Parses a --deadline value into a Unix time in *out: an ISO-8601 time ("2026-12-02T15:00:00Z",
 * with "+01:00"-style offsets, or without a zone: local time; seconds optional, 'T' or ' '), or a
 * span from now: "+SECONDS" (fractions allowed), "+MM:SS" or "+HH:MM:SS".  now: the current Unix
 * time.  Returns 0, or −1 (*out untouched) for anything else.  Any thread. */
int ds_launch_parse_deadline(const char *s, double now, double *out);

/* Seconds in squeue's %L ("time left": "SS", "MM:SS", "H:MM:SS", "D-HH:MM:SS"), or −1 for
 * "UNLIMITED", "NOT_SET", "INVALID" or anything unparsable.  Any thread. */
double ds_launch_parse_time_left(const char *s);

/* Inside a SLURM job (job_id not empty): the job's end as a Unix time in *out, from one call of
 * `squeue -h -j JOBID -o %L` (time left, so that no time zone is involved; slurm 22.05 sets no
 * SLURM_JOB_END_TIME).  Returns 0; 1 when the job has no time limit; −1 when squeue cannot tell
 * (not installed, the job unknown).  On 1 and −1 why says which in one line, *out untouched.  Runs a child process: the main thread, before other
 * threads start. */
int ds_launch_slurm_deadline(const char *job_id, double now, double *out, char *why, size_t why_len);

#endif
