#!/usr/bin/env bash
# Installs the Debian packages divsweep needs, when they are missing.  As root it runs apt-get;
# otherwise it prints the exact command and stops.
#   .ci/deps.sh          what building and running divsweep needs (make demo; libjs-chart.js is
#                        inlined into `divsweep report`)
#   .ci/deps.sh test     plus what the test suite uses (make test): headless Chromium for the
#                        report test, clang for the fuzz targets, bc and the sqlite3 shell, and a
#                        real single-node SLURM (slurm-wlm, munge, libpmix-dev for srun --mpi=pmix),
#                        and numpy/pandas/torch/sklearn for the Python tests (label python)
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libsqlite3-dev libuv1-dev
      libcjson-dev libxxhash-dev python3 libjs-chart.js)
if [ "${1:-}" = test ]; then
  pkgs+=(sqlite3 bc python3-numpy python3-pandas python3-torch python3-sklearn chromium clang libclang-rt-14-dev procps
        slurm-wlm munge libpmix-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "divsweep: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "divsweep: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
