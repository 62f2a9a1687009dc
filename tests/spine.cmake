# The spine: spec, sweep, keys, wire format, store; and whole campaigns under mpiexec.
ds_add_test(test_spec SOURCES test_spec.c LIBS ds_schema LABELS unit)
ds_add_test(test_buf SOURCES test_buf.c LIBS ds_schema LABELS unit)
ds_add_test(test_wire SOURCES test_wire.c LIBS ds_schema LABELS unit)
ds_add_test(test_store SOURCES test_store.c LIBS ds_coord LABELS unit)
ds_add_script_test(test_campaign test_campaign.sh LABELS mpi integration TIMEOUT 300)
ds_add_script_test(test_faults_trials test_faults_trials.sh LABELS "mpi;integration" TIMEOUT 120)
ds_add_script_test(test_faults_kill test_faults_kill.sh LABELS "mpi;integration;slow" TIMEOUT 180)
ds_add_script_test(test_faults_db test_faults_db.sh LABELS "mpi;integration" TIMEOUT 120)
ds_add_script_test(test_faults_readers test_faults_readers.sh LABELS "mpi;integration" TIMEOUT 180)
ds_add_script_test(test_repair test_repair.sh LABELS integration TIMEOUT 180)
ds_add_script_test(test_signals test_signals.sh LABELS "mpi;integration" TIMEOUT 240)
# Issue 11's resume torture: random campaigns (key order, samplers, simplex/Dirichlet axes, divergence
# entries, seeds) interrupted at random by SIGINT/SIGTERM/SIGKILL, locally or under mpiexec, resumed by
# random `run SPEC`/`resume` (sometimes after growing an axis, with --extend); each must end equal to
# an uninterrupted run's, bit for bit.  Some campaigns (issue 14) are exec ones: tests/exec/torture_prog.py
# checkpointing, resuming and forking children; their curves must match too, no launch may start over
# from scratch, and no trial process may outlive a run.  Plus the issue's n_ba reproduction.  Prints its seed
# (DS_TORTURE_SEED replays it).  The soak (label slow) runs only with DS_TORTURE_SOAK=1 in the
# environment: DS_TORTURE_SOAK=1 ctest -R test_resume_torture_soak --output-on-failure
add_test(NAME test_resume_torture COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_resume_torture.sh)
add_test(NAME test_resume_torture_soak COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_resume_torture.sh soak)
set_tests_properties(test_resume_torture PROPERTIES LABELS "integration;mpi" TIMEOUT 240 RUN_SERIAL TRUE
  SKIP_RETURN_CODE 77 ENVIRONMENT "DS_BIN=$<TARGET_FILE:divsweep>;DS_MPIEXEC=${DS_MPIEXEC}")
set_tests_properties(test_resume_torture_soak PROPERTIES LABELS "integration;mpi;slow" TIMEOUT 7200 RUN_SERIAL TRUE
  SKIP_RETURN_CODE 77 ENVIRONMENT "DS_BIN=$<TARGET_FILE:divsweep>;DS_MPIEXEC=${DS_MPIEXEC}")
# The deadline guard (--deadline): no trial starts that cannot end before it; exit 3; resume.
ds_add_script_test(test_deadline test_deadline.sh LABELS "mpi;integration" TIMEOUT 120)
# GPU mapping without GPUs (DIVSWEEP_FAKE_GPUS): node-local worker index, CUDA_VISIBLE_DEVICES kept.
ds_add_script_test(test_gpus test_gpus.sh LABELS "mpi;integration" TIMEOUT 120)
