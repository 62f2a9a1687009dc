#!/usr/bin/env bash
# tests/golden/dump.sh BUILD_DIR OUT_DIR — a behaviour fingerprint of the coordinator, taken
# before and after a refactoring of coordinator/ and compared with `diff -r`: a few small
# deterministic campaigns (a noop grid whose axes are not in alphabetical order, with seeds; the
# same grid under mpiexec -np 3; a noop campaign with injected failures and retries, exit 4; a
# small distill campaign under mpiexec -np 3), each dumped in a stable sorted form: exit code,
# every trial's key, params, status, attempts, error, metrics and curves, failed attempts, fronts
# and hypervolumes, runs rows, `status --json`, `pareto` and (local runs) the report HTML, with the volatile
# parts (times, rates, pids, trial ids where arrival order sets them, this host's name) removed.
# Last, the set-up refusals (changed spec, resume with nothing or several to resume, no such
# campaign): exit code and divsweep's lines on stderr.
set -euo pipefail
BUILD=$(cd "$1" && pwd); OUT=$2
DS_BIN=$BUILD/divsweep
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d /tmp/ds_golden.XXXXXX); trap 'rm -rf "$TMP"' EXIT
HOST=$(hostname)

cat > "$TMP/grid.json" <<'J'
{"name": "grid", "task": "noop", "fixed": {"sleep_ms": 0},
 "sweep": {"z": [3, 1, 2], "b": {"linear": [0, 1], "points": 4}, "m": ["q", "a"]}, "seeds": 2,
 "objectives": {"value": "min"}}
J
cat > "$TMP/retry.json" <<'J'
{"name": "retry", "task": "noop", "fixed": {"fail_rate": 0.5},
 "sweep": {"x": {"linear": [0, 1], "points": 30}}, "seeds": 1, "trial": {"retries": 2},
 "objectives": {"value": "max"}}
J
cat > "$TMP/distill.json" <<'J'
{"name": "distill", "task": "distill",
 "fixed": {"vocab": 24, "teachers": [{"bumps": [[8, 2, 0.6], [16, 2, 0.4]], "floor": 0.001}],
           "student": {"kind": "gaussian"}, "optimizer": "adam", "lr": 0.1, "steps": 150, "restarts": 2},
 "sweep": {"temperature": [2, 1], "divergence": ["rkl", "fkl", {"name": "amari", "alpha": [0.75, 0.25]}]},
 "objectives": {"fkl": "min", "rkl": "min"}}
J

sq() { sqlite3 -batch -csv "file:$1?mode=ro" "$2"; }
scrub() { sed -e "s/$HOST/HOST/g"; }

dump() { # dump NAME DB RC: one folder per campaign
  local d=$OUT/$1 db=$2
  mkdir -p "$d"
  echo "$3" > "$d/exit_code"
  sq "$db" "SELECT name, task, spec_json, spec_hash, status, n_trials, key_scheme, trial_order FROM campaigns ORDER BY name" > "$d/campaigns.csv"
  sq "$db" "SELECT hex(trial_key), idx, seed, params_json, status, attempts, error FROM trials ORDER BY trial_key" > "$d/trials.csv"
  sq "$db" "SELECT hex(t.trial_key), p.name, printf('%.17g', p.value), p.text FROM params p JOIN trials t USING(trial_id) ORDER BY 1, 2" > "$d/params.csv"
  sq "$db" "SELECT hex(t.trial_key), m.name, printf('%.17g', m.value) FROM metrics m JOIN trials t USING(trial_id) ORDER BY 1, 2" > "$d/metrics.csv"
  sq "$db" "SELECT hex(t.trial_key), c.name, c.step, printf('%.17g', c.value) FROM curves c JOIN trials t USING(trial_id) ORDER BY 1, 2, 3" > "$d/curves.csv"
  sq "$db" "SELECT name FROM metric_names ORDER BY name" > "$d/metric_names.csv"
  sq "$db" "SELECT hex(trial_key), attempts, error FROM trial_errors ORDER BY 1, 2" > "$d/trial_errors.csv"
  sq "$db" "SELECT p.grp, hex(t.trial_key), p.front_rank FROM pareto p JOIN trials t USING(trial_id) ORDER BY 1, 2" > "$d/pareto_table.csv"
  sq "$db" "SELECT grp, printf('%.17g', value), ref_point, n_trials, ref_source, over, n_points, front_size FROM hypervolume ORDER BY grp" > "$d/hypervolume.csv"
  # The history's intermediate points depend on when batches commit; its last point does not.
  sq "$db" "SELECT grp, max(n_trials), count(*) > 0 FROM hypervolume_history GROUP BY grp ORDER BY grp" > "$d/hypervolume_history.csv"
  sq "$db" "SELECT run_id, ranks, hosts, gpus, mode, launcher, how_ended, exit_code, trials_done, trials_failed FROM runs ORDER BY run_id" | scrub > "$d/runs.csv"
  sq "$db" "SELECT name FROM sqlite_master WHERE type IN ('view', 'table', 'index') ORDER BY name" > "$d/schema_objects.csv"
  "$DS_BIN" status --db "$db" --json | sed -E 's/"trials_per_s": [0-9.e+-]+/"trials_per_s": X/g' > "$d/status.json"
  # pareto's trial_id / trial_ids columns are row ids: replaced by the keys they stand for.
  "$DS_BIN" pareto --db "$db" --all --format csv | python3 -c '
import csv, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
key = dict(db.execute("SELECT trial_id, hex(trial_key) FROM trials"))
rows = list(csv.reader(sys.stdin))
w = csv.writer(sys.stdout, lineterminator="\n")
if not rows: sys.exit(0)
h = rows[0]; w.writerow(h)
out = []
for r in rows[1:]:
    for i, c in enumerate(h):
        if c == "trial_id": r[i] = key[int(r[i])]
        if c == "trial_ids": r[i] = " ".join(sorted(key[int(x)] for x in r[i].split()))
    out.append(r)
for r in sorted(out): w.writerow(r)
' "$db" > "$d/pareto.csv"
  # Only for local runs: under MPI the report's categorical axes follow row ids (arrival order).
  [ "${4:-}" = report ] || return 0
  "$DS_BIN" report --db "$db" --out "$TMP/r.html" >/dev/null
  # Times, dates, rates, paths and row ids in the report are volatile, and the order of points
  # follows row ids: kept are its lines, sorted, with those removed.
  sed -E -e "s/$HOST/HOST/g" -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+Z?/DATE/g' \
    -e 's/[0-9.]+ (trials\/s|s|ms)\b/N \1/g' -e 's/"(trial_id|started_at|finished_at|wall_s|at|updated_at|created_at|ended_at|pid)": *[0-9.e+-]+/"\1": X/g' \
    -e "s#$TMP/##g" -e 's/trial [0-9]+/trial N/g' "$TMP/r.html" | LC_ALL=C sort > "$d/report.html.sorted"
}

# Local runs use one worker thread, so that row ids (and so the report) follow the generator order.
run_local() { set +e; "$DS_BIN" run "$1" --db "$2" --quiet --threads 1 >/dev/null 2>"$TMP/err"; rc=$?; set -e; }
run_mpi() { set +e; mpiexec --oversubscribe -np 3 "$DS_BIN" run "$1" --db "$2" --quiet >/dev/null 2>"$TMP/err"; rc=$?; set -e; }

run_local "$TMP/grid.json" "$TMP/grid_local.db"; dump grid_local "$TMP/grid_local.db" $rc report
run_mpi "$TMP/grid.json" "$TMP/grid_mpi.db"; dump grid_mpi "$TMP/grid_mpi.db" $rc
run_mpi "$TMP/grid.json" "$TMP/grid_mpi.db"; dump grid_mpi_rerun "$TMP/grid_mpi.db" $rc
run_mpi "$TMP/retry.json" "$TMP/retry.db"; dump retry_mpi "$TMP/retry.db" $rc
grep '^divsweep' "$TMP/err" | sed -E 's/[0-9.]+ s\b/N s/g' | LC_ALL=C sort > "$OUT/retry_mpi/stderr" || true
run_mpi "$TMP/distill.json" "$TMP/distill.db"; dump distill_mpi "$TMP/distill.db" $rc
run_local "$TMP/distill.json" "$TMP/distill_local.db"; dump distill_local "$TMP/distill_local.db" $rc report
# Refusals: exit code and divsweep's own lines on stderr for each set-up error path.
E=$OUT/errors; mkdir -p "$E"
refuse() { # refuse NAME ARGS...
  set +e; "$DS_BIN" "${@:2}" >/dev/null 2>"$TMP/err"; echo "exit $?" > "$E/$1"; set -e
  grep '^divsweep' "$TMP/err" | sed -e "s#$TMP/##g" >> "$E/$1" || true
}
sed 's/"m": \["q", "a"\]/"m": ["q", "a", "c"]/' "$TMP/grid.json" > "$TMP/grid_changed.json"
sed 's/"name": "retry"/"name": "retry2"/' "$TMP/retry.json" > "$TMP/retry2.json"
refuse changed_spec run "$TMP/grid_changed.json" --db "$TMP/grid_local.db" --quiet --threads 1
refuse resume_nothing_unfinished resume --db "$TMP/grid_local.db" --quiet --threads 1
refuse resume_no_such_campaign resume --db "$TMP/grid_local.db" --campaign nope --quiet --threads 1
run_local "$TMP/retry2.json" "$TMP/retry.db"
refuse resume_several_unfinished resume --db "$TMP/retry.db" --quiet --threads 1
echo "golden dump written to $OUT"
