/* cpu_avx512.c — AVX-512F mapping of the CPU fast path (compiled with -mavx512f -mavx512dq
 * -mfma); the kernel body is cpu_impl.h.  Only called when the CPU reports avx512f.
 * vexp: Cephes range reduction x = n·ln2 + r, degree-6 polynomial, 2^n by vscalefps (overflow to
 * inf; results below FLT_MIN flush to 0 as on the other ISAs); vlog: getexp/getmant + Cephes logf polynomial.
 * Both ≈ 1e-7 relative (tested against libm in test_kernels). */
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

/* log for x ≥ 0 known finite (a mixture βp + (1−β)q): no NaN/inf/negative patching and no
 * DAZ pre-scale (MXCSR keeps DAZ off, so getexp/getmant see denormals as they are); log 0 =
 * −inf falls out of getexp(0) = −inf. */
static inline vf vlogp(vf x) {
  vf e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0f));
  vf m = _mm512_getmant_ps(x, _MM_MANT_NORM_p5_1, _MM_MANT_SIGN_zero);
  __mmask16 small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm512_mask_sub_ps(e, small, e, _mm512_set1_ps(1.0f));
  m = _mm512_mask_add_ps(m, small, m, m);
  m = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  vf z = _mm512_mul_ps(m, m);
  /* Cephes logf polynomial, Estrin order (same coefficients as vlog). */
  vf z2 = _mm512_mul_ps(z, z);
  vf a01 = _mm512_fmadd_ps(_mm512_set1_ps(7.0376836292e-2f), m, _mm512_set1_ps(-1.1514610310e-1f));
  vf a23 = _mm512_fmadd_ps(_mm512_set1_ps(1.1676998740e-1f), m, _mm512_set1_ps(-1.2420140846e-1f));
  vf a45 = _mm512_fmadd_ps(_mm512_set1_ps(1.4249322787e-1f), m, _mm512_set1_ps(-1.6668057665e-1f));
  vf a67 = _mm512_fmadd_ps(_mm512_set1_ps(2.0000714765e-1f), m, _mm512_set1_ps(-2.4999993993e-1f));
  vf hi = _mm512_fmadd_ps(_mm512_fmadd_ps(a01, z, a23), z2, _mm512_fmadd_ps(a45, z, a67));
  vf y = _mm512_fmadd_ps(hi, m, _mm512_set1_ps(3.3333331174e-1f));
  y = _mm512_mul_ps(_mm512_mul_ps(y, m), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fmadd_ps(z, _mm512_set1_ps(-0.5f), y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(m, y));
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
