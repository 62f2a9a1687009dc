/* task_rlvr.c — policy optimisation with a verifiable reward and a divergence penalty over K
 * answers (DESIGN.md §6; experiments.md X3, X4, X5, X6, X7, X9).
 *
 * Model.  Prompt type t has reference π_ref,t = softmax(a_t) (its base logits) and reward r_t.
 * The policy is π_t = softmax(a_t + θ_t) with θ_t = θ (params "shared", one θ ∈ R^K) or one θ_t
 * per type ("per_type").  The objective, with type weights w̄_t = w_t / Σ w (types of weight 0
 * are never trained on), is
 *     J(θ) = Σ_t w̄_t [ ρ·Σ_i π_t,i r_t,i − β·D(π_ref,t ‖ π_t) − γ·KL(π_t ‖ π_teacher,t) + η·H_p(π_t) ]
 * with D any divergence of the kernel library in DESIGN §5's naming (so "rkl" is KL(π‖π_ref), the
 * usual RLHF penalty; its gradient comes from ds_ref_div_row), η = entropy_bonus and H_p the
 * entropy of π restricted to its top-p nucleus and renormalised (entropy_top_p = p; p = 1 is the
 * plain entropy).  The nucleus is the smallest set of most probable answers holding ≥ p of the
 * mass, chosen at the current π and not differentiated through (SIREN-style).  ρ = reward_coef
 * (default 1; 0 drops the reward term) and γ = kd_coef (default 0) weight an on-policy
 * reverse-KL distillation term toward a per-type teacher π_teacher,t = softmax(teacher_logits)
 * (types[i].teacher_logits, K numbers; required for every trained type when γ > 0) — KD alone is
 * ρ = 0, γ > 0; KD + RL is ρ = 1, γ > 0 (X12).
 *
 * Estimators.
 *   exact: the full-expectation gradient of J.
 *   grpo:  per step and per type, group_size answers are sampled from π_t (seeded by the trial),
 *          advantages are GRPO's (r − mean)/(std + 1e-6) within the group (ds_rl_advantages), and
 *          `updates` optimiser steps (default 1) descend the PPO clipped surrogate (ratio to the
 *          sampling policy, clip ε = `clip`, default 0.2), mean over the group, weighted by w̄_t.
 *          The penalty is β·∇D exactly, unless kl_estimator ("k1", "k2", "k3") is given: then
 *          β times that estimator on the sampled answers (k1 has zero expected gradient, k2 the
 *          reverse-KL gradient, k3 the forward-KL gradient; kernels.md §4.4).  The KD term is
 *          treated the same way: γ·∇KL(π‖π_teacher) exactly, or with kl_estimator γ times that
 *          estimator of log π(a) − log π_teacher(a) on the sampled answers (k2: the on-policy
 *          reverse-KL gradient in expectation).  The reward term's surrogate is scaled by ρ.  The
 *          entropy bonus is exact.
 *
 * Optimisers (on θ, minimising −J): "gd" (default) and "adam" with lr and optional step_clip
 * (each coordinate's step bounded); "newton" (exact only): damped Newton with a finite-difference
 * Hessian after a mirror-descent warm start (ds__newton), `steps` = at most that many Newton
 * steps, converging to machine precision where the optimum is interior — used to check the
 * closed forms; "mirror" (exact; per_type or a
 * single type): the exponentiated-gradient step log π_t ← log π_t + lr·(∂J_t/∂π_t − ⟨π_t, ∂J_t/∂π_t⟩),
 * which for an rkl/entropy objective with lr = 1/(β+η) reaches the optimum in one step.
 *
 * Initialisation: θ = init_theta (length K, every type block) or zeros; collapse_answer j with
 * collapse_prob ε then sets θ_j (of every block) so that π_t(j) = ε for the first type while the
 * other answers keep their reference ratios (X7's collapsed start).
 *
 * Metrics (weighted by w̄ over types): reward, pass_at_1 and pass_at_<k> for each k in `k`
 * (1 − (1 − P)^k, P = Σ π·reward clamped to [0, 1]), entropy, rkl_ref = KL(π‖π_ref),
 * fkl_ref = KL(π_ref‖π); over eval_types (their own weights; θ shared, or 0 for per_type):
 * ood_pass_at_1, ood_pass_at_<k>, ood_entropy; the reference policy's base_pass_at_1,
 * base_pass_at_<k> and base_entropy over the trained types; optimality_gap = max |π − π*| over trained types
 * when a closed form exists (ds_rl_optimum_f; per_type or one type): η = 0 with rkl, fkl,
 * jsd (beta ½), amari or tvd, β > 0; or η > 0, p = 1 with β = 0 or rkl, where
 * π* ∝ π_ref^{β/(β+η)}·e^{r/(β+η)} (entropy = KL to uniform).  With collapse_answer:
 * recover_step (first step at which π(j) ≥ recover_frac·π_ref(j) for the first type, default
 * frac ½; `steps` if never) and recovered (0/1).  With report_pi: pi_<i> for the first type (and
 * opt_pi_<i> where π* exists).  With teacher_logits on trained types: teacher_pass_at_1 (the
 * teachers' success probability) and rkl_teacher = KL(π‖π_teacher), weighted over those types.
 * optimality_gap is reported only for ρ = 1, γ = 0.  Curves: reward, pass_at_1, entropy at log-spaced steps.
 *
 * Backends (trial.backend; ds__backend_pick, sized nT·K for exact and nT·G·K for grpo).  On "ref"
 * everything above runs in double, type by type.  Otherwise the per-step work of all types goes
 * through the batched kernels at once: β·D(π_ref‖π) and γ·KL(π‖π_teacher) through ds_kern_fwd_bwd
 * (nT rows), the entropy (top_p = 1) through ds_rl_logprob_batch (kernel_terms); for grpo, one token
 * row per sampled answer (nT·G rows, the type's logits repeated) through ds_rl_logprob_batch for
 * log π(a) and, weighted by the surrogate's and the estimators' derivatives (ds_rl_ppo_batch,
 * ds_rl_kl_batch), for the gradient (grpo_kernel_grad).  The policy logits are rounded to fp32;
 * θ, the optimiser, the sampling (so both backends draw the same answers), the expected reward,
 * the top-p nucleus entropy and every metric stay in double.  Sums over rows are formed here in
 * row order, so results do not depend on the kernels' thread count.  newton stays on "ref".
 */
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds__tasks.h"
#include "ds_error.h"
#include "ds_rand.h"

typedef struct rtype {
  double w;
  double *a, *r; /* base logits, reward [K] */
  double *q;     /* teacher log-probs [K] (log softmax of teacher_logits), or NULL */
} rtype_t;

typedef struct rl {
  size_t K, nT, nE, nB, n; /* answers, types, eval types, θ blocks, parameters */
  rtype_t *T, *E;
  double wsum, esum;
  int per_type;
  ds_div_t div;
  double beta, eta, top_p;
  double kd, rho; /* kd_coef γ, reward_coef ρ */
  double *z, *pi, *lp, *g1, *g2; /* scratch [K] */
  size_t *order;
  /* The batched kernels (trial.backend not "ref"; see "Backends" at the top). */
  const ds__backend_t *bk; /* NULL: everything in double in the loops below */
  float *zf, *af, *qf, *gf; /* [nT][K] fp32: policy logits, base logits, teacher log-probs, gradient */
  double *gk, *jk, *rowl;   /* [nT][K] ∂(−J_t)/∂z of the kernel terms, [nT] their −J_t, [nT] row losses */
  float *ent, *one;         /* [nT] entropies, [nT] ones (the entropy's upstream weight) */
  int64_t *nolab;           /* [nT] −1: no label (entropy only) */
  uint8_t *mask;            /* [nT] 1 for trained types */
} rl_t;

static void rl_free(rl_t *m) {
  for (size_t i = 0; i < m->nT; i++) {
    free(m->T[i].a);
    free(m->T[i].r);
    free(m->T[i].q);
  }
  for (size_t i = 0; i < m->nE; i++) {
    free(m->E[i].a);
    free(m->E[i].r);
    free(m->E[i].q);
  }
  free(m->T);
  free(m->E);
  free(m->z);
  free(m->pi);
  free(m->lp);
  free(m->g1);
  free(m->g2);
  free(m->order);
  free(m->zf);
  free(m->af);
  free(m->qf);
  free(m->gf);
  free(m->gk);
  free(m->jk);
  free(m->rowl);
  free(m->ent);
  free(m->one);
  free(m->nolab);
  free(m->mask);
}

static const double *block(const rl_t *m, const double *th, size_t t) { return th + (m->per_type ? t * m->K : 0); }

/* π = softmax(a + θ) into m->pi, log π into m->lp, logits into m->z. */
static void policy(rl_t *m, const double *a, const double *th) {
  for (size_t i = 0; i < m->K; i++) m->z[i] = a[i] + (th ? th[i] : 0);
  ds_ref_log_softmax(m->K, m->z, 1.0, m->lp);
  for (size_t i = 0; i < m->K; i++) m->pi[i] = exp(m->lp[i]);
}

static int cmp_desc_ctx_pi(const void *x, const void *y, void *arg) {
  const double *pi = arg;
  double a = pi[*(const size_t *)x], b = pi[*(const size_t *)y];
  return a > b ? -1 : a < b ? 1 : (*(const size_t *)x > *(const size_t *)y) - (*(const size_t *)x < *(const size_t *)y);
}

/* Entropy of the top-p nucleus of m->pi (renormalised); gz (optional) += scale·∂H_p/∂z. */
static double nucleus_entropy(rl_t *m, double scale, double *gz) {
  size_t K = m->K, nn = K;
  double P = 1;
  if (m->top_p < 1) {
    for (size_t i = 0; i < K; i++) m->order[i] = i;
    qsort_r(m->order, K, sizeof *m->order, cmp_desc_ctx_pi, m->pi);
    double c = 0;
    for (nn = 0; nn < K;) {
      c += m->pi[m->order[nn++]];
      if (c >= m->top_p) break;
    }
    P = c;
  } else {
    for (size_t i = 0; i < K; i++) m->order[i] = i;
  }
  double lP = log(P), H = 0;
  for (size_t j = 0; j < nn; j++) {
    size_t i = m->order[j];
    double pt = m->pi[i] / P;
    if (pt > 0) H -= pt * (m->lp[i] - lP);
  }
  if (gz)
    for (size_t j = 0; j < nn; j++) {
      size_t i = m->order[j];
      double pt = m->pi[i] / P;
      if (pt > 0) gz[i] += scale * pt * (-(m->lp[i] - lP) - H);
    }
  return H;
}

/* The terms of −J that the batched kernels compute, for every trained type at once: with div,
 * β·D(π_ref,t ‖ π_t) (ds_kern_fwd_bwd, the base logits as the teacher); with kd, γ·KL(π_t ‖ π_teacher,t)
 * (ds_kern_fwd_bwd, rkl, the teacher's log-probs as its logits); with ent, −η·H(π_t)
 * (ds_rl_logprob_batch).  Per type t: m->jk[t] = that part of −J_t, m->gk + t·K its gradient in z
 * (unweighted by w̄_t).  Row losses are summed here, in type order, so nothing depends on how the
 * kernels split rows over threads.  Returns 0 or the kernel's DS_E* code. */
static int kernel_terms(rl_t *m, const double *th, int div, int kd, int ent) {
  size_t K = m->K, nT = m->nT;
  for (size_t t = 0; t < nT; t++) {
    const double *b = block(m, th, t);
    for (size_t i = 0; i < K; i++) m->zf[t * K + i] = (float)(m->T[t].a[i] + b[i]);
  }
  memset(m->gk, 0, nT * K * sizeof *m->gk);
  memset(m->jk, 0, nT * sizeof *m->jk);
  for (int term = 0; term < 2; term++) {
    double c = term == 0 ? m->beta : m->kd;
    if (!(term == 0 ? div : kd) || !(c > 0)) continue;
    ds_div_t rkl;
    ds_div_from_name("rkl", &rkl);
    const float *teacher = term == 0 ? m->af : m->qf;
    ds_kern_args_t a = {term == 0 ? &m->div : &rkl, nT, K, 1, &teacher, NULL, DS_MIX_ARITHMETIC, m->zf, 1.0, 1.0, 0,
                        DS_RED_NONE, m->mask, m->bk->threads, DS_DTYPE_F32};
    ds_kern_out_t o = {0, m->rowl, m->gf};
    int rc = ds_kern_fwd_bwd(m->bk->be, &a, &o);
    if (rc) return rc;
    for (size_t t = 0; t < nT; t++) {
      if (!m->mask[t]) continue;
      m->jk[t] += c * m->rowl[t];
      for (size_t i = 0; i < K; i++) m->gk[t * K + i] += c * (double)m->gf[t * K + i];
    }
  }
  if (ent && m->eta > 0) {
    ds_rl_logprob_args_t a = {nT, K, m->zf, m->nolab, 1.0, NULL, m->one, m->bk->threads};
    int rc = ds_rl_logprob_batch(&a, NULL, m->ent, m->gf);
    if (rc) return rc;
    for (size_t t = 0; t < nT; t++) {
      if (!m->mask[t]) continue;
      m->jk[t] -= m->eta * (double)m->ent[t];
      for (size_t i = 0; i < K; i++) m->gk[t * K + i] -= m->eta * (double)m->gf[t * K + i];
    }
  }
  return 0;
}

/* −J(θ) and its gradient.  gb (optional, [nT][K]) receives ∂(−J)/∂z per type.  On the batched
 * kernels the penalty, KD and (top_p = 1) entropy terms come from kernel_terms(); a kernel error
 * gives NaN (*krc, when given, the code). */
static double neg_objective_rc(rl_t *m, const double *th, double *g, double *gb, int *krc) {
  size_t K = m->K;
  double f = 0;
  if (g) memset(g, 0, m->n * sizeof *g);
  if (m->bk) {
    int rc = kernel_terms(m, th, 1, 1, m->top_p >= 1);
    if (krc) *krc = rc;
    if (rc) return NAN;
  }
  for (size_t t = 0; t < m->nT; t++) {
    const rtype_t *ty = &m->T[t];
    double wt = ty->w / m->wsum;
    double *gz = gb ? gb + t * K : m->g2;
    memset(gz, 0, K * sizeof *gz);
    if (!(wt > 0)) continue;
    policy(m, ty->a, block(m, th, t));
    double er = 0;
    for (size_t i = 0; i < K; i++) er += m->pi[i] * ty->r[i];
    double J = m->rho * er;
    for (size_t i = 0; i < K; i++) gz[i] -= m->rho * m->pi[i] * (ty->r[i] - er);
    if (m->bk) {
      J -= m->jk[t];
      for (size_t i = 0; i < K; i++) gz[i] += m->gk[t * K + i];
      if (m->eta > 0 && m->top_p < 1) J += m->eta * nucleus_entropy(m, -m->eta, gz);
    } else if (m->kd > 0) {
      /* ∂KL(π‖q)/∂z_j = π_j (log π_j − log q_j − KL(π‖q)). */
      double kl = ds_ref_div_logprob(&ds__div_kl, K, m->lp, ty->q, NULL);
      J -= m->kd * kl;
      for (size_t i = 0; i < K; i++)
        if (m->pi[i] > 0) gz[i] += m->kd * m->pi[i] * (m->lp[i] - ty->q[i] - kl);
    }
    if (!m->bk && m->beta > 0) {
      const double *tp = ty->a;
      J -= m->beta * ds_ref_div_row(&m->div, K, 1, &tp, NULL, DS_MIX_ARITHMETIC, m->z, 1.0, 1.0, 0, m->g1);
      for (size_t i = 0; i < K; i++) gz[i] += m->beta * m->g1[i];
    }
    if (!m->bk && m->eta > 0) J += m->eta * nucleus_entropy(m, -m->eta, gz);
    f -= wt * J;
    for (size_t i = 0; i < K; i++) gz[i] *= wt;
    if (g) {
      double *gt = g + (m->per_type ? t * K : 0);
      for (size_t i = 0; i < K; i++) gt[i] += gz[i];
    }
  }
  return f;
}

/* A GRPO step's tokens on the batched kernels: one row per sampled answer (G per type, types in
 * order), the type's policy logits repeated in each — the layout of a trainer's [batch][vocab]. */
typedef struct toks {
  size_t n;                      /* nT·G */
  float *z, *g, *lpf, *gl;       /* [n][K] logits, [n][K] gradient, [n] log π(a), [n] upstream weights */
  int64_t *lab;                  /* [n] sampled answer, −1 for untrained types */
  uint8_t *mask;                 /* [n] */
  double *lp, *ref, *teach;      /* [n] log π(a), log π_ref(a), log π_teacher(a) */
  double *dl, *dk, *dt;          /* [n] ∂/∂log π(a) of the surrogate, the KL and the KD estimators */
  double *lref;                  /* [nT][K] log π_ref */
} toks_t;

static void toks_free(toks_t *k) {
  free(k->z); free(k->g); free(k->lpf); free(k->gl); free(k->lab); free(k->mask);
  free(k->lp); free(k->ref); free(k->teach); free(k->dl); free(k->dk); free(k->dt); free(k->lref);
}

static int toks_init(toks_t *k, const rl_t *m, size_t G) {
  size_t n = m->nT * G, K = m->K;
  memset(k, 0, sizeof *k);
  k->n = n;
  k->z = malloc(n * K * sizeof *k->z);
  k->g = malloc(n * K * sizeof *k->g);
  k->lpf = malloc(n * sizeof *k->lpf);
  k->gl = malloc(n * sizeof *k->gl);
  k->lab = malloc(n * sizeof *k->lab);
  k->mask = malloc(n * sizeof *k->mask);
  k->lp = calloc(n, sizeof *k->lp);
  k->ref = calloc(n, sizeof *k->ref);
  k->teach = calloc(n, sizeof *k->teach);
  k->dl = calloc(n, sizeof *k->dl);
  k->dk = calloc(n, sizeof *k->dk);
  k->dt = calloc(n, sizeof *k->dt);
  k->lref = malloc(m->nT * K * sizeof *k->lref);
  if (!k->z || !k->g || !k->lpf || !k->gl || !k->lab || !k->mask || !k->lp || !k->ref || !k->teach || !k->dl ||
      !k->dk || !k->dt || !k->lref)
    return DS_ENOMEM;
  for (size_t t = 0; t < m->nT; t++) ds_ref_log_softmax(K, m->T[t].a, 1.0, k->lref + t * K);
  return 0;
}

/* log π(a) of every token at θ (ds_rl_logprob_batch) into k->lp; fills the rows and labels. */
static int toks_logp(const rl_t *m, const double *th, size_t G, const size_t *samp, toks_t *k) {
  size_t K = m->K;
  for (size_t t = 0; t < m->nT; t++) {
    const double *b = block(m, th, t);
    for (size_t i = 0; i < G; i++) {
      size_t r = t * G + i;
      float *z = k->z + r * K;
      for (size_t j = 0; j < K; j++) z[j] = (float)(m->T[t].a[j] + b[j]);
      k->mask[r] = m->T[t].w > 0;
      k->lab[r] = k->mask[r] ? (int64_t)samp[r] : -1;
      if (k->mask[r]) {
        k->ref[r] = k->lref[t * K + samp[r]];
        k->teach[r] = m->T[t].q ? m->T[t].q[samp[r]] : 0;
      }
    }
  }
  ds_rl_logprob_args_t a = {k->n, K, k->z, k->lab, 1.0, NULL, NULL, m->bk->threads};
  int rc = ds_rl_logprob_batch(&a, k->lpf, NULL, NULL);
  for (size_t r = 0; r < k->n; r++) k->lp[r] = k->lpf[r];
  return rc;
}

/* The gradient g of one GRPO update on the batched kernels: token log-probs (ds_rl_logprob_batch),
 * the clipped surrogate (ds_rl_ppo_batch), the KL estimators (ds_rl_kl_batch), the token gradients
 * with those upstream weights (ds_rl_logprob_batch again), and the exact terms (kernel_terms).
 * Token gradients are summed per type in token order here, so the result does not depend on the
 * kernels' thread split.  The same terms as the reference loop in rlvr_run. */
static int grpo_kernel_grad(rl_t *m, const double *th, size_t G, const size_t *samp, const double *old,
                            const double *adv, const ds_rl_ppo_t *ppo, int use_kl, ds_rl_kl_t klk, toks_t *k,
                            double *g) {
  size_t K = m->K, n = k->n;
  int rc = toks_logp(m, th, G, samp, k);
  if (!rc) rc = ds_rl_ppo_batch(ppo, n, k->lp, old, adv, k->mask, NULL, k->dl, NULL);
  if (!rc && use_kl && m->beta > 0) rc = ds_rl_kl_batch(klk, n, k->lp, k->ref, NULL, k->dk);
  if (!rc && use_kl && m->kd > 0) rc = ds_rl_kl_batch(klk, n, k->lp, k->teach, NULL, k->dt);
  if (rc) return rc;
  for (size_t r = 0; r < n; r++) {
    double c = m->rho * k->dl[r];
    if (use_kl && m->beta > 0) c += m->beta * k->dk[r];
    if (use_kl && m->kd > 0) c += m->kd * k->dt[r];
    k->gl[r] = k->mask[r] ? (float)(c / (double)G) : 0.0f;
  }
  ds_rl_logprob_args_t a = {n, K, k->z, k->lab, 1.0, k->gl, NULL, m->bk->threads};
  if ((rc = ds_rl_logprob_batch(&a, NULL, NULL, k->g))) return rc;
  if ((rc = kernel_terms(m, th, !use_kl, !use_kl, m->top_p >= 1))) return rc;
  memset(g, 0, m->n * sizeof *g);
  for (size_t t = 0; t < m->nT; t++) {
    double wt = m->T[t].w / m->wsum;
    if (!(wt > 0)) continue;
    double *gz = m->g2;
    for (size_t j = 0; j < K; j++) gz[j] = m->gk[t * K + j];
    for (size_t i = 0; i < G; i++) {
      const float *tg = k->g + (t * G + i) * K;
      for (size_t j = 0; j < K; j++) gz[j] += tg[j];
    }
    if (m->eta > 0 && m->top_p < 1) {
      policy(m, m->T[t].a, block(m, th, t));
      nucleus_entropy(m, -m->eta, gz);
    }
    double *gt = g + (m->per_type ? t * K : 0);
    for (size_t j = 0; j < K; j++) gt[j] += wt * gz[j];
  }
  return 0;
}

static double neg_objective(rl_t *m, const double *th, double *g, double *gb) { return neg_objective_rc(m, th, g, gb, NULL); }

static double newton_fn(void *arg, const double *x, double *grad) { return neg_objective(arg, x, grad, NULL); }

/* Probabilities that precondition the mirror phase of ds__newton: each block's policy (for a
 * shared θ, the weighted mean over types; any positive scaling keeps the step a descent one). */
static void newton_probs(void *arg, const double *x, double *pi) {
  rl_t *m = arg;
  memset(pi, 0, m->n * sizeof *pi);
  for (size_t t = 0; t < m->nT; t++) {
    double wt = m->T[t].w / m->wsum;
    if (!(wt > 0)) continue;
    policy(m, m->T[t].a, block(m, x, t));
    double *o = pi + (m->per_type ? t * m->K : 0);
    for (size_t i = 0; i < m->K; i++) o[i] += (m->per_type ? 1 : wt) * m->pi[i];
  }
}

typedef struct stats {
  double reward, pass1, entropy, rkl, fkl;
  double pk[16];
} stats_t;

/* Weighted statistics over a set of types. */
static void type_stats(rl_t *m, const rtype_t *set, size_t nset, double wsum, const double *th, int use_theta,
                       const double *ks, size_t nk, stats_t *s) {
  memset(s, 0, sizeof *s);
  double *lref = m->g1;
  for (size_t t = 0; t < nset; t++) {
    double wt = set[t].w / wsum;
    if (!(wt > 0)) continue;
    ds_ref_log_softmax(m->K, set[t].a, 1.0, lref);
    policy(m, set[t].a, use_theta ? block(m, th, m->per_type ? t : 0) : NULL);
    double P = 0;
    for (size_t i = 0; i < m->K; i++) P += m->pi[i] * set[t].r[i];
    s->reward += wt * P;
    P = fmin(1, fmax(0, P));
    s->pass1 += wt * P;
    for (size_t j = 0; j < nk; j++) s->pk[j] += wt * (1 - pow(1 - P, ks[j]));
    s->entropy += wt * ds_ref_div_logprob(&ds__div_entropy, m->K, m->lp, m->lp, NULL);
    s->rkl += wt * ds_ref_div_logprob(&ds__div_kl, m->K, m->lp, lref, NULL);
    s->fkl += wt * ds_ref_div_logprob(&ds__div_kl, m->K, lref, m->lp, NULL);
  }
}

/* Closed-form optimum for type t into out; returns 0 if one exists. */
static int optimum(rl_t *m, size_t t, double *out) {
  size_t K = m->K;
  double *pref = m->g1;
  ds_ref_log_softmax(K, m->T[t].a, 1.0, pref);
  ds_rl_f_t f;
  double beta = m->beta;
  if (m->kd > 0 || m->rho != 1) return -1;
  if (m->eta == 0) {
    if (!(m->beta > 0)) return -1;
    switch (m->div.kind) {
      case DS_DIV_RKL: f.kind = DS_RL_F_RKL; break;
      case DS_DIV_FKL: f.kind = DS_RL_F_FKL; break;
      case DS_DIV_TVD: f.kind = DS_RL_F_TVD; break;
      case DS_DIV_AMARI: f.kind = DS_RL_F_AMARI; f.alpha = m->div.alpha; break;
      case DS_DIV_JSD:
        if (m->div.beta != 0.5) return -1;
        f.kind = DS_RL_F_JSD;
        break;
      default: return -1;
    }
  } else {
    if (m->top_p < 1 || !(m->beta == 0 || m->div.kind == DS_DIV_RKL)) return -1;
    /* β·KL(π‖π_ref) − η·H(π) = (β+η)·KL(π‖π') + const, log π' ∝ (β log π_ref − η log K)/(β+η). */
    for (size_t i = 0; i < K; i++) pref[i] = m->beta * pref[i] / (m->beta + m->eta);
    ds_ref_log_softmax(K, pref, 1.0, pref);
    f.kind = DS_RL_F_RKL;
    beta = m->beta + m->eta;
  }
  f.alpha = f.kind == DS_RL_F_AMARI ? m->div.alpha : 0;
  double s = 0;
  for (size_t i = 0; i < K; i++) s += pref[i] = exp(pref[i]);
  for (size_t i = 0; i < K; i++) pref[i] /= s;
  return ds_rl_optimum_f(&f, K, pref, m->T[t].r, beta, out, NULL, NULL) ? -1 : 0;
}

/* Reads a type list. */
static int read_types(ds_task_ctx_t *ctx, const cJSON *v, size_t K, rtype_t **out, size_t *n, double *wsum,
                      const char *what) {
  *n = v ? (size_t)cJSON_GetArraySize(v) : 0;
  *out = calloc(*n ? *n : 1, sizeof **out);
  *wsum = 0;
  if (!*out) return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
  size_t t = 0;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next, t++) {
    rtype_t *ty = &(*out)[t];
    ty->w = ds_param_num(c, "weight", 1);
    ty->a = calloc(K, sizeof *ty->a);
    ty->r = calloc(K, sizeof *ty->r);
    if (!ty->a || !ty->r) return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "base_logits");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reward");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "teacher_logits");
    if (q) {
      if ((size_t)cJSON_GetArraySize(q) != K)
        return ds_task_fail(ctx, DS_ESPEC, "%s[%zu].teacher_logits: %d values for %zu answers", what, t, cJSON_GetArraySize(q), K);
      if (!(ty->q = malloc(K * sizeof *ty->q))) return ds_task_fail(ctx, DS_ENOMEM, "out of memory");
      ds__get_nums(q, ty->q, K);
      ds_ref_log_softmax(K, ty->q, 1.0, ty->q);
    }
    if (a && (size_t)cJSON_GetArraySize(a) != K)
      return ds_task_fail(ctx, DS_ESPEC, "%s[%zu].base_logits: %d values for %zu answers", what, t, cJSON_GetArraySize(a), K);
    ds__get_nums(a, ty->a, K);
    if (cJSON_IsArray(r)) {
      if ((size_t)cJSON_GetArraySize(r) != K)
        return ds_task_fail(ctx, DS_ESPEC, "%s[%zu].reward: %d values for %zu answers", what, t, cJSON_GetArraySize(r), K);
      ds__get_nums(r, ty->r, K);
    } else if (r) {
      for (const cJSON *i = cJSON_GetObjectItemCaseSensitive(r, "ones")->child; i; i = i->next) {
        if (i->valuedouble >= (double)K)
          return ds_task_fail(ctx, DS_ESPEC, "%s[%zu].reward.ones: answer %g out of range (K = %zu)", what, t, i->valuedouble, K);
        ty->r[(size_t)i->valuedouble] = 1;
      }
    }
    *wsum += ty->w;
  }
  return 0;
}

static int add_stats(ds_task_ctx_t *ctx, const char *prefix, const stats_t *s, const double *ks, size_t nk, int full) {
  char name[64];
  int rc = 0;
  if (full) {
    rc = ds_result_metric(ctx->res, "reward", s->reward);
    if (!rc) rc = ds_result_metric(ctx->res, "entropy", s->entropy);
    if (!rc) rc = ds_result_metric(ctx->res, "rkl_ref", s->rkl);
    if (!rc) rc = ds_result_metric(ctx->res, "fkl_ref", s->fkl);
  } else {
    snprintf(name, sizeof name, "%sentropy", prefix);
    rc = ds_result_metric(ctx->res, name, s->entropy);
  }
  snprintf(name, sizeof name, "%spass_at_1", prefix);
  if (!rc) rc = ds_result_metric(ctx->res, name, s->pass1);
  for (size_t j = 0; j < nk && !rc; j++) {
    if (ks[j] == 1) continue;
    snprintf(name, sizeof name, "%spass_at_%.0f", prefix, ks[j]);
    rc = ds_result_metric(ctx->res, name, s->pk[j]);
  }
  return rc;
}

static int rlvr_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  rl_t m = {0};
  int rc = 0;
  double *th = NULL, *g = NULL, *gb = NULL, *opt_pi = NULL, *rew = NULL, *adv = NULL, *old = NULL;
  size_t *samp = NULL;
  toks_t tk = {0};
  ds__opt_t opt = {0};
  char msg[300];
  const cJSON *types = cJSON_GetObjectItemCaseSensitive(p, "types");
  const cJSON *evals = cJSON_GetObjectItemCaseSensitive(p, "eval_types");
  size_t K = (size_t)ds_param_num(p, "answers", 0);
  if (!K && types && types->child) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(types->child, "base_logits");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(types->child, "reward");
    K = a ? (size_t)cJSON_GetArraySize(a) : cJSON_IsArray(r) ? (size_t)cJSON_GetArraySize(r) : 0;
  }
  if (!K) return ds_task_fail(ctx, DS_ESPEC, "answers: missing");
  if (!types) return ds_task_fail(ctx, DS_ESPEC, "types: missing");
  m.K = K;
  if ((rc = read_types(ctx, types, K, &m.T, &m.nT, &m.wsum, "types"))) goto done;
  if ((rc = read_types(ctx, evals, K, &m.E, &m.nE, &m.esum, "eval_types"))) goto done;
  if (!(m.wsum > 0)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "types: the weights sum to 0");
    goto done;
  }
  m.per_type = !strcmp(ds_param_str(p, "params", "shared"), "per_type");
  m.nB = m.per_type ? m.nT : 1;
  m.n = m.nB * K;
  ds_div_from_name("rkl", &m.div);
  const cJSON *dv = cJSON_GetObjectItemCaseSensitive(p, "divergence");
  if (dv && ds__div_parse(dv, &m.div, msg, sizeof msg)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "divergence%s", msg);
    goto done;
  }
  m.beta = ds_param_num(p, "beta", 0);
  m.eta = ds_param_num(p, "entropy_bonus", 0);
  m.top_p = ds_param_num(p, "entropy_top_p", 1);
  m.kd = ds_param_num(p, "kd_coef", 0);
  m.rho = ds_param_num(p, "reward_coef", 1);
  for (size_t t = 0; t < m.nT && m.kd > 0; t++)
    if (m.T[t].w > 0 && !m.T[t].q) {
      rc = ds_task_fail(ctx, DS_ESPEC, "types[%zu].teacher_logits: missing (kd_coef > 0 needs a teacher for every trained type)", t);
      goto done;
    }
  int grpo = !strcmp(ds_param_str(p, "estimator", "exact"), "grpo");
  ds__opt_kind_t ok = DS__OPT_GD;
  ds__opt_from_name(ds_param_str(p, "optimizer", "gd"), &ok);
  if (grpo && (ok == DS__OPT_NEWTON || ok == DS__OPT_MIRROR)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: %s needs the exact estimator", ok == DS__OPT_NEWTON ? "newton" : "mirror");
    goto done;
  }
  if (ok == DS__OPT_MIRROR && !m.per_type && m.nT > 1) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: mirror needs params per_type (or one type)");
    goto done;
  }
  if (ok == DS__OPT_NEWTON && m.n > 2048) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: newton handles at most 2048 parameters (%zu here)", m.n);
    goto done;
  }
  long steps = (long)ds_param_num(p, "steps", 1000);
  double lr = ds_param_num(p, "lr", 1);
  double ks[16];
  size_t nk = 0;
  const cJSON *kk = cJSON_GetObjectItemCaseSensitive(p, "k");
  if (cJSON_IsNumber(kk)) ks[nk++] = kk->valuedouble;
  else nk = ds__get_nums(kk, ks, 16);

  m.z = malloc(K * sizeof *m.z);
  m.pi = malloc(K * sizeof *m.pi);
  m.lp = malloc(K * sizeof *m.lp);
  m.g1 = malloc(K * sizeof *m.g1);
  m.g2 = malloc(K * sizeof *m.g2);
  m.order = malloc(K * sizeof *m.order);
  th = calloc(m.n, sizeof *th);
  g = malloc(m.n * sizeof *g);
  gb = malloc(m.nT * K * sizeof *gb);
  opt_pi = malloc(K * sizeof *opt_pi);
  if (!m.z || !m.pi || !m.lp || !m.g1 || !m.g2 || !m.order || !th || !g || !gb || !opt_pi) goto oom;

  /* The backend, from the size of the main kernel call: nT rows of K answers (exact), nT·G token
   * rows (grpo).  Newton's finite-difference Hessian needs double gradients, so it stays on the
   * reference (auto) or refuses a fast backend asked for by name. */
  size_t G = (size_t)ds_param_num(p, "group_size", 8);
  if (ok == DS__OPT_NEWTON && ctx->backend && strcmp(ctx->backend, "auto") && strcmp(ctx->backend, "ref")) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: newton runs on trial.backend \"ref\" only (its finite-difference Hessian needs double gradients)");
    goto done;
  }
  ds__backend_t bk;
  size_t elems = m.nT * K * (grpo ? G : 1);
  if (ok == DS__OPT_NEWTON || elems > DS__AUTO_MAX_TOKEN_ELEMS) elems = 0;
  if ((rc = ds__backend_pick(ctx, "rlvr", elems, 0, &bk))) goto done;
  if (bk.be) {
    size_t nt = m.nT, nel = m.nT * K;
    m.bk = &bk;
    m.zf = malloc(nel * sizeof *m.zf);
    m.af = malloc(nel * sizeof *m.af);
    m.qf = calloc(nel, sizeof *m.qf);
    m.gf = malloc(nel * sizeof *m.gf);
    m.gk = malloc(nel * sizeof *m.gk);
    m.jk = malloc(nt * sizeof *m.jk);
    m.rowl = malloc(nt * sizeof *m.rowl);
    m.ent = malloc(nt * sizeof *m.ent);
    m.one = malloc(nt * sizeof *m.one);
    m.nolab = malloc(nt * sizeof *m.nolab);
    m.mask = malloc(nt * sizeof *m.mask);
    if (!m.zf || !m.af || !m.qf || !m.gf || !m.gk || !m.jk || !m.rowl || !m.ent || !m.one || !m.nolab || !m.mask) goto oom;
    for (size_t t = 0; t < nt; t++) {
      for (size_t i = 0; i < K; i++) m.af[t * K + i] = (float)m.T[t].a[i];
      if (m.T[t].q)
        for (size_t i = 0; i < K; i++) m.qf[t * K + i] = (float)m.T[t].q[i];
      m.one[t] = 1;
      m.nolab[t] = -1;
      m.mask[t] = m.T[t].w > 0;
    }
  }

  /* Initial θ. */
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, "init_theta");
  if (it) {
    if ((size_t)cJSON_GetArraySize(it) != K) {
      rc = ds_task_fail(ctx, DS_ESPEC, "init_theta: %d values for %zu answers", cJSON_GetArraySize(it), K);
      goto done;
    }
    for (size_t b = 0; b < m.nB; b++) ds__get_nums(it, th + b * K, K);
  }
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(p, "collapse_answer");
  long cj = ca ? (long)ca->valuedouble : -1;
  double rfrac = ds_param_num(p, "recover_frac", 0.5);
  if (ca) {
    if (cj >= (long)K) {
      rc = ds_task_fail(ctx, DS_ESPEC, "collapse_answer: %ld out of range (K = %zu)", cj, K);
      goto done;
    }
    double eps = ds_param_num(p, "collapse_prob", 1e-6);
    /* θ_j = log(ε·S/(1−ε)) − a_j − (other θ's shift), S = Σ_{i≠j} e^{a_i + θ_i}, for type 0. */
    const double *a = m.T[0].a;
    double mx = -INFINITY, S = 0;
    for (size_t i = 0; i < K; i++)
      if ((long)i != cj) mx = fmax(mx, a[i] + th[i]);
    for (size_t i = 0; i < K; i++)
      if ((long)i != cj) S += exp(a[i] + th[i] - mx);
    double c = log(eps) - log1p(-eps) + mx + log(S) - a[cj];
    for (size_t b = 0; b < m.nB; b++) th[b * K + (size_t)cj] = c;
  }
  if ((rc = ds__opt_init(&opt, ok, m.n, lr, ds_param_num(p, "step_clip", 0)))) goto oom;

  long recover = -1;
  double ref_j = 0;
  if (ca) {
    policy(&m, m.T[0].a, NULL);
    ref_j = m.pi[cj];
  }
#define CHECK_RECOVER(step)                                 \
  if (ca && recover < 0) {                                  \
    policy(&m, m.T[0].a, block(&m, th, 0));                 \
    if (m.pi[cj] >= rfrac * ref_j) recover = (step);        \
  }
#define CURVE(step)                                                              \
  if (ds__curve_point((step), steps)) {                                          \
    stats_t cs;                                                                  \
    type_stats(&m, m.T, m.nT, m.wsum, th, 1, ks, 0, &cs);                        \
    rc = ds_result_curve(ctx->res, (step), "reward", cs.reward);                 \
    if (!rc) rc = ds_result_curve(ctx->res, (step), "pass_at_1", cs.pass1);      \
    if (!rc) rc = ds_result_curve(ctx->res, (step), "entropy", cs.entropy);      \
    if (rc) goto done;                                                           \
  }

  if (ok == DS__OPT_NEWTON) {
    CHECK_RECOVER(0);
    CURVE(0);
    long iters = 0;
    if ((rc = ds__newton(newton_fn, newton_probs, &m, m.n, th, steps, ctx, &iters))) {
      rc = rc == DS_ENOMEM ? ds_task_fail(ctx, rc, "out of memory") : ds__stopped(ctx, rc, iters);
      goto done;
    }
    CHECK_RECOVER(iters);
    CURVE(steps);
    rc = ds_result_metric(ctx->res, "newton_steps", (double)iters);
    if (rc) goto done;
  } else if (!grpo) {
    for (long s = 0; s <= steps; s++) {
      if ((s & 63) == 0 && (rc = ds_task_should_stop(ctx))) {
        rc = ds__stopped(ctx, rc, s);
        goto done;
      }
      CHECK_RECOVER(s);
      CURVE(s);
      if (s == steps) break;
      int krc = 0;
      neg_objective_rc(&m, th, g, gb, &krc);
      if (krc) {
        rc = ds_task_fail(ctx, krc, "backend %s: %s", bk.name, ds_strerror(krc));
        goto done;
      }
      if (ok == DS__OPT_MIRROR) {
        for (size_t t = 0; t < m.nT; t++) {
          double wt = m.T[t].w / m.wsum;
          if (!(wt > 0)) continue;
          double *tb = th + (m.per_type ? t * K : 0);
          policy(&m, m.T[t].a, tb);
          for (size_t i = 0; i < K; i++)
            if (m.pi[i] > 0) tb[i] -= lr * gb[t * K + i] / (wt * m.pi[i]);
        }
      } else {
        ds__opt_step(&opt, th, g);
      }
    }
  } else {
    int updates = (int)ds_param_num(p, "updates", 1);
    double eps = ds_param_num(p, "clip", 0.2);
    ds_rl_ppo_t ppo = {eps, eps, 0, 20};
    int use_kl = cJSON_GetObjectItemCaseSensitive(p, "kl_estimator") != NULL;
    ds_rl_kl_t klk = DS_RL_KL_K1;
    if (use_kl) ds_rl_kl_from_name(ds_param_str(p, "kl_estimator", "k1"), &klk);
    uint64_t rng = ctx->seed ^ 0x6772706f73616d70ULL;
    rew = malloc(G * sizeof *rew);
    adv = calloc(m.nT * G, sizeof *adv);
    old = calloc(m.nT * G, sizeof *old);
    samp = calloc(m.nT * G, sizeof *samp);
    double *lref = malloc(K * sizeof *lref);
    if (!rew || !adv || !old || !samp || !lref || (m.bk && toks_init(&tk, &m, G))) {
      free(lref);
      goto oom;
    }
    for (long s = 0; s <= steps; s++) {
      if ((s & 15) == 0 && (rc = ds_task_should_stop(ctx))) {
        free(lref);
        rc = ds__stopped(ctx, rc, s);
        goto done;
      }
      CHECK_RECOVER(s);
      if (ds__curve_point(s, steps)) {
        stats_t cs;
        type_stats(&m, m.T, m.nT, m.wsum, th, 1, ks, 0, &cs);
        rc = ds_result_curve(ctx->res, s, "reward", cs.reward);
        if (!rc) rc = ds_result_curve(ctx->res, s, "pass_at_1", cs.pass1);
        if (!rc) rc = ds_result_curve(ctx->res, s, "entropy", cs.entropy);
        if (rc) {
          free(lref);
          goto done;
        }
      }
      if (s == steps) break;
      /* Sample groups from the current policy. */
      for (size_t t = 0; t < m.nT; t++) {
        if (!(m.T[t].w > 0)) continue;
        policy(&m, m.T[t].a, block(&m, th, t));
        for (size_t i = 0; i < G; i++) {
          double u = ds_rand_unit(&rng), c = 0;
          size_t a = K - 1;
          for (size_t j = 0; j < K; j++) {
            c += m.pi[j];
            if (u < c) {
              a = j;
              break;
            }
          }
          samp[t * G + i] = a;
          old[t * G + i] = m.lp[a];
          rew[i] = m.T[t].r[a];
        }
        ds_rl_advantages(DS_RL_ADV_GRPO, 1, G, rew, 1e-6, adv + t * G);
      }
      /* Sampling stays in double on every backend (the same answers for the same seed); on the
       * kernels the sampling policy's log-probs are the kernel's, so the first update's ratio is 1. */
      int krc = 0;
      if (m.bk && !(krc = toks_logp(&m, th, G, samp, &tk)))
        for (size_t r = 0; r < tk.n; r++) old[r] = tk.lp[r];
      for (int u = 0; u < updates && m.bk && !krc; u++) {
        if (!(krc = grpo_kernel_grad(&m, th, G, samp, old, adv, &ppo, use_kl, klk, &tk, g))) ds__opt_step(&opt, th, g);
      }
      if (krc) {
        free(lref);
        rc = ds_task_fail(ctx, krc, "backend %s: %s", bk.name, ds_strerror(krc));
        goto done;
      }
      for (int u = 0; u < updates && !m.bk; u++) {
        memset(g, 0, m.n * sizeof *g);
        for (size_t t = 0; t < m.nT; t++) {
          double wt = m.T[t].w / m.wsum;
          if (!(wt > 0)) continue;
          double *gz = m.g2;
          memset(gz, 0, K * sizeof *gz);
          policy(&m, m.T[t].a, block(&m, th, t));
          ds_ref_log_softmax(K, m.T[t].a, 1.0, lref);
          for (size_t i = 0; i < G; i++) {
            size_t a = samp[t * G + i];
            double dl = 0, dk = 0, c;
            ds_rl_ppo_token(&ppo, m.lp[a], old[t * G + i], adv[t * G + i], &dl, NULL);
            c = m.rho * dl;
            if (use_kl && m.beta > 0) {
              ds_rl_kl_token(klk, m.lp[a], lref[a], &dk);
              c += m.beta * dk;
            }
            if (use_kl && m.kd > 0) {
              ds_rl_kl_token(klk, m.lp[a], m.T[t].q[a], &dk);
              c += m.kd * dk;
            }
            /* ∂ log π(a)/∂z = e_a − π. */
            for (size_t j = 0; j < K; j++) gz[j] -= c * m.pi[j] / (double)G;
            gz[a] += c / (double)G;
          }
          if (!use_kl && m.beta > 0) {
            const double *tp = m.T[t].a;
            ds_ref_div_row(&m.div, K, 1, &tp, NULL, DS_MIX_ARITHMETIC, m.z, 1.0, 1.0, 0, m.g1);
            for (size_t j = 0; j < K; j++) gz[j] += m.beta * m.g1[j];
          }
          if (!use_kl && m.kd > 0) {
            double kl = ds_ref_div_logprob(&ds__div_kl, K, m.lp, m.T[t].q, NULL);
            for (size_t j = 0; j < K; j++)
              if (m.pi[j] > 0) gz[j] += m.kd * m.pi[j] * (m.lp[j] - m.T[t].q[j] - kl);
          }
          if (m.eta > 0) nucleus_entropy(&m, -m.eta, gz);
          double *gt = g + (m.per_type ? t * K : 0);
          for (size_t j = 0; j < K; j++) gt[j] += wt * gz[j];
        }
        ds__opt_step(&opt, th, g);
      }
    }
    free(lref);
  }
  if (ca && recover < 0) {
    CHECK_RECOVER(steps);
  }

  /* Metrics. */
  stats_t st;
  type_stats(&m, m.T, m.nT, m.wsum, th, 1, ks, nk, &st);
  if ((rc = add_stats(ctx, "", &st, ks, nk, 1))) goto done;
  type_stats(&m, m.T, m.nT, m.wsum, th, 0, ks, nk, &st);
  if ((rc = add_stats(ctx, "base_", &st, ks, nk, 0))) goto done;
  {
    /* Teacher metrics over the trained types that have one (weights renormalised over them). */
    double tw = 0, tp = 0, tkl = 0, *lt = malloc(K * sizeof *lt);
    if (!lt) goto oom;
    for (size_t t = 0; t < m.nT; t++) {
      double wt = m.T[t].w;
      if (!(wt > 0) || !m.T[t].q) continue;
      double P = 0;
      for (size_t i = 0; i < K; i++) P += exp(m.T[t].q[i]) * m.T[t].r[i];
      policy(&m, m.T[t].a, block(&m, th, t));
      memcpy(lt, m.lp, K * sizeof *lt);
      tw += wt;
      tp += wt * fmin(1, fmax(0, P));
      tkl += wt * ds_ref_div_logprob(&ds__div_kl, K, lt, m.T[t].q, NULL);
    }
    free(lt);
    if (tw > 0) {
      rc = ds_result_metric(ctx->res, "teacher_pass_at_1", tp / tw);
      if (!rc) rc = ds_result_metric(ctx->res, "rkl_teacher", tkl / tw);
      if (rc) goto done;
    }
  }
  if (m.nE > 0 && m.esum > 0) {
    type_stats(&m, m.E, m.nE, m.esum, th, !m.per_type, ks, nk, &st);
    if ((rc = add_stats(ctx, "ood_", &st, ks, nk, 0))) goto done;
  }
  if (m.per_type || m.nT == 1) {
    double gap = 0;
    int have = 1;
    for (size_t t = 0; t < m.nT && have; t++) {
      if (!(m.T[t].w > 0)) continue;
      if (optimum(&m, t, opt_pi)) {
        have = 0;
        break;
      }
      policy(&m, m.T[t].a, block(&m, th, t));
      for (size_t i = 0; i < K; i++) gap = fmax(gap, fabs(m.pi[i] - opt_pi[i]));
    }
    if (have && (rc = ds_result_metric(ctx->res, "optimality_gap", gap))) goto done;
  }
  if (ca) {
    rc = ds_result_metric(ctx->res, "recover_step", (double)(recover >= 0 ? recover : steps));
    if (!rc) rc = ds_result_metric(ctx->res, "recovered", recover >= 0);
    if (rc) goto done;
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "report_pi")) && K <= 64) {
    char name[64];
    int have = optimum(&m, 0, opt_pi) == 0;
    policy(&m, m.T[0].a, block(&m, th, 0));
    for (size_t i = 0; i < K && !rc; i++) {
      snprintf(name, sizeof name, "pi_%zu", i);
      rc = ds_result_metric(ctx->res, name, m.pi[i]);
      if (!rc && have) {
        snprintf(name, sizeof name, "opt_pi_%zu", i);
        rc = ds_result_metric(ctx->res, name, opt_pi[i]);
      }
    }
  }
  goto done;
oom:
  rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
done:
  ds__opt_free(&opt);
  toks_free(&tk);
  rl_free(&m);
  free(th);
  free(g);
  free(gb);
  free(opt_pi);
  free(rew);
  free(adv);
  free(old);
  free(samp);
  return rc;
}

/* ---- checks ------------------------------------------------------------------------------- */

static int check_types(const cJSON *v, char *err, size_t err_len) {
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1) return ds_check_fail(err, err_len, "", "expected a non-empty list of prompt types");
  int i = 0;
  for (const cJSON *t = v->child; t; t = t->next, i++) {
    char sfx[96];
    if (!cJSON_IsObject(t)) {
      snprintf(sfx, sizeof sfx, "[%d]", i);
      return ds_check_fail(err, err_len, sfx, "expected {\"weight\": w, \"base_logits\": [...], \"reward\": [...]}");
    }
    for (const cJSON *c = t->child; c; c = c->next) {
      snprintf(sfx, sizeof sfx, "[%d].%s", i, c->string);
      if (!strcmp(c->string, "weight")) {
        if (ds_check_num(c, 0, 1e12, 1, 1, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a number >= 0");
      } else if (!strcmp(c->string, "base_logits") || !strcmp(c->string, "teacher_logits")) {
        if (ds__check_nums(c, 0, err, err_len)) return ds_check_fail(err, err_len, sfx, "expected a list of finite numbers");
      } else if (!strcmp(c->string, "reward")) {
        if (cJSON_IsObject(c)) {
          const cJSON *ones = cJSON_GetObjectItemCaseSensitive(c, "ones");
          if (!ones || cJSON_GetArraySize(c) != 1 || ds__check_nums(ones, 0, err, err_len))
            return ds_check_fail(err, err_len, sfx, "expected a list of K numbers or {\"ones\": [answer indices]}");
          for (const cJSON *e = ones->child; e; e = e->next)
            if (e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble))
              return ds_check_fail(err, err_len, sfx, "answer indices must be integers >= 0");
        } else if (ds__check_nums(c, 0, err, err_len)) {
          return ds_check_fail(err, err_len, sfx, "expected a list of K numbers or {\"ones\": [answer indices]}");
        }
      } else {
        return ds_check_fail(err, err_len, sfx, "unknown key (a type has weight, base_logits, reward, teacher_logits)");
      }
    }
  }
  return 0;
}

static int rlvr_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "answers")) return ds_check_int(v, 1, 1 << 20, err, err_len);
  if (!strcmp(key, "types") || !strcmp(key, "eval_types")) return check_types(v, err, err_len);
  if (!strcmp(key, "params")) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "shared") && strcmp(v->valuestring, "per_type")))
      return ds_check_fail(err, err_len, "", "expected \"shared\" or \"per_type\"");
    return 0;
  }
  if (!strcmp(key, "init_theta")) return ds__check_nums(v, 0, err, err_len);
  if (!strcmp(key, "collapse_answer")) return ds_check_int(v, 0, 1 << 20, err, err_len);
  if (!strcmp(key, "collapse_prob")) return ds_check_num(v, 0, 1, 0, 0, err, err_len);
  if (!strcmp(key, "recover_frac")) return ds_check_num(v, 0, 1e6, 0, 1, err, err_len);
  if (!strcmp(key, "estimator")) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "exact") && strcmp(v->valuestring, "grpo")))
      return ds_check_fail(err, err_len, "", "expected \"exact\" or \"grpo\"");
    return 0;
  }
  if (!strcmp(key, "group_size")) return ds_check_int(v, 2, 1 << 16, err, err_len);
  if (!strcmp(key, "updates")) return ds_check_int(v, 1, 1000, err, err_len);
  if (!strcmp(key, "clip")) return ds_check_num(v, 0, 1e6, 1, 1, err, err_len);
  if (!strcmp(key, "kl_estimator")) {
    ds_rl_kl_t k;
    if (!cJSON_IsString(v) || ds_rl_kl_from_name(v->valuestring, &k))
      return ds_check_fail(err, err_len, "", "expected \"k1\", \"k2\" or \"k3\"");
    return 0;
  }
  if (!strcmp(key, "divergence")) return ds__div_parse(v, NULL, err, err_len);
  if (!strcmp(key, "beta") || !strcmp(key, "entropy_bonus") || !strcmp(key, "kd_coef") || !strcmp(key, "reward_coef"))
    return ds_check_num(v, 0, 1e12, 1, 1, err, err_len);
  if (!strcmp(key, "entropy_top_p")) return ds_check_num(v, 0, 1, 0, 1, err, err_len);
  if (!strcmp(key, "optimizer")) {
    ds__opt_kind_t o;
    if (!cJSON_IsString(v) || ds__opt_from_name(v->valuestring, &o))
      return ds_check_fail(err, err_len, "", "expected \"gd\", \"adam\", \"newton\" or \"mirror\"");
    return 0;
  }
  if (!strcmp(key, "lr")) return ds_check_num(v, 0, 1e12, 0, 1, err, err_len);
  if (!strcmp(key, "step_clip")) return ds_check_num(v, 0, 1e12, 1, 1, err, err_len);
  if (!strcmp(key, "steps")) return ds_check_int(v, 0, 1e9, err, err_len);
  if (!strcmp(key, "k")) {
    if (cJSON_IsNumber(v)) return ds_check_int(v, 1, 1e9, err, err_len);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > 16)
      return ds_check_fail(err, err_len, "", "expected a list of 1 to 16 integers >= 1");
    int i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++)
      if (ds_check_int(c, 1, 1e9, err, err_len)) {
        char sfx[32];
        snprintf(sfx, sizeof sfx, "[%d]", i);
        return ds_check_fail(err, err_len, sfx, "expected an integer >= 1");
      }
    return 0;
  }
  if (!strcmp(key, "report_pi")) {
    if (!cJSON_IsBool(v)) return ds_check_fail(err, err_len, "", "expected true or false");
    return 0;
  }
  return ds_check_fail(err, err_len, "", "unknown parameter for task rlvr");
}

const ds_task_t ds_task_rlvr = {"rlvr", rlvr_run, rlvr_check};
