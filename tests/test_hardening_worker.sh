#!/usr/bin/env bash
# Isolated child processes (issue 12 items 3 and 9), with real processes and real database files:
# a hanging isolated trial whose single-process run is killed with -9 leaves no live child and no
# lock behind (the child held the store's flock fd, so every later run was refused as busy), and
# isolated crashes under mpiexec print no Open MPI backtrace (the child inherited its SIGSEGV
# handler) while the store keeps one error line per failed trial.
. "$(dirname "$0")/lib.sh"

# alive PID: the process exists and is not a zombie (a zombie holds no fd and runs nothing).
alive() { [ -r "/proc/$1/stat" ] && ! awk '{exit !($3 == "Z")}' "/proc/$1/stat" 2>/dev/null; }

# --- item 3: kill -9 of a single-process run with a hanging isolated trial ---
cat > "$TMP/h.json" <<'J'
{"name": "h", "task": "noop", "fixed": {"hang_rate": 1}, "sweep": {"x": [1]}, "seeds": 1,
 "trial": {"retries": 0, "isolation": "process", "timeout_s": 3}}
J
H=$TMP/h.db
"$DS_BIN" run "$TMP/h.json" --db "$H" >/dev/null 2>&1 &
pid=$!
kid=
for _ in $(seq 200); do kid=$(pgrep -P "$pid" | head -1 || true); [ -n "$kid" ] && break; sleep 0.05; done
check_true "item 3: the isolated trial runs in a child process" test -n "$kid"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
gone=0
for _ in $(seq 40); do if ! alive "$kid"; then gone=1; break; fi; sleep 0.05; done
check "item 3: the child dies with its killed parent" "$gone" 1
set +e; out=$("$DS_BIN" run "$TMP/h.json" --db "$H" 2>&1); rc=$?; set -e
check_true "item 3: a later run is not refused as busy" bash -c '! grep -q "another divsweep run" <<<"$1"' _ "$out"
check "item 3: the later run finishes the hanging trial as timed out (exit 4)" "$rc,$(q "$H" "SELECT status FROM trials")" "4,failed"
[ -n "$kid" ] && alive "$kid" && kill -9 "$kid" 2>/dev/null

# --- item 9: isolated crashes under MPI, no inherited backtrace handler ---
cat > "$TMP/c.json" <<'J'
{"name": "c", "task": "noop", "fixed": {"crash_rate": 1},
 "sweep": {"x": {"linear": [0, 1], "points": 20}}, "seeds": 1,
 "trial": {"retries": 0, "isolation": "process"}}
J
C=$TMP/c.db
set +e; mpi 3 "$DS_BIN" run "$TMP/c.json" --db "$C" >"$TMP/c.out" 2>&1; rc=$?; set -e
check "item 9: every crash fails its trial (exit 4)" "$rc" 4
check "item 9: no backtrace on the job's output" "$(grep -c -e 'Process received signal' -e 'End of error message' "$TMP/c.out" || true)" 0
check "item 9: one error line per failed trial in the store" "$(q "$C" "SELECT count(*) FROM trials WHERE status = 'failed' AND error LIKE 'trial process crashed (signal 11%' AND instr(error, char(10)) = 0")" 20
finish
