# The spine: spec, sweep, keys, wire format, store; and whole campaigns under mpiexec.
ds_add_test(test_spec SOURCES test_spec.c LIBS ds_schema LABELS unit)
