"""PyTorch CPU anchor for the distill-trial benchmark (tests/bench/bench_distill_trial.sh): the
training loop a user would write for divsweep's `distill` trial with a free student — one logit per
token and row, Adam (lr 0.05), 200 steps of the divergence at T = 1 against a fixed random teacher,
autograd for the gradient.  Usage: torch_distill.py DIV ROWS VOCAB STEPS THREADS.  Prints the wall
time of the loop and the final loss."""
import sys, time, numpy as np, torch, torch.nn.functional as F
div, R, V, steps, th = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(th)
torch.manual_seed(0)
lp = F.log_softmax(torch.randn(R, V) * 3, -1)
z = torch.zeros(R, V, requires_grad=True)
opt = torch.optim.Adam([z], lr=0.05)

def kl(la, lb):
    return (la.exp() * (la - lb)).sum(-1)

def loss_of(lq):
    if div == "fkl": return kl(lp, lq).mean()
    if div == "rkl": return kl(lq, lp).mean()
    if div == "jsd":
        lm = torch.logaddexp(lp, lq) - np.log(2.0)
        return (0.5 * kl(lp, lm) + 0.5 * kl(lq, lm)).mean()
    raise SystemExit("unknown div " + div)

a = time.perf_counter()
for s in range(steps):
    opt.zero_grad()
    loss = loss_of(F.log_softmax(z, -1))
    loss.backward()
    opt.step()
b = time.perf_counter()
print(f"torch {div} R={R} V={V} steps={steps} threads={th} s={b - a:.3f} loss={loss.item():.6f}")
