#!/usr/bin/env bash
# GPU mapping under srun (tests/slurm/cluster.sh), without GPUs: DIVSWEEP_FAKE_GPUS stands in
# for CUDA devices (main.c, "GPUs").  `srun --mpi=pmix -n 4`: the 3 worker ranks take GPUs by
# SLURM_LOCALID less one after the coordinator, over CUDA_VISIBLE_DEVICES as the job has it; and
# with one GPU per task (what --gpus-per-task=1 gives: each task its own CUDA_VISIBLE_DEVICES,
# set here by a wrapper from SLURM_LOCALID, as the test node has no GPU gres) each worker keeps
# its own.  A tiny exec program records what each trial received; runs.gpus must agree.  ~10 s.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/cluster.sh"
slurm_up

cat > "$TMP/t.sh" <<T
echo "\$DIVSWEEP_TRIAL_KEY \${CUDA_VISIBLE_DEVICES-unset} \${DIVSWEEP_GPU-unset} \${1:-none}" >> "\$LOG"
sleep 0.05
echo 'divsweep: {"v": 1}'
T
cat > "$TMP/g.json" <<J
{"name": "g", "task": "exec", "fixed": {"command": ["/bin/sh", "$TMP/t.sh", "{gpu}"]},
 "sweep": {"x": {"linear": [0, 1], "points": 30}}}
J
# seen DB LOG: "rank:cuda_visible_devices" for each rank that ran trials (tests/test_gpus.sh).
seen() {
  q "$1" "SELECT lower(hex(trial_key)), rank FROM trials" | tr , ' ' | sort > "$TMP/ranks"
  sort "$2" | join - "$TMP/ranks" | awk '{ if ($3 == "unset" ? $4 != "none" : $2 != $3 || $4 != $3) bad = 1; print $5 ":" $2 }
    END { if (bad) print "MISMATCH" }' | sort -u | paste -sd' '
}
cat > "$TMP/list.sh" <<J
#!/bin/bash
export LOG=$TMP/a.log DIVSWEEP_FAKE_GPUS=4 CUDA_VISIBLE_DEVICES=5,7
srun --mpi=pmix -n 4 "$DS_BIN" run "$TMP/g.json" --db "$TMP/a.db" --quiet
J
cat > "$TMP/per_task.sh" <<J
#!/bin/bash
export LOG=$TMP/b.log DIVSWEEP_FAKE_GPUS=1
srun --mpi=pmix -n 4 bash -c 'export CUDA_VISIBLE_DEVICES=GPU-\$SLURM_LOCALID; exec "\$0" "\$@"' \\
  "$DS_BIN" run "$TMP/g.json" --db "$TMP/b.db" --quiet
J
ja=$(sbatch --parsable -n 4 -o "$TMP/a.out" "$TMP/list.sh")
jb=$(sbatch --parsable -n 4 -o "$TMP/b.out" "$TMP/per_task.sh")
check "srun, CUDA_VISIBLE_DEVICES=5,7: the job completed" "$(slurm_wait_job "$ja" 90) $(slurm_job_field "$ja" ExitCode)" "COMPLETED 0:0"
check "srun, CUDA_VISIBLE_DEVICES=5,7: worker k (SLURM_LOCALID k+1) takes listed GPU k mod 2" "$(seen "$TMP/a.db" "$TMP/a.log")" "1:5 2:7 3:5"
check "srun: runs.gpus says the same, launcher srun" "$(q "$TMP/a.db" "SELECT gpus || ' ' || launcher FROM runs")" "\"1:5,2:7,3:5 srun\""
check "srun, one GPU per task: the job completed" "$(slurm_wait_job "$jb" 90) $(slurm_job_field "$jb" ExitCode)" "COMPLETED 0:0"
check "srun, one GPU per task: each worker keeps its own" "$(seen "$TMP/b.db" "$TMP/b.log")" "1:GPU-1 2:GPU-2 3:GPU-3"
check "srun, one GPU per task: runs.gpus" "$(q "$TMP/b.db" "SELECT gpus FROM runs")" "\"1:GPU-1,2:GPU-2,3:GPU-3\""
[ "$FAILS" -eq 0 ] || tail -n 20 "$TMP/a.out" "$TMP/b.out"
finish
