/* fuzz_wire.c — libFuzzer target: the wire decoder (what a worker or the coordinator does with a
 * message).  Every reader must stay inside the buffer; the copying and the zero-copy result
 * readers must agree on every record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ds_rbuf_t r, r2;
  if (ds_wire_open(&r, data, size)) return 0;
  r2 = r;
  ds_result_t res = {0};
  for (uint32_t i = 0; i < r.count && i < 4096; i++) {
    if (r.type == DS_MSG_TRIAL) {
      ds_wire_trial_t t;
      if (ds_wire_get_trial(&r, &t)) break;
      if (strlen(t.key) > 32 || t.params + t.params_len > (const char *)data + size) abort();
    } else if (r.type == DS_MSG_RESULT) {
      ds_wire_result_view_t v;
      int a = ds_wire_get_result(&r, &res), b = ds_wire_get_result_view(&r2, &v);
      if ((a == 0) != (b == 0)) abort();
      if (a) break;
      if (v.idx != res.idx || v.attempt != res.attempt || v.status != res.status || v.n_metrics < res.n_metrics) abort();
      const char *name;
      size_t len;
      double x;
      for (uint32_t k = 0; k < v.n_metrics; k++)
        if (ds_wire_next_metric(&v.metrics, &name, &len, &x) || len > 63) abort();
    } else if (r.type == DS_MSG_HELLO) {
      char host[64], backend[16];
      int32_t gpu;
      if (ds_wire_get_hello(&r, host, sizeof host, &gpu, backend, sizeof backend)) break;
    } else {
      break;
    }
  }
  ds_result_free(&res);
  return 0;
}
