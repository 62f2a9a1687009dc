# Science tasks (worker/task_*.c): unit tests of run() on hand-built params, and an integration
# test that runs small X1 and X6 campaigns under mpiexec and asserts their orderings by SQL.
ds_add_test(test_tasks SOURCES test_tasks.c LIBS ds_worker LABELS unit TIMEOUT 120)
ds_add_script_test(test_experiments test_experiments.sh LABELS integration TIMEOUT 120)
ds_add_script_test(test_logits_big test_logits_big.sh LABELS integration TIMEOUT 180)
ds_add_test(test_testfn SOURCES test_testfn.c LIBS ds_worker LABELS unit TIMEOUT 30)
