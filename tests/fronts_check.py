#!/usr/bin/env python3
"""fronts_check.py DB CAMPAIGN — recompute a campaign's fronts and hypervolumes by brute force from
its trials and compare with the `pareto` and `hypervolume` tables that divsweep kept incrementally.

Brute force: ranks by repeated peeling of the non-dominated set (O(n^2) per front); hypervolume by
inclusion-exclusion over the front (sum over non-empty subsets of (-1)^(|S|+1) * volume of the box
between the subset's component-wise worst point and the reference), for fronts up to 18 points;
bigger 2-objective fronts use the exact staircase sum.  Per-configuration mode averages the seeds'
finite results once all seeds of a configuration have finished.  Exits non-zero with a message on
the first mismatch; prints a one-line summary otherwise.
"""
import itertools, json, math, sqlite3, sys

db, campaign = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
cid, spec_json = con.execute("SELECT campaign_id, spec_json FROM campaigns WHERE name=?", (campaign,)).fetchone()
spec = json.loads(spec_json)
objs = list(spec["objectives"].items())  # spec order
names = [o for o, _ in objs]
sign = [(-1.0 if s == "max" else 1.0) for _, s in objs]  # minimised internally
m = len(objs)
pareto_by = spec.get("pareto_by", [])
seeds = spec.get("seeds", 1)
n_seeds = seeds if isinstance(seeds, int) else len(seeds)
popt = spec.get("pareto", {})
by_config = popt.get("over", "config") == "config" and n_seeds > 1

def fail(msg):
    print("fronts_check: %s: %s" % (campaign, msg), file=sys.stderr)
    sys.exit(1)

def fmt(v):
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (int, float)):
        r = repr(float(v))
        return r[:-2] if r.endswith(".0") else r
    if isinstance(v, str): return v
    if isinstance(v, dict) and isinstance(v.get("name"), str):
        rest = [k + "=" + fmt(v[k]) for k in sorted(v) if k != "name"]
        return v["name"] + ("(" + ",".join(rest) + ")" if rest else "")
    return json.dumps(v, sort_keys=True, separators=(",", ":"))

def label(params):
    if not pareto_by: return "all"
    s = " / ".join(fmt(params[k]) if k in params else "null" for k in pareto_by)
    return "=all" if s == "all" else s

rows = con.execute("SELECT trial_id, status, idx, params_json FROM trials WHERE campaign_id=? ORDER BY trial_id", (cid,)).fetchall()
metrics = {}
for tid, name, value in con.execute("SELECT m.trial_id, m.name, m.value FROM metrics m JOIN trials t USING(trial_id) WHERE t.campaign_id=?", (cid,)):
    metrics[(tid, name)] = value

def vec(tid):
    v = [metrics.get((tid, n)) for n in names]
    if any(x is None or not math.isfinite(x) for x in v): return None
    return [s * x for s, x in zip(sign, v)]

# Points: id -> (group, minimised vector, trial ids carrying its rank)
points = {}
failed = set()
if not by_config:
    for tid, status, idx, pj in rows:
        if status == "failed": failed.add(tid)
        if status != "done": continue
        v = vec(tid)
        if v is not None: points[tid] = (label(json.loads(pj)), v, [tid])
else:
    cfg = {}
    for tid, status, idx, pj in rows:
        if status == "failed": failed.add(tid)
        if idx < 0 or status not in ("done", "failed"): continue
        c = cfg.setdefault(idx // n_seeds, {"fin": 0, "tids": [], "vals": [], "grp": label(json.loads(pj))})
        c["fin"] += 1
        v = vec(tid) if status == "done" else None
        if v is not None:
            c["tids"].append(tid); c["vals"].append(v)
    for k, c in cfg.items():
        if c["fin"] >= n_seeds and c["tids"]:
            mean = [sum(v[j] for v in c["vals"]) / len(c["vals"]) for j in range(m)]
            points[k] = (c["grp"], mean, c["tids"])

def dominates(a, b):
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

def brute_ranks(pts):
    left, rank, r = dict(pts), {}, 0
    while left:
        front = [i for i in left if not any(dominates(left[j], left[i]) for j in left if j != i)]
        for i in front:
            rank[i] = r
            del left[i]
        r += 1
    return rank

def hv_ie(front, ref):
    front = [p for p in front if all(x < rr for x, rr in zip(p, ref))]
    if len(front) <= 18:
        total = 0.0
        for k in range(1, len(front) + 1):
            for sub in itertools.combinations(front, k):
                worst = [max(p[j] for p in sub) for j in range(m)]
                total += (-1) ** (k + 1) * math.prod(rr - w for rr, w in zip(ref, worst))
        return total
    if m != 2: fail("front too big for inclusion-exclusion (%d points)" % len(front))
    total, prev_y = 0.0, ref[1]
    for x, y in sorted(front):
        if y < prev_y:
            total += (ref[0] - x) * (prev_y - y); prev_y = y
    return total

groups = {"all": {i: p[1] for i, p in points.items()}}
if pareto_by:
    for i, (g, v, _) in points.items(): groups.setdefault(g, {})[i] = v

stored = {}
for grp, tid, r in con.execute("SELECT grp, trial_id, front_rank FROM pareto WHERE campaign_id=?", (cid,)):
    stored[(grp, tid)] = r
expect = {}
for g, pts in groups.items():
    for i, r in brute_ranks(pts).items():
        for tid in points[i][2]: expect[(g, tid)] = r
if stored != expect:
    diff = sorted(set(stored.items()) ^ set(expect.items()))[:10]
    fail("pareto table differs from brute force (%d stored, %d expected); first differences %s" % (len(stored), len(expect), diff))
if any(tid in failed for _, tid in stored): fail("a failed trial has a pareto row")

# Reference point: from the spec, or nadir + 10% range over all points.
hvrows = {g: (v, json.loads(rp), src, over, fs) for g, v, rp, src, over, fs in con.execute(
    "SELECT grp, value, ref_point, ref_source, over, front_size FROM hypervolume WHERE campaign_id=?", (cid,))}
if set(hvrows) != set(groups): fail("hypervolume groups %s != %s" % (sorted(hvrows), sorted(groups)))
if "ref_point" in popt:
    ref = [s * popt["ref_point"][n] for s, n in zip(sign, names)]
    want_src = "spec"
else:
    allv = list(groups["all"].values())
    ref = []
    for j in range(m):
        worst, best = max(v[j] for v in allv), min(v[j] for v in allv)
        rng = worst - best
        ref.append(worst + 0.1 * (rng if rng > 0 else max(abs(worst), 1.0)))
    want_src = "derived"
for g, pts in groups.items():
    v, rp, src, over, fs = hvrows[g]
    if src != want_src: fail("group %s: ref_source %s, expected %s" % (g, src, want_src))
    if over != ("config" if by_config else "trial"): fail("group %s: over=%s" % (g, over))
    got_ref = [s * rp[n] for s, n in zip(sign, names)]
    if any(abs(a - b) > 1e-12 * max(1.0, abs(b)) for a, b in zip(got_ref, ref)):
        fail("group %s: ref_point %s, expected %s" % (g, got_ref, ref))
    rk = brute_ranks(pts)
    front = [pts[i] for i in pts if rk[i] == 0]
    if fs != len(front): fail("group %s: front_size %d, expected %d" % (g, fs, len(front)))
    want = hv_ie(front, ref)
    if abs(v - want) > 1e-9 * max(1.0, abs(want)):
        fail("group %s: hypervolume %.17g, inclusion-exclusion %.17g" % (g, v, want))
    last = con.execute("SELECT value FROM hypervolume_history WHERE campaign_id=? AND grp=? ORDER BY at DESC, rowid DESC LIMIT 1", (cid, g)).fetchone()
    if not last or last[0] != v: fail("group %s: last hypervolume_history row %s != %s" % (g, last, v))
print("fronts_check: %s: ok (%d points, %d groups, %d pareto rows, %s)" % (campaign, len(points), len(groups), len(stored), "per-config" if by_config else "per-trial"))
