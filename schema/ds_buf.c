/* ds_buf.c — the growable buffer of ds_buf.h (doubling from 1 KiB; oom sticky). */
#include <stdlib.h>
#include <string.h>

#include "ds_buf.h"

void ds_buf_put(ds_buf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 1024;
    while (c < b->len + n + 1) c *= 2;
    char *d = realloc(b->data, c);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = c;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}

void ds_buf_puts(ds_buf_t *b, const char *s) { ds_buf_put(b, s, strlen(s)); }

void ds_buf_free(ds_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}
