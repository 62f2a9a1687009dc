/* cpu_generic.c — portable mapping of the CPU fast path, used where neither AVX2 nor AVX-512 is
 * available.  Four fp32 lanes through GCC/Clang vector extensions (no ISA flags: SSE2 on x86-64,
 * NEON on AArch64, scalarised elsewhere), written without fmaf (a libm call where the target has
 * no FMA — the old one-lane version spent most of its time there) and without per-lane branches.
 * Same exp/log polynomials as the AVX2 unit (Cephes, Cody–Waite split exact without FMA), so every
 * ISA gives results within a few ulps of each other; the kernel body is cpu_impl.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "ds__cpu.h"

typedef float vf __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
#define VW 4
#define ISA_NAME "cpu-generic"
#define ISA_SYM ds__cpu_isa_generic

static inline vf vset(float x) { return (vf){x, x, x, x}; }
static inline vi vseti(int32_t x) { return (vi){x, x, x, x}; }
static inline vf vld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void vst(float *p, vf x) { memcpy(p, &x, sizeof x); }
static inline vf vld_tail(const float *p, size_t n, float fill) {
  vf v = vset(fill);
  memcpy(&v, p, n * sizeof(float));
  return v;
}
static inline void vst_tail(float *p, vf x, size_t n) { memcpy(p, &x, n * sizeof(float)); }
/* m ? x : y per lane (m is all-ones or zero per lane, as comparisons give). */
static inline vf vsel(vi m, vf x, vf y) { return (vf)((m & (vi)x) | (~m & (vi)y)); }
static inline vf vadd(vf a, vf b) { return a + b; }
static inline vf vsub(vf a, vf b) { return a - b; }
static inline vf vmul(vf a, vf b) { return a * b; }
static inline vf vdiv(vf a, vf b) { return a / b; }
static inline vf vmax(vf a, vf b) { return vsel(a > b, a, b); } /* NaN → b, as maxps */
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vkeep(vf x, size_t n) { return vsel((vi){0, 1, 2, 3} < vseti((int32_t)n), x, vset(0)); }
static inline vf vsel_gt(vf a, vf b, vf x, vf y) { return vsel(a > b, x, y); }
static inline double vsum(vf x) { return ((double)x[0] + x[1]) + ((double)x[2] + x[3]); }
static inline float vhmax(vf x) {
  vf m = vmax(x, (vf){x[2], x[3], x[0], x[1]});
  return m[0] > m[1] ? m[0] : m[1];
}
static inline vf vabs(vf x) { return (vf)((vi)x & vseti(0x7fffffff)); }
/* 1, −1 or 0 by the sign of x (0 for NaN): ±1 with x's sign bit, kept where x ≠ 0. */
static inline vf vsign(vf x) {
  return (vf)(((x > vset(0)) | (x < vset(0))) & (((vi)x & vseti(INT32_MIN)) | (vi)vset(1)));
}
/* Inclusive prefix sum over the lanes, x_0 + … + x_i in lane i: pair sums, then the first
 * pair's total added to the second pair (cheaper shuffles than shifting by one lane: 18%
 * faster w1 scans on SSE2). */
static inline vf vscan(vf x) {
  x = x + (vf){0, x[0], 0, x[2]};
  return x + (vf){0, 0, x[1], x[1]};
}
static inline vf vlast(vf x) { return vset(x[3]); }
static inline float vfirst(vf x) { return x[0]; }

static inline vf vexp(vf x0) {
  vf x = vsel(x0 > vset(88.0f), vset(88.0f), x0);
  x = vsel(x < vset(-87.3365447505531f), vset(-87.3365447505531f), x);
  /* round(x·log2 e) by the 1.5·2^23 shifter (|x·log2 e| < 2^22). */
  const vf sh = vset(0x1.8p23f);
  vf n = (x * vset(1.44269504088896341f) + sh) - sh;
  vf r = x - n * vset(0.693359375f); /* exact: the constant has 9 significant bits */
  r = r + n * vset(2.12194440e-4f);
  vf p = vset(1.9875691500e-4f);
  p = p * r + vset(1.3981999507e-3f);
  p = p * r + vset(8.3334519073e-3f);
  p = p * r + vset(4.1665795894e-2f);
  p = p * r + vset(1.6666665459e-1f);
  p = p * r + vset(5.0000001201e-1f);
  vf y = p * r * r + (r + vset(1.0f));
  vi e = (__builtin_convertvector(n, vi) + vseti(127)) << 23; /* n ∈ [−126, 127] */
  y = y * (vf)e;
  y = vsel(x0 < vset(-87.3365447505531f), vset(0), y);
  y = vsel(x0 > vset(88.0f), vset(INFINITY), y);
  return vsel(x0 != x0, x0, y); /* NaN in, NaN out */
}

/* e^x − 1, ≈ 1e-7 relative for every finite x, near 0 included (the ab row's differences of
 * nearly equal powers): x = n·ln 2 + b (n by the 1.5·2^23 shifter, b by the two-step Cody–Waite
 * split), e^b − 1 = P(b) = b + b²·p(b), p of degree 4 fitted for the relative error of P (1.7e-8
 * on |b| ≤ ln 2/2 before rounding; Estrin order), then 2^n·P(b) + (2^n − 1), one rounding:
 * exact in b for n = 0 (b = x), free of cancellation for n ≠ 0
 * (|x| > ln 2/2, where |e^x − 1| > 0.29).  Below −88 and at −inf it gives −1 (2^n = 0), above 88
 * inf; NaN propagates through the arithmetic.  The same operations in every unit. */
static inline vf vexpm1(vf x0) {
  vf x = vsel(x0 > vset(88.0f), vset(88.0f), x0);
  x = vsel(x < vset(-88.0f), vset(-88.0f), x);
  const vf sh = vset(0x1.8p23f);
  const vf z = x * vset(1.44269504088896341f) + sh, n = z - sh;
  vf b = x - n * vset(0.693359375f); /* exact: the constant has 9 significant bits */
  b = b + n * vset(2.12194440e-4f);
  const vf u = b * b;
  const vf p = (vset(1.38825527e-3f) * u + (vset(8.36652052e-3f) * b + vset(4.16672006e-2f))) * u +
               (vset(1.66665435e-1f) * b + vset(0.49999997f));
  /* n ∈ [−127, 127] in z's low bits: 2^n from the exponent field (2^−127 comes out as 0). */
  const vf k = (vf)(((vi)z << 23) + (vi)vset(1.0f));
  const vf y = k * (u * p + b) + (k - vset(1.0f)); /* k·(…) is exact */
  return vsel(x0 > vset(88.0f), vset(INFINITY), y);
}

static inline vf vlog(vf x0) {
  vi den = x0 < vset(1.17549435e-38f);
  vf x = vsel(den, x0 * vset(8388608.0f), x0);
  vi xi = (vi)x;
  vf e = __builtin_convertvector((xi >> 23) - vseti(126), vf);
  e = vsel(den, e - vset(23.0f), e);
  vf m = (vf)((xi & vseti(0x007fffff)) | vseti(0x3f000000));
  vi small = m < vset(0.707106781186547524f);
  e = vsel(small, e - vset(1.0f), e);
  m = vsel(small, m + m, m) - vset(1.0f);
  vf z = m * m, y = vset(7.0376836292e-2f);
  y = y * m + vset(-1.1514610310e-1f);
  y = y * m + vset(1.1676998740e-1f);
  y = y * m + vset(-1.2420140846e-1f);
  y = y * m + vset(1.4249322787e-1f);
  y = y * m + vset(-1.6668057665e-1f);
  y = y * m + vset(2.0000714765e-1f);
  y = y * m + vset(-2.4999993993e-1f);
  y = y * m + vset(3.3333331174e-1f);
  y = y * m * z;
  y = y + e * vset(-2.12194440e-4f);
  y = y - z * vset(0.5f);
  vf res = e * vset(0.693359375f) + (m + y);
  res = vsel(x0 == vset(0), vset(-INFINITY), res);
  res = vsel(~(x0 >= vset(0)), vset(NAN), res);
  return vsel(x0 == vset(INFINITY), vset(INFINITY), res);
}

/* log for x ≥ 0 finite: this unit uses its general vlog. */
#define vlogp vlog

#include "cpu_impl.h"
