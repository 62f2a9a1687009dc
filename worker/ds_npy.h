/* ds_npy.h — minimal .npy reader/writer for logits files (DESIGN.md §2).
 *
 * Reads little-endian float16, float32 or float64, C order, 1-D (one row) or 2-D [rows][cols]; everything
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
  int src_f16;     /* 1 if the file held float16 (converted exactly) */
  size_t rows;     /* 1 for a 1-D array */
  size_t cols;     /* vocab */
  float *data;     /* rows·cols floats, 64-byte aligned, owned: release with ds_npy_free */
} ds_npy_t;

/* What a .npy header says: element size (2, 4 or 8 bytes, little-endian floats), shape, and where
 * the data start.  data_bytes = rows·cols·item. */
typedef struct ds_npy_header {
  int ndim;
  size_t item, rows, cols, data_off, data_bytes;
} ds_npy_header_t;

/* Parses the header of an image whose first len bytes are given (the data need not be there).
 * 0 or DS_ENPY with a reason. */
int ds_npy_parse_header(const void *buf, size_t len, ds_npy_header_t *h, char *err, size_t err_len);

/* A read-only memory mapping of a whole .npy file: no copy, pages come in as rows are read. */
typedef struct ds_npy_map {
  ds_npy_header_t hdr;
  const void *data;  /* hdr.data_bytes bytes of little-endian elements */
  void *base;
  size_t map_len;
} ds_npy_map_t;

/* Opens path without blocking, refuses what is not a regular file (a directory, FIFO, device or
 * socket: DS_ENPY, the message says which), maps it, parses the header and checks that the file
 * holds exactly the bytes the header declares (more or fewer: DS_ENPY).  Nothing is read past the
 * header before that check.  DS_EIO when it cannot be opened or mapped.  Messages name the path.
 * On failure *m is zeroed.  Release with ds_npy_unmap (NULL- and zero-safe). */
int ds_npy_map(const char *path, ds_npy_map_t *m, char *err, size_t err_len);
void ds_npy_unmap(ds_npy_map_t *m);

/* Converts n little-endian elements of size item (2, 4, 8) to float / double.  float16 and float32
 * convert exactly to both; float64 rounds to nearest in the float version. */
void ds_npy_convert_f32(const void *data, size_t item, size_t n, float *out);
void ds_npy_convert_f64(const void *data, size_t item, size_t n, double *out);

/* Parses an in-memory .npy image.  On success fills *out (caller frees with ds_npy_free) and
 * returns 0; on failure returns DS_ENPY (or DS_ENOMEM), leaves out->data NULL and writes a
 * reason into err (if err_len > 0). */
int ds_npy_parse(const void *buf, size_t len, ds_npy_t *out, char *err, size_t err_len);
/* Reads a file through ds_npy_map (same refusals) into float32; the message names the path. */
int ds_npy_read(const char *path, ds_npy_t *out, char *err, size_t err_len);
/* Writes rows×cols float32 values as a .npy of ndim 1 (rows must be 1) or 2.  DS_EIO on failure. */
int ds_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, int ndim,
                     char *err, size_t err_len);
/* Releases out->data (NULL-safe); leaves *a zeroed. */
void ds_npy_free(ds_npy_t *a);

#endif /* DS_NPY_H */
