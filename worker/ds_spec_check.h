/* ds_spec_check.h — whole-spec checks on the parsed spec document (root: the spec's JSON), run on
 * the coordinator by `divsweep validate` before any trial exists (worker/spec_check.c says what
 * each checks and why).  Both return 0, or DS_ESPEC / DS_EIO / DS_ENPY with one line in err that
 * starts with the JSON path ("fixed.teachers[0].npy: tt.npy: cannot open: No such file or
 * directory").  Relative file names resolve against the working directory.  Pure functions of
 * their input and the file system: any thread may call. */
#ifndef DS_SPEC_CHECK_H
#define DS_SPEC_CHECK_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Parameter names in fixed and sweep that the task does not take, with the nearest valid name.
 * Run it before ds_spec_load so that the message names the key, not its first sweep value. */
int ds_spec_check_names(const cJSON *root, char *err, size_t err_len);
/* List lengths against answers and teachers, objectives against the metrics the task reports,
 * and every .npy file (exists, readable, header, dtype, shapes agree).  Run it after the spec
 * parsed (values are then well-typed). */
int ds_spec_check_whole(const cJSON *root, char *err, size_t err_len);

#endif /* DS_SPEC_CHECK_H */
