/* cpu_avx2.c — AVX2+FMA mapping of the CPU fast path (compiled with -mavx2 -mfma); the kernel
 * body is cpu_impl.h.  Only called when the CPU reports avx2 and fma.
 * vexp: ggml_v_expf's shifter/Estrin scheme (as AVX-512) on ordinary inputs; vectors with a lane
 * beyond |n| > 125 or NaN take vexp_full: Cephes range reduction, degree-6 polynomial, 2^n built
 * in the exponent field, inputs below −87.3 give 0 (no denormal results), above 88 give inf.  vlog: exponent/mantissa split by bit
 * operations (denormals pre-scaled by 2^23) + Cephes logf polynomial.  vexpm1: the same
 * reduction and polynomial, 2^n·(e^b − 1) + (2^n − 1) without cancellation.  All ≈ 1e-7 relative. */
#include <immintrin.h>
#include <math.h>
#include "ds__cpu.h"

typedef __m256 vf;
#define VW 8
#define ISA_NAME "cpu-avx2"
#define ISA_SYM ds__cpu_isa_avx2

static inline vf vset(float x) { return _mm256_set1_ps(x); }
static inline vf vld(const float *p) { return _mm256_loadu_ps(p); }
static inline void vst(float *p, vf x) { _mm256_storeu_ps(p, x); }
static inline __m256i tmask(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vld_tail(const float *p, size_t n, float fill) {
  __m256i m = tmask(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline void vst_tail(float *p, vf x, size_t n) { _mm256_maskstore_ps(p, tmask(n), x); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vkeep(vf x, size_t n) { return _mm256_and_ps(x, _mm256_castsi256_ps(tmask(n))); }
static inline vf vsel_gt(vf a, vf b, vf x, vf y) {
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}
static inline double vsum(vf x) {
  __m256d s = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)),
                            _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}
static inline float vhmax(vf x) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

static inline vf vabs(vf x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
/* 1, −1 or 0 by the sign of x (0 for NaN): ±1 with x's sign bit, kept where x ≠ 0. */
static inline vf vsign(vf x) {
  const vf nz = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NEQ_OQ);
  return _mm256_and_ps(nz, _mm256_or_ps(_mm256_and_ps(x, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f)));
}
/* Inclusive prefix sum over the lanes, x_0 + … + x_i in lane i: two in-lane steps (byte shifts
 * by one and two floats within each 128-bit half), then lane 3 added to the upper half. */
static inline vf vscan(vf x) {
  x = _mm256_add_ps(x, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(x), 4)));
  x = _mm256_add_ps(x, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(x), 8)));
  const vf lo = _mm256_permutevar8x32_ps(x, _mm256_set1_epi32(3));
  return _mm256_add_ps(x, _mm256_blend_ps(_mm256_setzero_ps(), lo, 0xf0));
}
static inline vf vlast(vf x) { return _mm256_permutevar8x32_ps(x, _mm256_set1_epi32(7)); }
static inline float vfirst(vf x) { return _mm256_cvtss_f32(x); }

static inline vf vexp_full(vf x0) {
  vf x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.3365447505531f), x0));
  vf n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  vf r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  vf p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  vf y = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  /* n ∈ [−126, 127] after the clamp, so 2^n is a normal float. */
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x0, _mm256_set1_ps(-87.3365447505531f), _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x0, _mm256_set1_ps(88.0f), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x0, _mm256_cmp_ps(x0, x0, _CMP_UNORD_Q)); /* NaN in, NaN out */
}

/* ggml_v_expf's scheme (as the AVX-512 unit): n = round(x·log2 e) by the 1.5·2^23 shifter, two-step
 * Cody–Waite r = x − n·ln 2, an Estrin-evaluated minimax polynomial (≈ 1.5 ulp), 2^n built from
 * the shifter's low bits.  When any lane has |n| > 125 or is NaN (overflow, results near or below
 * FLT_MIN, −inf, NaN), the whole vector takes vexp_full above, so the special values stay as they
 * were (0 below −87.34, inf above 88, NaN stays NaN); in the kernels that branch is essentially
 * never taken (exponents are x − max ≤ 0 of ordinary logits). */
static inline vf vexp(vf x) {
  const vf sh = _mm256_set1_ps(0x1.8p23f);
  const vf z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), sh);
  const vf n = _mm256_sub_ps(z, sh);
  const vf an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  if (_mm256_movemask_ps(_mm256_cmp_ps(an, _mm256_set1_ps(125.0f), _CMP_NLE_UQ))) return vexp_full(x);
  const vf b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const vf k = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(z), 23),
                                                    _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  const vf u = _mm256_mul_ps(b, b);
  const vf j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  return _mm256_fmadd_ps(j, k, k);
}

/* e^x − 1, ≈ 1e-7 relative for every finite x, near 0 included (the ab row's differences of
 * nearly equal powers): x = n·ln 2 + b (n by the 1.5·2^23 shifter, b by the two-step Cody–Waite
 * split), e^b − 1 = P(b) = b + b²·p(b), p of degree 4 fitted for the relative error of P (1.7e-8
 * on |b| ≤ ln 2/2 before rounding; Estrin order), then 2^n·P(b) + (2^n − 1), one rounding:
 * exact in b for n = 0 (b = x), free of cancellation for n ≠ 0
 * (|x| > ln 2/2, where |e^x − 1| > 0.29).  Below −88 and at −inf it gives −1 (2^n = 0), above 88
 * inf; NaN propagates through the arithmetic.  The same operations in every unit. */
static inline vf vexpm1(vf x0) {
  const vf x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-88.0f), x0));
  const vf sh = _mm256_set1_ps(0x1.8p23f);
  const vf z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), sh);
  const vf n = _mm256_sub_ps(z, sh);
  const vf b = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x));
  const vf u = _mm256_mul_ps(b, b);
  const vf p = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_set1_ps(1.38825527e-3f), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(8.36652052e-3f), b, _mm256_set1_ps(4.16672006e-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(1.66665435e-1f), b, _mm256_set1_ps(0.49999997f)));
  /* n ∈ [−127, 127] in z's low bits: 2^n from the exponent field (2^−127 comes out as 0). */
  const vf k = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(z), 23),
                                                    _mm256_castps_si256(_mm256_set1_ps(1.0f))));
  const vf y = _mm256_fmadd_ps(k, _mm256_fmadd_ps(u, p, b), _mm256_sub_ps(k, _mm256_set1_ps(1.0f)));
  return _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x0, _mm256_set1_ps(88.0f), _CMP_GT_OQ));
}

static inline vf vlog(vf x0) {
  vf den = _mm256_cmp_ps(x0, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  vf x = _mm256_blendv_ps(x0, _mm256_mul_ps(x0, _mm256_set1_ps(8388608.0f)), den);
  __m256i xi = _mm256_castps_si256(x);
  vf e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(126)));
  e = _mm256_sub_ps(e, _mm256_and_ps(den, _mm256_set1_ps(23.0f)));
  vf m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
                                             _mm256_set1_epi32(0x3f000000)));
  vf small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0f)));
  m = _mm256_add_ps(m, _mm256_and_ps(small, m));
  m = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  vf z = _mm256_mul_ps(m, m);
  vf y = _mm256_set1_ps(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fmadd_ps(z, _mm256_set1_ps(-0.5f), y);
  vf res = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
  res = _mm256_blendv_ps(res, _mm256_set1_ps(-INFINITY), _mm256_cmp_ps(x0, _mm256_setzero_ps(), _CMP_EQ_OQ));
  res = _mm256_blendv_ps(res, _mm256_set1_ps(NAN), _mm256_cmp_ps(x0, _mm256_setzero_ps(), _CMP_NGE_UQ));
  res = _mm256_blendv_ps(res, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x0, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
  return res;
}

/* log for x ≥ 0 known finite (a mixture βp + (1−β)q): no denormal pre-scale and no special-value
 * patching.  A denormal or zero x gives a finite value near −87..−88 instead of its log or −inf;
 * every caller multiplies log m by a probability ≤ m/β (or selects on p > 0, q > 0, m > 0), so
 * those lanes contribute ~1e-38·88 at most, as the exact value would. */
#define HAVE_VLOGP_FINITE 1
static inline vf vlogp(vf x) {
  __m256i xi = _mm256_castps_si256(x);
  vf e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(126)));
  vf m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
                                             _mm256_set1_epi32(0x3f000000)));
  vf small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0f)));
  m = _mm256_add_ps(m, _mm256_and_ps(small, m));
  m = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  vf z = _mm256_mul_ps(m, m), z2 = _mm256_mul_ps(z, z);
  /* Cephes logf polynomial, Estrin order (as the AVX-512 vlogp). */
  vf a01 = _mm256_fmadd_ps(_mm256_set1_ps(7.0376836292e-2f), m, _mm256_set1_ps(-1.1514610310e-1f));
  vf a23 = _mm256_fmadd_ps(_mm256_set1_ps(1.1676998740e-1f), m, _mm256_set1_ps(-1.2420140846e-1f));
  vf a45 = _mm256_fmadd_ps(_mm256_set1_ps(1.4249322787e-1f), m, _mm256_set1_ps(-1.6668057665e-1f));
  vf a67 = _mm256_fmadd_ps(_mm256_set1_ps(2.0000714765e-1f), m, _mm256_set1_ps(-2.4999993993e-1f));
  vf hi = _mm256_fmadd_ps(_mm256_fmadd_ps(a01, z, a23), z2, _mm256_fmadd_ps(a45, z, a67));
  vf y = _mm256_fmadd_ps(hi, m, _mm256_set1_ps(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fmadd_ps(z, _mm256_set1_ps(-0.5f), y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
}

#include "cpu_impl.h"
