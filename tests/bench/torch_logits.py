"""PyTorch CPU anchor for the logits-trial benchmark (tests/bench/bench_logits_trial.sh): what a user
would write to get the numbers one divsweep `logits` trial stores, from the same .npy files — the
divergence at T (batchmean, x T^2) with its gradient norm, and at T = 1 forward/reverse KL, JSD,
TVD and top-1 agreement, at T the student's and teacher's entropy and the teacher's top
probability.  Usage: torch_logits.py TEACHER.npy STUDENT.npy DIV T THREADS.  Prints the best
wall time of 3 (including the file load, as a trial pays it) and the loss."""
import sys, time
import numpy as np, torch, torch.nn.functional as F
tp, sp, div, T, th = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(th)

def kl(lp, lq):  # KL(p || q) per row from log-probs
    return (lp.exp() * (lp - lq)).sum(-1)

def jsd(lp, lq):
    lm = torch.logaddexp(lp, lq) - np.log(2.0)
    return 0.5 * kl(lp, lm) + 0.5 * kl(lq, lm)

def loss_of(lp, lq):
    if div == "fkl": return kl(lp, lq)
    if div == "rkl": return kl(lq, lp)
    if div == "jsd": return jsd(lp, lq)
    if div == "tvd": return 0.5 * (lp.exp() - lq.exp()).abs().sum(-1)
    raise SystemExit("unknown div " + div)

def trial():
    t = torch.from_numpy(np.load(tp)).float(); s = torch.from_numpy(np.load(sp)).float().requires_grad_(True)
    lpT, lqT = F.log_softmax(t / T, -1), F.log_softmax(s / T, -1)
    loss = loss_of(lpT, lqT).mean() * T * T
    loss.backward()
    out = {"loss": loss.item(), "grad_norm": s.grad.norm().item()}
    with torch.no_grad():
        lp1, lq1 = F.log_softmax(t, -1), F.log_softmax(s, -1)
        out.update(fkl=kl(lp1, lq1).mean().item(), rkl=kl(lq1, lp1).mean().item(), jsd=jsd(lp1, lq1).mean().item(),
                   tvd=(0.5 * (lp1.exp() - lq1.exp()).abs().sum(-1)).mean().item(),
                   top1_agree=(t.argmax(-1) == s.argmax(-1)).float().mean().item(),
                   entropy_t=(-(lqT.exp() * lqT).sum(-1)).mean().item(),
                   teacher_entropy_t=(-(lpT.exp() * lpT).sum(-1)).mean().item(),
                   teacher_max_t=lpT.exp().max(-1).values.mean().item())
    return out

best = 1e9
for _ in range(3):
    a = time.perf_counter(); out = trial(); b = time.perf_counter()
    best = min(best, b - a)
print(f"torch {div} s={best:.4f} loss={out['loss']:.6f}")
