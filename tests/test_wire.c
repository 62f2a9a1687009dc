/* test_wire.c — the wire format round-trips and rejects every truncation and corruption. */
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_test.h"
#include "ds_wire.h"

static void trials_round_trip(void) {
  ds_wbuf_t w = {0};
  ds_wire_begin(&w, DS_MSG_TRIAL);
  const char *params = "{\"beta\":0.1,\"seed\":3}";
  for (int i = 0; i < 3; i++) {
    ds_wire_trial_t t = {.idx = 1000000007LL * i, .attempt = (uint32_t)i + 1, .rng_seed = 0xfeedfacecafebeefULL,
                         .timeout_s = 2.5, .isolation = 1, .device = 2, .task = "rlvr", .task_len = 4,
                         .params = params, .params_len = strlen(params)};
    strcpy(t.key, "0123456789abcdef0123456789abcdef");
    ds_wire_put_trial(&w, &t);
  }
  ASSERT_EQ_INT(ds_wire_end(&w), 0);
  ds_rbuf_t r;
  ASSERT_EQ_INT(ds_wire_open(&r, w.data, w.len), 0);
  ASSERT_EQ_INT(r.type, DS_MSG_TRIAL);
  ASSERT_EQ_INT(r.count, 3);
  for (int i = 0; i < 3; i++) {
    ds_wire_trial_t t;
    ASSERT_EQ_INT(ds_wire_get_trial(&r, &t), 0);
    ASSERT_EQ_INT(t.idx, 1000000007LL * i);
    ASSERT_EQ_INT(t.attempt, i + 1);
    ASSERT_TRUE(t.rng_seed == 0xfeedfacecafebeefULL);
    ASSERT_NEAR(t.timeout_s, 2.5, 0);
    ASSERT_EQ_INT(t.isolation, 1);
    ASSERT_EQ_INT(t.device, 2);
    ASSERT_STREQ(t.key, "0123456789abcdef0123456789abcdef");
    ASSERT_TRUE(t.params_len == strlen(params) && !memcmp(t.params, params, t.params_len));
  }
  ASSERT_EQ_INT(r.pos, r.len);
  ds_wbuf_free(&w);
}

static void results_round_trip_with_metrics_and_curves(void) {
  ds_result_t a = {0}, b = {0};
  a.idx = 42;
  a.attempt = 2;
  a.status = DS_ETIMEOUT;
  a.wall_s = 1.25;
  strcpy(a.error, "timed out after 1 s");
  ds_result_metric(&a, "fkl", 0.125);
  ds_result_metric(&a, "pass_at_64", 0.9);
  ds_result_metric(&a, "fkl", 0.25); /* replaces */
  for (int s = 1; s <= 100; s *= 10) ds_result_curve(&a, s, "loss", 1.0 / s);
  ds_wbuf_t w = {0};
  ds_wire_begin(&w, DS_MSG_RESULT);
  ds_wire_put_result(&w, &a);
  ASSERT_EQ_INT(ds_wire_end(&w), 0);
  ds_rbuf_t r;
  ASSERT_EQ_INT(ds_wire_open(&r, w.data, w.len), 0);
  ASSERT_EQ_INT(ds_wire_get_result(&r, &b), 0);
  ASSERT_EQ_INT(b.idx, 42);
  ASSERT_EQ_INT(b.status, DS_ETIMEOUT);
  ASSERT_STREQ(b.error, "timed out after 1 s");
  ASSERT_EQ_INT(b.n_metrics, 2);
  ASSERT_STREQ(b.metrics[0].name, "fkl");
  ASSERT_NEAR(b.metrics[0].value, 0.25, 0);
  ASSERT_EQ_INT(b.n_curve, 3);
  ASSERT_EQ_INT(b.curve[2].step, 100);
  ASSERT_NEAR(b.curve[2].value, 0.01, 0);

  /* Every truncation is rejected, never read past the end. */
  for (size_t n = 0; n < w.len; n++) {
    uint8_t *cut = malloc(n ? n : 1);
    memcpy(cut, w.data, n);
    int rc = ds_wire_open(&r, cut, n);
    if (rc == 0) rc = ds_wire_get_result(&r, &b);
    ASSERT_EQ_INT(rc, DS_EWIRE);
    free(cut);
  }
  /* A wrong version or magic is refused. */
  w.data[4] = 99;
  ASSERT_EQ_INT(ds_wire_open(&r, w.data, w.len), DS_EWIRE);
  w.data[4] = DS_WIRE_VERSION;
  w.data[0] ^= 1;
  ASSERT_EQ_INT(ds_wire_open(&r, w.data, w.len), DS_EWIRE);
  /* A string length pointing past the end is refused. */
  w.data[0] ^= 1;
  w.data[12 + 8 + 4 + 4 + 8] = 0xff;
  ASSERT_EQ_INT(ds_wire_open(&r, w.data, w.len), 0);
  ASSERT_EQ_INT(ds_wire_get_result(&r, &b), DS_EWIRE);
  ds_wbuf_free(&w);
  ds_result_free(&a);
  ds_result_free(&b);
}

/* trial.device and the MPI tags are part of the contract between ranks: their numbers are fixed. */
static void device_codes_and_tags_are_fixed(void) {
  ASSERT_EQ_INT(ds_wire_device_code("auto"), 0);
  ASSERT_EQ_INT(ds_wire_device_code("cpu"), 1);
  ASSERT_EQ_INT(ds_wire_device_code("cuda"), 2);
  ASSERT_EQ_INT(ds_wire_device_code("gpu"), DS_WIRE_DEVICE_AUTO);
  ASSERT_EQ_INT(ds_wire_device_code(NULL), DS_WIRE_DEVICE_AUTO);
  ASSERT_STREQ(ds_wire_device_name(DS_WIRE_DEVICE_AUTO), "auto");
  ASSERT_STREQ(ds_wire_device_name(DS_WIRE_DEVICE_CPU), "cpu");
  ASSERT_STREQ(ds_wire_device_name(DS_WIRE_DEVICE_CUDA), "cuda");
  ASSERT_STREQ(ds_wire_device_name(3), "auto");
  ASSERT_STREQ(ds_wire_device_name(255), "auto");
  ASSERT_EQ_INT(DS_TAG_TRIAL, 11);
  ASSERT_EQ_INT(DS_TAG_RESULT, 12);
  ASSERT_EQ_INT(DS_TAG_HELLO, 13);
  ASSERT_EQ_INT(DS_TAG_STOP, 14);
}

int main(void) {
  RUN_TEST(trials_round_trip);
  RUN_TEST(device_codes_and_tags_are_fixed);
  RUN_TEST(results_round_trip_with_metrics_and_curves);
  return ds_test_exit();
}
