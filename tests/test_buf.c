/* test_buf.c — ds_buf (schema/ds_buf.h): content matches an independently built string across
 * many doublings, and a buffer marked out of memory ignores later puts (never grows a tail). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_buf.h"

static int fails;
#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #c); \
      fails++;                                                     \
    }                                                              \
  } while (0)

int main(void) {
  ds_buf_t b = {0};
  size_t n = 0, cap = 1 << 20;
  char *ref = malloc(cap);
  for (int i = 0; i < 20000; i++) {
    char piece[32];
    int k = snprintf(piece, sizeof piece, "%d,", i);
    ds_buf_puts(&b, piece);
    memcpy(ref + n, piece, (size_t)k);
    n += (size_t)k;
  }
  ref[n] = 0;
  CHECK(!b.oom);
  CHECK(b.len == n);
  CHECK(b.data && strcmp(b.data, ref) == 0);
  CHECK(b.cap > b.len);
  ds_buf_put(&b, "x\0y", 3); /* binary-safe: the NUL is kept, length counts it */
  CHECK(b.len == n + 3 && memcmp(b.data + n, "x\0y", 3) == 0);
  size_t before = b.len;
  b.oom = 1; /* as after a failed realloc */
  ds_buf_puts(&b, "tail");
  CHECK(b.len == before);
  ds_buf_free(&b);
  CHECK(!b.data && !b.len && !b.oom);
  free(ref);
  if (fails) return 1;
  puts("test_buf: ok");
  return 0;
}
