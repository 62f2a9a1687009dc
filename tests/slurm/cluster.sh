# cluster.sh — a throwaway single-node SLURM cluster for divsweep's tests (sourced, after lib.sh).
#
#   slurm_up        writes slurm.conf, a munge key and the daemons' directories under
#                   $TMP/slurm, starts munged, slurmctld and slurmd in their foreground modes
#                   (as children of this shell, so their PIDs are known), and waits until sinfo
#                   shows the node idle.  Exits 77 with the reason when the test cannot run here
#                   (not root, a package missing, a daemon that does not come up).
#   slurm_down      stops the daemons by PID (TERM, then KILL after 5 s), and the jobs' step
#                   daemons of this cluster with them.  slurm_up installs it in the EXIT trap, and
#                   a detached watchdog runs it if the test is killed (SIGKILL, a ctest timeout),
#                   so no daemon outlives the test, whichever way it ends.
#   slurm_wait_job JOBID [SECONDS]   waits until the job has left the queue (COMPLETED, FAILED,
#                   CANCELLED, TIMEOUT...) and prints its final state.
#   slurm_job_field JOBID FIELD      one field of `scontrol show job` (JobState, ExitCode,
#                   Restarts, BatchHost...).
#
# Everything lives in this instance's temporary directory: state, spool, logs, PID files, the
# munge socket and key.  The three TCP ports (slurmctld, slurmd, srun) are picked free at start
# up, and job ids start at a random FirstJobId, so two tests, or two checkouts' make test, can
# each run their own cluster at once.  The node is declared with CPUs=16
# (SlurmdParameters=config_overrides): `slurmd -C` sees the 2 CPUs of a CI machine, and the tests
# run several 3-rank jobs side by side (their trials mostly sleep).  Clients (sbatch, srun,
# squeue, scontrol) find this cluster through SLURM_CONF, which slurm_up exports; jobs inherit it.
#
# Measured on Debian 12 (slurm-wlm 22.05.8): slurm_up takes about 2 s; a requeued job is held
# about 120 s (Reason=BeginTime) unless lifted with `scontrol update JobId=... StartTime=now`.

SLURM_DIR=
SLURM_PIDS=()

slurm_skip() { echo "SKIP: $*"; exit 77; }

# free_port: a TCP port nothing listens on now (bound once by the kernel, then released).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

slurm_down() {
  local pid i alive
  [ ${#SLURM_PIDS[@]} -eq 0 ] && return 0
  # Jobs first, while the controller can still end them (KILL: a test that ends early does not
  # wait out KillWait).
  scancel --signal=KILL --full -u root >/dev/null 2>&1 || true
  scancel -u root >/dev/null 2>&1 || true
  for i in $(seq 30); do
    [ -z "$(squeue -h -t R,CG -o %i 2>/dev/null)" ] && break
    sleep 0.1
  done
  for pid in "${SLURM_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 50); do
    alive=0
    for pid in "${SLURM_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${SLURM_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Whatever a job of this cluster left (a step daemon, a job script, a rank) carries this
  # cluster's SLURM_CONF in its environment: no process of another cluster or test is touched.
  if [ -n "$SLURM_DIR" ]; then
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
      if { tr "\\0" "\\n" < "/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_DIR/slurm.conf"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
  fi
  SLURM_PIDS=()
}

slurm_up() {
  [ "$(id -u)" -eq 0 ] || slurm_skip "the SLURM tests start slurmd, which must run as root"
  local b
  for b in munged slurmctld slurmd sbatch srun scontrol sinfo squeue; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
      slurm_skip "$b not installed (Debian: slurm-wlm munge libpmix-dev; .ci/deps.sh test installs them)"
  done
  [ -e /usr/lib/x86_64-linux-gnu/libpmix.so ] || ls /usr/lib/*/libpmix.so >/dev/null 2>&1 ||
    slurm_skip "libpmix.so missing (Debian: libpmix-dev), which SLURM's mpi_pmix plugin dlopens"
  PATH=$PATH:/usr/sbin
  SLURM_DIR=$TMP/slurm
  local d=$SLURM_DIR host
  mkdir -p "$d/state" "$d/spool" "$d/munge" "$d/tmp"
  chmod 700 "$d" "$d/munge"
  host=$(hostname -s)
  SLURM_NODE=$host
  local pc pd ps
  pc=$(free_port); pd=$(free_port); ps=$(free_port)
  while [ "$pd" = "$pc" ]; do pd=$(free_port); done
  # Job ids of their own too.  Two clusters that both numbered jobs from 1, run at once, failed
  # once in two tries: the second one's `srun --mpi=pmix` step never started divsweep, yet its
  # job ended 0:0 (suspected: PMIx namespaces are named slurm.pmix.JOBID.STEPID).  With distinct
  # ids, 2 of 2 concurrent pairs passed.
  local first_job=$(( (RANDOM % 30000) * 100 + 1000 ))
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$d/munge/munge.key"
  cat > "$d/slurm.conf" <<EOF
ClusterName=ds$$
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$pc
SlurmdPort=$pd
SrunPortRange=$ps-$((ps + 20))
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
TmpFS=$d/tmp
FirstJobId=$first_job
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=1
MpiDefault=none
MailProg=/bin/true
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
InactiveLimit=0
KillWait=${SLURM_KILLWAIT:-10}
MinJobAge=300
OverTimeLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=16 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$d/slurm.conf
  trap 'slurm_down; [ -n "${DS_SLURM_KEEP:-}" ] && cp -r "$SLURM_DIR" "$DS_SLURM_KEEP.$$"; rm -rf "$TMP"' EXIT
  munged -F --force --socket="$d/munge/munge.socket" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed" \
    >"$d/munged.out" 2>&1 &
  SLURM_PIDS+=($!)
  local i
  for i in $(seq 50); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.1; done
  [ -S "$d/munge/munge.socket" ] || { cat "$d/munged.out" "$d/munge/munged.log" 2>/dev/null; slurm_skip "munged did not start"; }
  slurmctld -D -i -f "$d/slurm.conf" >"$d/slurmctld.out" 2>&1 &
  SLURM_PIDS+=($!)
  slurmd -D -f "$d/slurm.conf" -N "$host" >"$d/slurmd.out" 2>&1 &
  SLURM_PIDS+=($!)
  # A watchdog, detached (double fork: its parent is init, so that ctest's kill of a test that
  # timed out, which walks the test's process tree, misses it): when this shell is gone without
  # its EXIT trap having run (SIGKILL; the trap removes $TMP), it stops this cluster's daemons
  # and step daemons and removes $TMP.
  local me=$$
  ( ( trap '' INT TERM HUP
      while kill -0 "$me" 2>/dev/null; do sleep 1; done
      if [ -e "$SLURM_DIR/slurm.conf" ]; then slurm_down >/dev/null 2>&1; rm -rf "$TMP"; fi
    ) </dev/null >/dev/null 2>&1 & )
  local st=
  for i in $(seq 150); do
    st=$(sinfo -h -N -n "$host" -o %t 2>/dev/null || true)
    [ "$st" = idle ] && break
    sleep 0.2
  done
  if [ "$st" != idle ]; then
    tail -n 20 "$d/slurmctld.log" "$d/slurmd.log" "$d/slurmctld.out" "$d/slurmd.out" 2>/dev/null
    slurm_skip "the node never became idle (sinfo: '$st'): slurmctld or slurmd did not come up"
  fi
}

slurm_job_field() { # JOBID FIELD
  scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

slurm_wait_job() { # JOBID [SECONDS]
  local i st
  for i in $(seq $((${2:-60} * 5))); do
    kill -0 $$ 2>/dev/null || return 1 # the test was killed: do not outlive it in a $(...)
    st=$(slurm_job_field "$1" JobState)
    case "$st" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) echo "$st"; return 0 ;;
    esac
    sleep 0.2
  done
  echo "TIMEOUT_WAITING($st)"
  return 1
}

# slurm_wait_state JOBID STATE [SECONDS]: waits until the job is in STATE.
slurm_wait_state() {
  local i
  for i in $(seq $((${3:-60} * 5))); do
    kill -0 $$ 2>/dev/null || return 1
    [ "$(slurm_job_field "$1" JobState)" = "$2" ] && return 0
    sleep 0.2
  done
  echo "slurm_wait_state: job $1 never reached $2 (now $(slurm_job_field "$1" JobState))" >&2
  return 1
}
