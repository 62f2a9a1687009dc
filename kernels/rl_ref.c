/* rl_ref.c — scalar double-precision reference of the RL-objective kernels (ds_rl.h, kernels.md §4):
 * token log-prob/entropy of one row, PPO surrogate, masked reductions, group advantages, KL
 * estimators, DPO losses and f-DPO links.
 *
 * Invariants: every function is a pure function of its arguments (no globals, no allocation), so
 * all are reentrant.  Written for clarity, never optimised: this file is the oracle that the
 * batched kernels (rl_cpu.c) and later backends are tested against.  Every gradient here was
 * checked by central finite differences (tests/test_rl.c).
 */
#include <math.h>
#include <string.h>

#include "ds_error.h"
#include "ds_rl.h"

/* Exponent cap of the f-DPO links (TRL caps at 80 for fp32/bf16; kept for doubles so that a link
 * and its derivative never overflow when a sequence log-ratio is huge). */
#define LINK_EXP_CAP 80.0
#define LN2 0.69314718055994530941723212145817657

/* log(1 + e^x) without overflow or loss for large |x|. */
static double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }

/* σ(x) = 1/(1 + e^{−x}), evaluated on the side where the exponential cannot overflow. */
static double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

/* ---- 4.1 log-prob and entropy ------------------------------------------------------------ */

/* Kernel: s = z/T; lse = m + log Σ e^{s−m} (m = max finite s); log π = s − lse;
 * H = −Σ_{π>0} π log π; grad_j = g_logp (1[j=y] − π_j)/T − g_ent π_j (log π_j + H)/T.
 * Precision: double throughout.  Layout: one row of V contiguous logits. */
int ds_rl_ref_logprob_row(size_t V, const double *z, double T, int64_t label, double *logp,
                          double *entropy, double g_logp, double g_ent, double *grad) {
  if (V == 0 || !z || !(T > 0) || (label >= 0 && (uint64_t)label >= V)) return DS_EINVAL;
  double m = -INFINITY;
  for (size_t j = 0; j < V; j++) m = fmax(m, z[j] / T);
  if (!isfinite(m)) return DS_EINVAL;
  double sum = 0;
  for (size_t j = 0; j < V; j++) sum += exp(z[j] / T - m);
  double lse = m + log(sum);
  double H = 0;
  for (size_t j = 0; j < V; j++) {
    double lp = z[j] / T - lse;
    if (isfinite(lp)) H -= exp(lp) * lp; /* 0·log 0 = 0 for masked tokens */
  }
  if (logp) *logp = label >= 0 ? z[label] / T - lse : 0.0;
  if (entropy) *entropy = H;
  if (grad) {
    for (size_t j = 0; j < V; j++) {
      double lp = z[j] / T - lse;
      double pj = exp(lp);
      double g = 0;
      if (label >= 0) g += g_logp * (((size_t)label == j ? 1.0 : 0.0) - pj);
      if (pj > 0) g -= g_ent * pj * (lp + H);
      grad[j] = g / T;
    }
  }
  return 0;
}

/* ---- 4.2 PPO ------------------------------------------------------------------------------ */

/* Kernel: log ρ = clamp(logp − old, ±M); L = max(−ρA, −clip(ρ)A); dual clip for A < 0:
 * L = min(L, −cA).  ∂L/∂logp = −ρA on the unclipped branch, else 0.  Precision: double. */
double ds_rl_ppo_token(const ds_rl_ppo_t *p, double logp, double old_logp, double adv,
                       double *dlogp, int *clipped) {
  double lr = logp - old_logp;
  int clamped = 0;
  if (p->log_ratio_max > 0) {
    if (lr > p->log_ratio_max) { lr = p->log_ratio_max; clamped = 1; }
    else if (lr < -p->log_ratio_max) { lr = -p->log_ratio_max; clamped = 1; }
  }
  double rho = exp(lr);
  double rc = fmin(fmax(rho, 1.0 - p->eps_low), 1.0 + p->eps_high);
  double l_unclipped = -rho * adv, l_clipped = -rc * adv;
  double L = fmax(l_unclipped, l_clipped);
  /* The unclipped branch carries the gradient when min(ρA, clip(ρ)A) picks ρA (ties included,
   * as Liger and kernels.md §4.2 do: inside the clip range both branches are equal). */
  int cut = !(rc * adv >= rho * adv);
  if (adv < 0 && p->clip_c > 1.0) {
    double l_dual = -p->clip_c * adv;
    if (l_dual < L) { L = l_dual; cut = 1; }
  }
  if (dlogp) *dlogp = (cut || clamped) ? 0.0 : -rho * adv;
  if (clipped) *clipped = cut;
  return L;
}

int ds_rl_ppo_batch(const ds_rl_ppo_t *p, size_t n, const double *logp, const double *old_logp,
                    const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                    double *clip_frac) {
  if (!p || (n && (!logp || !old_logp || !adv))) return DS_EINVAL;
  double active = 0, cut = 0;
  for (size_t i = 0; i < n; i++) {
    double d;
    int c;
    double L = ds_rl_ppo_token(p, logp[i], old_logp[i], adv[i], &d, &c);
    if (loss) loss[i] = L;
    if (dlogp) dlogp[i] = d;
    if (!mask || mask[i]) { active += 1; cut += c; }
  }
  if (clip_frac) *clip_frac = active > 0 ? cut / active : 0.0;
  return 0;
}

/* ---- Masked reductions --------------------------------------------------------------------- */

/* Kernel: out = Σ_bt w_bt m_bt ℓ_bt with the weights w of ds_rl_agg_t; dloss = w·m.  Double
 * accumulators.  Layout: [B][L] row-major, mask 1 byte per token. */
int ds_rl_reduce(ds_rl_agg_t agg, size_t B, size_t L, const double *loss, const uint8_t *mask,
                 double norm, double *out, double *dloss) {
  if (B == 0 || L == 0 || !loss || !out) return DS_EINVAL;
  if (agg < DS_RL_AGG_TOKEN_MEAN || agg > DS_RL_AGG_CONST_NORM) return DS_EINVAL;
  double total_active = 0;
  for (size_t i = 0; i < B * L; i++) total_active += (!mask || mask[i]) ? 1.0 : 0.0;
  double acc = 0;
  for (size_t b = 0; b < B; b++) {
    double row_active = 0;
    for (size_t t = 0; t < L; t++) row_active += (!mask || mask[b * L + t]) ? 1.0 : 0.0;
    /* The weight every active token of this row gets; clamp_min(1) avoids 0/0 (TRL). */
    double w;
    switch (agg) {
    case DS_RL_AGG_TOKEN_MEAN: w = 1.0 / fmax(total_active, 1.0); break;
    case DS_RL_AGG_SEQ_MEAN_TOKEN_MEAN: w = 1.0 / (fmax(row_active, 1.0) * (double)B); break;
    case DS_RL_AGG_SEQ_MEAN_TOKEN_SUM: w = 1.0 / (double)B; break;
    case DS_RL_AGG_SUM: w = 1.0; break;
    default: w = 1.0 / ((double)B * (norm > 0 ? norm : (double)L)); break;
    }
    double row = 0;
    for (size_t t = 0; t < L; t++) {
      size_t i = b * L + t;
      int on = !mask || mask[i];
      if (on) row += loss[i];
      if (dloss) dloss[i] = on ? w : 0.0;
    }
    acc += w * row;
  }
  *out = acc;
  return 0;
}

/* ---- 4.3 Advantages ------------------------------------------------------------------------ */

/* Kernel: per group, mean and unbiased std in double; see ds_rl_adv_t.  Layout [n_groups][G]. */
int ds_rl_advantages(ds_rl_adv_t kind, size_t n_groups, size_t G, const double *rewards,
                     double eps, double *adv) {
  if (G == 0 || !rewards || !adv || !(eps >= 0)) return DS_EINVAL;
  if (kind < DS_RL_ADV_GRPO || kind > DS_RL_ADV_RLOO) return DS_EINVAL;
  for (size_t g = 0; g < n_groups; g++) {
    const double *r = rewards + g * G;
    double *a = adv + g * G;
    double mean = 0, sd = 1;
    if (G > 1) {
      for (size_t i = 0; i < G; i++) mean += r[i];
      mean /= (double)G;
      double ss = 0;
      for (size_t i = 0; i < G; i++) ss += (r[i] - mean) * (r[i] - mean);
      sd = sqrt(ss / (double)(G - 1));
    }
    for (size_t i = 0; i < G; i++) {
      double d = r[i] - mean;
      switch (kind) {
      case DS_RL_ADV_GRPO: a[i] = d / (sd + eps); break;
      case DS_RL_ADV_DR_GRPO: a[i] = d; break;
      default: a[i] = G > 1 ? d * (double)G / (double)(G - 1) : d; break;
      }
    }
  }
  return 0;
}

/* ---- 4.4 KL estimators --------------------------------------------------------------------- */

int ds_rl_kl_from_name(const char *name, ds_rl_kl_t *out) {
  static const struct { const char *name; ds_rl_kl_t kind; } tab[] = {
      {"k1", DS_RL_KL_K1},       {"kl", DS_RL_KL_K1},         {"k2", DS_RL_KL_K2},
      {"mse", DS_RL_KL_K2},      {"k3", DS_RL_KL_K3},         {"low_var_kl", DS_RL_KL_K3},
      {"abs", DS_RL_KL_ABS},     {"k1+", DS_RL_KL_K1_ST},     {"k3+", DS_RL_KL_K3_ST},
  };
  if (!name || !out) return DS_EINVAL;
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (strcmp(name, tab[i].name) == 0) { *out = tab[i].kind; return 0; }
  return DS_EINVAL;
}

/* k3 with verl's clamps: d = clamp(ref − logp, ±20); k = clamp(e^d − d − 1, −10, 10).
 * *g = ∂k/∂logp = 1 − e^d, 0 where either clamp is active. */
static double k3(double logp, double ref_logp, double *g) {
  double d = ref_logp - logp;
  int cut = 0;
  if (d > 20) { d = 20; cut = 1; }
  else if (d < -20) { d = -20; cut = 1; }
  double e = exp(d);
  double k = e - d - 1.0;
  if (k > 10) { k = 10; cut = 1; }
  *g = cut ? 0.0 : 1.0 - e;
  return k;
}

/* Kernel: per-token value and ∂/∂logp, double, table in ds_rl.h. */
double ds_rl_kl_token(ds_rl_kl_t kind, double logp, double ref_logp, double *dlogp) {
  double lr = logp - ref_logp, v, g;
  switch (kind) {
  case DS_RL_KL_K1: v = lr; g = 1.0; break;
  case DS_RL_KL_K2: v = 0.5 * lr * lr; g = lr; break;
  case DS_RL_KL_K3: v = k3(logp, ref_logp, &g); break;
  case DS_RL_KL_ABS: v = fabs(lr); g = lr > 0 ? 1.0 : (lr < 0 ? -1.0 : 0.0); break;
  case DS_RL_KL_K1_ST: v = lr; g = lr; break;
  case DS_RL_KL_K3_ST: v = k3(logp, ref_logp, &g); g = lr; break;
  default: v = g = NAN; break;
  }
  if (dlogp) *dlogp = g;
  return v;
}

int ds_rl_kl_batch(ds_rl_kl_t kind, size_t n, const double *logp, const double *ref_logp,
                   double *value, double *dlogp) {
  if (kind < DS_RL_KL_K1 || kind > DS_RL_KL_K3_ST || (n && (!logp || !ref_logp))) return DS_EINVAL;
  for (size_t i = 0; i < n; i++) {
    double d, v = ds_rl_kl_token(kind, logp[i], ref_logp[i], &d);
    if (value) value[i] = v;
    if (dlogp) dlogp[i] = d;
  }
  return 0;
}

/* ---- 4.6/4.7 DPO and f-DPO ------------------------------------------------------------------ */

int ds_rl_f_from_name(const char *name, double alpha, ds_rl_f_t *out) {
  static const struct { const char *name; ds_rl_f_kind_t kind; } tab[] = {
      {"rkl", DS_RL_F_RKL}, {"fkl", DS_RL_F_FKL}, {"jsd", DS_RL_F_JSD},
      {"amari", DS_RL_F_AMARI}, {"tvd", DS_RL_F_TVD},
  };
  if (!name || !out) return DS_EINVAL;
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    if (strcmp(name, tab[i].name) != 0) continue;
    if (tab[i].kind == DS_RL_F_AMARI && !(alpha > 0 && alpha < 1)) return DS_EINVAL;
    out->kind = tab[i].kind;
    out->alpha = tab[i].kind == DS_RL_F_AMARI ? alpha : 0.0;
    return 0;
  }
  return DS_EINVAL;
}

/* u log u with 0 log 0 = 0. */
static double xlogx(double u) { return u > 0 ? u * log(u) : 0.0; }

double ds_rl_f_value(const ds_rl_f_t *f, double u) {
  switch (f->kind) {
  case DS_RL_F_RKL: return xlogx(u);
  case DS_RL_F_FKL: return -log(u);
  case DS_RL_F_JSD: return 0.5 * (xlogx(u) - (1.0 + u) * log1p(u) + (1.0 + u) * LN2);
  case DS_RL_F_AMARI: {
    double a = f->alpha;
    return (pow(u, 1.0 - a) - (1.0 - a) * u - a) / (a * (a - 1.0));
  }
  case DS_RL_F_TVD: return 0.5 * fabs(u - 1.0);
  }
  return NAN;
}

/* Kernel: f′(e^ℓ) and d f′(e^ℓ)/dℓ, double, exponents capped at LINK_EXP_CAP. */
double ds_rl_f_link(const ds_rl_f_t *f, double ell, double *dlink) {
  double v, d;
  switch (f->kind) {
  case DS_RL_F_RKL: v = ell + 1.0; d = 1.0; break;
  case DS_RL_F_FKL: {
    double e = -ell;
    int cap = e > LINK_EXP_CAP;
    if (cap) e = LINK_EXP_CAP;
    v = -exp(e);
    d = cap ? 0.0 : exp(e);
    break;
  }
  case DS_RL_F_JSD: v = 0.5 * (LN2 - softplus(-ell)); d = 0.5 * sigmoid(-ell); break;
  case DS_RL_F_AMARI: {
    double a = f->alpha, e = -a * ell;
    int cap = e > LINK_EXP_CAP;
    if (cap) e = LINK_EXP_CAP;
    v = -expm1(e) / a;
    d = cap ? 0.0 : exp(e);
    break;
  }
  default: v = d = NAN; break;
  }
  if (dlink) *dlink = d;
  return v;
}

/* Kernel: Δ = link(pc − rc) − link(pr − rr) (plain margin for standard DPO), loss(Δ) per
 * ds_rl_dpo_t, chain rule through the links.  Double; softplus form of log σ throughout. */
double ds_rl_dpo(ds_rl_dpo_t kind, const ds_rl_f_t *f, double beta, double label_smoothing,
                 double pc, double pr, double rc, double rr, double *d_chosen,
                 double *d_rejected) {
  double lc = pc - rc, ll = pr - rr, dc = 1.0, dl = 1.0, delta;
  if (!(beta > 0)) return NAN;
  if (f && f->kind == DS_RL_F_TVD) return NAN;
  if (f && f->kind != DS_RL_F_RKL) delta = ds_rl_f_link(f, lc, &dc) - ds_rl_f_link(f, ll, &dl);
  else delta = lc - ll;
  double eps = label_smoothing, x = beta * delta, L, dL; /* dL = ∂loss/∂Δ */
  switch (kind) {
  case DS_RL_DPO_SIGMOID:
    if (!(eps >= 0 && eps <= 1)) return NAN;
    L = (1.0 - eps) * softplus(-x) + eps * softplus(x);
    dL = beta * (-(1.0 - eps) * sigmoid(-x) + eps * sigmoid(x));
    break;
  case DS_RL_DPO_IPO: {
    double c = delta - 1.0 / (2.0 * beta);
    L = c * c;
    dL = 2.0 * c;
    break;
  }
  case DS_RL_DPO_HINGE:
    L = fmax(0.0, 1.0 - x);
    dL = 1.0 - x > 0 ? -beta : 0.0;
    break;
  case DS_RL_DPO_ROBUST:
    if (!(eps >= 0 && eps < 0.5)) return NAN;
    L = ((1.0 - eps) * softplus(-x) - eps * softplus(x)) / (1.0 - 2.0 * eps);
    dL = beta * (-(1.0 - eps) * sigmoid(-x) - eps * sigmoid(x)) / (1.0 - 2.0 * eps);
    break;
  default: return NAN;
  }
  if (d_chosen) *d_chosen = dL * dc;
  if (d_rejected) *d_rejected = -dL * dl;
  return L;
}
