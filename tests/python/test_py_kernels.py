#!/usr/bin/python3
"""test_py_kernels.py — divsweep.kernels (numpy, ctypes) against the independent goldens of
tests/data/golden_div.txt (make_golden_div.py: numpy/scipy from the definitions, every divergence),
plus the error paths: each must raise ValueError with the library's message, never crash.
Exit 77 (skipped) without numpy."""
import os
import sys

try:
    import numpy as np
except ImportError:
    print("skip: numpy missing"); sys.exit(77)
import divsweep

K = divsweep.kernels
data = os.environ.get("DS_TEST_DATA") or os.path.join(os.path.dirname(__file__), "..", "data")
tok = []
for line in open(os.path.join(data, "golden_div.txt")):
    if not line.startswith("#"):
        tok += line.split()
i, cases, seen = 0, 0, set()
fails = 0
while i < len(tok):
    assert tok[i] == "case", tok[i]
    name, npar = tok[i + 1], int(tok[i + 2]); i += 3
    params = {}
    for _ in range(npar):
        k, v = tok[i], tok[i + 1]; i += 2
        params[k] = v if k == "cost" else float(v)
    V, nt, mix = int(tok[i]), int(tok[i + 1]), tok[i + 2]
    tT, tS, t2 = float(tok[i + 3]), float(tok[i + 4]), tok[i + 5] == "1"; i += 6
    assert tok[i] == "weights"; w = [float(x) for x in tok[i + 1:i + 1 + nt]]; i += 1 + nt
    teachers = []
    for _ in range(nt):
        teachers.append(np.array(tok[i:i + V], dtype=np.float64)); i += V
    z = np.array(tok[i:i + V], dtype=np.float64); i += V
    assert tok[i] == "loss"; loss_ref = float(tok[i + 1]); i += 2
    assert tok[i] == "grad"; g_ref = np.array(tok[i + 1:i + 1 + V], dtype=np.float64); i += 1 + V
    loss, g = K.divergence(z[None, :], [t[None, :] for t in teachers], name, temperature=(tT, tS),
                           t2=t2, weights=w if nt > 1 else None, mix=mix, threads=2, **params)
    tol = 2e-3 if name == "sinkhorn" else 2e-4
    ok = abs(loss - loss_ref) <= tol * max(1.0, abs(loss_ref)) and \
        np.allclose(g[0], g_ref, rtol=tol * 10, atol=tol * max(1.0, np.abs(g_ref).max()))
    if not ok:
        fails += 1
        print("FAIL %s %s V=%d K=%d %s: loss %.9g vs %.9g, max grad err %.3g" % (
            name, params, V, nt, mix, loss, loss_ref, np.abs(g[0] - g_ref).max()))
    cases += 1; seen.add(name)
print("goldens: %d cases, %d divergences, %d failed" % (cases, len(seen), fails))
missing = set(K.DIVERGENCES) - seen
assert not missing, "no golden for %s" % missing
assert cases > 30 and fails == 0

# The same call, two rows, every reduction; reduction="none" gives per-row losses.
r = np.random.default_rng(1)
s, t = r.normal(size=(3, 50)), r.normal(size=(3, 50))
rows = K.divergence(s, t, "fkl", reduction="none", grad=False)
assert rows.shape == (3,)
assert np.isclose(K.divergence(s, t, "fkl", reduction="sum", grad=False), rows.sum(), rtol=1e-6)
assert np.isclose(K.divergence(s, t, "fkl", grad=False), rows.mean(), rtol=1e-6)
assert np.isclose(K.divergence(s, t, "fkl", reduction="mean", grad=False), rows.mean() / 50, rtol=1e-6)
m = np.array([True, False, True])
lm, gm = K.divergence(s, t, "fkl", mask=m)
assert np.isclose(lm, rows[[0, 2]].mean(), rtol=1e-6) and not gm[1].any() and gm[0].any()
# Non-contiguous and float16 inputs are converted, not refused.
assert np.isclose(K.divergence(np.asfortranarray(s), t, "fkl", grad=False), rows.mean(), rtol=1e-6)
# NaN policy: propagates.
sn = s.copy(); sn[1, 3] = np.nan
assert np.isnan(K.divergence(sn, t, "fkl", grad=False))

def raises(fn, needle):
    try:
        fn()
    except ValueError as e:
        assert needle in str(e), (needle, str(e))
        return
    raise AssertionError("no ValueError for " + needle)

raises(lambda: K.divergence(s, t, "nope"), "unknown divergence")
raises(lambda: K.divergence(s, t, "skl", alpha=1.5), "alpha")
raises(lambda: K.divergence(s, t, "fkl", gamma=1.0), "gamma")
raises(lambda: K.divergence(s, t, "fkl", reduction="avg"), "reduction")
raises(lambda: K.divergence(s, t, "fkl", mix="x"), "mix")
raises(lambda: K.divergence(s, t[:, :10], "fkl"), "shape")
raises(lambda: K.divergence(s.astype(np.int32), t, "fkl"), "dtype")
raises(lambda: K.divergence(s, t, "fkl", temperature=0.0), "temperature")
raises(lambda: K.divergence(s, t, "fkl", mask=[1, 0]), "mask")
raises(lambda: K.divergence(s, [t, t], "fkl", weights=[1.0]), "weights")
raises(lambda: K.divergence(s, t, "fkl", backend="nope"), "not available")
print("ok")
