#!/usr/bin/env bash
# run_all.sh — `make bench`: runs every benchmark script in tests/bench/ once, in quick mode
# (smaller campaigns, one repetition, the CUDA bench only when a GPU is visible and without its
# Liger shapes), and says which ones failed.  Figures are for a look, not for a results file: the
# *_RESULTS.md files quote full runs of the scripts themselves (see each script's usage line).
# Usage: tests/bench/run_all.sh [BUILD_DIR]   (default: build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
failed=()

run() { # run NAME CMD...: one bench, its output as is, its failure remembered
  local name=$1; shift
  echo "=== $name"
  "$@" || failed+=("$name (exit $?)")
}

run kernels bash "$here/bench_kernels.sh" "$build"
run exec bash "$here/bench_exec.sh" "$build" 200
run sched env N=20000 bash "$here/bench_sched.sh" "$build" 1
run store_layout bash "$here/bench_store_layout.sh" "$build" 20000
run distill_trial bash "$here/bench_distill_trial.sh" "$build"
run logits_trial bash "$here/bench_logits_trial.sh" "$build"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; then
  run cuda env DS_QUICK=1 bash "$here/bench_cuda.sh" "$build"
else
  echo "=== cuda: skipped (no GPU visible)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'bench failed: %s\n' "${failed[@]}"
  exit 1
fi
echo "all benches ran"
