# Kernel library tests (labels kernels, unit): reference vs golden values, identities,
# finite differences, every backend vs the reference.
ds_add_test(test_kernels SOURCES test_kernels.c LIBS ds_kernels LABELS "kernels;unit" TIMEOUT 120)
