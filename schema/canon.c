/* canon.c — canonical JSON, shortest round-trip numbers, trial-key hashing (the
 * generator those keys seed is rand.c).
 *
 * Canonical JSON is what makes trial keys stable: object keys sorted bytewise, no whitespace,
 * numbers in the shortest form that parses back to the same double, strings escaped minimally.
 * Two specs that differ only in key order or number spelling ("1.0" vs "1") give the same keys.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "ds_spec.h"
#include "ds__schema.h"

int ds_fmt_double(char *buf, double x) {
  if (!isfinite(x)) return snprintf(buf, 32, "null"); /* JSON has no NaN/Inf */
  if (x == 0) return snprintf(buf, 32, "0");
  if (fabs(x) < 9007199254740992.0 && x == (double)(long long)x)
    return snprintf(buf, 32, "%lld", (long long)x);
  for (int prec = 15; prec <= 17; prec++) {
    int n = snprintf(buf, 32, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) return n;
  }
  return snprintf(buf, 32, "%.17g", x);
}

int ds__buf_reserve(ds__buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ds__buf_put(ds__buf_t *b, const char *s, size_t n) {
  if (ds__buf_reserve(b, n)) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

int ds__buf_puts(ds__buf_t *b, const char *s) { return ds__buf_put(b, s, strlen(s)); }

int ds__buf_json_string(ds__buf_t *b, const char *s) {
  if (ds__buf_put(b, "\"", 1)) return -1;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    const char *e = NULL;
    switch (*p) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\n': e = "\\n"; break;
    case '\r': e = "\\r"; break;
    case '\t': e = "\\t"; break;
    case '\b': e = "\\b"; break;
    case '\f': e = "\\f"; break;
    default:
      if (*p < 0x20) {
        snprintf(esc, sizeof esc, "\\u%04x", *p);
        e = esc;
      }
    }
    if (e ? ds__buf_puts(b, e) : ds__buf_put(b, (const char *)p, 1)) return -1;
  }
  return ds__buf_put(b, "\"", 1);
}

static int cmp_items(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
  return strcmp(x->string, y->string);
}

int ds__buf_canonical(ds__buf_t *b, const cJSON *v) {
  char num[32];
  if (cJSON_IsNull(v)) return ds__buf_puts(b, "null");
  if (cJSON_IsTrue(v)) return ds__buf_puts(b, "true");
  if (cJSON_IsFalse(v)) return ds__buf_puts(b, "false");
  if (cJSON_IsNumber(v)) {
    int n = ds_fmt_double(num, v->valuedouble);
    return ds__buf_put(b, num, (size_t)n);
  }
  if (cJSON_IsString(v)) return ds__buf_json_string(b, v->valuestring);
  if (cJSON_IsArray(v)) {
    if (ds__buf_put(b, "[", 1)) return -1;
    int first = 1;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (!first && ds__buf_put(b, ",", 1)) return -1;
      first = 0;
      if (ds__buf_canonical(b, c)) return -1;
    }
    return ds__buf_put(b, "]", 1);
  }
  if (cJSON_IsObject(v)) {
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next) n++;
    const cJSON **items = n ? malloc(n * sizeof *items) : NULL;
    if (n && !items) return -1;
    n = 0;
    for (const cJSON *c = v->child; c; c = c->next) items[n++] = c;
    if (n > 1) qsort(items, n, sizeof *items, cmp_items); /* items is NULL for {} (found by fuzz_spec) */
    int rc = ds__buf_put(b, "{", 1);
    for (size_t i = 0; i < n && !rc; i++) {
      if (i) rc = ds__buf_put(b, ",", 1);
      if (!rc) rc = ds__buf_json_string(b, items[i]->string);
      if (!rc) rc = ds__buf_put(b, ":", 1);
      if (!rc) rc = ds__buf_canonical(b, items[i]);
    }
    free(items);
    return rc ? -1 : ds__buf_put(b, "}", 1);
  }
  return ds__buf_puts(b, "null");
}

char *ds_json_canonical(const cJSON *v) {
  ds__buf_t b = {0};
  if (ds__buf_canonical(&b, v)) {
    free(b.data);
    return NULL;
  }
  if (!b.data) return strdup("null");
  return b.data;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

void ds_hash128_hex(const void *a, size_t alen, const void *b, size_t blen, char out[DS_KEY_LEN + 1]) {
  /* Two FNV-1a streams with different offset bases, separated by a 0xff byte (never in UTF-8),
   * then avalanche-mixed: collisions need both 64-bit halves to collide. */
  static const unsigned char sep = 0xff;
  uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL ^ 0x9e3779b97f4a7c15ULL;
  h1 = fnv1a(fnv1a(fnv1a(h1, a, alen), &sep, 1), b, blen);
  h2 = fnv1a(fnv1a(fnv1a(h2, b, blen), &sep, 1), a, alen);
  h1 = ds_mix64(h1 ^ (alen + blen));
  h2 = ds_mix64(h2 + 0x9e3779b97f4a7c15ULL * (blen + 1));
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[i] = hex[(h1 >> (60 - 4 * i)) & 15];
    out[16 + i] = hex[(h2 >> (60 - 4 * i)) & 15];
  }
  out[DS_KEY_LEN] = 0;
}

static void to_hex(const uint8_t bin[DS_KEY_BYTES], char out[DS_KEY_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < DS_KEY_BYTES; i++) {
    out[2 * i] = hex[bin[i] >> 4];
    out[2 * i + 1] = hex[bin[i] & 15];
  }
  out[DS_KEY_LEN] = 0;
}

static int from_hex(const char *hex, uint8_t bin[DS_KEY_BYTES]) {
  for (int i = 0; i < DS_KEY_LEN; i++) {
    char c = hex[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return -1;
    if (i & 1) bin[i / 2] = (uint8_t)(bin[i / 2] | v);
    else bin[i / 2] = (uint8_t)(v << 4);
  }
  return 0;
}

void ds_key_compute(int scheme, const char *task, const char *params, size_t params_len, ds_key_t *key) {
  if (scheme == DS_KEYS_FNV) {
    /* Schema-2 campaigns: the hex text is the key, as those databases hold it. */
    ds_hash128_hex(task, strlen(task), params, params_len, key->hex);
    from_hex(key->hex, key->bin);
    key->rng_seed = ds_key_seed(key->hex);
    return;
  }
  /* XXH3-128 of the canonical parameters, seeded by the task name's XXH3-64, so that two tasks
   * never share a key for the same parameters.  Canonical (big-endian) byte order, so that the
   * BLOB's order, its hex text and the hash's own canonical form all agree. */
  XXH128_hash_t h = XXH3_128bits_withSeed(params, params_len, XXH3_64bits(task, strlen(task)));
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, h);
  memcpy(key->bin, canon.digest, DS_KEY_BYTES);
  to_hex(key->bin, key->hex);
  key->rng_seed = h.low64;
}

void ds_key_hash_hex(const char *task, const char *text, size_t len, char out[DS_KEY_LEN + 1]) {
  ds_key_t k;
  ds_key_compute(DS_KEYS_XXH3, task, text, len, &k);
  memcpy(out, k.hex, DS_KEY_LEN + 1);
}


uint64_t ds_key_seed(const char *key) { return ds_mix64(fnv1a(0xcbf29ce484222325ULL, key, strlen(key))); }
