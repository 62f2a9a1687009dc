#!/usr/bin/env bash
# test_signals.sh — how a run stops, with real processes and real signals (issue 11's mpirun signal
# path, issue 12 items 2 and 11):
#   - a signal during set-up is handled (exit 3, nothing left `running`), not a kill with 143, and
#     one during close-out lets the close-out complete;
#   - SIGHUP stops gracefully like SIGTERM; SIGPIPE from a stderr whose reader is gone does too, and
#     the stop message written to that dead pipe does not kill the run (it died with 141);
#   - under mpirun: SIGINT/SIGTERM to mpirun itself, to every process of the job (as SLURM does),
#     or to the ranks only: the run is recorded `interrupted` with exit code 3 and no rank is left;
#     mpirun's own exit code is 1 when it was signalled itself (Open MPI's, not ours), 3 otherwise;
#   - kill -9 of mpirun: no rank survives it (PR_SET_PDEATHSIG), the next run completes;
#   - a start refused because the database is busy, under mpirun: one line, exit 2, no MPI_Abort.
# Assertions are on exit codes and the database; time bounds are generous (10 s and more).
source "$(dirname "$0")/lib.sh"
# Open MPI's default grace (odls_base_sigkill_timeout = 1 s): the configuration the README
# recommends.  With 0 the ranks are SIGKILLed together with the SIGTERM and nothing can be saved.
unset OMPI_MCA_odls_base_sigkill_timeout
cd "$TMP"
cat > s.json <<'EOF'
{"name":"sig","task":"noop","fixed":{"sleep_ms":5},"sweep":{"b":[1,2,3,4,5,6,7,8,9,10],"a":{"linear":[0,1],"points":100}},"seeds":2}
EOF
N=2000
runs_row() { sqlite3 "file:$1?mode=ro" "SELECT how_ended || '/' || coalesce(exit_code, '') FROM runs ORDER BY run_id DESC LIMIT 1"; }
# ranks DB: pids of divsweep processes whose command line names DB (not mpirun's)
ranks() { pgrep -f "^$DS_BIN run s.json --db $1" || true; }
# gone DB: waits up to 10 s until no process of a run on DB is left
gone() {
  local i
  for i in $(seq 100); do [ -z "$(ranks "$1")" ] && return 0; sleep 0.1; done
  return 1
}

# ---- a signal during set-up (issue 12 item 2) -------------------------------------------------
# The database's write lock is held by another connection while `run` sets up (set-up waits for
# it), and SIGTERM arrives in that moment.
"$DS_BIN" run s.json --db setup.db --threads 2 --quiet >/dev/null 2>&1 & P=$!
wait_done setup.db 50; kill -INT $P; wait $P || true
python3 - setup.db > lock.out <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(1.2)
c.execute("ROLLBACK")
EOF
L=$!
for i in $(seq 100); do grep -q locked lock.out 2>/dev/null && break; sleep 0.05; done
"$DS_BIN" run s.json --db setup.db --threads 2 > setup.out 2>&1 & P=$!
sleep 0.4; kill -TERM $P
rc=0; wait $P || rc=$?
wait $L || true
check "SIGTERM during set-up: exit 3 (interrupted), not killed" "$rc" 3
check "SIGTERM during set-up: no runs row left running" "$(sqlite3 "file:setup.db?mode=ro" "SELECT count(*) FROM runs WHERE how_ended = 'running'")" 0
check_true "SIGTERM during set-up: one line says so" grep -q "^divsweep: .*interrupted" setup.out
rc=0; "$DS_BIN" run s.json --db setup.db --threads 2 --quiet || rc=$?
check "after an interrupted set-up the campaign completes" "$rc/$(q setup.db "SELECT count(*), count(DISTINCT trial_key) FROM trials WHERE status = 'done'")" "0/$N,$N"

# ---- SIGHUP, SIGPIPE (issue 12 item 11) ------------------------------------------------------
"$DS_BIN" run s.json --db hup.db --threads 2 >/dev/null 2>&1 & P=$!
wait_done hup.db 50; kill -HUP $P
rc=0; wait $P || rc=$?
check "SIGHUP: exit 3" "$rc" 3
check "SIGHUP: the run is recorded interrupted" "$(runs_row hup.db)" "interrupted/3"

# stderr is a pipe whose reader has gone; then SIGTERM: the stop message meets the dead pipe.
mkfifo err.fifo
(exec 3<err.fifo; head -c 5 <&3 >/dev/null) & R=$!
"$DS_BIN" run s.json --db pipe.db --threads 2 2>err.fifo >/dev/null & P=$!
wait $R; wait_done pipe.db 50; kill -TERM $P
rc=0; wait $P || rc=$?
check "SIGTERM with stderr's reader gone: exit 3, not 141 (SIGPIPE)" "$rc" 3
check "SIGTERM with stderr's reader gone: recorded interrupted" "$(runs_row pipe.db)" "interrupted/3"

# SIGPIPE itself with a dead stderr stops like SIGTERM ...
rm -f err.fifo; mkfifo err.fifo
(exec 3<err.fifo; head -c 5 <&3 >/dev/null) & R=$!
"$DS_BIN" run s.json --db pipe2.db --threads 2 2>err.fifo >/dev/null & P=$!
wait $R; wait_done pipe2.db 50; kill -PIPE $P
rc=0; wait $P || rc=$?
check "SIGPIPE with stderr's reader gone: exit 3" "$rc" 3
check "SIGPIPE with stderr's reader gone: recorded interrupted" "$(runs_row pipe2.db)" "interrupted/3"
# ... but not when stderr is fine (some other pipe's writer gets EPIPE and deals with it).
"$DS_BIN" run s.json --db pipe3.db --threads 2 --quiet >/dev/null 2>pipe3.err & P=$!
wait_done pipe3.db 50; kill -PIPE $P
rc=0; wait $P || rc=$?
check "SIGPIPE with a live stderr: the run goes on to the end" "$rc/$(runs_row pipe3.db)" "0/done/0"

# ---- under mpirun (issue 11) -----------------------------------------------------------------
if command -v "$DS_MPIEXEC" >/dev/null; then
  # mpirun is started directly in the background (not through lib.sh's mpi function, whose
  # subshell would take the signal), so $! is mpirun's pid.
  n=0
  for who in mpirun all ranks; do
    for sig in INT TERM; do
      n=$((n + 1)); db=m$n.db
      "$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run s.json --db $db > m$n.out 2>&1 & P=$!
      wait_done $db 50
      case $who in
        mpirun) kill -$sig $P ;;
        all) kill -$sig $P $(ranks $db) ;;
        ranks) kill -$sig $(ranks $db) ;;
      esac
      rc=0; wait $P || rc=$?
      # mpirun signalled itself exits 1 whatever its ranks return (Open MPI 4.1's clean_abort);
      # when only the ranks were signalled, it passes on rank 0's exit code.
      expect=$([ $who = ranks ] && echo 3 || echo 1)
      check "mpirun, SIG$sig to $who: mpirun exits $expect" "$rc" "$expect"
      check "mpirun, SIG$sig to $who: recorded interrupted, exit code 3" "$(runs_row $db)" "interrupted/3"
      check_true "mpirun, SIG$sig to $who: no rank left" gone $db
    done
  done
  check "mpirun, SIGINT to mpirun: committed trials are all there" \
    "$(q m1.db "SELECT (SELECT trials_done FROM runs) = (SELECT count(*) FROM trials WHERE status = 'done')")" 1

  # A signal during close-out: rank 0 has recorded how the run ended (here: every trial failed,
  # exit 4) and is finishing (MPI_Finalize, a short wait so that the workers leave first).  The
  # old libuv handles were closed by then, so SIGTERM killed it (143).  Now the close-out
  # completes and the exit code stays 4.
  cat > f.json <<'EOF'
{"name":"f","task":"noop","fixed":{"fail_rate":1},"sweep":{"a":{"linear":[0,1],"points":300}}}
EOF
  "$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run f.json --db f.db --quiet > f.out 2>&1 & P=$!
  for _ in $(seq 6000); do
    h=$(sqlite3 "file:f.db?mode=ro" "SELECT how_ended FROM runs" 2>/dev/null || true)
    [ -n "$h" ] && [ "$h" != running ] && break
    sleep 0.005
  done
  r0=$(pgrep -f "^$DS_BIN run f.json --db f.db" | head -n 1 || true)
  [ -n "$r0" ] && kill -TERM "$r0" 2>/dev/null || true
  rc=0; wait $P || rc=$?
  check "SIGTERM during close-out (mpirun): the close-out completes, exit 4 (not 143)" "$rc/$(runs_row f.db)" "4/failed/4"

  # kill -9 of mpirun: the ranks die with it, the run is not left `running`, the next run finishes.
  "$DS_MPIEXEC" --oversubscribe -np 3 "$DS_BIN" run s.json --db k9.db > k9.out 2>&1 & P=$!
  wait_done k9.db 50
  kill -9 $P; wait $P 2>/dev/null || true
  check_true "kill -9 of mpirun: no rank survives it (10 s)" gone k9.db
  # The coordinator's parent-death signal is SIGTERM: it stops gracefully (without it the ranks
  # ran on for about a second and died by Open MPI's hand, leaving the row `running`).
  check "kill -9 of mpirun: the coordinator recorded the run interrupted" "$(runs_row k9.db)" "interrupted/3"
  rc=0; mpi 3 "$DS_BIN" run s.json --db k9.db --quiet > k9b.out 2>&1 || rc=$?
  check "kill -9 of mpirun: the next run completes the campaign" \
    "$rc/$(q k9.db "SELECT count(DISTINCT trial_key) FROM trials WHERE status = 'done'")" "0/$N"
  check "kill -9 of mpirun: no runs row left running" "$(q k9.db "SELECT count(*) FROM runs WHERE how_ended = 'running'")" 0

  # A second run refused because the database is busy: one line, exit 2, no MPI_Abort banner.
  "$DS_BIN" run s.json --db busy.db --threads 2 --quiet >/dev/null 2>&1 & P=$!
  wait_done busy.db 50
  rc=0; mpi 3 "$DS_BIN" run s.json --db busy.db > busy.out 2>&1 || rc=$?
  kill -TERM $P; wait $P || true
  check "busy database under mpirun: exit 2" "$rc" 2
  check_true "busy database under mpirun: says another run is using it" grep -q "^divsweep: .*another divsweep run is using this database" busy.out
  check "busy database under mpirun: no MPI_ABORT banner" "$(grep -c "MPI_ABORT" busy.out || true)" 0
  check "busy database under mpirun: said once" "$(grep -c "another divsweep run" busy.out)" 1
else
  echo "no $DS_MPIEXEC: mpirun cases skipped"
fi
finish
