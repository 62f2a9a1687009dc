#!/usr/bin/env bash
# bench_kernels.sh — CPU kernel benchmark against the two anchors of DESIGN.md §8:
#   - PyTorch CPU autograd (../shared/anchors/torch_kl.py; only if python3-torch imports), and
#   - the streaming-bandwidth bound for 12 bytes/element (../shared/anchors/bandwidth.c).
# Runs `bench kernels` for every divergence at B=32,V=32000 and B=8,V=128256 with 2 threads and
# prints ratios.  Not a timed test: numbers depend on the machine and on its load.
# Usage: tests/bench/bench_kernels.sh [BUILD_DIR]   (default: build)
# The bench runs through `divsweep bench kernels` when the divsweep binary dispatches it, else
# through the test driver `tests/test_kernels bench kernels`.
set -u
echo "# $(date -u +%FT%TZ) $(uname -n); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
anchors=${DS_ANCHORS:-$root/../shared/anchors}
[ -d "$anchors" ] || anchors=/work/shared/anchors
py=/usr/bin/python3
threads=2

if "$build/divsweep" bench kernels --rows 1 --vocab 8 --div fkl --json 2>/dev/null | grep -q '"gbps"'; then
  bench=("$build/divsweep" bench kernels)
elif [ -x "$build/tests/test_kernels" ]; then
  bench=("$build/tests/test_kernels" bench kernels)
else
  echo "bench_kernels.sh: build first (cmake --build $build)"; exit 1
fi

bw_bin=$(mktemp /tmp/ds_bw.XXXXXX)
have_bw=0
if gcc -O3 -march=native -fopenmp "$anchors/bandwidth.c" -o "$bw_bin" 2>/dev/null; then have_bw=1; fi
have_torch=0
if "$py" -c "import torch" 2>/dev/null; then have_torch=1; else echo "# python3-torch is not importable: PyTorch ratios skipped"; fi

for shape in "32 32000" "8 128256"; do
  set -- $shape
  B=$1; V=$2
  echo "## B=$B V=$V threads=$threads"
  bwgb=""
  if [ $have_bw = 1 ]; then
    bwline=$("$bw_bin" $((B * V)) | grep "threads=$threads")
    echo "# bandwidth anchor: $bwline"
    bwgb=$(echo "$bwline" | sed -n 's/.*GBps=\([0-9.]*\).*/\1/p')
  fi
  declare -A torch_ms=()
  if [ $have_torch = 1 ]; then
    while read -r line; do
      echo "# $line"
      n=$(echo "$line" | awk '{print $2}'); ms=$(echo "$line" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')
      torch_ms[$n]=$ms
    done < <("$py" "$anchors/torch_kl.py" "$B" "$V" "$threads")
  fi
  # Like with like: torch_kl.py reports its best of 7 calls, so the ratios use our best (min) of
  # >= 20 calls after 3 warm-ups; medians are printed beside them.  "ours/bound" is our min time
  # over the bandwidth anchor's best time for the same 12 bytes/element (target <= 4).
  printf "%-10s %-12s %9s %9s %9s %9s %11s  %s\n" div backend ms_min ms_med "x torch" "x(med)" "ours/bound" path
  "${bench[@]}" --rows "$B" --vocab "$V" --threads "$threads" --json | while read -r j; do
    div=$(echo "$j" | sed -n 's/.*"div": "\([^"]*\)".*/\1/p')
    be=$(echo "$j" | sed -n 's/.*"backend": "\([^"]*\)".*/\1/p')
    ms=$(echo "$j" | sed -n 's/.*"ms": \([0-9.]*\).*/\1/p')
    mn=$(echo "$j" | sed -n 's/.*"ms_min": \([0-9.]*\).*/\1/p')
    gb=$(echo "$j" | sed -n 's/.*"gbps_max": \([0-9.]*\).*/\1/p')
    path=$(echo "$j" | sed -n 's/.*"path": "\([^"]*\)".*/\1/p')
    tx="-"; tm="-"; bx="-"
    [ -n "${torch_ms[$div]:-}" ] && tx=$(awk -v a="${torch_ms[$div]}" -v b="$mn" 'BEGIN{printf "%.1fx", a/b}')
    [ -n "${torch_ms[$div]:-}" ] && tm=$(awk -v a="${torch_ms[$div]}" -v b="$ms" 'BEGIN{printf "%.1fx", a/b}')
    # sinkhorn iterates O(V) sweeps until its marginals match: a streaming ratio means nothing.
    [ -n "$bwgb" ] && [ "$div" != sinkhorn ] && bx=$(awk -v a="$bwgb" -v b="$gb" 'BEGIN{printf "%.1fx", a/b}')
    printf "%-10s %-12s %9s %9s %9s %9s %11s  %s\n" "$div" "$be" "$mn" "$ms" "$tx" "$tm" "$bx" "$path"
  done
  unset torch_ms
done
rm -f "$bw_bin"
