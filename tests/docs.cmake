# Documentation: every spec shown in README.md and docs/ validates; the parameter tables of docs/
# are exactly what `divsweep help` prints (both come from the table the validator checks against).
ds_add_script_test(test_doc_specs test_doc_specs.sh LABELS unit TIMEOUT 60)
ds_add_script_test(test_doc_help test_doc_help.sh LABELS unit TIMEOUT 60)
ds_add_test(test_params SOURCES test_params.c LIBS ds_worker LABELS unit TIMEOUT 60)
ds_add_script_test(test_validate test_validate.sh LABELS unit TIMEOUT 60)
ds_add_script_test(test_cli_small test_cli_small.sh LABELS integration TIMEOUT 60)
