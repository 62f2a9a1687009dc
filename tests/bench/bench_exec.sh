#!/usr/bin/env bash
# bench_exec.sh — dispatch overhead of the exec task (issue 14: "low milliseconds per trial").
# Runs N trials of a program that does nothing but report, under `mpirun -np 3` (2 worker ranks)
# and in one process (--threads 1), and prints trials/s and the wall time per trial per worker —
# fork of the supervisor, fork + exec of the program, its trial directory, logs and params.json,
# the results pipe, reaping, and the store write.  Two programs: /bin/true (fails the trial — it
# reports nothing — but costs what a real trial's start and end cost) and /bin/echo with a
# 'divsweep: ' results line (a successful trial).  The machine and its load are printed with it.
# Usage: tests/bench/bench_exec.sh [BUILD_DIR] [N]          (default: build, 2000)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
n=${2:-2000}
bin="$build/divsweep"
[ -x "$bin" ] || { echo "bench_exec.sh: build first"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d /tmp/ds_bench_exec.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "# $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $n trials per row"
one() { # one NAME COMMAND_JSON MODE
  cat > "$tmp/$1.json" <<J
{"name": "$1", "task": "exec", "fixed": {"command": $2}, "sweep": {"x": {"linear": [0, 1], "points": $n}}}
J
  local db=$tmp/$1-$3.db t0 t1 workers
  t0=$(date +%s.%N)
  if [ "$3" = mpi ]; then
    mpirun --oversubscribe -np 3 "$bin" run "$tmp/$1.json" --db "$db" --quiet >/dev/null 2>&1 || true
    workers=2
  else
    "$bin" run "$tmp/$1.json" --db "$db" --threads 1 --quiet >/dev/null 2>&1 || true
    workers=1
  fi
  t1=$(date +%s.%N)
  local done failed
  done=$("$bin" query --db "$db" "SELECT count(*) FROM trials WHERE status = 'done'" --format csv | tail -1)
  failed=$("$bin" query --db "$db" "SELECT count(*) FROM trials WHERE status = 'failed'" --format csv | tail -1)
  awk -v n="$n" -v t="$(echo "$t1 - $t0" | bc)" -v w="$workers" -v name="$1" -v mode="$3" -v d="$done" -v f="$failed" \
    'BEGIN { printf "%-6s %-6s %5d done %5d failed  %6.2f s  %7.0f trials/s  %5.2f ms per trial per worker\n", name, mode, d, f, t, n / t, 1000 * t * w / n }'
}
one true '["/bin/true"]' mpi
one echo '["/bin/echo", "divsweep: {{\"v\": {x}}}"]' mpi
one echo '["/bin/echo", "divsweep: {{\"v\": {x}}}"]' local
