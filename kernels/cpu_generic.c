/* cpu_generic.c — portable scalar mapping of the CPU fast path (one lane; no ISA flags), used
 * where neither AVX2 nor AVX-512 is available.  Same exp/log polynomials as the SIMD units, so
 * every ISA gives results within a few ulps of each other; the kernel body is cpu_impl.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ds__cpu.h"

typedef float vf;
#define VW 1
#define ISA_NAME "cpu-generic"
#define ISA_SYM ds__cpu_isa_generic

static inline vf vset(float x) { return x; }
static inline vf vld(const float *p) { return *p; }
static inline void vst(float *p, vf x) { *p = x; }
static inline vf vld_tail(const float *p, size_t n, float fill) { return n ? *p : fill; }
static inline void vst_tail(float *p, vf x, size_t n) { if (n) *p = x; }
static inline vf vadd(vf a, vf b) { return a + b; }
static inline vf vsub(vf a, vf b) { return a - b; }
static inline vf vmul(vf a, vf b) { return a * b; }
static inline vf vdiv(vf a, vf b) { return a / b; }
static inline vf vmax(vf a, vf b) { return a > b ? a : b; }
static inline vf vfma(vf a, vf b, vf c) { return fmaf(a, b, c); }
static inline vf vkeep(vf x, size_t n) { return n ? x : 0.0f; }
static inline vf vsel_gt(vf a, vf b, vf x, vf y) { return a > b ? x : y; }
static inline double vsum(vf x) { return x; }
static inline float vhmax(vf x) { return x; }

static inline vf vexp(vf x0) {
  if (x0 != x0) return x0;
  if (x0 < -87.3365447505531f) return 0.0f;
  if (x0 > 88.0f) return INFINITY;
  float n = nearbyintf(x0 * 1.44269504088896341f);
  float r = fmaf(-n, 0.693359375f, x0);
  r = fmaf(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  float y = fmaf(p * r, r, r + 1.0f);
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
  float sc;
  memcpy(&sc, &bits, sizeof sc);
  return y * sc;
}

static inline vf vlog(vf x) {
  if (x != x || x < 0) return NAN;
  if (x == 0) return -INFINITY;
  if (x == INFINITY) return INFINITY;
  int ei;
  float m = frexpf(x, &ei), e = (float)ei;
  if (m < 0.707106781186547524f) { e -= 1; m = m + m; }
  m -= 1;
  float z = m * m, y = 7.0376836292e-2f;
  y = fmaf(y, m, -1.1514610310e-1f);
  y = fmaf(y, m, 1.1676998740e-1f);
  y = fmaf(y, m, -1.2420140846e-1f);
  y = fmaf(y, m, 1.4249322787e-1f);
  y = fmaf(y, m, -1.6668057665e-1f);
  y = fmaf(y, m, 2.0000714765e-1f);
  y = fmaf(y, m, -2.4999993993e-1f);
  y = fmaf(y, m, 3.3333331174e-1f);
  y = y * m * z;
  y = fmaf(e, -2.12194440e-4f, y);
  y = fmaf(z, -0.5f, y);
  return fmaf(e, 0.693359375f, m + y);
}

/* log for x ≥ 0 finite: this unit uses its general vlog. */
#define vlogp vlog

#include "cpu_impl.h"
