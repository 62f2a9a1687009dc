#!/usr/bin/env bash
# GPU mapping without GPUs (main.c, "GPUs"): DIVSWEEP_FAKE_GPUS=N stands in for N CUDA devices
# when there are none.  Worker ranks take GPUs by their node-local index among the workers (the
# coordinator binds none), over the devices CUDA_VISIBLE_DEVICES leaves visible, and an exec
# trial gets its rank's GPU as that list names it: in CUDA_VISIBLE_DEVICES, DIVSWEEP_GPU and
# {gpu}.  A tiny exec program records what it received; runs.gpus must say the same.  All ranks
# share this one node.  About 15 s.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/t.sh" <<T
echo "\$DIVSWEEP_TRIAL_KEY \${CUDA_VISIBLE_DEVICES-unset} \${DIVSWEEP_GPU-unset} \${1:-none}" >> "\$LOG"
sleep 0.05
echo 'divsweep: {"v": 1}'
T
cat > "$TMP/g.json" <<J
{"name": "g", "task": "exec", "fixed": {"command": ["/bin/sh", "$TMP/t.sh", "{gpu}"]},
 "sweep": {"x": {"linear": [0, 1], "points": 30}}}
J
# seen DB LOG: "rank:cuda_visible_devices" for each rank that ran trials, checking on the way
# that DIVSWEEP_GPU and {gpu} equal CUDA_VISIBLE_DEVICES in every trial that has a GPU (and that
# {gpu} is empty in one that has none).
seen() {
  q "$1" "SELECT lower(hex(trial_key)), rank FROM trials" | tr , ' ' | sort > "$TMP/ranks"
  sort "$2" | join - "$TMP/ranks" | awk '{ if ($3 == "unset" ? $4 != "none" : $2 != $3 || $4 != $3) bad = 1; print $5 ":" $2 }
    END { if (bad) print "MISMATCH" }' | sort -u | paste -sd' '
}
run_mpi() { # DB ARGS... (env from the caller)
  local db=$1; shift
  LOG=$TMP/$(basename "$db").log mpi "$@" "$DS_BIN" run "$TMP/g.json" --db "$db" --quiet
}

D=$TMP/a.db
DIVSWEEP_FAKE_GPUS=2 run_mpi "$D" 4
check "mpirun, 2 GPUs, 3 workers: worker k takes GPU k mod 2, the coordinator none" "$(seen "$D" "$D.log")" "1:0 2:1 3:0"
check "mpirun: runs.gpus says the same" "$(q "$D" "SELECT gpus FROM runs")" "\"1:0,2:1,3:0\""

D=$TMP/b.db
CUDA_VISIBLE_DEVICES=5,7 DIVSWEEP_FAKE_GPUS=8 run_mpi "$D" 4
check "mpirun, CUDA_VISIBLE_DEVICES=5,7: trials get the listed GPU, not CUDA's number for it" "$(seen "$D" "$D.log")" "1:5 2:7 3:5"
check "mpirun, CUDA_VISIBLE_DEVICES=5,7: runs.gpus names them the same way" "$(q "$D" "SELECT gpus FROM runs")" "\"1:5,2:7,3:5\""

# One GPU per task, as SLURM's --gpus-per-task=1 gives it: each worker binds its own, whatever its index.
D=$TMP/c.db
LOG=$TMP/c.db.log DIVSWEEP_FAKE_GPUS=1 "$DS_MPIEXEC" --oversubscribe \
  -np 1 env CUDA_VISIBLE_DEVICES=GPU-c0 "$DS_BIN" run "$TMP/g.json" --db "$D" --quiet : \
  -np 1 env CUDA_VISIBLE_DEVICES=GPU-aa "$DS_BIN" run "$TMP/g.json" --db "$D" --quiet : \
  -np 1 env CUDA_VISIBLE_DEVICES=GPU-bb "$DS_BIN" run "$TMP/g.json" --db "$D" --quiet : \
  -np 1 env CUDA_VISIBLE_DEVICES=3 "$DS_BIN" run "$TMP/g.json" --db "$D" --quiet
check "mpirun, one GPU per task (UUIDs, an index): each worker keeps its own" "$(seen "$D" "$D.log")" "1:GPU-aa 2:GPU-bb 3:3"
check "mpirun, one GPU per task: runs.gpus" "$(q "$D" "SELECT gpus FROM runs")" "\"1:GPU-aa,2:GPU-bb,3:3\""

# One process: its worker threads share the first visible GPU.
D=$TMP/d.db
LOG=$D.log CUDA_VISIBLE_DEVICES=6,2 DIVSWEEP_FAKE_GPUS=2 "$DS_BIN" run "$TMP/g.json" --db "$D" --quiet --threads 3
check "local: the threads share the first visible GPU" "$(seen "$D" "$D.log" | sed 's/[0-9]*:/r:/g' | tr ' ' '\n' | sort -u | paste -sd' ')" "r:6"
check "local: runs.gpus" "$(q "$D" "SELECT gpus FROM runs")" "0:6"

# No GPU: none is set, none recorded; SLURM's "NoDevFiles" is no GPU either.
D=$TMP/e.db
LOG=$D.log run_mpi "$D" 3
check "no GPU: trials get no CUDA_VISIBLE_DEVICES, runs.gpus is NULL" "$(seen "$D" "$D.log") $(q "$D" "SELECT ifnull(gpus, 'NULL') FROM runs")" "1:unset 2:unset NULL"
D=$TMP/f.db
CUDA_VISIBLE_DEVICES=NoDevFiles DIVSWEEP_FAKE_GPUS=4 run_mpi "$D" 3
check "CUDA_VISIBLE_DEVICES=NoDevFiles: no GPU" "$(seen "$D" "$D.log" | sed 's/NoDevFiles/x/g') $(q "$D" "SELECT ifnull(gpus, 'NULL') FROM runs")" "1:x 2:x NULL"
finish
