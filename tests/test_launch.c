/* test_launch.c — ds_launch_detect tells srun, mpirun (inside a SLURM job or not), another MPI
 * launcher and a local run apart, and reads the SLURM job's id, restart count and node list,
 * from environments as srun and mpirun set them (measured with slurm-wlm 22.05 and Open MPI 4.1:
 * srun gives SLURM_STEP_ID and SLURM_PROCID; mpirun's ranks inside a job carry both those, from
 * the srun that started mpirun's daemons, and OMPI_COMM_WORLD_SIZE). */
#include <stdlib.h>
#include <string.h>

#include "ds_launch.h"
#include "ds_test.h"

static const char *VARS[] = {"OMPI_COMM_WORLD_SIZE", "SLURM_STEP_ID", "SLURM_PROCID", "SLURM_JOB_ID",
                             "SLURM_RESTART_COUNT", "SLURM_JOB_NODELIST", "PMIX_RANK"};

static void clear_env(void) {
  for (size_t i = 0; i < sizeof VARS / sizeof *VARS; i++) unsetenv(VARS[i]);
}

static void a_process_outside_slurm_and_mpi_is_local_with_no_job(void) {
  clear_env();
  ds_launch_t l;
  ds_launch_detect(&l, 0);
  ASSERT_STREQ(l.launcher, "local");
  ASSERT_STREQ(l.slurm_job_id, "");
  ASSERT_STREQ(l.slurm_nodelist, "");
  ASSERT_EQ_INT(l.slurm_restart_count, 0);
}

static void srun_ranks_are_srun_with_job_restart_count_and_nodelist(void) {
  clear_env();
  setenv("SLURM_JOB_ID", "4242", 1);
  setenv("SLURM_STEP_ID", "0", 1);
  setenv("SLURM_PROCID", "0", 1);
  setenv("PMIX_RANK", "0", 1);
  setenv("SLURM_JOB_NODELIST", "node[01-04]", 1);
  ds_launch_t l;
  ds_launch_detect(&l, 1);
  ASSERT_STREQ(l.launcher, "srun");
  ASSERT_STREQ(l.slurm_job_id, "4242");
  ASSERT_STREQ(l.slurm_nodelist, "node[01-04]");
  ASSERT_EQ_INT(l.slurm_restart_count, 0); /* SLURM sets no SLURM_RESTART_COUNT on a first start */
  setenv("SLURM_RESTART_COUNT", "2", 1);
  ds_launch_detect(&l, 1);
  ASSERT_EQ_INT(l.slurm_restart_count, 2);
}

static void mpirun_inside_a_job_is_mpirun_although_srun_started_its_daemons(void) {
  clear_env();
  setenv("SLURM_JOB_ID", "7", 1);
  setenv("SLURM_STEP_ID", "1", 1);
  setenv("SLURM_PROCID", "0", 1);
  setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  ds_launch_t l;
  ds_launch_detect(&l, 1);
  ASSERT_STREQ(l.launcher, "mpirun");
  ASSERT_STREQ(l.slurm_job_id, "7");
}

static void another_mpi_launcher_outside_slurm_is_mpi(void) {
  clear_env();
  setenv("PMIX_RANK", "0", 1);
  ds_launch_t l;
  ds_launch_detect(&l, 1);
  ASSERT_STREQ(l.launcher, "mpi");
  ASSERT_STREQ(l.slurm_job_id, "");
}

static void a_batch_script_run_without_srun_is_local_inside_its_job(void) {
  clear_env();
  setenv("SLURM_JOB_ID", "9", 1);
  setenv("SLURM_JOB_NODELIST", "n1", 1);
  ds_launch_t l;
  ds_launch_detect(&l, 0);
  ASSERT_STREQ(l.launcher, "local");
  ASSERT_STREQ(l.slurm_job_id, "9");
  ASSERT_STREQ(l.slurm_nodelist, "n1");
}

static void several_srun_copies_without_mpi_are_refused_and_one_task_is_not(void) {
  clear_env();
  char err[512] = "";
  ASSERT_EQ_INT(ds_launch_refuse_unwired(0, err, sizeof err), 0); /* no SLURM at all */
  setenv("SLURM_STEP_ID", "0", 1);
  setenv("SLURM_STEP_NUM_TASKS", "1", 1);
  ASSERT_EQ_INT(ds_launch_refuse_unwired(0, err, sizeof err), 0); /* srun -n 1: a local run */
  setenv("SLURM_STEP_NUM_TASKS", "3", 1);
  ASSERT_EQ_INT(ds_launch_refuse_unwired(1, err, sizeof err), 0); /* srun --mpi=pmix -n 3 */
  ASSERT_STREQ(err, "");
  ASSERT_EQ_INT(ds_launch_refuse_unwired(0, err, sizeof err), 1); /* srun -n 3, no MPI */
  ASSERT_CONTAINS(err, "srun --mpi=pmix");
  ASSERT_CONTAINS(err, "SLURM_STEP_NUM_TASKS=3");
  unsetenv("SLURM_STEP_ID"); /* the batch step: SLURM_NTASKS may be 3, but no step variables */
  ASSERT_EQ_INT(ds_launch_refuse_unwired(0, err, sizeof err), 0);
  unsetenv("SLURM_STEP_NUM_TASKS");
}

int main(void) {
  RUN_TEST(several_srun_copies_without_mpi_are_refused_and_one_task_is_not);
  RUN_TEST(a_process_outside_slurm_and_mpi_is_local_with_no_job);
  RUN_TEST(srun_ranks_are_srun_with_job_restart_count_and_nodelist);
  RUN_TEST(mpirun_inside_a_job_is_mpirun_although_srun_started_its_daemons);
  RUN_TEST(another_mpi_launcher_outside_slurm_is_mpi);
  RUN_TEST(a_batch_script_run_without_srun_is_local_inside_its_job);
  return ds_test_exit();
}
