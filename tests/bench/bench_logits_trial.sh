#!/usr/bin/env bash
# bench_logits_trial.sh — a `logits` trial at kernel speed (issue 18): 1024 x 32000 fp32 teacher and
# student logits, fkl/rkl/jsd/tvd at T = 2 with every metric the task stores.  For each divergence
# and thread count (1, 2) it prints, in one run:
#   trial   the trial's wall_s from the store (backend cpu; ref for comparison)
#   torch   PyTorch CPU (tests/bench/torch_logits.py: same loss, gradient norm and metrics from the
#           same files, same thread count; best of 3)
#   kernel  `divsweep kernel` on the same files (loss and gradient only, loading included)
# and the ratios torch/trial and trial/kernel.  Not a timed test: figures depend on the machine.
# Usage: tests/bench/bench_logits_trial.sh [BUILD_DIR]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
bin=$build/divsweep
py=/usr/bin/python3
echo "# $(date -u +%FT%TZ) $(uname -n) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d /tmp/ds_bench_logits.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$py" -c "
import numpy as np
r = np.random.default_rng(0)
np.save('t.npy', (r.standard_normal((1024, 32000)) * 3).astype(np.float32))
np.save('s.npy', (r.standard_normal((1024, 32000)) * 3).astype(np.float32))"
printf '%-5s %3s %10s %10s %10s %10s %11s %13s\n' div thr ref_s trial_s torch_s kernel_s torch/trial trial/kernel
for th in 1 2; do
  for div in fkl rkl jsd tvd; do
    if [ $th = 1 ]; then
      cat > ref.json <<J
{"name": "b_ref", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}], "student_npy": "s.npy", "temperature": 2, "t2": 1, "divergence": "$div"}, "seeds": 2, "trial": {"backend": "ref"}}
J
      rm -f ref.db*; "$bin" run ref.json --db ref.db --threads 1 --quiet >/dev/null 2>&1
      eval "ref_$div=\$(sqlite3 ref.db \"SELECT min(wall_s) FROM trials WHERE status='done'\")"
    fi
    # each trial runs alone (one worker thread) with `threads` kernel threads
    cat > cpu.json <<J
{"name": "b_cpu", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}], "student_npy": "s.npy", "temperature": 2, "t2": 1, "divergence": "$div"}, "seeds": 3, "trial": {"backend": "cpu", "threads": $th}}
J
    rm -f cpu.db*; "$bin" run cpu.json --db cpu.db --threads 1 --quiet >/dev/null 2>&1
    trial=$(sqlite3 cpu.db "SELECT min(wall_s) FROM trials WHERE status='done'")
    ref=$(eval echo "\$ref_$div")
    torch=$("$py" "$here/torch_logits.py" t.npy s.npy $div 2 $th 2>/dev/null | sed -n 's/.* s=\([0-9.]*\).*/\1/p')
    kbest=9
    for i in 1 2 3; do
      a=$(date +%s.%N); "$bin" kernel --div $div --teacher t.npy --student s.npy --temperature 2 --t2 --grad g.npy \
        --backend cpu --threads $th >/dev/null
      b=$(date +%s.%N); kbest=$(echo "k=$b-$a; if (k<$kbest) k else $kbest" | bc -l)
    done
    printf '%-5s %3s %10.3f %10.3f %10.3f %10.3f %10.1fx %12.2fx\n' $div $th "$ref" "$trial" "${torch:-0}" "$kbest" \
      "$(echo "${torch:-0}/$trial" | bc -l)" "$(echo "$trial/$kbest" | bc -l)"
  done
done
