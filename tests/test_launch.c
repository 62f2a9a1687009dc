/* test_launch.c — ds_launch_detect tells srun, mpirun (inside a SLURM job or not), another MPI
 * launcher and a local run apart, and reads the SLURM job's id, restart count and node list,
 * from environments as srun and mpirun set them (measured with slurm-wlm 22.05 and Open MPI 4.1:
 * srun gives SLURM_STEP_ID and SLURM_PROCID; mpirun's ranks inside a job carry both those, from
 * the srun that started mpirun's daemons, and OMPI_COMM_WORLD_SIZE). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void deadlines_parse_as_iso_times_with_zones_or_spans_from_now(void) {
  double t = -1, now = 1000.25;
  ASSERT_EQ_INT(ds_launch_parse_deadline("2026-12-02T15:00:00Z", now, &t), 0);
  ASSERT_TRUE(t == 1796223600.0);
  ASSERT_EQ_INT(ds_launch_parse_deadline("2026-12-02T16:00:00+01:00", now, &t), 0);
  ASSERT_TRUE(t == 1796223600.0);
  ASSERT_EQ_INT(ds_launch_parse_deadline("2026-12-02 10:30-0430", now, &t), 0);
  ASSERT_TRUE(t == 1796223600.0);
  setenv("TZ", "UTC", 1);
  tzset();
  ASSERT_EQ_INT(ds_launch_parse_deadline("2026-12-02T15:00", now, &t), 0); /* local time */
  ASSERT_TRUE(t == 1796223600.0);
  ASSERT_EQ_INT(ds_launch_parse_deadline("+90", now, &t), 0);
  ASSERT_TRUE(t == 1090.25);
  ASSERT_EQ_INT(ds_launch_parse_deadline("+1.5", now, &t), 0);
  ASSERT_TRUE(t == 1001.75);
  ASSERT_EQ_INT(ds_launch_parse_deadline("+01:02:03", now, &t), 0);
  ASSERT_TRUE(t == now + 3723);
  t = -1;
  static const char *bad[] = {"", "+", "+1:2:3:4", "+-5", "tomorrow", "2026-12-02", "2026-13-02T00:00Z",
                              "2026-12-02T15:00:00 CET", "2026-12-02T15:00:00+x", NULL};
  for (int i = 0; bad[i]; i++) ASSERT_EQ_INT(ds_launch_parse_deadline(bad[i], now, &t), -1);
  ASSERT_TRUE(t == -1);
}

static void squeue_time_left_parses_in_all_its_forms(void) {
  ASSERT_TRUE(ds_launch_parse_time_left("45") == 45);
  ASSERT_TRUE(ds_launch_parse_time_left("1:00\n") == 60);
  ASSERT_TRUE(ds_launch_parse_time_left("2:03:04") == 7384);
  ASSERT_TRUE(ds_launch_parse_time_left("1-00:00:10") == 86410);
  ASSERT_TRUE(ds_launch_parse_time_left("UNLIMITED") == -1);
  ASSERT_TRUE(ds_launch_parse_time_left("NOT_SET") == -1);
  ASSERT_TRUE(ds_launch_parse_time_left("INVALID") == -1);
  ASSERT_TRUE(ds_launch_parse_time_left("") == -1);
}

int main(void) {
  RUN_TEST(deadlines_parse_as_iso_times_with_zones_or_spans_from_now);
  RUN_TEST(squeue_time_left_parses_in_all_its_forms);
  RUN_TEST(several_srun_copies_without_mpi_are_refused_and_one_task_is_not);
  RUN_TEST(a_process_outside_slurm_and_mpi_is_local_with_no_job);
  RUN_TEST(srun_ranks_are_srun_with_job_restart_count_and_nodelist);
  RUN_TEST(mpirun_inside_a_job_is_mpirun_although_srun_started_its_daemons);
  RUN_TEST(another_mpi_launcher_outside_slurm_is_mpi);
  RUN_TEST(a_batch_script_run_without_srun_is_local_inside_its_job);
  return ds_test_exit();
}
