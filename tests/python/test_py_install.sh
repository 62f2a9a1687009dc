#!/usr/bin/env bash
# test_py_install.sh — `cmake --install` into a temporary prefix, then /usr/bin/python3 imports
# divsweep from there (no source tree on the path) and runs one divergence through the installed
# libdivsweep_kernels.so; a C program links the kernels through the installed divsweep_kernels.pc.
# Args: BUILD_DIR PYTHON.  Exit 77 without numpy.
set -euo pipefail
build=$(cd "$1" && pwd); py=$2
"$py" -c 'import numpy' 2>/dev/null || { echo "skip: numpy missing"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/divsweep"
test -f "$tmp/prefix/include/divsweep/ds_kernels.h"
cd "$tmp"
env -u DIVSWEEP_LIB PYTHONPATH="$tmp/prefix/lib/python3/dist-packages" "$py" - <<'PY'
import numpy as np, divsweep, os
assert divsweep.__file__.startswith(os.getcwd()), divsweep.__file__
lib = divsweep._lib.load()
assert lib._path.startswith(os.getcwd()), lib._path
loss, g = divsweep.kernels.divergence(np.log([[0.5, 0.5]]), np.log([[0.25, 0.75]]), "fkl")
ref = 0.25 * np.log(0.25 / 0.5) + 0.75 * np.log(0.75 / 0.5)
assert abs(loss - ref) < 1e-6, (loss, ref)
print("installed import ok:", lib._path)
PY
pc="$tmp/prefix/lib/pkgconfig"
[ -d "$pc" ] || pc=$(dirname "$(find "$tmp/prefix" -name divsweep_kernels.pc | head -1)")
cat > t.c <<'C'
#include <stdio.h>
#include <ds_kernels.h>
int main(void) {
  float t[2] = {0, 0}, s[2] = {1, 0};
  const float *tp[1] = {t};
  double loss; char err[200];
  if (ds_div_run("cpu", "fkl", NULL, 1, 2, 1, tp, NULL, NULL, s, 1, 1, 0, NULL, NULL, 1, 0, &loss, NULL, NULL, err, sizeof err)) { puts(err); return 1; }
  if (ds_div_run("cpu", "skl", "alpha=7", 1, 2, 1, tp, NULL, NULL, s, 1, 1, 0, NULL, NULL, 1, 0, &loss, NULL, NULL, err, sizeof err) == 0) return 2;
  printf("%.6f %s\n", loss, err);
  return 0;
}
C
cc t.c $(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$tmp/prefix" --cflags --libs divsweep_kernels) -o t
LD_LIBRARY_PATH=$(PKG_CONFIG_PATH="$pc" pkg-config --define-variable=prefix="$tmp/prefix" --variable=libdir divsweep_kernels) ./t
echo ok
