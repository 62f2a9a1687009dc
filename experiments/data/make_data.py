#!/usr/bin/python3
"""Writes the .npy inputs of the shipped experiments (run from the repository root:
/usr/bin/python3 experiments/data/make_data.py).  Deterministic (fixed numpy seeds); float64.

  x2_teacher.npy   [40]      logits log p of box(30): uniform on tokens 30..33 mixed with a 1e-6 floor
  x2_students.npy  [27][40]  row d = logits of box(30 - d), d = 0..26 (same floor)
  x10_logits.npy   [8][50]   raw logits z = 3·N(0,1)
  x10_logprobs.npy [8][50]   log softmax(z): the same distributions in the probability domain
  x13_teacher{0,1,2}.npy [2000][10]  three imperfect classifiers' logits over 10 classes, with
                   independent errors; accuracies 0.55, 0.60, 0.65 on x13_labels.npy
  x13_labels.npy   [2000]    the true classes
  x8_features.npy  [1500][2] 2-D inputs of a 3-class mixture whose class 0 has two lobes (X8)
  x8_labels.npy    [1500]    their classes, drawn from the generative model
  x8_teacher_{calibrated,sharp,soft}.npy [1500][3]  Bayes posterior log-probs, and those / 0.5, / 2
"""
import numpy as np

V = 40


def box(a, width=4, floor=1e-6):
    p = np.zeros(V)
    p[a:a + width] = 1.0 / width
    return np.log((1 - floor) * p + floor / V)


np.save("experiments/data/x2_teacher.npy", box(30))
np.save("experiments/data/x2_students.npy", np.stack([box(30 - d) for d in range(27)]))

rng = np.random.default_rng(10)
z = 3.0 * rng.standard_normal((8, 50))
lp = z - z.max(axis=1, keepdims=True)
lp = lp - np.log(np.exp(lp).sum(axis=1, keepdims=True))
np.save("experiments/data/x10_logits.npy", z)
np.save("experiments/data/x10_logprobs.npy", lp)

rng = np.random.default_rng(13)
N, C = 2000, 10
labels = rng.integers(0, C, N)
np.save("experiments/data/x13_labels.npy", labels.astype(np.float64))
for k, target in enumerate([0.55, 0.60, 0.65]):
    noise = rng.standard_normal((N, C))
    onehot = np.eye(C)[labels]
    lo, hi = 0.0, 10.0
    for _ in range(100):  # bisect the signal strength so the realised accuracy hits the target
        s = 0.5 * (lo + hi)
        acc = np.mean(np.argmax(s * onehot + noise, axis=1) == labels)
        lo, hi = (s, hi) if acc < target else (lo, s)
    logits = hi * onehot + noise
    print(f"teacher {k}: strength {hi:.4f}, accuracy {np.mean(np.argmax(logits, 1) == labels):.4f}")
    np.save(f"experiments/data/x13_teacher{k}.npy", logits)

# X8: 3 classes in 2-D, equal priors; class 0 has two lobes (±4, 0) with class 1 between them at
# (0, 0) and class 2 at (0, 3), all isotropic with σ = 1.  Class regions of a linear-softmax student
# are convex, so it cannot give class 0 both lobes without also giving it class 1's centre.  Teachers: the Bayes posterior log-probs (calibrated), and the same logits / 0.5 (over-sharp)
# and / 2 (too soft).  Labels are drawn from the generative model, so the calibrated teacher's
# confidence matches its accuracy in expectation.
rng = np.random.default_rng(8)
N = 1500
means = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 0.0], [0.0, 3.0]])  # lobes 0a, 0b, class 1, class 2
lobe_w = np.array([1 / 6, 1 / 6, 1 / 3, 1 / 3])
lobe_cls = np.array([0, 0, 1, 2])
lobe = rng.choice(4, size=N, p=lobe_w)
x = means[lobe] + rng.standard_normal((N, 2))
lab = lobe_cls[lobe]
ll = -0.5 * ((x[:, None, :] - means[None, :, :]) ** 2).sum(axis=2) + np.log(lobe_w)[None, :]
cls_ll = np.stack([np.logaddexp(ll[:, 0], ll[:, 1]), ll[:, 2], ll[:, 3]], axis=1)
post = cls_ll - np.logaddexp.reduce(cls_ll, axis=1, keepdims=True)
np.save("experiments/data/x8_features.npy", x)
np.save("experiments/data/x8_labels.npy", lab.astype(np.float64))
np.save("experiments/data/x8_teacher_calibrated.npy", post)
np.save("experiments/data/x8_teacher_sharp.npy", post / 0.5)
np.save("experiments/data/x8_teacher_soft.npy", post / 2.0)
print(f"x8: Bayes accuracy {np.mean(post.argmax(1) == lab):.4f}, class counts {np.bincount(lab)}")

# X12: writes the spec experiments/x12_kd_plus_rl.json (its 16 prompt types are drawn here).
# Tabular student over M = 16 prompts x K = 10 answers (per_type θ), one correct answer per prompt;
# the student's base probability of it is log-uniform in [0.001, 0.05]; the imperfect teacher puts
# U(0.2, 0.8) on it, 90% of the rest on one wrong answer.  GRPO (group 8, Adam lr 0.1, 100 steps),
# KD alone (reward_coef 0, kd_coef 0.1), GRPO + KD; KD's sampled estimator is k2.
import json
rng = np.random.default_rng(12)
M, K = 16, 10
types = []
for m in range(M):
    c = int(rng.integers(K))
    ps = float(np.exp(rng.uniform(np.log(0.001), np.log(0.05))))
    base = rng.normal(0, 0.5, K)
    base[c] = -np.inf
    e = np.exp(base - np.max(base[np.isfinite(base)]))
    e[c] = 0
    e = (1 - ps) * e / e.sum()
    e[c] = ps
    pt = rng.uniform(0.2, 0.8)
    w = (c + 1 + int(rng.integers(K - 1))) % K
    q = np.full(K, 0.1 * (1 - pt) / (K - 2))
    q[w] = 0.9 * (1 - pt)
    q[c] = pt
    types.append({"base_logits": [round(float(x), 6) for x in np.log(e)], "reward": {"ones": [c]},
                  "teacher_logits": [round(float(x), 6) for x in np.log(q)]})
spec = {"name": "x12_kd_plus_rl", "task": "rlvr",
        "fixed": {"answers": K, "params": "per_type", "estimator": "grpo", "group_size": 8,
                  "kl_estimator": "k2", "optimizer": "adam", "lr": 0.1, "steps": 100, "types": types},
        "sweep": {"reward_coef": [0, 1], "kd_coef": [0, 0.1]}, "seeds": 8}
with open("experiments/x12_kd_plus_rl.json", "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
