#!/usr/bin/env bash
# test_slurm_requeue.sh with `mpirun -np 3` inside the job instead of srun.
#
# Before the signal path of issue 11 (graceful stop when mpirun itself gets SIGTERM, ranks dying
# with their parent, odls_base_sigkill_timeout no longer 0), 6 of 15 checks failed: after
# `scontrol requeue` the ranks were SIGKILLed at once, the runs row stayed `running` (the next
# start marked it `killed`) and in-flight results were lost; `scancel --signal=TERM --full` killed
# the batch shell and mpirun (job ExitCode 0:15) and again left the row `running`.
# Note: a plain `scancel --signal=TERM` and `--signal=TERM@N` (without B:) signal the job's steps
# but not the batch step, where mpirun runs.
exec bash "$(dirname "$0")/test_slurm_requeue.sh" mpirun
