/* ds_npy.h — minimal .npy reader/writer for logits files (DESIGN.md §2).
 *
 * Reads little-endian float32 or float64, C order, 1-D (one row) or 2-D [rows][cols]; everything
 * else (other dtypes, big-endian, Fortran order, 0-D or 3-D+, empty arrays, truncated or
 * oversized data, malformed headers) is rejected with DS_ENPY and a one-line message.  The parser
 * trusts nothing in the file: every length is bounds-checked and size products are checked for
 * overflow, so it is safe on hostile input (it is fuzzed through ds_npy_parse).
 * Writes float32, version 1.0, header padded to 64 bytes.  Thread-safe; no global state.
 */
#ifndef DS_NPY_H
#define DS_NPY_H

#include <stddef.h>

typedef struct ds_npy {
  int ndim;        /* 1 or 2 */
  int src_f64;     /* 1 if the file held float64 (converted to float32 in data) */
  size_t rows;     /* 1 for a 1-D array */
  size_t cols;     /* vocab */
  float *data;     /* rows·cols floats, 64-byte aligned, owned: release with ds_npy_free */
} ds_npy_t;

/* Parses an in-memory .npy image.  On success fills *out (caller frees with ds_npy_free) and
 * returns 0; on failure returns DS_ENPY (or DS_ENOMEM), leaves out->data NULL and writes a
 * reason into err (if err_len > 0). */
int ds_npy_parse(const void *buf, size_t len, ds_npy_t *out, char *err, size_t err_len);
/* Reads and parses a file (DS_EIO if it cannot be read); the message names the path. */
int ds_npy_read(const char *path, ds_npy_t *out, char *err, size_t err_len);
/* Writes rows×cols float32 values as a .npy of ndim 1 (rows must be 1) or 2.  DS_EIO on failure. */
int ds_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, int ndim,
                     char *err, size_t err_len);
/* Releases out->data (NULL-safe); leaves *a zeroed. */
void ds_npy_free(ds_npy_t *a);

#endif /* DS_NPY_H */
