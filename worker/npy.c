/* npy.c — .npy reader (float16/float32/float64, little-endian, C order, 1-D/2-D; files are
 * memory-mapped after an fstat that refuses anything but a regular file) and float32 writer.
 *
 * Invariants: the parser reads only inside [buf, buf+len); every size comes from checked
 * arithmetic; on failure nothing is allocated and out->data is NULL.  The header is the Python
 * dict literal of the format spec ({'descr': '<f4', 'fortran_order': False, 'shape': (r, c), }),
 * parsed by a strict little scanner: known keys once each, nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ds_npy.h"
#include "ds_error.h"

static int npy_err(char *err, size_t err_len, int code, const char *fmt, ...) {
  if (err && err_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
  return code;
}

typedef struct { const char *p, *end; } scan_t;

static void skip_ws(scan_t *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}
static int accept(scan_t *s, char c) {
  skip_ws(s);
  if (s->p < s->end && *s->p == c) { s->p++; return 1; }
  return 0;
}
/* Quoted string ('...' or "...") without escapes, copied into out (truncation is an error). */
static int scan_str(scan_t *s, char *out, size_t cap) {
  skip_ws(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return -1;
  char q = *s->p++;
  size_t n = 0;
  while (s->p < s->end && *s->p != q) {
    if (*s->p == '\\' || n + 1 >= cap) return -1;
    out[n++] = *s->p++;
  }
  if (s->p >= s->end) return -1;
  s->p++;
  out[n] = '\0';
  return 0;
}
static int scan_word(scan_t *s, const char *w) {
  skip_ws(s);
  size_t n = strlen(w);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return 0;
  s->p += n;
  return 1;
}
static int scan_uint(scan_t *s, uint64_t *v) {
  skip_ws(s);
  if (s->p >= s->end || *s->p < '0' || *s->p > '9') return -1;
  uint64_t x = 0;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
    if (x > (UINT64_MAX - 9) / 10) return -1;
    x = x * 10 + (uint64_t)(*s->p++ - '0');
  }
  if (s->p < s->end && *s->p == 'L') s->p++; /* Python 2 long suffix */
  *v = x;
  return 0;
}

/* Parses the magic, version and header dict of an image of at least the header's bytes (len may
 * stop right after the header: data bytes are not looked at).  Fills *h; 0 or DS_ENPY. */
int ds_npy_parse_header(const void *buf, size_t len, ds_npy_header_t *h, char *err, size_t err_len) {
  const unsigned char *b = buf;
  memset(h, 0, sizeof *h);
  if (!b || len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return npy_err(err, err_len, DS_ENPY, "not a .npy file (bad magic)");
  unsigned major = b[6];
  size_t hlen, hoff;
  if (major == 1) { hlen = (size_t)b[8] | (size_t)b[9] << 8; hoff = 10; }
  else if (major == 2 || major == 3) {
    if (len < 12) return npy_err(err, err_len, DS_ENPY, "truncated .npy header");
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hoff = 12;
  } else return npy_err(err, err_len, DS_ENPY, "unsupported .npy format version %u", major);
  if (hlen > len - hoff) return npy_err(err, err_len, DS_ENPY, "truncated .npy header");
  scan_t s = {(const char *)b + hoff, (const char *)b + hoff + hlen};
  char descr[32] = "", key[32];
  int have_d = 0, have_f = 0, have_s = 0, fortran = 0, ndim = 0;
  uint64_t shape[3] = {0, 0, 0};
  if (!accept(&s, '{')) return npy_err(err, err_len, DS_ENPY, "malformed .npy header (no dict)");
  while (!accept(&s, '}')) {
    if (scan_str(&s, key, sizeof key) != 0 || !accept(&s, ':'))
      return npy_err(err, err_len, DS_ENPY, "malformed .npy header");
    if (strcmp(key, "descr") == 0 && !have_d) {
      if (scan_str(&s, descr, sizeof descr) != 0)
        return npy_err(err, err_len, DS_ENPY, "malformed .npy header (descr is not a simple dtype)");
      have_d = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_f) {
      if (scan_word(&s, "False")) fortran = 0;
      else if (scan_word(&s, "True")) fortran = 1;
      else return npy_err(err, err_len, DS_ENPY, "malformed .npy header (fortran_order)");
      have_f = 1;
    } else if (strcmp(key, "shape") == 0 && !have_s) {
      if (!accept(&s, '(')) return npy_err(err, err_len, DS_ENPY, "malformed .npy header (shape)");
      while (!accept(&s, ')')) {
        uint64_t v;
        if (ndim >= 3 || scan_uint(&s, &v) != 0)
          return npy_err(err, err_len, DS_ENPY, "unsupported .npy shape (want 1-D or 2-D)");
        shape[ndim++] = v;
        if (!accept(&s, ',') && !(skip_ws(&s), s.p < s.end && *s.p == ')'))
          return npy_err(err, err_len, DS_ENPY, "malformed .npy header (shape)");
      }
      have_s = 1;
    } else {
      return npy_err(err, err_len, DS_ENPY, "unexpected or repeated key '%s' in .npy header", key);
    }
    if (!accept(&s, ',')) {
      if (!accept(&s, '}')) return npy_err(err, err_len, DS_ENPY, "malformed .npy header");
      break;
    }
  }
  if (!have_d || !have_f || !have_s)
    return npy_err(err, err_len, DS_ENPY, ".npy header lacks descr, fortran_order or shape");
  size_t item;
  if (strcmp(descr, "<f4") == 0) item = 4;
  else if (strcmp(descr, "<f8") == 0) item = 8;
  else if (strcmp(descr, "<f2") == 0) item = 2;
  else if (strcmp(descr, ">f4") == 0 || strcmp(descr, ">f8") == 0 || strcmp(descr, ">f2") == 0)
    return npy_err(err, err_len, DS_ENPY, "big-endian .npy data (%s) is not supported; want <f2, <f4 or <f8", descr);
  else return npy_err(err, err_len, DS_ENPY, "unsupported .npy dtype '%s' (want float16 <f2, float32 <f4 or float64 <f8)", descr);
  if (fortran) return npy_err(err, err_len, DS_ENPY, "Fortran-order .npy arrays are not supported (save C order)");
  if (ndim != 1 && ndim != 2)
    return npy_err(err, err_len, DS_ENPY, "unsupported .npy shape: %d-D (want 1-D or 2-D)", ndim);
  uint64_t rows = ndim == 2 ? shape[0] : 1, cols = ndim == 2 ? shape[1] : shape[0];
  if (rows == 0 || cols == 0) return npy_err(err, err_len, DS_ENPY, "empty .npy array");
  if (cols > SIZE_MAX / 8 / rows || rows * cols > SIZE_MAX / sizeof(double) - 64)
    return npy_err(err, err_len, DS_ENPY, ".npy array too large");
  h->ndim = ndim;
  h->item = item;
  h->rows = (size_t)rows;
  h->cols = (size_t)cols;
  h->data_off = hoff + hlen;
  h->data_bytes = (size_t)(rows * cols) * item;
  return 0;
}

/* IEEE binary16 → float (exact: every half is a float). */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ffu, u;
  if (e == 0x1f) u = sign | 0x7f800000u | m << 13;          /* inf / NaN */
  else if (e != 0) u = sign | (e + 112) << 23 | m << 13;    /* normal: rebias 15 → 127 */
  else if (m == 0) u = sign;                                 /* ±0 */
  else {                                                     /* subnormal: normalise */
    int sh = 0;
    while (!(m & 0x400u)) { m <<= 1; sh++; }
    u = sign | (uint32_t)(113 - sh) << 23 | (m & 0x3ffu) << 13;
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* Element i of little-endian data of item size 2, 4 or 8, as double (host-endian independent). */
static inline double elem(const unsigned char *d, size_t item, size_t i) {
  if (item == 4) {
    uint32_t u = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
                 (uint32_t)d[4 * i + 3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  if (item == 2) return half_to_float((uint16_t)(d[2 * i] | d[2 * i + 1] << 8));
  uint64_t u = 0;
  for (int k = 7; k >= 0; k--) u = u << 8 | d[8 * i + (size_t)k];
  double v;
  memcpy(&v, &u, 8);
  return v;
}

void ds_npy_convert_f32(const void *data, size_t item, size_t n, float *out) {
  const unsigned char *d = data;
  if (item == 4) {
    for (size_t i = 0; i < n; i++) {
      uint32_t u = (uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 |
                   (uint32_t)d[4 * i + 3] << 24;
      memcpy(&out[i], &u, 4);
    }
    return;
  }
  for (size_t i = 0; i < n; i++) out[i] = (float)elem(d, item, i);
}

void ds_npy_convert_f64(const void *data, size_t item, size_t n, double *out) {
  const unsigned char *d = data;
  for (size_t i = 0; i < n; i++) out[i] = elem(d, item, i);
}

int ds_npy_parse(const void *buf, size_t len, ds_npy_t *out, char *err, size_t err_len) {
  if (!out) return DS_EINVAL;
  memset(out, 0, sizeof *out);
  ds_npy_header_t h;
  int rc = ds_npy_parse_header(buf, len, &h, err, err_len);
  if (rc) return rc;
  size_t n = h.rows * h.cols;
  if (len - h.data_off != h.data_bytes)
    return npy_err(err, err_len, DS_ENPY, ".npy data size %zu bytes does not match shape (%zu expected)",
                   len - h.data_off, h.data_bytes);
  float *data = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
  if (!data) return npy_err(err, err_len, DS_ENOMEM, "out of memory reading .npy (%zu values)", n);
  ds_npy_convert_f32((const unsigned char *)buf + h.data_off, h.item, n, data);
  out->ndim = h.ndim;
  out->src_f64 = h.item == 8;
  out->src_f16 = h.item == 2;
  out->rows = h.rows;
  out->cols = h.cols;
  out->data = data;
  return 0;
}

/* ---- Files: opened without blocking, checked, mapped ---------------------------------------- */

/* Why a path cannot be a .npy file, from its fstat; NULL when it is a regular file. */
static const char *not_regular(const struct stat *st) {
  if (S_ISREG(st->st_mode)) return NULL;
  if (S_ISDIR(st->st_mode)) return "is a directory, not a .npy file";
  if (S_ISFIFO(st->st_mode)) return "is a FIFO (named pipe), not a regular .npy file";
  if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) return "is a device, not a regular .npy file";
  if (S_ISSOCK(st->st_mode)) return "is a socket, not a regular .npy file";
  return "is not a regular file";
}

int ds_npy_map(const char *path, ds_npy_map_t *m, char *err, size_t err_len) {
  memset(m, 0, sizeof *m);
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EISDIR) return npy_err(err, err_len, DS_ENPY, "%s: is a directory, not a .npy file", path);
    return npy_err(err, err_len, DS_EIO, "%s: cannot open (%s)", path, strerror(errno));
  }
  struct stat st;
  int rc;
  char msg[200];
  void *base = MAP_FAILED;
  if (fstat(fd, &st) != 0) { rc = npy_err(err, err_len, DS_EIO, "%s: cannot stat (%s)", path, strerror(errno)); goto fail; }
  const char *why = not_regular(&st);
  if (why) { rc = npy_err(err, err_len, DS_ENPY, "%s: %s", path, why); goto fail; }
  size_t sz = (size_t)st.st_size;
  if (sz < 10) { rc = npy_err(err, err_len, DS_ENPY, "%s: not a .npy file (%zu bytes)", path, sz); goto fail; }
  base = mmap(NULL, sz, PROT_READ, MAP_PRIVATE, fd, 0);
  if (base == MAP_FAILED) { rc = npy_err(err, err_len, DS_EIO, "%s: cannot map (%s)", path, strerror(errno)); goto fail; }
  ds_npy_header_t h;
  if ((rc = ds_npy_parse_header(base, sz, &h, msg, sizeof msg))) { npy_err(err, err_len, rc, "%s: %s", path, msg); goto fail; }
  /* The header's shape says how many bytes follow; a file with more or fewer is refused (a
   * declared size is all that is ever read, so /dev/zero-like growth cannot happen). */
  if (sz - h.data_off != h.data_bytes) {
    rc = npy_err(err, err_len, DS_ENPY, "%s: .npy data size %zu bytes does not match shape (%zu expected%s)", path,
                 sz - h.data_off, h.data_bytes, sz - h.data_off > h.data_bytes ? ": more than the header declares" : "");
    goto fail;
  }
  close(fd);
  m->hdr = h;
  m->base = base;
  m->map_len = sz;
  m->data = (const unsigned char *)base + h.data_off;
  return 0;
fail:
  if (base != MAP_FAILED) munmap(base, (size_t)st.st_size);
  close(fd);
  return rc;
}

void ds_npy_unmap(ds_npy_map_t *m) {
  if (!m) return;
  if (m->base) munmap(m->base, m->map_len);
  memset(m, 0, sizeof *m);
}

int ds_npy_read(const char *path, ds_npy_t *out, char *err, size_t err_len) {
  if (out) memset(out, 0, sizeof *out);
  ds_npy_map_t m;
  int rc = ds_npy_map(path, &m, err, err_len);
  if (rc) return rc;
  size_t n = m.hdr.rows * m.hdr.cols;
  float *data = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
  if (!data) {
    ds_npy_unmap(&m);
    return npy_err(err, err_len, DS_ENOMEM, "%s: out of memory (%zu values)", path, n);
  }
  ds_npy_convert_f32(m.data, m.hdr.item, n, data);
  out->ndim = m.hdr.ndim;
  out->src_f64 = m.hdr.item == 8;
  out->src_f16 = m.hdr.item == 2;
  out->rows = m.hdr.rows;
  out->cols = m.hdr.cols;
  out->data = data;
  ds_npy_unmap(&m);
  return 0;
}

int ds_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, int ndim,
                     char *err, size_t err_len) {
  char hdr[256];
  if (!path || !data || (ndim != 1 && ndim != 2) || (ndim == 1 && rows != 1))
    return npy_err(err, err_len, DS_EINVAL, "invalid .npy write request");
  int n = ndim == 2 ? snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols)
                    : snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }", cols);
  size_t hl = (size_t)n + 1; /* + '\n' */
  size_t pad = (64 - (10 + hl) % 64) % 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t total = hl + pad;
  pre[8] = (unsigned char)(total & 0xff);
  pre[9] = (unsigned char)(total >> 8);
  FILE *f = fopen(path, "wb");
  if (!f) return npy_err(err, err_len, DS_EIO, "%s: cannot create", path);
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  for (size_t i = 0; ok && i < rows * cols; i++) {
    uint32_t u;
    memcpy(&u, &data[i], 4);
    unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
    ok = fwrite(le, 1, 4, f) == 4;
  }
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : npy_err(err, err_len, DS_EIO, "%s: write error", path);
}

void ds_npy_free(ds_npy_t *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}
