/* fuzz_spec.c — libFuzzer target: the spec parser and the first trials of whatever it accepts.
 * Any input must give 0 or a one-line error, never a crash, a leak or a read out of bounds; an
 * accepted spec must expand (first and last trials) with canonical params and a key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ds_spec_t *s = NULL;
  char err[512];
  if (ds_spec_parse((const char *)data, size, "fuzz.json", NULL, &s, err, sizeof err) != 0) {
    if (s != NULL || memchr(err, 0, sizeof err) == NULL) abort(); /* *out NULL, err terminated */
    return 0;
  }
  ds_trial_t t = {0};
  int64_t n = s->n_trials;
  int64_t idx[4] = {0, 1, n / 2, n - 1};
  for (int i = 0; i < 4; i++) {
    if (idx[i] < 0 || idx[i] >= n) continue;
    if (ds_spec_trial(s, idx[i], &t) == 0 && (strlen(t.key) != DS_KEY_LEN || t.params_json[0] != '{')) abort();
  }
  ds_trial_free(&t);
  char diff[256];
  ds_spec_diff(s, s, diff, sizeof diff);
  ds_spec_free(s);
  return 0;
}
