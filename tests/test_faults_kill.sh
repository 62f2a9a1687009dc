#!/usr/bin/env bash
# Kill -9 torture with real ranks and a real database: start a campaign under mpiexec, kill the
# whole job (mpiexec and every rank, by pid) at a random moment, again and again (at least 10
# kills), then let it finish.  Every trial key must be there exactly once, every result equal to
# an uninterrupted run's bit for bit, and no `running`/`pending` row left.  Then SLURM's way of
# ending a job: SIGTERM to every rank, SIGKILL after a grace period — the job must have committed
# and exited 3 before the SIGKILL (a generous 10 s here: mpirun alone takes ~2 s to report a
# non-zero exit with Open MPI's default odls_base_sigkill_timeout).
. "$(dirname "$0")/lib.sh"
KILLS=${DS_TORTURE_KILLS:-12}

cat > "$TMP/s.json" <<'J'
{"name": "tort", "task": "noop", "fixed": {"sleep_ms": 0.5},
 "sweep": {"x": {"linear": [0, 1], "points": 2500}, "y": ["a", "b"]}, "seeds": 4,
 "trial": {"retries": 1}}
J
N=20000
REF=$TMP/ref.db
"$DS_BIN" run "$TMP/s.json" --db "$REF" --quiet --threads 2
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_tort ORDER BY trial_key"; }

# The whole job: mpiexec and its children (the ranks), by process id.
kill_job() { # kill_job SIGNAL MPIEXEC_PID
  local kids
  kids=$(pgrep -P "$2" || true)
  kill -"$1" "$2" $kids 2>/dev/null || true
}

D=$TMP/t.db
done_before=0; progressed=0
for i in $(seq 1 "$KILLS"); do
  runs=$(q "$D" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)
  "$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run "$TMP/s.json" --db "$D" --quiet >/dev/null 2>&1 &
  pid=$!
  # A random moment: every third kill anywhere in start-up (0 .. 1 s), the others 0 .. 0.6 s after
  # this run registered itself in the store (mid-dispatch, mid-commit, mid-checkpoint).
  if [ $((i % 3)) -ne 0 ]; then
    for _ in $(seq 150); do
      [ "$(q "$D" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" -gt "$runs" ] && break
      sleep 0.05
    done
    # On a loaded machine the ranks may take seconds to start dispatching: wait (generously) for
    # this run's first commit, so that the kill lands mid-campaign rather than always in start-up.
    for _ in $(seq 300); do
      [ "$(q "$D" "SELECT count(*) FROM trials WHERE status = 'done'" 2>/dev/null || echo 0)" -gt "$done_before" ] && break
      sleep 0.05
    done
  fi
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.6 * r / 32768 }')"
  kill_job 9 "$pid"
  wait "$pid" 2>/dev/null || true
  while pgrep -P "$pid" >/dev/null 2>&1; do sleep 0.05; done
  n=$(q "$D" "SELECT count(*) FROM trials WHERE status = 'done'" 2>/dev/null || echo 0)
  [ "$n" -gt "$done_before" ] && progressed=$((progressed + 1))
  done_before=$n
  echo "kill $i: $n of $N done, $(q "$D" "SELECT count(*) FROM runs" 2>/dev/null || echo 0) runs"
done
check_true "the campaign was killed $KILLS times mid-way and made progress in between ($progressed)" test "$done_before" -lt "$N" -a "$progressed" -ge 4
mpi 3 "$DS_BIN" run "$TMP/s.json" --db "$D" --quiet
check "after $KILLS kills: every key exactly once" "$(q "$D" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "$N,$N,$N"
check "after $KILLS kills: the unique key index is back" "$(q "$D" "SELECT count(*) FROM sqlite_master WHERE name = 'trials_key'")" 1
check "after $KILLS kills: results equal an uninterrupted run's bit for bit" "$(dump "$D" | md5sum)" "$(dump "$REF" | md5sum)"
check "after $KILLS kills: no running or pending rows" "$(q "$D" "SELECT count(*) FROM trials WHERE status IN ('running','pending')")" 0
check "after $KILLS kills: every params row belongs to a trial, 3 per trial" "$(q "$D" "SELECT count(*) FROM params")" "$((3 * N))"
check "after $KILLS kills: one metric per trial, no orphans" "$(q "$D" "SELECT count(*), count(DISTINCT trial_id) FROM metrics WHERE trial_id IN (SELECT trial_id FROM trials)")" "$N,$N"
check "the database is sound" "$(q "$D" "PRAGMA integrity_check")" ok

# --- SIGTERM with a grace period, as SLURM does: TERM to every rank, KILL 1 s later ---
cat > "$TMP/g.json" <<'J'
{"name": "grace", "task": "noop", "fixed": {"sleep_ms": 20},
 "sweep": {"x": {"linear": [0, 1], "points": 200}}, "seeds": 1}
J
G=$TMP/g.db
"$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run "$TMP/g.json" --db "$G" --quiet >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ "$(q "$G" "SELECT count(*) FROM trials" 2>/dev/null || echo 0)" -gt 5 ] && break
  sleep 0.1
done
ranks=$(pgrep -P "$pid" || true)
t0=$(date +%s.%N)
kill -TERM $ranks
( sleep 10; kill -KILL "$pid" $ranks 2>/dev/null ) &
killer=$!
set +e; wait "$pid"; rc=$?; set -e
t1=$(date +%s.%N)
kill "$killer" 2>/dev/null || true
check "SIGTERM: exit 3 before the SIGKILL" "$rc" 3
check_true "SIGTERM: exited within 10 s ($(echo "$t1 - $t0" | bc) s)" test "$(echo "$t1 - $t0 < 10.0" | bc)" -eq 1
check "SIGTERM: run recorded as interrupted, its trials committed" "$(q "$G" "SELECT how_ended, exit_code, trials_done = (SELECT count(*) FROM trials WHERE status = 'done') FROM runs")" "interrupted,3,1"
check "SIGTERM: no running rows" "$(q "$G" "SELECT count(*) FROM trials WHERE status IN ('running','pending')")" 0
mpi 3 "$DS_BIN" run "$TMP/g.json" --db "$G" --quiet
check "SIGTERM: the rerun completes every trial once" "$(q "$G" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "200,200,200"
finish
