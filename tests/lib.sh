# lib.sh — helpers for divsweep's shell integration tests (sourced).  Every test runs the real
# binary ($DS_BIN) on real database files, under a real mpiexec when it says so.
set -euo pipefail
: "${DS_BIN:?DS_BIN must point at the divsweep binary}"
DS_MPIEXEC=${DS_MPIEXEC:-mpiexec}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# Open MPI's default odls_base_sigkill_timeout (1 s) stays: it is the grace between mpirun's
# SIGTERM and its SIGKILL, in which a signalled run commits (tests/test_signals.sh).  The price:
# mpirun takes ~2 s to report a non-zero exit such as 3 or 4.
unset OMPI_MCA_odls_base_sigkill_timeout

TMP=$(mktemp -d /tmp/ds_test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
PASSES=0

mpi() { "$DS_MPIEXEC" --oversubscribe -np "$1" "${@:2}"; }

# q DB SQL: the query's rows as CSV without the header.
q() { "$DS_BIN" query --db "$1" "$2" --format csv | tail -n +2; }

# wait_done DB N: waits (up to 60 s) until at least N trials of the database are done, so that
# tests which interrupt a campaign do it mid-way however slowly the machine starts MPI.
wait_done() {
  local i
  for i in $(seq 600); do
    if [ -f "$1" ] && [ "$(sqlite3 "file:$1?mode=ro" "SELECT count(*) FROM trials WHERE status='done'" 2>/dev/null || echo 0)" -ge "$2" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "wait_done: $1 never reached $2 done trials" >&2
  return 1
}

check() { # check NAME ACTUAL EXPECTED
  if [ "$2" == "$3" ]; then
    PASSES=$((PASSES + 1)); echo "ok   $1"
  else
    FAILS=$((FAILS + 1)); echo "FAIL $1: got [$2], expected [$3]"
  fi
}

check_true() { # check_true NAME COMMAND...
  if "${@:2}"; then PASSES=$((PASSES + 1)); echo "ok   $1"; else FAILS=$((FAILS + 1)); echo "FAIL $1"; fi
}

finish() {
  echo "$PASSES passed, $FAILS failed"
  [ "$FAILS" -eq 0 ]
}
