#!/usr/bin/env bash
# The deadline guard (--deadline; coord.c): no trial starts that cannot end before the deadline,
# judged by the longest recent trial time, then the run commits, ends `deadline` (runs.how_ended;
# the campaign `interrupted`) and exits 3, and a resume completes the campaign bit-identically.
# Trials are noop with sleep_ms 500 on 2 workers, so each start's schedule is known: with a
# deadline D s away, trials run in rounds of 0.5 s until a round would end after D − 1 s (the
# commit margin).  One process with threads (noop and exec trials), then mpirun with 3 ranks.
# About 20 s.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/s.json" <<'J'
{"name": "dl", "task": "noop", "fixed": {"sleep_ms": 500},
 "sweep": {"x": {"linear": [0, 1], "points": 12}, "y": ["a", "b"]}, "seeds": 1}
J
N=24
dump() { q "$1" "SELECT trial_key, status, attempts, printf('%.17g', value) FROM v_dl ORDER BY trial_key"; }
"$DS_BIN" run "$TMP/s.json" --db "$TMP/ref.db" --quiet --threads 8

# ---- one process: an absolute ISO-8601 deadline, 4 s away --------------------------------------
A=$TMP/a.db
t0=$(date +%s)
D=$((t0 + 4))
rc=0; "$DS_BIN" run "$TMP/s.json" --db "$A" --quiet --threads 2 --deadline "$(date -u -d "@$D" +%Y-%m-%dT%H:%M:%SZ)" || rc=$?
check "local: the deadline stops the run with exit 3" "$rc" 3
check "local: the run ended 'deadline', the campaign 'interrupted'" \
  "$(q "$A" "SELECT r.how_ended || ':' || r.exit_code || ':' || c.status FROM runs r JOIN campaigns c USING (campaign_id)")" "deadline:3:interrupted"
done1=$(q "$A" "SELECT count(*) FROM trials WHERE status = 'done'")
check_true "local: trials ran until the deadline, not all ($done1 of $N)" test "$done1" -ge 2 -a "$done1" -lt "$N"
check "local: no trial ended after the deadline ($D)" "$(q "$A" "SELECT count(*) FROM trials WHERE finished_at > $D")" 0
check "local: no trial was started and abandoned (none running, none re-queued)" \
  "$(q "$A" "SELECT count(*) FROM trials WHERE status NOT IN ('done', 'pending')")" 0
check "local: the run itself ended before the deadline" "$(q "$A" "SELECT ended_at <= $D FROM runs")" 1
# The guard stopped because the next round would not fit, not because time was up: the run ends
# within a round (0.5 s) plus the margin (1 s) of the deadline, not earlier.
check "local: ... and used the time it had (ended within 1.6 s of it)" "$(q "$A" "SELECT ended_at >= $D - 1.6 FROM runs")" 1

# A resume whose deadline leaves less than one trial (0.5 s, known from the store) plus the
# margin: it starts nothing.  Without the store's trial times it would start one per worker.
rc=0; "$DS_BIN" resume --db "$A" --quiet --threads 2 --deadline +1.3 || rc=$?
check "resume: with no room for one trial, exit 3 and no trial started" \
  "$rc $(q "$A" "SELECT how_ended || ':' || trials_done FROM runs WHERE run_id = 2") $(q "$A" "SELECT count(*) FROM trials WHERE status = 'done'")" \
  "3 deadline:0 $done1"
rc=0; "$DS_BIN" resume --db "$A" --quiet --threads 2 || rc=$?
check "resume: without a deadline the campaign completes" "$rc $(q "$A" "SELECT status FROM campaigns")" "0 done"
check "local: every trial key once, all done" "$(q "$A" "SELECT count(*), count(DISTINCT trial_key), sum(status = 'done') FROM trials")" "$N,$N,$N"
check "local: results equal an uninterrupted run's bit for bit" "$(dump "$A" | md5sum)" "$(dump "$TMP/ref.db" | md5sum)"

# ---- exec trials: every program that started also ended, before the deadline ------------------
# What the guard promises, seen from the trials: a program it starts is never stopped by the
# deadline (without the guard, the trials started in the last second are cut off at D - 1 s).
cat > "$TMP/t.sh" <<T
echo "start \$(date +%s.%N)" >> "$TMP/trials.log"
sleep 0.5
echo "end \$(date +%s.%N)" >> "$TMP/trials.log"
echo 'divsweep: {"v": 1}'
T
cat > "$TMP/ex.json" <<J
{"name": "ex", "task": "exec", "fixed": {"command": ["/bin/sh", "$TMP/t.sh", "{x}"]},
 "sweep": {"x": {"linear": [0, 1], "points": 16}}}
J
E=$TMP/ex.db
D=$(date +%s.%N | awk '{ printf "%.3f", $1 + 3.7 }')
rc=0; "$DS_BIN" run "$TMP/ex.json" --db "$E" --quiet --threads 2 --deadline "+3.7" || rc=$?
starts=$(grep -c '^start' "$TMP/trials.log"); ends=$(grep -c '^end' "$TMP/trials.log")
check "exec: exit 3 'deadline'; every program started also ended ($starts started)" \
  "$rc $(q "$E" "SELECT how_ended FROM runs") $starts" "3 deadline $ends"
check "exec: ... each a done trial" "$(q "$E" "SELECT count(*) FROM trials WHERE status = 'done'")" "$ends"
check "exec: no program ended after the deadline" "$(awk -v d="$D" '$1 == "end" && $2 > d' "$TMP/trials.log" | wc -l)" 0
check_true "exec: some ran, not all ($starts of 16)" test "$starts" -ge 2 -a "$starts" -lt 16
rc=0; "$DS_BIN" resume --db "$E" --quiet --threads 4 || rc=$?
check "exec: the resume completes, no trial run twice" \
  "$rc $(q "$E" "SELECT count(*) FROM trials WHERE status = 'done'") $(grep -c '^end' "$TMP/trials.log")" "0 16 16"

# ---- a trial longer than every earlier one: stopped at the deadline, not left to overrun --------
cat > "$TMP/long.json" <<'J'
{"name": "long", "task": "noop", "fixed": {"sleep_ms": 4000}, "sweep": {"x": [1]}, "seeds": 1}
J
L=$TMP/long.db
t0=$(date +%s.%N)
rc=0; "$DS_BIN" run "$TMP/long.json" --db "$L" --quiet --threads 1 --deadline +2.5 || rc=$?
t1=$(date +%s.%N)
check "overrun: the unknown-length first trial is stopped at the deadline, exit 3" \
  "$rc $(q "$L" "SELECT how_ended FROM runs") $(q "$L" "SELECT count(*) FROM trials WHERE status = 'done'")" "3 deadline 0"
check_true "overrun: the run ended before the deadline" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2.5) }'

# ---- mpirun, 3 ranks: a relative deadline ---------------------------------------------------------
M=$TMP/m.db
t0=$(date +%s)
rc=0; mpi 3 "$DS_BIN" run "$TMP/s.json" --db "$M" --quiet --deadline +00:00:04 || rc=$?
D=$((t0 + 5)) # +4 s from the coordinator's start, which follows t0 by MPI start-up (< 1 s)
check "mpirun: the deadline stops the run, exit 3, 'deadline'" "$rc $(q "$M" "SELECT how_ended || ':' || exit_code FROM runs")" "3 deadline:3"
donem=$(q "$M" "SELECT count(*) FROM trials WHERE status = 'done'")
check_true "mpirun: trials ran until the deadline, not all ($donem of $N)" test "$donem" -ge 2 -a "$donem" -lt "$N"
check "mpirun: no trial ended after the deadline" "$(q "$M" "SELECT count(*) FROM trials WHERE finished_at > (SELECT started_at FROM runs) + 4")" 0
rc=0; mpi 3 "$DS_BIN" resume --db "$M" --quiet || rc=$?
check "mpirun: the resume completes, every key once, bit-identical" \
  "$rc $(q "$M" "SELECT count(DISTINCT trial_key) || ':' || sum(status = 'done') FROM trials") $(dump "$M" | md5sum)" \
  "0 $N:$N $(dump "$TMP/ref.db" | md5sum)"

# ---- what --deadline accepts ----------------------------------------------------------------------
for bad in tomorrow +abc 2026-13-01T00:00:00Z "2026-12-02T15:00:00 CET"; do
  rc=0; "$DS_BIN" run "$TMP/s.json" --db "$TMP/bad.db" --quiet --deadline "$bad" 2>/dev/null || rc=$?
  check "usage: --deadline '$bad' is refused with exit 1, nothing created" "$rc $([ -e "$TMP/bad.db" ] && echo db || echo none)" "1 none"
done
rc=0; "$DS_BIN" run "$TMP/s.json" --db "$TMP/none.db" --quiet --threads 8 --deadline none || rc=$?
check "usage: --deadline none runs to the end" "$rc $(q "$TMP/none.db" "SELECT how_ended FROM runs")" "0 done"
finish
