#!/usr/bin/env bash
# Trial faults with real ranks (mpiexec -np 3) and real database files, asserted on the database:
# a per-trial timeout fails only that trial and the rank carries on (cooperative cancellation);
# NaN/Inf metrics and task errors mark the trial failed with its message and store no metrics;
# retries re-run a trial with attempts counted and can succeed; permanent failures end the
# campaign with exit 4, a summary on stderr and the run recorded as failed; under isolation
# "process" a segfault, an abort or a hang fails that trial only and the campaign completes.
. "$(dirname "$0")/lib.sh"

run() { # run SPEC DB -> sets rc, out
  set +e; out=$(mpi 3 "$DS_BIN" run "$1" --db "$2" 2>&1); rc=$?; set -e
}

# --- thread isolation: timeouts, NaN, Inf, task errors, no retries ---
cat > "$TMP/t.json" <<'J'
{"name": "t", "task": "noop", "fixed": {"hang_rate": 0.1, "nan_rate": 0.1, "inf_rate": 0.1, "fail_rate": 0.1},
 "sweep": {"x": {"linear": [0, 1], "points": 40}}, "seeds": 2,
 "trial": {"timeout_s": 0.2, "retries": 0}}
J
D=$TMP/t.db
run "$TMP/t.json" "$D"
check "permanent failures: exit code 4" "$rc" 4
check_true "permanent failures: a summary names the count and the query" grep -q "trials failed permanently; see: divsweep query" <<<"$out"
check "every trial is done or failed, none running" "$(q "$D" "SELECT count(*) FROM trials WHERE status IN ('done','failed')")" 80
check_true "some trials timed out" test "$(q "$D" "SELECT count(*) FROM trials WHERE error = 'timed out after 0.2 s'")" -gt 0
check_true "timed-out trials took about their timeout" test "$(q "$D" "SELECT count(*) FROM trials WHERE error LIKE 'timed out%' AND (wall_s < 0.19 OR wall_s > 2)")" -eq 0
check_true "NaN metrics fail the trial with the metric's name" test "$(q "$D" "SELECT count(*) FROM trials WHERE error = 'metric value is NaN'")" -gt 0
check_true "Inf metrics fail the trial" test "$(q "$D" "SELECT count(*) FROM trials WHERE error = 'metric value is infinite'")" -gt 0
check_true "task errors keep their message" test "$(q "$D" "SELECT count(*) FROM trials WHERE error = 'injected failure'")" -gt 0
check "failed trials store no metrics" "$(q "$D" "SELECT count(*) FROM metrics m JOIN trials t USING(trial_id) WHERE t.status = 'failed'")" 0
check "failed trials keep their 5 parameters" "$(q "$D" "SELECT (SELECT count(*) FROM params JOIN trials USING(trial_id) WHERE status = 'failed') = 5 * (SELECT count(*) FROM trials WHERE status = 'failed')")" 1
# The rank survives a timeout: trials that ran on the same rank after a timed-out one finished.
check "ranks survive timeouts (done trials after a timeout on the same rank)" "$(q "$D" "SELECT count(*) > 0 FROM trials a JOIN trials b ON a.rank = b.rank WHERE a.error LIKE 'timed out%' AND b.status = 'done' AND b.started_at > a.finished_at")" 1
check "run recorded as failed with exit 4" "$(q "$D" "SELECT how_ended, exit_code FROM runs")" "failed,4"
check "campaign marked failed" "$(q "$D" "SELECT status FROM campaigns")" failed
check "done trials have finite metrics" "$(q "$D" "SELECT count(*) FROM metrics WHERE value IS NULL OR value != value OR abs(value) > 1e300")" 0
# Rerunning a campaign whose failures are permanent runs nothing and still says 4.
run "$TMP/t.json" "$D"
check "rerun of a failed campaign: exit 4, nothing re-run" "$rc,$(q "$D" "SELECT trials_done + trials_failed FROM runs ORDER BY run_id DESC LIMIT 1")" "4,0"

# --- retries: faults are drawn per attempt, so a retry can succeed ---
cat > "$TMP/r.json" <<'J'
{"name": "r", "task": "noop", "fixed": {"fail_rate": 0.5},
 "sweep": {"x": {"linear": [0, 1], "points": 100}}, "seeds": 1, "trial": {"retries": 3}}
J
R=$TMP/r.db
run "$TMP/r.json" "$R"
check "retries: attempts never exceed retries + 1" "$(q "$R" "SELECT max(attempts) <= 4 FROM trials")" 1
check_true "retries: some trials succeeded on a later attempt" test "$(q "$R" "SELECT count(*) FROM trials WHERE status = 'done' AND attempts > 1")" -gt 10
check "retries: a failed trial used all its attempts" "$(q "$R" "SELECT count(*) FROM trials WHERE status = 'failed' AND attempts != 4")" 0
# Expected from the draws: P(fail 4 times) = 1/16, so about 6 of 100 fail for good.
check_true "retries: few permanent failures ($(q "$R" "SELECT count(*) FROM trials WHERE status='failed'"))" test "$(q "$R" "SELECT count(*) FROM trials WHERE status = 'failed'")" -lt 20
if [ "$(q "$R" "SELECT count(*) FROM trials WHERE status='failed'")" -gt 0 ]; then check "retries: exit 4" "$rc" 4; else check "retries: exit 0" "$rc" 0; fi
# The same campaign again gives the same attempts and outcomes (draws depend on key and attempt).
R2=$TMP/r2.db
run "$TMP/r.json" "$R2"
outcome() { q "$1" "SELECT trial_key, status, attempts FROM trials ORDER BY trial_key"; }
check "retries: outcomes and attempts are reproducible" "$(outcome "$R2" | md5sum)" "$(outcome "$R" | md5sum)"

# --- isolation "process": segfaults, aborts and hangs fail one trial each, never the rank ---
cat > "$TMP/p.json" <<'J'
{"name": "p", "task": "noop", "fixed": {"crash_rate": 0.1, "abort_rate": 0.1, "hang_rate": 0.05},
 "sweep": {"x": {"linear": [0, 1], "points": 40}}, "seeds": 2,
 "trial": {"timeout_s": 0.5, "retries": 0, "isolation": "process"}}
J
P=$TMP/p.db
run "$TMP/p.json" "$P"
check "process isolation: the campaign completes (exit 4, every trial recorded)" "$rc,$(q "$P" "SELECT count(*) FROM trials WHERE status IN ('done','failed')")" "4,80"
check_true "process isolation: segfaults fail their trial" test "$(q "$P" "SELECT count(*) FROM trials WHERE error LIKE 'trial process crashed (signal 11%'")" -gt 0
check_true "process isolation: aborts fail their trial" test "$(q "$P" "SELECT count(*) FROM trials WHERE error LIKE 'trial process crashed (signal 6%'")" -gt 0
check_true "process isolation: hangs time out" test "$(q "$P" "SELECT count(*) FROM trials WHERE error LIKE '%timed out%'")" -gt 0
check "process isolation: both ranks ran trials to the end" "$(q "$P" "SELECT count(DISTINCT rank) FROM trials WHERE status = 'done'")" 2
check "process isolation: no running rows" "$(q "$P" "SELECT count(*) FROM trials WHERE status IN ('running','pending')")" 0
# The same spec without isolation: the first segfault takes the job down (that is what it is for).
finish
