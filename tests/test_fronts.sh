#!/usr/bin/env bash
# test_fronts.sh [mpi] — end-to-end Pareto fronts (coordinator/fronts.c, cli_pareto.c) on real
# campaigns of the noop task with objectives_demo metrics a, b, c:
#   local (default): single-process run, per-trial fronts over 2 objectives grouped by divergence,
#     injected failures, several commits; checks
#     - pareto/hypervolume tables equal a brute-force recomputation (fronts_check.py: peeling ranks,
#       inclusion-exclusion hypervolume, derived reference point), no failed trial in a front;
#     - incremental equals batch: `resume` rebuilds the fronts from scratch in one batch and the
#       tables come out identical;
#     - `pareto --format csv|json|table` parse and agree with the table; bad --group is an error;
#     - `status --json` shows the fronts; `report` renders in headless Chromium (skipped without it).
#   mpi: the same campaign machinery under mpiexec -np 3 with 3 objectives (one max), 3 seeds,
#     per-configuration means and a reference point from the spec.
# Env: DS_BIN, DS_MPIEXEC, DS_SRC (set by tests/CMakeLists.txt ds_add_script_test).
set -u
mode=${1:-local}
bin=${DS_BIN:?DS_BIN not set}
src=${DS_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
check="$src/tests/fronts_check.py"
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "test_fronts: python3 not found; skipping"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test_fronts($mode): $*" >&2; exit 1; }
cd "$work"

if [ "$mode" = local ]; then
  cat > spec.json <<'J'
{"name": "fronts-local", "task": "noop",
 "fixed": {"objectives_demo": true, "sleep_ms": 6, "fail_rate": 0.1},
 "sweep": {"x": {"linear": [0, 1], "points": 7}, "y": [0, 1],
           "divergence": ["fkl", "rkl", {"name": "amari", "alpha": [0.25, 0.75]}]},
 "seeds": 2, "objectives": {"a": "min", "b": "min"}, "pareto_by": ["divergence"],
 "pareto": {"over": "trial"}, "trial": {"retries": 0}}
J
  "$bin" run spec.json --db f.db --threads 2 --quiet; rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 4 ] || fail "run exited $rc"
  camp=fronts-local
else
  [ -n "${DS_MPIEXEC:-}" ] || { echo "test_fronts: no mpiexec; skipping"; exit 77; }
  cat > spec.json <<'J'
{"name": "fronts-mpi", "task": "noop",
 "fixed": {"objectives_demo": true, "sleep_ms": 4},
 "sweep": {"x": {"linear": [0, 1], "points": 4}, "y": [0, 1], "divergence": ["fkl", "jsd"]},
 "seeds": 3, "objectives": {"a": "min", "b": "min", "c": "max"}, "pareto_by": ["divergence"],
 "pareto": {"ref_point": {"a": 1.5, "b": 2.0, "c": -0.5}}}
J
  "$DS_MPIEXEC" --oversubscribe -np 3 "$bin" run spec.json --db f.db --quiet || fail "mpiexec run failed"
  camp=fronts-mpi
fi

"$py" "$check" f.db $camp || fail "fronts differ from brute force"
hist=$(sqlite3 f.db "SELECT count(DISTINCT at) FROM hypervolume_history" 2>/dev/null || "$py" -c "
import sqlite3; print(sqlite3.connect('f.db').execute('SELECT count(DISTINCT at) FROM hypervolume_history').fetchone()[0])")
[ "$hist" -ge 2 ] || fail "expected hypervolume history from several commits, got $hist distinct times"

# Incremental equals batch: resume rebuilds everything in one batch.
dump() { "$py" -c "
import sqlite3, sys
c = sqlite3.connect('f.db')
for r in c.execute('SELECT grp, trial_id, front_rank FROM pareto ORDER BY 1, 2'): print(*r)
for g, v, rp, n, fs in c.execute('SELECT grp, value, ref_point, n_points, front_size FROM hypervolume ORDER BY 1'): print(g, repr(v), rp, n, fs)
"; }
dump > incremental.txt
"$bin" resume --db f.db --campaign $camp --quiet; rc=$?
[ $rc -eq 0 ] || [ $rc -eq 4 ] || fail "resume exited $rc"
dump > batch.txt
cmp -s incremental.txt batch.txt || { diff incremental.txt batch.txt | head; fail "incremental fronts differ from a batch rebuild"; }

# Output formats.
"$bin" pareto --db f.db --campaign $camp --format json > p.json || fail "pareto --format json failed"
"$bin" pareto --db f.db --campaign $camp --format csv --all > p.csv || fail "pareto --format csv failed"
"$bin" pareto --db f.db --campaign $camp --group fkl > p.txt || fail "pareto --group fkl failed"
"$bin" pareto --db f.db --campaign $camp --group no-such-group > /dev/null 2>&1 && fail "unknown --group accepted"
"$bin" status --db f.db --json > status.json || fail "status failed"
"$py" - "$camp" <<'P' || fail "pareto output does not parse or disagree with the table"
import csv, json, math, sqlite3, sys
camp = sys.argv[1]
con = sqlite3.connect("f.db")
cid, spec = con.execute("SELECT campaign_id, spec_json FROM campaigns WHERE name=?", (camp,)).fetchone()
objs = list(json.loads(spec)["objectives"])
rows = json.load(open("p.json"))
assert isinstance(rows, list) and rows, "empty json"
for r in rows:
    for k in ["trial_id", "group", "front_rank"] + objs: assert k in r, (k, r)
    assert r["front_rank"] == 0
by_config = "n_seeds" in rows[0]
stored = {(g, t) for g, t in con.execute("SELECT grp, trial_id FROM pareto WHERE campaign_id=? AND front_rank=0", (cid,))}
if by_config:
    got = {(r["group"], int(t)) for r in rows for t in r["trial_ids"].split()}
    for r in rows:
        tids = [int(t) for t in r["trial_ids"].split()]
        assert r["n_seeds"] == len(tids) and r["trial_id"] == min(tids)
        for o in objs:
            vals = [con.execute("SELECT value FROM metrics WHERE trial_id=? AND name=?", (t, o)).fetchone()[0] for t in tids]
            mean = sum(vals) / len(vals)
            sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
            assert abs(r[o] - mean) < 1e-12 and abs(r[o + "_std"] - sd) < 1e-9, (o, r)
else:
    got = {(r["group"], r["trial_id"]) for r in rows}
    for r in rows:
        for o in objs:
            v = con.execute("SELECT value FROM metrics WHERE trial_id=? AND name=?", (r["trial_id"], o)).fetchone()[0]
            assert r[o] == v, (o, r, v)   # shortest round-trip: exact
assert got == stored, (len(got), len(stored))
crows = list(csv.DictReader(open("p.csv")))
nall = con.execute("SELECT count(*) FROM pareto WHERE campaign_id=?", (cid,)).fetchone()[0]
if not by_config: assert len(crows) == nall, (len(crows), nall)
for r in crows:
    int(r["front_rank"]); [float(r[o]) for o in objs]
table = open("p.txt").read().splitlines()
assert table[0].split()[:3] == ["trial_id", "group", "front_rank"], table[0]
assert all(l.split()[1] == "fkl" for l in table[2:-1]), "--group fkl shows another group"
st = [c for c in json.load(open("status.json")) if c["campaign"] == camp][0]
assert st["fronts"] and all(f["hypervolume"] > 0 for f in st["fronts"]), st
P

# Report: self-contained HTML, checked in headless Chromium when present.
"$bin" report --db f.db --campaign $camp --out report.html || fail "report failed"
grep -q "<svg" report.html || fail "report has no SVG"
grep -Eq "(src|href)=\"(https?:)?//" report.html && fail "report references external resources"
# When the fronts are over per-configuration means: each group's panel counts
# configurations (as the header's "front F of N" does), one point per configuration with error bars.
/usr/bin/python3 - "$camp" <<'P' || fail "report counts disagree with the store"
import re, sqlite3, sys, json
camp = sys.argv[1]
con = sqlite3.connect("f.db")
cid, spec = con.execute("SELECT campaign_id, spec_json FROM campaigns WHERE name=?", (camp,)).fetchone()
over = con.execute("SELECT DISTINCT over FROM hypervolume WHERE campaign_id=?", (cid,)).fetchone()[0]
h = open("report.html").read()
panels = re.findall(r'<h3><i class="sw"[^>]*></i>([^<]*)</h3><p class="meta">(\d+) (trials|configurations) · (\d+) on the front', h)
assert panels, "no panels"
for grp, n, noun, nfront in panels:
    hv = con.execute("SELECT front_size, n_points FROM hypervolume WHERE campaign_id=? AND grp=?", (cid, grp)).fetchone()
    if over == "config":
        assert noun == "configurations", noun
        assert (int(nfront), int(n)) == (hv[0], hv[1]), (grp, nfront, n, hv)
    else:
        assert noun == "trials", noun
if over == "config":
    assert 'class="eb"' in h, "no error bars"
print("report panels agree with table hypervolume:", len(panels), "groups")
P
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$chrome" ]; then
  flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
         --disable-sync --no-first-run --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
  timeout 90 "$chrome" "${flags[@]}" --dump-dom "file://$work/report.html" > dom.html 2> dom.log \
    || fail "chromium --dump-dom failed: $(tail -3 dom.log)"
  grep -E "Uncaught|:CONSOLE\(" dom.log && fail "console errors while loading the report"
  svgs=$(grep -o "<svg " dom.html | wc -l)
  [ "$svgs" -ge 6 ] || fail "expected at least 6 SVG plots in the rendered DOM, found $svgs"
  grep -q "fkl" dom.html || fail "group fkl missing from the rendered report"
  echo "test_fronts($mode): chromium ok ($svgs svg)"
else
  echo "test_fronts($mode): chromium not installed; HTML checked without rendering"
fi
echo "test_fronts($mode): ok"
