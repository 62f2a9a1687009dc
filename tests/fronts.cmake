# Pareto fronts kept by the campaign writer (coordinator/fronts.c) and the pareto/report commands
# (coordinator/cli_pareto.c), end to end on real noop campaigns: brute-force equality, incremental
# equals batch, output formats, report in headless Chromium.
ds_add_script_test(fronts_local test_fronts.sh LABELS integration TIMEOUT 120)
ds_add_script_test(fronts_mpi test_fronts_mpi.sh LABELS "integration;mpi" TIMEOUT 120)
