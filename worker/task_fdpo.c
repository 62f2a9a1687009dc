/* task_fdpo.c — preference optimisation with f-DPO links over K answers (DESIGN.md §6;
 * experiments.md X4; "Beyond Reverse KL", Wang et al. 2023).
 *
 * Model.  π = softmax(a + θ), π_ref = softmax(a) (a = base_logits, default zeros), reward r
 * ("reward", or its alias "rewards": a list of K numbers or {"ones": [answer indices]}; the alias
 * keeps the parameter's view column apart from the `reward` metric's).
 * For a pair (chosen c, rejected l) the f-DPO loss is −log σ(β·(f′(u_c) − f′(u_l))), u = π/π_ref,
 * with the links of ds_rl_f_link (kernels/ds_rl.h conventions): rkl (standard DPO), fkl, jsd
 * (DESIGN's jsd at beta ½: f′(u) = ½ log(2u/(1+u))) and amari(α) (f′(u) = (1 − u^{−α})/α).
 *   mode "population" (default): the expected loss over ordered pairs i ≠ j drawn from
 *     π_ref ⊗ π_ref with Bradley–Terry labels, L = Σ_{i≠j} π_ref(i)π_ref(j)·σ(r_i − r_j)·
 *     (−log σ(β(f′(u_i) − f′(u_j)))).  Its minimiser is the closed form
 *     π* = π_ref·(f′)⁻¹((r − λ)/β) of experiments.md X4 (ds_rl_optimum_f).
 *   mode "sampled": each step draws `pairs` pairs (default 64) i, j ~ π_ref (i ≠ j; seeded), the
 *     label i ≻ j with probability σ(r_i − r_j), and descends the mean pair loss.
 * Optimisers: "adam" (default), "gd" (lr, step_clip), "newton" (population only; ds__newton: a
 * mirror-descent warm start, then at most `steps` damped Newton steps with a finite-difference
 * Hessian, to machine precision).
 *
 * Metrics: optimality_gap = max |π − π*|, entropy, reward = Σ π r, min_ratio = min π/π_ref,
 * rkl_ref, fkl_ref, loss (the population loss at the end, either mode).  Curve: loss at
 * log-spaced steps (population loss).
 *
 * Backends (trial.backend; ds__backend_pick).  On "ref" all of it is double.  Otherwise a step's
 * log-probs and gradient come from ds_rl_logprob_batch over token rows holding the policy logits
 * (fp32): sampled, two rows per pair (chosen, rejected; 2·pairs rows); population, one row per
 * answer (K rows, so at most 4096 answers).  The pair losses (ds_rl_dpo), θ, the optimiser, the
 * draws and every metric and curve stay in double; the rows' gradients are summed here in row
 * order (thread-count independent).  newton stays on "ref".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds__tasks.h"
#include "ds_error.h"
#include "ds_rand.h"

typedef struct fdpo {
  size_t K;
  double *a, *r, *lref, *lp, *z, *G;
  ds_rl_f_t f;
  double beta;
  /* The batched kernels (trial.backend not "ref"): one token row per answer of a pair (sampled)
   * or per answer (population), the policy logits repeated in each. */
  const ds__backend_t *bk;
  size_t n;          /* token rows */
  float *tz, *tg;    /* [n][K] logits, gradient */
  float *tlpf, *tgl; /* [n] log π(label), upstream weight */
  int64_t *lab;      /* [n] */
  double *tlp;       /* [n] log π(label) in double */
  size_t *pi_, *pj;  /* sampled: [pairs] chosen, rejected (SIZE_MAX: no pair drawn) */
} fdpo_t;

static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

/* log π of θ into m->lp. */
static void fd_policy(fdpo_t *m, const double *th) {
  for (size_t i = 0; i < m->K; i++) m->z[i] = m->a[i] + th[i];
  ds_ref_log_softmax(m->K, m->z, 1.0, m->lp);
}

/* Chains ∂L/∂log π (m->G) to ∂L/∂θ. */
static void fd_chain(fdpo_t *m, double *g) {
  double s = 0;
  for (size_t i = 0; i < m->K; i++) s += m->G[i];
  for (size_t i = 0; i < m->K; i++) g[i] = m->G[i] - exp(m->lp[i]) * s;
}

static double pop_loss(fdpo_t *m, const double *th, double *g) {
  size_t K = m->K;
  fd_policy(m, th);
  memset(m->G, 0, K * sizeof *m->G);
  double L = 0;
  for (size_t i = 0; i < K; i++)
    for (size_t j = 0; j < K; j++) {
      if (i == j) continue;
      double c = exp(m->lref[i] + m->lref[j]) * sigmoid(m->r[i] - m->r[j]);
      if (!(c > 0)) continue;
      double dc, dr;
      L += c * ds_rl_dpo(DS_RL_DPO_SIGMOID, &m->f, m->beta, 0, m->lp[i], m->lp[j], m->lref[i], m->lref[j], &dc, &dr);
      m->G[i] += c * dc;
      m->G[j] += c * dr;
    }
  if (g) fd_chain(m, g);
  return L;
}

/* log π(lab[r]) of every token row at θ (ds_rl_logprob_batch) into m->tlp. */
static int tok_logp(fdpo_t *m, const double *th) {
  size_t K = m->K;
  for (size_t j = 0; j < K; j++) m->tz[j] = (float)(m->a[j] + th[j]);
  for (size_t r = 1; r < m->n; r++) memcpy(m->tz + r * K, m->tz, K * sizeof *m->tz);
  ds_rl_logprob_args_t a = {m->n, K, m->tz, m->lab, 1.0, NULL, NULL, m->bk->threads};
  int rc = ds_rl_logprob_batch(&a, m->tlpf, NULL, NULL);
  for (size_t r = 0; r < m->n; r++) m->tlp[r] = m->tlpf[r];
  return rc;
}

/* g = Σ_r tgl[r]·∂log π(lab[r])/∂θ (ds_rl_logprob_batch on the rows tok_logp filled), summed in row
 * order so that the kernels' thread split does not matter. */
static int tok_grad(fdpo_t *m, double *g) {
  size_t K = m->K;
  ds_rl_logprob_args_t a = {m->n, K, m->tz, m->lab, 1.0, m->tgl, NULL, m->bk->threads};
  int rc = ds_rl_logprob_batch(&a, NULL, NULL, m->tg);
  memset(g, 0, K * sizeof *g);
  for (size_t r = 0; r < m->n && !rc; r++)
    for (size_t j = 0; j < K; j++) g[j] += m->tg[r * K + j];
  return rc;
}

/* The population loss's gradient on the kernels: row i is answer i, its upstream weight ∂L/∂log π_i. */
static int pop_grad_kernel(fdpo_t *m, const double *th, double *g) {
  size_t K = m->K;
  int rc = tok_logp(m, th);
  if (rc) return rc;
  memset(m->G, 0, K * sizeof *m->G);
  for (size_t i = 0; i < K; i++)
    for (size_t j = 0; j < K; j++) {
      if (i == j) continue;
      double c = exp(m->lref[i] + m->lref[j]) * sigmoid(m->r[i] - m->r[j]);
      if (!(c > 0)) continue;
      double dc, dr;
      ds_rl_dpo(DS_RL_DPO_SIGMOID, &m->f, m->beta, 0, m->tlp[i], m->tlp[j], m->lref[i], m->lref[j], &dc, &dr);
      m->G[i] += c * dc;
      m->G[j] += c * dr;
    }
  for (size_t i = 0; i < K; i++) m->tgl[i] = (float)m->G[i];
  return tok_grad(m, g);
}

static double pop_fn(void *arg, const double *x, double *grad) { return pop_loss(arg, x, grad); }

static void pop_probs(void *arg, const double *x, double *pi) {
  fdpo_t *m = arg;
  fd_policy(m, x);
  for (size_t i = 0; i < m->K; i++) pi[i] = exp(m->lp[i]);
}

static size_t draw(size_t K, const double *lref, uint64_t *rng) {
  double u = ds_rand_unit(rng), c = 0;
  for (size_t j = 0; j < K; j++) {
    c += exp(lref[j]);
    if (u < c) return j;
  }
  return K - 1;
}

static int fdpo_run(ds_task_ctx_t *ctx) {
  const cJSON *p = ctx->params;
  fdpo_t m = {0};
  int rc = 0;
  double *th = NULL, *g = NULL, *opt_pi = NULL, *pref = NULL;
  ds__opt_t opt = {0};
  char msg[300];
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(p, "base_logits");
  const cJSON *rew = cJSON_GetObjectItemCaseSensitive(p, "rewards");
  if (!rew) rew = cJSON_GetObjectItemCaseSensitive(p, "reward");
  size_t K = (size_t)ds_param_num(p, "answers", 0);
  if (!K) K = base ? (size_t)cJSON_GetArraySize(base) : cJSON_IsArray(rew) ? (size_t)cJSON_GetArraySize(rew) : 0;
  if (!K) return ds_task_fail(ctx, DS_ESPEC, "answers: missing");
  m.K = K;
  m.a = calloc(K, sizeof *m.a);
  m.r = calloc(K, sizeof *m.r);
  m.lref = malloc(K * sizeof *m.lref);
  m.lp = malloc(K * sizeof *m.lp);
  m.z = malloc(K * sizeof *m.z);
  m.G = malloc(K * sizeof *m.G);
  th = calloc(K, sizeof *th);
  g = malloc(K * sizeof *g);
  opt_pi = malloc(K * sizeof *opt_pi);
  pref = malloc(K * sizeof *pref);
  if (!m.a || !m.r || !m.lref || !m.lp || !m.z || !m.G || !th || !g || !opt_pi || !pref) goto oom;
  if (base && (size_t)cJSON_GetArraySize(base) != K) {
    rc = ds_task_fail(ctx, DS_ESPEC, "base_logits: %d values for %zu answers", cJSON_GetArraySize(base), K);
    goto done;
  }
  ds__get_nums(base, m.a, K);
  if (cJSON_IsArray(rew)) {
    if ((size_t)cJSON_GetArraySize(rew) != K) {
      rc = ds_task_fail(ctx, DS_ESPEC, "reward: %d values for %zu answers", cJSON_GetArraySize(rew), K);
      goto done;
    }
    ds__get_nums(rew, m.r, K);
  } else if (rew) {
    for (const cJSON *i = cJSON_GetObjectItemCaseSensitive(rew, "ones")->child; i; i = i->next) {
      if (i->valuedouble >= (double)K) {
        rc = ds_task_fail(ctx, DS_ESPEC, "reward.ones: answer %g out of range (K = %zu)", i->valuedouble, K);
        goto done;
      }
      m.r[(size_t)i->valuedouble] = 1;
    }
  }
  ds_ref_log_softmax(K, m.a, 1.0, m.lref);
  ds_div_t d;
  ds_div_from_name("rkl", &d);
  const cJSON *dv = cJSON_GetObjectItemCaseSensitive(p, "divergence");
  if (dv && ds__div_parse(dv, &d, msg, sizeof msg)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "divergence%s", msg);
    goto done;
  }
  m.f.alpha = 0;
  switch (d.kind) {
    case DS_DIV_RKL: m.f.kind = DS_RL_F_RKL; break;
    case DS_DIV_FKL: m.f.kind = DS_RL_F_FKL; break;
    case DS_DIV_JSD: m.f.kind = DS_RL_F_JSD; break;
    case DS_DIV_AMARI: m.f.kind = DS_RL_F_AMARI; m.f.alpha = d.alpha; break;
    default: break;
  }
  m.beta = ds_param_num(p, "beta", 0.1);
  if (!(m.beta > 0)) {
    rc = ds_task_fail(ctx, DS_ESPEC, "beta: f-DPO needs beta > 0");
    goto done;
  }
  int sampled = !strcmp(ds_param_str(p, "mode", "population"), "sampled");
  long steps = (long)ds_param_num(p, "steps", 2000);
  ds__opt_kind_t ok = DS__OPT_ADAM;
  ds__opt_from_name(ds_param_str(p, "optimizer", "adam"), &ok);
  if (ok == DS__OPT_NEWTON && sampled) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: newton needs mode population");
    goto done;
  }
  if ((rc = ds__opt_init(&opt, ok, K, ds_param_num(p, "lr", 0.05), ds_param_num(p, "step_clip", 0)))) goto oom;

  /* The backend, from the size of the token rows a step runs through the log-prob kernel: 2·pairs
   * (sampled) or K (population) rows of K answers.  Newton's finite-difference Hessian needs double
   * gradients: it stays on the reference (auto) or refuses a fast backend asked for by name. */
  size_t pairs = (size_t)ds_param_num(p, "pairs", 64);
  if (ok == DS__OPT_NEWTON && ctx->backend && strcmp(ctx->backend, "auto") && strcmp(ctx->backend, "ref")) {
    rc = ds_task_fail(ctx, DS_ESPEC, "optimizer: newton runs on trial.backend \"ref\" only (its finite-difference Hessian needs double gradients)");
    goto done;
  }
  ds__backend_t bk;
  size_t nrows = sampled ? 2 * pairs : K;
  size_t elems = ok == DS__OPT_NEWTON || nrows * K > DS__AUTO_MAX_TOKEN_ELEMS ? 0 : nrows * K;
  if ((rc = ds__backend_pick(ctx, "fdpo", elems, 0, &bk))) goto done;
  if (bk.be) {
    if (!sampled && K > 4096) {
      rc = ds_task_fail(ctx, DS_ESPEC, "mode population on backend %s keeps K × K token rows: at most 4096 answers (%zu here); use mode sampled or trial.backend \"ref\"", bk.name, K);
      goto done;
    }
    m.bk = &bk;
    m.n = nrows;
    m.tz = malloc(nrows * K * sizeof *m.tz);
    m.tg = malloc(nrows * K * sizeof *m.tg);
    m.tlpf = malloc(nrows * sizeof *m.tlpf);
    m.tgl = calloc(nrows, sizeof *m.tgl);
    m.lab = malloc(nrows * sizeof *m.lab);
    m.tlp = malloc(nrows * sizeof *m.tlp);
    m.pi_ = malloc((pairs ? pairs : 1) * sizeof *m.pi_);
    m.pj = malloc((pairs ? pairs : 1) * sizeof *m.pj);
    if (!m.tz || !m.tg || !m.tlpf || !m.tgl || !m.lab || !m.tlp || !m.pi_ || !m.pj) goto oom;
    for (size_t r = 0; r < nrows; r++) m.lab[r] = sampled ? -1 : (int64_t)r;
  }
  if (ok == DS__OPT_NEWTON) {
    if ((rc = ds_result_curve(ctx->res, 0, "loss", pop_loss(&m, th, NULL)))) goto done;
    long iters = 0;
    if ((rc = ds__newton(pop_fn, pop_probs, &m, K, th, steps, ctx, &iters))) {
      rc = rc == DS_ENOMEM ? ds_task_fail(ctx, rc, "out of memory") : ds__stopped(ctx, rc, iters);
      goto done;
    }
    if ((rc = ds_result_metric(ctx->res, "newton_steps", (double)iters))) goto done;
  } else {
    uint64_t rng = ctx->seed ^ 0x7061697273000000ULL;
    for (long s = 0; s <= steps; s++) {
      if ((s & 63) == 0 && (rc = ds_task_should_stop(ctx))) {
        rc = ds__stopped(ctx, rc, s);
        goto done;
      }
      if (ds__curve_point(s, steps) && (rc = ds_result_curve(ctx->res, s, "loss", pop_loss(&m, th, NULL)))) goto done;
      if (s == steps) break;
      int krc = 0;
      if (!sampled && m.bk) {
        krc = pop_grad_kernel(&m, th, g);
      } else if (!sampled) {
        pop_loss(&m, th, g);
      } else if (m.bk) {
        /* The same draws as below (the generator is consumed in the same order), then the pairs'
         * log-probs and gradients through the kernel, two token rows per pair. */
        for (size_t q = 0; q < pairs; q++) {
          size_t i = draw(K, m.lref, &rng), j = draw(K, m.lref, &rng);
          for (int tries = 0; i == j && tries < 64; tries++) j = draw(K, m.lref, &rng);
          m.lab[2 * q] = m.lab[2 * q + 1] = -1;
          m.pi_[q] = SIZE_MAX;
          if (i == j) continue;
          if (ds_rand_unit(&rng) >= sigmoid(m.r[i] - m.r[j])) {
            size_t t = i;
            i = j;
            j = t;
          }
          m.pi_[q] = i;
          m.pj[q] = j;
          m.lab[2 * q] = (int64_t)i;
          m.lab[2 * q + 1] = (int64_t)j;
        }
        krc = tok_logp(&m, th);
        for (size_t q = 0; q < pairs && !krc; q++) {
          m.tgl[2 * q] = m.tgl[2 * q + 1] = 0;
          if (m.pi_[q] == SIZE_MAX) continue;
          size_t i = m.pi_[q], j = m.pj[q];
          double dc, dr;
          ds_rl_dpo(DS_RL_DPO_SIGMOID, &m.f, m.beta, 0, m.tlp[2 * q], m.tlp[2 * q + 1], m.lref[i], m.lref[j], &dc, &dr);
          m.tgl[2 * q] = (float)(dc / (double)pairs);
          m.tgl[2 * q + 1] = (float)(dr / (double)pairs);
        }
        if (!krc) krc = tok_grad(&m, g);
      } else {
        fd_policy(&m, th);
        memset(m.G, 0, K * sizeof *m.G);
        for (size_t q = 0; q < pairs; q++) {
          size_t i = draw(K, m.lref, &rng), j = draw(K, m.lref, &rng);
          for (int tries = 0; i == j && tries < 64; tries++) j = draw(K, m.lref, &rng);
          if (i == j) continue;
          if (ds_rand_unit(&rng) >= sigmoid(m.r[i] - m.r[j])) {
            size_t t = i;
            i = j;
            j = t;
          }
          double dc, dr;
          ds_rl_dpo(DS_RL_DPO_SIGMOID, &m.f, m.beta, 0, m.lp[i], m.lp[j], m.lref[i], m.lref[j], &dc, &dr);
          m.G[i] += dc / (double)pairs;
          m.G[j] += dr / (double)pairs;
        }
        fd_chain(&m, g);
      }
      if (krc) {
        rc = ds_task_fail(ctx, krc, "backend %s: %s", bk.name, ds_strerror(krc));
        goto done;
      }
      ds__opt_step(&opt, th, g);
    }
  }

  /* Metrics. */
  double L = pop_loss(&m, th, NULL);
  for (size_t i = 0; i < K; i++) pref[i] = exp(m.lref[i]);
  double s = 0;
  for (size_t i = 0; i < K; i++) s += pref[i];
  for (size_t i = 0; i < K; i++) pref[i] /= s;
  fd_policy(&m, th);
  double gap = NAN, ent = ds_ref_div_logprob(&ds__div_entropy, K, m.lp, m.lp, NULL), reward = 0, minr = INFINITY;
  for (size_t i = 0; i < K; i++) {
    reward += exp(m.lp[i]) * m.r[i];
    if (pref[i] > 0) minr = fmin(minr, exp(m.lp[i] - m.lref[i]));
  }
  if (ds_rl_optimum_f(&m.f, K, pref, m.r, m.beta, opt_pi, NULL, NULL) == 0) {
    gap = 0;
    for (size_t i = 0; i < K; i++) gap = fmax(gap, fabs(exp(m.lp[i]) - opt_pi[i]));
  }
  struct {
    const char *name;
    double v;
  } mt[] = {{"entropy", ent}, {"reward", reward}, {"min_ratio", minr}, {"rkl_ref", ds_ref_div_logprob(&ds__div_kl, K, m.lp, m.lref, NULL)},
            {"fkl_ref", ds_ref_div_logprob(&ds__div_kl, K, m.lref, m.lp, NULL)}, {"loss", L}, {"optimality_gap", gap}};
  for (size_t i = 0; i < sizeof mt / sizeof *mt && !rc; i++)
    if (!isnan(mt[i].v)) rc = ds_result_metric(ctx->res, mt[i].name, mt[i].v);
  if (!rc && ds__curve_point(steps, steps) && ok == DS__OPT_NEWTON) rc = ds_result_curve(ctx->res, steps, "loss", L);
  goto done;
oom:
  rc = ds_task_fail(ctx, DS_ENOMEM, "out of memory");
done:
  ds__opt_free(&opt);
  free(m.a);
  free(m.r);
  free(m.lref);
  free(m.lp);
  free(m.z);
  free(m.G);
  free(m.tz);
  free(m.tg);
  free(m.tlpf);
  free(m.tgl);
  free(m.lab);
  free(m.tlp);
  free(m.pi_);
  free(m.pj);
  free(th);
  free(g);
  free(opt_pi);
  free(pref);
  return rc;
}

static int fdpo_check(const char *key, const cJSON *v, char *err, size_t err_len) {
  if (!strcmp(key, "answers")) return ds_check_int(v, 2, 1 << 16, err, err_len);
  if (!strcmp(key, "base_logits")) return ds__check_nums(v, 0, err, err_len);
  if (!strcmp(key, "reward") || !strcmp(key, "rewards")) {
    if (cJSON_IsObject(v)) {
      const cJSON *ones = cJSON_GetObjectItemCaseSensitive(v, "ones");
      if (!ones || cJSON_GetArraySize(v) != 1 || ds__check_nums(ones, 0, err, err_len))
        return ds_check_fail(err, err_len, "", "expected a list of K numbers or {\"ones\": [answer indices]}");
      for (const cJSON *e = ones->child; e; e = e->next)
        if (e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble))
          return ds_check_fail(err, err_len, ".ones", "answer indices must be integers >= 0");
      return 0;
    }
    return ds__check_nums(v, 0, err, err_len);
  }
  if (!strcmp(key, "divergence")) {
    ds_div_t d;
    int rc = ds__div_parse(v, &d, err, err_len);
    if (rc) return rc;
    if (d.kind != DS_DIV_RKL && d.kind != DS_DIV_FKL && d.kind != DS_DIV_JSD && d.kind != DS_DIV_AMARI)
      return ds_check_fail(err, err_len, "", "f-DPO links exist for rkl, fkl, jsd and amari only");
    if (d.kind == DS_DIV_JSD && d.beta != 0.5)
      return ds_check_fail(err, err_len, ".beta", "the f-DPO jsd link is jsd at beta 0.5");
    return 0;
  }
  if (!strcmp(key, "beta")) return ds_check_num(v, 0, 1e12, 0, 1, err, err_len);
  if (!strcmp(key, "mode")) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "population") && strcmp(v->valuestring, "sampled")))
      return ds_check_fail(err, err_len, "", "expected \"population\" or \"sampled\"");
    return 0;
  }
  if (!strcmp(key, "pairs")) return ds_check_int(v, 1, 1 << 24, err, err_len);
  if (!strcmp(key, "optimizer")) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "adam") && strcmp(v->valuestring, "gd") && strcmp(v->valuestring, "newton")))
      return ds_check_fail(err, err_len, "", "expected \"adam\", \"gd\" or \"newton\"");
    return 0;
  }
  if (!strcmp(key, "lr")) return ds_check_num(v, 0, 1e12, 0, 1, err, err_len);
  if (!strcmp(key, "step_clip")) return ds_check_num(v, 0, 1e12, 1, 1, err, err_len);
  if (!strcmp(key, "steps")) return ds_check_int(v, 0, 1e9, err, err_len);
  return ds_check_fail(err, err_len, "", "unknown parameter for task fdpo");
}

const ds_task_t ds_task_fdpo = {"fdpo", fdpo_run, fdpo_check};
