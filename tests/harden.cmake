# Issue 12 (hardening): each script attacks the real binary with real files and processes and
# asserts on exit codes, messages and database contents.
ds_add_script_test(test_harden_spec test_harden_spec.sh LABELS integration TIMEOUT 120)
ds_add_script_test(test_harden_store test_harden_store.sh LABELS integration TIMEOUT 120)
ds_add_script_test(test_harden_files test_harden_files.sh LABELS integration TIMEOUT 120)
