#!/usr/bin/env bash
# A logits trial over files larger than its memory budget (issue 18): 512 x 65536 float16 teacher
# and student logits (64 MiB each, 128 MiB as float32 — the old loader's copy in double was 256 MiB
# per file) run on the cpu backend with a peak RSS under 64 MiB, because the files stay
# memory-mapped and rows go through fp32 chunk buffers; the loss and metrics agree with numpy in
# float64 computed here from the same files (an independent reference), to 1e-4 relative.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import numpy' 2>/dev/null; then echo "skip: /usr/bin/python3 has no numpy"; exit 77; fi
cd "$TMP"
"$PY" - <<'PY'
import numpy as np
r = np.random.default_rng(11)
for n in 'ts':
    a = np.lib.format.open_memmap(n + '.npy', mode='w+', dtype=np.float16, shape=(512, 65536))
    for i in range(0, 512, 128):
        a[i:i + 128] = (r.standard_normal((128, 65536)) * 3).astype(np.float16)
    a.flush()
PY
cat > big.json <<'J'
{"trial": {"backend": "cpu"}, "sweep": {"divergence": ["fkl", "jsd"]}, "fixed": {"student_npy": "s.npy", "temperature": 2, "teachers": [{"npy": "t.npy"}]}, "task": "logits", "name": "big"}
J
out=$("$DS_BIN" run big.json --db big.db --threads 1 2>&1)
rss=$(sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' <<<"$out")
check "both trials done" "$(q big.db "SELECT count(*) FROM trials WHERE status='done'")" 2
check_true "peak RSS ${rss:-?} MiB < 64 MiB for 128 MiB of float16 files" test "${rss:-999}" -lt 64
# Kernel threads default to this worker's share of the cores: one worker thread gets them all.
check "kernel threads: the worker's share of the cores" "$(q big.db "SELECT DISTINCT CAST(value AS INT) FROM metrics WHERE name='kernel_threads'")" "$(nproc)"
check "backend recorded" "$(q big.db "SELECT count(*) FROM metrics WHERE name='backend_id' AND value=1")" 2
q big.db "SELECT json_extract(t.params_json,'$.divergence'), m.name, m.value FROM trials t JOIN metrics m USING(trial_id)
          WHERE m.name IN ('loss','fkl','rkl','jsd','tvd','entropy_t','teacher_entropy_t','teacher_max_t','top1_agree')" > got.csv
"$PY" - <<'PY' > ref.txt
import numpy as np, csv
t = np.load('t.npy').astype(np.float64); s = np.load('s.npy').astype(np.float64)
def lsm(x, T):
    y = x / T; y = y - y.max(1, keepdims=True); return y - np.log(np.exp(y).sum(1, keepdims=True))
lp1, lq1, lpT, lqT = lsm(t, 1), lsm(s, 1), lsm(t, 2), lsm(s, 2)
p1, q1, pT, qT = np.exp(lp1), np.exp(lq1), np.exp(lpT), np.exp(lqT)
kl = lambda a, la, lb: (a * (la - lb)).sum(1).mean()
m1 = 0.5 * (p1 + q1); lm1 = np.log(m1)
mT = 0.5 * (pT + qT); lmT = np.log(mT)
common = {'fkl': kl(p1, lp1, lq1), 'rkl': kl(q1, lq1, lp1), 'jsd': 0.5 * kl(p1, lp1, lm1) + 0.5 * kl(q1, lq1, lm1),
          'tvd': 0.5 * np.abs(p1 - q1).sum(1).mean(), 'entropy_t': -(qT * lqT).sum(1).mean(),
          'teacher_entropy_t': -(pT * lpT).sum(1).mean(), 'teacher_max_t': pT.max(1).mean(),
          'top1_agree': (t.argmax(1) == s.argmax(1)).mean()}
loss = {'fkl': kl(pT, lpT, lqT), 'jsd': 0.5 * kl(pT, lpT, lmT) + 0.5 * kl(qT, lqT, lmT)}
bad = 0
for div, name, v in csv.reader(open('got.csv')):
    want = loss[div] if name == 'loss' else common[name]
    if not abs(float(v) - want) <= 1e-4 * abs(want) + 1e-9:
        print(f'{div} {name}: divsweep {float(v):.10g} numpy {want:.10g}'); bad += 1
print(f'mismatches {bad} of 18')
PY
check "divsweep's metrics against numpy float64 (1e-4 relative)" "$(tail -1 ref.txt)" "mismatches 0 of 18"
grep -v '^mismatches' ref.txt || true
finish
