#!/usr/bin/env bash
# bench_cuda.sh — CUDA kernel benchmark against the DESIGN.md §8 targets:
#   - ≥ 60% of HBM bandwidth for fkl/rkl/jsd/tvd forward+backward at V ≥ 32k (effective GB/s =
#     12 B/element in fp32, 8 B with bf16 logits, over the median wall time of one fused call with
#     inputs and gradient resident on the GPU), and
#   - faster than Liger-Kernel's published H100 figures at equal shapes (reference/kernels.md §7):
#     KLDiv B·T=8·2048 V=131072 59.7 ms, JSD B·T=4·2048 V=131072 103.1 ms, TVD B·T=8·2048 V=131072
#     36.5 ms (fp32 logits, full = forward + backward).
# Then runs the backend-vs-reference test (test_cuda).  Exits 77 when no CUDA device is usable.
# Usage: tests/bench/bench_cuda.sh [BUILD_DIR]      (default: build)
#   DS_HBM_GBPS   peak HBM bandwidth of the GPU in GB/s (default: from the model name: H100 SXM
#                 3350, H100 PCIe 2000, H200 4800, A100 80GB 2039, A100 40GB 1555)
#   DS_QUICK=1    skip the Liger shapes (they need ~26 GB of GPU memory and ~26 GB of host memory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
bin="$build/divsweep"
[ -x "$bin" ] || { echo "bench_cuda.sh: build first (cmake -S $root -B $build && cmake --build $build)"; exit 1; }

probe=$("$bin" bench kernels --backend cuda --div fkl --rows 1 --vocab 8 --reps 1 2>&1)
case "$probe" in
  *"unknown or unavailable"*) echo "bench_cuda.sh: no usable CUDA device (or a CPU-only build): skipped"; exit 77 ;;
esac
model=$(echo "$probe" | sed -n 's/^# GPU: \([^;]*\);.*/\1/p')
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/# nvidia-smi: /'
peak=${DS_HBM_GBPS:-}
if [ -z "$peak" ]; then
  case "$model" in
    *H200*) peak=4800 ;;
    *H100*PCIe*) peak=2000 ;;
    *H100*) peak=3350 ;;
    *A100*80GB*) peak=2039 ;;
    *A100*) peak=1555 ;;
    *) peak=0 ;;
  esac
fi
echo "# GPU: $model; HBM peak used for %: ${peak} GB/s (override with DS_HBM_GBPS)"

row() { # div rows vocab dtype [liger_ms]
  local out ms gbps pct liger=${5:-}
  out=$("$bin" bench kernels --backend cuda --div "$1" --rows "$2" --vocab "$3" --dtype "$4" --reps 10 --json 2>&1) || { echo "$1 $2 $3 $4: FAILED: $out"; return; }
  ms=$(echo "$out" | sed -n 's/.*"ms": \([0-9.e+-]*\).*/\1/p')
  gbps=$(echo "$out" | sed -n 's/.*"gbps": \([0-9.e+-]*\).*/\1/p')
  pct=$(awk -v g="$gbps" -v p="$peak" 'BEGIN { if (p > 0) printf "%.0f%%", 100 * g / p; else printf "?" }')
  if [ -n "$liger" ]; then
    printf "%-6s %6s %7s %-5s %10s ms %9s GB/s %5s of HBM   Liger %6s ms  (%sx)\n" "$1" "$2" "$3" "$4" "$ms" "$gbps" "$pct" "$liger" \
      "$(awk -v a="$liger" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')"
  else
    printf "%-6s %6s %7s %-5s %10s ms %9s GB/s %5s of HBM\n" "$1" "$2" "$3" "$4" "$ms" "$gbps" "$pct"
  fi
}

echo "## bandwidth target (>= 60% of HBM), fused forward+backward, inputs resident on the GPU"
for v in 32000 128256; do
  for d in fkl rkl jsd tvd; do
    row $d 1024 $v f32
    row $d 1024 $v bf16
  done
done
echo "## every divergence at B=1024, V=32000 (fp32)"
for d in fkl rkl jsd skl srkl tvd hellinger chi2 chi2n renyi amari ab cs wmix entropy; do row $d 1024 32000 f32; done
if [ "${DS_QUICK:-0}" != 1 ]; then
  echo "## Liger-Kernel's published H100 shapes (kernels.md §7; Liger: H100 PCIe for KLDiv/JSD, H100 80GB for TVD)"
  row fkl 16384 131072 f32 59.7
  row jsd 8192 131072 f32 103.1
  row tvd 16384 131072 f32 36.5
fi
echo "## backend vs reference (test_cuda)"
"$build/tests/test_cuda"
