# Pareto ranks / hypervolume / aggregation (coordinator/pareto.c) and the HTML report renderer
# (coordinator/report.c).
ds_add_test(test_pareto SOURCES test_pareto.c LIBS ds_coord LABELS unit)
ds_add_test(test_report SOURCES test_report.c LIBS ds_coord LABELS unit)

# A small executable that writes a report from synthetic data; report_chromium.sh renders it in
# headless Chromium (skips with 77 when Chromium is not installed).
add_executable(report_demo report_demo.c)
target_link_libraries(report_demo PRIVATE ds_coord ds_warnings)
add_test(NAME report_chromium COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/report_chromium.sh
  $<TARGET_FILE:report_demo>)
set_tests_properties(report_chromium PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120)
ds_add_test(test_search SOURCES test_search.c LIBS ds_coord LABELS unit TIMEOUT 30)
