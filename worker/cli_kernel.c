/* cli_kernel.c — `divsweep kernel` (evaluate a divergence on .npy logits) and `divsweep bench
 * kernels` (time the fused forward+backward).  Thin: parse options, load, call ds_kern_fwd_bwd,
 * print.  All buffers are owned here and released on every path through one `fail` label.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ds_clock.h"
#include "ds_cli_kernel.h"
#include "ds_error.h"
#include "ds_kernels.h"
#include "ds_npy.h"

#define MAX_TEACHERS 16
#define MAX_PARAMS 16

static int usage_kernel(void) {
  fprintf(stderr,
          "usage: divsweep kernel --div NAME [--param k=v]... --teacher T.npy [--teacher T2.npy --weights a,b\n"
          "                       [--mix arithmetic|geometric|loss]] --student S.npy [--temperature T] [--t2]\n"
          "                       [--reduction batchmean|sum|mean|none] [--grad OUT.npy] [--backend NAME]\n"
          "                       [--threads N] [--json]\n");
  return DS_EXIT_USAGE;
}

static int parse_double(const char *s, double *v) {
  char *end;
  if (!s || !*s) return -1;
  *v = strtod(s, &end);
  return *end == '\0' && isfinite(*v) ? 0 : -1;
}

static void json_num(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.17g", v);
  else fputs("null", f);
}

int ds_cli_kernel(int argc, char **argv) {
  const char *div_name = NULL, *student_path = NULL, *grad_path = NULL, *backend = "cpu";
  const char *teacher_path[MAX_TEACHERS], *pkey[MAX_PARAMS], *weights_s = NULL, *mix_s = "arithmetic";
  char pbuf[MAX_PARAMS][128];
  const char *pval[MAX_PARAMS];
  size_t K = 0, np = 0;
  double temperature = 1.0, weights[MAX_TEACHERS];
  int t2 = 0, json = 0, threads = 0, rc = DS_EXIT_USAGE;
  ds_reduction_t red = DS_RED_BATCHMEAN;
  ds_npy_t teach[MAX_TEACHERS], stud, costm;
  double *cost = NULL, *row_loss = NULL;
  float *grad = NULL;
  char err[512];
  memset(teach, 0, sizeof teach);
  memset(&stud, 0, sizeof stud);
  memset(&costm, 0, sizeof costm);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (strcmp(a, "--t2") == 0) { t2 = 1; takes = 0; }
    else if (strcmp(a, "--json") == 0) { json = 1; takes = 0; }
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage_kernel(); return 0; }
    else if (!v) { fprintf(stderr, "divsweep kernel: option %s needs a value\n", a); return usage_kernel(); }
    else if (strcmp(a, "--div") == 0) div_name = v;
    else if (strcmp(a, "--student") == 0) student_path = v;
    else if (strcmp(a, "--grad") == 0) grad_path = v;
    else if (strcmp(a, "--backend") == 0) backend = v;
    else if (strcmp(a, "--weights") == 0) weights_s = v;
    else if (strcmp(a, "--mix") == 0) mix_s = v;
    else if (strcmp(a, "--teacher") == 0) {
      if (K == MAX_TEACHERS) { fprintf(stderr, "divsweep kernel: at most %d teachers\n", MAX_TEACHERS); return DS_EXIT_USAGE; }
      teacher_path[K++] = v;
    } else if (strcmp(a, "--param") == 0) {
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || (size_t)(eq - v) >= sizeof pbuf[0] || np == MAX_PARAMS) {
        fprintf(stderr, "divsweep kernel: --param wants key=value, got '%s'\n", v);
        return DS_EXIT_USAGE;
      }
      memcpy(pbuf[np], v, (size_t)(eq - v));
      pbuf[np][eq - v] = '\0';
      pkey[np] = pbuf[np];
      pval[np++] = eq + 1;
    } else if (strcmp(a, "--temperature") == 0) {
      if (parse_double(v, &temperature) != 0 || !(temperature > 0)) {
        fprintf(stderr, "divsweep kernel: --temperature must be a number > 0, got '%s'\n", v);
        return DS_EXIT_USAGE;
      }
    } else if (strcmp(a, "--reduction") == 0) {
      if (ds_reduction_from_name(v, &red) != 0) {
        fprintf(stderr, "divsweep kernel: unknown --reduction '%s' (batchmean|sum|mean|none)\n", v);
        return DS_EXIT_USAGE;
      }
    } else if (strcmp(a, "--threads") == 0) {
      double t;
      if (parse_double(v, &t) != 0 || t < 0 || t > 1024 || t != floor(t)) {
        fprintf(stderr, "divsweep kernel: --threads must be an integer >= 0, got '%s'\n", v);
        return DS_EXIT_USAGE;
      }
      threads = (int)t;
    } else {
      fprintf(stderr, "divsweep kernel: unknown option '%s'\n", a);
      return usage_kernel();
    }
    i += takes;
  }
  ds_div_t div;
  if (!div_name) { fprintf(stderr, "divsweep kernel: --div is required\n"); return usage_kernel(); }
  if (ds_div_from_name(div_name, &div) != 0) {
    fprintf(stderr, "divsweep kernel: unknown divergence '%s'\n", div_name);
    return DS_EXIT_USAGE;
  }
  int entropy = div.kind == DS_DIV_ENTROPY;
  if (!student_path || (K == 0 && !entropy)) {
    fprintf(stderr, "divsweep kernel: --student and --teacher are required\n");
    return usage_kernel();
  }
  ds_mix_t mix;
  if (ds_mix_from_name(mix_s, &mix) != 0) {
    fprintf(stderr, "divsweep kernel: unknown --mix '%s' (arithmetic|geometric|loss)\n", mix_s);
    return DS_EXIT_USAGE;
  }
  /* Weights: one per teacher, ≥ 0, summing to 1; uniform when omitted. */
  for (size_t k = 0; k < K; k++) weights[k] = 1.0 / (double)K;
  if (weights_s) {
    size_t n = 0;
    const char *p = weights_s;
    double sum = 0;
    while (*p) {
      char *end;
      double w = strtod(p, &end);
      if (end == p || n == MAX_TEACHERS || !(w >= 0) || !isfinite(w) || (*end != ',' && *end != '\0')) {
        fprintf(stderr, "divsweep kernel: --weights must be comma-separated numbers >= 0, got '%s'\n", weights_s);
        return DS_EXIT_USAGE;
      }
      weights[n++] = w;
      sum += w;
      p = *end ? end + 1 : end;
    }
    if (n != K) {
      fprintf(stderr, "divsweep kernel: --weights has %zu values for %zu teachers\n", n, K);
      return DS_EXIT_USAGE;
    }
    if (fabs(sum - 1) > 1e-6) {
      fprintf(stderr, "divsweep kernel: --weights must sum to 1 (they sum to %g)\n", sum);
      return DS_EXIT_USAGE;
    }
  }

  if (ds_npy_read(student_path, &stud, err, sizeof err) != 0) { fprintf(stderr, "divsweep kernel: %s\n", err); goto fail; }
  for (size_t k = 0; k < K; k++) {
    if (ds_npy_read(teacher_path[k], &teach[k], err, sizeof err) != 0) { fprintf(stderr, "divsweep kernel: %s\n", err); goto fail; }
    if (teach[k].rows != stud.rows || teach[k].cols != stud.cols) {
      fprintf(stderr, "divsweep kernel: %s has shape [%zu][%zu] but the student %s has [%zu][%zu]\n",
              teacher_path[k], teach[k].rows, teach[k].cols, student_path, stud.rows, stud.cols);
      goto fail;
    }
  }
  size_t B = stud.rows, V = stud.cols;
  for (size_t i = 0; i < np; i++) {
    if (strcmp(pkey[i], "cost") == 0 && div.kind == DS_DIV_SINKHORN && strcmp(pval[i], "ordinal") != 0 &&
        strcmp(pval[i], "01") != 0) {
      if (ds_npy_read(pval[i], &costm, err, sizeof err) != 0) { fprintf(stderr, "divsweep kernel: %s\n", err); goto fail; }
      if (costm.rows != V || costm.cols != V) {
        fprintf(stderr, "divsweep kernel: cost matrix %s must be [%zu][%zu], got [%zu][%zu]\n", pval[i], V, V,
                costm.rows, costm.cols);
        goto fail;
      }
      cost = malloc(V * V * sizeof *cost);
      if (!cost) { fprintf(stderr, "divsweep kernel: out of memory\n"); goto fail; }
      for (size_t j = 0; j < V * V; j++) cost[j] = costm.data[j];
      div.cost = DS_COST_MATRIX;
      div.cost_matrix = cost;
      continue;
    }
    if (ds_div_set_param_str(&div, pkey[i], pval[i]) != 0) {
      fprintf(stderr, "divsweep kernel: %s has no parameter '%s' or '%s' is not a valid value\n", div_name,
              pkey[i], pval[i]);
      goto fail;
    }
  }
  if (ds_div_check(&div, err, sizeof err) != 0) { fprintf(stderr, "divsweep kernel: %s\n", err); goto fail; }
  const ds_backend_t *be = ds_kern_backend_get(backend);
  if (!be) { fprintf(stderr, "divsweep kernel: backend '%s' is unknown or unavailable here\n", backend); goto fail; }

  row_loss = malloc(B * sizeof *row_loss);
  if (grad_path) grad = aligned_alloc(64, (B * V * sizeof *grad + 63) & ~(size_t)63);
  if (!row_loss || (grad_path && !grad)) { fprintf(stderr, "divsweep kernel: out of memory\n"); goto fail; }
  const float *tptr[MAX_TEACHERS];
  for (size_t k = 0; k < K; k++) tptr[k] = teach[k].data;
  ds_kern_args_t a = {&div, B, V, K, tptr, K > 1 ? weights : NULL, mix, stud.data, temperature, temperature,
                      t2, red, NULL, threads, DS_DTYPE_F32};
  ds_kern_out_t o = {0, row_loss, grad};
  int krc = ds_kern_fwd_bwd(be, &a, &o);
  if (krc == DS_EUNSUP) {
    fprintf(stderr, "divsweep kernel: backend %s cannot run %s at vocab %zu\n", ds_kern_backend_name(be), div_name, V);
    goto fail;
  }
  if (krc != 0) { fprintf(stderr, "divsweep kernel: kernel failed (error %d)\n", krc); goto fail; }
  if (grad_path && ds_npy_write_f32(grad_path, grad, B, V, stud.ndim, err, sizeof err) != 0) {
    fprintf(stderr, "divsweep kernel: %s\n", err);
    goto fail;
  }
  char params[256];
  ds_div_params_json(&div, params, sizeof params);
  if (json) {
    printf("{\"div\": \"%s\", \"params\": %s, \"temperature\": ", div_name, params);
    json_num(stdout, temperature);
    printf(", \"t2\": %s, \"reduction\": \"%s\", \"backend\": \"%s\", \"loss\": ", t2 ? "true" : "false",
           ds_reduction_name(red), ds_kern_backend_name(be));
    json_num(stdout, o.loss);
    printf(", \"rows\": [");
    for (size_t r = 0; r < B; r++) {
      if (r) printf(", ");
      json_num(stdout, row_loss[r]);
    }
    printf("]}\n");
  } else {
    printf("div %s params %s temperature %g reduction %s backend %s rows %zu vocab %zu\nloss %.10g\n", div_name,
           params, temperature, ds_reduction_name(red), ds_kern_backend_name(be), B, V, o.loss);
  }
  rc = 0;
fail:
  for (size_t k = 0; k < K; k++) ds_npy_free(&teach[k]);
  ds_npy_free(&stud);
  ds_npy_free(&costm);
  free(cost);
  free(row_loss);
  free(grad);
  return rc;
}

/* ---- bench ------------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int usage_bench(void) {
  fprintf(stderr, "usage: divsweep bench kernels [--div NAME|all] [--rows B] [--vocab V] [--threads N]\n"
                  "                              [--backend NAME] [--dtype f32|bf16] [--reps N] [--json]\n"
                  "  --backend cuda keeps the logits and the gradient on the GPU (no PCIe copies are timed);\n"
                  "  GB/s counts the minimal traffic: 12 B/element in fp32, 8 with bf16 logits (fp32 gradient).\n");
  return DS_EXIT_USAGE;
}

int ds_cli_bench_kernels(int argc, char **argv) {
  const char *div_name = "all", *backend = "cpu", *dtype_name = "f32";
  double rows_d = 32, vocab_d = 32000, threads_d = 0, reps_d = 0;
  int json = 0, rc = DS_EXIT_USAGE, i = 1;
  float *t = NULL, *s = NULL, *g = NULL;
  if (i < argc && strcmp(argv[i], "kernels") == 0) i++;
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double *num = NULL;
    if (strcmp(a, "--json") == 0) { json = 1; continue; }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage_bench(); return 0; }
    if (!v) { fprintf(stderr, "divsweep bench kernels: option %s needs a value\n", a); return usage_bench(); }
    if (strcmp(a, "--div") == 0) div_name = v;
    else if (strcmp(a, "--backend") == 0) backend = v;
    else if (strcmp(a, "--dtype") == 0) dtype_name = v;
    else if (strcmp(a, "--rows") == 0) num = &rows_d;
    else if (strcmp(a, "--vocab") == 0) num = &vocab_d;
    else if (strcmp(a, "--threads") == 0) num = &threads_d;
    else if (strcmp(a, "--reps") == 0) num = &reps_d;
    else { fprintf(stderr, "divsweep bench kernels: unknown option '%s'\n", a); return usage_bench(); }
    if (num && (parse_double(v, num) != 0 || *num < 0 || *num > 1e9 || *num != floor(*num))) {
      fprintf(stderr, "divsweep bench kernels: %s must be a non-negative integer, got '%s'\n", a, v);
      return DS_EXIT_USAGE;
    }
    i++;
  }
  size_t B = (size_t)rows_d, V = (size_t)vocab_d;
  if (B == 0 || V == 0 || B * V > ((size_t)1 << 31)) {
    fprintf(stderr, "divsweep bench kernels: --rows and --vocab must be >= 1 (and rows·vocab <= 2^31)\n");
    return DS_EXIT_USAGE;
  }
  const ds_backend_t *be = ds_kern_backend_get(backend);
  if (!be) { fprintf(stderr, "divsweep bench kernels: backend '%s' is unknown or unavailable here\n", backend); return DS_EXIT_USAGE; }
  ds_div_t one;
  int all = strcmp(div_name, "all") == 0;
  if (!all && ds_div_from_name(div_name, &one) != 0) {
    fprintf(stderr, "divsweep bench kernels: unknown divergence '%s'\n", div_name);
    return DS_EXIT_USAGE;
  }
  int bf16 = strcmp(dtype_name, "bf16") == 0;
  if (!bf16 && strcmp(dtype_name, "f32") != 0) {
    fprintf(stderr, "divsweep bench kernels: --dtype must be f32 or bf16, got '%s'\n", dtype_name);
    return DS_EXIT_USAGE;
  }
  int on_gpu = strcmp(backend, "cuda") == 0;
  void *dt = NULL, *ds = NULL, *dg = NULL; /* device copies (cuda) */
  size_t n = B * V, bytes = (n * sizeof(float) + 63) & ~(size_t)63;
  t = aligned_alloc(64, bytes);
  s = aligned_alloc(64, bytes);
  g = aligned_alloc(64, bytes);
  if (!t || !s || !g) { fprintf(stderr, "divsweep bench kernels: out of memory\n"); goto fail; }
  uint64_t x = 0x243F6A8885A308D3ull;
  for (size_t j = 0; j < 2 * n; j++) { /* N(0, 9) logits, as the torch anchor (randn·3) */
    double u[2];
    for (int k = 0; k < 2; k++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      u[k] = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
    }
    float z = (float)(sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]) * 3);
    if (j < n) t[j] = z; else s[j - n] = z;
  }
  if (bf16) { /* round to bfloat16 in place (the upper 16 bits, nearest even), packed at the front */
    uint16_t *t16 = (uint16_t *)t, *s16 = (uint16_t *)s;
    for (size_t j = 0; j < n; j++) {
      uint32_t u, w;
      memcpy(&u, &t[j], 4);
      memcpy(&w, &s[j], 4);
      t16[j] = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
      s16[j] = (uint16_t)((w + 0x7fff + ((w >> 16) & 1)) >> 16);
    }
  }
  size_t ebytes = n * (bf16 ? 2 : 4);
  if (on_gpu) {
    char model[128] = "?";
    ds_kern_cuda_device_name(0, model, sizeof model);
    dt = ds_kern_cuda_alloc(ebytes);
    ds = ds_kern_cuda_alloc(ebytes);
    dg = ds_kern_cuda_alloc(n * sizeof(float));
    if (!dt || !ds || !dg || ds_kern_cuda_copy(dt, t, ebytes) || ds_kern_cuda_copy(ds, s, ebytes)) {
      fprintf(stderr, "divsweep bench kernels: cannot place %zu MB on the GPU\n", (2 * ebytes + 4 * n) >> 20);
      goto fail;
    }
    if (!json) printf("# GPU: %s; inputs and gradient resident on the device\n", model);
  }
  int threads = (int)threads_d;
  if (!json)
    printf("%-10s %-12s %6s %7s %3s %10s %10s %12s %8s  %s\n", "div", "backend", "rows", "vocab", "thr", "ms(med)",
           "ms(min)", "rows/s", "GB/s", "path");
  for (int k = 0; k < DS_DIV__COUNT; k++) {
    ds_div_t d;
    if (all) ds_div_from_name(ds_div_name((ds_div_kind_t)k), &d);
    else if (k == 0) d = one;
    else break;
    const float *tp[1] = {on_gpu ? (const float *)dt : t};
    ds_kern_args_t a = {&d, B, V, 1, tp, NULL, DS_MIX_ARITHMETIC, on_gpu ? (const float *)ds : s, 1.0, 1.0, 0,
                        DS_RED_BATCHMEAN, NULL, threads, bf16 ? DS_DTYPE_BF16 : DS_DTYPE_F32};
    ds_kern_out_t o = {0, NULL, on_gpu ? (float *)dg : g};
    int sup = ds_kern_supports(be, &a);
    if (sup < 0) {
      if (!all) { fprintf(stderr, "divsweep bench kernels: backend %s cannot run %s at vocab %zu (dtype %s)\n", ds_kern_backend_name(be), div_name, V, dtype_name); goto fail; }
      continue;
    }
    /* Fair per-divergence timing: 3 untimed warm-up calls on the same buffers (first-touch of the
     * backend's scratch, thread start-up, caches), then at least 20 timed calls and 0.3 s (or
     * exactly --reps), at most 200.  Median and minimum are both reported; the minimum is the
     * figure to set beside torch_kl.py's best-of-7.  An iterative kernel whose first call takes
     * over 0.25 s (sinkhorn at LLM vocabularies) gets that one warm-up and 3 timed calls. */
    double times[200];
    int reps = reps_d > 0 ? (int)(reps_d > 200 ? 200 : reps_d) : 0, done = 0, slow = 0;
    for (int w = 0; w < (slow ? 1 : 3); w++) {
      double t0 = ds_now_s();
      if (ds_kern_fwd_bwd(be, &a, &o) != 0) { fprintf(stderr, "divsweep bench kernels: kernel failed\n"); goto fail; }
      if (w == 0) slow = ds_now_s() - t0 > 0.25;
    }
    double t_start = ds_now_s();
    while (done < 200) {
      double t0 = ds_now_s();
      ds_kern_fwd_bwd(be, &a, &o);
      times[done++] = ds_now_s() - t0;
      if (reps ? done >= reps : slow ? done >= 3 : (done >= 20 && ds_now_s() - t_start > 0.3)) break;
    }
    qsort(times, (size_t)done, sizeof *times, cmp_d);
    double med = done % 2 ? times[done / 2] : 0.5 * (times[done / 2 - 1] + times[done / 2]), tmin = times[0];
    double gbps = (bf16 ? 8.0 : 12.0) * (double)n / med / 1e9, rps = (double)B / med;
    int thr = threads > 0 ? threads : 0;
    if (json)
      printf("{\"div\": \"%s\", \"backend\": \"%s\", \"rows\": %zu, \"vocab\": %zu, \"threads\": %d, \"ms\": %.4f, "
             "\"ms_min\": %.4f, \"gbps\": %.3f, \"gbps_max\": %.3f, \"rows_per_s\": %.1f, \"reps\": %d, \"path\": \"%s\", "
             "\"loss\": %.9g}\n",
             ds_div_name(d.kind), ds_kern_backend_name(be), B, V, thr, med * 1e3, tmin * 1e3, gbps,
             (bf16 ? 8.0 : 12.0) * (double)n / tmin / 1e9, rps, done,
             sup ? "fast" : "fallback", o.loss);
    else
      printf("%-10s %-12s %6zu %7zu %3d %10.3f %10.3f %12.1f %8.2f  %s\n", ds_div_name(d.kind),
             ds_kern_backend_name(be), B, V, thr, med * 1e3, tmin * 1e3, rps, gbps, sup ? "fast" : "fallback");
    fflush(stdout);
  }
  rc = 0;
fail:
  ds_kern_cuda_free(dt);
  ds_kern_cuda_free(ds);
  ds_kern_cuda_free(dg);
  free(t);
  free(s);
  free(g);
  return rc;
}
