/* report.c — renders the self-contained HTML campaign report (ds_report.h).
 *
 * Pure rendering: in-memory data in, one HTML string out.  Invariants:
 *   - Every caller string goes through sb_esc before it reaches the output; numbers are formatted
 *     by us.  Nothing else is ever interpolated, so the report is injection-safe.
 *   - Output is built in one growable buffer whose error is sticky: after the first allocation
 *     failure every append is a no-op and render returns DS_ENOMEM.
 *   - Non-finite values are never plotted (and never reach an SVG coordinate).
 *   - Colours are assigned per group in order of first appearance and are the same in every plot.
 *   - Circles appear only in scatter plots (class "f" front, "d" dominated) and line-plot markers
 *     (class "m"); tests count them.
 */
#include "ds_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"

/* ---------------------------------------------------------------------------------------------
 * String builder
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t len, cap;
  int err;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
  if (b->err) return;
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 1 << 16;
    while (b->len + n + 1 > nc) nc *= 2;
    char *g = realloc(b->buf, nc);
    if (!g) { b->err = DS_ENOMEM; return; }
    b->buf = g;
    b->cap = nc;
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = '\0';
}

static void sb_puts(sb_t *b, const char *s) { sb_put(b, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sb_t *b, const char *fmt, ...)
{
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) { b->err = DS_EINVAL; return; }
  if ((size_t)n < sizeof small) { sb_put(b, small, (size_t)n); return; }
  char *big = malloc((size_t)n + 1);
  if (!big) { b->err = DS_ENOMEM; return; }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_put(b, big, (size_t)n);
  free(big);
}

/* HTML-escape s (NULL → nothing).  Safe in element content and in quoted attributes. */
static void sb_esc(sb_t *b, const char *s)
{
  if (!s) return;
  const char *run = s;
  for (; *s; s++) {
    const char *rep = NULL;
    switch (*s) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&#39;"; break;
    default: break;
    }
    if (rep) {
      sb_put(b, run, (size_t)(s - run));
      sb_puts(b, rep);
      run = s + 1;
    }
  }
  sb_put(b, run, (size_t)(s - run));
}

/* Short human number: 4 significant digits, no trailing noise. */
static void fmt_num(char *out, size_t cap, double x)
{
  if (!isfinite(x)) { snprintf(out, cap, "%s", isnan(x) ? "NaN" : (x > 0 ? "inf" : "-inf")); return; }
  if (x == 0) { snprintf(out, cap, "0"); return; }
  snprintf(out, cap, "%.4g", x);
}

static void sb_num(sb_t *b, double x)
{
  char t[48];
  fmt_num(t, sizeof t, x);
  sb_puts(b, t);
}

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf"};
#define NPAL (sizeof palette / sizeof palette[0])
static const char *color_of(size_t g) { return palette[g % NPAL]; }

/* ---------------------------------------------------------------------------------------------
 * Axes and plot frames
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  double lo, hi; /* in plot units: the value, or log10 of it */
  int log;
} axis_t;

typedef struct {
  double w, h, ml, mr, mt, mb;
  axis_t x, y;
} plot_t;

/* Fit an axis to [mn, mx] of the finite data.  Log scale when all values are positive and span
 * more than two decades. */
static void axis_fit(axis_t *a, double mn, double mx, int allow_log)
{
  if (!(mn <= mx)) { mn = 0; mx = 1; }
  a->log = allow_log && mn > 0 && mx / mn > 100.0;
  double lo = a->log ? log10(mn) : mn, hi = a->log ? log10(mx) : mx;
  double pad = hi > lo ? 0.05 * (hi - lo) : (fabs(hi) > 0 ? 0.1 * fabs(hi) : 1.0);
  a->lo = lo - pad;
  a->hi = hi + pad;
}

static double axis_u(const axis_t *a, double x) { return a->log ? log10(x) : x; }

static double px(const plot_t *p, double x)
{
  return p->ml + (axis_u(&p->x, x) - p->x.lo) / (p->x.hi - p->x.lo) * (p->w - p->ml - p->mr);
}

static double py(const plot_t *p, double y)
{
  return p->h - p->mb - (axis_u(&p->y, y) - p->y.lo) / (p->y.hi - p->y.lo) * (p->h - p->mt - p->mb);
}

/* Spacing of a linear axis's ticks: 1, 2 or 5 × 10^k, about five per axis. */
static double axis_step(const axis_t *a)
{
  double raw = (a->hi - a->lo) / 5.0, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* Tick values (in data units) of an axis; returns the count (≤ cap). */
static size_t axis_ticks(const axis_t *a, double *t, size_t cap)
{
  size_t n = 0;
  if (a->log) {
    double d0 = ceil(a->lo), d1 = floor(a->hi);
    double step = ceil((d1 - d0 + 1) / 7.0);
    if (step < 1) step = 1;
    for (double d = d0; d <= d1 && n < cap; d += step) t[n++] = pow(10.0, d);
    return n;
  }
  double step = axis_step(a);
  double start = ceil(a->lo / step);
  for (double i = start; i * step <= a->hi && n < cap; i += 1) {
    double v = i * step;
    if (fabs(v) < 1e-9 * step) v = 0; /* no "-0" or 1e-17 labels */
    t[n++] = v;
  }
  return n;
}

static void tick_label(char *out, size_t cap, const axis_t *a, double v)
{
  if (a->log) {
    int d = (int)lround(log10(v));
    if (d >= -3 && d <= 4) fmt_num(out, cap, v);
    else snprintf(out, cap, "1e%d", d);
    return;
  }
  /* As many digits as the tick spacing needs, so that neighbouring ticks never read alike (a
   * narrow range such as 1.41203..1.41217 needs six significant digits, not four). */
  double step = axis_step(a), big = fmax(fabs(a->lo), fabs(a->hi));
  if (v == 0 || !(step > 0) || !(big > 0)) { fmt_num(out, cap, v); return; }
  int sig = (int)floor(log10(big)) - (int)floor(log10(step)) + 1;
  if (sig < 4) sig = 4;
  if (sig > 15) sig = 15;
  snprintf(out, cap, "%.*g", sig, v);
}

static void plot_open(sb_t *b, const plot_t *p, const char *xlabel, const char *ylabel,
                      const char *xsuffix, const char *ysuffix)
{
  sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
               "height=\"%.0f\" role=\"img\">\n", p->w, p->h, p->w, p->h);
  double x0 = p->ml, x1 = p->w - p->mr, y0 = p->mt, y1 = p->h - p->mb;
  sb_printf(b, "<rect class=\"bg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x0, y0,
            x1 - x0, y1 - y0);
  double t[16];
  char lab[48];
  size_t nt = axis_ticks(&p->x, t, 16);
  for (size_t i = 0; i < nt; i++) {
    double x = px(p, t[i]);
    tick_label(lab, sizeof lab, &p->x, t[i]);
    sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
              x, x, y0, y1, x, x, y1, y1 + 4, x, y1 + 16, lab);
  }
  nt = axis_ticks(&p->y, t, 16);
  for (size_t i = 0; i < nt; i++) {
    double y = py(p, t[i]);
    tick_label(lab, sizeof lab, &p->y, t[i]);
    sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                 "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              x0, x1, y, y, x0 - 4, x0, y, y, x0 - 6, y + 4, lab);
  }
  sb_printf(b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", x0,
            y0, x1 - x0, y1 - y0);
  sb_printf(b, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2,
            p->h - 8);
  sb_esc(b, xlabel);
  if (p->x.log) sb_puts(b, " (log)");
  if (xsuffix) sb_puts(b, xsuffix);
  sb_puts(b, "</text>\n");
  sb_printf(b, "<text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
               "text-anchor=\"middle\">", 14.0, (y0 + y1) / 2);
  sb_esc(b, ylabel);
  if (p->y.log) sb_puts(b, " (log)");
  if (ysuffix) sb_puts(b, ysuffix);
  sb_puts(b, "</text>\n");
}

static void plot_init(plot_t *p, double w, double h)
{
  memset(p, 0, sizeof *p);
  p->w = w;
  p->h = h;
  p->ml = 64;
  p->mr = 16;
  p->mt = 12;
  p->mb = 44;
}

/* A value may be drawn on an axis: finite, and positive on a log axis. */
static int drawable(const axis_t *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* ---------------------------------------------------------------------------------------------
 * Render state
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  const ds_report_t *r;
  sb_t out;
  size_t ng;            /* groups */
  const char **gname;   /* [ng] display names (borrowed) */
  size_t *gof;          /* [n] group of each point */
  size_t *gstart, *gidx;/* points of group g: gidx[gstart[g] .. gstart[g+1]) in input order */
  int32_t *rank;        /* [n] */
  int *varies;          /* [n_params] */
  int *numeric;         /* [n_params] numeric with ≥ 2 distinct finite values */
} rs_t;

static double metric(const rs_t *s, size_t i, size_t o) { return s->r->metric[i * s->r->n_objectives + o]; }
static double pval(const rs_t *s, size_t i, size_t j) { return s->r->param_value ? s->r->param_value[i * s->r->n_params + j] : NAN; }
static const char *ptext(const rs_t *s, size_t i, size_t j)
{
  return s->r->param_text ? s->r->param_text[i * s->r->n_params + j] : NULL;
}
static int maximise(const rs_t *s, size_t o) { return s->r->sense && s->r->sense[o] == DS_PARETO_MAX; }
static const char *arrow(const rs_t *s, size_t o) { return maximise(s, o) ? " \xe2\x86\x91" : " \xe2\x86\x93"; }

static void param_str(const rs_t *s, size_t i, size_t j, char *buf, size_t cap, const char **out)
{
  const char *t = ptext(s, i, j);
  if (t) { *out = t; return; }
  double v = pval(s, i, j);
  if (isfinite(v)) fmt_num(buf, cap, v); else buf[0] = '\0';
  *out = buf;
}

static void legend(rs_t *s)
{
  sb_t *b = &s->out;
  sb_puts(b, "<div class=\"legend\">");
  for (size_t g = 0; g < s->ng; g++) {
    sb_printf(b, "<span><i style=\"background:%s\"></i>", color_of(g));
    sb_esc(b, s->gname[g]);
    sb_puts(b, "</span>");
  }
  sb_puts(b, "</div>\n");
}

/* Tooltip of one trial: id, seed, varying parameters, objectives. */
static void point_title(rs_t *s, size_t i)
{
  sb_t *b = &s->out;
  const ds_report_t *r = s->r;
  char buf[48];
  const char *t;
  sb_puts(b, "<title>");
  if (r->n_seeds) sb_printf(b, "configuration of trial %lld \xc2\xb7 mean of %d seed%s", (long long)r->trial_id[i],
                           (int)r->n_seeds[i], r->n_seeds[i] == 1 ? "" : "s");
  else sb_printf(b, "trial %lld", (long long)r->trial_id[i]);
  if (r->seed && !r->n_seeds) sb_printf(b, " \xc2\xb7 seed %lld", (long long)r->seed[i]);
  sb_puts(b, " \xc2\xb7 ");
  sb_esc(b, s->gname[s->gof[i]]);
  for (size_t j = 0; j < r->n_params; j++) {
    if (!s->varies[j]) continue;
    param_str(s, i, j, buf, sizeof buf, &t);
    sb_puts(b, "\n");
    sb_esc(b, r->param[j]);
    sb_puts(b, " = ");
    sb_esc(b, t);
  }
  for (size_t o = 0; o < r->n_objectives; o++) {
    sb_puts(b, "\n");
    sb_esc(b, r->objective[o]);
    sb_puts(b, " = ");
    sb_num(b, metric(s, i, o));
    double sd = r->metric_std ? r->metric_std[i * r->n_objectives + o] : NAN;
    if (isfinite(sd)) {
      sb_puts(b, " \xc2\xb1 ");
      sb_num(b, sd);
    }
  }
  sb_puts(b, "</title>");
}

/* ---------------------------------------------------------------------------------------------
 * Sections
 * ------------------------------------------------------------------------------------------- */

static const double *latest_hv(const rs_t *s, size_t g)
{
  const ds_report_t *r = s->r;
  const double *best = NULL;
  double bt = -INFINITY;
  for (size_t k = 0; k < r->n_hv; k++) {
    const char *name = r->hv[k].group ? r->hv[k].group : "";
    if (strcmp(name, s->gname[g]) == 0 && r->hv[k].t >= bt && isfinite(r->hv[k].value)) {
      bt = r->hv[k].t;
      best = &r->hv[k].value;
    }
  }
  return best;
}

typedef struct {
  double x, y;
} xy_t;

static int cmp_xy(const void *a, const void *b)
{
  const xy_t *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->y > q->y) - (p->y < q->y);
}

/* Error bars of a mean point: ± one std across its seeds in each plotted objective (clipped at
 * the axis; on a log axis only the part above zero). */
static void error_bars(rs_t *s, const plot_t *p, size_t i, size_t ox, size_t oy, const char *colour)
{
  const ds_report_t *r = s->r;
  if (!r->metric_std) return;
  double x = metric(s, i, ox), y = metric(s, i, oy);
  double sx = r->metric_std[i * r->n_objectives + ox], sy = r->metric_std[i * r->n_objectives + oy];
  sb_t *b = &s->out;
  if (isfinite(sx) && sx > 0) {
    double x0 = x - sx, x1 = x + sx;
    if (!drawable(&p->x, x0)) x0 = x;
    sb_printf(b, "<line class=\"eb\" stroke=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", colour,
              px(p, x0), py(p, y), px(p, x1), py(p, y));
  }
  if (isfinite(sy) && sy > 0) {
    double y0 = y - sy, y1 = y + sy;
    if (!drawable(&p->y, y0)) y0 = y;
    sb_printf(b, "<line class=\"eb\" stroke=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", colour,
              px(p, x), py(p, y0), px(p, x), py(p, y1));
  }
}

static int section_scatter(rs_t *s)
{
  const ds_report_t *r = s->r;
  sb_t *b = &s->out;
  size_t ox = r->scatter_x, oy = r->scatter_y, m = r->n_objectives;
  if (m < 2) return 0;
  size_t maxd = r->max_dominated_drawn ? r->max_dominated_drawn : 4000;
  double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
  for (size_t i = 0; i < r->n_points; i++) {
    double x = metric(s, i, ox), y = metric(s, i, oy);
    if (!isfinite(x) || !isfinite(y)) continue;
    if (x < xmn) xmn = x;
    if (x > xmx) xmx = x;
    if (y < ymn) ymn = y;
    if (y > ymx) ymx = y;
  }
  plot_t base;
  plot_init(&base, 460, 330);
  axis_fit(&base.x, xmn, xmx, 1);
  axis_fit(&base.y, ymn, ymx, 1);

  xy_t *fr = malloc((r->n_points ? r->n_points : 1) * sizeof *fr);
  double *tmp2 = malloc((r->n_points ? r->n_points : 1) * 2 * sizeof *tmp2);
  int32_t *rk2 = malloc((r->n_points ? r->n_points : 1) * sizeof *rk2);
  if (!fr || !tmp2 || !rk2) {
    free(fr); free(tmp2); free(rk2);
    return DS_ENOMEM;
  }
  sb_puts(b, "<section><h2>Pareto fronts</h2>\n<p class=\"note\">");
  sb_esc(b, r->objective[ox]);
  sb_puts(b, arrow(s, ox));
  sb_puts(b, " vs ");
  sb_esc(b, r->objective[oy]);
  sb_puts(b, arrow(s, oy));
  sb_puts(b, " (arrows: direction of better). Coloured: front (rank 0), linked by its attainment "
             "staircase in these two objectives; grey: dominated points. Hover a point for what it is.</p>\n<div class=\"cards\">\n");
  for (size_t g = 0; g < s->ng; g++) {
    size_t a = s->gstart[g], e = s->gstart[g + 1], nfront = 0, ndom = 0, nfin = 0;
    for (size_t k = a; k < e; k++) {
      size_t i = s->gidx[k];
      if (s->rank[i] == 0) nfront++;
      else if (s->rank[i] > 0 && drawable(&base.x, metric(s, i, ox)) && drawable(&base.y, metric(s, i, oy))) ndom++;
      if (s->rank[i] >= 0) nfin++;
    }
    size_t stride = ndom > maxd ? (ndom + maxd - 1) / maxd : 1;
    sb_puts(b, "<div class=\"card\"><h3>");
    sb_printf(b, "<i class=\"sw\" style=\"background:%s\"></i>", color_of(g));
    sb_esc(b, s->gname[g]);
    sb_printf(b, "</h3><p class=\"meta\">%zu %s \xc2\xb7 %zu on the front", nfin, r->point_noun ? r->point_noun : "trials",
              nfront);
    const double *hv = latest_hv(s, g);
    if (hv) {
      sb_puts(b, " \xc2\xb7 hypervolume ");
      sb_num(b, *hv);
    }
    if (stride > 1) sb_printf(b, " \xc2\xb7 every %zu-th dominated point drawn", stride);
    sb_puts(b, "</p>\n");
    plot_open(b, &base, r->objective[ox], r->objective[oy], arrow(s, ox), arrow(s, oy));
    size_t seen = 0;
    for (size_t k = a; k < e; k++) {
      size_t i = s->gidx[k];
      double x = metric(s, i, ox), y = metric(s, i, oy);
      /* Rank -1 (a NaN/Inf objective: failed trial) is not a dominated point: not drawn. */
      if (s->rank[i] <= 0 || !drawable(&base.x, x) || !drawable(&base.y, y)) continue;
      if (seen++ % stride) continue;
      error_bars(s, &base, i, ox, oy, "#bbb");
      sb_printf(b, "<circle class=\"d\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\">", px(&base, x), py(&base, y));
      point_title(s, i);
      sb_puts(b, "</circle>\n");
    }
    /* The staircase links the front members that are non-dominated in the two plotted
     * objectives (all of them when there are only two objectives). */
    size_t nf2 = 0;
    for (size_t k = a; k < e; k++) {
      size_t i = s->gidx[k];
      double x = metric(s, i, ox), y = metric(s, i, oy);
      if (s->rank[i] != 0 || !drawable(&base.x, x) || !drawable(&base.y, y)) continue;
      tmp2[2 * nf2] = x;
      tmp2[2 * nf2 + 1] = y;
      nf2++;
    }
    ds_pareto_sense_t s2[2] = {maximise(s, ox) ? DS_PARETO_MAX : DS_PARETO_MIN,
                               maximise(s, oy) ? DS_PARETO_MAX : DS_PARETO_MIN};
    if (nf2 && ds_pareto_rank(tmp2, nf2, 2, s2, rk2, NULL) == 0) {
      size_t ns = 0;
      for (size_t q = 0; q < nf2; q++)
        if (rk2[q] == 0) fr[ns++] = (xy_t){tmp2[2 * q], tmp2[2 * q + 1]};
      qsort(fr, ns, sizeof *fr, cmp_xy);
      sb_printf(b, "<path class=\"stair\" stroke=\"%s\" d=\"M%.1f %.1f", color_of(g), px(&base, fr[0].x),
                py(&base, fr[0].y));
      for (size_t q = 1; q < ns; q++) {
        /* Minimised x: the boundary runs right at the previous height, then steps; maximised x:
         * it steps first, then runs right (see the dominated regions of the two neighbours). */
        if (s2[0] == DS_PARETO_MIN)
          sb_printf(b, " H%.1f V%.1f", px(&base, fr[q].x), py(&base, fr[q].y));
        else
          sb_printf(b, " V%.1f H%.1f", py(&base, fr[q].y), px(&base, fr[q].x));
      }
      sb_puts(b, "\"/>\n");
    }
    for (size_t k = a; k < e; k++) {
      size_t i = s->gidx[k];
      double x = metric(s, i, ox), y = metric(s, i, oy);
      if (s->rank[i] != 0 || !drawable(&base.x, x) || !drawable(&base.y, y)) continue;
      error_bars(s, &base, i, ox, oy, color_of(g));
      sb_printf(b, "<circle class=\"f\" cx=\"%.1f\" cy=\"%.1f\" r=\"4.2\" fill=\"%s\">", px(&base, x),
                py(&base, y), color_of(g));
      point_title(s, i);
      sb_puts(b, "</circle>\n");
    }
    sb_puts(b, "</svg></div>\n");
  }
  sb_puts(b, "</div></section>\n");
  free(fr);
  free(tmp2);
  free(rk2);
  return 0;
}

typedef struct {
  double t, v;
  size_t g;
} hvp_t;

static int cmp_hvp(const void *a, const void *b)
{
  const hvp_t *p = a, *q = b;
  if (p->g != q->g) return p->g < q->g ? -1 : 1;
  return (p->t > q->t) - (p->t < q->t);
}

static int section_hv(rs_t *s)
{
  const ds_report_t *r = s->r;
  sb_t *b = &s->out;
  if (!r->n_hv) return 0;
  hvp_t *v = malloc(r->n_hv * sizeof *v);
  if (!v) return DS_ENOMEM;
  size_t n = 0;
  double tmn = INFINITY, tmx = -INFINITY, vmn = INFINITY, vmx = -INFINITY;
  for (size_t k = 0; k < r->n_hv; k++) {
    const char *name = r->hv[k].group ? r->hv[k].group : "";
    size_t g = s->ng;
    for (size_t q = 0; q < s->ng; q++)
      if (strcmp(s->gname[q], name) == 0) { g = q; break; }
    if (g == s->ng || !isfinite(r->hv[k].t) || !isfinite(r->hv[k].value)) continue;
    v[n++] = (hvp_t){r->hv[k].t, r->hv[k].value, g};
    if (r->hv[k].t < tmn) tmn = r->hv[k].t;
    if (r->hv[k].t > tmx) tmx = r->hv[k].t;
    if (r->hv[k].value < vmn) vmn = r->hv[k].value;
    if (r->hv[k].value > vmx) vmx = r->hv[k].value;
  }
  qsort(v, n, sizeof *v, cmp_hvp);
  plot_t p;
  plot_init(&p, 620, 320);
  axis_fit(&p.x, tmn, tmx, 0);
  axis_fit(&p.y, vmn, vmx, 1);
  sb_puts(b, "<section><h2>Hypervolume by trials</h2>\n<p class=\"note\">Hypervolume of each "
             "group's front against the current reference point, after each number of the group's "
             "trials (a step: the value holds until the front moves).</p>\n");
  legend(s);
  plot_open(b, &p, r->hv_time_label ? r->hv_time_label : "time", "hypervolume", NULL, NULL);
  for (size_t k = 0; k < n;) {
    size_t e = k;
    while (e < n && v[e].g == v[k].g) e++;
    /* A step function: the history has a row only where the value moved, so the value holds
     * until the next row (a straight line between rows would invent values in between). */
    sb_printf(b, "<polyline class=\"line\" stroke=\"%s\" points=\"", color_of(v[k].g));
    int have = 0;
    double last = 0;
    for (size_t q = k; q < e; q++) {
      if (!drawable(&p.y, v[q].v)) continue;
      if (have) sb_printf(b, "%.1f,%.1f ", px(&p, v[q].t), py(&p, last));
      sb_printf(b, "%.1f,%.1f ", px(&p, v[q].t), py(&p, v[q].v));
      last = v[q].v;
      have = 1;
    }
    sb_puts(b, "\"/>\n");
    k = e;
  }
  sb_puts(b, "</svg></section>\n");
  free(v);
  return 0;
}

typedef struct {
  double x, y;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
  const pair_t *p = a, *q = b;
  return (p->x > q->x) - (p->x < q->x);
}

typedef struct {
  double x, mean, sd, lo, hi;
} stat_t;

/* Mean, sample std and range of y for each distinct x of sorted pairs; returns count. */
static size_t collapse(const pair_t *pr, size_t n, stat_t *st)
{
  size_t ns = 0;
  for (size_t k = 0; k < n;) {
    size_t e = k;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    while (e < n && pr[e].x == pr[k].x) {
      sum += pr[e].y;
      if (pr[e].y < lo) lo = pr[e].y;
      if (pr[e].y > hi) hi = pr[e].y;
      e++;
    }
    double mean = sum / (double)(e - k), ss = 0;
    for (size_t q = k; q < e; q++) ss += (pr[q].y - mean) * (pr[q].y - mean);
    st[ns++] = (stat_t){pr[k].x, mean, e - k > 1 ? sqrt(ss / (double)(e - k - 1)) : 0.0, lo, hi};
    k = e;
  }
  return ns;
}

static int section_lines(rs_t *s)
{
  const ds_report_t *r = s->r;
  sb_t *b = &s->out;
  size_t n = r->n_points, any = 0;
  for (size_t j = 0; j < r->n_params; j++) any += s->numeric[j] != 0;
  if (!any || !n) return 0;
  int rc = DS_ENOMEM;
  pair_t *pr = malloc(n * sizeof *pr);
  stat_t *st = malloc(n * sizeof *st); /* Σ over groups of distinct x ≤ points */
  size_t *nst = malloc(s->ng * sizeof *nst), *off = malloc(s->ng * sizeof *off);
  if (!pr || !st || !nst || !off) goto fail;
  sb_puts(b, "<section><h2>Objectives vs parameters</h2>\n<p class=\"note\">Mean over seeds (and "
             "over the other parameters) per group; band: \xc2\xb1 one standard deviation; "
             "whiskers: min\xe2\x80\x93max.</p>\n");
  legend(s);
  for (size_t o = 0; o < r->n_objectives; o++) {
    sb_puts(b, "<h3>");
    sb_esc(b, r->objective[o]);
    sb_puts(b, arrow(s, o));
    sb_puts(b, "</h3><div class=\"cards\">\n");
    for (size_t j = 0; j < r->n_params; j++) {
      if (!s->numeric[j]) continue;
      double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
      size_t used = 0;
      for (size_t g = 0; g < s->ng; g++) {
        size_t np = 0;
        for (size_t k = s->gstart[g]; k < s->gstart[g + 1]; k++) {
          size_t i = s->gidx[k];
          double x = pval(s, i, j), y = metric(s, i, o);
          if (isfinite(x) && isfinite(y)) pr[np++] = (pair_t){x, y};
        }
        qsort(pr, np, sizeof *pr, cmp_pair);
        off[g] = used;
        nst[g] = collapse(pr, np, st + used);
        for (size_t q = used; q < used + nst[g]; q++) {
          if (st[q].x < xmn) xmn = st[q].x;
          if (st[q].x > xmx) xmx = st[q].x;
          double lo = fmin(st[q].lo, st[q].mean - st[q].sd), hi = fmax(st[q].hi, st[q].mean + st[q].sd);
          if (lo < ymn) ymn = lo;
          if (hi > ymx) ymx = hi;
        }
        used += nst[g];
      }
      if (!used) continue;
      plot_t p;
      plot_init(&p, 420, 290);
      axis_fit(&p.x, xmn, xmx, 1);
      axis_fit(&p.y, ymn, ymx, 0); /* the band can cross zero: keep y linear */
      sb_puts(b, "<div class=\"card\">");
      plot_open(b, &p, r->param[j], r->objective[o], NULL, NULL);
      for (size_t g = 0; g < s->ng; g++) {
        const stat_t *q = st + off[g];
        size_t k = nst[g];
        if (!k) continue;
        const char *c = color_of(g);
        if (k > 1) {
          sb_printf(b, "<path class=\"band\" fill=\"%s\" d=\"", c);
          for (size_t t = 0; t < k; t++)
            sb_printf(b, "%c%.1f %.1f ", t ? 'L' : 'M', px(&p, q[t].x), py(&p, q[t].mean + q[t].sd));
          for (size_t t = k; t-- > 0;) sb_printf(b, "L%.1f %.1f ", px(&p, q[t].x), py(&p, q[t].mean - q[t].sd));
          sb_puts(b, "Z\"/>\n");
        }
        for (size_t t = 0; t < k; t++)
          if (q[t].hi > q[t].lo)
            sb_printf(b, "<line class=\"whisk\" stroke=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", c,
                      px(&p, q[t].x), px(&p, q[t].x), py(&p, q[t].lo), py(&p, q[t].hi));
        sb_printf(b, "\n<polyline class=\"line\" stroke=\"%s\" points=\"", c);
        for (size_t t = 0; t < k; t++) sb_printf(b, "%.1f,%.1f ", px(&p, q[t].x), py(&p, q[t].mean));
        sb_puts(b, "\"/>\n");
        for (size_t t = 0; t < k; t++) {
          sb_printf(b, "<circle class=\"m\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.4\" fill=\"%s\"><title>", px(&p, q[t].x),
                    py(&p, q[t].mean), c);
          sb_esc(b, s->gname[g]);
          sb_puts(b, ": ");
          sb_esc(b, r->param[j]);
          sb_puts(b, " = ");
          sb_num(b, q[t].x);
          sb_puts(b, ", mean ");
          sb_num(b, q[t].mean);
          sb_puts(b, " \xc2\xb1 ");
          sb_num(b, q[t].sd);
          sb_puts(b, "</title></circle>\n");
        }
      }
      sb_puts(b, "</svg></div>\n");
    }
    sb_puts(b, "</div>\n");
  }
  sb_puts(b, "</section>\n");
  rc = 0;
fail:
  free(pr);
  free(st);
  free(nst);
  free(off);
  return rc;
}

typedef struct {
  double key; /* the sort objective, minimised */
  size_t i;
} row_t;

static int cmp_row(const void *a, const void *b)
{
  const row_t *p = a, *q = b;
  if (p->key != q->key) return p->key < q->key ? -1 : 1;
  return (p->i > q->i) - (p->i < q->i);
}

static int section_table(rs_t *s)
{
  const ds_report_t *r = s->r;
  sb_t *b = &s->out;
  size_t n = r->n_points;
  row_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (!rows) return DS_ENOMEM;
  sb_puts(b, "<section><h2>Front members</h2>\n");
  char buf[48];
  const char *t;
  for (size_t g = 0; g < s->ng; g++) {
    /* Best first in the scatter's x objective; NaN keys sort last. */
    size_t nr = 0, so = r->scatter_x < r->n_objectives ? r->scatter_x : 0;
    for (size_t k = s->gstart[g]; k < s->gstart[g + 1]; k++) {
      size_t i = s->gidx[k];
      if (s->rank[i] != 0) continue;
      double key = metric(s, i, so);
      if (maximise(s, so)) key = -key;
      rows[nr++] = (row_t){isfinite(key) ? key : INFINITY, i};
    }
    qsort(rows, nr, sizeof *rows, cmp_row);
    sb_printf(b, "<h3><i class=\"sw\" style=\"background:%s\"></i>", color_of(g));
    sb_esc(b, s->gname[g]);
    sb_printf(b, " <small>(%zu on the front)</small></h3>\n<div class=\"tw\"><table><thead><tr>"
                 "<th>trial</th>", nr);
    if (r->seed) sb_puts(b, "<th>seed</th>");
    for (size_t j = 0; j < r->n_params; j++) {
      if (!s->varies[j]) continue;
      sb_puts(b, "<th>");
      sb_esc(b, r->param[j]);
      sb_puts(b, "</th>");
    }
    for (size_t o = 0; o < r->n_objectives; o++) {
      sb_puts(b, "<th class=\"obj\">");
      sb_esc(b, r->objective[o]);
      sb_puts(b, arrow(s, o));
      sb_puts(b, "</th>");
    }
    sb_puts(b, "</tr></thead><tbody>\n");
    size_t shown = nr > 500 ? 500 : nr;
    for (size_t q = 0; q < shown; q++) {
      size_t i = rows[q].i;
      sb_printf(b, "<tr><td>%lld</td>", (long long)r->trial_id[i]);
      if (r->seed) sb_printf(b, "<td>%lld</td>", (long long)r->seed[i]);
      for (size_t j = 0; j < r->n_params; j++) {
        if (!s->varies[j]) continue;
        param_str(s, i, j, buf, sizeof buf, &t);
        sb_puts(b, "<td>");
        sb_esc(b, t);
        sb_puts(b, "</td>");
      }
      for (size_t o = 0; o < r->n_objectives; o++) {
        sb_puts(b, "<td class=\"num\">");
        sb_num(b, metric(s, i, o));
        sb_puts(b, "</td>");
      }
      sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table></div>\n");
    if (shown < nr) sb_printf(b, "<p class=\"note\">First %zu of %zu front members.</p>\n", shown, nr);
  }
  sb_puts(b, "</section>\n");
  free(rows);
  return 0;
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;"
    "margin:0 auto;max-width:1400px;padding:18px 28px;background:#fafafa}"
    "h1{font-size:24px;margin:4px 0}h2{font-size:19px;margin:28px 0 6px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px}h3{font-size:15px;margin:14px 0 4px}"
    ".sub{color:#555;margin:0 0 10px}.note,.meta{color:#666;font-size:12.5px;margin:2px 0 8px}"
    "table{border-collapse:collapse;font-size:12.5px}td,th{padding:3px 9px;border-bottom:1px solid #e4e4e4;"
    "text-align:left}th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".tw{overflow-x:auto;max-height:420px;overflow-y:auto}"
    ".kv td:first-child{color:#555}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #e2e2e2;"
    "border-radius:6px;padding:6px 8px}"
    ".legend{display:flex;flex-wrap:wrap;gap:14px;margin:4px 0 8px;font-size:13px}"
    ".legend i,i.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;"
    "vertical-align:-1px}"
    "svg{display:block;font-family:inherit}svg .bg{fill:#fff}svg .frame{fill:none;stroke:#999}"
    "svg .grid{stroke:#eee}svg .axis{stroke:#999}"
    "svg .tick{font-size:10.5px;fill:#555}svg .label{font-size:12px;fill:#333}"
    "svg .d{fill:#b5b5b5;fill-opacity:.65}svg .f{stroke:#222;stroke-width:.8}"
    "svg .stair{fill:none;stroke-width:1.6}svg .line{fill:none;stroke-width:1.8}svg .eb{stroke-width:1;opacity:.7}"
    "svg .band{fill-opacity:.15;stroke:none}svg .whisk{stroke-width:1;stroke-opacity:.45}"
    "svg circle:hover{stroke:#000;stroke-width:1.5}";

/* ---------------------------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------------------------- */

static void rs_free(rs_t *s)
{
  free(s->gname);
  free(s->gof);
  free(s->gstart);
  free(s->gidx);
  free(s->rank);
  free(s->varies);
  free(s->numeric);
}

/* Groups, ranks and which parameters vary. */
static int rs_prepare(rs_t *s)
{
  const ds_report_t *r = s->r;
  size_t n = r->n_points, m = r->n_objectives, cap = n ? n : 1;
  int rc = DS_ENOMEM;
  const char **keys = NULL;
  ds_pareto_agg_t *agg = NULL;
  double *sub = NULL;
  int32_t *srk = NULL;
  keys = malloc(cap * sizeof *keys);
  if (!keys) goto fail;
  for (size_t i = 0; i < n; i++) keys[i] = r->group ? (r->group[i] ? r->group[i] : "") : "all";
  rc = ds_pareto_aggregate(keys, r->metric, n, m, &agg);
  if (rc) goto fail;
  rc = DS_ENOMEM;
  s->ng = agg->n_configs;
  s->gname = malloc((s->ng ? s->ng : 1) * sizeof *s->gname);
  s->gof = malloc(cap * sizeof *s->gof);
  s->gstart = calloc(s->ng + 1, sizeof *s->gstart);
  s->gidx = malloc(cap * sizeof *s->gidx);
  s->rank = malloc(cap * sizeof *s->rank);
  s->varies = calloc(r->n_params + 1, sizeof *s->varies);
  s->numeric = calloc(r->n_params + 1, sizeof *s->numeric);
  sub = malloc(cap * m * sizeof *sub);
  srk = malloc(cap * sizeof *srk);
  if (!s->gname || !s->gof || !s->gstart || !s->gidx || !s->rank || !s->varies || !s->numeric ||
      !sub || !srk)
    goto fail;
  for (size_t g = 0; g < s->ng; g++) s->gname[g] = agg->key[g];
  for (size_t i = 0; i < n; i++) {
    s->gof[i] = agg->config_of[i];
    s->gstart[s->gof[i] + 1]++;
  }
  for (size_t g = 0; g < s->ng; g++) s->gstart[g + 1] += s->gstart[g];
  /* Counting placement: group g's points, in input order, at gidx[gstart[g] ..]. */
  {
    size_t *pos = malloc((s->ng ? s->ng : 1) * sizeof *pos);
    if (!pos) goto fail;
    memcpy(pos, s->gstart, s->ng * sizeof *pos);
    for (size_t i = 0; i < n; i++) s->gidx[pos[s->gof[i]]++] = i;
    free(pos);
  }
  if (r->front_rank) {
    memcpy(s->rank, r->front_rank, n * sizeof *s->rank);
  } else {
    for (size_t g = 0; g < s->ng; g++) {
      size_t a = s->gstart[g], e = s->gstart[g + 1];
      for (size_t k = a; k < e; k++) memcpy(sub + (k - a) * m, r->metric + s->gidx[k] * m, m * sizeof *sub);
      rc = ds_pareto_rank(sub, e - a, m, r->sense, srk, NULL);
      if (rc) goto fail;
      rc = DS_ENOMEM;
      for (size_t k = a; k < e; k++) s->rank[s->gidx[k]] = srk[k - a];
    }
  }
  for (size_t j = 0; j < r->n_params; j++) {
    const char *t0 = NULL;
    double v0 = NAN;
    int numeric_varies = 0, varies = 0;
    for (size_t i = 0; i < n && !(varies && numeric_varies); i++) {
      const char *t = ptext(s, i, j);
      double v = pval(s, i, j);
      if (t) {
        if (!t0) t0 = t;
        else if (strcmp(t, t0) != 0) varies = 1;
      } else if (isfinite(v)) {
        if (isnan(v0)) v0 = v;
        else if (v != v0) varies = numeric_varies = 1;
      }
    }
    if (t0 && !isnan(v0)) varies = 1; /* text in some rows, numbers in others */
    s->varies[j] = varies;
    s->numeric[j] = numeric_varies;
  }
  rc = 0;
fail:
  free(keys);
  ds_pareto_agg_free(agg); /* gname borrows r->group strings (or "all"/""), not agg */
  free(sub);
  free(srk);
  return rc;
}

/* A JSON string for a <script type="application/json"> block: besides JSON's own escapes, < > &
 * become \u003c \u003e \u0026, so no caller string can close the script element or open a
 * comment — the block's text never contains "</". */
static void sb_json(sb_t *b, const char *s)
{
  sb_puts(b, "\"");
  for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
    if (*c == '"' || *c == '\\') sb_printf(b, "\\%c", *c);
    else if (*c < 0x20 || *c == '<' || *c == '>' || *c == '&') sb_printf(b, "\\u%04x", *c);
    else sb_put(b, (const char *)c, 1);
  }
  sb_puts(b, "\"");
}

/* One chart with every group's front in the first two objectives (a colour per group, a legend
 * that hides a group when clicked, a tooltip per point naming its trial), drawn by Chart.js when
 * the caller supplies it (r->chartjs, inlined so the file stays self-contained).  A study compares
 * groups (divergences), so this comes first.  The data is a JSON block; the only code is the
 * library and the fixed initialiser below, which interpolates nothing. */
static int section_overlay(rs_t *s)
{
  const ds_report_t *r = s->r;
  if (!r->chartjs || r->n_objectives < 2) return 0;
  sb_t *b = &s->out;
  size_t ox = r->scatter_x, oy = r->scatter_y;
  sb_puts(b, "<section><h2>Fronts of every group</h2>\n<p class=\"note\">The first Pareto front of each ");
  sb_esc(b, r->group_label ? r->group_label : "group");
  sb_puts(b, " in ");
  sb_esc(b, r->objective[ox]);
  sb_puts(b, arrow(s, ox));
  sb_puts(b, " and ");
  sb_esc(b, r->objective[oy]);
  sb_puts(b, arrow(s, oy));
  sb_puts(b, r->n_objectives == 2 ? ", one colour per group, each linked by its attainment staircase."
                                  : " (the front over all objectives, shown in these two), one colour per group.");
  sb_puts(b, " Click a legend entry to hide its group; hover a point for its trial.</p>\n"
             "<div class=\"chart\"><canvas id=\"ds-overlay\" width=\"900\" height=\"520\"></canvas></div>\n"
             "<script type=\"application/json\" id=\"ds-overlay-data\">{\"x\":");
  sb_json(b, r->objective[ox]);
  sb_puts(b, ",\"y\":");
  sb_json(b, r->objective[oy]);
  /* With more than two objectives a front projected on two is not a staircase: points only. */
  sb_printf(b, ",\"line\":%s,\"groups\":[", r->n_objectives == 2 ? "true" : "false");
  for (size_t g = 0; g < s->ng; g++) {
    if (g) sb_puts(b, ",");
    sb_puts(b, "{\"name\":");
    sb_json(b, s->gname[g]);
    sb_printf(b, ",\"color\":\"%s\",\"points\":[", color_of(g));
    int first = 1;
    for (size_t k = s->gstart[g]; k < s->gstart[g + 1]; k++) {
      size_t i = s->gidx[k];
      double x = metric(s, i, ox), y = metric(s, i, oy);
      if (s->rank[i] != 0 || !isfinite(x) || !isfinite(y)) continue;
      char tip[1024];
      size_t o = (size_t)snprintf(tip, sizeof tip, "trial %lld", (long long)r->trial_id[i]);
      if (r->seed && o < sizeof tip) o += (size_t)snprintf(tip + o, sizeof tip - o, ", seed %lld", (long long)r->seed[i]);
      for (size_t j = 0; j < r->n_params && o < sizeof tip; j++) {
        if (!s->varies[j]) continue;
        char buf[48];
        const char *t;
        param_str(s, i, j, buf, sizeof buf, &t);
        o += (size_t)snprintf(tip + o, sizeof tip - o, ", %s = %s", r->param[j], t);
      }
      for (size_t q = 0; q < r->n_objectives && o < sizeof tip; q++) {
        char buf[48];
        fmt_num(buf, sizeof buf, metric(s, i, q));
        o += (size_t)snprintf(tip + o, sizeof tip - o, ", %s = %s", r->objective[q], buf);
      }
      sb_printf(b, "%s{\"x\":%.17g,\"y\":%.17g,\"tip\":", first ? "" : ",", x, y);
      sb_json(b, tip);
      sb_puts(b, "}");
      first = 0;
    }
    sb_puts(b, "]}");
  }
  sb_puts(b, "]}</script>\n<script>");
  sb_puts(b, r->chartjs);
  sb_puts(b, "</script>\n<script>(function () {\n"
             "  var d = JSON.parse(document.getElementById('ds-overlay-data').textContent);\n"
             "  var c = document.getElementById('ds-overlay');\n"
             "  var sets = d.groups.map(function (g) {\n"
             "    var pts = g.points.slice().sort(function (a, b) { return a.x - b.x; });\n"
             "    return {label: g.name, data: pts, showLine: d.line, stepped: d.line, borderColor: g.color,\n"
             "            backgroundColor: g.color, pointRadius: 4, pointHoverRadius: 7};\n"
             "  });\n"
             "  var chart = new Chart(c, {type: 'scatter', data: {datasets: sets}, options: {\n"
             "    animation: false, responsive: false, parsing: false,\n"
             "    plugins: {legend: {position: 'right'}, tooltip: {callbacks: {\n"
             "      label: function (ctx) { return ctx.dataset.label + ': ' + ctx.raw.tip; }}}},\n"
             "    scales: {x: {title: {display: true, text: d.x}}, y: {title: {display: true, text: d.y}}}}});\n"
             "  c.setAttribute('data-series', String(chart.data.datasets.length));\n"
             "  c.setAttribute('data-points', String(sets.reduce(function (n, s) { return n + s.data.length; }, 0)));\n"
             "})();</script>\n</section>\n");
  return 0;
}

int ds_report_render(const ds_report_t *r, char **html, size_t *len)
{
  rs_t s;
  int rc;
  memset(&s, 0, sizeof s);
  if (html) *html = NULL;
  if (len) *len = 0;
  if (!r || !html || !r->title || r->n_objectives == 0 || !r->objective) return DS_EINVAL;
  if (r->n_points && (!r->trial_id || !r->metric)) return DS_EINVAL;
  if (r->n_params && !r->param) return DS_EINVAL;
  if (r->n_hv && !r->hv) return DS_EINVAL;
  if (r->n_objectives >= 2 && (r->scatter_x >= r->n_objectives || r->scatter_y >= r->n_objectives))
    return DS_EINVAL;
  s.r = r;
  rc = rs_prepare(&s);
  if (rc) goto fail;
  sb_t *b = &s.out;
  sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  sb_esc(b, r->title);
  sb_puts(b, " \xe2\x80\x94 divsweep report</title>\n<style>");
  sb_puts(b, css);
  sb_puts(b, "</style>\n</head>\n<body>\n<header><h1>");
  sb_esc(b, r->title);
  sb_puts(b, "</h1>\n");
  if (r->subtitle) {
    sb_puts(b, "<p class=\"sub\">");
    sb_esc(b, r->subtitle);
    sb_puts(b, "</p>\n");
  }
  sb_puts(b, "<table class=\"kv\"><tbody>\n");
  for (size_t k = 0; k < r->n_summary; k++) {
    sb_puts(b, "<tr><td>");
    sb_esc(b, r->summary[k].key);
    sb_puts(b, "</td><td>");
    sb_esc(b, r->summary[k].value);
    sb_puts(b, "</td></tr>\n");
  }
  sb_printf(b, "<tr><td>points shown</td><td>%zu in %zu group%s</td></tr>\n", r->n_points, s.ng,
            s.ng == 1 ? "" : "s");
  sb_puts(b, "<tr><td>objectives</td><td>");
  for (size_t o = 0; o < r->n_objectives; o++) {
    if (o) sb_puts(b, ", ");
    sb_esc(b, r->objective[o]);
    sb_puts(b, maximise(&s, o) ? " (max)" : " (min)");
  }
  sb_puts(b, "</td></tr>\n<tr><td>");
  sb_esc(b, r->group_label ? r->group_label : "group");
  sb_puts(b, "</td><td>");
  for (size_t g = 0; g < s.ng; g++) {
    if (g) sb_puts(b, ", ");
    sb_esc(b, s.gname[g]);
  }
  sb_puts(b, "</td></tr>\n</tbody></table>\n</header>\n");
  if ((rc = section_overlay(&s)) || (rc = section_scatter(&s)) || (rc = section_hv(&s)) || (rc = section_lines(&s)) ||
      (rc = section_table(&s)))
    goto fail;
  sb_puts(b, r->chartjs ? "<footer><p class=\"note\">Generated by divsweep " DS_VERSION
                          ". Self-contained: Chart.js (Debian's libjs-chart.js) is inlined; no network.</p></footer>\n"
                          "</body>\n</html>\n"
                        : "<footer><p class=\"note\">Generated by divsweep " DS_VERSION
                          ". Self-contained: no scripts, no network.</p></footer>\n</body>\n</html>\n");
  if (b->err) { rc = b->err; goto fail; }
  *html = b->buf;
  if (len) *len = b->len;
  b->buf = NULL;
  rc = 0;
fail:
  free(s.out.buf);
  rs_free(&s);
  return rc;
}

int ds_report_write(const ds_report_t *r, const char *path)
{
  char *html = NULL, *tmp = NULL;
  size_t len = 0;
  FILE *f = NULL;
  if (!path) return DS_EINVAL;
  int rc = ds_report_render(r, &html, &len);
  if (rc) return rc;
  rc = DS_ENOMEM;
  tmp = malloc(strlen(path) + 5);
  if (!tmp) goto fail;
  strcpy(tmp, path);
  strcat(tmp, ".tmp");
  rc = DS_EIO;
  f = fopen(tmp, "wb");
  if (!f) goto fail;
  if (fwrite(html, 1, len, f) != len) goto fail;
  if (fclose(f) != 0) { f = NULL; goto fail; }
  f = NULL;
  if (rename(tmp, path) != 0) goto fail;
  rc = 0;
fail:
  if (f) fclose(f);
  if (rc && tmp) remove(tmp);
  free(tmp);
  free(html);
  return rc;
}
