#!/usr/bin/env bash
# bench_torch_loss.sh [BUILD_DIR] [THREADS] — divsweep.torch vs PyTorch autograd (see the .py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
export PYTHONPATH="$here/../../python" DIVSWEEP_LIB="$build/kernels/libdivsweep_kernels.so"
exec /usr/bin/python3 "$here/bench_torch_loss.py" "${2:-2}"
