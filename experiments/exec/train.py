#!/usr/bin/env python3
"""A small but real training script run by divsweep's `exec` task (standard library only).

Trains a logistic-regression classifier with minibatch SGD on a synthetic, seeded two-class data
set (two Gaussian blobs in `--dim` dimensions with label noise) and reports through the exec
protocol: a curve point {"step", "loss", "val_acc"} every --log-every steps on the results fd,
and {"final": {...}} at the end.  Every --ckpt-every steps it saves its whole state (weights,
step, and the random generator's state) into $DIVSWEEP_CHECKPOINT_DIR; started again with a
checkpoint there (after a preemption: DIVSWEEP_RESUMED=1) it continues from it, so an interrupted
and resumed trial ends with exactly the metrics of an uninterrupted one.  On SIGTERM it saves a
checkpoint and exits at once.

    python3 train.py --lr 0.1 --batch 16 --steps 300 [--dim 8] [--seed S] [--step-sleep 0]
"""
import argparse, json, math, os, random, signal, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--lr", type=float, required=True)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--steps", type=int, default=300)
ap.add_argument("--dim", type=int, default=8)
ap.add_argument("--seed", type=int, default=int(os.environ.get("DIVSWEEP_SEED", "0")) % (2**31))
ap.add_argument("--log-every", type=int, default=10)
ap.add_argument("--ckpt-every", type=int, default=25)
ap.add_argument("--step-sleep", type=float, default=0.0, help="seconds per step (to make preemption visible)")
a = ap.parse_args()

fd = int(os.environ.get("DIVSWEEP_RESULTS_FD", "1"))
out = os.fdopen(fd, "w", buffering=1) if fd != 1 else sys.stdout
ckdir = os.environ.get("DIVSWEEP_CHECKPOINT_DIR", ".")
ckpt = os.path.join(ckdir, "state.json")

# The data depend only on the seed: every attempt and every resume sees the same set.
data_rng = random.Random(a.seed)
centre = [data_rng.gauss(0, 1) for _ in range(a.dim)]
def sample(n):
    xs, ys = [], []
    for _ in range(n):
        y = data_rng.random() < 0.5
        x = [(c if y else -c) + data_rng.gauss(0, 1.5) for c in centre]
        if data_rng.random() < 0.05:
            y = not y
        xs.append(x); ys.append(1.0 if y else 0.0)
    return xs, ys
train_x, train_y = sample(512)
val_x, val_y = sample(256)

def predict(w, x):
    z = w[-1] + sum(wi * xi for wi, xi in zip(w, x))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

def loss_acc(w, xs, ys):
    loss = acc = 0.0
    for x, y in zip(xs, ys):
        p = min(max(predict(w, x), 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        acc += (p >= 0.5) == (y == 1.0)
    return loss / len(xs), acc / len(xs)

w = [0.0] * (a.dim + 1)
step = 0
rng = random.Random(a.seed + 1)  # minibatch order
if os.path.exists(ckpt):
    with open(ckpt) as f:
        st = json.load(f)
    w, step = st["w"], st["step"]
    state = st["rng"]
    rng.setstate((state[0], tuple(state[1]), state[2]))
    print("resumed from step %d (DIVSWEEP_RESUMED=%s)" % (step, os.environ.get("DIVSWEEP_RESUMED")), flush=True)

def save():
    tmp = ckpt + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"w": w, "step": step, "rng": rng.getstate()}, f)
    os.replace(tmp, ckpt)  # atomic: a kill mid-save never leaves a torn checkpoint

stop = False
def on_term(sig, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)

while step < a.steps:
    if stop:
        save()
        print("SIGTERM: checkpoint saved at step %d" % step, flush=True)
        sys.exit(0)
    idx = [rng.randrange(len(train_x)) for _ in range(a.batch)]
    grad = [0.0] * (a.dim + 1)
    for i in idx:
        e = predict(w, train_x[i]) - train_y[i]
        for j in range(a.dim):
            grad[j] += e * train_x[i][j]
        grad[-1] += e
    w = [wi - a.lr * g / a.batch for wi, g in zip(w, grad)]
    step += 1
    if step % a.log_every == 0 or step == a.steps:
        vl, va = loss_acc(w, val_x, val_y)
        out.write(json.dumps({"step": step, "loss": vl, "val_acc": va}) + "\n")
    if step % a.ckpt_every == 0:
        save()
    if a.step_sleep:
        time.sleep(a.step_sleep)

tl, ta = loss_acc(w, train_x, train_y)
vl, va = loss_acc(w, val_x, val_y)
out.write(json.dumps({"final": {"train_loss": tl, "train_acc": ta, "val_loss": vl, "val_acc": va}}) + "\n")
