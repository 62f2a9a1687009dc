/* ref.c — scalar double-precision reference of every divergence (the oracle of all backends),
 * plus the divergence descriptors (names, parameters, domains).
 *
 * Invariants:
 *   - Written for clarity, never optimised.  Everything is double; probabilities are handled in
 *     log space (LSE for mixtures and power sums) and 0·log 0 := 0.
 *   - ds_ref_div_logprob's dlogq is the exact partial derivative ∂D/∂log q_j with log q treated as
 *     free inputs (kernels.md §1.2 "h"), except for sinkhorn, whose value is only defined on the
 *     simplex: there h is defined up to adding c·q (which the softmax Jacobian removes).
 *   - ds_ref_div_row turns h into d loss / d raw student logits: g = (h − q·Σh)/T_s, so Σ g = 0.
 *   - No global mutable state: every function is thread-safe.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ds_clock.h"
#include "ds_kernels.h"
#include "ds_error.h"

/* ---- Descriptors ------------------------------------------------------------------------- */

static const char *const div_names[DS_DIV__COUNT] = {
    "fkl", "rkl", "jsd", "skl", "srkl", "tvd", "hellinger", "chi2", "chi2n",
    "renyi", "amari", "ab", "cs", "wmix", "w1", "sinkhorn", "entropy"};

const char *ds_div_name(ds_div_kind_t kind) {
  if ((int)kind < 0 || kind >= DS_DIV__COUNT) return "?";
  return div_names[kind];
}

int ds_div_from_name(const char *name, ds_div_t *out) {
  if (!name || !out) return DS_EINVAL;
  for (int k = 0; k < DS_DIV__COUNT; k++) {
    if (strcmp(name, div_names[k]) != 0) continue;
    ds_div_t d;
    memset(&d, 0, sizeof d);
    d.kind = (ds_div_kind_t)k;
    d.alpha = 0.5;
    d.beta = 0.5;
    d.w = 0.5;
    d.epsilon = 0.1;
    d.cost = DS_COST_ORDINAL;
    if (d.kind == DS_DIV_SKL || d.kind == DS_DIV_SRKL) d.alpha = 0.1;
    *out = d;
    return 0;
  }
  return DS_EINVAL;
}

/* Bit set of the numeric parameters each divergence has: 1 alpha, 2 beta, 4 w, 8 epsilon. */
enum { P_ALPHA = 1, P_BETA = 2, P_W = 4, P_EPS = 8 };
static int div_params(ds_div_kind_t k) {
  switch (k) {
    case DS_DIV_JSD: return P_BETA;
    case DS_DIV_SKL: case DS_DIV_SRKL: case DS_DIV_RENYI: case DS_DIV_AMARI: return P_ALPHA;
    case DS_DIV_AB: return P_ALPHA | P_BETA;
    case DS_DIV_WMIX: return P_W;
    case DS_DIV_SINKHORN: return P_EPS;
    default: return 0;
  }
}

int ds_div_set_param(ds_div_t *d, const char *key, double value) {
  if (!d || !key) return DS_EINVAL;
  int have = div_params(d->kind);
  if (strcmp(key, "alpha") == 0 && (have & P_ALPHA)) d->alpha = value;
  else if (strcmp(key, "beta") == 0 && (have & P_BETA)) d->beta = value;
  else if (strcmp(key, "w") == 0 && (have & P_W)) d->w = value;
  else if (strcmp(key, "epsilon") == 0 && (have & P_EPS)) d->epsilon = value;
  else return DS_EINVAL;
  return 0;
}

int ds_div_set_param_str(ds_div_t *d, const char *key, const char *value) {
  if (!d || !key || !value) return DS_EINVAL;
  if (strcmp(key, "cost") == 0) {
    if (d->kind != DS_DIV_SINKHORN) return DS_EINVAL;
    if (strcmp(value, "ordinal") == 0) d->cost = DS_COST_ORDINAL;
    else if (strcmp(value, "01") == 0) d->cost = DS_COST_01;
    else return DS_EINVAL; /* a matrix must be loaded by the caller into cost_matrix */
    return 0;
  }
  char *end = NULL;
  double v = strtod(value, &end);
  if (end == value || *end != '\0') return DS_EINVAL;
  return ds_div_set_param(d, key, v);
}

static int fail_msg(char *err, size_t err_len, const char *fmt, const char *div, double v) {
  if (err && err_len > 0) snprintf(err, err_len, fmt, div, v);
  return DS_EINVAL;
}

int ds_div_check(const ds_div_t *d, char *err, size_t err_len) {
  if (!d || (int)d->kind < 0 || d->kind >= DS_DIV__COUNT) {
    if (err && err_len > 0) snprintf(err, err_len, "unknown divergence");
    return DS_EINVAL;
  }
  const char *n = ds_div_name(d->kind);
  switch (d->kind) {
    case DS_DIV_JSD:
      if (!(d->beta > 0 && d->beta < 1))
        return fail_msg(err, err_len, "%s: parameter beta must lie in (0, 1), got %g", n, d->beta);
      break;
    case DS_DIV_SKL: case DS_DIV_SRKL:
      if (!(d->alpha >= 0 && d->alpha < 1))
        return fail_msg(err, err_len, "%s: parameter alpha must lie in [0, 1), got %g", n, d->alpha);
      break;
    case DS_DIV_RENYI:
      if (!(d->alpha > 0 && d->alpha != 1 && isfinite(d->alpha)))
        return fail_msg(err, err_len, "%s: parameter alpha must be > 0 and != 1, got %g", n, d->alpha);
      break;
    case DS_DIV_AMARI:
      if (!(d->alpha > 0 && d->alpha < 1))
        return fail_msg(err, err_len, "%s: parameter alpha must lie in (0, 1), got %g", n, d->alpha);
      break;
    case DS_DIV_AB:
      if (!isfinite(d->alpha))
        return fail_msg(err, err_len, "%s: parameter alpha must be finite, got %g", n, d->alpha);
      if (!isfinite(d->beta))
        return fail_msg(err, err_len, "%s: parameter beta must be finite, got %g", n, d->beta);
      break;
    case DS_DIV_WMIX:
      if (!(d->w >= 0 && d->w <= 1))
        return fail_msg(err, err_len, "%s: parameter w must lie in [0, 1], got %g", n, d->w);
      break;
    case DS_DIV_SINKHORN:
      if (!(d->epsilon > 0 && isfinite(d->epsilon)))
        return fail_msg(err, err_len, "%s: parameter epsilon must be > 0, got %g", n, d->epsilon);
      if ((int)d->cost < 0 || d->cost > DS_COST_MATRIX)
        return fail_msg(err, err_len, "%s: parameter cost is invalid (%g)", n, (double)d->cost);
      if (d->cost == DS_COST_MATRIX && !d->cost_matrix) {
        if (err && err_len > 0) snprintf(err, err_len, "%s: parameter cost is 'matrix' but no matrix was given", n);
        return DS_EINVAL;
      }
      break;
    default: break;
  }
  if (err && err_len > 0) err[0] = '\0';
  return 0;
}

int ds_div_params_json(const ds_div_t *d, char *buf, size_t len) {
  if (!d || !buf || len == 0) return DS_EINVAL;
  int have = div_params(d->kind), n = 0, first = 1;
  const char *ck[] = {"ordinal", "01", "matrix"};
  n += snprintf(buf + n, len - (size_t)n, "{");
#define ADD(flag, key, val)                                                            \
  if ((have & (flag)) && (size_t)n < len) {                                            \
    n += snprintf(buf + n, len - (size_t)n, "%s\"%s\": %.15g", first ? "" : ", ", key, val); \
    first = 0;                                                                         \
  }
  ADD(P_ALPHA, "alpha", d->alpha)
  ADD(P_BETA, "beta", d->beta)
  ADD(P_W, "w", d->w)
  ADD(P_EPS, "epsilon", d->epsilon)
#undef ADD
  if (d->kind == DS_DIV_SINKHORN && (size_t)n < len && (int)d->cost >= 0 && d->cost <= DS_COST_MATRIX)
    n += snprintf(buf + n, len - (size_t)n, ", \"cost\": \"%s\"", ck[d->cost]);
  if ((size_t)n < len) n += snprintf(buf + n, len - (size_t)n, "}");
  return (size_t)n < len ? 0 : DS_EINVAL;
}

static const char *const mix_names[] = {"arithmetic", "geometric", "loss"};
static const char *const red_names[] = {"batchmean", "sum", "mean", "none"};

int ds_mix_from_name(const char *name, ds_mix_t *out) {
  for (int i = 0; name && out && i < 3; i++)
    if (strcmp(name, mix_names[i]) == 0) { *out = (ds_mix_t)i; return 0; }
  return DS_EINVAL;
}
const char *ds_mix_name(ds_mix_t m) { return (int)m >= 0 && m <= DS_MIX_LOSS ? mix_names[m] : "?"; }
int ds_reduction_from_name(const char *name, ds_reduction_t *out) {
  for (int i = 0; name && out && i < 4; i++)
    if (strcmp(name, red_names[i]) == 0) { *out = (ds_reduction_t)i; return 0; }
  return DS_EINVAL;
}
const char *ds_reduction_name(ds_reduction_t r) {
  return (int)r >= 0 && r <= DS_RED_NONE ? red_names[r] : "?";
}

/* ---- Small helpers ----------------------------------------------------------------------- */

static double lse2(double a, double b) { /* log(e^a + e^b) */
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  return fmax(a, b) + log1p(exp(-fabs(a - b)));
}

/* log Σ_j exp(x_j) over V values given by a callback-free array. */
static double lse(size_t V, const double *x) {
  double m = -INFINITY, s = 0;
  for (size_t i = 0; i < V; i++) m = fmax(m, x[i]);
  if (m == -INFINITY) return -INFINITY;
  if (m == INFINITY) return INFINITY;
  for (size_t i = 0; i < V; i++) s += exp(x[i] - m);
  return m + log(s);
}

/* x·(a − b) with 0·anything := 0 (the 0·log 0 convention). */
static double xlogr(double x, double a, double b) { return x == 0 ? 0 : x * (a - b); }

double ds_ref_log_softmax(size_t V, const double *x, double T, double *out) {
  double m = -INFINITY, s = 0;
  for (size_t i = 0; i < V; i++) m = fmax(m, x[i] / T);
  if (m == -INFINITY || isnan(m)) {
    for (size_t i = 0; i < V; i++) out[i] = NAN;
    return m;
  }
  for (size_t i = 0; i < V; i++) s += exp(x[i] / T - m);
  double l = m + log(s);
  for (size_t i = 0; i < V; i++) out[i] = x[i] / T - l;
  return l;
}

/* ---- Sinkhorn (log domain, ε-scaling) ------------------------------------------------------
 * OT_ε(p, q) = min_{P ∈ U(p,q)} ⟨P,C⟩ + ε·KL(P ‖ p⊗q)  (Feydy's convention; → W_C as ε → 0).
 * Dual potentials f (teacher side), g (student side):
 *   f_i = −ε LSE_j(log q_j + (g_j − C_ij)/ε),  g_j = −ε LSE_i(log p_i + (f_i − C_ij)/ε),
 *   value = ⟨f,p⟩ + ⟨g,q⟩ at convergence, and by the envelope theorem ∂OT_ε/∂q_j = g_j (up to a
 *   constant), so h_j = q_j·g_j.  ε is annealed from max C down to the target by factors of 10,
 *   each stage warm-started from the previous potentials (kernels.md §2.12(c)).
 * Each update is the transform out_i = LSE_j(a_j − C_ij/ε).  The two built-in costs have O(V)
 * forms, exact in the log domain (no V×V kernel, so LLM vocabularies work):
 *   ordinal C_ij = |i−j|/V: with c = 1/(Vε), forward and backward running LSEs
 *     fw_i = LSE(fw_{i−1} − c, a_i), bw_i = LSE(bw_{i+1} − c, a_i), out_i = LSE(fw_i, bw_{i+1} − c);
 *   0/1 C_ij = 1 − δ_ij: out_i = LSE(a_i, LSE_{j≠i} a_j − 1/ε), the j ≠ i sum from prefix and
 *     suffix LSEs (not LSE_all minus a term, which cancels catastrophically when a_i dominates).
 * A cost matrix takes the O(V²) sum, transposed for the g update (hence DS__SINKHORN_MAX_V). */
static double cost_at(const ds_div_t *d, size_t V, size_t i, size_t j) {
  switch (d->cost) {
    case DS_COST_01: return i == j ? 0.0 : 1.0;
    case DS_COST_MATRIX: return d->cost_matrix[i * V + j];
    default: return fabs((double)i - (double)j) / (double)V;
  }
}

/* out_i = LSE_j(a_j − C_ij/ε) (C_ji with `transpose`); w: V doubles of scratch. */
static void cost_lse(const ds_div_t *d, size_t V, double eps, int transpose, const double *a,
                     double *out, double *w) {
  if (d->cost == DS_COST_ORDINAL) {
    const double c = 1.0 / ((double)V * eps);
    double bw = -INFINITY; /* w_i = bw_i */
    for (size_t i = V; i-- > 0;) w[i] = bw = lse2(bw - c, a[i]);
    double fw = -INFINITY;
    for (size_t i = 0; i < V; i++) {
      fw = lse2(fw - c, a[i]);
      out[i] = i + 1 < V ? lse2(fw, w[i + 1] - c) : fw;
    }
  } else if (d->cost == DS_COST_01) {
    double suf = -INFINITY; /* w_i = LSE_{j>i} a_j */
    for (size_t i = V; i-- > 0;) { w[i] = suf; suf = lse2(suf, a[i]); }
    double pre = -INFINITY; /* LSE_{j<i} a_j */
    for (size_t i = 0; i < V; i++) {
      out[i] = lse2(a[i], lse2(pre, w[i]) - 1.0 / eps);
      pre = lse2(pre, a[i]);
    }
  } else {
    for (size_t i = 0; i < V; i++) {
      for (size_t j = 0; j < V; j++) w[j] = a[j] - (transpose ? cost_at(d, V, j, i) : cost_at(d, V, i, j)) / eps;
      out[i] = lse(V, w);
    }
  }
}

/* Has the caller asked this kernel call to stop (ds_div_t.stop / .deadline)? */
static int div_stopped(const ds_div_t *d) {
  if (d->stop && *d->stop) return 1;
  if (d->deadline > 0 && ds_now_s() > d->deadline) return 1;
  return 0;
}

static double sinkhorn(const ds_div_t *d, size_t V, const double *lp, const double *lq, double *h) {
  double *f = calloc(V, sizeof *f), *g = calloc(V, sizeof *g), *a = malloc(3 * V * sizeof *a);
  double *t = a + V, *w = t + V;
  double val = NAN;
  if (!f || !g || !a) goto fail;
  double cmax = 0;
  if (d->cost == DS_COST_ORDINAL) cmax = (double)(V - 1) / (double)V;
  else if (d->cost == DS_COST_01) cmax = V > 1;
  else
    for (size_t i = 0; i < V * V; i++) cmax = fmax(cmax, d->cost_matrix[i]);
  double eps = fmax(cmax, d->epsilon);
  for (;;) {
    int last = eps <= d->epsilon;
    int maxit = last ? 20000 : 200;
    double errp = INFINITY, om = 1.5;
    for (int it = 0;; it++) {
      /* Every 8 sweeps (each is O(V), O(V²) with a matrix), the caller's stop: a clock read
       * costs ~20 ns against ≥ 8·V exp/log. */
      if ((it & 7) == 0 && div_stopped(d)) {
        if (h)
          for (size_t j = 0; j < V; j++) h[j] = NAN;
        goto fail;
      }
      /* t_i = LSE_j(log q_j + (g_j − C_ij)/ε) = −f_i(new)/ε.  Every 5 updates, before taking
       * it as f, measure the p marginal of the current plan (its q marginal is exact after
       * the g update): Σ_j P_ij = exp(log p_i + f_i/ε + t_i). */
      for (size_t j = 0; j < V; j++) a[j] = lq[j] + g[j] / eps;
      cost_lse(d, V, eps, 0, a, t, w);
      if (it > 0 && (it % 5 == 0 || it == maxit)) {
        double errm = 0;
        for (size_t i = 0; i < V; i++)
          if (lp[i] > -INFINITY) errm += fabs(exp(lp[i] + f[i] / eps + t[i]) - exp(lp[i]));
        /* The final tolerance is the rounding floor of a V-term sum of exps (≈ 3e-13 measured
         * at V = 32000), so it grows with V; near it, a check that gained < 1 % also stops. */
        if (errm < (last ? fmax(1e-13, 1e-16 * (double)V) : 1e-6) || it == maxit) break;
        if (last && errm < 1e-10 && errm > 0.99 * errp) break;
        if (errm > 2 * errp) om = 1; /* over-relaxation diverging: plain sweeps from here */
        errp = errm;
      }
      /* Over-relaxed updates (f ← (1−ω)f + ω·f_new, ω = 1.5 after the first sweep of a stage;
       * same fixed point): 3× fewer sweeps at small ε (0/1 cost, ε = 0.01: 10,560 → 3,345). */
      const double r = it ? om : 1;
      for (size_t i = 0; i < V; i++) f[i] = (1 - r) * f[i] - r * eps * t[i];
      for (size_t i = 0; i < V; i++) a[i] = lp[i] + f[i] / eps;
      cost_lse(d, V, eps, 1, a, t, w);
      for (size_t j = 0; j < V; j++) g[j] = (1 - r) * g[j] - r * eps * t[j];
    }
    if (last) break;
    eps = fmax(eps * 0.1, d->epsilon);
  }
  val = 0;
  double gbar = 0;
  for (size_t i = 0; i < V; i++) {
    if (lp[i] > -INFINITY) val += exp(lp[i]) * f[i];
    if (lq[i] > -INFINITY) { val += exp(lq[i]) * g[i]; gbar += exp(lq[i]) * g[i]; }
  }
  /* Centre g so that Σ h = 0 (the potential is defined up to a constant). */
  if (h)
    for (size_t j = 0; j < V; j++) h[j] = lq[j] > -INFINITY ? exp(lq[j]) * (g[j] - gbar) : 0;
fail:
  free(f); free(g); free(a);
  return val;
}

/* ---- The divergences on log-probabilities ------------------------------------------------ */

/* ab(alpha, beta) (Cichocki–Cruces–Amari), with the degenerate cases taken as the continuous
 * limits (all carry 1/α² or 1/β²; ABKD's code uses 1/α there, which agrees only at α = 1):
 *   α,β,α+β ≠ 0: −(αβ)⁻¹ Σ [p^α q^β − α/(α+β) p^{α+β} − β/(α+β) q^{α+β}]
 *   α = 0, β ≠ 0: β⁻² Σ [q^β log(q^β/p^β) − q^β + p^β]
 *   β = 0, α ≠ 0: α⁻² Σ [p^α log(p^α/q^α) − p^α + q^α]
 *   α = −β ≠ 0:   α⁻² Σ [log(q^α/p^α) + (q^α/p^α)⁻¹ − 1]
 *   α = β = 0:    ½ Σ (log q − log p)²
 * So ab(1,0) = KL(p‖q), ab(0,1) = KL(q‖p), ab(½,½) = 4·H², ab(α,1−α) = amari(α). */
static double ab_div(double a, double b, size_t V, const double *lp, const double *lq, double *h) {
  const double tiny = 1e-12;
  int a0 = fabs(a) < tiny, b0 = fabs(b) < tiny, s0 = fabs(a + b) < tiny;
  double D = 0;
  for (size_t j = 0; j < V; j++) {
    double x = lp[j], y = lq[j], v, dv;
    if (a0 && b0) {
      v = 0.5 * (y - x) * (y - x); dv = y - x;
    } else if (a0) {
      double qb = exp(b * y), pb = exp(b * x);
      v = (xlogr(qb, b * y, b * x) - qb + pb) / (b * b); dv = xlogr(qb, y, x);
    } else if (b0) {
      double pa = exp(a * x), qa = exp(a * y);
      v = (xlogr(pa, a * x, a * y) - pa + qa) / (a * a); dv = (qa - pa) / a;
    } else if (s0) {
      double r = exp(a * (x - y));
      v = (a * (y - x) + r - 1) / (a * a); dv = (1 - r) / a;
    } else {
      double pq = exp(a * x + b * y), pab = exp((a + b) * x), qab = exp((a + b) * y);
      v = -(pq - a / (a + b) * pab - b / (a + b) * qab) / (a * b);
      dv = (qab - pq) / a;
    }
    D += v;
    if (h) h[j] = dv;
  }
  return D;
}

/* W1 with the ordinal cost |i−j|/V: (1/V) Σ_{k<V−1} |F_p(k) − F_q(k)|.
 * ∂/∂q_j = (1/V) Σ_{k=j}^{V−2} sign(F_q(k) − F_p(k)), h_j = q_j·∂/∂q_j. */
static double w1_div(size_t V, const double *lp, const double *lq, double *h) {
  double Fp = 0, Fq = 0, D = 0;
  double *sg = h ? h : NULL;
  for (size_t k = 0; k + 1 < V; k++) {
    Fp += exp(lp[k]); Fq += exp(lq[k]);
    D += fabs(Fp - Fq);
    if (sg) sg[k] = (Fq > Fp) - (Fq < Fp);
  }
  if (h && V > 0) {
    h[V - 1] = 0;
    double suffix = 0;
    for (size_t k = V - 1; k-- > 0;) {
      suffix += h[k];
      h[k] = suffix;
    }
    for (size_t j = 0; j < V; j++) h[j] = exp(lq[j]) * h[j] / (double)V;
  }
  return D / (double)V;
}

double ds_ref_div_logprob(const ds_div_t *d, size_t V, const double *lp, const double *lq,
                          double *h) {
  double D = 0;
  switch (d->kind) {
    case DS_DIV_FKL:
      for (size_t j = 0; j < V; j++) {
        double p = exp(lp[j]);
        D += xlogr(p, lp[j], lq[j]);
        if (h) h[j] = -p;
      }
      return D;
    case DS_DIV_RKL:
      for (size_t j = 0; j < V; j++) {
        double q = exp(lq[j]), v = xlogr(q, lq[j], lp[j]);
        D += v;
        if (h) h[j] = v + q;
      }
      return D;
    case DS_DIV_JSD: {
      double b = d->beta;
      if (b <= 0) { ds_div_t e = *d; e.kind = DS_DIV_FKL; return ds_ref_div_logprob(&e, V, lp, lq, h); }
      if (b >= 1) { ds_div_t e = *d; e.kind = DS_DIV_RKL; return ds_ref_div_logprob(&e, V, lp, lq, h); }
      /* ∂/∂q_j = (1−β) log(q_j/m_j): the p/m and q/m terms cancel. */
      for (size_t j = 0; j < V; j++) {
        double lm = lse2(log(b) + lp[j], log1p(-b) + lq[j]);
        double p = exp(lp[j]), q = exp(lq[j]);
        D += b * xlogr(p, lp[j], lm) + (1 - b) * xlogr(q, lq[j], lm);
        if (h) h[j] = (1 - b) * xlogr(q, lq[j], lm);
      }
      return D;
    }
    case DS_DIV_SKL: {
      double a = d->alpha;
      for (size_t j = 0; j < V; j++) {
        double lm = a > 0 ? lse2(log(a) + lp[j], log1p(-a) + lq[j]) : lq[j];
        double p = exp(lp[j]);
        D += xlogr(p, lp[j], lm);
        if (h) h[j] = p == 0 ? 0 : -(1 - a) * exp(lp[j] + lq[j] - lm);
      }
      return D;
    }
    case DS_DIV_SRKL: {
      double a = d->alpha;
      for (size_t j = 0; j < V; j++) {
        double lm = a > 0 ? lse2(log1p(-a) + lp[j], log(a) + lq[j]) : lp[j];
        double q = exp(lq[j]);
        D += xlogr(q, lq[j], lm);
        if (h) h[j] = q == 0 ? 0 : q * (lq[j] - lm + 1 - a * exp(lq[j] - lm));
      }
      return D;
    }
    case DS_DIV_TVD:
      for (size_t j = 0; j < V; j++) {
        double p = exp(lp[j]), q = exp(lq[j]);
        D += 0.5 * fabs(p - q);
        if (h) h[j] = 0.5 * q * ((q > p) - (q < p));
      }
      return D;
    case DS_DIV_HELLINGER: {
      double bc = 0;
      for (size_t j = 0; j < V; j++) {
        double r = exp(0.5 * (lp[j] + lq[j]));
        bc += r;
        if (h) h[j] = -0.5 * r;
      }
      return 1 - bc;
    }
    case DS_DIV_CHI2:
      for (size_t j = 0; j < V; j++) {
        double r = exp(2 * lp[j] - lq[j]);
        if (lp[j] == -INFINITY) r = 0;
        D += r;
        if (h) h[j] = -r;
      }
      return D - 1;
    case DS_DIV_CHI2N:
      for (size_t j = 0; j < V; j++) {
        double r = exp(2 * lq[j] - lp[j]);
        if (lq[j] == -INFINITY) r = 0;
        D += r;
        if (h) h[j] = 2 * r;
      }
      return D - 1;
    case DS_DIV_RENYI:
    case DS_DIV_AMARI: {
      /* w = α log p + (1−α) log q; S = Σ e^w; r = e^w/S. */
      double a = d->alpha, lS;
      double *w = malloc((V ? V : 1) * sizeof *w);
      if (!w) return NAN;
      for (size_t j = 0; j < V; j++) {
        double x = lp[j] == -INFINITY || lq[j] == -INFINITY ? -INFINITY : a * lp[j] + (1 - a) * lq[j];
        w[j] = x;
      }
      lS = lse(V, w);
      if (d->kind == DS_DIV_RENYI) {
        D = lS / (a - 1);
        if (h) for (size_t j = 0; j < V; j++) h[j] = -exp(w[j] - lS); /* (1−α)/(α−1)·r_j */
      } else {
        D = (1 - exp(lS)) / (a * (1 - a));
        if (h) for (size_t j = 0; j < V; j++) h[j] = -exp(w[j]) / a;
      }
      free(w);
      return D;
    }
    case DS_DIV_AB:
      return ab_div(d->alpha, d->beta, V, lp, lq, h);
    case DS_DIV_CS: {
      double *t = malloc((V ? V : 1) * sizeof *t);
      if (!t) return NAN;
      for (size_t j = 0; j < V; j++) t[j] = lp[j] + lq[j];
      double lpq = lse(V, t);
      for (size_t j = 0; j < V; j++) t[j] = 2 * lp[j];
      double lpp = lse(V, t);
      for (size_t j = 0; j < V; j++) t[j] = 2 * lq[j];
      double lqq = lse(V, t);
      free(t);
      if (h)
        for (size_t j = 0; j < V; j++)
          h[j] = exp(2 * lq[j] - lqq) - exp(lp[j] + lq[j] - lpq);
      return -lpq + 0.5 * lpp + 0.5 * lqq;
    }
    case DS_DIV_WMIX: {
      double w = d->w;
      for (size_t j = 0; j < V; j++) {
        double p = exp(lp[j]), q = exp(lq[j]), r = xlogr(q, lq[j], lp[j]);
        D += w * xlogr(p, lp[j], lq[j]) + (1 - w) * r;
        if (h) h[j] = -w * p + (1 - w) * (r + q);
      }
      return D;
    }
    case DS_DIV_W1:
      return w1_div(V, lp, lq, h);
    case DS_DIV_SINKHORN:
      return sinkhorn(d, V, lp, lq, h);
    case DS_DIV_ENTROPY:
      for (size_t j = 0; j < V; j++) {
        double q = exp(lq[j]), v = q == 0 ? 0 : q * lq[j];
        D -= v;
        if (h) h[j] = -v - q;
      }
      return D;
    default:
      return NAN;
  }
}

/* Mixed teacher log-probs of one row (see ds_kernels.h).  Layout: teacher[k][V], out[V], tmp[V]. */
void ds_ref_mix_logprob(size_t V, size_t K, const double *const *teacher, const double *weights, ds_mix_t mix,
                        double t_teacher, double *out, double *tmp) {
  if (K == 1) {
    ds_ref_log_softmax(V, teacher[0], t_teacher, out);
  } else if (mix == DS_MIX_GEOMETRIC) { /* p̃ = softmax(Σ_k w_k t_k / T_t) */
    for (size_t j = 0; j < V; j++) {
      double s = 0;
      for (size_t k = 0; k < K; k++) if (weights[k] != 0) s += weights[k] * teacher[k][j];
      tmp[j] = s;
    }
    ds_ref_log_softmax(V, tmp, t_teacher, out);
  } else { /* arithmetic (and DS_MIX_LOSS): log p̄_j = LSE_k(log w_k + log p_kj) */
    for (size_t j = 0; j < V; j++) out[j] = -INFINITY;
    for (size_t k = 0; k < K; k++) {
      if (!(weights[k] > 0)) continue;
      ds_ref_log_softmax(V, teacher[k], t_teacher, tmp);
      for (size_t j = 0; j < V; j++) out[j] = lse2(out[j], log(weights[k]) + tmp[j]);
    }
  }
}

/* One row from logits.  Layout: teacher[k][V], z[V], grad[V]; double throughout. */
double ds_ref_div_row(const ds_div_t *d, size_t V, size_t K, const double *const *teacher,
                      const double *weights, ds_mix_t mix, const double *z, double t_teacher,
                      double t_student, int t2, double *grad) {
  size_t n = V ? V : 1;
  double *lq = malloc(n * sizeof *lq), *lp = malloc(n * sizeof *lp), *tmp = malloc(n * sizeof *tmp);
  double *h = calloc(n, sizeof *h), *hk = malloc(n * sizeof *hk);
  double L = NAN;
  if (!lq || !lp || !tmp || !h || !hk) goto fail;
  ds_ref_log_softmax(V, z, t_student, lq);
  L = 0;
  if (d->kind == DS_DIV_ENTROPY || K == 0) {
    for (size_t j = 0; j < V; j++) lp[j] = -log((double)V);
    L = ds_ref_div_logprob(d, V, lp, lq, grad ? h : NULL);
  } else if (K == 1 || mix == DS_MIX_LOSS) {
    for (size_t k = 0; k < K; k++) {
      double wk = weights ? weights[k] : 1.0;
      if (K > 1 && wk == 0) continue;
      ds_ref_log_softmax(V, teacher[k], t_teacher, lp);
      L += wk * ds_ref_div_logprob(d, V, lp, lq, grad ? hk : NULL);
      if (grad) for (size_t j = 0; j < V; j++) h[j] += wk * hk[j];
    }
  } else {
    ds_ref_mix_logprob(V, K, teacher, weights, mix, t_teacher, lp, tmp);
    L = ds_ref_div_logprob(d, V, lp, lq, grad ? h : NULL);
  }
  double scale = t2 ? t_student * t_student : 1.0;
  if (grad) {
    double H = 0;
    for (size_t j = 0; j < V; j++) H += h[j];
    for (size_t j = 0; j < V; j++) grad[j] = scale * (h[j] - exp(lq[j]) * H) / t_student;
  }
  L *= scale;
fail:
  free(lq); free(lp); free(tmp); free(h); free(hk);
  return L;
}
