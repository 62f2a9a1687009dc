#!/usr/bin/env bash
# Whole campaigns under mpiexec with 3 ranks on temporary databases: row counts and statuses by
# SQL, rerun runs nothing, kill -9 of the whole job then rerun completes with results equal to an
# uninterrupted run, SIGTERM exits 3 and resumes, single-rank equals MPI, changed specs are
# refused, --extend adds only the new trials, --fresh moves the old campaign aside.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/a.json" <<'J'
{"name": "camp", "task": "noop", "fixed": {"sleep_ms": 0},
 "sweep": {"x": {"linear": [0, 1], "points": 20}, "y": ["a", "b", "c"]}, "seeds": 3}
J
A=$TMP/a.db
mpi 3 "$DS_BIN" run "$TMP/a.json" --db "$A" --quiet
check "full campaign: all trials done" "$(q "$A" "SELECT count(*) FROM trials WHERE status='done'")" 180
check "full campaign: keys unique" "$(q "$A" "SELECT count(DISTINCT trial_key) FROM trials")" 180
check "full campaign: params rows (x, y, sleep_ms)" "$(q "$A" "SELECT count(*) FROM params")" 540
check "full campaign: one metric each" "$(q "$A" "SELECT count(*) FROM metrics WHERE name='value'")" 180
check "full campaign: ran on both workers" "$(q "$A" "SELECT count(DISTINCT rank) FROM trials")" 2
check "full campaign: status done" "$(q "$A" "SELECT status FROM campaigns")" done
check "full campaign: run recorded" "$(q "$A" "SELECT how_ended, ranks, mode, exit_code FROM runs")" "done,3,mpi,0"
check "view has parameter and metric columns" "$(q "$A" "SELECT count(*) FROM v_camp WHERE y='b' AND value IS NOT NULL")" 60

max_id=$(q "$A" "SELECT max(trial_id) FROM trials")
mpi 3 "$DS_BIN" run "$TMP/a.json" --db "$A" --quiet
check "rerun: nothing new ran" "$(q "$A" "SELECT count(*), max(trial_id) FROM trials")" "180,$max_id"
check "rerun: second run did zero trials" "$(q "$A" "SELECT trials_done FROM runs ORDER BY run_id DESC LIMIT 1")" 0

L=$TMP/local.db
"$DS_BIN" run "$TMP/a.json" --db "$L" --quiet --threads 2
dump() { q "$1" "SELECT trial_key, printf('%.17g', value) FROM v_camp ORDER BY trial_key"; }
check "single-rank results equal MPI results bit for bit" "$(dump "$L" | md5sum)" "$(dump "$A" | md5sum)"
check "single-rank run recorded as local" "$(q "$L" "SELECT mode, ranks FROM runs")" "local,1"

# --- changed spec, --extend, --fresh ---
sed 's/"y": \["a", "b", "c"\]/"y": ["a", "b", "c", "d"]/' "$TMP/a.json" > "$TMP/a2.json"
set +e
out=$(mpi 3 "$DS_BIN" run "$TMP/a2.json" --db "$A" --quiet 2>&1); rc=$?
set -e
check "changed spec is refused with exit 1" "$rc" 1
check_true "refusal says what changed and what to do" grep -q "sweep.y changed.*--extend" <<<"$out"
check "refusal changed nothing" "$(q "$A" "SELECT count(*) FROM runs")" 2
mpi 3 "$DS_BIN" run "$TMP/a2.json" --db "$A" --extend --quiet
check "--extend ran only the new trials" "$(q "$A" "SELECT trials_done FROM runs ORDER BY run_id DESC LIMIT 1")" 60
check "--extend: 240 trials, keys unique" "$(q "$A" "SELECT count(*), count(DISTINCT trial_key) FROM trials")" "240,240"
mpi 3 "$DS_BIN" run "$TMP/a.json" --db "$A" --fresh --quiet
check "--fresh keeps the old campaign under another name" "$(q "$A" "SELECT count(*) FROM campaigns WHERE name LIKE 'camp@%'")" 1
check "--fresh ran the campaign again" "$(q "$A" "SELECT n_trials, status FROM campaigns WHERE name='camp'")" "180,done"
check "--fresh deleted no result" "$(q "$A" "SELECT count(*) FROM trials")" 420
mpi 3 "$DS_BIN" run "$TMP/a.json" --db "$A" --fresh --quiet
check "a second --fresh within the same second gets its own name" "$(q "$A" "SELECT count(*) FROM campaigns WHERE name LIKE 'camp@%'")" 2

# --- kill -9 of the whole job, then resume ---
cat > "$TMP/b.json" <<'J'
{"name": "slow", "task": "noop", "fixed": {"sleep_ms": 4},
 "sweep": {"x": {"linear": [0, 1], "points": 100}, "y": [1, 2, 3, 4]}, "seeds": 2}
J
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/b.json" --db "$REF" --quiet --threads 4
dumpb() { q "$1" "SELECT trial_key, printf('%.17g', value) FROM v_slow ORDER BY trial_key"; }
K=$TMP/kill.db
"$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run "$TMP/b.json" --db "$K" --quiet &
pid=$!
wait_done "$K" 100
# The whole job at once: mpiexec and every rank (ranks run in their own process groups).
pkill -9 -f "$DS_BIN run $TMP/b.json --db $K" || true
wait "$pid" 2>/dev/null || true
while pgrep -f "$DS_BIN run $TMP/b.json --db $K" >/dev/null; do sleep 0.1; done
partial=$(q "$K" "SELECT count(*) FROM trials WHERE status='done'")
check_true "kill -9 left a partial campaign ($partial of 800)" test "$partial" -gt 0 -a "$partial" -lt 800
mpi 3 "$DS_BIN" run "$TMP/b.json" --db "$K" --quiet
check "after kill -9 and rerun: complete, no duplicate keys" "$(q "$K" "SELECT count(*), count(DISTINCT trial_key), sum(status='done') FROM trials")" "800,800,800"
check "after kill -9: results equal an uninterrupted run" "$(dumpb "$K" | md5sum)" "$(dumpb "$REF" | md5sum)"
check "after kill -9: no running rows" "$(q "$K" "SELECT count(*) FROM trials WHERE status IN ('running','pending')")" 0
# The coordinator may see its launcher die before pkill's SIGKILL reaches it: its parent-death
# signal (SIGTERM) then records the run interrupted.  Either way the row is not left `running`.
check "the killed run is marked killed (or recorded interrupted) by the next start, the rerun done" \
  "$(q "$K" "SELECT group_concat(CASE how_ended WHEN 'interrupted' THEN 'killed' ELSE how_ended END, '/') FROM runs")" "killed/done"

# --- SIGTERM (what SLURM sends every task before killing): exit 3 promptly ---
# (mpirun adds ~2 s of its own before it reports a non-zero exit: odls_base_sigkill_timeout, twice;
# the bound is generous, precise numbers belong in benchmarks)
T=$TMP/term.db
"$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run "$TMP/b.json" --db "$T" --quiet &
pid=$!
wait_done "$T" 100
t0=$(date +%s.%N)
pkill -TERM -f "^$DS_BIN run $TMP/b.json --db $T" || true  # every task, not mpiexec
set +e; wait "$pid"; rc=$?; set -e
t1=$(date +%s.%N)
check "SIGTERM: exit code 3" "$rc" 3
check_true "SIGTERM: exited within 15 s ($(echo "$t1 - $t0" | bc) s)" test "$(echo "$t1 - $t0 < 15.0" | bc)" -eq 1
check "SIGTERM: run recorded as interrupted" "$(q "$T" "SELECT how_ended, exit_code FROM runs")" "interrupted,3"
check "SIGTERM: campaign marked interrupted" "$(q "$T" "SELECT status FROM campaigns")" interrupted
"$DS_BIN" resume --db "$T" --quiet
check "resume after SIGTERM completes with the same results" "$(dumpb "$T" | md5sum)" "$(dumpb "$REF" | md5sum)"

# Issue 11's reproduction: axes not in name order, interrupted, resumed by `resume --db`, then `run`.
cat > "$TMP/n_ba.json" <<'J'
{"name":"n_ba","task":"noop","fixed":{"sleep_ms":20},"sweep":{"b":[10,20,30,40,50],"a":[1,2,3,4,5]},"seeds":2}
J
N="$TMP/n.db"
"$DS_BIN" run "$TMP/n_ba.json" --db "$N" --threads 2 --quiet &
pid=$!
wait_done "$N" 5
kill -INT $pid; wait $pid || true
rc=0; "$DS_BIN" resume --db "$N" --quiet || rc=$?
check "n_ba: resume --db after SIGINT exits 0" "$rc" 0
check "n_ba: 50 rows, 50 keys, 50 done" "$(q "$N" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "50,50,50"
rc=0; "$DS_BIN" run "$TMP/n_ba.json" --db "$N" --quiet || rc=$?
check "n_ba: a later run SPEC exits 0" "$rc" 0
check "n_ba: the unique key index is there" "$(q "$N" "SELECT count(*) FROM sqlite_master WHERE name = 'trials_key'")" 1

# --extend is growth only: a changed fixed value is refused and changes nothing.
sed 's/"sleep_ms":20/"sleep_ms":21/' "$TMP/n_ba.json" > "$TMP/n_lr.json"
rc=0; out=$("$DS_BIN" run "$TMP/n_lr.json" --db "$N" --extend --quiet 2>&1) || rc=$?
check "--extend with a changed fixed value is refused" "$rc" 1
check_true "--extend refusal names the parameter and --fresh" grep -q "fixed.sleep_ms changed.*--fresh" <<<"$out"
check "--extend refusal changed nothing" "$(q "$N" "SELECT n_trials FROM campaigns")" 50

# A random sampler over discrete axes draws without replacement, capped at the space's size.
echo '{"name":"rnd","task":"noop","sweep":{"x":[1,2,3]},"sampler":{"random":20,"seed":1}}' > "$TMP/rnd.json"
rc=0; "$DS_BIN" run "$TMP/rnd.json" --db "$TMP/rnd.db" --quiet || rc=$?
check "random over 3 values: exit 0" "$rc" 0
check "random over 3 values: 3 trials, all done, campaign done" "$(q "$TMP/rnd.db" "SELECT count(*), sum(status = 'done'), (SELECT n_trials || status FROM campaigns) FROM trials")" "3,3,3done"

# --retry-failed re-queues failed trials, keeps their errors and counts their attempts on.
echo '{"name":"ff","task":"noop","fixed":{"fail_rate":0.5},"sweep":{"x":{"linear":[0,1],"points":40}},"trial":{"retries":0}}' > "$TMP/ff.json"
F="$TMP/ff.db"
"$DS_BIN" run "$TMP/ff.json" --db "$F" --quiet || true
before=$(q "$F" "SELECT count(*) FROM trials WHERE status = 'failed'")
"$DS_BIN" run "$TMP/ff.json" --db "$F" --retry-failed --quiet || true
check "--retry-failed: the failed trials' errors are kept" "$(q "$F" "SELECT count(*) FROM trial_errors")" "$before"
check "--retry-failed: re-run trials count 2 attempts, the rest 1" "$(q "$F" "SELECT sum(attempts) FROM trials")" "$((40 + before))"
check_true "--retry-failed: some failed trials now succeed" test "$(q "$F" "SELECT count(*) FROM trials WHERE status = 'failed'")" -lt "$before"
check "--retry-failed: still one row per key" "$(q "$F" "SELECT count(*), count(DISTINCT trial_key) FROM trials")" "40,40"

finish
