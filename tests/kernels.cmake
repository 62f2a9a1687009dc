# Kernel library tests (labels kernels, unit): reference vs golden values, identities,
# finite differences, every backend vs the reference, the .npy reader/writer and the kernel CLI.
# test_kernels compiles worker/npy.c and worker/cli_kernel.c itself so that it needs nothing of
# worker/ but those two files; run as `test_kernels kernel ...` or `test_kernels bench kernels ...`
# it is also a stand-alone driver for the two subcommands (used by tests/bench/bench_kernels.sh).
ds_add_test(test_kernels SOURCES test_kernels.c ${PROJECT_SOURCE_DIR}/worker/npy.c
            ${PROJECT_SOURCE_DIR}/worker/cli_kernel.c LIBS ds_kernels LABELS "kernels;unit" TIMEOUT 120)
target_include_directories(test_kernels PRIVATE ${PROJECT_SOURCE_DIR}/worker)
