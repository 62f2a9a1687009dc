#!/usr/bin/python3
"""make_golden_div.py — independent numpy/scipy implementation of every divsweep divergence,
written straight from the definitions in DESIGN.md §5 / reference/kernels.md §2 (probability
space, no shared code with kernels/ref.c).  Gradients with respect to the raw student logits are
computed by Richardson-extrapolated central differences of the loss in double precision.

Writes golden_div.txt beside this script, read by tests/test_kernels.c.  Format (whitespace
separated tokens, one case per block):
  case NAME NPARAMS [KEY VALUE]... V K MIX T_TEACHER T_STUDENT T2
  weights W_1..W_K
  teacher V logits            (K lines)
  student V logits
  loss VALUE
  grad V values
Run: /usr/bin/python3 tests/data/make_golden_div.py
"""
import os
import numpy as np
from scipy.special import logsumexp, softmax, log_softmax


def kl(p, q):
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def w1(p, q):
    V = len(p)
    return float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))[:-1])) / V


def sinkhorn(p, q, eps, cost):
    """Entropic OT ⟨P,C⟩ + ε KL(P‖p⊗q) by log-domain Sinkhorn with ε-scaling; value ⟨f,p⟩+⟨g,q⟩."""
    V = len(p)
    i = np.arange(V)
    C = np.abs(i[:, None] - i[None, :]) / V if cost == "ordinal" else 1.0 - np.eye(V)
    lp, lq = np.log(p), np.log(q)
    f = np.zeros(V); g = np.zeros(V)
    e = max(C.max(), eps)
    while True:
        last = e <= eps
        for it in range(20000 if last else 300):
            f = -e * logsumexp(lq[None, :] + (g[None, :] - C) / e, axis=1)
            g = -e * logsumexp(lp[:, None] + (f[:, None] - C) / e, axis=0)
            P = np.exp(lp[:, None] + lq[None, :] + (f[:, None] + g[None, :] - C) / e)
            if np.abs(P.sum(1) - p).sum() < (1e-14 if last else 1e-7):
                break
        if last:
            break
        e = max(e * 0.1, eps)
    return float(f @ p + g @ q)


def ab(p, q, a, b):
    t = 1e-12
    if abs(a) < t and abs(b) < t:
        return 0.5 * float(np.sum((np.log(q) - np.log(p)) ** 2))
    if abs(a) < t:
        return float(np.sum(q**b * np.log(q**b / p**b) - q**b + p**b)) / b**2
    if abs(b) < t:
        return float(np.sum(p**a * np.log(p**a / q**a) - p**a + q**a)) / a**2
    if abs(a + b) < t:
        return float(np.sum(np.log(q**a / p**a) + (q**a / p**a) ** -1 - 1)) / a**2
    return -float(np.sum(p**a * q**b - a / (a + b) * p ** (a + b) - b / (a + b) * q ** (a + b))) / (a * b)


def div(name, P, p, q):
    if name == "fkl": return kl(p, q)
    if name == "rkl": return kl(q, p)
    if name == "jsd":
        b = P["beta"]; m = b * p + (1 - b) * q
        return b * kl(p, m) + (1 - b) * kl(q, m)
    if name == "skl":
        a = P["alpha"]; return kl(p, a * p + (1 - a) * q)
    if name == "srkl":
        a = P["alpha"]; return kl(q, (1 - a) * p + a * q)
    if name == "tvd": return 0.5 * float(np.abs(p - q).sum())
    if name == "hellinger": return 0.5 * float(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))
    if name == "chi2": return float(np.sum((p - q) ** 2 / q))
    if name == "chi2n": return float(np.sum((q - p) ** 2 / p))
    if name == "renyi":
        a = P["alpha"]; return float(np.log(np.sum(p**a * q ** (1 - a)))) / (a - 1)
    if name == "amari":
        a = P["alpha"]; return (1 - float(np.sum(p**a * q ** (1 - a)))) / (a * (1 - a))
    if name == "ab": return ab(p, q, P["alpha"], P["beta"])
    if name == "cs":
        return -np.log(np.sum(p * q)) + 0.5 * np.log(np.sum(p * p)) + 0.5 * np.log(np.sum(q * q))
    if name == "wmix":
        w = P["w"]; return w * kl(p, q) + (1 - w) * kl(q, p)
    if name == "w1": return w1(p, q)
    if name == "sinkhorn": return sinkhorn(p, q, P["epsilon"], P["cost"])
    if name == "entropy": return -float(np.sum(q * np.log(q)))
    raise ValueError(name)


def row_loss(c, z):
    q = softmax(z / c["ts"])
    T = [np.asarray(t) / c["tt"] for t in c["teachers"]]
    w = c["weights"]
    if c["mix"] == "loss" or len(T) == 1:
        L = sum(wk * div(c["div"], c["params"], softmax(t), q) for wk, t in zip(w, T))
    elif c["mix"] == "arithmetic":
        L = div(c["div"], c["params"], sum(wk * softmax(t) for wk, t in zip(w, T)), q)
    else:
        L = div(c["div"], c["params"], softmax(sum(wk * t for wk, t in zip(w, T))), q)
    return L * (c["ts"] ** 2 if c["t2"] else 1.0)


def grad_fd(c, z):
    def d(h):
        g = np.zeros_like(z)
        for j in range(len(z)):
            e = np.zeros_like(z); e[j] = h
            g[j] = (row_loss(c, z + e) - row_loss(c, z - e)) / (2 * h)
        return g
    h = 1e-3 if c["div"] != "sinkhorn" else 2e-3
    return (4 * d(h / 2) - d(h)) / 3  # Richardson: O(h^4)


def main():
    rng = np.random.default_rng(20240611)
    cases = []

    def add(name, params=None, V=7, K=1, mix="arithmetic", tt=1.0, ts=1.0, t2=0, scale=2.0, weights=None):
        P = params or {}
        teachers = [rng.normal(size=V) * scale for _ in range(K)]
        z = rng.normal(size=V) * scale
        w = weights or ([1.0] if K == 1 else list(rng.dirichlet(np.ones(K))))
        cases.append(dict(div=name, params=P, V=V, K=K, mix=mix, tt=tt, ts=ts, t2=t2,
                          teachers=teachers, weights=w, z=z))

    simple = ["fkl", "rkl", "tvd", "hellinger", "chi2", "chi2n", "cs", "w1", "entropy"]
    for n in simple:
        add(n)
        add(n, V=33, tt=2.0, ts=1.5, t2=1)
    for n, P in [("jsd", {"beta": 0.5}), ("jsd", {"beta": 0.3}), ("skl", {"alpha": 0.1}), ("skl", {"alpha": 0.0}),
                 ("srkl", {"alpha": 0.1}), ("srkl", {"alpha": 0.6}), ("renyi", {"alpha": 0.5}), ("renyi", {"alpha": 2.0}),
                 ("amari", {"alpha": 0.25}), ("amari", {"alpha": 0.5}), ("wmix", {"w": 0.3}),
                 ("ab", {"alpha": 0.8, "beta": 0.3}), ("ab", {"alpha": 0.5, "beta": 0.5}), ("ab", {"alpha": 1.0, "beta": 0.0}),
                 ("ab", {"alpha": 0.0, "beta": 1.0}), ("ab", {"alpha": 0.0, "beta": 0.0}), ("ab", {"alpha": 0.5, "beta": -0.5}),
                 ("ab", {"alpha": 0.0, "beta": 0.7}), ("ab", {"alpha": 1.3, "beta": 0.0}), ("ab", {"alpha": -0.4, "beta": 0.9})]:
        add(n, P)
        add(n, P, V=33, tt=0.7, ts=2.0, t2=1)
    for mix in ["arithmetic", "geometric", "loss"]:
        for n, P in [("fkl", {}), ("rkl", {}), ("jsd", {"beta": 0.5}), ("tvd", {}), ("renyi", {"alpha": 0.5})]:
            add(n, P, V=7, K=3, mix=mix, tt=1.5, ts=1.5)
    add("sinkhorn", {"epsilon": 0.1, "cost": "ordinal"})
    add("sinkhorn", {"epsilon": 0.05, "cost": "01"}, V=5)
    add("sinkhorn", {"epsilon": 0.2, "cost": "ordinal"}, V=9, tt=2.0, ts=2.0, t2=1)

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_div.txt")
    with open(out, "w") as f:
        f.write("# generated by make_golden_div.py (numpy %s); do not edit\n" % np.__version__)
        for c in cases:
            L = row_loss(c, c["z"])
            g = grad_fd(c, c["z"])
            kv = " ".join("%s %s" % (k, (repr(float(v)) if not isinstance(v, str) else v)) for k, v in c["params"].items())
            f.write("case %s %d %s %d %d %s %r %r %d\n" % (c["div"], len(c["params"]), kv, c["V"], c["K"], c["mix"],
                                                          c["tt"], c["ts"], c["t2"]))
            f.write("weights " + " ".join("%.17g" % w for w in c["weights"]) + "\n")
            for t in c["teachers"]:
                f.write(" ".join("%.17g" % x for x in t) + "\n")
            f.write(" ".join("%.17g" % x for x in c["z"]) + "\n")
            f.write("loss %.17g\n" % L)
            f.write("grad " + " ".join("%.17g" % x for x in g) + "\n")
    print("wrote %d cases to %s" % (len(cases), out))


if __name__ == "__main__":
    main()
