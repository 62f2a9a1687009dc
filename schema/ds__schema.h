/* ds__schema.h — internals shared inside schema/ (not for other directories). */
#ifndef DS__SCHEMA_H
#define DS__SCHEMA_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* A growable NUL-terminated byte buffer.  Zero-initialise; free data when done. */
typedef struct ds__buf {
  char *data;
  size_t len, cap;
} ds__buf_t;

int ds__buf_reserve(ds__buf_t *b, size_t extra);
int ds__buf_put(ds__buf_t *b, const char *s, size_t n);
int ds__buf_puts(ds__buf_t *b, const char *s);
int ds__buf_json_string(ds__buf_t *b, const char *s);
int ds__buf_canonical(ds__buf_t *b, const cJSON *v);

#endif
