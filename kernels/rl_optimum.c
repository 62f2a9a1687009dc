/* rl_optimum.c — closed-form maximisers of E_π[r] − β Σ π_ref f(π/π_ref) on the simplex
 * (kernels.md §4.8, experiments.md X3/X4/X5), used as test oracles by the rlvr and fdpo tasks.
 *
 * Invariants: π = π_ref·g((r − λ)/β) with g = (f′)⁻¹ increasing, so Σπ is strictly decreasing in
 * λ and the normaliser is unique.  For fkl, jsd and amari g blows up at v_max (0, ½ log 2, 1/α);
 * every token is evaluated through its distance to that singularity,
 *     δ_i = ((max r − r_i) + t)/β,   t = λ − (max r − β v_max) > 0,
 * so that no token loses precision to the cancellation λ − r_i (X5 has λ − max r ≈ 1e-8).  t is
 * bracketed by doubling/halving and bisected (geometric mean while the bracket spans more than a
 * factor 2, arithmetic after) until the midpoint equals an end: full double precision.  Pure
 * functions; no allocation.
 */
#include <math.h>
#include <string.h>

#include "ds_error.h"
#include "ds_rl.h"

#define LN2 0.69314718055994530941723212145817657

/* g at distance δ ≥ 0 below the singularity v_max, i.e. (f′)⁻¹(v_max − δ). */
static double g_of_delta(const ds_rl_f_t *f, double delta) {
  switch (f->kind) {
  case DS_RL_F_FKL: return 1.0 / delta;                 /* −1/v, v = −δ */
  case DS_RL_F_JSD: return 1.0 / expm1(2.0 * delta);    /* e^{2v}/(2 − e^{2v}), v = ½ln2 − δ */
  case DS_RL_F_AMARI: {                                  /* (1 − αv)^{−1/α}, v = 1/α − δ */
    double a = f->alpha;
    return exp(-log(a * delta) / a);
  }
  default: return NAN;
  }
}

static double v_max_of(const ds_rl_f_t *f) {
  switch (f->kind) {
  case DS_RL_F_FKL: return 0.0;
  case DS_RL_F_JSD: return 0.5 * LN2;
  case DS_RL_F_AMARI: return 1.0 / f->alpha;
  default: return NAN;
  }
}

/* Σ_i π_ref,i g(δ_i(t)) over the support. */
static double mass(const ds_rl_f_t *f, size_t K, const double *pref, const double *r,
                   double rmax, double beta, double t) {
  double s = 0;
  for (size_t i = 0; i < K; i++) {
    if (pref[i] > 0) s += pref[i] * g_of_delta(f, ((rmax - r[i]) + t) / beta);
  }
  return s;
}

double ds_rl_f_objective(const ds_rl_f_t *f, size_t K, const double *pref, const double *reward,
                         double beta, const double *pi) {
  double er = 0, reg = 0;
  for (size_t i = 0; i < K; i++) {
    if (pref[i] > 0) {
      er += pi[i] * reward[i];
      reg += pref[i] * ds_rl_f_value(f, pi[i] / pref[i]);
    } else if (pi[i] != 0) {
      return -INFINITY;
    }
  }
  return er - beta * reg;
}

int ds_rl_optimum_f(const ds_rl_f_t *f, size_t K, const double *pref, const double *reward,
                    double beta, double *pi_out, double *lambda_out, double *value_out) {
  if (!f || K == 0 || !pref || !reward || !pi_out || !(beta > 0) || !isfinite(beta))
    return DS_EINVAL;
  if (f->kind == DS_RL_F_AMARI && !(f->alpha > 0 && f->alpha < 1)) return DS_EINVAL;
  if (f->kind < DS_RL_F_RKL || f->kind > DS_RL_F_TVD) return DS_EINVAL;
  double psum = 0, rmax = -INFINITY;
  for (size_t i = 0; i < K; i++) {
    if (!(pref[i] >= 0) || !isfinite(pref[i])) return DS_EINVAL;
    if (pref[i] > 0) {
      if (!isfinite(reward[i])) return DS_EINVAL;
      rmax = fmax(rmax, reward[i]);
    }
    psum += pref[i];
  }
  if (!(fabs(psum - 1.0) <= 1e-9) || !isfinite(rmax)) return DS_EINVAL;

  double lambda;
  if (f->kind == DS_RL_F_RKL) {
    /* π ∝ π_ref e^{(r − max r)/β}: shifting by max r keeps every exponent ≤ 0. */
    double z = 0;
    for (size_t i = 0; i < K; i++) {
      pi_out[i] = pref[i] > 0 ? pref[i] * exp((reward[i] - rmax) / beta) : 0.0;
      z += pi_out[i];
    }
    for (size_t i = 0; i < K; i++) pi_out[i] /= z;
    lambda = rmax + beta * (log(z) - 1.0); /* β(log Σ π_ref e^{r/β} − 1) */
  } else if (f->kind == DS_RL_F_TVD) {
    /* KKT of the linear program: a token whose reward is below max r − β gives up all its mass
     * (moving a unit to the argmax gains more than the β it costs); the argmax set collects it. */
    double freed = 0, ptop = 0;
    for (size_t i = 0; i < K; i++) {
      if (pref[i] > 0 && reward[i] < rmax - beta) freed += pref[i];
      if (pref[i] > 0 && reward[i] == rmax) ptop += pref[i];
    }
    for (size_t i = 0; i < K; i++) {
      if (!(pref[i] > 0)) pi_out[i] = 0.0;
      else if (reward[i] == rmax) pi_out[i] = pref[i] + freed * (pref[i] / ptop);
      else if (reward[i] < rmax - beta) pi_out[i] = 0.0;
      else pi_out[i] = pref[i];
    }
    lambda = rmax - 0.5 * beta;
  } else {
    /* Bracket t: mass(t) → ∞ as t → 0+ (the argmax token's g blows up) and → 0 as t → ∞. */
    double lo = beta, hi = beta;
    if (mass(f, K, pref, reward, rmax, beta, beta) > 1.0) {
      do {
        lo = hi;
        hi *= 2.0;
        if (!isfinite(hi)) return DS_EINVAL;
      } while (mass(f, K, pref, reward, rmax, beta, hi) > 1.0);
    } else {
      do {
        hi = lo;
        lo *= 0.5;
        if (!(lo > 0)) return DS_EINVAL;
      } while (!(mass(f, K, pref, reward, rmax, beta, lo) > 1.0));
    }
    /* Invariant: mass(lo) > 1 ≥ mass(hi). */
    for (;;) {
      double mid = hi > 2.0 * lo ? sqrt(lo) * sqrt(hi) : lo + 0.5 * (hi - lo);
      if (!(mid > lo && mid < hi)) break;
      if (mass(f, K, pref, reward, rmax, beta, mid) > 1.0) lo = mid;
      else hi = mid;
    }
    double t = fabs(mass(f, K, pref, reward, rmax, beta, lo) - 1.0) <
                       fabs(mass(f, K, pref, reward, rmax, beta, hi) - 1.0)
                   ? lo
                   : hi;
    double z = 0;
    for (size_t i = 0; i < K; i++) {
      pi_out[i] = pref[i] > 0 ? pref[i] * g_of_delta(f, ((rmax - reward[i]) + t) / beta) : 0.0;
      z += pi_out[i];
    }
    /* Σπ is 1 to within rounding of t; dividing removes that last ulp-level residue. */
    for (size_t i = 0; i < K; i++) pi_out[i] /= z;
    lambda = (rmax - beta * v_max_of(f)) + t;
  }
  if (lambda_out) *lambda_out = lambda;
  if (value_out) *value_out = ds_rl_f_objective(f, K, pref, reward, beta, pi_out);
  return 0;
}

int ds_rl_optimum(const char *div, double alpha, size_t K, const double *pref,
                  const double *reward, double beta, double *pi_out) {
  ds_rl_f_t f;
  int rc = ds_rl_f_from_name(div, alpha, &f);
  if (rc) return rc;
  return ds_rl_optimum_f(&f, K, pref, reward, beta, pi_out, NULL, NULL);
}
