/* test_params.c — the parameter tables of worker/params.c (what validation checks first and what
 * `divsweep help` and docs/ print) agree with each task's own check(): every scalar row's bounds
 * and choices are probed through the task's check(), and the table-driven dispatcher answers
 * unknown names with the nearest valid one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ds_params.h"
#include "ds_task.h"
#include "ds_test.h"

static int task_accepts(const ds_task_t *t, const char *key, cJSON *v) {
  char err[400];
  int ok = !t->check || t->check(key, v, err, sizeof err) == 0;
  cJSON_Delete(v);
  return ok;
}

/* A value just outside [lo, hi] on the given side (relative step for large bounds). */
static double outside(double x, int below) {
  double step = fmax(1e-9, fabs(x) * 1e-9);
  return below ? x - step : x + step;
}

static void test_every_scalar_row_agrees_with_its_tasks_check(void) {
  for (const ds_task_info_t *const *ti = ds_params_tasks(); *ti; ti++) {
    const ds_task_t *t = ds_task_find((*ti)->name);
    ASSERT_TRUE(t != NULL);
    if (!t) continue;
    for (const ds_param_info_t *p = (*ti)->params; p->name; p++) {
      char what[160];
      snprintf(what, sizeof what, "%s.%s", t->name, p->name);
      if (p->type == DS_PT_INT || p->type == DS_PT_NUM) {
        int lo_in = p->type == DS_PT_INT || p->lo_incl, hi_in = p->type == DS_PT_INT || p->hi_incl;
        double lo = p->type == DS_PT_INT ? p->lo : p->lo_incl ? p->lo : outside(p->lo, 0);
        double hi = p->type == DS_PT_INT ? p->hi : p->hi_incl ? p->hi : outside(p->hi, 1);
        double below = p->type == DS_PT_INT ? p->lo - 1 : lo_in ? outside(p->lo, 1) : p->lo;
        double above = p->type == DS_PT_INT ? p->hi + 1 : hi_in ? outside(p->hi, 0) : p->hi;
        if (!task_accepts(t, p->name, cJSON_CreateNumber(lo))) { printf("  %s: check() rejects the table's low end %.17g\n", what, lo); ASSERT_TRUE(0); }
        if (!task_accepts(t, p->name, cJSON_CreateNumber(hi))) { printf("  %s: check() rejects the table's high end %.17g\n", what, hi); ASSERT_TRUE(0); }
        /* The table is checked first, so a looser task check is harmless; a stricter one would
         * make the documented range a lie.  Below/above must fail in the table itself. */
        char err[300];
        cJSON *v = cJSON_CreateNumber(below);
        if (ds_params_check(p, v, err, sizeof err) == 0) { printf("  %s: table accepts %.17g\n", what, below); ASSERT_TRUE(0); }
        cJSON_Delete(v);
        v = cJSON_CreateNumber(above);
        if (ds_params_check(p, v, err, sizeof err) == 0) { printf("  %s: table accepts %.17g\n", what, above); ASSERT_TRUE(0); }
        cJSON_Delete(v);
      } else if (p->type == DS_PT_ENUM) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", p->choices);
        for (char *s = strtok(copy, "|"); s; s = strtok(NULL, "|"))
          if (!task_accepts(t, p->name, cJSON_CreateString(s))) { printf("  %s: check() rejects choice %s\n", what, s); ASSERT_TRUE(0); }
      } else if (p->type == DS_PT_BOOL) {
        ASSERT_TRUE(task_accepts(t, p->name, cJSON_CreateTrue()));
        ASSERT_TRUE(task_accepts(t, p->name, cJSON_CreateFalse()));
      }
    }
  }
}

static void test_unknown_names_get_the_nearest_valid_one(void) {
  char err[400] = "";
  cJSON *v = cJSON_CreateString("fkl");
  ASSERT_TRUE(ds_task_check_param("rlvr", "divergance", v, err, sizeof err) != 0);
  ASSERT_STREQ(err, ": unknown parameter for task rlvr; did you mean \"divergence\"?");
  ASSERT_TRUE(ds_task_check_param("rlvr", "temperature", v, err, sizeof err) != 0);
  ASSERT_TRUE(strstr(err, "did you mean") == NULL);
  ASSERT_TRUE(ds_task_check_param("noop", "anything_goes", v, err, sizeof err) == 0);
  cJSON_Delete(v);
  v = cJSON_CreateString("adma");
  ASSERT_TRUE(ds_task_check_param("distill", "optimizer", v, err, sizeof err) != 0);
  ASSERT_TRUE(strstr(err, "did you mean \"adam\"") != NULL);
  cJSON_Delete(v);
  v = cJSON_Parse("{\"name\": \"helinger\"}");
  ASSERT_TRUE(ds_task_check_param("distill", "divergence", v, err, sizeof err) != 0);
  ASSERT_STREQ(err, ".name: unknown divergence \"helinger\"; did you mean \"hellinger\"?");
  cJSON_Delete(v);
}

static void test_metrics_follow_the_parameters(void) {
  const ds_task_info_t *t = ds_params_task("rlvr");
  cJSON *fixed = cJSON_Parse("{\"k\": [1, 8, 64]}");
  char why[600];
  ASSERT_TRUE(ds_params_metric_possible(t, "pass_at_64", fixed, NULL, why, sizeof why));
  ASSERT_TRUE(!ds_params_metric_possible(t, "pass_at_128", fixed, NULL, why, sizeof why));
  ASSERT_TRUE(strstr(why, "pass_at_64") != NULL);
  ASSERT_TRUE(!ds_params_metric_possible(t, "ood_pass_at_1", fixed, NULL, why, sizeof why));
  cJSON_Delete(fixed);
  ASSERT_TRUE(ds_params_metric_possible(ds_params_task("logits"), "teacher1_accuracy",
                                        cJSON_GetObjectItem(cJSON_Parse("{\"f\":{\"labels\":\"l.npy\"}}"), "f"), NULL, why, sizeof why));
}

int main(void) {
  RUN_TEST(test_every_scalar_row_agrees_with_its_tasks_check);
  RUN_TEST(test_unknown_names_get_the_nearest_valid_one);
  RUN_TEST(test_metrics_follow_the_parameters);
  return ds_test_exit();
}
