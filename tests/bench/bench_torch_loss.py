#!/usr/bin/python3
"""bench_torch_loss.py — divsweep.torch.divergence forward+backward against PyTorch's own autograd
of the same formula (float32, CPU), 2 threads for both, every binding overhead included (tensor
conversions, the ctypes call, the autograd Function).  Prints one row per (B, V, divergence) with
the median times and the ratio torch / divsweep (target >= 10)."""
import sys
import time

import torch
import divsweep.torch as dt

F = torch.nn.functional
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)


def torch_loss(div, z, t):
    lq, lp = F.log_softmax(z, -1), F.log_softmax(t, -1)
    p, q = lp.exp(), lq.exp()
    if div == "fkl": r = (p * (lp - lq)).sum(-1)
    elif div == "rkl": r = (q * (lq - lp)).sum(-1)
    elif div == "jsd":
        lm = torch.log(0.5 * p + 0.5 * q)
        r = 0.5 * (p * (lp - lm)).sum(-1) + 0.5 * (q * (lq - lm)).sum(-1)
    elif div == "tvd": r = 0.5 * (p - q).abs().sum(-1)
    return r.mean()


def med(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


print("%-4s %-6s %-7s %12s %12s %8s" % ("B", "V", "div", "torch ms", "divsweep ms", "ratio"))
for B, V in ((32, 32000), (8, 128256)):
    torch.manual_seed(0)
    z0 = torch.randn(B, V) * 3
    t = torch.randn(B, V) * 3
    for div in ("fkl", "rkl", "jsd", "tvd"):
        def ref():
            z = z0.clone().requires_grad_(True)
            torch_loss(div, z, t).backward()

        def ours():
            z = z0.clone().requires_grad_(True)
            dt.divergence(z, t, div, threads=threads).backward()
        reps = 15
        a, b = med(ref, reps), med(ours, reps)
        print("%-4d %-6d %-7s %12.3f %12.3f %7.1fx" % (B, V, div, a * 1e3, b * 1e3, a / b))
