#!/usr/bin/env bash
# The deadline guard under a real SLURM (tests/slurm/cluster.sh): `sbatch --time=1 --requeue`,
# no --signal, with the self-requeueing experiments/slurm/long_campaign.sbatch.  divsweep reads
# the job's time left once at start (squeue -o %L) and hands out no trial that would not end
# before it: trials of 15 s on 2 workers run in rounds at 0, 15 and 30 s; the round at 45 s would
# end after the limit's 60 s less the 1 s margin, so the first start ends `deadline` with 6 of 8
# trials done and exits 3 at about 45 s, before slurmctld's time limit (checked every 30 s from
# 60 s on) could signal it; the script requeues the job, whose second start finishes the last
# two trials.  Every key once, bit-identical; the job never reaches TIMEOUT.  About 75 s.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
slurm_up

cat > "$TMP/s.json" <<'J'
{"name": "dl", "task": "noop", "fixed": {"sleep_ms": 15000},
 "sweep": {"x": {"linear": [0, 1], "points": 4}, "y": ["a", "b"]}, "seeds": 1}
J
N=8
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/s.json" --db "$REF" --quiet --threads 8 &
ref_pid=$!
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_dl ORDER BY trial_key"; }

A=$TMP/a.db
# Without the template's --signal line: what ends the first start here is the guard alone.
sed -e "s|^SPEC=.*|SPEC=$TMP/s.json|" -e "s|^DB=.*|DB=$A|" -e "s|^DIVSWEEP=.*|DIVSWEEP=$DS_BIN|" \
  -e "/^#SBATCH --signal/d" "$DS_SRC/experiments/slurm/long_campaign.sbatch" > "$TMP/job.sh"
jid=$(sbatch --parsable -n 3 --time=1 --requeue -o "$TMP/a.out" --open-mode=append "$TMP/job.sh")
slurm_wait_state "$jid" RUNNING 30
for _ in $(seq 900); do
  [ "$(q "$A" "SELECT how_ended FROM runs WHERE run_id = 1" 2>/dev/null)" = deadline ] && break
  sleep 0.1
done
slurm_wait_state "$jid" PENDING 30 || true
check "deadline: the first start ended 'deadline', exit 3, restart 0" \
  "$(q "$A" "SELECT how_ended || ':' || exit_code || ':' || slurm_job_id || ':' || slurm_restart_count FROM runs WHERE run_id = 1")" "deadline:3:$jid:0"
check "deadline: three rounds of 2 trials fitted in the time limit, none was started and cut off" \
  "$(q "$A" "SELECT sum(status = 'done') || ':' || sum(status <> 'done') FROM trials")" "6:0"
check_true "deadline: the guard used the job's limit: it ended after 40 s, before 59 s ($(q "$A" "SELECT printf('%.1f', ended_at - started_at) FROM runs WHERE run_id = 1") s)" \
  test "$(q "$A" "SELECT ended_at - started_at BETWEEN 40 AND 59 FROM runs WHERE run_id = 1")" = 1
check "deadline: the script requeued its own job" "$(slurm_job_field "$jid" JobState) $(slurm_job_field "$jid" Restarts)" "PENDING 1"
scontrol update JobId="$jid" StartTime=now || true
st=$(slurm_wait_job "$jid" 90 || true)
check "deadline: the requeued job completed, never TIMEOUT" "$st $(slurm_job_field "$jid" ExitCode)" "COMPLETED 0:0"
wait "$ref_pid"
check "deadline: one runs row per start" \
  "$(q "$A" "SELECT group_concat(how_ended || ':' || ifnull(exit_code, '') || ':' || slurm_restart_count, ' ') FROM (SELECT * FROM runs ORDER BY run_id)")" \
  "deadline:3:0 done:0:1"
check "deadline: every trial key exactly once, all done" "$(q "$A" "SELECT count(*) || ':' || count(DISTINCT trial_key) || ':' || sum(status = 'done') FROM trials")" "$N:$N:$N"
check "deadline: results equal an uninterrupted run's bit for bit" "$(dump "$A" | md5sum)" "$(dump "$REF" | md5sum)"
finish
