#!/bin/bash
# Integration test: small versions of experiments X1 (mode seeking) and X6 (pass@k collapse), and
# the shipped specs of X8 (calibration) and X12 (KD + RL), run as real campaigns on 3 MPI ranks;
# their orderings are asserted on the database with SQL.
# Environment (from CTest): DS_BIN, DS_MPIEXEC, DS_SRC (the repository root: the shipped specs name
# their .npy inputs relative to it).  Skips (77) without mpiexec.
set -u
BIN=$(realpath "${DS_BIN:-build/divsweep}")
SRC=${DS_SRC:-$(dirname "$0")/..}
MPI=${DS_MPIEXEC:-mpiexec}
command -v "$MPI" >/dev/null 2>&1 || { echo "no mpiexec; skipping"; exit 77; }
T=$(mktemp -d /tmp/ds_test_experiments.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0
check() { # check "description" "SQL returning 1 when true" DB
  local got
  got=$("$BIN" query --db "$3" --format csv "$2" | tail -n 1)
  if [ "$got" != "1" ]; then echo "FAIL: $1 (got '$got')"; fail=1; else echo "ok: $1"; fi
}

cat > "$T/x1.json" <<'JSON'
{"name": "x1_small", "task": "distill",
 "fixed": {"vocab": 40, "teachers": [{"bumps": [[14, 2, 0.6], [26, 2, 0.4]], "floor": 0.001}],
           "student": {"kind": "gaussian"}, "restarts": 30, "steps": 300, "lr": 0.1},
 "sweep": {"divergence": ["fkl", "rkl", "jsd", "tvd", "hellinger", "cs", "w1",
                          {"name": "amari", "alpha": [0.1, 0.5, 0.9]}, {"name": "wmix", "w": [0, 0.5, 1]}]},
 "seeds": 1}
JSON
cat > "$T/x6.json" <<'JSON'
{"name": "x6_small", "task": "rlvr",
 "fixed": {"answers": 8, "params": "shared", "estimator": "exact", "optimizer": "gd", "lr": 1.0, "steps": 3000,
           "k": [1, 64],
           "types": [{"weight": 0.6, "base_logits": [1, 0.3, -0.5, 0, 0, 0, 0, 0], "reward": {"ones": [0]}},
                     {"weight": 0.25, "base_logits": [1, 0.3, -0.5, 0, 0, 0, 0, 0], "reward": {"ones": [1]}},
                     {"weight": 0.15, "base_logits": [1, 0.3, -0.5, 0, 0, 0, 0, 0], "reward": {"ones": [2]}}]},
 "sweep": {"divergence": ["fkl", "rkl", "hellinger", "jsd"], "beta": [0, 0.03]},
 "seeds": 1}
JSON
for n in x1 x6; do
  if ! "$MPI" -np 3 "$BIN" run "$T/$n.json" --db "$T/$n.db" --quiet; then echo "FAIL: $n campaign"; exit 1; fi
done
X1="$T/x1.db"; X6="$T/x6.db"
check "X1: every trial done" "SELECT count(*) = 13 FROM v_x1_small WHERE status = 'done'" "$X1"
check "X1: fkl, jsd, hellinger, w1 cover both modes" \
  "SELECT min(modes_covered) = 2 FROM v_x1_small WHERE divergence IN ('fkl','jsd','hellinger','w1')" "$X1"
check "X1: rkl, tvd, cs lock onto one mode" \
  "SELECT max(modes_covered) = 1 FROM v_x1_small WHERE divergence IN ('rkl','tvd','cs')" "$X1"
check "X1: mass-covering students are broader than mode-seeking ones" \
  "SELECT (SELECT min(entropy) FROM v_x1_small WHERE divergence IN ('fkl','jsd','hellinger','w1')) >
          (SELECT max(entropy) FROM v_x1_small WHERE divergence IN ('rkl','tvd','cs'))" "$X1"
check "X1: entropy non-decreasing in amari alpha" \
  "SELECT count(*) = 0 FROM v_x1_small a JOIN v_x1_small b ON a.divergence = 'amari' AND b.divergence = 'amari'
     AND a.divergence_alpha < b.divergence_alpha AND a.entropy > b.entropy + 1e-9" "$X1"
check "X1: entropy non-decreasing in wmix w" \
  "SELECT count(*) = 0 FROM v_x1_small a JOIN v_x1_small b ON a.divergence = 'wmix' AND b.divergence = 'wmix'
     AND a.divergence_w < b.divergence_w AND a.entropy > b.entropy + 1e-9" "$X1"
check "X6: every trial done" "SELECT count(*) = 8 FROM v_x6_small WHERE status = 'done'" "$X6"
check "X6: without a penalty pass@1 rises, pass@64 falls far below the base, entropy -> 0" \
  "SELECT min(pass_at_1 > base_pass_at_1 AND pass_at_64 < base_pass_at_64 - 0.3 AND entropy < 0.05)
     FROM v_x6_small WHERE beta = 0" "$X6"
check "X6: at small equal beta fkl keeps more pass@64 and entropy than rkl, hellinger, jsd" \
  "SELECT (SELECT pass_at_64 FROM v_x6_small WHERE divergence = 'fkl' AND beta = 0.03) >
          (SELECT max(pass_at_64) FROM v_x6_small WHERE divergence != 'fkl' AND beta = 0.03) + 0.1
      AND (SELECT entropy FROM v_x6_small WHERE divergence = 'fkl' AND beta = 0.03) >
          (SELECT max(entropy) FROM v_x6_small WHERE divergence != 'fkl' AND beta = 0.03)" "$X6"

# X8 and X12: the shipped specs, run from the repository root.
for n in x8_calibration x12_kd_plus_rl; do
  if ! (cd "$SRC" && "$MPI" -np 3 "$BIN" run "experiments/$n.json" --db "$T/$n.db" --quiet); then
    echo "FAIL: $n campaign"; exit 1
  fi
done
X8="$T/x8_calibration.db"; X12="$T/x12_kd_plus_rl.db"
V8="(SELECT *, CASE WHEN teachers LIKE '%calibrated%' THEN 'calibrated' WHEN teachers LIKE '%sharp%' THEN 'sharp'
     ELSE 'soft' END AS teacher FROM v_x8_calibration)"
check "X8: every trial done" "SELECT count(*) = 15 FROM v_x8_calibration WHERE status = 'done'" "$X8"
check "X8: student confidence falls strictly as w rises, for every teacher" \
  "SELECT count(*) = 0 FROM $V8 a JOIN $V8 b ON a.teacher = b.teacher AND a.divergence_w < b.divergence_w
     AND a.confidence <= b.confidence" "$X8"
check "X8: calibrated teacher: ECE falls strictly as w rises" \
  "SELECT count(*) = 0 FROM $V8 a JOIN $V8 b ON a.teacher = 'calibrated' AND b.teacher = 'calibrated'
     AND a.divergence_w < b.divergence_w AND a.ece <= b.ece" "$X8"
check "X8: over-sharp teacher: reverse KL (w = 0) gains accuracy and loses calibration against forward KL" \
  "SELECT r.accuracy > f.accuracy + 0.1 AND r.ece > f.ece + 0.1 FROM $V8 r, $V8 f
     WHERE r.teacher = 'sharp' AND f.teacher = 'sharp' AND r.divergence_w = 0 AND f.divergence_w = 1" "$X8"
A12="(SELECT reward_coef, kd_coef, avg(pass_at_1) p, avg(teacher_pass_at_1) t FROM v_x12_kd_plus_rl GROUP BY 1, 2)"
check "X12: every trial done" "SELECT count(*) = 32 FROM v_x12_kd_plus_rl WHERE status = 'done'" "$X12"
check "X12: averaged over seeds, KD+RL > GRPO > KD, and KD+RL exceeds the teacher" \
  "SELECT b.p > g.p AND g.p > k.p AND b.p > b.t FROM $A12 b, $A12 g, $A12 k
     WHERE b.reward_coef = 1 AND b.kd_coef > 0 AND g.reward_coef = 1 AND g.kd_coef = 0
       AND k.reward_coef = 0 AND k.kd_coef > 0" "$X12"
exit $fail
