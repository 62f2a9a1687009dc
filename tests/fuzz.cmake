# Fuzzing.  test_fuzz_replay_<target> replays tests/fuzz/corpus/<target>/ (seeds plus every input a
# fuzzer once crashed on) through the fuzz entry point with the ordinary compiler, on every build.
# test_fuzz builds the libFuzzer targets with clang and fuzzes each for DS_FUZZ_SECONDS (skips
# without clang).  -DDS_FUZZ=ON (configure with CC=clang) also builds fuzz_<target> executables for
# long local runs: ./build/tests/fuzz_spec tests/fuzz/corpus/spec
set(DS_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
foreach(t spec npy wire)
  set(extra "")
  if(t STREQUAL "npy")
    set(extra ${PROJECT_SOURCE_DIR}/worker/npy.c)
  endif()
  add_executable(fuzz_${t}_replay ${DS_FUZZ_DIR}/fuzz_${t}.c ${DS_FUZZ_DIR}/replay.c ${extra})
  target_include_directories(fuzz_${t}_replay PRIVATE ${PROJECT_SOURCE_DIR}/worker)
  target_link_libraries(fuzz_${t}_replay PRIVATE ds_schema ds_warnings m)
  add_test(NAME test_fuzz_replay_${t} COMMAND fuzz_${t}_replay ${DS_FUZZ_DIR}/corpus/${t})
  set_tests_properties(test_fuzz_replay_${t} PROPERTIES LABELS unit TIMEOUT 60)
  if(DS_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "DS_FUZZ=ON needs clang: configure with CC=clang")
    endif()
    add_executable(fuzz_${t} ${DS_FUZZ_DIR}/fuzz_${t}.c ${extra})
    target_include_directories(fuzz_${t} PRIVATE ${PROJECT_SOURCE_DIR}/worker)
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE ds_schema m)
  endif()
endforeach()
add_test(NAME test_fuzz COMMAND bash ${DS_FUZZ_DIR}/../test_fuzz.sh)
set_tests_properties(test_fuzz PROPERTIES LABELS "integration;fuzz" SKIP_RETURN_CODE 77 TIMEOUT 240
  ENVIRONMENT "DS_SRC=${PROJECT_SOURCE_DIR};DS_FUZZ_SECONDS=15")
