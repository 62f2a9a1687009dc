/* report_demo.c — writes an HTML report of a synthetic RLVR divergence-choice campaign.
 *
 *   report_demo OUT.html [--evil] [--betas N] [--chartjs chart.min.js]
 *
 * The data imitate `divsweep run` on the DESIGN.md §3 spec: divergences × log-spaced β ×
 * temperature × 3 seeds, objectives pass_at_1 (max), pass_at_64 (max), rkl_ref (min), a few
 * failed trials with NaN metrics, and a hypervolume-over-time series built with the incremental
 * ranker exactly as the coordinator would.  --evil adds a group and a parameter name full of HTML
 * to check escaping.  test_report.c includes this file (with DS_REPORT_DEMO_NO_MAIN) to share the
 * generator; tests/report_chromium.sh runs the executable.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"
#include "ds_pareto.h"
#include "ds_report.h"

#define DEMO_NP 4
#define DEMO_NO 3

typedef struct demo {
  ds_report_t r;
  size_t n;
  int64_t *id, *seed;
  const char **group;
  double *pv, *metric;
  const char **ptext;
  ds_report_hv_t *hv;
  ds_report_kv_t kv[4];
  char kvbuf[2][64];
} demo_t;

static const char *demo_params[DEMO_NP] = {"divergence", "beta", "temperature", "answers"};
static const char *demo_params_evil[DEMO_NP] = {"divergence", "beta", "temp<\"erature\">", "answers"};
static const char *demo_obj[DEMO_NO] = {"pass_at_1", "pass_at_64", "rkl_ref"};
static const ds_pareto_sense_t demo_sense[DEMO_NO] = {DS_PARETO_MAX, DS_PARETO_MAX, DS_PARETO_MIN};

static double demo_noise(uint64_t *st)
{
  /* Sum of uniforms: cheap, deterministic, roughly normal with unit variance. */
  double s = 0;
  for (int k = 0; k < 4; k++) {
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    s += (double)(*st >> 11) * 0x1.0p-53;
  }
  return (s - 2.0) * 1.7320508;
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

static void demo_free(demo_t *d)
{
  free(d->id);
  free(d->seed);
  free(d->group);
  free(d->pv);
  free(d->metric);
  free(d->ptext);
  free(d->hv);
  memset(d, 0, sizeof *d);
}

static int demo_build(demo_t *d, int evil, size_t nbeta)
{
  static const char *divs[] = {"fkl", "rkl", "jsd", "amari(\xce\xb1=0.25)", "tvd",
                               "<script>alert('x')</script> & co"};
  static const double qual[] = {0.52, 0.62, 0.58, 0.60, 0.50, 0.55};  /* pass@1 at small β */
  static const double cover[] = {0.78, 0.62, 0.70, 0.66, 0.68, 0.64}; /* pass@64 base */
  static const double temps[] = {0.5, 1.0, 2.0};
  size_t ndiv = evil ? 6 : 5, nseed = 3;
  memset(d, 0, sizeof *d);
  size_t n = ndiv * nbeta * 3 * nseed;
  d->n = n;
  d->id = malloc(n * sizeof *d->id);
  d->seed = malloc(n * sizeof *d->seed);
  d->group = malloc(n * sizeof *d->group);
  d->pv = malloc(n * DEMO_NP * sizeof *d->pv);
  d->ptext = calloc(n * DEMO_NP, sizeof *d->ptext);
  d->metric = malloc(n * DEMO_NO * sizeof *d->metric);
  size_t nhv_cap = ndiv * (n / 10 + 2);
  d->hv = malloc(nhv_cap * sizeof *d->hv);
  if (!d->id || !d->seed || !d->group || !d->pv || !d->ptext || !d->metric || !d->hv) {
    demo_free(d);
    return DS_ENOMEM;
  }
  uint64_t st = 42;
  size_t i = 0, failed = 0;
  for (size_t dv = 0; dv < ndiv; dv++)
    for (size_t b = 0; b < nbeta; b++)
      for (size_t t = 0; t < 3; t++)
        for (size_t s = 0; s < nseed; s++, i++) {
          double lb = nbeta > 1 ? -2.5229 + 3.0 * (double)b / (double)(nbeta - 1) : -1; /* 0.003..3 */
          double beta = pow(10.0, lb), T = temps[t];
          d->id[i] = (int64_t)(1000 + i);
          d->seed[i] = (int64_t)s;
          d->group[i] = divs[dv];
          d->pv[i * DEMO_NP + 0] = NAN;
          d->ptext[i * DEMO_NP + 0] = divs[dv];
          d->pv[i * DEMO_NP + 1] = beta;
          d->pv[i * DEMO_NP + 2] = T;
          d->pv[i * DEMO_NP + 3] = 8;
          double p1 = qual[dv] + 0.22 * sigm(-(lb + 0.7) * 2.2) - 0.06 * fabs(log2(T)) +
                      0.02 * demo_noise(&st);
          double p64 = cover[dv] + 0.18 * sigm((lb + 1.0) * 1.6) - 0.35 * (p1 - 0.6) +
                       0.015 * demo_noise(&st) + 0.03 * (T > 1);
          double kl = 2.4 * exp(-1.5 * (lb + 2.5)) * (1 + 0.25 * T) * (1 + 0.08 * demo_noise(&st));
          if (i % 37 == 5) { kl = NAN; failed++; } /* a failed trial */
          d->metric[i * DEMO_NO + 0] = p1;
          d->metric[i * DEMO_NO + 1] = p64 > 1 ? 1 : p64;
          d->metric[i * DEMO_NO + 2] = kl;
        }
  /* Hypervolume over time, per group: trials complete in a seeded interleaved order; the
   * coordinator commits every ~10 results and records the hypervolume against a reference point
   * fixed from the group's data. */
  size_t nhv = 0, per = n / ndiv;
  for (size_t dv = 0; dv < ndiv; dv++) {
    ds_pareto_t *p = NULL;
    double ref[DEMO_NO];
    if (ds_pareto_init(&p, DEMO_NO, demo_sense) ||
        ds_pareto_ref_point(d->metric + dv * per * DEMO_NO, per, DEMO_NO, demo_sense,
                            DS_PARETO_REF_MARGIN, ref)) {
      ds_pareto_free(p);
      demo_free(d);
      return DS_ENOMEM;
    }
    for (size_t k = 0; k < per; k++) {
      size_t q = dv * per + (k * 7919) % per; /* 7919 is prime: a permutation of the group */
      ds_pareto_add(p, d->id[q], d->metric + q * DEMO_NO);
      if ((k + 1) % 10 == 0 || k + 1 == per) {
        double hv = 0;
        ds_pareto_commit(p, NULL, NULL);
        ds_pareto_front_hypervolume(p, ref, &hv);
        d->hv[nhv++] = (ds_report_hv_t){divs[dv], 1.7 * (double)(k + 1) * (double)ndiv / 10.0, hv};
      }
    }
    ds_pareto_free(p);
  }
  snprintf(d->kvbuf[0], sizeof d->kvbuf[0], "%zu", n);
  snprintf(d->kvbuf[1], sizeof d->kvbuf[1], "%zu (NaN metric)", failed);
  d->kv[0] = (ds_report_kv_t){"task", "rlvr"};
  d->kv[1] = (ds_report_kv_t){"trials", d->kvbuf[0]};
  d->kv[2] = (ds_report_kv_t){"failed", d->kvbuf[1]};
  d->kv[3] = (ds_report_kv_t){"spec", "experiments/rlvr-divergence-choice.json"};
  ds_report_t *r = &d->r;
  r->title = evil ? "rlvr <b>divergence</b> & \"choice\"" : "rlvr-divergence-choice";
  r->subtitle = "synthetic data \xc2\xb7 divergences \xc3\x97 \xce\xb2 (log) \xc3\x97 temperature \xc3\x97 3 seeds";
  r->summary = d->kv;
  r->n_summary = 4;
  r->n_objectives = DEMO_NO;
  r->objective = demo_obj;
  r->sense = demo_sense;
  r->n_params = DEMO_NP;
  r->param = evil ? demo_params_evil : demo_params;
  r->n_points = n;
  r->trial_id = d->id;
  r->group = d->group;
  r->seed = d->seed;
  r->front_rank = NULL;
  r->param_value = d->pv;
  r->param_text = d->ptext;
  r->metric = d->metric;
  r->scatter_x = 0;
  r->scatter_y = 1;
  r->group_label = "divergence";
  r->hv = d->hv;
  r->n_hv = nhv;
  r->hv_time_label = "elapsed (s)";
  return 0;
}

#ifndef DS_REPORT_DEMO_NO_MAIN
int main(int argc, char **argv)
{
  const char *out = NULL, *chartjs = NULL;
  int evil = 0;
  size_t nbeta = 9;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--evil") == 0) evil = 1;
    else if (strcmp(argv[a], "--betas") == 0 && a + 1 < argc) nbeta = (size_t)atoi(argv[++a]);
    else if (strcmp(argv[a], "--chartjs") == 0 && a + 1 < argc) chartjs = argv[++a];
    else out = argv[a];
  }
  if (!out || nbeta < 1) {
    fprintf(stderr, "usage: report_demo OUT.html [--evil] [--betas N] [--chartjs chart.min.js]\n");
    return 1;
  }
  demo_t d;
  int rc = demo_build(&d, evil, nbeta);
  char *lib = NULL;
  if (!rc && chartjs) {
    FILE *f = fopen(chartjs, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (lib = malloc((size_t)n + 1)) &&
        fread(lib, 1, (size_t)n, f) == (size_t)n) {
      lib[n] = 0;
      d.r.chartjs = lib;
    } else {
      rc = DS_EIO;
    }
    if (f) fclose(f);
  }
  if (!rc) rc = ds_report_write(&d.r, out);
  free(lib);
  demo_free(&d);
  if (rc) {
    fprintf(stderr, "report_demo: %s: %s\n", out, ds_strerror(rc));
    return 2;
  }
  return 0;
}
#endif
