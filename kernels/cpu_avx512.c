/* cpu_avx512.c — AVX-512F mapping of the CPU fast path (compiled with -mavx512f -mavx512dq
 * -mfma); the kernel body is cpu_impl.h.  Only called when the CPU reports avx512f.
 * vexp: Cephes range reduction x = n·ln2 + r, degree-6 polynomial, 2^n by vscalefps (overflow to
 * inf; results below FLT_MIN flush to 0 as on the other ISAs); vlog: getexp/getmant + Cephes logf polynomial;
 * vexpm1: the AVX2 and generic units' form.  All ≈ 1e-7 relative (tested against
 * libm in test_kernels). */
#include <immintrin.h>
#include <math.h>
#include "ds__cpu.h"

typedef __m512 vf;
#define VW 16
#define ISA_NAME "cpu-avx512"
#define ISA_SYM ds__cpu_isa_avx512

static inline vf vset(float x) { return _mm512_set1_ps(x); }
static inline vf vld(const float *p) { return _mm512_loadu_ps(p); }
static inline void vst(float *p, vf x) { _mm512_storeu_ps(p, x); }
static inline __mmask16 tmask(size_t n) { return (__mmask16)((1u << n) - 1u); }
static inline vf vld_tail(const float *p, size_t n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tmask(n), p);
}
static inline void vst_tail(float *p, vf x, size_t n) { _mm512_mask_storeu_ps(p, tmask(n), x); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vkeep(vf x, size_t n) { return _mm512_maskz_mov_ps(tmask(n), x); }
static inline vf vsel_gt(vf a, vf b, vf x, vf y) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x);
}
static inline double vsum(vf x) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
  __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}
static inline float vhmax(vf x) { return _mm512_reduce_max_ps(x); }
static inline vf vabs(vf x) { return _mm512_abs_ps(x); }
/* 1, −1 or 0 by the sign of x (0 for NaN): ±1 with x's sign bit, kept where x ≠ 0. */
static inline vf vsign(vf x) {
  const __mmask16 nz = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_OQ);
  return _mm512_maskz_mov_ps(nz, _mm512_or_ps(_mm512_and_ps(x, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f)));
}
/* Inclusive prefix sum over the lanes, x_0 + … + x_i in lane i: two steps within each 128-bit
 * quarter (vpermilps with zeroing, one cycle each), then the quarters' totals carried across by
 * two zeroing vpermps (lane 3 into quarter 1, lanes 3 and 7 into quarters 2 and 3): four
 * shuffle+add steps as a plain log-step scan, but half of them in-lane. */
static inline vf vscan(vf x) {
  x = _mm512_add_ps(x, _mm512_maskz_permute_ps(0xeeee, x, _MM_SHUFFLE(2, 1, 0, 0)));
  x = _mm512_add_ps(x, _mm512_maskz_permute_ps(0xcccc, x, _MM_SHUFFLE(1, 0, 0, 0)));
  x = _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(
                           0xfff0, _mm512_setr_epi32(0, 0, 0, 0, 3, 3, 3, 3, 7, 7, 7, 7, 11, 11, 11, 11), x));
  return _mm512_add_ps(x, _mm512_maskz_permutexvar_ps(
                              0xff00, _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 7, 7, 7, 7), x));
}
static inline vf vlast(vf x) { return _mm512_permutexvar_ps(_mm512_set1_epi32(15), x); }
static inline float vfirst(vf x) { return _mm512_cvtss_f32(x); }

static inline vf vexp(vf x) {
  /* ggml_v_expf's scheme: n = round(x·log2 e) by the 1.5·2^23 shifter, two-step Cody–Waite
   * r = x − n·ln 2, an Estrin-evaluated minimax polynomial (≈ 1.5 ulp), then 2^n by vscalefps.
   * x > 88.72 clamps to inf as before; x below −87.34 (FLT_MIN) flushes to 0, −inf included,
   * as in the AVX2 and generic units (same answers on every ISA); NaN stays NaN. */
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447505531f), _CMP_NLT_UQ);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.8f));
  const vf sh = _mm512_set1_ps(0x1.8p23f);
  const vf z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), sh);
  const vf n = _mm512_sub_ps(z, sh);
  const vf b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const vf u = _mm512_mul_ps(b, b);
  const vf j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_scalef_ps(keep, j, n);
}

/* vexp for x ≤ 0, −inf or NaN (stats pass: x − running max): no upper clamp. */
#define HAVE_VEXPN 1
static inline vf vexpn(vf x) {
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3365447505531f), _CMP_NLT_UQ);
  const vf sh = _mm512_set1_ps(0x1.8p23f);
  const vf z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), sh);
  const vf n = _mm512_sub_ps(z, sh);
  /* One-step reduction: |n| ≤ 126 where it matters, and fp32 ln 2 is 1.9e-9 off, so
   * e^(n·1.9e-9) − 1 ≤ 2.4e-7 at n = −126 (results ~1e-38) and < 2e-8 for n ≥ −10. */
  const vf b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e430p-1f), x);
  const vf u = _mm512_mul_ps(b, b);
  const vf j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_scalef_ps(keep, j, n);
}

/* e^x − 1, ≈ 1e-7 relative for every finite x, near 0 included (the ab row's differences of
 * nearly equal powers): x = n·ln 2 + b (n by the 1.5·2^23 shifter, b by the two-step Cody–Waite
 * split), e^b − 1 = P(b) = b + b²·p(b), p of degree 4 fitted for the relative error of P (1.7e-8
 * on |b| ≤ ln 2/2 before rounding; Estrin order), then 2^n·P(b) + (2^n − 1), one rounding:
 * exact in b for n = 0 (b = x), free of cancellation for n ≠ 0
 * (|x| > ln 2/2, where |e^x − 1| > 0.29).  Below −88 and at −inf it gives −1 (2^n = 0), above 88
 * inf; NaN propagates through the arithmetic.  The same operations in every unit. */
static inline vf vexpm1(vf x0) {
  const vf x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-88.0f), x0));
  const vf sh = _mm512_set1_ps(0x1.8p23f);
  const vf z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), sh);
  const vf n = _mm512_sub_ps(z, sh);
  const vf b = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x));
  const vf u = _mm512_mul_ps(b, b);
  const vf p = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_set1_ps(1.38825527e-3f), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(8.36652052e-3f), b, _mm512_set1_ps(4.16672006e-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(1.66665435e-1f), b, _mm512_set1_ps(0.49999997f)));
  const vf one = _mm512_set1_ps(1.0f);
  /* n ∈ [−127, 127] in z's low bits: 2^n from the exponent field (2^−127 comes out as 0). */
  const vf k = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(_mm512_castps_si512(z), 23),
                                                    _mm512_castps_si512(one)));
  const vf y = _mm512_fmadd_ps(k, _mm512_fmadd_ps(u, p, b), _mm512_sub_ps(k, one));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x0, _mm512_set1_ps(88.0f), _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
}

/* log for x ≥ 0 known finite (a mixture βp + (1−β)q), the fast path's one log per element.
 * Range reduction on the bits (as the AVX2 vlogp, exact): subtracting the bits of √½ makes the
 * exponent field e = round(log2 x) and m = x·2^−e ∈ [√½, √2) (Cephes' interval), so log 1 = 0
 * exactly; then log(1+f) = f − f²/2 + f³·P(f), P a degree-6 Chebyshev fit (mpmath chebyfit of
 * (log1p(f) − f + f²/2)/f³ on [√½−1, √2−1]: 8e-8 absolute before fp32 rounding, against 2 fewer
 * terms than Cephes' degree 8), and e·ln 2 with fp32 ln 2 in one FMA (1.9e-9 off: ≤ 6e-8 for
 * the |e| ≤ 30 of any m that carries weight, under the polynomial's error; jsd −3 %).  Zero and denormal x give a finite
 * value near −88..−104 instead of −inf or their log: every caller multiplies log m by a
 * probability ≤ m/β or masks on p > 0, q > 0, m > 0, so those lanes contribute ~1e-38·100 at
 * most, as the exact value would. */
#define HAVE_VLOGP_FINITE 1
static inline vf vlogp(vf x) {
  const __m512i xi = _mm512_castps_si512(x);
  const __m512i ei = _mm512_srai_epi32(_mm512_sub_epi32(xi, _mm512_set1_epi32(0x3f3504f3)), 23);
  const vf e = _mm512_cvtepi32_ps(ei);
  const vf f = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_sub_epi32(xi, _mm512_slli_epi32(ei, 23))),
                             _mm512_set1_ps(1.0f));
  const vf z = _mm512_mul_ps(f, f), z2 = _mm512_mul_ps(z, z);
  const vf b0 = _mm512_fmadd_ps(_mm512_set1_ps(-0.25000702550677173f), f, _mm512_set1_ps(0.3333341539881215f));
  const vf b1 = _mm512_fmadd_ps(_mm512_set1_ps(-0.16602718852981876f), f, _mm512_set1_ps(0.19984223247260396f));
  const vf b2 = _mm512_fmadd_ps(_mm512_set1_ps(-0.14030892198395475f), f, _mm512_set1_ps(0.14703899165718667f));
  const vf pf = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.09048784427322608f), z, b2), z2,
                                _mm512_fmadd_ps(b1, z, b0));
  const vf y = _mm512_fmadd_ps(_mm512_mul_ps(f, z), pf, _mm512_fmadd_ps(z, _mm512_set1_ps(-0.5f), f));
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0x1.62e430p-1f), y);
}

/* p > 0 ? p·x : 0 (0·log 0 = 0) as one masked multiply. */
#define HAVE_VMULPOS 1
static inline vf vmulpos(vf p, vf x) {
  return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(p, _mm512_setzero_ps(), _CMP_GT_OQ), p, x);
}

static inline vf vlog(vf x0) {
  /* Denormals are pre-scaled by 2^23 (getexp/getmant under DAZ would see 0). */
  __mmask16 den = _mm512_cmp_ps_mask(x0, _mm512_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  vf x = _mm512_mask_mul_ps(x0, den, x0, _mm512_set1_ps(8388608.0f));
  /* m ∈ [0.5, 1), x = m·2^e; fold m < √½ to [√½, √2) as in Cephes logf. */
  vf e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0f));
  e = _mm512_mask_sub_ps(e, den, e, _mm512_set1_ps(23.0f));
  vf m = _mm512_getmant_ps(x, _MM_MANT_NORM_p5_1, _MM_MANT_SIGN_zero);
  __mmask16 small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm512_mask_sub_ps(e, small, e, _mm512_set1_ps(1.0f));
  m = _mm512_mask_add_ps(m, small, m, m);
  m = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  vf z = _mm512_mul_ps(m, m);
  vf y = _mm512_set1_ps(7.0376836292e-2f);
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(-1.1514610310e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(1.1676998740e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(-1.2420140846e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(1.4249322787e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(-1.6668057665e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(2.0000714765e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(-2.4999993993e-1f));
  y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(3.3333331174e-1f));
  y = _mm512_mul_ps(_mm512_mul_ps(y, m), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fmadd_ps(z, _mm512_set1_ps(-0.5f), y);
  vf res = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(m, y));
  /* Special values: log 0 = −inf, log(x < 0) = NaN, log inf = inf, NaN stays NaN. */
  res = _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x0, _mm512_setzero_ps(), _CMP_EQ_OQ),
                           _mm512_set1_ps(-INFINITY));
  res = _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x0, _mm512_setzero_ps(), _CMP_NGE_UQ),
                           _mm512_set1_ps(NAN));
  res = _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x0, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ),
                           _mm512_set1_ps(INFINITY));
  return res;
}

#include "cpu_impl.h"
