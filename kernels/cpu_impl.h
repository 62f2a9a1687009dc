/* cpu_impl.h — the one body of the CPU fast-path kernels, included by each per-ISA translation
 * unit after it has defined its vector mapping (the ggml pattern: main vector loop → masked tail,
 * no scalar duplicate).  The including file defines:
 *   vf, VW (lanes), vset, vld, vst, vld_tail(p, n, fill), vst_tail(p, x, n), vadd, vsub, vmul,
 *   vdiv, vmax, vfma(a, b, c) = a·b + c, vkeep(x, n) (lanes ≥ n zeroed), vsel_gt(a, b, x, y)
 *   (a > b ? x : y per lane), vsum (→ double), vhmax (→ float), vabs, vsign (±1, 0 at 0),
 *   vscan (inclusive prefix sum over the lanes), vlast (the last lane in every lane), vfirst
 *   (lane 0 → float), vexp, vexpm1 (e^x − 1, accurate near 0), vlog, ISA_NAME, ISA_SYM.
 *
 * Kernels (one row; layout: contiguous fp32 logits of length V; precision: fp32 element maths with
 * ~1e-7-relative vexp/vlog, per-lane fp32 sums over blocks of BLK elements folded into double row
 * accumulators):
 *   stats:  LSE(x·scale) by blocks: block max (from L1), rescale the running double sum once per
 *           block, then Σ exp(x·scale − m).  Student and teacher are streamed in the same pass.
 *   fast row (row_fast, see "Fast path" below): one stats pass for both LSEs that stores its
 *           exponentials (q, p then cost one multiply by a per-block factor); fkl/rkl also sum the
 *           KL there; other divergences take a (loss, Σh) pass that parks q and h, then
 *           g = gscale·(h − q·Σh) with no recomputation (kernels.md §1.2).  2 exps per element
 *           for fkl/rkl/tvd/wmix, + 1 log for jsd/skl/srkl, 3 exps for hellinger/χ²/Rényi/Amari.
 *   slow row (row_slow): the recomputing form, kept for accumulate (loss-averaged mixtures),
 *           rows without a work area, and rows with +inf/NaN maxima or non-finite sums.
 * Zero probabilities follow 0·log 0 = 0 (select on p > 0 / q > 0 / m > 0).
 */
#include <math.h>
#include <string.h>

#define BLK DS__CPU_BLK
/* log for m ≥ 0, finite for every such m (0 and denormals give any value ≤ their log): the
 * AVX-512 and AVX2 vlogp are (they work on the bits); the generic vlog's −inf is clamped. */
#ifndef HAVE_VLOGP_FINITE
static inline vf vlogm(vf x) { return vmax(vlogp(x), vset(-1e30f)); }
#else
#define vlogm vlogp
#endif

#ifndef HAVE_VEXPN
#define vexpn vexp
#endif
#ifndef HAVE_VMULPOS
static inline vf vmulpos(vf p, vf x) { return vsel_gt(p, vset(0), vmul(p, x), vset(0)); }
#endif

/* log Σ exp(scale·x − *mout), scale > 0, where *mout = max(scale·x) as the float the sums were
 * taken against.  Returning the two parts lets the kernels form log-probs as
 * (scale·x − m) − lsum with one rounding of a small number, instead of scale·x − LSE, whose
 * absolute error grows with |x| (6e-6 at logits of ±100). */
static double row_lse_parts(const float *restrict x, size_t n, float scale, float *mout) {
  double acc = 0;
  float m = -INFINITY;
  vf vsc = vset(scale);
  for (size_t b = 0; b < n; b += BLK) {
    size_t len = n - b < BLK ? n - b : BLK, i;
    const float *xb = x + b;
    vf vm = vset(-INFINITY);
    for (i = 0; i + VW <= len; i += VW) vm = vmax(vm, vld(xb + i));
    if (i < len) vm = vmax(vm, vld_tail(xb + i, len - i, -INFINITY));
    float bm = vhmax(vm) * scale;
    if (bm > m) {
      if (m > -INFINITY) acc *= exp((double)m - (double)bm);
      m = bm;
    }
    if (m == -INFINITY) continue;
    if (m == INFINITY || m != m) { *mout = m; return 0; }
    vf vs = vset(0), nm = vset(-m);
    for (i = 0; i + VW <= len; i += VW) vs = vadd(vs, vexp(vfma(vld(xb + i), vsc, nm)));
    if (i < len) vs = vadd(vs, vkeep(vexp(vfma(vld_tail(xb + i, len - i, 0), vsc, nm)), len - i));
    acc += vsum(vs);
  }
  *mout = m;
  return log(acc);
}

static double row_lse(const float *restrict x, size_t n, float scale) {
  float m;
  double l = row_lse_parts(x, n, scale, &m);
  return (double)m + l;
}

typedef struct {
  float beta, alpha, w, c1, c2; /* per-divergence constants */
  float k1, k2, k3, ia;         /* ab: loss = k1·p^α q^β + k2·p^(α+β) + k3·q^(α+β), h ∝ ia */
} prm_t;

/* 1 if divergence `kind` needs the teacher probabilities p themselves (not only log p). */
static inline __attribute__((always_inline)) int needs_p(int kind) {
  return kind == DS_DIV_FKL || kind == DS_DIV_JSD || kind == DS_DIV_SKL || kind == DS_DIV_SRKL ||
         kind == DS_DIV_TVD || kind == DS_DIV_WMIX;
}

/* Per-element loss and h for divergence `kind` (constant after inlining), given the log-probs
 * lp, lq and the probabilities p = e^lp (only read when needs_p(kind)) and q = e^lq. */
static inline __attribute__((always_inline)) void elem(int kind, const prm_t *P, vf lp, vf lq,
                                                        vf p, vf q, vf *loss, vf *h) {
  const vf zero = vset(0);
  switch (kind) {
    case DS_DIV_FKL: {
      *loss = vsel_gt(p, zero, vmul(p, vsub(lp, lq)), zero);
      *h = vsub(zero, p);
      break;
    }
    case DS_DIV_RKL: {
      vf v = vsel_gt(q, zero, vmul(q, vsub(lq, lp)), zero);
      *loss = v;
      *h = v;
      break;
    }
    case DS_DIV_JSD: { /* m = βp + (1−β)q; h = (1−β) q log(q/m) */
      vf m = vfma(vset(P->beta), p, vmul(vset(P->c1), q));
      vf lm = vlogp(m);
      vf a = vmulpos(p, vsub(lp, lm));
      vf b = vmulpos(q, vsub(lq, lm));
      *loss = vfma(vset(P->beta), a, vmul(vset(P->c1), b));
      *h = vmul(vset(P->c1), b);
      break;
    }
    case DS_DIV_SKL: { /* m = αp + (1−α)q; loss p log(p/m); h = −(1−α) p q / m */
      vf m = vfma(vset(P->alpha), p, vmul(vset(P->c1), q));
      vf lm = vlogp(m);
      *loss = vsel_gt(p, zero, vmul(p, vsub(lp, lm)), zero);
      *h = vsel_gt(m, zero, vdiv(vmul(vset(-P->c1), vmul(p, q)), m), zero);
      break;
    }
    case DS_DIV_SRKL: { /* m = (1−α)p + αq; loss q log(q/m); h = q (log(q/m) − α q/m) */
      vf m = vfma(vset(P->c1), p, vmul(vset(P->alpha), q));
      vf lm = vlogp(m);
      vf lr = vsub(lq, lm);
      *loss = vsel_gt(q, zero, vmul(q, lr), zero);
      *h = vsel_gt(q, zero, vmul(q, vsub(lr, vdiv(vmul(vset(P->alpha), q), m))), zero);
      break;
    }
    case DS_DIV_TVD: { /* ½|p − q|; h = ½ q sign(q − p) */
      vf d = vsub(q, p), hq = vmul(vset(0.5f), q);
      *loss = vmul(vset(0.5f), vmax(d, vsub(zero, d)));
      *h = vsel_gt(d, zero, hq, vsel_gt(zero, d, vsub(zero, hq), zero));
      break;
    }
    case DS_DIV_HELLINGER: { /* loss term −√(pq) (+1 per row); h = −½√(pq) */
      vf r = vexp(vmul(vset(0.5f), vadd(lp, lq)));
      *loss = vsub(zero, r);
      *h = vmul(vset(-0.5f), r);
      break;
    }
    case DS_DIV_CHI2: { /* p²/q (−1 per row); h = −p²/q */
      vf r = vexp(vsub(vadd(lp, lp), lq));
      *loss = r;
      *h = vsub(zero, r);
      break;
    }
    case DS_DIV_CHI2N: { /* q²/p (−1 per row); h = 2q²/p */
      vf r = vexp(vsub(vadd(lq, lq), lp));
      *loss = r;
      *h = vadd(r, r);
      break;
    }
    case DS_DIV_WMIX: { /* w p log(p/q) + (1−w) q log(q/p); h = −w p + (1−w) q log(q/p) */
      vf f = vsel_gt(p, zero, vmul(p, vsub(lp, lq)), zero);
      vf r = vsel_gt(q, zero, vmul(q, vsub(lq, lp)), zero);
      *loss = vfma(vset(P->w), f, vmul(vset(P->c1), r));
      *h = vfma(vset(-P->w), p, vmul(vset(P->c1), r));
      break;
    }
    default: { /* DS_DIV_ENTROPY: −q log q; h = −q log q */
      vf v = vsel_gt(q, zero, vmul(q, lq), zero);
      *loss = vsub(zero, v);
      *h = *loss;
      break;
    }
  }
}

/* Per-element loss and h of ab (non-degenerate α, β, α+β; the others take the reference row):
 *   loss = −(pq − α/(α+β) p^(α+β) − β/(α+β) q^(α+β))/(αβ) = k2·(p^(α+β) − pq) + k3·(q^(α+β) − pq),
 *   h = (q^(α+β) − pq)/α,  pq = p^α q^β = e^u,  u = α log p + β log q,
 * (k1 = −(k2 + k3) folded in, so p = q gives exactly 0), with the differences written as
 *   p^(α+β) − pq = pq·expm1(βd),  q^(α+β) − pq = pq·expm1(−αd),  d = log p − log q:
 * as differences of exponentials, nearly equal or flat rows (|d| ≲ 1e-2) kept only a few bits of
 * each term and the row's loss, O(d²), came out up to 2% off.  The caller forms d from x̂_t − x̂_s
 * (not lp − lq, whose roundings at log V ≈ 12 are 1e-6 absolute, 1e-4 of d = 1e-2).
 * The products need pq itself: where u ≤ −80 (pq near FLT_MIN; −inf and NaN included) a lane
 * takes the differences of e^((α+β) log p), e^((α+β) log q) and e^u as the kernel did before,
 * so zero probabilities and a tiny pq beside a sizeable power keep their old results; there |d|
 * is large or every term is below ~1e-35, so nothing cancels.  Such lanes are rare (tails of
 * peaked rows): with fb = 0 only the products are formed and max(−80 − u) goes to *lomax; the
 * caller runs a block again with fb = 1 where it is ≥ 0 (or the sums are not finite: u NaN). */
static inline __attribute__((always_inline)) void ab_elem(const prm_t *P, int fb, vf lp, vf lq, vf d,
                                                           vf *loss, vf *h, vf *lomax) {
  const vf u = vfma(vset(P->alpha), lp, vmul(vset(P->beta), lq)), lo = vset(-80.0f);
  const vf pq = vexp(u);
  const vf e2 = vexpm1(vmul(vset(-P->alpha), d));
  *loss = vmul(pq, vfma(vset(P->k2), vexpm1(vmul(vset(P->beta), d)), vmul(vset(P->k3), e2)));
  *h = vmul(vset(P->ia), vmul(pq, e2));
  if (fb) {
    const vf pab = vexp(vmul(vset(P->c1), lp)), qab = vexp(vmul(vset(P->c1), lq));
    const vf b = vsub(qab, pq);
    *loss = vsel_gt(u, lo, *loss, vfma(vset(P->k2), vsub(pab, pq), vmul(vset(P->k3), b)));
    *h = vsel_gt(u, lo, *h, vmul(vset(P->ia), b));
  } else {
    *lomax = vmax(*lomax, vsub(lo, u));
  }
}

/* The recomputing row for kind K (constant): used with accumulate set (loss-averaged mixtures),
 * without a work area, and for rows whose maxima or sums are not finite (±inf/NaN logits), so
 * those keep the behaviour they always had. */
static inline __attribute__((always_inline)) double row_slow(int K, const ds__cpu_row_t *r) {
  const size_t V = r->V;
  const float *restrict t = r->t, *restrict s = r->s;
  float *restrict g = r->grad;
  const ds_div_t *d = r->div;
  prm_t P = {(float)d->beta, (float)d->alpha, (float)d->w, 0, 0, 0, 0, 0, 0};
  if (K == DS_DIV_JSD) P.c1 = (float)(1 - d->beta);
  if (K == DS_DIV_SKL || K == DS_DIV_SRKL) P.c1 = (float)(1 - d->alpha);
  if (K == DS_DIV_WMIX) P.c1 = (float)(1 - d->w);
  float mt = 0, ms = 0;
  double lt = K == DS_DIV_ENTROPY ? 0 : row_lse_parts(t, V, r->inv_tt, &mt);
  double ls = row_lse_parts(s, V, r->inv_ts, &ms);
  const vf vtt = vset(r->inv_tt), vts = vset(r->inv_ts);
  const vf nmt = vset(-mt), nmq = vset(-ms), nlt = vset((float)-lt), nls = vset((float)-ls);
  const vf gs = vset((float)r->gscale);
  const int acc = r->accumulate;
  double loss = 0, H = 0;
  size_t i;

#define LOADS(ii, n)                                                                  \
  vf lp, lq;                                                                          \
  if ((n) == VW) {                                                                    \
    lp = K == DS_DIV_ENTROPY ? vset(0) : vadd(vfma(vld(t + (ii)), vtt, nmt), nlt);    \
    lq = vadd(vfma(vld(s + (ii)), vts, nmq), nls);                                    \
  } else {                                                                            \
    lp = K == DS_DIV_ENTROPY ? vset(0)                                                \
                             : vadd(vfma(vld_tail(t + (ii), (n), 0), vtt, nmt), nlt); \
    lq = vadd(vfma(vld_tail(s + (ii), (n), 0), vts, nmq), nls);                       \
  }
#define STORE(ii, n, x)                                                               \
  do {                                                                                \
    vf x_ = (x);                                                                      \
    if ((n) == VW) vst(g + (ii), acc ? vadd(vld(g + (ii)), x_) : x_);                \
    else vst_tail(g + (ii), acc ? vadd(vld_tail(g + (ii), (n), 0), x_) : x_, (n));    \
  } while (0)

  if (K == DS_DIV_RENYI || K == DS_DIV_AMARI) {
    /* w = α log p + (1−α) log q; S = Σ e^w; r = e^w / S. */
    const float a = (float)d->alpha;
    const vf va = vset(a), vb = vset(1 - a);
    double m = -INFINITY, sacc = 0;
    for (size_t b = 0; b < V; b += BLK) {
      size_t len = V - b < BLK ? V - b : BLK;
      vf vm = vset(-INFINITY);
      for (i = b; i < b + len; i += VW) {
        size_t n = b + len - i < VW ? b + len - i : VW;
        LOADS(i, n)
        vf w = vfma(va, lp, vmul(vb, lq));
        if (n < VW) w = vsel_gt(vkeep(vset(1), n), vset(0), w, vset(-INFINITY));
        vm = vmax(vm, w);
      }
      double bm = vhmax(vm);
      if (bm > m) { if (m > -INFINITY) sacc *= exp(m - bm); m = bm; }
      if (m == -INFINITY) continue;
      vf vs = vset(0), nm = vset((float)-m);
      for (i = b; i < b + len; i += VW) {
        size_t n = b + len - i < VW ? b + len - i : VW;
        LOADS(i, n)
        vf e = vexp(vadd(vfma(va, lp, vmul(vb, lq)), nm));
        vs = vadd(vs, n < VW ? vkeep(e, n) : e);
      }
      sacc += vsum(vs);
    }
    double lS = m + log(sacc), A = exp(lS);
    loss = K == DS_DIV_RENYI ? lS / (d->alpha - 1) : (1 - A) / (d->alpha * (1 - d->alpha));
    if (g) {
      const vf nlS = vset((float)-lS);
      const vf gsc = K == DS_DIV_RENYI ? gs : vmul(gs, vset((float)(A / d->alpha)));
      for (i = 0; i < V; i += VW) {
        size_t n = V - i < VW ? V - i : VW;
        LOADS(i, n)
        vf q = vexp(lq), rr = vexp(vadd(vfma(va, lp, vmul(vb, lq)), nlS));
        STORE(i, n, vmul(gsc, vsub(q, rr)));
      }
    }
    return loss;
  }

  if (K == DS_DIV_FKL) {
    /* Σh = −1 exactly (Σp = 1), so loss and gradient fuse: g = gscale·(q − p). */
    for (size_t b = 0; b < V; b += BLK) {
      size_t end = V - b < BLK ? V : b + BLK;
      vf vl = vset(0);
      for (i = b; i < end; i += VW) {
        size_t n = end - i < VW ? end - i : VW;
        LOADS(i, n)
        vf q = vexp(lq), p = vexp(lp);
        vf l = vsel_gt(p, vset(0), vmul(p, vsub(lp, lq)), vset(0));
        vl = vadd(vl, n < VW ? vkeep(l, n) : l);
        if (g) STORE(i, n, vmul(gs, vsub(q, p)));
      }
      loss += vsum(vl);
    }
    return loss;
  }

  /* Pass 1: loss and H = Σh. */
  for (size_t b = 0; b < V; b += BLK) {
    size_t end = V - b < BLK ? V : b + BLK;
    vf vl = vset(0), vh = vset(0);
    for (i = b; i < end; i += VW) {
      size_t n = end - i < VW ? end - i : VW;
      LOADS(i, n)
      vf l, h, q = vexp(lq), p = needs_p(K) ? vexp(lp) : q;
      elem(K, &P, lp, lq, p, q, &l, &h);
      if (n < VW) { l = vkeep(l, n); h = vkeep(h, n); }
      if (g && !acc) { /* park h in the output row (cache-resident) for pass 2 */
        if (n == VW) vst(g + i, h);
        else vst_tail(g + i, h, n);
      }
      vl = vadd(vl, l);
      vh = vadd(vh, h);
    }
    loss += vsum(vl);
    H += vsum(vh);
  }
  if (K == DS_DIV_HELLINGER) loss += 1;
  if (K == DS_DIV_CHI2 || K == DS_DIV_CHI2N) loss -= 1;
  /* Pass 2: g = gscale·(h − q·H). */
  if (g && !acc) {
    /* h was parked in g by pass 1: only q is recomputed (one exp). */
    const vf vH = vset((float)H);
    for (i = 0; i + VW <= V; i += VW) {
      vf q = vexp(vadd(vfma(vld(s + i), vts, nmq), nls));
      vst(g + i, vmul(gs, vsub(vld(g + i), vmul(q, vH))));
    }
    if (i < V) {
      vf q = vexp(vadd(vfma(vld_tail(s + i, V - i, 0), vts, nmq), nls));
      vst_tail(g + i, vmul(gs, vsub(vld_tail(g + i, V - i, 0), vmul(q, vH))), V - i);
    }
  } else if (g) {
    const vf vH = vset((float)H);
    for (i = 0; i < V; i += VW) {
      size_t n = V - i < VW ? V - i : VW;
      LOADS(i, n)
      vf l, h, q = vexp(lq), p = needs_p(K) ? vexp(lp) : q;
      elem(K, &P, lp, lq, p, q, &l, &h);
      STORE(i, n, vmul(gs, vsub(h, vmul(q, vH))));
    }
  }
#undef LOADS
#undef STORE
  return loss;
}

/* ---- Fast path: stored exponentials ---------------------------------------------------------
 * Pass A computes both LSEs in one sweep and keeps every exponential it takes: the student's in
 * E (the gradient row, or work when there is none), the teacher's in F (work) when the
 * divergence needs p.  Exponentials are taken against the running max m_b of their block, so
 * q_j = E_j · c_b with one per-block factor c_b = e^(m_b − LSE) (and p likewise): pass B gets p
 * and q for one multiply each instead of an exp.  Pass B writes h over F (E keeps the block-frame
 * exponentials), so the gradient pass g = gscale·(h − c_b·E·H) reads two rows and computes nothing.
 * Per element that is 2 exps (fkl, rkl, tvd, wmix, …), 2 exps + 1 log (jsd, skl, srkl) or 3
 * exps (hellinger, χ², Rényi, Amari), against 4–6 exps for the recomputing row. */

typedef struct {
  float m_t, m_s;    /* final maxima of scale·x */
  double ls_t, ls_s; /* log Σ e^(scale·x − m) */
  double kl;         /* kl mode 1: KL(p‖q); 2: KL(q‖p) */
} st_t;

/* Pass A.  bt/bs receive the per-block factors c_b.  Returns 0 when a max is +inf or a sum is not
 * finite and positive (inf/NaN logits, an all −inf row): the caller then takes row_slow. */
/* kl = 1 (fkl) or 2 (rkl) also sums the KL itself: with x̂ = scale·x − m_run, the exponent
 * each e was taken at, Σ e_t·(x̂_t − x̂_s) per block is folded (double) into a sum rescaled exactly
 * like Σ e_t, with the block's (m_t − m_s) added, so KL(p‖q) = L/Σe_t − (log Σe_t − log Σe_s)
 * needs no second look at the logits (and likewise for KL(q‖p) from the student side). */
static inline __attribute__((always_inline)) int stats2(int with_t, int store_t, int kl,
                                                         const float *restrict t,
                                                         const float *restrict s, size_t V,
                                                         float at, float as, float *restrict E,
                                                         float *restrict F, float *restrict bt,
                                                         float *restrict bs, st_t *st) {
  double acc_t = 0, acc_s = 0, lacc = 0;
  float m_t = -INFINITY, m_s = -INFINITY;
  const vf vat = vset(at), vas = vset(as), ninf = vset(-INFINITY), zero = vset(0);
  size_t nb = 0;
  for (size_t b = 0; b < V; b += BLK, nb++) {
    const size_t len = V - b < BLK ? V - b : BLK;
    const float *tb = t + b, *sb = s + b;
    float *Eb = E + b, *Fb = F + b;
    size_t i;
    /* Once both running maxima are finite, a block's exponentials are taken against them as
     * they stand (no separate max pass, so the loads from L3/DRAM overlap the exps) while the
     * block max is tracked on the side; a block whose max exceeds the frame by more than 30
     * (e^30 ≈ 1e13: no overflow, per-block factors ≥ e^−30 stay normal) is redone against its
     * own max, as the first block always is.  Afterwards the running max moves up as before. */
    int fast = m_s > -INFINITY && (!with_t || m_t > -INFINITY);
    vf mt0 = ninf, mt1 = ninf, ms0 = ninf, ms1 = ninf;
    if (!fast) {
    max_pass:
      mt0 = mt1 = ms0 = ms1 = ninf;
      for (i = 0; i + 2 * VW <= len; i += 2 * VW) {
        if (with_t) { mt0 = vmax(mt0, vld(tb + i)); mt1 = vmax(mt1, vld(tb + i + VW)); }
        ms0 = vmax(ms0, vld(sb + i)); ms1 = vmax(ms1, vld(sb + i + VW));
      }
      for (; i < len; i += VW) {
        size_t n = len - i < VW ? len - i : VW;
        if (with_t) mt0 = vmax(mt0, n == VW ? vld(tb + i) : vld_tail(tb + i, n, -INFINITY));
        ms0 = vmax(ms0, n == VW ? vld(sb + i) : vld_tail(sb + i, n, -INFINITY));
      }
      float bm_t = with_t ? vhmax(vmax(mt0, mt1)) * at : -INFINITY, bm_s = vhmax(vmax(ms0, ms1)) * as;
      if (bm_t > m_t) {
        if (m_t > -INFINITY) {
          double f = exp((double)m_t - (double)bm_t);
          acc_t *= f;
          if (kl == 1) lacc *= f;
        }
        m_t = bm_t;
      }
      if (bm_s > m_s) {
        if (m_s > -INFINITY) {
          double f = exp((double)m_s - (double)bm_s);
          acc_s *= f;
          if (kl == 2) lacc *= f;
        }
        m_s = bm_s;
      }
      if (m_t == INFINITY || m_s == INFINITY) return 0;
    }
    bt[nb] = m_t;
    bs[nb] = m_s;
    /* While the running max is −inf every x seen is −inf: shift by 0 so e^x = 0, not NaN. */
    const vf nmt = vset(m_t == -INFINITY ? 0.0f : -m_t), nms = vset(m_s == -INFINITY ? 0.0f : -m_s);
    vf at0 = zero, at1 = zero, as0 = zero, as1 = zero, la0 = zero, la1 = zero;
    /* 0·log 0 = 0: the weight's zero lanes contribute nothing even where x̂_t − x̂_s is ±inf. */
#define KLACC(la, e, f, xs, xt)                                                        \
  if (kl == 1) la = vadd(la, vsel_gt(f, zero, vmul(f, vsub(xt, xs)), zero));          \
  else if (kl == 2) la = vadd(la, vsel_gt(e, zero, vmul(e, vsub(xs, xt)), zero));
    for (i = 0; i + 2 * VW <= len; i += 2 * VW) {
      vf rs0 = vld(sb + i), rs1 = vld(sb + i + VW);
      ms0 = vmax(ms0, rs0); ms1 = vmax(ms1, rs1); /* (a no-op after a max pass) */
      vf xs0 = vfma(rs0, vas, nms), xs1 = vfma(rs1, vas, nms);
      vf e0 = vexpn(xs0), e1 = vexpn(xs1);
      vst(Eb + i, e0); vst(Eb + i + VW, e1);
      as0 = vadd(as0, e0); as1 = vadd(as1, e1);
      if (with_t) {
        vf rt0 = vld(tb + i), rt1 = vld(tb + i + VW);
        mt0 = vmax(mt0, rt0); mt1 = vmax(mt1, rt1);
        vf xt0 = vfma(rt0, vat, nmt), xt1 = vfma(rt1, vat, nmt);
        vf f0 = vexpn(xt0), f1 = vexpn(xt1);
        if (store_t) { vst(Fb + i, f0); vst(Fb + i + VW, f1); }
        at0 = vadd(at0, f0); at1 = vadd(at1, f1);
        KLACC(la0, e0, f0, xs0, xt0)
        KLACC(la1, e1, f1, xs1, xt1)
      }
    }
    for (; i < len; i += VW) {
      size_t n = len - i < VW ? len - i : VW;
      vf rs0 = n == VW ? vld(sb + i) : vld_tail(sb + i, n, -INFINITY);
      ms0 = vmax(ms0, rs0);
      vf xs0 = vfma(rs0, vas, nms);
      vf e0 = vexpn(xs0);
      if (n < VW) e0 = vkeep(e0, n);
      if (n == VW) vst(Eb + i, e0); else vst_tail(Eb + i, e0, n);
      as0 = vadd(as0, e0);
      if (with_t) {
        vf rt0 = n == VW ? vld(tb + i) : vld_tail(tb + i, n, -INFINITY);
        mt0 = vmax(mt0, rt0);
        vf xt0 = vfma(rt0, vat, nmt);
        vf f0 = vexpn(xt0);
        if (n < VW) f0 = vkeep(f0, n);
        if (store_t) { if (n == VW) vst(Fb + i, f0); else vst_tail(Fb + i, f0, n); }
        at0 = vadd(at0, f0);
        KLACC(la0, e0, f0, xs0, xt0)
      }
    }
#undef KLACC
    float fbm_t = -INFINITY, fbm_s = -INFINITY;
    if (fast) {
      fbm_t = with_t ? vhmax(vmax(mt0, mt1)) * at : -INFINITY;
      fbm_s = vhmax(vmax(ms0, ms1)) * as;
      if (!(fbm_s <= m_s + 30.0f) || (with_t && !(fbm_t <= m_t + 30.0f))) { fast = 0; goto max_pass; }
    }
    double sb_s = vsum(vadd(as0, as1)), sb_t = with_t ? vsum(vadd(at0, at1)) : 0;
    acc_s += sb_s;
    acc_t += sb_t;
    /* Fold the block into the current frame: x̂_t − x̂_s + (m_t − m_s) = scale_t·t − scale_s·s. */
    if (kl == 1) lacc += vsum(vadd(la0, la1)) + ((double)m_t - (double)m_s) * sb_t;
    if (kl == 2) lacc += vsum(vadd(la0, la1)) + ((double)m_s - (double)m_t) * sb_s;
    if (fast) { /* move the running maxima up for the next block (this one is already summed) */
      if (fbm_t > m_t) {
        double f = exp((double)m_t - (double)fbm_t);
        acc_t *= f;
        if (kl == 1) lacc *= f;
        m_t = fbm_t;
      }
      if (fbm_s > m_s) {
        double f = exp((double)m_s - (double)fbm_s);
        acc_s *= f;
        if (kl == 2) lacc *= f;
        m_s = fbm_s;
      }
    }
  }
  if (!(acc_s > 0 && acc_s < INFINITY)) return 0;
  if (with_t && !(acc_t > 0 && acc_t < INFINITY)) return 0;
  st->m_t = m_t; st->m_s = m_s;
  st->ls_t = with_t ? log(acc_t) : 0;
  st->ls_s = log(acc_s);
  /* KL = Σ w·(scale·x_w − scale·x_o) / Σ w − (LSE_w − LSE_o), w the weighting side. */
  if (kl == 1) st->kl = (lacc - ((double)m_t - (double)m_s) * acc_t) / acc_t - (st->ls_t - st->ls_s);
  if (kl == 2) st->kl = (lacc - ((double)m_s - (double)m_t) * acc_s) / acc_s - (st->ls_s - st->ls_t);
  for (size_t k = 0; k < nb; k++) {
    bs[k] = (float)exp((double)bs[k] - (double)m_s - st->ls_s);
    bt[k] = with_t ? (float)exp((double)bt[k] - (double)m_t - st->ls_t) : 0.0f;
  }
  return 1;
}

/* w1 over elements [b, end) of one block (see row_fast; block factors in vct and vncs = −c_s).
 * Pass 1: f = F_p − F_q at every element but the row's last (0 there: the reference has no term
 * for it) as c = *c, the difference before the vector (double), plus the in-vector prefix sums
 * P of d = p − q (fp32, ≤ VW terms), so nothing in fp32 runs along the row.  Σ|f| goes into *sd
 * by chunks of 16 vectors, as (elements)·|f_0| in double plus per-lane fp32 sums of |f| − |f_0|
 * (f_0: f at the chunk's start), terms no larger than the chunk's mass: per-lane sums of |f|
 * itself drift wherever f stays near one value, as after a peak (2e-6 of W1 at V = 32000, 5–20×
 * the other errors).
 * Pass 2 (with G; the block is still in L1) reads f back from F and writes there the exclusive
 * prefix sums Tx of t = sign(f), *tot carrying their running total, and sums ΣE and ΣE·Tx per
 * lane into *se, *sex (q = c_s·E).  Tx is integer-valued with |Tx| < V ≤ 2^24: exact in fp32.
 * Two passes, not one: a vector's chain through both scans is ~60 cycles, more than the
 * out-of-order window overlaps (one pass measured ≈ 20% slower on AVX-512). */
static inline __attribute__((always_inline)) void w1_block(int G, const float *restrict E,
                                                          float *restrict F, size_t b, size_t end,
                                                          size_t V, vf vct, vf vncs, double *c,
                                                          vf *tot, double *sd, double *se,
                                                          double *sex) {
  const size_t lim = end < V ? end : V - 1; /* elements [b, lim) have a CDF term */
  vf ad = vset(0);
  double cc = *c, dc = 0;
  size_t i = b;
#define BODY(ii, n, m)                                                                      \
  {                                                                                         \
    vf nq = vmul((n) == VW ? vld(E + (ii)) : vld_tail(E + (ii), (n), 0), vncs);             \
    vf P = vscan(vfma((n) == VW ? vld(F + (ii)) : vld_tail(F + (ii), (n), 0), vct, nq));    \
    vf f = vadd(vset((float)cc), P), a = vsub(vabs(f), acr);                                \
    cc += vfirst(vlast(P));                                                                 \
    if ((m) < VW) { f = vkeep(f, (m)); a = vkeep(a, (m)); }                                 \
    ad = vadd(ad, a);                                                                       \
    if (G) { if ((n) == VW) vst(F + (ii), f); else vst_tail(F + (ii), f, (n)); }            \
  }
  while (i < end) { /* chunks of 16 vectors; the row's last (masked) vector ends the last */
    const float cr = (float)cc;
    const vf acr = vset(fabsf(cr));
    const size_t stop = lim - i > 16 * VW ? i + 16 * VW : lim;
    dc += (double)fabsf(cr) * (double)(stop - i);
    for (; i + VW <= stop; i += VW) BODY(i, VW, VW)
    if (stop == lim && i < end) {
      BODY(i, end - i, end - i - 1)
      i = end;
    }
  }
#undef BODY
  *c = cc;
  *sd = dc + vsum(ad);
  if (!G) return;
  vf tt = *tot, ae = vset(0), ax = vset(0);
#define BODY(ii, n)                                                                         \
  {                                                                                         \
    vf t = vsign((n) == VW ? vld(F + (ii)) : vld_tail(F + (ii), (n), 0)), T = vscan(t);     \
    vf Tx = vsub(vadd(tt, T), t);                                                           \
    tt = vadd(tt, vlast(T));                                                                \
    if ((n) == VW) vst(F + (ii), Tx); else vst_tail(F + (ii), Tx, (n));                     \
    vf e = (n) == VW ? vld(E + (ii)) : vld_tail(E + (ii), (n), 0);                          \
    ae = vadd(ae, e);                                                                       \
    ax = vfma(e, Tx, ax);                                                                   \
  }
  for (i = b; i + VW <= end; i += VW) BODY(i, VW)
  if (i < end) BODY(i, end - i)
#undef BODY
  *tot = tt;
  *se = vsum(ae);
  *sex = vsum(ax);
}

/* Pass B of the mixture divergences (jsd, skl, srkl) over elements [b, end) of one block, in the
 * stored frame of row_fast: with m' = wt·F + ws·E (the weights carry the block factors and
 * e^ls_t, so L = log m' = log m + ls_t) and x̂ clamped at −1e30 (a −inf logit has e = 0 and
 * gives 0·(finite) = 0, 0·log 0 = 0, with no compare; vlogm is finite for every m' ≥ 0):
 *   jsd:  *s1 += F·(x̂_t − L), *s2 += u = E·(x̂_s − L), u parked;
 *   skl:  *s1 += F·(x̂_t − L), *s2 += h = kh·F·E/m', h parked;
 *   srkl: *s1 += E·d, d = x̂_s − L, *s2 += h = c_s·E·(d − kh·E/m'), h parked
 * (x̂_s carries −(ls_s − ls_t) in nmq).  m' is floored at FLT_MIN before dividing: where both
 * exponentials underflow the numerator is 0 too.  K and G (park for the gradient) are constants
 * at each call, so the loop has no per-element branch on either. */
static inline __attribute__((always_inline)) void mix_block(
    int K, int G, const float *restrict t, const float *restrict s, const float *restrict E,
    float *restrict F, size_t b, size_t end, vf vtt, vf nmt, vf vts, vf nmq, vf wt, vf ws, vf kh,
    vf vcs, double *s1, double *s2) {
  const vf big = vset(-1e30f), tiny = vset(1.17549435e-38f), zero = vset(0);
  vf a0 = zero, b0 = zero, a1 = zero, b1 = zero;
  size_t i;
#define LD(p, ii, n) ((n) == VW ? vld((p) + (ii)) : vld_tail((p) + (ii), (n), 0))
#define BODY(ii, n, la, lb)                                                                    \
  {                                                                                            \
    vf f = LD(F, ii, n), e = LD(E, ii, n), x1, x2;                                             \
    vf xt = K != DS_DIV_SRKL ? vmax(vfma(LD(t, ii, n), vtt, nmt), big) : zero;                 \
    vf xs = K != DS_DIV_SKL ? vmax(vfma(LD(s, ii, n), vts, nmq), big) : zero;                  \
    vf mm = vfma(f, wt, vmul(e, ws)), L = vlogm(mm);                                           \
    if (K == DS_DIV_JSD) {                                                                     \
      x1 = vmul(f, vsub(xt, L));                                                               \
      x2 = vmul(e, vsub(xs, L));                                                               \
    } else if (K == DS_DIV_SKL) {                                                              \
      x1 = vmul(f, vsub(xt, L));                                                               \
      x2 = vdiv(vmul(kh, vmul(f, e)), vmax(mm, tiny));                                         \
    } else {                                                                                   \
      vf d = vsub(xs, L);                                                                      \
      x1 = vmul(e, d);                                                                         \
      x2 = vmul(vmul(vcs, e), vsub(d, vdiv(vmul(kh, e), vmax(mm, tiny))));                     \
    }                                                                                          \
    if ((n) < VW) { x1 = vkeep(x1, (n)); x2 = vkeep(x2, (n)); }                                \
    if (G) { if ((n) == VW) vst(F + (ii), x2); else vst_tail(F + (ii), x2, (n)); }             \
    la = vadd(la, x1);                                                                         \
    lb = vadd(lb, x2);                                                                         \
  }
  for (i = b; i + 2 * VW <= end; i += 2 * VW) { BODY(i, VW, a0, b0) BODY(i + VW, VW, a1, b1) }
  for (; i + VW <= end; i += VW) BODY(i, VW, a0, b0)
  if (i < end) BODY(i, end - i, a0, b0)
#undef BODY
#undef LD
  *s1 = vsum(vadd(a0, a1));
  *s2 = vsum(vadd(b0, b1));
}

/* The fast row for kind K; returns 0 (having written nothing the slow row does not overwrite)
 * when pass A finds non-finite statistics. */
static inline __attribute__((always_inline)) int row_fast(int K, const ds__cpu_row_t *r,
                                                           double *out) {
  const size_t V = r->V, Vp = (V + 15) & ~(size_t)15, nb = V / BLK + 1;
  const float *restrict t = r->t, *restrict s = r->s;
  float *restrict g = r->grad;
  float *restrict F = r->work;
  float *restrict E = g ? g : r->work + Vp;
  float *ct = r->work + 2 * Vp, *cs = ct + nb, *cw = cs + nb;
  const ds_div_t *d = r->div;
  prm_t P = {(float)d->beta, (float)d->alpha, (float)d->w, 0, 0, 0, 0, 0, 0};
  if (K == DS_DIV_JSD) P.c1 = (float)(1 - d->beta);
  if (K == DS_DIV_SKL || K == DS_DIV_SRKL) P.c1 = (float)(1 - d->alpha);
  if (K == DS_DIV_WMIX) P.c1 = (float)(1 - d->w);
  if (K == DS_DIV_AB) {
    double a = d->alpha, b = d->beta;
    P.c1 = (float)(a + b);
    P.k1 = (float)(-1 / (a * b));
    P.k2 = (float)(1 / (b * (a + b)));
    P.k3 = (float)(1 / (a * (a + b)));
    P.ia = (float)(1 / a);
  }
  st_t st;
  if (!stats2(K != DS_DIV_ENTROPY, needs_p(K) || K == DS_DIV_CS || K == DS_DIV_W1, K == DS_DIV_FKL ? 1 : K == DS_DIV_RKL ? 2 : 0, t, s, V, r->inv_tt, r->inv_ts, E, F, ct, cs, &st))
    return 0;
  const vf vtt = vset(r->inv_tt), vts = vset(r->inv_ts), zero = vset(0);
  const vf nmt = vset(-st.m_t), nmq = vset(-st.m_s), nlt = vset((float)-st.ls_t),
           nls = vset((float)-st.ls_s);
  const vf gs = vset((float)r->gscale);
  double loss = 0, H = 0;
  size_t i;

/* x̂ = scale·x − m, lp and lq the log-probs. */
#define FLOADS(ii, n)                                                                 \
  const vf xt = K == DS_DIV_ENTROPY ? zero : vfma(FLD(t, ii, n), vtt, nmt);           \
  const vf xs = vfma(FLD(s, ii, n), vts, nmq);                                        \
  const vf lp = K == DS_DIV_ENTROPY ? zero : vadd(xt, nlt), lq = vadd(xs, nls);
#define FLD(buf, ii, n) ((n) == VW ? vld((buf) + (ii)) : vld_tail((buf) + (ii), (n), 0))
#define FST(buf, ii, n, x) do { if ((n) == VW) vst((buf) + (ii), (x)); else vst_tail((buf) + (ii), (x), (n)); } while (0)

  if (K == DS_DIV_FKL) {
    /* Σh = −1 and the loss came out of pass A: g = gscale·(q − p) from the two stored rows. */
    if (g)
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf gct = vmul(gs, vset(ct[k])), gcs = vmul(gs, vset(cs[k]));
        for (i = b; i + VW <= end; i += VW) vst(g + i, vsub(vmul(vld(E + i), gcs), vmul(vld(F + i), gct)));
        if (i < end)
          vst_tail(g + i, vsub(vmul(vld_tail(E + i, end - i, 0), gcs), vmul(vld_tail(F + i, end - i, 0), gct)), end - i);
      }
    *out = st.kl;
    return 1;
  }

  if (K == DS_DIV_RKL) {
    /* H = KL(q‖p) came out of pass A; g = gscale·q·(log q − log p − H) in one pass, with
     * log q − log p − H = (x̂_s − x̂_t) + (ls_t − ls_s − H) against the final maxima.  An
     * infinite KL (p = 0 where q > 0) leaves the gradient undefined: the slow row gives the
     * reference's NaNs, where this pass would give 0 at q = 0. */
    if (!isfinite(st.kl)) return 0;
    if (g) {
      const vf c = vset((float)(st.ls_t - st.ls_s - st.kl));
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf gcs = vmul(gs, vset(cs[k]));
#define BODY(ii, n)                                                                       \
  {                                                                                       \
    vf e = FLD(E, ii, n);                                                                 \
    vf dd = vadd(vsub(vfma(FLD(s, ii, n), vts, nmq), vfma(FLD(t, ii, n), vtt, nmt)), c);  \
    FST(g, ii, n, vsel_gt(e, zero, vmul(vmul(e, gcs), dd), zero));                        \
  }
        for (i = b; i + VW <= end; i += VW) BODY(i, VW)
        if (i < end) BODY(i, end - i)
#undef BODY
      }
    }
    *out = st.kl;
    return 1;
  }

  if (K == DS_DIV_RENYI || K == DS_DIV_AMARI) {
    /* w = α log p + (1−α) log q; S = Σ e^w by the same blocked online max, e^(w − m_b) parked
     * in F; then g = gsc·(q − r), r = e^w / S. */
    const float a = (float)d->alpha;
    const vf va = vset(a), vb = vset(1 - a);
    float m = -INFINITY;
    double sacc = 0;
    for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
      const size_t end = V - b < BLK ? V : b + BLK;
      vf vm = vset(-INFINITY);
      for (i = b; i < end; i += VW) {
        size_t n = end - i < VW ? end - i : VW;
        FLOADS(i, n)
        vf w = vfma(va, lp, vmul(vb, lq));
        if (n < VW) w = vsel_gt(vkeep(vset(1), n), zero, w, vset(-INFINITY));
        vm = vmax(vm, w);
      }
      float bm = vhmax(vm);
      if (bm > m) { if (m > -INFINITY) sacc *= exp((double)m - (double)bm); m = bm; }
      cw[k] = m;
      vf vs = zero, nm = vset(m == -INFINITY ? 0.0f : -m);
      for (i = b; i < end; i += VW) {
        size_t n = end - i < VW ? end - i : VW;
        FLOADS(i, n)
        vf e = vexp(vadd(vfma(va, lp, vmul(vb, lq)), nm));
        if (n < VW) e = vkeep(e, n);
        FST(F, i, n, e);
        vs = vadd(vs, e);
      }
      sacc += vsum(vs);
    }
    if (!(sacc > 0 && sacc < INFINITY)) return 0;
    double lS = (double)m + log(sacc), A = exp(lS);
    *out = K == DS_DIV_RENYI ? lS / (d->alpha - 1) : (1 - A) / (d->alpha * (1 - d->alpha));
    if (g) {
      const vf gsc = K == DS_DIV_RENYI ? gs : vmul(gs, vset((float)(A / d->alpha)));
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf vcs = vset(cs[k]), vcw = vset((float)exp((double)cw[k] - lS));
        for (i = b; i < end; i += VW) {
          size_t n = end - i < VW ? end - i : VW;
          FST(g, i, n, vmul(gsc, vsub(vmul(FLD(E, i, n), vcs), vmul(FLD(F, i, n), vcw))));
        }
      }
    }
    return 1;
  }

  if (K == DS_DIV_CS) {
    /* Σpq, Σp², Σq² from the stored rows; H = 0, so g = gscale·q·(q/Σq² − p/Σpq) (kernels.md
     * §2.10).  The fp32 products underflow for nearly disjoint rows: below Σpq = 1e-25 (where
     * products under FLT_MIN could matter at fp32 precision) the caller takes the reference. */
    double spq = 0, spp = 0, sqq = 0;
    for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
      const size_t end = V - b < BLK ? V : b + BLK;
      const vf vct = vset(ct[k]), vcs = vset(cs[k]);
      vf a1 = zero, a2 = zero, a3 = zero;
      for (i = b; i < end; i += VW) {
        size_t n = end - i < VW ? end - i : VW;
        vf q = vmul(FLD(E, i, n), vcs), p = vmul(FLD(F, i, n), vct);
        a1 = vfma(p, q, a1); a2 = vfma(p, p, a2); a3 = vfma(q, q, a3);
      }
      spq += vsum(a1); spp += vsum(a2); sqq += vsum(a3);
    }
    if (!(spq > 1e-25 && spq < INFINITY && spp > 0 && spp < INFINITY && sqq > 0 && sqq < INFINITY)) return 0;
    *out = -log(spq) + 0.5 * log(spp) + 0.5 * log(sqq);
    if (g) {
      const vf iq = vset((float)(1 / sqq)), ip = vset((float)(1 / spq));
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf vct = vset(ct[k]), vcs = vset(cs[k]);
        for (i = b; i < end; i += VW) {
          size_t n = end - i < VW ? end - i : VW;
          vf q = vmul(FLD(E, i, n), vcs), p = vmul(FLD(F, i, n), vct);
          FST(g, i, n, vmul(vmul(gs, q), vsub(vmul(q, iq), vmul(p, ip))));
        }
      }
    }
    return 1;
  }

  if (K == DS_DIV_W1) {
    /* W1 = (1/V) Σ_{k<V−1} |F_p(k) − F_q(k)| and h_j = q_j·(1/V)·Σ_{k=j}^{V−2} sign(F_q(k) − F_p(k))
     * (as the reference), by vectorised scans (w1_block): the CDF difference in fp32 within a
     * vector carried in double between vectors (no fp32 drift along the row), then the signs
     * t = sign(F_p − F_q) (exact), their exclusive prefix sums Tx parked in F.  With T = Σt the
     * suffix sum in h_j is Tx_j − T, so H = Σh = (Σq·Tx − T·Σq)/V needs no reverse scan and
     * g = gscale·(h − q·H) = gscale·c_s·E·((Tx − T)/V − H) is one elementwise pass. */
    double C = 0, D = 0, SQ = 0, SQX = 0;
    vf tot = zero;
    for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
      const size_t end = V - b < BLK ? V : b + BLK;
      const vf vct = vset(ct[k]), vncs = vset(-cs[k]);
      double sd, se, sex;
      if (g) w1_block(1, E, F, b, end, V, vct, vncs, &C, &tot, &sd, &se, &sex);
      else w1_block(0, E, F, b, end, V, vct, vncs, &C, &tot, &sd, &se, &sex);
      D += sd;
      if (g) {
        SQ += (double)cs[k] * se;
        SQX += (double)cs[k] * sex;
      }
    }
    const double iV = 1.0 / (double)V, T = vfirst(tot);
    *out = D * iV;
    if (g) {
      H = (SQX - T * SQ) * iV;
      const vf vT = vset((float)T), viV = vset((float)iV), nH = vset((float)-H);
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf A = vset((float)(r->gscale * (double)cs[k]));
        for (i = b; i < end; i += VW) {
          size_t n = end - i < VW ? end - i : VW;
          FST(g, i, n, vmul(vmul(FLD(E, i, n), A), vfma(vsub(FLD(F, i, n), vT), viV, nH)));
        }
      }
    }
    return 1;
  }

  /* jsd, skl, srkl (mix_block): weights carry e^ls_t; the student's shift −m_s − (ls_s − ls_t)
   * is one float constant nq whose rounding dq moves every log q − log m alike: the gradient
   * does not see it (the softmax Jacobian removes h + δq), the loss gets it back exactly. */
  const int mixk = K == DS_DIV_JSD || K == DS_DIV_SKL || K == DS_DIV_SRKL;
  const double elt = mixk ? exp(st.ls_t) : 0;
  const float nq = (float)(-(double)st.m_s - (st.ls_s - st.ls_t));
  const double dq = (double)nq - (-(double)st.m_s - (st.ls_s - st.ls_t));
  const vf nmq2 = vset(nq);

  if (K == DS_DIV_JSD) {
    /* Pass B for JSD_β in the stored frame: with x̂ = scale·x − m (the final maxima), E, F the
     * block-frame exponentials and c_b their factors, p = c_t·F, q = c_s·E and
     *   log p − log m = x̂_t − L,  log q − log m = x̂_s − L − (ls_s − ls_t),  L = log m + ls_t,
     * so per element one log of (βc_t e^ls_t)·F + ((1−β)c_s e^ls_t)·E, which is L itself (the
     * weights carry e^ls_t; c·e^ls_t = e^(m_b − m) ≤ 1), and u = E·(log q − log m) parked over
     * F; the per-block factors go onto the block sums (loss = β c_t ΣF·a + (1−β) c_s Σu,
     * H = (1−β) Σ_b c_s Σu) and into pass C: g = gscale·c_s·((1−β)u − E·H).  The student
     * shift's rounding comes back from the loss as −(1−β)·dq·Σq, Σq = 1. */
    double Sb = 0;
    for (size_t k = (V + BLK - 1) / BLK; k-- > 0;) { /* backwards: the row's end is in L2 */
      const size_t b = k * BLK;
      const size_t end = V - b < BLK ? V : b + BLK;
      const vf wt = vset((float)(P.beta * ct[k] * elt)), ws = vset((float)(P.c1 * cs[k] * elt));
      double sa, su;
      if (g) mix_block(K, 1, t, s, E, F, b, end, vtt, nmt, vts, nmq2, wt, ws, zero, zero, &sa, &su);
      else mix_block(K, 0, t, s, E, F, b, end, vtt, nmt, vts, nmq2, wt, ws, zero, zero, &sa, &su);
      const double sb = (double)cs[k] * su;
      loss += (double)P.beta * (double)ct[k] * sa + (double)P.c1 * sb;
      Sb += sb;
    }
    H = (double)P.c1 * Sb;
    loss -= (double)P.c1 * dq;
    if (g)
      for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
        const size_t end = V - b < BLK ? V : b + BLK;
        const vf A = vset((float)(r->gscale * (double)cs[k] * (double)P.c1)),
                 Bk = vset((float)(-r->gscale * (double)cs[k] * H));
        /* E is the gradient row: read and written through one pointer. */
        for (i = b; i + VW <= end; i += VW) vst(E + i, vfma(vld(E + i), Bk, vmul(vld(F + i), A)));
        if (i < end)
          vst_tail(E + i, vfma(vld_tail(E + i, end - i, 0), Bk, vmul(vld_tail(F + i, end - i, 0), A)), end - i);
      }
    *out = loss;
    return 1;
  }

  /* Pass B: loss and H = Σh; h over F (q = c_b·E is not written back).  ab takes its products
   * alone first (FB = 0) and tracks max(−80 − u); a block where some u ≤ −80 or whose sums are
   * not finite runs again with the per-lane fallback (FB = 1, see ab_elem), so the common block
   * has no branch per vector. */
  /* ab: d = log p − log q = (x̂_t − x̂_s) + (ls_s − ls_t), the log-normalisers' difference in one
   * rounding (x̂ = scale·x − m is exact-ish where q is large, lp and lq are not). */
  const vf vcd = vset((float)(st.ls_s - st.ls_t));
  if (K == DS_DIV_SKL || K == DS_DIV_SRKL) {
    /* In jsd's frame (mix_block); srkl's loss gets the student shift's rounding back (−dq·Σq). */
    const int skl = K == DS_DIV_SKL;
    const double a = d->alpha, a1 = 1 - a;
    for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
      const size_t end = V - b < BLK ? V : b + BLK;
      const double wp = (skl ? a : a1) * ct[k] * elt, wq = (skl ? a1 : a) * cs[k] * elt;
      const vf wt = vset((float)wp), ws = vset((float)wq), vcs = vset(cs[k]);
      /* skl: h = −(1−α)·p·q/m = −(1−α)c_t c_s e^(ls_t)·F·E/m'; srkl: α·q/m = α c_s e^(ls_t)·E/m'. */
      const vf kh = vset((float)(skl ? -a1 * ct[k] * cs[k] * elt : wq));
      double sl, sh;
      if (g) mix_block(K, 1, t, s, E, F, b, end, vtt, nmt, vts, nmq2, wt, ws, kh, vcs, &sl, &sh);
      else mix_block(K, 0, t, s, E, F, b, end, vtt, nmt, vts, nmq2, wt, ws, kh, vcs, &sl, &sh);
      loss += (skl ? (double)ct[k] : (double)cs[k]) * sl;
      H += sh;
    }
    if (!skl) loss -= dq;
  } else
  for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
    const size_t end = V - b < BLK ? V : b + BLK;
    const vf vct = vset(ct[k]), vcs = vset(cs[k]);
#define BODY(ii, n, al, ah, FB)                                                              \
  {                                                                                          \
    FLOADS(ii, n)                                                                            \
    vf q = vmul(FLD(E, ii, n), vcs), p = needs_p(K) ? vmul(FLD(F, ii, n), vct) : q, l, h;   \
    if (K == DS_DIV_AB)                                                                      \
      ab_elem(&P, FB, lp, lq, vadd(vsub(xt, xs), vcd), &l, &h, &vlo);                        \
    else elem(K, &P, lp, lq, p, q, &l, &h);                                                  \
    if ((n) < VW) { l = vkeep(l, (n)); h = vkeep(h, (n)); }                                  \
    if (g) FST(F, ii, n, h);                                                                 \
    al = vadd(al, l);                                                                        \
    ah = vadd(ah, h);                                                                        \
  }
#define BLOCK(FB)                                                                                       \
  for (i = b; i + 2 * VW <= end; i += 2 * VW) { BODY(i, VW, vl, vh, FB) BODY(i + VW, VW, vl1, vh1, FB) } \
  for (; i + VW <= end; i += VW) BODY(i, VW, vl, vh, FB)                                                \
  if (i < end) BODY(i, end - i, vl, vh, FB)
    for (int fb = 0;; fb = 1) {
      vf vl = zero, vh = zero, vl1 = zero, vh1 = zero, vlo = vset(-INFINITY);
      if (K == DS_DIV_AB && fb) { BLOCK(1) } else { BLOCK(0) }
      const double bl = vsum(vadd(vl, vl1)), bh = vsum(vadd(vh, vh1));
      if (K == DS_DIV_AB && !fb && !(vhmax(vlo) < 0 && isfinite(bl) && isfinite(bh))) continue;
      loss += bl;
      H += bh;
      break;
    }
#undef BLOCK
#undef BODY
  }
  if (K == DS_DIV_HELLINGER) loss += 1;
  if (K == DS_DIV_CHI2 || K == DS_DIV_CHI2N) loss -= 1;
  /* ab: powers with negative exponents of zero probabilities are inf; the reference row decides. */
  if (K == DS_DIV_AB && !(isfinite(loss) && isfinite(H))) return 0;
  /* Pass C: g = gscale·(h − q·H) from the two parked rows (E is g and still holds the
   * unscaled exponentials: q = E·c_b, folded into one per-block factor). */
  if (g) {
    for (size_t b = 0, k = 0; b < V; b += BLK, k++) {
      const size_t end = V - b < BLK ? V : b + BLK;
      const vf ncH = vset((float)(-H * (double)cs[k]));
      for (i = b; i + VW <= end; i += VW) vst(g + i, vmul(gs, vfma(vld(g + i), ncH, vld(F + i))));
      if (i < end)
        vst_tail(g + i, vmul(gs, vfma(vld_tail(g + i, end - i, 0), ncH, vld_tail(F + i, end - i, 0))), end - i);
    }
  }
#undef FLOADS
#undef FLD
#undef FST
  *out = loss;
  return 1;
}

static inline __attribute__((always_inline)) double row_kind(int K, const ds__cpu_row_t *r) {
  double loss;
  if (r->work && !r->accumulate && row_fast(K, r, &loss)) return loss;
  return row_slow(K, r);
}

static double row(const ds__cpu_row_t *r) {
  switch (r->div->kind) {
    case DS_DIV_FKL: return row_kind(DS_DIV_FKL, r);
    case DS_DIV_RKL: return row_kind(DS_DIV_RKL, r);
    case DS_DIV_JSD: return row_kind(DS_DIV_JSD, r);
    case DS_DIV_SKL: return row_kind(DS_DIV_SKL, r);
    case DS_DIV_SRKL: return row_kind(DS_DIV_SRKL, r);
    case DS_DIV_TVD: return row_kind(DS_DIV_TVD, r);
    case DS_DIV_HELLINGER: return row_kind(DS_DIV_HELLINGER, r);
    case DS_DIV_CHI2: return row_kind(DS_DIV_CHI2, r);
    case DS_DIV_CHI2N: return row_kind(DS_DIV_CHI2N, r);
    case DS_DIV_RENYI: return row_kind(DS_DIV_RENYI, r);
    case DS_DIV_AMARI: return row_kind(DS_DIV_AMARI, r);
    case DS_DIV_WMIX: return row_kind(DS_DIV_WMIX, r);
    case DS_DIV_ENTROPY: return row_kind(DS_DIV_ENTROPY, r);
    default: return NAN; /* not a fast-path divergence: cpu.c never calls this */
  }
}

/* cs, w1 and non-degenerate ab: fast row only; 0 sends the caller to the reference row (no work
 * area, accumulate, non-finite statistics or results, and w1 beyond V = 2^24, where its sign
 * sums would no longer be exact in fp32). */
static int row_ext(const ds__cpu_row_t *r, double *loss) {
  if (!r->work || r->accumulate) return 0;
  switch (r->div->kind) {
    case DS_DIV_CS: return row_fast(DS_DIV_CS, r, loss);
    case DS_DIV_W1: return r->V <= (size_t)1 << 24 && row_fast(DS_DIV_W1, r, loss);
    case DS_DIV_AB: return row_fast(DS_DIV_AB, r, loss);
    default: return 0;
  }
}

const ds__cpu_isa_t ISA_SYM = {ISA_NAME, row, row_lse, row_ext};
