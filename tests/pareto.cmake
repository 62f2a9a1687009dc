# Pareto ranks / hypervolume / aggregation (coordinator/pareto.c) and the HTML report renderer
# (coordinator/report.c).
ds_add_test(test_pareto SOURCES test_pareto.c LIBS ds_coord LABELS unit)
