/* ds_wire.h — the wire format of messages between coordinator and workers (version 2).
 *
 * Every message is a byte buffer: a header (magic "DSW1" as u32 0x31575344, u8 version, u8 type,
 * u16 zero, u32 count) followed by `count` records of its type.  All integers and doubles are
 * little-endian; strings are u32 length + bytes (no NUL).  No raw structs cross the wire, so ranks
 * built by different compilers interoperate, and a reader rejects anything malformed (DS_EWIRE)
 * rather than trusting lengths.
 *
 *   TRIAL  (coordinator → worker): i64 idx, u32 attempt, u64 rng_seed, f64 timeout_s,
 *          u8 isolation (0 thread, 1 process), u8 device (0 auto, 1 cpu, 2 cuda),
 *          u8 backend (0 auto, 1 ref, 2 cpu, 3 cuda), u32 threads (0 = the rank's default), str key,
 *          str task, str params_json, f64 kill_grace_s, str run_dir (exec trials: the absolute
 *          directory that holds one directory per trial key; empty for built-in tasks),
 *          str objectives (exec trials: the objective names, comma-separated, that the program
 *          must report; empty for built-in tasks)
 *   RESULT (worker → coordinator): i64 idx, u32 attempt, i32 status (0 or DS_E*), f64 wall_s,
 *          str error, u32 n, n × (str name, f64 value), u32 m, m × (i64 step, str name, f64 value)
 *   HELLO  (worker → coordinator, once, before any RESULT): str host, i32 gpu (−1 none),
 *          str backend.  The coordinator receives it and drops it (rank 0 gathers the same facts
 *          with MPI_Gather in main.c).
 *   STOP   in both directions, no records.  Coordinator → worker: drop queued trials, flush the
 *          results already computed, and leave the loop.  Worker → coordinator (the goodbye): the
 *          last message a worker sends, after its last RESULT (MPI keeps one rank's messages in
 *          order), so the coordinator knows that no RESULT from that rank follows.
 *
 * Each message type travels under its own MPI tag (DS_TAG_*); the in-process transport carries
 * the same buffers and reads the type from the header instead.
 */
#ifndef DS_WIRE_H
#define DS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DS_WIRE_MAGIC 0x31575344u
#define DS_WIRE_VERSION 2

typedef enum { DS_MSG_TRIAL = 1, DS_MSG_RESULT = 2, DS_MSG_HELLO = 3, DS_MSG_STOP = 4 } ds_msg_type_t;

/* The MPI tag of each message type (coordinator and workers alike; nothing else defines them). */
enum { DS_TAG_TRIAL = 11, DS_TAG_RESULT = 12, DS_TAG_HELLO = 13, DS_TAG_STOP = 14 };

/* trial.device on the wire (the TRIAL record's u8 device).  ds_wire_device_code maps "auto"/"cpu"/
 * "cuda" (anything else: auto); ds_wire_device_name maps back ("auto" for an unknown code). */
typedef enum { DS_WIRE_DEVICE_AUTO = 0, DS_WIRE_DEVICE_CPU = 1, DS_WIRE_DEVICE_CUDA = 2 } ds_wire_device_t;
uint8_t ds_wire_device_code(const char *name);
const char *ds_wire_device_name(uint8_t code);

typedef struct ds_metric {
  char name[64];
  double value;
} ds_metric_t;

typedef struct ds_curve_pt {
  int64_t step;
  char name[32];
  double value;
} ds_curve_pt_t;

/* A trial's outcome.  Arrays are owned by the struct; reuse it across trials with
 * ds_result_reset() and release with ds_result_free(). */
typedef struct ds_result {
  int64_t idx;
  uint32_t attempt;
  int32_t status;          /* 0 or a DS_E* code */
  double wall_s;
  char error[256];
  ds_metric_t *metrics;
  size_t n_metrics, cap_metrics;
  ds_curve_pt_t *curve;
  size_t n_curve, cap_curve;
} ds_result_t;

void ds_result_reset(ds_result_t *r);
void ds_result_free(ds_result_t *r);
/* Adds or replaces metric `name`.  DS_ENOMEM on allocation failure. */
int ds_result_metric(ds_result_t *r, const char *name, double value);
int ds_result_curve(ds_result_t *r, int64_t step, const char *name, double value);

typedef struct ds_wire_trial {
  int64_t idx;
  uint32_t attempt;
  uint64_t rng_seed;
  double timeout_s;
  uint8_t isolation;
  uint8_t device;     /* ds_wire_device_t (trial.device) */
  uint8_t backend;    /* DS_WIRE_BACKEND_* (trial.backend) */
  uint32_t threads;   /* trial.threads; 0 = the rank's default */
  char key[33];
  const char *task;   size_t task_len;    /* point into the message buffer */
  const char *params; size_t params_len;
  double kill_grace_s;
  const char *run_dir; size_t run_dir_len;   /* NULL/0 for built-in tasks */
  const char *objectives; size_t objectives_len; /* "a,b"; NULL/0 for built-in tasks */
} ds_wire_trial_t;

/* trial.backend on the wire.  ds_wire_backend_code maps "auto"/"ref"/"cpu"/"cuda" (anything else:
 * auto); ds_wire_backend_name maps back ("auto" for an unknown code). */
enum { DS_WIRE_BACKEND_AUTO = 0, DS_WIRE_BACKEND_REF, DS_WIRE_BACKEND_CPU, DS_WIRE_BACKEND_CUDA };
uint8_t ds_wire_backend_code(const char *name);
const char *ds_wire_backend_name(uint8_t code);

/* A message being written.  Zero-initialise, then ds_wire_begin(). */
typedef struct ds_wbuf {
  uint8_t *data;
  size_t len, cap;
  size_t count_at;
  uint32_t count;
  int oom;
} ds_wbuf_t;

void ds_wire_begin(ds_wbuf_t *w, ds_msg_type_t type);
void ds_wire_put_trial(ds_wbuf_t *w, const ds_wire_trial_t *t);
void ds_wire_put_result(ds_wbuf_t *w, const ds_result_t *r);
void ds_wire_put_hello(ds_wbuf_t *w, const char *host, int32_t gpu, const char *backend);
/* Finishes the header; returns 0 or DS_ENOMEM if any put ran out of memory. */
int ds_wire_end(ds_wbuf_t *w);
void ds_wbuf_free(ds_wbuf_t *w);

/* A message being read.  The reader never reads past len. */
typedef struct ds_rbuf {
  const uint8_t *data;
  size_t len, pos;
  ds_msg_type_t type;
  uint32_t count;
} ds_rbuf_t;

/* Checks the header.  Returns 0 or DS_EWIRE. */
int ds_wire_open(ds_rbuf_t *r, const void *data, size_t len);
int ds_wire_get_trial(ds_rbuf_t *r, ds_wire_trial_t *t);
int ds_wire_get_result(ds_rbuf_t *r, ds_result_t *out);
int ds_wire_get_hello(ds_rbuf_t *r, char *host, size_t host_len, int32_t *gpu, char *backend, size_t backend_len);

/* A RESULT record read in place, without copying (the coordinator's hot path): strings point into
 * the message buffer and are not NUL-terminated, so the view lives as long as that buffer.
 * ds_wire_get_result_view() checks the whole record (every length against the buffer) and advances
 * r past it; the metrics and curve cursors can then be walked with ds_wire_next_metric() and
 * ds_wire_next_curve(), which cannot fail on a record that passed the check. */
typedef struct ds_wire_result_view {
  int64_t idx;
  uint32_t attempt;
  int32_t status;
  double wall_s;
  const char *error;
  size_t error_len;      /* at most 255 (longer messages are cut, as ds_wire_get_result does) */
  uint32_t n_metrics, n_curve;
  ds_rbuf_t metrics;     /* cursor at the first metric */
  ds_rbuf_t curve;       /* cursor at the first curve point */
} ds_wire_result_view_t;

int ds_wire_get_result_view(ds_rbuf_t *r, ds_wire_result_view_t *v);
/* Next metric: name (at most 63 bytes, as ds_result_metric keeps) and value.  DS_EWIRE at the end. */
int ds_wire_next_metric(ds_rbuf_t *m, const char **name, size_t *name_len, double *value);
int ds_wire_next_curve(ds_rbuf_t *c, int64_t *step, const char **name, size_t *name_len, double *value);

#endif /* DS_WIRE_H */
