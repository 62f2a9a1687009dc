#!/usr/bin/env bash
# Issue 12 items 4 and 12 (files and long kernels), with the real binary on real files: a .npy
# that is a directory, a FIFO, /dev/zero, or shorter or longer than its header says gets one line
# saying what it is, from `kernel` and from `run` (the loader refuses non-regular files before
# reading); and a Sinkhorn trial at eps = 0.01, cost 01, V = 32000 under isolation "thread" ends
# at its timeout_s (1 s) instead of running on for minutes, and stops on SIGTERM within a second.
source "$(dirname "$0")/lib.sh"
cd "$TMP"

python3 - <<'PY'
import random, struct
def save(path, rows, V, extra=b'', cut=0, seed=1):
    rnd = random.Random(seed)
    shape = "(%d, %d)" % (rows, V)
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    data = struct.pack('<%df' % (rows * V), *[rnd.gauss(0, 3) for _ in range(rows * V)])
    with open(path, 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode() + (data[:len(data) - cut] if cut else data) + extra)
save('s.npy', 2, 8)
save('short.npy', 2, 8, cut=8)
save('long.npy', 2, 8, extra=b'\0' * 8)
save('t32k.npy', 1, 32000, seed=1)
save('s32k.npy', 1, 32000, seed=2)
PY
mkdir dir.npy
mkfifo fifo.npy

# -- .npy files that are not what they claim.
kern() { # kern NAME TEACHER EXPECTED-LINE
  local rc=0
  timeout 10 "$DS_BIN" kernel --div fkl --teacher "$2" --student s.npy >out.txt 2>err.txt || rc=$?
  check "kernel, $1: exit 1" "$rc" 1
  check "kernel, $1: message" "$(cat err.txt)" "$3"
}
kern directory dir.npy "divsweep kernel: dir.npy: is a directory, not a .npy file"
kern FIFO fifo.npy "divsweep kernel: fifo.npy: is a FIFO (named pipe), not a regular .npy file"
kern /dev/zero /dev/zero "divsweep kernel: /dev/zero: is a device, not a regular .npy file"
kern "short file" short.npy "divsweep kernel: short.npy: .npy data size 56 bytes does not match shape (64 expected)"
kern "long file" long.npy "divsweep kernel: long.npy: .npy data size 72 bytes does not match shape (64 expected: more than the header declares)"
printf '%s\n' '{"name": "lg", "task": "logits", "fixed": {"teachers": [{"npy": "dir.npy"}], "student_npy": "s.npy"}}' >lg.json
rc=0; timeout 20 "$DS_BIN" run lg.json --db lg.db --quiet >out.txt 2>err.txt || rc=$?
check "run, directory teacher: exit 1" "$rc" 1
check "run, directory teacher: message" "$(cat err.txt)" "divsweep: lg.json: fixed.teachers[0].npy: dir.npy: is a directory, not a .npy file"

# -- Sinkhorn under isolation "thread" honours timeout_s (logits task, then distill).
SK='"divergence": {"name": "sinkhorn", "epsilon": 0.01, "cost": "01"}'
printf '%s\n' "{\"name\": \"sk\", \"task\": \"logits\", \"fixed\": {\"teachers\": [{\"npy\": \"t32k.npy\"}], \"student_npy\": \"s32k.npy\", $SK}, \"trial\": {\"timeout_s\": 1}}" >sk.json
t0=$(date +%s%N)
rc=0; timeout 30 "$DS_BIN" run sk.json --db sk.db --quiet >out.txt 2>err.txt || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "sinkhorn logits, timeout_s 1: exit 4 (a trial failed)" "$rc" 4
check_true "sinkhorn logits, timeout_s 1: the run ends within 5 s ($ms ms)" test "$ms" -lt 5000
check "sinkhorn logits, timeout_s 1: the trial is failed as timed out" "$(q sk.db "SELECT status, error FROM trials")" "failed,timed out after 1 s"
check "sinkhorn logits, timeout_s 1: wall_s under 2 s" "$(q sk.db "SELECT wall_s < 2 FROM trials")" 1

printf '%s\n' "{\"name\": \"skd\", \"task\": \"distill\", \"fixed\": {\"vocab\": 32000, \"teachers\": [{\"random\": {\"scale\": 3}}], \"student\": {\"kind\": \"free\"}, \"steps\": 100, $SK}, \"trial\": {\"timeout_s\": 1}}" >skd.json
t0=$(date +%s%N)
rc=0; timeout 30 "$DS_BIN" run skd.json --db skd.db --quiet >out.txt 2>err.txt || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "sinkhorn distill, timeout_s 1: exit 4" "$rc" 4
check_true "sinkhorn distill, timeout_s 1: the run ends within 5 s ($ms ms)" test "$ms" -lt 5000
check "sinkhorn distill, timeout_s 1: timed out, not 'diverged'" "$(q skd.db "SELECT status, error FROM trials")" "failed,timed out after 1 s"

# -- and SIGTERM in the middle of one Sinkhorn call: the graceful stop (exit 3) within ~1 s,
# the trial not recorded as failed.
printf '%s\n' "{\"name\": \"sk2\", \"task\": \"logits\", \"fixed\": {\"teachers\": [{\"npy\": \"t32k.npy\"}], \"student_npy\": \"s32k.npy\", $SK}}" >sk2.json
"$DS_BIN" run sk2.json --db sk2.db --quiet >out.txt 2>err.txt &
pid=$!
for i in $(seq 100); do [ -f sk2.db ] && [ "$(sqlite3 "file:sk2.db?mode=ro" "SELECT count(*) FROM trials" 2>/dev/null || echo 0)" -ge 1 ] && break; sleep 0.1; done
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$pid"
rc=0
( sleep 20; kill -KILL "$pid" 2>/dev/null ) & guard=$!
wait "$pid" || rc=$?
kill "$guard" 2>/dev/null || true
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "sinkhorn, SIGTERM: exit 3" "$rc" 3
check_true "sinkhorn, SIGTERM: exits within 3 s ($ms ms)" test "$ms" -lt 3000
check "sinkhorn, SIGTERM: no trial failed" "$(q sk2.db "SELECT count(*) FROM trials WHERE status = 'failed'")" 0

finish
