/* ds_buf.h — one small growable byte buffer, NUL-terminated.
 *
 * Out of memory is remembered (oom) and every later put is a no-op, so a caller checks once at
 * the end and never uses (runs, stores) a silently truncated text.
 */
#ifndef DS_BUF_H
#define DS_BUF_H
#include <stddef.h>

typedef struct ds_buf {
  char *data; /* NUL-terminated once anything was put; NULL while empty */
  size_t len, cap;
  int oom; /* an allocation failed: data holds a prefix only */
} ds_buf_t;

void ds_buf_put(ds_buf_t *b, const char *s, size_t n);
void ds_buf_puts(ds_buf_t *b, const char *s);
void ds_buf_free(ds_buf_t *b);

#endif
