#!/usr/bin/env bash
# A time limit under a real SLURM (tests/slurm/cluster.sh): `sbatch --time=1 --signal=TERM@40
# --requeue` with the self-requeueing script of experiments/slurm/long_campaign.sbatch.  SLURM
# sends SIGTERM to the job's steps before the limit; divsweep stops dispatching, commits, records
# its run `interrupted` and exits 3 well before the kill; the script sees 3 and requeues its own
# job, whose next start resumes the campaign to the end: every key once, bit-identical, one runs
# row per start with restart counts 0 and 1, and the job never reaches TIMEOUT.
#
# Timing, measured with slurm-wlm 22.05: slurmctld looks at time limits every 30 s (and sends a
# --signal warning up to 30 s early to make up for it), so with a fresh controller the warning
# arrives about 27 s after the job starts, whatever N in 30..55.  The campaign is 680 trials of
# 100 ms on 2 workers (34 s of work), so the warning always lands mid-campaign and the second
# start has a few seconds left.  The test takes about 45 s.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
slurm_up

cat > "$TMP/s.json" <<'J'
{"name": "tl", "task": "noop", "fixed": {"sleep_ms": 100},
 "sweep": {"x": {"linear": [0, 1], "points": 340}, "y": ["a", "b"]}, "seeds": 1}
J
N=680
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/s.json" --db "$REF" --quiet --threads 16 &
ref_pid=$!
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_tl ORDER BY trial_key"; }

A=$TMP/a.db
sed -e "s|^SPEC=.*|SPEC=$TMP/s.json|" -e "s|^DB=.*|DB=$A|" -e "s|^DIVSWEEP=.*|DIVSWEEP=$DS_BIN|" \
  "$DS_SRC/experiments/slurm/long_campaign.sbatch" > "$TMP/job.sh"
jid=$(sbatch --parsable -n 3 --time=1 --signal=TERM@40 --requeue -o "$TMP/a.out" --open-mode=append "$TMP/job.sh")
# The first start ends when divsweep has exited 3 and the script has requeued the job.
slurm_wait_state "$jid" RUNNING 30
for _ in $(seq 600); do
  [ "$(q "$A" "SELECT how_ended FROM runs WHERE run_id = 1" 2>/dev/null)" = interrupted ] && break
  sleep 0.1
done
slurm_wait_state "$jid" PENDING 30 || true
before=$(q "$A" "SELECT count(*) FROM trials WHERE status = 'done'")
check_true "time limit: the warning stopped the campaign mid-way ($before of $N done)" test "$before" -gt 0 -a "$before" -lt "$N"
check "time limit: the first start recorded interrupted, exit 3, restart 0" \
  "$(q "$A" "SELECT how_ended, exit_code, slurm_job_id, slurm_restart_count FROM runs WHERE run_id = 1")" "interrupted,3,$jid,0"
# A time limit of 1 min: the run must have ended (committed) well before it, not been killed at it.
check_true "time limit: divsweep ended before the limit ($(q "$A" "SELECT printf('%.1f', ended_at - started_at) FROM runs WHERE run_id = 1") s of 60)" \
  test "$(q "$A" "SELECT ended_at - started_at < 55 FROM runs WHERE run_id = 1")" = 1
check "time limit: the script requeued its own job" "$(slurm_job_field "$jid" JobState) $(slurm_job_field "$jid" Restarts)" "PENDING 1"
scontrol update JobId="$jid" StartTime=now || true
st=$(slurm_wait_job "$jid" 90 || true)
check "time limit: the requeued job completed, never TIMEOUT" "$st $(slurm_job_field "$jid" ExitCode)" "COMPLETED 0:0"
wait "$ref_pid"
check "time limit: one runs row per start, restart counts 0 and 1" \
  "$(q "$A" "SELECT group_concat(how_ended || ':' || ifnull(exit_code, '') || ':' || slurm_restart_count, ' ') FROM (SELECT * FROM runs ORDER BY run_id)")" \
  "interrupted:3:0 done:0:1"
check "time limit: every trial key exactly once, all done" "$(q "$A" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "$N,$N,$N"
check "time limit: results equal an uninterrupted run's bit for bit" "$(dump "$A" | md5sum)" "$(dump "$REF" | md5sum)"
finish
