/* wire.c — encoder and bounds-checked decoder of the version-1 wire format (see ds_wire.h). */
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_wire.h"

/* ---- results -------------------------------------------------------------------------- */

void ds_result_reset(ds_result_t *r) {
  r->idx = 0;
  r->attempt = 0;
  r->status = 0;
  r->wall_s = 0;
  r->error[0] = 0;
  r->n_metrics = 0;
  r->n_curve = 0;
}

void ds_result_free(ds_result_t *r) {
  if (!r) return;
  free(r->metrics);
  free(r->curve);
  memset(r, 0, sizeof *r);
}

static void copy_name(char *dst, size_t cap, const char *src, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

int ds_result_metric(ds_result_t *r, const char *name, double value) {
  for (size_t i = 0; i < r->n_metrics; i++)
    if (!strcmp(r->metrics[i].name, name)) {
      r->metrics[i].value = value;
      return 0;
    }
  if (r->n_metrics == r->cap_metrics) {
    size_t cap = r->cap_metrics ? 2 * r->cap_metrics : 16;
    ds_metric_t *m = realloc(r->metrics, cap * sizeof *m);
    if (!m) return DS_ENOMEM;
    r->metrics = m;
    r->cap_metrics = cap;
  }
  copy_name(r->metrics[r->n_metrics].name, sizeof r->metrics[0].name, name, strlen(name));
  r->metrics[r->n_metrics++].value = value;
  return 0;
}

int ds_result_curve(ds_result_t *r, int64_t step, const char *name, double value) {
  if (r->n_curve == r->cap_curve) {
    size_t cap = r->cap_curve ? 2 * r->cap_curve : 64;
    ds_curve_pt_t *c = realloc(r->curve, cap * sizeof *c);
    if (!c) return DS_ENOMEM;
    r->curve = c;
    r->cap_curve = cap;
  }
  ds_curve_pt_t *c = &r->curve[r->n_curve++];
  c->step = step;
  copy_name(c->name, sizeof c->name, name, strlen(name));
  c->value = value;
  return 0;
}

/* ---- writer --------------------------------------------------------------------------- */

static void put(ds_wbuf_t *w, const void *p, size_t n) {
  if (w->oom) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n) cap *= 2;
    uint8_t *d = realloc(w->data, cap);
    if (!d) {
      w->oom = 1;
      return;
    }
    w->data = d;
    w->cap = cap;
  }
  memcpy(w->data + w->len, p, n);
  w->len += n;
}

static void put_u64(ds_wbuf_t *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(w, b, 8);
}

static void put_u32(ds_wbuf_t *w, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
  put(w, b, 4);
}

static void put_u8(ds_wbuf_t *w, uint8_t v) { put(w, &v, 1); }

static void put_f64(ds_wbuf_t *w, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  put_u64(w, v);
}

static void put_str(ds_wbuf_t *w, const char *s, size_t n) {
  put_u32(w, (uint32_t)n);
  put(w, s, n);
}

void ds_wire_begin(ds_wbuf_t *w, ds_msg_type_t type) {
  w->len = 0;
  w->oom = 0;
  w->count = 0;
  put_u32(w, DS_WIRE_MAGIC);
  put_u8(w, DS_WIRE_VERSION);
  put_u8(w, (uint8_t)type);
  put_u8(w, 0);
  put_u8(w, 0);
  w->count_at = w->len;
  put_u32(w, 0);
}

uint8_t ds_wire_backend_code(const char *name) {
  if (!name) return DS_WIRE_BACKEND_AUTO;
  if (!strcmp(name, "ref")) return DS_WIRE_BACKEND_REF;
  if (!strcmp(name, "cpu")) return DS_WIRE_BACKEND_CPU;
  if (!strcmp(name, "cuda")) return DS_WIRE_BACKEND_CUDA;
  return DS_WIRE_BACKEND_AUTO;
}

const char *ds_wire_backend_name(uint8_t code) {
  static const char *const names[] = {"auto", "ref", "cpu", "cuda"};
  return code < 4 ? names[code] : "auto";
}

uint8_t ds_wire_device_code(const char *name) {
  if (!name) return DS_WIRE_DEVICE_AUTO;
  if (!strcmp(name, "cpu")) return DS_WIRE_DEVICE_CPU;
  if (!strcmp(name, "cuda")) return DS_WIRE_DEVICE_CUDA;
  return DS_WIRE_DEVICE_AUTO;
}

const char *ds_wire_device_name(uint8_t code) {
  static const char *const names[] = {"auto", "cpu", "cuda"};
  return code < 3 ? names[code] : "auto";
}

void ds_wire_put_trial(ds_wbuf_t *w, const ds_wire_trial_t *t) {
  put_u64(w, (uint64_t)t->idx);
  put_u32(w, t->attempt);
  put_u64(w, t->rng_seed);
  put_f64(w, t->timeout_s);
  put_u8(w, t->isolation);
  put_u8(w, t->device);
  put_u8(w, t->backend);
  put_u32(w, t->threads);
  put_str(w, t->key, strlen(t->key));
  put_str(w, t->task, t->task_len);
  put_str(w, t->params, t->params_len);
  put_f64(w, t->kill_grace_s);
  put_str(w, t->run_dir ? t->run_dir : "", t->run_dir ? t->run_dir_len : 0);
  put_str(w, t->objectives ? t->objectives : "", t->objectives ? t->objectives_len : 0);
  w->count++;
}

void ds_wire_put_result(ds_wbuf_t *w, const ds_result_t *r) {
  put_u64(w, (uint64_t)r->idx);
  put_u32(w, r->attempt);
  put_u32(w, (uint32_t)r->status);
  put_f64(w, r->wall_s);
  put_str(w, r->error, strlen(r->error));
  put_u32(w, (uint32_t)r->n_metrics);
  for (size_t i = 0; i < r->n_metrics; i++) {
    put_str(w, r->metrics[i].name, strlen(r->metrics[i].name));
    put_f64(w, r->metrics[i].value);
  }
  put_u32(w, (uint32_t)r->n_curve);
  for (size_t i = 0; i < r->n_curve; i++) {
    put_u64(w, (uint64_t)r->curve[i].step);
    put_str(w, r->curve[i].name, strlen(r->curve[i].name));
    put_f64(w, r->curve[i].value);
  }
  w->count++;
}

void ds_wire_put_hello(ds_wbuf_t *w, const char *host, int32_t gpu, const char *backend) {
  put_str(w, host, strlen(host));
  put_u32(w, (uint32_t)gpu);
  put_str(w, backend, strlen(backend));
  w->count++;
}

int ds_wire_end(ds_wbuf_t *w) {
  if (w->oom) return DS_ENOMEM;
  for (int i = 0; i < 4; i++) w->data[w->count_at + i] = (uint8_t)(w->count >> (8 * i));
  return 0;
}

void ds_wbuf_free(ds_wbuf_t *w) {
  free(w->data);
  memset(w, 0, sizeof *w);
}

/* ---- reader --------------------------------------------------------------------------- */

static int get(ds_rbuf_t *r, void *p, size_t n) {
  if (n > r->len - r->pos) return DS_EWIRE;
  memcpy(p, r->data + r->pos, n);
  r->pos += n;
  return 0;
}

static int get_u64(ds_rbuf_t *r, uint64_t *v) {
  uint8_t b[8];
  if (get(r, b, 8)) return DS_EWIRE;
  *v = 0;
  for (int i = 0; i < 8; i++) *v |= (uint64_t)b[i] << (8 * i);
  return 0;
}

static int get_u32(ds_rbuf_t *r, uint32_t *v) {
  uint8_t b[4];
  if (get(r, b, 4)) return DS_EWIRE;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 0;
}

static int get_f64(ds_rbuf_t *r, double *d) {
  uint64_t v;
  if (get_u64(r, &v)) return DS_EWIRE;
  memcpy(d, &v, 8);
  return 0;
}

static int get_str(ds_rbuf_t *r, const char **s, size_t *n) {
  uint32_t len;
  if (get_u32(r, &len) || len > r->len - r->pos) return DS_EWIRE;
  *s = (const char *)r->data + r->pos;
  *n = len;
  r->pos += len;
  return 0;
}

int ds_wire_open(ds_rbuf_t *r, const void *data, size_t len) {
  r->data = data;
  r->len = len;
  r->pos = 0;
  uint32_t magic, count;
  uint8_t hdr[4];
  if (get_u32(r, &magic) || magic != DS_WIRE_MAGIC) return DS_EWIRE;
  if (get(r, hdr, 4) || hdr[0] != DS_WIRE_VERSION) return DS_EWIRE;
  if (hdr[1] < DS_MSG_TRIAL || hdr[1] > DS_MSG_STOP) return DS_EWIRE;
  if (get_u32(r, &count)) return DS_EWIRE;
  r->type = (ds_msg_type_t)hdr[1];
  r->count = count;
  return 0;
}

int ds_wire_get_trial(ds_rbuf_t *r, ds_wire_trial_t *t) {
  uint64_t idx;
  const char *key;
  size_t key_len;
  if (get_u64(r, &idx) || get_u32(r, &t->attempt) || get_u64(r, &t->rng_seed) ||
      get_f64(r, &t->timeout_s) || get(r, &t->isolation, 1) || get(r, &t->device, 1) ||
      get(r, &t->backend, 1) || get_u32(r, &t->threads) ||
      get_str(r, &key, &key_len) || key_len > 32 || get_str(r, &t->task, &t->task_len) ||
      get_str(r, &t->params, &t->params_len) || get_f64(r, &t->kill_grace_s) ||
      get_str(r, &t->run_dir, &t->run_dir_len) || get_str(r, &t->objectives, &t->objectives_len))
    return DS_EWIRE;
  t->idx = (int64_t)idx;
  memcpy(t->key, key, key_len);
  t->key[key_len] = 0;
  return 0;
}

int ds_wire_get_result(ds_rbuf_t *r, ds_result_t *out) {
  uint64_t idx;
  uint32_t status, n;
  const char *s;
  size_t len;
  ds_result_reset(out);
  if (get_u64(r, &idx) || get_u32(r, &out->attempt) || get_u32(r, &status) ||
      get_f64(r, &out->wall_s) || get_str(r, &s, &len))
    return DS_EWIRE;
  out->idx = (int64_t)idx;
  out->status = (int32_t)status;
  copy_name(out->error, sizeof out->error, s, len);
  if (get_u32(r, &n)) return DS_EWIRE;
  for (uint32_t i = 0; i < n; i++) {
    double v;
    char name[64];
    if (get_str(r, &s, &len) || get_f64(r, &v)) return DS_EWIRE;
    copy_name(name, sizeof name, s, len);
    if (ds_result_metric(out, name, v)) return DS_ENOMEM;
  }
  if (get_u32(r, &n)) return DS_EWIRE;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t step;
    double v;
    char name[32];
    if (get_u64(r, &step) || get_str(r, &s, &len) || get_f64(r, &v)) return DS_EWIRE;
    copy_name(name, sizeof name, s, len);
    if (ds_result_curve(out, (int64_t)step, name, v)) return DS_ENOMEM;
  }
  return 0;
}

int ds_wire_get_hello(ds_rbuf_t *r, char *host, size_t host_len, int32_t *gpu, char *backend, size_t backend_len) {
  const char *s;
  size_t len;
  uint32_t g;
  if (get_str(r, &s, &len)) return DS_EWIRE;
  copy_name(host, host_len, s, len);
  if (get_u32(r, &g)) return DS_EWIRE;
  *gpu = (int32_t)g;
  if (get_str(r, &s, &len)) return DS_EWIRE;
  copy_name(backend, backend_len, s, len);
  return 0;
}

/* ---- zero-copy result views (coordinator hot path) ------------------------------------ */

int ds_wire_next_metric(ds_rbuf_t *m, const char **name, size_t *name_len, double *value) {
  if (get_str(m, name, name_len) || get_f64(m, value)) return DS_EWIRE;
  if (*name_len > 63) *name_len = 63;
  return 0;
}

int ds_wire_next_curve(ds_rbuf_t *c, int64_t *step, const char **name, size_t *name_len, double *value) {
  uint64_t s;
  if (get_u64(c, &s) || get_str(c, name, name_len) || get_f64(c, value)) return DS_EWIRE;
  *step = (int64_t)s;
  if (*name_len > 31) *name_len = 31;
  return 0;
}

int ds_wire_get_result_view(ds_rbuf_t *r, ds_wire_result_view_t *v) {
  uint64_t idx;
  uint32_t status;
  if (get_u64(r, &idx) || get_u32(r, &v->attempt) || get_u32(r, &status) || get_f64(r, &v->wall_s) ||
      get_str(r, &v->error, &v->error_len))
    return DS_EWIRE;
  v->idx = (int64_t)idx;
  v->status = (int32_t)status;
  if (v->error_len > 255) v->error_len = 255;
  /* Walk (and so bounds-check) every metric and curve point once, remembering where they start. */
  if (get_u32(r, &v->n_metrics)) return DS_EWIRE;
  v->metrics = *r;
  const char *s;
  size_t len;
  double x;
  int64_t step;
  for (uint32_t i = 0; i < v->n_metrics; i++)
    if (ds_wire_next_metric(r, &s, &len, &x)) return DS_EWIRE;
  if (get_u32(r, &v->n_curve)) return DS_EWIRE;
  v->curve = *r;
  for (uint32_t i = 0; i < v->n_curve; i++)
    if (ds_wire_next_curve(r, &step, &s, &len, &x)) return DS_EWIRE;
  return 0;
}
