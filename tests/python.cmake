# Python package tests (python/divsweep): the numpy and PyTorch bindings of the kernels and the
# installed tree, all with Debian's /usr/bin/python3 (numpy, torch from .ci/deps.sh test).
# Each exits 77 (skipped) when numpy or torch is missing.
find_program(DS_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(DS_PYTHON3)
  set(ds_py_env "PYTHONPATH=${PROJECT_SOURCE_DIR}/python;DIVSWEEP_LIB=$<TARGET_FILE:divsweep_kernels>;DS_TEST_DATA=${CMAKE_CURRENT_SOURCE_DIR}/data;OMP_NUM_THREADS=2")
  foreach(t test_py_kernels test_py_torch)
    add_test(NAME ${t} COMMAND ${DS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/${t}.py)
    set_tests_properties(${t} PROPERTIES LABELS "python" SKIP_RETURN_CODE 77 TIMEOUT 120 ENVIRONMENT "${ds_py_env}")
  endforeach()
  add_test(NAME test_py_install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/python/test_py_install.sh
           ${CMAKE_BINARY_DIR} ${DS_PYTHON3})
  set_tests_properties(test_py_install PROPERTIES LABELS "python" SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
