#!/usr/bin/env bash
# bench_store_layout.sh — what the permanent unique key index costs the store writer, and what an
# aggregate over a 10^6-trial campaign costs a reader (issue 11), in one run:
#   new    schema 3+: XXH3-128 keys as 16-byte BLOBs, unique index trials_key kept while writing
#   old    schema 2's layout: 32-hex TEXT keys (FNV), no index while writing, built at the end
#   sqlite_ceiling (../shared/anchors): SQLite alone, same rows per trial, one core
#   mpi4py.futures + batched SQLite (../shared/anchors), 20000 trials, mpirun -np 3
# then on the new layout's database: SELECT beta, avg(value) ... GROUP BY beta through the
# campaign view and through the tables directly.
#   usage: tests/bench/bench_store_layout.sh [BUILD_DIR] [N]      (default N = 1000000)
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
N=${2:-1000000}
ANCHORS=${ANCHORS:-$(cd "$SRC/.." && pwd)/shared/anchors}
[ -d "$ANCHORS" ] || ANCHORS=/work/shared/anchors
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
W=$(mktemp -d /tmp/ds_bench_layout.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), N=$N"
points=$((N / 1000))
cat > "$W/noop.json" <<J
{"name": "noop1m", "task": "noop", "fixed": {"scale": 1.0},
 "sweep": {"beta": {"linear": [0, 1], "points": 250}, "temperature": {"log": [0.1, 10], "points": $points}},
 "seeds": 4}
J
gcc -O2 -I"$SRC/schema" -I"$SRC/coordinator" "$SRC/tests/bench/bench_store.c" "$BUILD/coordinator/libds_coord.a" \
  "$BUILD/schema/libds_schema.a" $(pkg-config --libs sqlite3 libcjson libxxhash) -lm -lpthread -o "$W/bench_store" || exit 1
gcc -O2 "$ANCHORS/sqlite_ceiling.c" -lsqlite3 -o "$W/sqlite_ceiling" || exit 1
rate() { sed -n 's/.*trials_per_s=\([0-9.]*\).*/\1/p'; }
new=$("$W/bench_store" "$W/noop.json" "$W/new.db" "$N" 20000 | tee -a "$W/log" | rate)
old=$(DS_KEY_SCHEME=1 DS_BENCH_NO_INDEX=1 "$W/bench_store" "$W/noop.json" "$W/old.db" "$N" 20000 | tee -a "$W/log" | rate)
ceil=$(cd "$W" && ./sqlite_ceiling "$N" | sed -n 's/.*: \([0-9]*\) trials\/s/\1/p')
mp=$(mpirun -np 3 /usr/bin/python3 -m mpi4py.futures "$ANCHORS/mpi4py_futures.py" "$W/m.db" 20000 2>/dev/null | rate)
printf '%-58s %12s\n' "store writer, trials/s" ""
printf '  %-56s %12s\n' "new layout (BLOB keys, unique index kept)" "$new" "old layout (hex keys, index built at the end)" "$old" \
  "sqlite_ceiling anchor" "$ceil" "mpi4py.futures + batched SQLite anchor" "${mp:-n/a}"
[ -n "$mp" ] && printf '  %-56s %11.1fx\n' "new / mpi4py.futures" "$(echo "$new / $mp" | bc -l)"
printf '  %-56s %11.2fx\n' "new / old" "$(echo "$new / $old" | bc -l)" "new / sqlite_ceiling" "$(echo "$new / $ceil" | bc -l)"
printf '  %-56s %12s\n' "bytes per trial, new / old" "$(( $(stat -c %s "$W/new.db") / N )) / $(( $(stat -c %s "$W/old.db") / N ))"
# The aggregate a user runs: through the view (pivot of params and metrics) and on the tables.
t() { local a b; a=$(date +%s.%N); sqlite3 "$W/new.db" "$1" > /dev/null; b=$(date +%s.%N); echo "$b - $a" | bc -l; }
view=$(sqlite3 "$W/new.db" "SELECT name FROM sqlite_master WHERE type='view' AND name LIKE 'v_%' LIMIT 1")
tv=$(t "SELECT beta, avg(value) FROM $view GROUP BY beta")
tt=$(t "SELECT p.value AS beta, avg(m.value) FROM params p JOIN metrics m ON m.trial_id = p.trial_id AND m.name = 'value' WHERE p.name = 'beta' GROUP BY p.value")
printf '%-58s\n' "aggregate over $N trials: SELECT beta, avg(value) ... GROUP BY beta"
printf '  %-56s %10.2f s\n' "through the view $view" "$tv" "on params JOIN metrics" "$tt"
