#!/usr/bin/python3
"""test_py_torch.py — divsweep.torch against PyTorch autograd of the same formulas in float64
(loss and gradient; temperature, T², every reduction, padded rows by labels = -100, two-teacher
mixtures), DivergenceLoss, grad_output scaling, dtype conversion, and torch.autograd.gradcheck on
small shapes.  The references below are written from reference/kernels.md §2, in probability space.
Exit 77 (skipped) without torch or numpy."""
import sys

try:
    import numpy  # noqa: F401
    import torch
except ImportError:
    print("skip: torch/numpy missing"); sys.exit(77)
import divsweep
import divsweep.torch as dt

torch.manual_seed(0)
F = torch.nn.functional


def kl(lp, lq):
    return (lp.exp() * (lp - lq)).sum(-1)


def ref_rows(div, lp, lq, prm):
    p, q = lp.exp(), lq.exp()
    a, b, w = prm.get("alpha"), prm.get("beta"), prm.get("w")
    if div == "fkl": return kl(lp, lq)
    if div == "rkl": return kl(lq, lp)
    if div == "jsd":
        lm = torch.log(b * p + (1 - b) * q)
        return b * kl(lp, lm) + (1 - b) * kl(lq, lm)
    if div == "skl": return kl(lp, torch.log(a * p + (1 - a) * q))
    if div == "srkl": return kl(lq, torch.log((1 - a) * p + a * q))
    if div == "tvd": return 0.5 * (p - q).abs().sum(-1)
    if div == "hellinger": return 1 - (p * q).sqrt().sum(-1)
    if div == "chi2": return ((p - q) ** 2 / q).sum(-1)
    if div == "chi2n": return ((q - p) ** 2 / p).sum(-1)
    if div == "renyi": return torch.log((a * lp + (1 - a) * lq).exp().sum(-1)) / (a - 1)
    if div == "amari": return (1 - (a * lp + (1 - a) * lq).exp().sum(-1)) / (a * (1 - a))
    if div == "cs":
        return -torch.log((p * q).sum(-1)) + 0.5 * torch.log((p * p).sum(-1)) + 0.5 * torch.log((q * q).sum(-1))
    if div == "wmix": return w * kl(lp, lq) + (1 - w) * kl(lq, lp)
    if div == "w1": return (p.cumsum(-1) - q.cumsum(-1)).abs()[..., :-1].sum(-1) / p.shape[-1]
    if div == "entropy": return -(q * lq).sum(-1)
    raise KeyError(div)


def ref_loss(div, z, teachers, prm, T=1.0, t2=False, reduction="batchmean", weights=None, mix="arithmetic", mask=None):
    lq = F.log_softmax(z / T, -1)
    if len(teachers) == 1:
        lp = F.log_softmax(teachers[0] / T, -1)
    elif mix == "geometric":
        lp = F.log_softmax(sum(wk * t for wk, t in zip(weights, teachers)) / T, -1)
    else:
        lp = torch.logsumexp(torch.stack([torch.log(torch.tensor(wk, dtype=z.dtype)) + F.log_softmax(t / T, -1)
                                          for wk, t in zip(weights, teachers)]), 0)
    r = ref_rows(div, lp, lq, prm) * (T * T if t2 else 1.0)
    keep = torch.ones(r.shape[0], dtype=z.dtype) if mask is None else mask.to(z.dtype)
    r = r * keep
    n = max(keep.sum().item(), 1.0)
    return {"batchmean": r.sum() / n, "sum": r.sum(), "mean": r.sum() / (n * z.shape[-1]), "none": r}[reduction]


CASES = [("fkl", {}), ("rkl", {}), ("jsd", {"beta": 0.5}), ("jsd", {"beta": 0.3}), ("skl", {"alpha": 0.1}),
         ("srkl", {"alpha": 0.1}), ("tvd", {}), ("hellinger", {}), ("chi2", {}), ("chi2n", {}),
         ("renyi", {"alpha": 0.5}), ("renyi", {"alpha": 2.0}), ("amari", {"alpha": 0.5}), ("cs", {}),
         ("wmix", {"w": 0.3}), ("w1", {}), ("entropy", {})]
B, V = 6, 40
f32 = lambda x: x.float().double()  # inputs exactly representable in fp32: only the arithmetic differs
fails = n = 0
for div, prm in CASES:
    for (T, t2, red, nt, mix, masked) in [(1.0, False, "batchmean", 1, "arithmetic", False),
                                          (2.0, True, "sum", 1, "arithmetic", True),
                                          (0.7, False, "mean", 2, "arithmetic", False),
                                          (1.5, True, "none", 2, "geometric", True),
                                          (1.0, False, "batchmean", 2, "arithmetic", True)]:
        z = f32(torch.randn(B, V) * 2)
        ts = [f32(torch.randn(B, V) * 2) for _ in range(nt)]
        weights = [0.35, 0.65] if nt == 2 else None
        labels = torch.tensor([1, -100, 3, 4, -100, 5]) if masked else None
        mask = (labels != -100) if masked else None
        z1 = z.clone().requires_grad_(True)
        ours = dt.divergence(z1, ts if nt > 1 else ts[0], div, temperature=T, t2=t2, reduction=red,
                             weights=weights, mix=mix, labels=labels, threads=2, **prm)
        z2 = z.clone().requires_grad_(True)
        ref = ref_loss(div, z2, ts, prm, T, t2, red, weights, mix, mask)
        go = torch.rand(ref.shape, dtype=torch.float64) + 0.5  # grad_output scaling, per row for none
        (ours * go.to(ours.dtype)).sum().backward()
        (ref * go).sum().backward()
        ok = torch.allclose(ours.double(), ref.detach(), rtol=2e-5, atol=2e-6) and \
            torch.allclose(z1.grad, z2.grad, rtol=1e-4, atol=2e-6)
        n += 1
        if not ok:
            fails += 1
            print("FAIL %s %s T=%g t2=%s %s K=%d %s mask=%s: loss %s vs %s, grad err %.3g" % (
                div, prm, T, t2, red, nt, mix, masked, ours.detach().numpy(), ref.detach().numpy(),
                (z1.grad - z2.grad).abs().max()))
print("autograd comparisons: %d, failed %d" % (n, fails))
assert fails == 0

# Masked rows get a zero gradient; float16/bfloat16 inputs are converted (gradient in their dtype).
for dty in (torch.float16, torch.bfloat16, torch.float32):
    z = torch.randn(4, 30).to(dty).requires_grad_(True)
    t = torch.randn(4, 30).to(dty)
    loss = divsweep.torch.DivergenceLoss("jsd", temperature=2.0, t2=True)(z, t, labels=torch.tensor([0, -100, 2, 3]))
    loss.backward()
    assert loss.dtype == torch.float32 and z.grad.dtype == dty and not z.grad[1].any() and z.grad[0].any()
    refl = ref_loss("jsd", z.detach().double(), [t.double()], {"beta": 0.5}, 2.0, True, mask=torch.tensor([1, 0, 1, 1]))
    assert abs(loss.item() - refl.item()) < 1e-5 * max(1, abs(refl.item())), (loss.item(), refl.item())
# 3-D [batch, seq, V] logits: rows are the leading dims.
z = torch.randn(2, 3, 20, dtype=torch.float64, requires_grad=True)
t = torch.randn(2, 3, 20, dtype=torch.float64)
assert dt.divergence(z, t, "fkl", reduction="none").shape == (2, 3)
# Errors are ValueError, not crashes.
for bad in (lambda: dt.divergence(z, t[..., :5], "fkl"), lambda: dt.divergence(z, t, "skl", alpha=3.0)):
    try:
        bad(); raise AssertionError("no error")
    except ValueError:
        pass
if torch.cuda.is_available() and not dt.cuda_available():
    try:
        dt.divergence(z.cuda(), t.cuda(), "fkl"); raise AssertionError("no error")
    except RuntimeError as e:
        assert "CUDA" in str(e)

# gradcheck: the kernel computes in fp32, so finite differences need a large step and loose tolerances.
for div, prm in [("fkl", {}), ("jsd", {"beta": 0.5}), ("tvd", {}), ("renyi", {"alpha": 2.0})]:
    z = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 8, dtype=torch.float64)
    for red in ("batchmean", "none"):
        fn = lambda x: dt.divergence(x, t, div, temperature=1.3, t2=True, reduction=red, **prm)
        assert torch.autograd.gradcheck(fn, (z,), eps=1e-3, atol=2e-3, rtol=2e-2), (div, red)
print("ok")
