/* ds_rl.h — RL-objective kernels of the divsweep kernel library (pure compute; no MPI, libuv,
 * SQLite).  Formulas, gradients and anchors: ../shared/reference/kernels.md §4; the findings the
 * closed-form optima serve as oracles for: ../shared/reference/experiments.md X3, X4, X5, X9.
 *
 * Conventions.
 *   - π is the policy (π_θ), π_ref the reference, π_old the behaviour policy.  All log-probs are
 *     natural logs.  "Gradient" always means the derivative of the returned loss/value with
 *     respect to the named input, in double precision unless the function says fp32.
 *   - Per-token functions are pure scalar functions of their arguments: reentrant, callable from
 *     any thread, no allocation.  Batched functions take caller-owned arrays, never keep a
 *     pointer past the call, and write only the outputs they are given (NULL = not wanted).
 *   - Functions that can fail return 0 or a negative DS_E* code (schema/ds_error.h); on failure
 *     the outputs are unspecified unless stated.  Functions returning double never fail (bad
 *     inputs give NaN, as the arithmetic does).
 *   - f-divergence generators (experiments.md X4, DESIGN.md §5; regulariser Σ π_ref f(π/π_ref)):
 *       rkl   f(u) = u log u                            = KL(π‖π_ref)
 *       fkl   f(u) = −log u                             = KL(π_ref‖π)
 *       jsd   f(u) = ½[u log u − (1+u) log((1+u)/2)]    = DESIGN's jsd at beta = ½ (with
 *             p = π_ref, q = π).  NOTE: kernels.md §4.7 and the f-DPO paper / TRL use twice this
 *             f (their f′ = log(2u/(1+u))); β_here = 2·β_paper gives the same objective.
 *       amari f(u) = (u^{1−α} − (1−α)u − α)/(α(α−1))    = DESIGN's amari D(π_ref‖π), α ∈ (0,1),
 *             α→1 is fkl, α→0 is rkl (kernels.md §4.7, the f-DPO paper).  NOTE: experiments.md
 *             X4 writes the generator with α and 1−α swapped; both agree at α = ½.
 *       tvd   f(u) = ½|u − 1| (optimum only; f′ is not invertible, so no f-DPO link).
 */
#ifndef DS_RL_H
#define DS_RL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 4.1 Token log-probs and entropy ----------------------------------------------------- */

/* One row, double reference.  s = z/T, log π = s − LSE(s):
 *   *logp = log π[label],   *entropy = H(π) = LSE(s) − Σ π s.
 * If grad is not NULL it receives the vector–Jacobian product for upstream weights g_logp, g_ent:
 *   grad_j = g_logp·(1[j=label] − π_j)/T  +  g_ent·(−π_j (log π_j + H)/T)     (length V).
 * label < 0 (e.g. −100, ignore_index) is allowed: *logp = 0 and its gradient term is skipped.
 * logp / entropy may be NULL.  Logits may be −inf (masked tokens, 0·log 0 = 0); at least one
 * must be finite.  Returns 0, or DS_EINVAL (V == 0, T ≤ 0, label ≥ V, no finite logit). */
int ds_rl_ref_logprob_row(size_t V, const double *z, double T, int64_t label, double *logp,
                          double *entropy, double g_logp, double g_ent, double *grad);

/* Batched fp32 log-prob/entropy.  logits [rows][vocab] C order, fp32 in, double accumulators
 * per row, fp32 out.  labels [rows] (negative = ignored row: logp 0, no logp gradient).
 * Outputs (each optional, caller-owned): logp [rows], entropy [rows], grad [rows][vocab] =
 * g_logp[r]·∂logp/∂z + g_ent[r]·∂H/∂z (g_logp / g_ent may be NULL, meaning 0).  Rows are split
 * into contiguous blocks over `threads` POSIX threads (≤ 0: 1 thread per 4096 rows, at most 8),
 * so results do not depend on timing.  Returns 0, DS_EINVAL, or DS_ENOMEM (thread creation). */
typedef struct ds_rl_logprob_args {
  size_t rows, vocab;
  const float *logits;    /* [rows][vocab] */
  const int64_t *labels;  /* [rows] */
  double temperature;     /* > 0 */
  const float *g_logp;    /* optional [rows] upstream weights of logp */
  const float *g_ent;     /* optional [rows] upstream weights of entropy */
  int threads;
} ds_rl_logprob_args_t;

int ds_rl_logprob_batch(const ds_rl_logprob_args_t *a, float *logp, float *entropy, float *grad);

/* The same on the bound CUDA device (ds_kern_cuda_bind): one thread block per row, fp32 element
 * maths with double row sums (threads is ignored).  Every array may be host or device memory
 * independently; the call synchronises before returning.  Returns 0, DS_EINVAL, DS_ENOMEM,
 * DS_EIO (CUDA error), or DS_EUNSUP when built without CUDA or without a device. */
int ds_rl_logprob_batch_cuda(const ds_rl_logprob_args_t *a, float *logp, float *entropy, float *grad);

/* ---- 4.2 PPO clipped surrogate ----------------------------------------------------------- */

typedef struct ds_rl_ppo {
  double eps_low, eps_high;  /* clip range [1−eps_low, 1+eps_high]; both ≥ 0 (TRL/verl 0.2) */
  double clip_c;             /* dual clip for A < 0 (verl clip_ratio_c = 3); 0 = off, else > 1 */
  double log_ratio_max;      /* clamp of log ρ to ±this before exp (verl 20); 0 = no clamp */
} ds_rl_ppo_t;

/* One token.  log ρ = clamp(logp − old_logp, ±log_ratio_max), ρ = e^{log ρ}.
 *   L = −min(ρA, clip(ρ, 1−eps_low, 1+eps_high)·A);   dual clip (A < 0, clip_c > 1):
 *   L = min(L, −clip_c·A).
 * *dlogp (optional) = ∂L/∂logp: −ρA where the unclipped branch is active (clip(ρ)A ≥ ρA, the
 * Liger/kernels.md tie rule), 0 where the clip, the dual clip or the log-ratio clamp is active.
 * p must not be NULL.
 * *clipped (optional) = 1 if the gradient was cut by a clip, else 0.  Returns L. */
double ds_rl_ppo_token(const ds_rl_ppo_t *p, double logp, double old_logp, double adv,
                       double *dlogp, int *clipped);

/* n tokens at once: loss[i] = ds_rl_ppo_token(p, logp[i], old_logp[i], adv[i], &dlogp[i]).
 * loss and dlogp (each [n], caller-owned) are optional; *clip_frac (optional) = fraction of the
 * tokens with mask[i] != 0 (mask NULL = all) whose gradient a clip cut, 0 if none is active.
 * Returns 0 or DS_EINVAL (p, logp, old_logp or adv NULL). */
int ds_rl_ppo_batch(const ds_rl_ppo_t *p, size_t n, const double *logp, const double *old_logp,
                    const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                    double *clip_frac);
/* ds_rl_ppo_batch on the CUDA device, one thread per token (double); arrays host or device;
 * same results up to exp rounding.  Extra returns: DS_EIO, DS_EUNSUP (no CUDA build/device). */
int ds_rl_ppo_batch_cuda(const ds_rl_ppo_t *p, size_t n, const double *logp, const double *old_logp,
                         const double *adv, const uint8_t *mask, double *loss, double *dlogp,
                         double *clip_frac);

/* ---- Masked reductions over [B][L] token losses (kernels.md §4.3 loss aggregation) ------- */

typedef enum {
  DS_RL_AGG_TOKEN_MEAN = 0,      /* Σ m ℓ / max(Σ m, 1)                      (bnpo, verl token-mean) */
  DS_RL_AGG_SEQ_MEAN_TOKEN_MEAN, /* mean_b(Σ_t m ℓ / max(Σ_t m, 1))          (grpo) */
  DS_RL_AGG_SEQ_MEAN_TOKEN_SUM,  /* mean_b(Σ_t m ℓ)                          (verl) */
  DS_RL_AGG_SUM,                 /* Σ m ℓ */
  DS_RL_AGG_CONST_NORM           /* Σ m ℓ / (B·norm), norm = L_max (Dr. GRPO; norm ≤ 0 means L) */
} ds_rl_agg_t;

/* Reduces loss [B][L] under mask [B][L] (NULL = all ones; nonzero = active) into *out.  The
 * reduction is linear; if dloss is not NULL it receives ∂out/∂loss [B][L] (0 on masked tokens).
 * Returns 0 or DS_EINVAL (unknown agg, B or L zero, out NULL). */
int ds_rl_reduce(ds_rl_agg_t agg, size_t B, size_t L, const double *loss, const uint8_t *mask,
                 double norm, double *out, double *dloss);

/* ---- 4.3 Group advantages ---------------------------------------------------------------- */

typedef enum {
  DS_RL_ADV_GRPO = 0, /* A_i = (r_i − mean)/(std + eps), std unbiased (Bessel), as verl and TRL */
  DS_RL_ADV_DR_GRPO,  /* A_i = r_i − mean (no std; length normalisation is the reduction's job) */
  DS_RL_ADV_RLOO      /* A_i = r_i − mean_{j≠i} r_j = G/(G−1)·(r_i − mean) */
} ds_rl_adv_t;

/* Advantages for n_groups groups of G completions: rewards and adv are [n_groups][G] (adv may
 * alias rewards).  Groups of one follow verl: mean 0 and std 1, so GRPO gives r/(1+eps) and
 * Dr. GRPO and RLOO give r.  Sums in double; groups are independent.  Invariants (tested):
 * Σ_group A = 0 (G ≥ 2), GRPO is invariant to r → a·r + b (a > 0) up to eps, equal rewards give 0.
 * Returns 0 or DS_EINVAL (unknown kind, G == 0, eps < 0). */
int ds_rl_advantages(ds_rl_adv_t kind, size_t n_groups, size_t G, const double *rewards,
                     double eps, double *adv);

/* ---- 4.4 KL estimators (x ~ π = q, p = π_ref, r = p/q) ----------------------------------- */

typedef enum {
  DS_RL_KL_K1 = 0, /* "k1"/"kl":   logp − ref_logp;          ∂/∂logp = 1;   on-policy E[∇] = 0 */
  DS_RL_KL_K2,     /* "k2"/"mse":  ½(logp − ref_logp)²;      ∂ = logp − ref_logp;
                      E[∇] = ∇KL(π‖π_ref), the reverse-KL gradient */
  DS_RL_KL_K3,     /* "k3"/"low_var_kl": e^{d} − d − 1, d = clamp(ref_logp − logp, ±20), value
                      clamped to [−10, 10] (verl);  ∂ = 1 − e^{d} (0 where a clamp is active);
                      E[∇] = ∇KL(π_ref‖π), the *forward*-KL gradient */
  DS_RL_KL_ABS,    /* "abs": |logp − ref_logp|;              ∂ = sign */
  DS_RL_KL_K1_ST,  /* "k1+": value of k1, gradient of k2 (verl straight-through) */
  DS_RL_KL_K3_ST   /* "k3+": value of k3, gradient of k2 */
} ds_rl_kl_t;

/* Kind from a name listed above; DS_EINVAL for an unknown name (*out untouched). */
int ds_rl_kl_from_name(const char *name, ds_rl_kl_t *out);

/* Per-token estimator value; *dlogp (optional) = ∂value/∂logp as above.  "E[∇]" is the
 * expectation over x ~ π of (∂k/∂logπ(x))·∇_θ logπ(x), i.e. the gradient obtained when the
 * estimator is used as a loss on on-policy samples (verified by exact enumeration in tests). */
double ds_rl_kl_token(ds_rl_kl_t kind, double logp, double ref_logp, double *dlogp);

/* n tokens at once: value[i] = ds_rl_kl_token(kind, logp[i], ref_logp[i], &dlogp[i]); value
 * and dlogp optional, caller-owned [n].  Returns 0 or DS_EINVAL (bad kind, NULL inputs). */
int ds_rl_kl_batch(ds_rl_kl_t kind, size_t n, const double *logp, const double *ref_logp,
                   double *value, double *dlogp);
/* ds_rl_kl_batch on the CUDA device (as ds_rl_ppo_batch_cuda). */
int ds_rl_kl_batch_cuda(ds_rl_kl_t kind, size_t n, const double *logp, const double *ref_logp,
                        double *value, double *dlogp);

/* ---- 4.6 DPO losses and 4.7 f-DPO links -------------------------------------------------- */

typedef enum {
  DS_RL_DPO_SIGMOID = 0, /* −(1−ε) log σ(βΔ) − ε log σ(−βΔ)   (ε = label smoothing, cDPO/TRL) */
  DS_RL_DPO_IPO,         /* (Δ − 1/(2β))²  (pass per-token-averaged log-probs for TRL's IPO) */
  DS_RL_DPO_HINGE,       /* max(0, 1 − βΔ) */
  DS_RL_DPO_ROBUST       /* [−(1−ε) log σ(βΔ) + ε log σ(−βΔ)]/(1 − 2ε), ε < ½ */
} ds_rl_dpo_t;

typedef enum { DS_RL_F_RKL = 0, DS_RL_F_FKL, DS_RL_F_JSD, DS_RL_F_AMARI, DS_RL_F_TVD } ds_rl_f_kind_t;

/* An f-divergence generator (see the top of this file).  Plain data. */
typedef struct ds_rl_f {
  ds_rl_f_kind_t kind;
  double alpha; /* amari only, in (0, 1) */
} ds_rl_f_t;

/* Generator by name ("rkl", "fkl", "jsd", "amari", "tvd"), alpha used by amari only.
 * Returns 0 or DS_EINVAL (unknown name, or amari with alpha outside (0,1)). */
int ds_rl_f_from_name(const char *name, double alpha, ds_rl_f_t *out);

/* f(u) for u ≥ 0 (u = π/π_ref), with 0·log 0 = 0; f(0) = +inf for fkl. */
double ds_rl_f_value(const ds_rl_f_t *f, double u);

/* The f-DPO link f′(u) at u = e^ℓ, ℓ = log π − log π_ref, and *dlink = d f′(e^ℓ)/dℓ (optional):
 *   rkl   ℓ + 1                          d = 1
 *   fkl   −e^{−ℓ}                        d = e^{−ℓ}
 *   jsd   ½(log 2 + log σ(ℓ))            d = ½σ(−ℓ)
 *   amari (1 − e^{−αℓ})/α                d = e^{−αℓ}
 * Exponents are capped at 80 (TRL's cap; the derivative is 0 beyond it) so the link stays
 * finite.  tvd has no link: returns NaN. */
double ds_rl_f_link(const ds_rl_f_t *f, double ell, double *dlink);

/* DPO loss on summed sequence log-probs (policy chosen/rejected, reference chosen/rejected).
 * f == NULL (or rkl) gives standard DPO with margin Δ = (pc − rc) − (pr − rr); otherwise the
 * f-DPO margin Δ_f = f′(u_c) − f′(u_l) (links above), fed to the same loss.  β > 0; label
 * smoothing ε is used by sigmoid (any ε in [0,1]) and robust (ε < ½), ignored otherwise.
 * *d_chosen / *d_rejected (optional) = ∂loss/∂pc and ∂loss/∂pr (those w.r.t. the reference
 * log-probs are their negatives).  Returns the loss; NaN for bad parameters or tvd. */
double ds_rl_dpo(ds_rl_dpo_t kind, const ds_rl_f_t *f, double beta, double label_smoothing,
                 double pc, double pr, double rc, double rr, double *d_chosen,
                 double *d_rejected);

/* ---- 4.8 Closed-form optimal policies (test oracles) ------------------------------------- */

/* Maximiser of J(π) = Σ π r − β Σ π_ref f(π/π_ref) over the simplex, for the generator named
 * `div` ("rkl", "fkl", "jsd", "amari" with alpha ∈ (0,1), "tvd"):
 *   π = π_ref·(f′)⁻¹((r − λ)/β), λ the unique value with Σπ = 1.
 *   rkl:   π ∝ π_ref·e^{r/β} (computed directly, shifted by max r).
 *   fkl / jsd / amari: (f′)⁻¹ has range up to +∞ at v_max = 0 / ½ log 2 / 1/α, so λ > max r −
 *     β v_max.  λ is parametrised as t = λ − (max r − β v_max) > 0 and every token's distance to
 *     the singularity is formed as ((max r − r_i) + t)/β, so tokens near the top keep full
 *     relative precision (X5's λ − max r ≈ 1e-8 loses nothing); t is bracketed geometrically and
 *     bisected until it stops changing, then π is renormalised.  Accuracy ≈ 1e-15 relative.
 *   tvd:   tokens with r_i < max r − β get 0, the freed mass goes to the argmax set in proportion
 *     to π_ref, the rest keep π_ref (the optimum is not unique at ties; this picks that one).
 * Tokens with π_ref = 0 get π = 0.  K ≥ 1, pref ≥ 0 with Σ pref within 1e-9 of 1 and at least
 * one positive, finite rewards over the support, β > 0.  pi_out [K] is caller-owned.
 * Returns 0 or DS_EINVAL (bad name/alpha/inputs). */
int ds_rl_optimum(const char *div, double alpha, size_t K, const double *pref,
                  const double *reward, double beta, double *pi_out);

/* As ds_rl_optimum with a descriptor; *lambda_out (optional) = λ in the theorem's convention
 * (rkl: λ = β(log Z − 1) with Z = Σ π_ref e^{r/β}; tvd: max r − β/2), *value_out (optional) =
 * J(π*).  Same returns. */
int ds_rl_optimum_f(const ds_rl_f_t *f, size_t K, const double *pref, const double *reward,
                    double beta, double *pi_out, double *lambda_out, double *value_out);

/* J(π) = Σ π r − β Σ π_ref f(π/π_ref) for any π.  π must vanish where π_ref does: such a token
 * contributes 0 if π = 0 and makes J = −inf otherwise.  Pure; returns the value (NaN for bad f). */
double ds_rl_f_objective(const ds_rl_f_t *f, size_t K, const double *pref, const double *reward,
                         double beta, const double *pi);

#ifdef __cplusplus
}
#endif
#endif /* DS_RL_H */
