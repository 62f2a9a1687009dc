#!/usr/bin/env bash
# Preemption and requeue under a real SLURM (tests/slurm/cluster.sh), with the launcher given as
# the first argument (srun: `srun --mpi=pmix -n 3`, the default; mpirun: `mpirun -np 3` inside
# the allocation).
#   1. `sbatch --requeue`, then `scontrol requeue JOBID` mid-campaign: SLURM signals every process
#      of the job; divsweep commits and records its run `interrupted` (exit 3); the job restarts
#      with the same id (SLURM holds it ~120 s, Reason=BeginTime, which the test lifts with
#      `scontrol update StartTime=now`) and the same command resumes.  At the end: every trial
#      key once, results bit-identical to an uninterrupted run, one runs row per start, each with
#      the job id and its restart count (0, then 1).
#   2. `scancel --signal=TERM JOBID` (with --full for mpirun, which runs in the batch step): the job ends with exit code 3 (resumable;
#      under mpirun the job's status is the batch shell's/mpirun's, and runs holds the 3);
#      resubmitting the same script finishes the campaign, bit-identical again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
LAUNCH=${1:-srun}
case "$LAUNCH" in
  srun) L="srun --mpi=pmix -n 3"; SCANCEL=() ;;
  # mpirun runs in the batch step, which a plain `scancel --signal` does not signal: --full
  # signals the batch script and every step, as a time limit or a preemption does.
  mpirun) L="$DS_MPIEXEC -np 3"; SCANCEL=(--full) ;;
  *) echo "usage: $0 [srun|mpirun]"; exit 1 ;;
esac
slurm_up

cat > "$TMP/s.json" <<'J'
{"name": "rq", "task": "noop", "fixed": {"sleep_ms": 25},
 "sweep": {"x": {"linear": [0, 1], "points": 160}, "y": ["a", "b"]}, "seeds": 1}
J
N=320
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/s.json" --db "$REF" --quiet --threads 4 &
ref_pid=$!
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_rq ORDER BY trial_key"; }

script() { # script DB: a batch script that runs (or resumes) the campaign into DB
  cat > "$TMP/job_$1.sh" <<J
#!/bin/bash
$L "$DS_BIN" run "$TMP/s.json" --db "$TMP/$1" --quiet
J
  echo "$TMP/job_$1.sh"
}

# wait_runs DB N HOW: waits (up to 30 s) until run N of DB has ended HOW.
wait_runs() {
  local i
  for i in $(seq 300); do
    [ "$(q "$1" "SELECT how_ended FROM runs WHERE run_id = $2" 2>/dev/null)" = "$3" ] && return 0
    sleep 0.1
  done
  echo "wait_runs: run $2 of $1 is [$(q "$1" "SELECT how_ended FROM runs WHERE run_id = $2" 2>/dev/null)], not $3" >&2
  return 1
}

# Both jobs run side by side (the node declares 16 CPUs): A is requeued, B cancelled with TERM.
A=$TMP/a.db
B=$TMP/b.db
jid=$(sbatch --parsable --requeue -n 3 -o "$TMP/a.out" --open-mode=append "$(script a.db)")
jb=$(sbatch --parsable -n 3 -o "$TMP/b.out" "$(script b.db)")
wait_done "$A" 40
scontrol requeue "$jid"
wait_done "$B" 40
scancel --signal=TERM "${SCANCEL[@]}" "$jb"

# --- 1. scontrol requeue -------------------------------------------------------------------------
wait_runs "$A" 1 interrupted || true
slurm_wait_state "$jid" PENDING 30 || true
before=$(q "$A" "SELECT count(*) FROM trials WHERE status = 'done'")
check_true "requeue: the campaign was interrupted mid-way ($before of $N done)" test "$before" -gt 0 -a "$before" -lt "$N"
check "requeue: the first start recorded interrupted, exit 3, restart 0" \
  "$(q "$A" "SELECT how_ended, exit_code, launcher, slurm_job_id, slurm_restart_count FROM runs WHERE run_id = 1")" \
  "interrupted,3,$LAUNCH,$jid,0"
check "requeue: nothing left running or pending" "$(q "$A" "SELECT count(*) FROM trials WHERE status IN ('running','pending')")" 0
scontrol update JobId="$jid" StartTime=now || true

# --- 2. scancel --signal=TERM, then resubmission ---------------------------------------------------
st=$(slurm_wait_job "$jb" 30 || true)
before=$(q "$B" "SELECT count(*) FROM trials WHERE status = 'done'")
check_true "scancel TERM: the campaign stopped mid-way ($before of $N done)" test "$before" -gt 0 -a "$before" -lt "$N"
if [ "$LAUNCH" = mpirun ]; then
  # --full signals the batch shell and mpirun too: the job's status is theirs (0:15 or 1:0, see
  # docs/running.md, Stopping a run); divsweep's own code is in table runs (checked next).
  check "scancel TERM: the job failed (the batch shell's and mpirun's status)" "$st" FAILED
else
  check "scancel TERM: the job ended with divsweep's exit code 3 (resumable)" "$st $(slurm_job_field "$jb" ExitCode)" "FAILED 3:0"
fi
check "scancel TERM: the run recorded interrupted" "$(q "$B" "SELECT how_ended, exit_code, slurm_job_id FROM runs")" "interrupted,3,$jb"
jb2=$(sbatch --parsable -n 3 -o "$TMP/b.out" --open-mode=append "$TMP/job_b.db.sh")

# --- the requeued job and the resubmitted one finish the campaigns ---------------------------------
wait "$ref_pid"
st=$(slurm_wait_job "$jid" 90 || true)
check "requeue: the same job restarted once and completed" "$st $(slurm_job_field "$jid" Restarts) $(slurm_job_field "$jid" ExitCode)" "COMPLETED 1 0:0"
check "requeue: one runs row per start, same job id, restart counts 0 and 1" \
  "$(q "$A" "SELECT group_concat(how_ended || ':' || ifnull(exit_code, '') || ':' || slurm_job_id || ':' || slurm_restart_count, ' ') FROM (SELECT * FROM runs ORDER BY run_id)")" \
  "interrupted:3:$jid:0 done:0:$jid:1"
check "requeue: every trial key exactly once, all done" "$(q "$A" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "$N,$N,$N"
check "requeue: results equal an uninterrupted run's bit for bit" "$(dump "$A" | md5sum)" "$(dump "$REF" | md5sum)"
check "requeue: the two starts together did every trial once" "$(q "$A" "SELECT sum(trials_done) FROM runs")" "$N"

st=$(slurm_wait_job "$jb2" 90 || true)
check "resubmitted: the new job completed" "$st $(slurm_job_field "$jb2" ExitCode)" "COMPLETED 0:0"
check "resubmitted: one runs row per job" "$(q "$B" "SELECT group_concat(how_ended || ':' || slurm_job_id, ' ') FROM (SELECT * FROM runs ORDER BY run_id)")" "interrupted:$jb done:$jb2"
check "resubmitted: every trial key exactly once, all done" "$(q "$B" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "$N,$N,$N"
check "resubmitted: results equal an uninterrupted run's bit for bit" "$(dump "$B" | md5sum)" "$(dump "$REF" | md5sum)"
finish
