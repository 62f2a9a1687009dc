#!/usr/bin/env bash
# bench_distill_trial.sh — a `distill` trial on the kernels (issue 18): a free student at V = 32000,
# 64 rows, Adam, 200 steps, fkl and jsd, at 1 and 2 threads.  Prints the trial's wall_s from the store
# (backend cpu, and ref once), the same loop in PyTorch CPU (tests/bench/torch_distill.py: autograd,
# torch.optim.Adam, same thread count) and the ratio.  Not a timed test.
# Usage: tests/bench/bench_distill_trial.sh [BUILD_DIR]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
bin=$build/divsweep
py=/usr/bin/python3
echo "# $(date -u +%FT%TZ) $(uname -n) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d /tmp/ds_bench_distill.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf '%-5s %3s %9s %9s %9s %11s\n' div thr ref_s trial_s torch_s torch/trial
for th in 1 2; do
  for div in fkl jsd; do
    for be in cpu ref; do
      [ $be = ref ] && [ $th = 2 ] && continue
      cat > $be.json <<J
{"name": "d_$be", "task": "distill", "fixed": {"vocab": 32000, "rows": 64, "teachers": [{"random": {"scale": 3}}], "student": {"kind": "free"}, "optimizer": "adam", "lr": 0.05, "steps": 200, "divergence": "$div"}, "trial": {"backend": "$be", "threads": $th}}
J
      rm -f $be.db*; "$bin" run $be.json --db $be.db --threads 1 --quiet >/dev/null 2>&1
      eval "${be}_s=\$(sqlite3 $be.db \"SELECT min(wall_s) FROM trials WHERE status='done'\")"
    done
    [ $th = 1 ] && eval "ref_$div=\$ref_s"
    torch=$("$py" "$here/torch_distill.py" $div 64 32000 200 $th 2>/dev/null | sed -n 's/.* s=\([0-9.]*\).*/\1/p')
    printf '%-5s %3s %9.2f %9.2f %9.2f %10.1fx\n' $div $th "$(eval echo "\$ref_$div")" "$cpu_s" "${torch:-0}" "$(echo "${torch:-0}/$cpu_s" | bc -l)"
  done
done
