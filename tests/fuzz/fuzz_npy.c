/* fuzz_npy.c — libFuzzer target: the .npy reader on hostile bytes.  Accepted arrays must have
 * the shape they claim (every element readable); rejected ones leave data NULL. */
#include <stdint.h>
#include <stdlib.h>

#include "ds_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ds_npy_t a;
  char err[256];
  if (ds_npy_parse(data, size, &a, err, sizeof err) != 0) {
    if (a.data != NULL) abort();
    return 0;
  }
  volatile float sum = 0;
  for (size_t i = 0; i < a.rows * a.cols; i++) sum += a.data[i];
  ds_npy_free(&a);
  return 0;
}
