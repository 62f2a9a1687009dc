#!/usr/bin/env bash
# divsweep under a real SLURM (tests/slurm/cluster.sh: slurmctld + slurmd + munged on this
# machine): sbatch scripts that launch the campaign with `srun --mpi=pmix -n 3` and with
# `mpirun -np 3` inside the allocation.  Each must complete the campaign (every trial done once,
# results bit-identical to a one-process run), record how it was launched in its runs row
# (launcher, SLURM_JOB_ID, restart count, node list), and hand divsweep's exit code to SLURM
# (srun's exit code is the job's: 0 done, 4 trials failed, 1 refused).  Also the shipped
# experiments/slurm/cpu_campaign.sbatch, srun without MPI wiring (refused), and divsweep alone in
# the batch script.  All jobs are submitted at once (the node declares 16 CPUs) and run side by
# side; each check waits for its own job.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
slurm_up

cat > "$TMP/s.json" <<'J'
{"name": "sl", "task": "noop", "fixed": {"sleep_ms": 5},
 "sweep": {"x": {"linear": [0, 1], "points": 60}}, "seeds": 1}
J
cat > "$TMP/f.json" <<'J'
{"name": "fl", "task": "noop", "fixed": {"fail_rate": 1},
 "sweep": {"x": {"linear": [0, 1], "points": 6}}, "seeds": 1, "trial": {"retries": 0}}
J
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_sl ORDER BY trial_key"; }

# submit LAUNCH SPEC DB: submits a batch script that runs the campaign into $TMP/DB with LAUNCH
# (3 tasks; 1 when LAUNCH is empty) and prints the job id.
submit() {
  cat > "$TMP/job_$3.sh" <<J
#!/bin/bash
$1 "$DS_BIN" run "$2" --db "$TMP/$3" --quiet
J
  local n=3
  [ -z "$1" ] && n=1
  sbatch --parsable -n $n -o "$TMP/$3.out" "$TMP/job_$3.sh"
}
# job JOBID: waits for the job to end, prints its id.
job() { slurm_wait_job "$1" 90 >/dev/null || true; echo "$1"; }

sed -e "s|^SPEC=.*|SPEC=$TMP/s.json|" -e "s|^DB=.*|DB=$TMP/t.db|" -e "s|^DIVSWEEP=.*|DIVSWEEP=$DS_BIN|" \
  "$DS_SRC/experiments/slurm/cpu_campaign.sbatch" > "$TMP/cpu.sbatch"
j_srun=$(submit "srun --mpi=pmix -n 3" "$TMP/s.json" a.db)
j_fail=$(submit "srun --mpi=pmix -n 3" "$TMP/f.json" f.db)
j_mpirun=$(submit "$DS_MPIEXEC -np 3" "$TMP/s.json" m.db)
j_unwired=$(submit "srun -n 3" "$TMP/s.json" u.db)
j_alone=$(submit "" "$TMP/s.json" b.db)
j_tmpl=$(sbatch --parsable -n 3 -o "$TMP/t.out" "$TMP/cpu.sbatch")
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/s.json" --db "$REF" --quiet --threads 2

# --- srun --mpi=pmix -n 3 ---------------------------------------------------------------------
jid=$(job "$j_srun")
A=$TMP/a.db
check "srun: the job completed with exit code 0" "$(slurm_job_field "$jid" JobState) $(slurm_job_field "$jid" ExitCode)" "COMPLETED 0:0"
check "srun: every trial done exactly once" "$(q "$A" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "60,60,60"
check "srun: trials ran on both worker ranks" "$(q "$A" "SELECT count(DISTINCT rank) FROM trials")" 2
check "srun: results equal a one-process run's bit for bit" "$(dump "$A" | md5sum)" "$(dump "$REF" | md5sum)"
check "srun: the runs row records launcher, job id, restart count, node list" \
  "$(q "$A" "SELECT how_ended, exit_code, ranks, launcher, slurm_job_id, slurm_restart_count, slurm_nodelist FROM runs")" \
  "done,0,3,srun,$jid,0,$SLURM_NODE"

# --- srun's exit code is divsweep's: 4 when trials fail permanently ----------------------------
jid=$(job "$j_fail")
check "srun: failed trials make the job fail with divsweep's exit code 4" "$(slurm_job_field "$jid" JobState) $(slurm_job_field "$jid" ExitCode)" "FAILED 4:0"
check "srun: the failed campaign's runs row" "$(q "$TMP/f.db" "SELECT exit_code, trials_failed, launcher FROM runs")" "4,6,srun"

# --- mpirun -np 3 inside the allocation ----------------------------------------------------------
jid=$(job "$j_mpirun")
M=$TMP/m.db
check "mpirun in a job: the job completed with exit code 0" "$(slurm_job_field "$jid" JobState) $(slurm_job_field "$jid" ExitCode)" "COMPLETED 0:0"
check "mpirun in a job: every trial done exactly once" "$(q "$M" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "60,60,60"
check "mpirun in a job: results equal a one-process run's bit for bit" "$(dump "$M" | md5sum)" "$(dump "$REF" | md5sum)"
check "mpirun in a job: the runs row records launcher, job id, restart count, node list" \
  "$(q "$M" "SELECT how_ended, exit_code, ranks, launcher, slurm_job_id, slurm_restart_count, slurm_nodelist FROM runs")" \
  "done,0,3,mpirun,$jid,0,$SLURM_NODE"

# --- the shipped template, experiments/slurm/cpu_campaign.sbatch (-n 3 overrides its --ntasks) --
jid=$(job "$j_tmpl")
check "cpu_campaign.sbatch: completed, every trial done once, bit-identical" \
  "$(slurm_job_field "$jid" ExitCode) $(q "$TMP/t.db" "SELECT count(DISTINCT trial_key), sum(status = 'done') FROM trials") $(dump "$TMP/t.db" | md5sum)" \
  "0:0 60,60 $(dump "$REF" | md5sum)"

# --- srun without MPI wiring starts 3 separate copies: refused, nothing created ------------------
jid=$(job "$j_unwired")
check "srun without --mpi: every copy refuses with exit 1, before creating the database" \
  "$(slurm_job_field "$jid" ExitCode) $(grep -c 'without MPI between them' "$TMP/u.db.out") $(test -e "$TMP/u.db" && echo created || echo absent)" \
  "1:0 3 absent"

# --- divsweep alone in the batch script: one process with threads, inside the job --------------
jid=$(job "$j_alone")
check "batch script alone: local run, done, job recorded" \
  "$(slurm_job_field "$jid" ExitCode) $(q "$TMP/b.db" "SELECT how_ended, launcher, ranks, slurm_job_id, slurm_nodelist FROM runs")" \
  "0:0 done,local,1,$jid,$SLURM_NODE"

# --- outside SLURM: launcher recorded, SLURM columns NULL ---------------------------------------
(unset SLURM_CONF; "$DS_BIN" run "$TMP/s.json" --db "$TMP/l.db" --quiet --threads 2)
check "a local run records launcher local and no job" "$(q "$TMP/l.db" "SELECT launcher, slurm_job_id IS NULL, slurm_restart_count IS NULL FROM runs")" "local,1,1"
mpi 3 "$DS_BIN" run "$TMP/s.json" --db "$TMP/p.db" --quiet
check "mpirun outside SLURM records launcher mpirun and no job" "$(q "$TMP/p.db" "SELECT launcher, slurm_job_id IS NULL FROM runs")" "mpirun,1"
finish
