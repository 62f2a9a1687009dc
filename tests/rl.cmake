# RL-objective kernels (kernels/ds_rl.h).  cJSON reads the golden file in the test only; the
# kernel library itself links nothing but libm and threads.
ds_add_test(test_rl SOURCES test_rl.c LIBS ds_kernels PkgConfig::CJSON LABELS kernels unit TIMEOUT 60)
