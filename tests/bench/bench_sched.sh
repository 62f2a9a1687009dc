#!/usr/bin/env bash
# Scheduling benchmark (DESIGN.md §8, issue #6): a noop campaign of 10^6 trials under
# mpirun -np 3, committed trials/s end to end, and in the same run the anchors of
# ../shared/anchors/ (bare C MPI+SQLite farm, mpi4py.futures, Optuna+SQLite), the store writer
# alone, resume of a half-done 10^6 campaign, coordinator memory at two campaign sizes, and the
# cost of status/query readers.  Prints one line per measurement and a summary table (medians).
#   usage: tests/bench/bench_sched.sh [BUILD_DIR] [REPS]     (env: N=1000000 ANCHORS=../shared/anchors)
# Needs Debian python3-optuna and python3-mpi4py for two anchors; installs them as root, else
# skips those anchors with a note.  Shared machines are noisy: compare ratios, not absolutes.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
REPS=${2:-3}
N=${N:-1000000}
ANCHORS=${ANCHORS:-$(cd "$SRC/.." && pwd)/shared/anchors}
DS=$BUILD/divsweep
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
W=$(mktemp -d /tmp/ds_bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
rate_of() { sed -n 's/.*this run [0-9]* trials in [0-9.]* s (\([0-9]*\)\/s).*/\1/p'; }
log() { echo "$@" | tee -a "$W/log"; }
echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"

# 10^6 trials: 1000 x 250 grid, 4 seeds; 1 trials row + 3 params rows + 1 metric row per trial.
points=$((N / 1000))
cat > "$W/noop.json" <<J
{"name": "noop1m", "task": "noop", "fixed": {"scale": 1.0},
 "sweep": {"beta": {"linear": [0, 1], "points": 250}, "temperature": {"log": [0.1, 10], "points": $points}},
 "seeds": 4}
J

# --- anchors (built here) ---
mpicc -O2 "$ANCHORS/farm_ceiling.c" -lsqlite3 -lm -o "$W/farm" 2>/dev/null
gcc -O2 "$ANCHORS/sqlite_ceiling.c" -lsqlite3 -o "$W/sqlite_ceiling" 2>/dev/null
gcc -O2 -I"$SRC/schema" -I"$SRC/coordinator" "$SRC/tests/bench/bench_store.c" "$BUILD/coordinator/libds_coord.a" \
  "$BUILD/schema/libds_schema.a" $(pkg-config --libs sqlite3 libcjson libxxhash) -lm -lpthread -o "$W/bench_store"
have_py=1
if ! /usr/bin/python3 -c "import optuna, mpi4py" 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-optuna python3-mpi4py >/dev/null 2>&1
  fi
  /usr/bin/python3 -c "import optuna, mpi4py" 2>/dev/null || { have_py=0; log "note: python3-optuna/python3-mpi4py missing: Optuna and mpi4py anchors skipped"; }
fi

for r in $(seq "$REPS"); do
  rm -f "$W"/d.db*
  out=$(mpirun -np 3 "$DS" run "$W/noop.json" --db "$W/d.db" 2>&1)
  x=$(rate_of <<<"$out"); echo "$x" >> "$W/divsweep"; log "divsweep rep $r: $x trials/s"
  grep "set-up" <<<"$out" | tee -a "$W/log"
  [ "$r" -eq 1 ] && { ls -l "$W/d.db" | awk -v n="$N" '{printf "database bytes per trial: %.0f\n", $5 / n}' | tee -a "$W/log"; }
  x=$(mpirun -np 3 "$W/farm" "$W/farm.db" "$N" 8 2>/dev/null | sed -n 's/.*trials_per_s=\([0-9]*\).*/\1/p')
  echo "$x" >> "$W/farm_r"; log "farm_ceiling rep $r: $x trials/s"
  x=$(cd "$W" && ./sqlite_ceiling "$N" | sed -n 's/.*: \([0-9]*\) trials\/s/\1/p'); echo "$x" >> "$W/sqlite_r"; log "sqlite_ceiling rep $r: $x trials/s"
  x=$("$W/bench_store" "$W/noop.json" "$W/s.db" "$N" 20000 | sed -n 's/.*trials_per_s=\([0-9]*\).*/\1/p')
  echo "$x" >> "$W/store_r"; log "divsweep store alone rep $r: $x trials/s"
  if [ $have_py -eq 1 ]; then
    x=$(mpirun -np 3 /usr/bin/python3 -m mpi4py.futures "$ANCHORS/mpi4py_futures.py" "$W/m.db" 20000 2>/dev/null | sed -n 's/.*trials_per_s=\([0-9]*\).*/\1/p')
    echo "$x" >> "$W/mpi4py_r"; log "mpi4py.futures rep $r (20000 trials): $x trials/s"
    x=$(/usr/bin/python3 "$ANCHORS/optuna_sqlite.py" "$W/o.db" 400 2 2>/dev/null | sed -n 's/.*trials_per_s=\([0-9.]*\).*/\1/p')
    echo "$x" >> "$W/optuna_r"; log "optuna rep $r (400 trials, 2 procs): $x trials/s"
  fi
done

# --- resume of a half-done 10^6 campaign: SIGTERM at half, then time to the first dispatch ---
rm -f "$W"/h.db*
mpirun -np 3 "$DS" run "$W/noop.json" --db "$W/h.db" --quiet >/dev/null 2>&1 &
mp=$!
while kill -0 "$mp" 2>/dev/null; do
  d=$("$DS" query --db "$W/h.db" "SELECT count(*) FROM trials" --format csv 2>/dev/null | tail -1)
  [ "${d:-0}" -ge $((N / 2)) ] && break
  sleep 0.05
done
kill -TERM $(pgrep -P "$mp") 2>/dev/null; wait "$mp" 2>/dev/null
half=$("$DS" query --db "$W/h.db" "SELECT count(*) FROM trials WHERE status = 'done'" --format csv | tail -1)
out=$(mpirun -np 3 "$DS" run "$W/noop.json" --db "$W/h.db" 2>&1)
log "resume with $half of $N done: $(grep -o 'first trial sent after [0-9.]* s' <<<"$out")"
log "resume: $(grep -o 'set-up [0-9.]* s' <<<"$out"); completed: $("$DS" query --db "$W/h.db" "SELECT count(*), count(DISTINCT trial_key) FROM trials WHERE status='done'" --format csv | tail -1)"

# --- coordinator memory at 2e5 and 1e6 trials (peak RSS of rank 0) ---
for n in 200000 1000000; do
  sed "s/\"points\": $points}/\"points\": $((n / 1000))}/" "$W/noop.json" > "$W/m.json"
  rm -f "$W"/r.db*
  log "peak RSS of the coordinator at $n trials: $(mpirun -np 3 "$DS" run "$W/m.json" --db "$W/r.db" 2>&1 | grep -o 'peak RSS [0-9]* MiB')"
done

# --- readers: status + query once a second during the campaign ---
for r in $(seq "$REPS"); do
  rm -f "$W"/q.db*
  ( while [ ! -e "$W/q.db" ]; do sleep 0.05; done
    while :; do "$DS" status --db "$W/q.db" >/dev/null 2>>"$W/qerr" || echo "status error" >>"$W/qerr"
      "$DS" query --db "$W/q.db" "SELECT count(*) FROM trials" >/dev/null 2>>"$W/qerr" || echo "query error" >>"$W/qerr"; sleep 1; done ) &
  rp=$!
  x=$(mpirun -np 3 "$DS" run "$W/noop.json" --db "$W/q.db" 2>&1 | rate_of)
  kill "$rp" 2>/dev/null; wait "$rp" 2>/dev/null
  echo "$x" >> "$W/readers_r"; log "divsweep with status+query every 1 s rep $r: $x trials/s"
done
log "reader errors: $(cat "$W/qerr" 2>/dev/null | wc -l)"

ds=$(median < "$W/divsweep"); farm=$(median < "$W/farm_r"); sq=$(median < "$W/sqlite_r"); st=$(median < "$W/store_r")
rd=$(median < "$W/readers_r")
echo
echo "== medians of $REPS (machine load at end: $(cut -d' ' -f1-3 /proc/loadavg)) =="
printf "%-44s %12s %10s\n" "what" "trials/s" "divsweep/x"
printf "%-44s %12s %10s\n" "divsweep, 10^6 noop, mpirun -np 3" "$ds" "1"
printf "%-44s %12s %10.3f\n" "farm_ceiling.c (bare C MPI + SQLite)" "$farm" "$(echo "$ds / $farm" | bc -l)"
printf "%-44s %12s %10.3f\n" "sqlite_ceiling.c (SQLite alone, 7 rows)" "$sq" "$(echo "$ds / $sq" | bc -l)"
printf "%-44s %12s %10.3f\n" "divsweep store writer alone (bench_store)" "$st" "$(echo "$ds / $st" | bc -l)"
if [ $have_py -eq 1 ]; then
  mp=$(median < "$W/mpi4py_r"); op=$(median < "$W/optuna_r")
  printf "%-44s %12s %10.1f\n" "mpi4py.futures + batched SQLite" "$mp" "$(echo "$ds / $mp" | bc -l)"
  printf "%-44s %12s %10.0f\n" "Optuna + SQLite (2 procs)" "$op" "$(echo "$ds / $op" | bc -l)"
fi
printf "%-44s %12s %10.3f\n" "divsweep with status+query every 1 s" "$rd" "$(echo "$rd / $ds" | bc -l)"
