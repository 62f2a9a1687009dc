#!/usr/bin/env bash
# Issue 12 items 6 and 10, with the real binary on real files: spec expansion and parsing are
# bounded (counted before expanding, linear-time key checks, the file read with a size cap and
# refused by what it is), and parameter names that would collide in `params` or the campaign
# view, or numbers that are not finite, are refused by `validate` and `run` with the JSON path.
source "$(dirname "$0")/lib.sh"
cd "$TMP"

# expect_refused NAME CMD... : exit 1, one line on stderr, and that line is saved in $msg.
expect_refused() {
  local name=$1; shift
  local rc=0
  "$@" >out.txt 2>err.txt || rc=$?
  msg=$(cat err.txt)
  check "$name: exit 1" "$rc" 1
  check "$name: one line" "$(wc -l <err.txt | tr -d ' ')" 1
}

# -- item 6: two axes of 10^6 points are 10^12 trials: refused at once, with the count and the cap.
cat >big.json <<'J'
{"name": "big", "task": "noop", "sweep": {"x": {"linear": [0, 1], "points": 1000000}, "y": {"linear": [0, 1], "points": 1000000}}}
J
t0=$(date +%s%N)
expect_refused "10^12-trial grid" "$DS_BIN" validate big.json
t1=$(date +%s%N)
check_true "10^12-trial grid: refused within 0.5 s ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 500
check_true "10^12-trial grid: message states the count and the cap" grep -q '1e+12 trials; at most 1000000000 trials' err.txt
expect_refused "10^12-trial grid (run)" timeout 20 "$DS_BIN" run big.json --db big.db
check_true "10^12-trial grid (run): no database made" test ! -e big.db

# -- item 6: 60,000 fixed keys validate in well under a second (the pairwise check took 25 s).
python3 -c "
import json
print(json.dumps({'name': 'fx', 'task': 'noop', 'fixed': {'k%d' % i: i for i in range(60000)}}))" >fx.json
t0=$(date +%s%N)
rc=0; "$DS_BIN" validate fx.json --show 0 >/dev/null 2>err.txt || rc=$?
t1=$(date +%s%N)
check "60k fixed keys: valid" "$rc" 0
check_true "60k fixed keys: under 1 s ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 1000
# A duplicate among them is still found, at the later key.
python3 -c "
import json
s = json.dumps({'name': 'fx', 'task': 'noop', 'fixed': {'k%d' % i: i for i in range(60000)}})
print(s[:-2] + ', \"k17\": 5}}')" >fxdup.json
expect_refused "duplicate fixed key" "$DS_BIN" validate fxdup.json
check "duplicate fixed key: message" "$msg" "divsweep: fxdup.json: fixed.k17: duplicate key"

# -- item 6: spec files that are not files.  One clear line naming the file; never "divsweep: ".
mkfifo fifo.json
expect_refused "FIFO spec" timeout 10 "$DS_BIN" validate fifo.json
check "FIFO spec: message" "$msg" "divsweep: fifo.json: is a FIFO, not a spec file (want a regular JSON file)"
expect_refused "FIFO spec (run)" timeout 10 "$DS_BIN" run fifo.json --db f.db
expect_refused "/dev/zero spec" timeout 10 "$DS_BIN" validate /dev/zero
check "/dev/zero spec: message" "$msg" "divsweep: /dev/zero: is a character device, not a spec file (want a regular JSON file)"
expect_refused "/dev/zero spec (run)" timeout 10 "$DS_BIN" run /dev/zero --db z.db
check "/dev/zero spec (run): message" "$msg" "divsweep: /dev/zero: is a character device, not a spec file (want a regular JSON file)"
mkdir dir.json
expect_refused "directory spec" "$DS_BIN" validate dir.json
check "directory spec: message" "$msg" "divsweep: dir.json: is a directory, not a spec file (want a regular JSON file)"
truncate -s 1G huge.json
expect_refused "1 GB spec" timeout 10 "$DS_BIN" validate huge.json
check "1 GB spec: message" "$msg" "divsweep: huge.json: 1073741824 bytes; a spec file may have at most 64 MiB"

# -- item 10: names that collide after sanitising or without case; both JSON paths named.
printf '%s\n' '{"name": "c", "task": "noop", "fixed": {"a-b": 1, "a_b": 2}}' >dash.json
expect_refused "a-b vs a_b" "$DS_BIN" validate dash.json
check_true "a-b vs a_b: both paths" grep -q 'fixed.a_b: collides with fixed.a-b: both become the parameter column "a_b"' err.txt
expect_refused "a-b vs a_b (run)" timeout 20 "$DS_BIN" run dash.json --db dash.db
check_true "a-b vs a_b (run): no database made" test ! -e dash.db
printf '%s\n' '{"name": "c", "task": "noop", "fixed": {"X": 1}, "sweep": {"x": [1, 2]}}' >case.json
expect_refused "X vs x" "$DS_BIN" validate case.json
check_true "X vs x: both paths" grep -q 'sweep.x: collides with fixed.X' err.txt
printf '%s\n' '{"name": "c", "task": "noop", "fixed": {"divergence_alpha": 1}, "sweep": {"divergence": [{"name": "amari", "alpha": [0.5]}]}}' >flat.json
expect_refused "flattened name vs key" "$DS_BIN" validate flat.json
check_true "flattened name vs key: both paths" grep -q 'sweep.divergence: collides with fixed.divergence_alpha' err.txt

# A parameter "Value" and the noop metric "value": the metric's view column is m_value, as
# documented, and both read back (the view used to give value:1 twice).
printf '%s\n' '{"name": "vv", "task": "noop", "sweep": {"Value": [7, 8]}}' >vv.json
rc=0; "$DS_BIN" run vv.json --db vv.db --quiet 2>err.txt || rc=$?
check "Value vs metric value: run" "$rc" 0
check "Value vs metric value: view columns" "$(q vv.db 'SELECT count(*) FROM v_vv WHERE "Value" IN (7, 8) AND m_value IS NOT NULL AND m_value <> "Value"')" 2

# A parameter named like a trial column of the view (rank, Status) is p_<name> there; it used to
# be left out of the view.
printf '%s\n' '{"name": "rk", "task": "noop", "sweep": {"rank": [4, 16], "Status": ["a"]}}' >rk.json
rc=0; "$DS_BIN" run rk.json --db rk.db --quiet 2>err.txt || rc=$?
check "parameter rank: run" "$rc" 0
check "parameter rank: view columns p_rank, p_Status" "$(q rk.db "SELECT group_concat(CAST(p_rank AS INTEGER), '|') || p_Status FROM (SELECT * FROM v_rk ORDER BY p_rank)")" "4|16a"

# -- item 10: non-finite numbers (cJSON reads 1e400 as inf).
printf '%s\n' '{"name": "c", "task": "noop", "fixed": {"y": 1e400}}' >inf.json
expect_refused "1e400 in fixed" "$DS_BIN" validate inf.json
check "1e400 in fixed: message" "$msg" "divsweep: inf.json: fixed.y: not a finite number (JSON numbers beyond ±1.8e308 overflow)"
printf '%s\n' '{"name": "c", "task": "noop", "sweep": {"y": [1, 2, -1e400]}}' >inf2.json
expect_refused "-1e400 in a sweep list" timeout 20 "$DS_BIN" run inf2.json --db inf.db
check "-1e400 in a sweep list: message" "$msg" "divsweep: inf2.json: sweep.y[2]: not a finite number (JSON numbers beyond ±1.8e308 overflow)"
check_true "-1e400 (run): no database made" test ! -e inf.db

finish
