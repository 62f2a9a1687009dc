/* params.c — the parameter and metric tables of every task, and the divergence catalogue, as
 * data (worker/ds_params.h says who reads them).  When a task gains a parameter or a metric, add
 * its row here: validation, `divsweep help` and docs/ follow, and tests/test_params.c checks that
 * the task's own check() agrees with the row's bounds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_kernels.h"
#include "ds_params.h"

#define INT_(n, lo, hi, def, m) {n, DS_PT_INT, lo, hi, 1, 1, NULL, 0, def, m}
#define NUM_(n, lo, hi, li, hii, def, m) {n, DS_PT_NUM, lo, hi, li, hii, NULL, 0, def, m}
#define BOOL_(n, b01, def, m) {n, DS_PT_BOOL, 0, 0, 0, 0, NULL, b01, def, m}
#define ENUM_(n, ch, def, m) {n, DS_PT_ENUM, 0, 0, 0, 0, ch, 0, def, m}
#define FILE_(n, def, m) {n, DS_PT_FILE, 0, 0, 0, 0, NULL, 0, def, m}
#define DIV_(n, def, m) {n, DS_PT_DIV, 0, 0, 0, 0, NULL, 0, def, m}
#define NUMS_(n, def, m) {n, DS_PT_NUMS, 0, 0, 0, 0, NULL, 0, def, m}
#define OBJ_(n, def, m) {n, DS_PT_OBJ, 0, 0, 0, 0, NULL, 0, def, m}
#define END_ {NULL, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL}

/* ---- noop ---------------------------------------------------------------------------------- */

static const ds_param_info_t noop_params[] = {
    NUM_("sleep_ms", 0, 1e9, 1, 1, "0", "sleep this long before returning"),
    NUM_("fail_rate", 0, 1, 1, 1, "0", "probability that the trial fails with an error (drawn per attempt)"),
    NUM_("nan_rate", 0, 1, 1, 1, "0", "probability that `value` is NaN (the trial then fails)"),
    NUM_("inf_rate", 0, 1, 1, 1, "0", "probability that `value` is +Inf (the trial then fails)"),
    NUM_("crash_rate", 0, 1, 1, 1, "0", "probability of SIGSEGV (kills the rank unless isolation is \"process\")"),
    NUM_("abort_rate", 0, 1, 1, 1, "0", "probability of abort() (SIGABRT)"),
    NUM_("hang_rate", 0, 1, 1, 1, "0", "probability of looping until cancelled or timed out"),
    BOOL_("objectives_demo", 0, "false", "also report the metrics a, b, c (a two-objective trade-off along x)"),
    OBJ_("x", "0", "any number; used by objectives_demo"),
    OBJ_("y", "0", "any number; used by objectives_demo"),
    END_};

static const ds_metric_info_t noop_metrics[] = {
    {"value", "-", NULL, "a tiny number computed from the parameters (not from the seed)"},
    {"a", "-", "objectives_demo", "x + 0.1·u1 (u uniform from the trial seed)"},
    {"b", "-", "objectives_demo", "(1 − x)² + 0.3·y + 0.1·u2"},
    {"c", "-", "objectives_demo", "y + 0.5·x·(1 − x) + 0.1·u3"},
    {NULL, NULL, NULL, NULL}};

/* ---- distill ------------------------------------------------------------------------------- */

static const ds_param_info_t distill_params[] = {
    INT_("vocab", 1, 1 << 20, "from an npy teacher", "V, the vocabulary size (required unless a teacher is an .npy)"),
    INT_("rows", 1, 1 << 20, "1", "independent rows (contexts); default the rows of an npy teacher or features file"),
    OBJ_("teachers", NULL,
         "required: a list of {\"bumps\": [[mu, sigma, weight], ...], \"floor\": f} (discretised Gaussians, then "
         "(1−f)·p + f/V), {\"box\": [first, width], \"floor\": f}, {\"random\": {\"scale\": s}} (seeded N(0, s²) "
         "logits) or {\"npy\": \"file\"} (logits [rows][V] or [V])"),
    NUMS_("mixture", "uniform", "weights over the teachers, ≥ 0, summing to 1 (sweep it with {\"simplex\": K, \"steps\": s})"),
    ENUM_("mix", "arithmetic|geometric|loss|confidence", "arithmetic",
          "arithmetic Σw·p, geometric ∝ Πp^w, loss Σw·D(p_k‖q), confidence: arithmetic with per-row weights ∝ w_k·max p_k"),
    OBJ_("student", "{\"kind\": \"free\"}",
         "{\"kind\": \"free\"} (a logit per token and row), {\"kind\": \"gaussian\", \"sigma\"?, \"mu0\"?, \"sigma0\"?}, "
         "{\"kind\": \"linear\", \"features\"?: file, \"dim\"?: 1..4096, \"bias\"?}; any kind takes \"floor\" in [0, 1)"),
    DIV_("divergence", "fkl", "the training loss D(teacher‖student) (`divsweep help divergences`)"),
    NUM_("temperature", 0, 1e6, 0, 1, "1", "T, dividing teacher and student logits in the training loss"),
    BOOL_("t2", 1, "false", "multiply the training loss by T² (Hinton)"),
    ENUM_("optimizer", "adam|gd", "adam", "the optimiser of the student's parameters"),
    NUM_("lr", 0, 1e6, 0, 1, "0.05", "learning rate"),
    INT_("steps", 0, 1e8, "1000", "optimiser steps"),
    NUM_("clip", 0, 1e9, 1, 1, "0", "bound on each coordinate's step (0: none)"),
    INT_("restarts", 1, 10000, "1", "independent starts on a documented grid; the lowest final loss is kept"),
    FILE_("labels", NULL, "class indices (one per row) for accuracy, confidence and ECE metrics"),
    END_};

static const ds_metric_info_t distill_metrics[] = {
    {"fkl", "T = 1", NULL, "KL(teacher‖student), mean over rows, against the mixed teacher"},
    {"rkl", "T = 1", NULL, "KL(student‖teacher), mean over rows"},
    {"jsd", "T = 1", NULL, "½KL(t‖m) + ½KL(s‖m), m = ½(t + s), mean over rows"},
    {"tvd", "T = 1", NULL, "½Σ|t − s|, mean over rows"},
    {"entropy", "T = 1", NULL, "entropy of the student, mean over rows"},
    {"teacher_entropy", "T = 1", NULL, "entropy of the mixed teacher, mean over rows"},
    {"modes_covered", "T = 1", NULL, "teacher modes (local maxima) with ≥ 0.1 student mass within ±2 tokens"},
    {"teacher_modes", "T = 1", NULL, "number of teacher modes"},
    {"low_mass", "T = 1", NULL, "student mass where the teacher is < 0.1·its maximum"},
    {"top1_agree", "T = 1", NULL, "fraction of rows whose argmaxes agree"},
    {"loss", "trial T", NULL, "final training loss of the kept start (×T² with t2)"},
    {"restarts_used", "-", NULL, "number of starts run"},
    {"mu", "-", "student", "gaussian student: μ of row 0"},
    {"sigma", "-", "student", "gaussian student: σ of row 0"},
    {"accuracy", "T = 1", "labels", "student argmax accuracy against labels"},
    {"confidence", "T = 1", "labels", "mean top-label probability of the student"},
    {"ece", "T = 1", "labels", "student top-label ECE, 15 equal-width bins"},
    {"teacher_accuracy", "T = 1", "labels", "mixed teacher's argmax accuracy"},
    {"teacher_ece", "T = 1", "labels", "mixed teacher's ECE"},
    {NULL, NULL, NULL, NULL}};

/* ---- rlvr ---------------------------------------------------------------------------------- */

static const ds_param_info_t rlvr_params[] = {
    INT_("answers", 1, 1 << 20, "the length of types[0]", "K, the number of answers"),
    OBJ_("types", NULL,
         "required: prompt types [{\"weight\": w ≥ 0, \"base_logits\": [K], \"reward\": [K] or {\"ones\": [indices]}, "
         "\"teacher_logits\"?: [K]}]; π_ref of a type is softmax(base_logits)"),
    OBJ_("eval_types", NULL, "types of the same shape never trained on (ood_* metrics)"),
    ENUM_("params", "shared|per_type", "shared", "one θ ∈ R^K added to every type's base logits, or one θ per type"),
    NUMS_("init_theta", "zeros", "starting θ (K numbers)"),
    DIV_("divergence", "rkl", "the penalty β·D(π_ref‖π); rkl is KL(π‖π_ref), RLHF's usual penalty"),
    NUM_("beta", 0, 1e12, 1, 1, "0", "β, the penalty coefficient"),
    NUM_("entropy_bonus", 0, 1e12, 1, 1, "0", "η, weight of an entropy bonus"),
    NUM_("entropy_top_p", 0, 1, 0, 1, "1", "the bonus is the entropy of the top-p nucleus (1: plain entropy)"),
    NUM_("reward_coef", 0, 1e12, 1, 1, "1", "ρ, weight of the reward term (0 drops it)"),
    NUM_("kd_coef", 0, 1e12, 1, 1, "0", "γ, weight of KL(π‖π_teacher) toward types[].teacher_logits"),
    ENUM_("estimator", "exact|grpo", "exact", "full-expectation gradient, or sampled GRPO groups with a PPO clip"),
    INT_("group_size", 2, 1 << 16, "8", "grpo: answers sampled per type and step"),
    INT_("updates", 1, 1000, "1", "grpo: optimiser steps per sampled group"),
    NUM_("clip", 0, 1e6, 1, 1, "0.2", "grpo: PPO clip ε"),
    ENUM_("kl_estimator", "k1|k2|k3|kl|mse|low_var_kl|abs|k1+|k3+", "exact β·∇D",
          "grpo: estimate the penalty on the sampled answers with this estimator (k2 = mse, k3 = low_var_kl)"),
    ENUM_("optimizer", "gd|adam|newton|mirror", "gd", "newton and mirror need the exact estimator"),
    NUM_("lr", 0, 1e12, 0, 1, "1", "learning rate"),
    NUM_("step_clip", 0, 1e12, 1, 1, "0", "bound on each coordinate's step (0: none)"),
    INT_("steps", 0, 1e9, "1000", "optimiser steps (newton: at most this many Newton steps)"),
    OBJ_("k", "none", "an integer or a list of 1 to 16 integers ≥ 1: the pass@k to report"),
    INT_("collapse_answer", 0, 1 << 20, NULL, "start collapsed: answer j gets probability collapse_prob"),
    NUM_("collapse_prob", 0, 1, 0, 0, "1e-6", "probability of the collapsed answer at the start"),
    NUM_("recover_frac", 0, 1e6, 0, 1, "0.5", "recovered once π(j) ≥ recover_frac·π_ref(j)"),
    BOOL_("report_pi", 0, "false", "report pi_<i> (and opt_pi_<i>) of the first type, K ≤ 64"),
    END_};

static const ds_metric_info_t rlvr_metrics[] = {
    {"reward", "-", NULL, "Σ π·reward, weighted over types"},
    {"pass_at_1", "-", NULL, "P = Σ π·reward clamped to [0, 1], weighted over types"},
    {"pass_at_<k>", "-", "k", "1 − (1 − P)^k for each k in `k`"},
    {"entropy", "-", NULL, "entropy of π"},
    {"rkl_ref", "-", NULL, "KL(π‖π_ref)"},
    {"fkl_ref", "-", NULL, "KL(π_ref‖π)"},
    {"base_pass_at_1", "-", NULL, "pass@1 of π_ref over the trained types"},
    {"base_pass_at_<k>", "-", "k", "pass@k of π_ref"},
    {"base_entropy", "-", NULL, "entropy of π_ref"},
    {"ood_pass_at_1", "-", "eval_types", "pass@1 over eval_types (θ shared, or 0 for per_type)"},
    {"ood_pass_at_<k>", "-", "eval_types", "pass@k over eval_types"},
    {"ood_entropy", "-", "eval_types", "entropy over eval_types"},
    {"optimality_gap", "-", NULL, "max |π − π*| against the closed-form optimum, where one exists (per_type or one type)"},
    {"teacher_pass_at_1", "-", "types", "success probability of the teachers (types with teacher_logits)"},
    {"rkl_teacher", "-", "types", "KL(π‖π_teacher) over types with teacher_logits"},
    {"recover_step", "-", "collapse_answer", "first step with π(j) ≥ recover_frac·π_ref(j) (`steps` if never)"},
    {"recovered", "-", "collapse_answer", "1 if it recovered, else 0"},
    {"pi_<i>", "-", "report_pi", "π(i) of the first type"},
    {"opt_pi_<i>", "-", "report_pi", "π*(i) of the first type"},
    {"newton_steps", "-", "optimizer", "Newton steps taken (optimizer newton)"},
    {NULL, NULL, NULL, NULL}};

/* ---- fdpo ---------------------------------------------------------------------------------- */

static const ds_param_info_t fdpo_params[] = {
    INT_("answers", 2, 1 << 16, NULL, "K, the number of answers (required)"),
    NUMS_("base_logits", "zeros", "π_ref = softmax(base_logits), K numbers"),
    OBJ_("reward", NULL, "K numbers or {\"ones\": [answer indices]} (required; alias `rewards`)"),
    OBJ_("rewards", NULL, "alias of reward, keeping its view column apart from the `reward` metric"),
    DIV_("divergence", "rkl", "the f-DPO link: rkl (standard DPO), fkl, jsd (beta 0.5 only) or amari"),
    NUM_("beta", 0, 1e12, 0, 1, "0.1", "β of the DPO loss"),
    ENUM_("mode", "population|sampled", "population", "all ordered pairs weighted by π_ref(i)π_ref(j), or sampled pairs"),
    INT_("pairs", 1, 1 << 24, "64", "sampled: pairs drawn per step"),
    ENUM_("optimizer", "adam|gd|newton", "adam", "newton: population mode only"),
    NUM_("lr", 0, 1e12, 0, 1, "0.05", "learning rate"),
    NUM_("step_clip", 0, 1e12, 1, 1, "0", "bound on each coordinate's step (0: none)"),
    INT_("steps", 0, 1e9, "2000", "optimiser steps"),
    END_};

static const ds_metric_info_t fdpo_metrics[] = {
    {"optimality_gap", "-", NULL, "max |π − π*|, π* = π_ref·(f′)⁻¹((r − λ)/β)"},
    {"entropy", "-", NULL, "entropy of π"},
    {"reward", "-", NULL, "Σ π·r"},
    {"min_ratio", "-", NULL, "min π/π_ref"},
    {"rkl_ref", "-", NULL, "KL(π‖π_ref)"},
    {"fkl_ref", "-", NULL, "KL(π_ref‖π)"},
    {"loss", "-", NULL, "population f-DPO loss at the end"},
    {"newton_steps", "-", "optimizer", "Newton steps taken (optimizer newton)"},
    {NULL, NULL, NULL, NULL}};

/* ---- logits -------------------------------------------------------------------------------- */

static const ds_param_info_t logits_params[] = {
    OBJ_("teachers", NULL, "required: a list of {\"npy\": \"file\"}, logits [rows][V] or [V] (float32/float64)"),
    FILE_("student_npy", "uniform student", "student logits, same shape as the teachers"),
    NUMS_("mixture", "uniform", "weights over the teachers, ≥ 0, summing to 1"),
    ENUM_("mix", "arithmetic|geometric|loss|confidence", "arithmetic", "as for distill"),
    DIV_("divergence", "fkl", "the loss (`divsweep help divergences`)"),
    NUM_("temperature", 0, 1e6, 0, 1, "1", "T, dividing teacher and student logits"),
    BOOL_("t2", 1, "false", "multiply the loss by T²"),
    FILE_("labels", NULL, "class indices, one per row"),
    INT_("row", 0, 1 << 30, "all rows", "keep only this row of every file"),
    END_};

static const ds_metric_info_t logits_metrics[] = {
    {"loss", "trial T", NULL, "the divergence with the mixture, batchmean over rows (×T² with t2)"},
    {"grad_norm", "trial T", NULL, "‖∂loss/∂student logits‖₂ over the whole array"},
    {"fkl", "T = 1", NULL, "KL(teacher‖student) against the mixed teacher, mean over rows"},
    {"rkl", "T = 1", NULL, "KL(student‖teacher), mean over rows"},
    {"jsd", "T = 1", NULL, "JSD at β ½, mean over rows"},
    {"tvd", "T = 1", NULL, "½Σ|t − s|, mean over rows"},
    {"top1_agree", "T = 1", NULL, "fraction of rows whose argmaxes agree"},
    {"entropy_t", "trial T", NULL, "student entropy"},
    {"teacher_entropy_t", "trial T", NULL, "mixed-teacher entropy"},
    {"teacher_max_t", "trial T", NULL, "mean top probability of the mixed teacher"},
    {"rank_preserved", "trial T", NULL, "fraction of rows whose teacher order at T is the order at T = 1"},
    {"teacher_accuracy", "trial T", "labels", "mixed teacher's accuracy"},
    {"teacher_pass_at_1", "trial T", "labels", "mixed teacher's mean probability of the label"},
    {"teacher_ece", "trial T", "labels", "mixed teacher's ECE"},
    {"teacher<i>_accuracy", "trial T", "labels", "teacher i's accuracy"},
    {"teacher<i>_pass_at_1", "trial T", "labels", "teacher i's mean probability of the label"},
    {"accuracy", "trial T", "labels", "student accuracy"},
    {"pass_at_1", "trial T", "labels", "student's mean probability of the label"},
    {"ece", "trial T", "labels", "student ECE"},
    {NULL, NULL, NULL, NULL}};

/* ---- exec --------------------------------------------------------------------------------- */

static const ds_param_info_t exec_params[] = {
    OBJ_("command", NULL,
         "required: the program as an argv list (no shell), e.g. [\"python3\", \"train.py\", \"--lr\", \"{lr}\"]; "
         "{name} is any parameter, {trial_key}, {seed} (key-derived), {attempt}, {threads}, {gpu}; {{ and }} are braces"),
    OBJ_("workdir", "the trial's work/", "working directory, created per trial (placeholders as in command)"),
    OBJ_("env", "{}", "extra environment variables, {\"NAME\": \"value\"} (placeholders as in command)"),
    END_};

static const ds_metric_info_t exec_metrics[] = {
    {"<any>", "-", NULL, "whatever the program reports: {\"final\": {...}} on fd 3 or 'divsweep: {...}' on stdout"},
    {NULL, NULL, NULL, NULL}};

static const ds_task_info_t tasks[] = {
    {"noop", "returns at once with a tiny computed metric; fault injection for tests", 1, noop_params, noop_metrics, 0},
    {"distill", "fit a student to a (mixture of) teacher(s) under a divergence at temperature T", 0, distill_params,
     distill_metrics, 0},
    {"rlvr", "policy optimisation over K answers with a verifiable reward and a penalty β·D(π_ref‖π)", 0, rlvr_params,
     rlvr_metrics, 0},
    {"fdpo", "preference optimisation with f-DPO links over K answers", 0, fdpo_params, fdpo_metrics, 0},
    {"logits", "divergences of user-supplied teacher/student logits (.npy): nothing is trained", 0, logits_params,
     logits_metrics, 0},
    {"exec", "your own program as a trial: argv with {param} placeholders, metrics as JSON lines on fd 3", 1,
     exec_params, exec_metrics, 1},
};
static const ds_task_info_t *const task_list[] = {&tasks[0], &tasks[1], &tasks[2], &tasks[3], &tasks[4], &tasks[5],
                                                  NULL};

const ds_task_info_t *const *ds_params_tasks(void) { return task_list; }

const ds_task_info_t *ds_params_task(const char *name) {
  for (int i = 0; task_list[i]; i++)
    if (name && !strcmp(task_list[i]->name, name)) return task_list[i];
  return NULL;
}

const ds_param_info_t *ds_params_find(const ds_task_info_t *t, const char *key) {
  for (const ds_param_info_t *p = t ? t->params : NULL; p && p->name; p++)
    if (!strcmp(p->name, key)) return p;
  return NULL;
}

/* ---- checks -------------------------------------------------------------------------------- */

void ds_params_range(const ds_param_info_t *p, char *buf, size_t len) {
  switch (p->type) {
    case DS_PT_INT: snprintf(buf, len, "%.0f..%.0f", p->lo, p->hi); break;
    case DS_PT_NUM: snprintf(buf, len, "%s%g, %g%s", p->lo_incl ? "[" : "(", p->lo, p->hi, p->hi_incl ? "]" : ")"); break;
    case DS_PT_BOOL: snprintf(buf, len, p->bool01 ? "true, false (or 1, 0)" : "true, false"); break;
    case DS_PT_ENUM: {
      size_t o = 0;
      for (const char *c = p->choices; *c && o + 3 < len; c++) {
        if (*c == '|') { buf[o++] = ','; buf[o++] = ' '; }
        else buf[o++] = *c;
      }
      buf[o] = 0;
      break;
    }
    default: snprintf(buf, len, "-"); break;
  }
}

static int enum_has(const char *choices, const char *s) {
  size_t n = strlen(s);
  for (const char *c = choices; c && *c;) {
    const char *bar = strchr(c, '|');
    size_t m = bar ? (size_t)(bar - c) : strlen(c);
    if (m == n && !strncmp(c, s, n)) return 1;
    c = bar ? bar + 1 : c + m;
  }
  return 0;
}

int ds_params_check(const ds_param_info_t *p, const cJSON *v, char *err, size_t err_len) {
  char r[200];
  ds_params_range(p, r, sizeof r);
  switch (p->type) {
    case DS_PT_INT:
      if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < p->lo || v->valuedouble > p->hi) {
        snprintf(err, err_len, ": expected an integer in %s", r);
        return DS_ESPEC;
      }
      return 0;
    case DS_PT_NUM: {
      double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
      if (!isfinite(x) || (p->lo_incl ? x < p->lo : x <= p->lo) || (p->hi_incl ? x > p->hi : x >= p->hi)) {
        snprintf(err, err_len, ": expected a number in %s", r);
        return DS_ESPEC;
      }
      return 0;
    }
    case DS_PT_BOOL:
      if (cJSON_IsBool(v) || (p->bool01 && cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))) return 0;
      snprintf(err, err_len, ": expected true or false");
      return DS_ESPEC;
    case DS_PT_ENUM:
      if (cJSON_IsString(v) && enum_has(p->choices, v->valuestring)) return 0;
      if (cJSON_IsString(v)) {
        const char *names[32];
        char copy[256];
        size_t n = 0;
        snprintf(copy, sizeof copy, "%s", p->choices);
        for (char *s = strtok(copy, "|"); s && n < 31; s = strtok(NULL, "|")) names[n++] = s;
        names[n] = NULL;
        const char *near = ds_params_suggest(v->valuestring, names, NULL);
        if (near) {
          snprintf(err, err_len, ": unknown value \"%s\" (expected one of %s); did you mean \"%s\"?", v->valuestring, r, near);
          return DS_ESPEC;
        }
      }
      snprintf(err, err_len, ": expected one of %s", r);
      return DS_ESPEC;
    case DS_PT_FILE:
      if (cJSON_IsString(v) && v->valuestring[0]) return 0;
      snprintf(err, err_len, ": expected a file name");
      return DS_ESPEC;
    case DS_PT_DIV: {
      /* Only the name, for a suggestion; the task's check() owns the parameters' domains. */
      const cJSON *n = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "name") : v;
      ds_div_t d;
      if (!cJSON_IsString(n) || ds_div_from_name(n->valuestring, &d) == 0) return 0;
      const char *names[DS_DIV__COUNT + 1];
      for (int k = 0; k < DS_DIV__COUNT; k++) names[k] = ds_div_name((ds_div_kind_t)k);
      names[DS_DIV__COUNT] = NULL;
      const char *near = ds_params_suggest(n->valuestring, names, NULL);
      if (!near) return 0;
      snprintf(err, err_len, "%s: unknown divergence \"%s\"; did you mean \"%s\"?", cJSON_IsObject(v) ? ".name" : "",
               n->valuestring, near);
      return DS_ESPEC;
    }
    default:
      return 0;
  }
}

/* Levenshtein distance, for typo suggestions (names are short). */
static size_t edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 63 || m > 63) return 99;
  size_t d[64], prev;
  for (size_t j = 0; j <= m; j++) d[j] = j;
  for (size_t i = 1; i <= n; i++) {
    prev = d[0];
    d[0] = i;
    for (size_t j = 1; j <= m; j++) {
      size_t cur = d[j];
      size_t best = prev + (a[i - 1] != b[j - 1]);
      if (d[j] + 1 < best) best = d[j] + 1;
      if (d[j - 1] + 1 < best) best = d[j - 1] + 1;
      d[j] = best;
      prev = cur;
    }
  }
  return d[m];
}

const char *ds_params_suggest(const char *word, const char *const *names, const ds_task_info_t *t) {
  const char *best = NULL;
  size_t bd = 99, n = strlen(word);
  size_t limit = n < 4 ? 1 : n < 9 ? 2 : 3;
  if (names) {
    for (size_t i = 0; names[i]; i++) {
      size_t d = edit_distance(word, names[i]);
      if (d < bd) { bd = d; best = names[i]; }
    }
  } else {
    for (const ds_param_info_t *p = t ? t->params : NULL; p && p->name; p++) {
      size_t d = edit_distance(word, p->name);
      if (d < bd) { bd = d; best = p->name; }
    }
  }
  return bd <= limit ? best : NULL;
}

/* ---- metrics ------------------------------------------------------------------------------- */

static const cJSON *param_value(const cJSON *fixed, const cJSON *sweep, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(fixed, key);
  return v ? v : cJSON_GetObjectItemCaseSensitive(sweep, key);
}

/* Whether the number x occurs anywhere inside v (a k value, a list of them, a sweep list). */
static int has_number(const cJSON *v, double x) {
  if (cJSON_IsNumber(v)) return v->valuedouble == x;
  for (const cJSON *c = v ? v->child : NULL; c; c = c->next)
    if (has_number(c, x)) return 1;
  return 0;
}

/* Matches name against a pattern with one "<k>" or "<i>" placeholder; *num gets the number. */
static int pattern_match(const char *pat, const char *name, double *num, int *is_k) {
  const char *lt = strchr(pat, '<');
  if (!lt) return !strcmp(pat, name);
  const char *gt = strchr(lt, '>');
  size_t pre = (size_t)(lt - pat);
  if (strncmp(pat, name, pre)) return 0;
  const char *s = name + pre;
  char *end;
  if (*s < '0' || *s > '9') return 0;
  *num = strtod(s, &end);
  *is_k = lt[1] == 'k';
  return !strcmp(end, gt + 1);
}

int ds_params_metric_possible(const ds_task_info_t *t, const char *name, const cJSON *fixed, const cJSON *sweep,
                              char *why, size_t why_len) {
  size_t o = 0;
  if (why_len) why[0] = 0;
  if (t->open_metrics) return 1;
  for (const ds_metric_info_t *m = t->metrics; m->name; m++) {
    double num = 0;
    int is_k = 0;
    int have = !m->requires || param_value(fixed, sweep, m->requires);
    if (have && pattern_match(m->name, name, &num, &is_k)) {
      if (!is_k || has_number(param_value(fixed, sweep, "k"), num)) return 1;
    }
    if (!have || o + 2 >= why_len) continue;
    if (strchr(m->name, '<') && !strcmp(strchr(m->name, '<'), "<k>")) {
      /* Spell the pass@k names out for the k values the spec gives. */
      const cJSON *k = param_value(fixed, sweep, "k");
      double ks[64];
      size_t nk = 0;
      const cJSON *stack[64];
      size_t sp = 0;
      if (k) stack[sp++] = k;
      while (sp && nk < 64) {
        const cJSON *c = stack[--sp];
        if (cJSON_IsNumber(c)) {
          int dup = c->valuedouble == 1;
          for (size_t j = 0; j < nk; j++) dup |= ks[j] == c->valuedouble;
          if (!dup) ks[nk++] = c->valuedouble;
        }
        for (const cJSON *e = c->child; e && sp < 64; e = e->next) stack[sp++] = e;
      }
      size_t pre = (size_t)(strchr(m->name, '<') - m->name);
      for (size_t j = 0; j < nk && o + 2 < why_len; j++)
        o += (size_t)snprintf(why + o, why_len - o, "%s%.*s%.0f", o ? ", " : "", (int)pre, m->name, ks[j]);
    } else {
      o += (size_t)snprintf(why + o, why_len - o, "%s%s", o ? ", " : "", m->name);
    }
    if (o >= why_len) o = why_len - 1;
  }
  return 0;
}

/* ---- help output --------------------------------------------------------------------------- */

int ds_params_print_task(FILE *f, const char *task) {
  const ds_task_info_t *t = ds_params_task(task);
  if (!t) return -1;
  fprintf(f, "### Task `%s`\n\n%s.%s\n\n", t->name, t->summary,
          t->open_metrics ? " Any other parameter name is yours: the program gets it through placeholders and DIVSWEEP_PARAMS."
          : t->open ? " Any other parameter name is accepted too (a noop sweep can name any axis)." : "");
  fprintf(f, "| parameter | type | range | default | meaning |\n| --- | --- | --- | --- | --- |\n");
  static const char *tn[] = {"integer", "number", "bool", "string", "file", "divergence", "list", "object"};
  for (const ds_param_info_t *p = t->params; p->name; p++) {
    char r[200];
    ds_params_range(p, r, sizeof r);
    fprintf(f, "| `%s` | %s | %s | %s | %s |\n", p->name, tn[p->type], r, p->def ? p->def : "-", p->meaning);
  }
  fprintf(f, "\n| metric | measured at | reported when | meaning |\n| --- | --- | --- | --- |\n");
  for (const ds_metric_info_t *m = t->metrics; m->name; m++)
    fprintf(f, "| `%s` | %s | %s | %s |\n", m->name, m->temp, m->requires ? m->requires : "always", m->meaning);
  return 0;
}

/* The divergence catalogue (kernels/ds_kernels.h; DESIGN conventions: p teacher, q student). */
static const struct {
  const char *name, *params, *formula;
} divs[] = {
    {"fkl", "-", "KL(p‖q) = Σ p log(p/q)"},
    {"rkl", "-", "KL(q‖p) = Σ q log(q/p)"},
    {"jsd", "beta ∈ (0, 1), default 0.5", "β·KL(p‖m) + (1−β)·KL(q‖m), m = βp + (1−β)q; at ½ bounded by ln 2"},
    {"skl", "alpha ∈ [0, 1), default 0.1", "KL(p‖αp + (1−α)q) (skew KL; α = 0 is fkl)"},
    {"srkl", "alpha ∈ [0, 1), default 0.1", "KL(q‖(1−α)p + αq) (skew reverse KL; α = 0 is rkl)"},
    {"tvd", "-", "½ Σ |p − q|, in [0, 1]"},
    {"hellinger", "-", "H² = 1 − Σ √(pq) = ½ Σ (√p − √q)², in [0, 1]; not amari(0.5) = 4H²"},
    {"chi2", "-", "Pearson Σ (p − q)²/q"},
    {"chi2n", "-", "Neyman Σ (q − p)²/p"},
    {"renyi", "alpha > 0, ≠ 1, default 0.5", "(α − 1)⁻¹ log Σ p^α q^(1−α)"},
    {"amari", "alpha ∈ (0, 1), default 0.5", "(1 − Σ p^α q^(1−α)) / (α(1 − α)); α → 1 is fkl, α → 0 is rkl"},
    {"ab", "alpha, beta finite, default 0.5, 0.5",
     "−(αβ)⁻¹ Σ [p^α q^β − α/(α+β) p^(α+β) − β/(α+β) q^(α+β)] (Cichocki), degenerate cases as limits; "
     "ab(1,0) = fkl, ab(0,1) = rkl, ab(½,½) = 4H², ab(α,1−α) = amari(α)"},
    {"cs", "-", "Cauchy–Schwarz −log Σpq + ½ log Σp² + ½ log Σq² (the one-half form)"},
    {"wmix", "w ∈ [0, 1], default 0.5", "w·KL(p‖q) + (1 − w)·KL(q‖p)"},
    {"w1", "-", "(1/V) Σ_k |F_p(k) − F_q(k)|: Wasserstein-1 under the ordinal cost |i − j|/V"},
    {"sinkhorn", "epsilon > 0, default 0.1; cost \"ordinal\" (|i − j|/V, default) or \"01\"",
     "OT_ε = ⟨P, C⟩ + ε·KL(P‖p⊗q) at the optimal plan P (not the transport cost ⟨P, C⟩ alone); log domain, ε-scaling"},
    {"entropy", "-", "H(q) = −Σ q log q (the teacher is ignored)"},
};

void ds_params_print_divergences(FILE *f) {
  fprintf(f, "| name | parameters | definition |\n| --- | --- | --- |\n");
  for (size_t i = 0; i < sizeof divs / sizeof divs[0]; i++)
    fprintf(f, "| `%s` | %s | %s |\n", divs[i].name, divs[i].params, divs[i].formula);
}
