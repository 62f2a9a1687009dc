# Child processes of trials: isolated children (issue 12 items 3, 9) and the exec task.
ds_add_script_test(test_hardening_worker test_hardening_worker.sh LABELS "mpi;integration" TIMEOUT 120)
ds_add_script_test(test_exec test_exec.sh LABELS "mpi;integration" TIMEOUT 240)
