# CUDA backend tests (label cuda): the "cuda" backend against the reference, the CUDA RL kernels
# against the CPU ones.  Built in every configuration; without a device (or in a CPU-only build)
# it checks the unavailable path and exits 77 (skipped).
ds_add_test(test_cuda SOURCES test_cuda.c LIBS ds_kernels LABELS "cuda" TIMEOUT 300)
