# The spine: spec, sweep, keys, wire format, store; and whole campaigns under mpiexec.
ds_add_test(test_spec SOURCES test_spec.c LIBS ds_schema LABELS unit)
ds_add_test(test_wire SOURCES test_wire.c LIBS ds_schema LABELS unit)
ds_add_test(test_store SOURCES test_store.c LIBS ds_coord LABELS unit)
ds_add_script_test(test_campaign test_campaign.sh LABELS mpi integration TIMEOUT 300)
ds_add_script_test(test_faults_trials test_faults_trials.sh LABELS "mpi;integration" TIMEOUT 120)
ds_add_script_test(test_faults_kill test_faults_kill.sh LABELS "mpi;integration;slow" TIMEOUT 180)
ds_add_script_test(test_faults_db test_faults_db.sh LABELS "mpi;integration" TIMEOUT 120)
ds_add_script_test(test_faults_readers test_faults_readers.sh LABELS "mpi;integration" TIMEOUT 180)
