#!/usr/bin/env bash
# The exec task with real processes under mpiexec -np 3, asserted on the database and on /proc:
# odd parameter values reach the program's argv exactly and the DIVSWEEP_* environment is set
# (no MPI launcher variable leaks); curve points and final metrics land; a program that exits 1,
# segfaults, prints garbage on the results fd, reports NaN, never reports, hangs with a grandchild
# that ignores SIGTERM (the timeout kills the whole group), or leaves a daemon behind fails (or
# ends) its trial only, and afterwards no process of any trial is alive; `divsweep logs` prints
# each attempt's output; a placeholder naming nothing is a validate error with its JSON path;
# SIGTERM to the campaign mid-trial checkpoints, re-queues the trial as interrupted (not failed,
# not an attempt), and the resumed run continues from the checkpoint to the metrics and curve of
# an uninterrupted run; kill -9 of the whole job leaves no trial process, and resume completes
# every key once.
. "$(dirname "$0")/lib.sh"
SRC=${DS_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
PROG=$SRC/tests/exec/prog.py
TRAIN=$SRC/experiments/exec/train.py
PY=/usr/bin/python3

run() { # run SPEC DB -> sets rc, out
  set +e; out=$(mpi 3 "$DS_BIN" run "$1" --db "$2" 2>&1); rc=$?; set -e
}
# alive_pids FILE...: the pids listed in the files that are still alive (zombies do not count).
alive_pids() {
  local p
  cat "$@" 2>/dev/null | while read -r p; do
    [ -r "/proc/$p/stat" ] && ! awk '{exit !($3 == "Z")}' "/proc/$p/stat" 2>/dev/null && echo "$p"
  done | sort -u | tr '\n' ' '
}
# procs PATTERN: live processes whose command line contains PATTERN.
procs() { { pgrep -f "$1" || true; } | while read -r p; do [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"; done | tr '\n' ' '; }

# --- validate: a placeholder that names nothing ---
cat > "$TMP/bad.json" <<J
{"name": "bad", "task": "exec", "fixed": {"command": ["$PY", "x.py", "--lr", "{lr}", "{nope}"]}, "sweep": {"lr": [1, 2]}}
J
set +e; vout=$("$DS_BIN" validate "$TMP/bad.json" 2>&1); vrc=$?; set -e
check "validate: an unknown placeholder is a spec error (exit 1)" "$vrc" 1
check_true "validate: the message has the JSON path and the name" grep -q 'fixed.command\[4\]: placeholder {nope} names no parameter' <<<"$vout"
set +e; vout=$("$DS_BIN" run "$TMP/bad.json" --db "$TMP/bad.db" 2>&1); vrc=$?; set -e
check "run refuses it the same way, before creating the database" "$vrc,$(grep -c 'fixed.command\[4\]: placeholder {nope}' <<<"$vout"),$(test -e "$TMP/bad.db" && echo exists || echo none)" "1,1,none"

# --- parameters in, metrics out: odd values ---
cat > "$TMP/odd.json" <<J
{"name": "odd", "task": "exec",
 "fixed": {"command": ["$PY", "$PROG", "--mode", "{mode}", "--v", "{v}", "{v}"], "mode": "ok"},
 "sweep": {"v": ["a b", "it's \"quoted\" \\\\ back", "ünïcødé ☃ 日本", "k=v", "--", "-x", "{mode}", "", "tab\there", "\$HOME;\`id\`"]},
 "trial": {"timeout_s": 30}}
J
O=$TMP/odd.db
run "$TMP/odd.json" "$O"
check "odd values: the campaign completes (exit 0, 10 done)" "$rc,$(q "$O" "SELECT count(*) FROM trials WHERE status = 'done'")" "0,10"
check "odd values: every program saw its value twice in argv and no MPI variable (metric ok = 1)" "$(q "$O" "SELECT count(*) FROM metrics WHERE name = 'ok' AND value = 1")" 10
# The same from outside: what each program wrote to seen.json against the spec's values.
check "odd values: argv arrives exactly" "$($PY - "$TMP/odd.json" "$O.trials" <<'P'
import glob, json, sys
want = json.load(open(sys.argv[1]))["sweep"]["v"]
got = []
for f in glob.glob(sys.argv[2] + "/*/*/seen.json"):
    s = json.load(open(f))
    assert s["argv"][:4] == ["--mode", "ok", "--v", s["argv"][3]], s["argv"]
    assert s["argv"][3] == s["argv"][4]
    got.append(s["argv"][3])
print("exact" if sorted(got) == sorted(want) else "differ: %r vs %r" % (sorted(got), sorted(want)))
P
)" exact
check "odd values: the DIVSWEEP_* environment is complete and consistent" "$($PY - "$O.trials" <<'P'
import glob, json, os, sys
bad = []
for f in glob.glob(sys.argv[1] + "/*/*/seen.json"):
    e = json.load(open(f))["env"]
    d = os.path.dirname(f)
    p = json.loads(e["DIVSWEEP_PARAMS"])
    ok = (e["DIVSWEEP_TRIAL_KEY"] == os.path.basename(d) and e["DIVSWEEP_TRIAL_DIR"] == d
          and e["DIVSWEEP_CHECKPOINT_DIR"] == d + "/checkpoint" and os.path.isdir(e["DIVSWEEP_CHECKPOINT_DIR"])
          and e["DIVSWEEP_SEED"].isdigit() and e["DIVSWEEP_ATTEMPT"] == "1" and e["DIVSWEEP_RESULTS_FD"] == "3"
          and e["DIVSWEEP_RESUMED"] == "0" and e["OMP_NUM_THREADS"] == e["DIVSWEEP_THREADS"]
          and json.load(open(e["DIVSWEEP_PARAMS_FILE"])) == p and "command" not in p and p["mode"] == "ok")
    if not ok: bad.append(f)
print("consistent" if not bad else "inconsistent: %s" % bad)
P
)" consistent
check "odd values: the program has fds 0-3 and nothing of divsweep's (listing /proc/self/fd opens one more)" "$($PY -c "import glob,json; print(sorted({tuple(json.load(open(f))['fds']) for f in glob.glob('$O.trials/*/*/seen.json')}))")" "[(0, 1, 2, 3, 4)]"
check "odd values: 5 curve points per trial, final metrics landed" "$(q "$O" "SELECT count(*) FROM curves"),$(q "$O" "SELECT count(*) FROM metrics WHERE name = 'loss' AND value = 0.2")" "50,10"
check "odd values: two trials never share a working directory" "$($PY -c "import glob,json; print(len({json.load(open(f))['cwd'] for f in glob.glob('$O.trials/*/*/seen.json')}))")" 10
check_true "logs: divsweep logs prints the attempt's stdout" bash -c '"$1" logs --db "$2" 1 | grep -q "some ordinary output"' _ "$DS_BIN" "$O"
check_true "logs: by trial key too" bash -c '"$1" logs --db "$2" "$3" | grep -q "attempt-1.out"' _ "$DS_BIN" "$O" "$(q "$O" "SELECT lower(hex(trial_key)) FROM trials WHERE trial_id = 2")"

# Objectives the program does not report fail the trial (validate cannot know a program's metrics).
cat > "$TMP/ob.json" <<'J'
{"name": "ob", "task": "exec", "fixed": {"command": ["/bin/echo", "divsweep: {{\"v\": {x}}}"]}, "sweep": {"x": [1, 2]},
 "objectives": {"v": "min", "w": "max"}, "trial": {"isolation": "process"}}
J
set +e; "$DS_BIN" run "$TMP/ob.json" --db "$TMP/ob.db" --quiet >/dev/null 2>&1; rc=$?; set -e
check "objectives: a missing objective fails every trial, naming it" "$rc,$(q "$TMP/ob.db" "SELECT DISTINCT status || ': ' || error FROM trials")" "4,failed: the program did not report objective w (its metrics need every objective)"
sed 's/, "w": "max"//' "$TMP/ob.json" > "$TMP/ob2.json"
set +e; "$DS_BIN" run "$TMP/ob2.json" --db "$TMP/ob2.db" --quiet >/dev/null 2>&1; rc=$?; set -e
check "objectives: reported, they pass; {{ }} are literal braces and {x} the value (v = x)" "$rc,$(q "$TMP/ob2.db" "SELECT group_concat(m.value, ' ') FROM metrics m JOIN trials t USING(trial_id) WHERE m.name = 'v' AND t.status = 'done'")" "0,1.0 2.0"

# A program that does not exist fails its trial with a line that says so.
cat > "$TMP/nf.json" <<'J'
{"name": "nf", "task": "exec", "fixed": {"command": ["no-such-program-xyz", "a"]}, "sweep": {"x": [1]}}
J
set +e; "$DS_BIN" run "$TMP/nf.json" --db "$TMP/nf.db" --quiet >/dev/null 2>&1; rc=$?; set -e
check "a missing program fails its trial, saying so" "$rc,$(q "$TMP/nf.db" "SELECT error FROM trials")" "4,program exited with status 127; stderr: divsweep: cannot run no-such-program-xyz: No such file or directory"

# Retries: a failing program runs again as attempt 2, with its own log files.
cat > "$TMP/re.json" <<J
{"name": "re", "task": "exec", "fixed": {"command": ["$PY", "$PROG", "--mode", "exit1", "--v", "x", "x"], "v": "x"},
 "sweep": {"x": [1]}, "trial": {"retries": 1}}
J
set +e; "$DS_BIN" run "$TMP/re.json" --db "$TMP/re.db" --quiet >/dev/null 2>&1; rc=$?; set -e
relogs=$("$DS_BIN" logs --db "$TMP/re.db" 1)
check "retries: two attempts, each with its logs, the second told so" "$rc,$(q "$TMP/re.db" "SELECT attempts FROM trials"),$(grep -c '^==> .*/attempt-[12].err <==$' <<<"$relogs"),$(grep -c 'something went wrong here' <<<"$relogs"),$($PY -c "import glob,json; print(json.load(open(glob.glob('$TMP/re.db.trials/*/*/seen.json')[0]))['env']['DIVSWEEP_ATTEMPT'])")" "4,2,2,2,2"

# --- faults ---
cat > "$TMP/f.json" <<J
{"name": "f", "task": "exec",
 "fixed": {"command": ["$PY", "$PROG", "--mode", "{mode}", "--v", "{v}", "{v}"], "v": "x"},
 "sweep": {"mode": ["ok", "stdout_only", "exit1", "segv", "garbage", "nan", "silent", "hang", "daemon", "spew"]},
 "trial": {"timeout_s": 3, "kill_grace_s": 1}}
J
F=$TMP/f.db
run "$TMP/f.json" "$F"
err() { q "$F" "SELECT status || ': ' || coalesce(error, '') FROM trials WHERE json_extract(params_json, '\$.mode') = '$1'"; }
check "faults: the campaign ends with exit 4, every trial recorded" "$rc,$(q "$F" "SELECT count(*) FROM trials WHERE status IN ('done', 'failed')")" "4,10"
check "faults: a normal program is done" "$(err ok)" "done: "
check "faults: 'divsweep: ' lines on stdout count as results" "$(err stdout_only),$(q "$F" "SELECT count(*) FROM curves c JOIN trials t USING(trial_id) WHERE json_extract(params_json, '\$.mode') = 'stdout_only'")" "done: ,1"
check "faults: exit 1 fails with the end of stderr" "$(err exit1)" "failed: program exited with status 1; stderr: something went wrong here"
check "faults: a segfault fails with the signal and stderr" "$(err segv)" "failed: program killed by signal 11 (Segmentation fault); stderr: about to crash"
check_true "faults: garbage on the results fd fails quoting the line" grep -qF 'failed: results line 2 is not valid JSON: ""this is not json""' <<<"$(err garbage)"
check_true "faults: NaN fails as non-finite, quoting the line" grep -q 'failed: results line 1 has a non-finite value.*NaN' <<<"$(err nan)"
check_true "faults: a program that never reports fails" grep -q 'failed: program exited 0 without reporting metrics' <<<"$(err silent)"
check "faults: a hang times out" "$(err hang)" "failed: timed out after 3 s"
check "faults: the hang took its timeout plus at most the grace (and some slack)" "$(q "$F" "SELECT wall_s >= 3 AND wall_s < 8 FROM trials WHERE json_extract(params_json, '\$.mode') = 'hang'")" 1
check "faults: a program leaving a daemon is done" "$(err daemon)" "done: "
check "faults: failed trials store no metrics or curves" "$(q "$F" "SELECT (SELECT count(*) FROM metrics JOIN trials USING(trial_id) WHERE status = 'failed') + (SELECT count(*) FROM curves JOIN trials USING(trial_id) WHERE status = 'failed')")" 0
check "faults: the hang's grandchild (ignores SIGTERM) and the daemon are gone" "$(alive_pids "$F".trials/*/*/pids.txt)" ""
check_true "faults: the hang and daemon trials recorded their extra processes" test "$(cat "$F".trials/*/*/pids.txt | wc -l)" -ge 11
check "faults: no process of any trial remains" "$(procs "$PROG")" ""
spew=$("$DS_BIN" logs --db "$F" "$(q "$F" "SELECT trial_id FROM trials WHERE json_extract(params_json, '\$.mode') = 'spew'")" --attempt 1)
check "logs: 40 MiB of output is done and capped at 16 MiB with the tail kept" "$(err spew),$(($(wc -c <<<"$spew") <= 16 * 1048576 + 500)),$(grep -c '^the last line$' <<<"$spew"),$(grep -c '^00000000 ' <<<"$spew"),$(grep -c 'earlier bytes dropped' <<<"$spew")" "done: ,1,1,0,1"
check_true "faults: the failed trial's stderr is in its log" bash -c '"$1" logs --db "$2" "$3" | grep -q "something went wrong here"' _ "$DS_BIN" "$F" "$(q "$F" "SELECT trial_id FROM trials WHERE json_extract(params_json, '\$.mode') = 'exit1'")"

# --- preemption: SIGTERM to the campaign mid-trial, then resume ---
cat > "$TMP/p.json" <<J
{"name": "p", "task": "exec",
 "fixed": {"command": ["$PY", "$TRAIN", "--lr", "{lr}", "--steps", "120", "--seed", "{seed}", "--step-sleep", "0.02", "--ckpt-every", "1000", "--log-every", "5"]},
 "sweep": {"lr": [0.05, 0.3]}, "trial": {"timeout_s": 60, "kill_grace_s": 5}}
J
A=$TMP/pa.db B=$TMP/pb.db
run "$TMP/p.json" "$A"
check "preemption: the uninterrupted reference completes" "$rc" 0
set +e
mpi 3 "$DS_BIN" run "$TMP/p.json" --db "$B" >"$TMP/pb.out" 2>&1 &
mp=$!
for _ in $(seq 300); do [ "$(cat "$B".trials/*/*/curve.jsonl 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.05; done
r0=
for p in $(pgrep -f -- "run $TMP/p.json --db $B"); do tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=0' && r0=$p; done
check_true "preemption: found the coordinator rank" test -n "$r0"
kill -TERM "$r0"
wait $mp; rc=$?
set -e
check "preemption: SIGTERM stops the campaign (exit 3)" "$rc" 3
check "preemption: nothing failed, nothing done, nothing counted as an attempt" "$(q "$B" "SELECT count(*) FROM trials WHERE status IN ('done','failed') OR attempts > 1")" 0
check_true "preemption: the running trials saved a checkpoint on SIGTERM" test "$(ls "$B".trials/*/*/checkpoint/state.json 2>/dev/null | wc -l)" -ge 1
check "preemption: no trial process remains after the stop" "$(procs "$TRAIN")" ""
run "$TMP/p.json" "$B"
check "preemption: resume completes (exit 0, 2 done, 1 attempt each)" "$rc,$(q "$B" "SELECT count(*) FROM trials WHERE status = 'done' AND attempts = 1")" "0,2"
check_true "preemption: the resumed program continued from its checkpoint with DIVSWEEP_RESUMED=1" grep -q "resumed from step [1-9][0-9]* (DIVSWEEP_RESUMED=1)" <<<"$(cat "$B".trials/*/*/attempt-1.out)"
metrics() { q "$1" "SELECT lower(hex(t.trial_key)), m.name, m.value FROM metrics m JOIN trials t USING(trial_id) ORDER BY 1, 2"; }
curve() { q "$1" "SELECT lower(hex(t.trial_key)), c.step, c.name, c.value FROM curves c JOIN trials t USING(trial_id) ORDER BY 1, 2, 3"; }
check "preemption: final metrics equal the uninterrupted run's" "$(metrics "$B" | md5sum)" "$(metrics "$A" | md5sum)"
check "preemption: the curve equals the uninterrupted run's (no step lost or duplicated)" "$(curve "$B" | md5sum)" "$(curve "$A" | md5sum)"
check "preemption: 4 metrics and 24 curve points per trial" "$(metrics "$B" | wc -l),$(curve "$B" | wc -l)" "8,96"

# The same in one process (worker threads): SIGTERM, resume, and the results of the MPI run.
L=$TMP/pl.db
set +e
"$DS_BIN" run "$TMP/p.json" --db "$L" --threads 2 >"$TMP/pl.out" 2>&1 &
lp=$!
for _ in $(seq 300); do [ "$(cat "$L".trials/*/*/curve.jsonl 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.05; done
kill -TERM $lp
wait $lp; rc=$?
set -e
check "one process: SIGTERM stops the campaign (exit 3) with the trials checkpointed" "$rc,$(ls "$L".trials/*/*/checkpoint/state.json | wc -l)" "3,2"
check "one process: no trial process remains after the stop" "$(procs "$TRAIN")" ""
set +e; "$DS_BIN" resume --db "$L" --threads 2 >/dev/null 2>&1; rc=$?; set -e
check "one process: divsweep resume --db completes it" "$rc" 0
check "one process: metrics and curve equal the uninterrupted MPI run's" "$(metrics "$L" | md5sum),$(curve "$L" | md5sum)" "$(metrics "$A" | md5sum),$(curve "$A" | md5sum)"

# --- the shipped example, as the README runs it (from the source tree, under mpirun -np 3) ---
X=$TMP/example.db
set +e; (cd "$SRC" && mpi 3 "$DS_BIN" run experiments/exec/sweep.json --db "$X" >/dev/null 2>&1); rc=$?; set -e
check "example: experiments/exec/sweep.json completes (20 trials, 30 curve points each)" "$rc,$(q "$X" "SELECT count(*) FROM trials WHERE status = 'done'"),$(q "$X" "SELECT count(*) FROM curves WHERE name = 'val_acc'")" "0,20,600"
check "example: it learns (every trial above 75 % validation accuracy, the best above 90 %)" "$(q "$X" "SELECT min(value) > 0.75 AND max(value) > 0.9 FROM metrics WHERE name = 'val_acc'")" 1

# --- kill -9 of the whole job, twice, at random moments; then the same results as without ---
cat > "$TMP/k.json" <<J
{"name": "k", "task": "exec",
 "fixed": {"command": ["$PY", "$TRAIN", "--lr", "{lr}", "--steps", "100", "--seed", "{seed}", "--step-sleep", "0.01",
                       "--ckpt-every", "10", "--log-every", "5"]},
 "sweep": {"lr": [0.05, 0.1, 0.3, 1.0]}, "trial": {"timeout_s": 60, "kill_grace_s": 5}}
J
K=$TMP/k.db KR=$TMP/kref.db
run "$TMP/k.json" "$KR"
check "kill -9: the uninterrupted reference completes" "$rc" 0
for round in 1 2; do
  mpi 3 "$DS_BIN" run "$TMP/k.json" --db "$K" >/dev/null 2>&1 &
  mp=$!
  for _ in $(seq 300); do [ -n "$(procs "$TRAIN")" ] && break; sleep 0.05; done
  sleep "0.$((RANDOM % 8))"
  check_true "kill -9 ($round): trials were running" test -n "$(procs "$TRAIN")"
  # The job: mpiexec and its ranks (trial supervisors, forks of the ranks, are named divsweep-trial).
  job=
  for p in $(pgrep -f -- "run $TMP/k.json --db $K"); do [ "$(cat /proc/$p/comm 2>/dev/null)" != divsweep-trial ] && job="$job $p"; done
  kill -9 $job 2>/dev/null || true
  wait $mp 2>/dev/null || true
  left=x
  for _ in $(seq 40); do left=$(procs "$TRAIN"); [ -z "$left" ] && break; sleep 0.05; done
  check "kill -9 ($round): no trial process survives the job" "$left" ""
done
run "$TMP/k.json" "$K"
check "kill -9: resume completes every key once" "$rc,$(q "$K" "SELECT count(*), count(DISTINCT trial_key) FROM trials WHERE status = 'done'")" '0,4,4'
check "kill -9: metrics equal the uninterrupted run's" "$(metrics "$K" | md5sum)" "$(metrics "$KR" | md5sum)"
check "kill -9: the curve equals the uninterrupted run's" "$(curve "$K" | md5sum)" "$(curve "$KR" | md5sum)"
finish
