#!/usr/bin/env bash
# `divsweep validate` catches, with one line naming the JSON path and exit 1, the mistakes that
# used to pass validation and then fail every trial at run time: a missing, unreadable, non-float
# or mis-shaped .npy, per-answer lists that disagree with `answers`, a mixture that disagrees with
# the teachers, an objective the task never reports; and it names an unknown parameter at its key
# with the nearest valid name.
set -u
BIN=${DS_BIN:?DS_BIN}
SRC=${DS_SRC:?DS_SRC}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
python3 - <<'PY'
import struct
def save(path, shape, descr='<f4'):
    n = 1
    for s in shape: n *= s
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode() + b'\0' * (n * {'<f4': 4, '<f8': 8, '<i4': 4}[descr]))
save('t.npy', (4, 10)); save('t2.npy', (4, 12)); save('i.npy', (4, 10), '<i4'); save('lab.npy', (3,), '<f8')
PY
fail=0
# expect NAME 'SPEC JSON' 'expected message (after "divsweep: x.json: ")'
expect() {
  printf '%s\n' "$2" > "$1.json"
  out=$("$BIN" validate "$1.json" --show 0 2>&1)
  rc=$?
  want="divsweep: $1.json: $3"
  if [ $rc -ne 1 ] || [ "$out" != "$want" ]; then
    echo "FAIL $1: exit $rc"; echo "  got:  $out"; echo "  want: $want"; fail=1
  else
    echo "ok   $1"
  fi
  # `run` refuses the same spec with the same line, before it creates the database.
  out=$("$BIN" run "$1.json" --db "$1.db" --quiet 2>&1)
  rc=$?
  if [ $rc -ne 1 ] || [ "$out" != "$want" ] || [ -e "$1.db" ]; then
    echo "FAIL $1 (run): exit $rc, database $( [ -e "$1.db" ] && echo created || echo absent)"; echo "  got:  $out"; echo "  want: $want"; fail=1
  else
    echo "ok   $1 (run)"
  fi
}
RL='"answers": 3, "types": [{"weight": 1, "base_logits": [0, 0, 0], "reward": [1, 0, 0]}]'
expect typo "{\"name\": \"a\", \"task\": \"rlvr\", \"fixed\": {$RL}, \"sweep\": {\"divergance\": [\"fkl\", \"rkl\"]}}" \
  'sweep.divergance: unknown parameter for task rlvr; did you mean "divergence"?'
expect unknown "{\"name\": \"a\", \"task\": \"rlvr\", \"fixed\": {$RL}, \"sweep\": {\"temperature\": [1, 2]}}" \
  'sweep.temperature: unknown parameter for task rlvr (`divsweep help rlvr` lists them)'
expect reward_len '{"name": "a", "task": "rlvr", "fixed": {"answers": 8, "types": [{"weight": 1, "base_logits": [0, 0, 0, 0, 0, 0, 0, 0], "reward": [1, 0, 0]}]}}' \
  'fixed.types[0].reward: 3 values for answers = 8'
expect objective "{\"name\": \"a\", \"task\": \"rlvr\", \"fixed\": {$RL, \"k\": [1, 8, 64]}, \"objectives\": {\"pass_at_128\": \"max\"}}" \
  'objectives.pass_at_128: task rlvr does not report this metric with these parameters (it reports reward, pass_at_1, pass_at_64, pass_at_8, entropy, rkl_ref, fkl_ref, base_pass_at_1, base_pass_at_64, base_pass_at_8, base_entropy, optimality_gap, teacher_pass_at_1, rkl_teacher)'
expect missing_npy '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}, {"npy": "tt.npy"}]}}' \
  'fixed.teachers[1].npy: tt.npy: cannot open: No such file or directory'
expect dtype '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "i.npy"}]}}' \
  "fixed.teachers[0].npy: i.npy: unsupported .npy dtype '<i4' (want float16 <f2, float32 <f4 or float64 <f8)"
expect vocab_files '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}], "student_npy": "t2.npy"}}' \
  'fixed.student_npy: t2.npy has vocab 12 but fixed.teachers[0].npy (t.npy) has 10'
expect vocab_param '{"name": "a", "task": "distill", "fixed": {"teachers": [{"npy": "t.npy"}], "vocab": 12}}' \
  'fixed.vocab: 12, but fixed.teachers[0].npy (t.npy) has vocab 10'
expect labels '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}], "labels": "lab.npy"}}' \
  'fixed.labels: lab.npy has 3 labels for 4 rows'
expect mixture '{"name": "a", "task": "distill", "fixed": {"vocab": 5, "teachers": [{"box": [0, 2]}, {"box": [2, 2]}]}, "sweep": {"mixture": {"simplex": 3, "steps": 2}}}' \
  'sweep.mixture: 3 weights for 2 teachers'
expect swept_npy '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}]}, "sweep": {"student_npy": ["t.npy", "s2.npy"]}}' \
  'sweep.student_npy[1]: s2.npy: cannot open: No such file or directory'
# The good versions pass.
printf '%s\n' '{"name": "a", "task": "logits", "fixed": {"teachers": [{"npy": "t.npy"}], "student_npy": "t.npy"}, "objectives": {"loss": "min"}}' > good.json
"$BIN" validate good.json --show 0 > out.txt 2>&1 || { echo "FAIL good spec: $(cat out.txt)"; fail=1; }
grep -q "more" out.txt && { echo "FAIL --show 0 printed '... more'"; fail=1; }
exit $fail
