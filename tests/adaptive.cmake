# Issue 16, adaptive search: the round samplers (halving/Hyperband, refine), their spec and store side.
ds_add_test(test_halving SOURCES test_halving.c LIBS ds_coord LABELS unit TIMEOUT 60)
ds_add_test(test_refine SOURCES test_refine.c LIBS ds_coord LABELS unit TIMEOUT 60)
ds_add_test(test_store_rounds SOURCES test_store_rounds.c LIBS ds_coord LABELS unit TIMEOUT 60)
