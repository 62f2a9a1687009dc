/* test_report.c — the HTML report renderer on synthetic campaigns: well-formed markup (every tag
 * balanced), one circle per plotted trial, front circles = rank-0 trials, escaping of hostile
 * names, log axes for log-spaced β, ranks computed here equal ranks passed in, atomic write.
 * The synthetic campaign comes from report_demo.c (included without its main).
 */
#define DS_REPORT_DEMO_NO_MAIN
#include "report_demo.c"

#include <ctype.h>
#include <unistd.h>

#define DS_TEST_ON_FAIL return
#include "ds_test.h"

static size_t count(const char *hay, const char *needle)
{
  size_t n = 0, k = strlen(needle);
  for (const char *p = strstr(hay, needle); p; p = strstr(p + k, needle)) n++;
  return n;
}

/* Every '<' opens a tag (escaping guarantees it); check that tags nest and close.  Returns 0 or
 * prints where the structure breaks. */
static int check_balanced(const char *h)
{
  static const char *voids[] = {"meta", "br", "hr", "img", "input", "link", NULL};
  char stack[256][16];
  int depth = 0;
  for (const char *p = h; (p = strchr(p, '<')) != NULL;) {
    if (strncmp(p, "<!DOCTYPE", 9) == 0 || strncmp(p, "<!--", 4) == 0) { p++; continue; }
    int closing = p[1] == '/';
    const char *q = p + 1 + closing;
    char name[16];
    size_t k = 0;
    while ((isalnum((unsigned char)*q) || *q == '-') && k < sizeof name - 1) name[k++] = *q++;
    name[k] = '\0';
    if (k == 0) { fprintf(stderr, "  stray '<' at %ld: %.40s\n", (long)(p - h), p); return -1; }
    const char *end = strchr(q, '>');
    if (!end) { fprintf(stderr, "  unterminated tag at %ld\n", (long)(p - h)); return -1; }
    /* A '<' inside a tag means an attribute value was not escaped. */
    const char *lt = strchr(q, '<');
    if (lt && lt < end) { fprintf(stderr, "  '<' inside tag at %ld\n", (long)(p - h)); return -1; }
    int selfclose = end[-1] == '/';
    int isvoid = 0;
    for (int v = 0; voids[v]; v++) isvoid |= strcmp(name, voids[v]) == 0;
    if (closing) {
      if (depth == 0 || strcmp(stack[depth - 1], name) != 0) {
        fprintf(stderr, "  </%s> at %ld closes <%s>\n", name, (long)(p - h),
                depth ? stack[depth - 1] : "(nothing)");
        return -1;
      }
      depth--;
    } else if (!selfclose && !isvoid) {
      if (depth == 256) return -1;
      strcpy(stack[depth++], name);
    }
    p = end + 1;
  }
  if (depth) { fprintf(stderr, "  <%s> never closed\n", stack[depth - 1]); return -1; }
  return 0;
}

/* Trials the scatter must draw: finite in both plotted objectives and ranked (rank ≥ 0). */
static void expected_circles(const demo_t *d, size_t *front, size_t *dominated)
{
  const ds_report_t *r = &d->r;
  ds_pareto_agg_t *g = NULL;
  *front = *dominated = 0;
  if (ds_pareto_aggregate(r->group, r->metric, r->n_points, r->n_objectives, &g)) return;
  double *sub = malloc(r->n_points * r->n_objectives * sizeof *sub);
  int32_t *rk = malloc(r->n_points * sizeof *rk);
  for (size_t c = 0; c < g->n_configs; c++) {
    size_t k = 0;
    for (size_t i = 0; i < r->n_points; i++)
      if (g->config_of[i] == c)
        memcpy(sub + k++ * r->n_objectives, r->metric + i * r->n_objectives, r->n_objectives * sizeof *sub);
    ds_pareto_rank(sub, k, r->n_objectives, r->sense, rk, NULL);
    for (size_t q = 0; q < k; q++) {
      double x = sub[q * r->n_objectives + r->scatter_x], y = sub[q * r->n_objectives + r->scatter_y];
      if (!isfinite(x) || !isfinite(y)) continue;
      if (rk[q] == 0) (*front)++;
      else if (rk[q] > 0) (*dominated)++;
    }
  }
  free(sub);
  free(rk);
  ds_pareto_agg_free(g);
}

static void a_synthetic_campaign_renders_as_balanced_html_with_one_circle_per_trial(void)
{
  demo_t d;
  ASSERT_EQ_INT(demo_build(&d, 0, 9), 0);
  char *h = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(ds_report_render(&d.r, &h, &len), 0);
  ASSERT_EQ_INT(strlen(h), len);
  ASSERT_TRUE(strncmp(h, "<!DOCTYPE html>", 15) == 0);
  ASSERT_TRUE(len > 8 && strcmp(h + len - 8, "</html>\n") == 0);
  ASSERT_EQ_INT(check_balanced(h), 0);
  size_t nf, nd;
  expected_circles(&d, &nf, &nd);
  ASSERT_EQ_INT(count(h, "<circle class=\"f\""), nf);
  ASSERT_EQ_INT(count(h, "<circle class=\"d\""), nd);
  ASSERT_TRUE(nf > 20 && nd > 100);
  /* 5 scatters + 1 hypervolume plot + 3 objectives × 2 swept numeric params (answers is fixed). */
  ASSERT_EQ_INT(count(h, "<svg "), 5 + 1 + 3 * 2);
  ASSERT_EQ_INT(count(h, "</svg>"), 5 + 1 + 3 * 2);
  /* Line markers: per objective, per group, 9 β values + 3 temperatures. */
  ASSERT_EQ_INT(count(h, "<circle class=\"m\""), 3 * 5 * (9 + 3));
  ASSERT_EQ_INT(count(h, "class=\"stair\""), 5);
  ASSERT_CONTAINS(h, "beta (log)");
  ASSERT_NOT_CONTAINS(h, "temperature (log)");
  ASSERT_NOT_CONTAINS(h, "<script");
  ASSERT_NOT_CONTAINS(h, "http://www.w3.org/2000/svg\" href"); /* no external references */
  ASSERT_NOT_CONTAINS(h, "src=");
  ASSERT_NOT_CONTAINS(h, "nan");
  ASSERT_NOT_CONTAINS(h, "inf\"");
  /* The front tables list every front member once (the demo's fronts are under 500 rows). */
  const char *tables = strstr(h, "<h2>Front members</h2>");
  ASSERT_TRUE(tables != NULL);
  ASSERT_EQ_INT(count(tables, "<tr><td>"), nf);
  free(h);
  demo_free(&d);
}

static void hostile_names_are_escaped_everywhere(void)
{
  demo_t d;
  ASSERT_EQ_INT(demo_build(&d, 1, 5), 0);
  char *h = NULL;
  ASSERT_EQ_INT(ds_report_render(&d.r, &h, NULL), 0);
  ASSERT_EQ_INT(check_balanced(h), 0);
  ASSERT_NOT_CONTAINS(h, "<script");
  ASSERT_NOT_CONTAINS(h, "<b>");
  ASSERT_NOT_CONTAINS(h, "temp<");
  ASSERT_CONTAINS(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co");
  ASSERT_CONTAINS(h, "rlvr &lt;b&gt;divergence&lt;/b&gt; &amp; &quot;choice&quot;");
  ASSERT_CONTAINS(h, "temp&lt;&quot;erature&quot;&gt;");
  free(h);
  demo_free(&d);
}

static void ranks_computed_by_the_renderer_equal_ranks_passed_in(void)
{
  demo_t d;
  ASSERT_EQ_INT(demo_build(&d, 0, 7), 0);
  char *a = NULL, *b = NULL;
  ASSERT_EQ_INT(ds_report_render(&d.r, &a, NULL), 0);
  /* The store's ranks: per group, computed independently. */
  int32_t *rk = malloc(d.n * sizeof *rk);
  size_t per = d.n / 5;
  for (size_t g = 0; g < 5; g++)
    ASSERT_EQ_INT(ds_pareto_rank(d.metric + g * per * DEMO_NO, per, DEMO_NO, demo_sense, rk + g * per, NULL), 0);
  d.r.front_rank = rk;
  ASSERT_EQ_INT(ds_report_render(&d.r, &b, NULL), 0);
  ASSERT_TRUE(strcmp(a, b) == 0);
  free(a);
  free(b);
  free(rk);
  demo_free(&d);
}

static void degenerate_inputs_render_or_fail_cleanly(void)
{
  const char *obj[] = {"loss"};
  int64_t id[] = {1, 2};
  double m[] = {0.5, NAN};
  ds_report_t r;
  memset(&r, 0, sizeof r);
  char *h = (char *)1;
  ASSERT_EQ_INT(ds_report_render(&r, &h, NULL), DS_EINVAL); /* no title */
  ASSERT_TRUE(h == NULL);
  r.title = "one objective, no params";
  r.n_objectives = 1;
  r.objective = obj;
  r.n_points = 2;
  r.trial_id = id;
  r.metric = m;
  ASSERT_EQ_INT(ds_report_render(&r, &h, NULL), 0);
  ASSERT_EQ_INT(check_balanced(h), 0);
  ASSERT_EQ_INT(count(h, "<svg "), 0);
  ASSERT_CONTAINS(h, "<td>1</td>");
  free(h);
  r.n_points = 0;
  ASSERT_EQ_INT(ds_report_render(&r, &h, NULL), 0);
  ASSERT_EQ_INT(check_balanced(h), 0);
  free(h);
  const char *obj2[] = {"a", "b"};
  r.n_objectives = 2;
  r.objective = obj2;
  r.scatter_y = 2;
  ASSERT_EQ_INT(ds_report_render(&r, &h, NULL), DS_EINVAL);
}

static void the_report_is_written_atomically_to_a_file(void)
{
  demo_t d;
  ASSERT_EQ_INT(demo_build(&d, 0, 4), 0);
  char path[] = "/tmp/ds_report_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_TRUE(fd >= 0);
  close(fd);
  ASSERT_EQ_INT(ds_report_write(&d.r, path), 0);
  FILE *f = fopen(path, "rb");
  ASSERT_TRUE(f != NULL);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fclose(f);
  char *h = NULL;
  size_t len;
  ASSERT_EQ_INT(ds_report_render(&d.r, &h, &len), 0);
  ASSERT_EQ_INT(sz, (long)len);
  free(h);
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  ASSERT_TRUE(access(tmp, F_OK) != 0);
  remove(path);
  ASSERT_EQ_INT(ds_report_write(&d.r, "/nonexistent-dir/x.html"), DS_EIO);
  demo_free(&d);
}

/* Hypervolume history: a narrow range gets tick labels that differ (they read "1.412" five times
 * at four digits), and the line is a step — the value holds from one history row to the next —
 * so three rows give five vertices, not a diagonal. */
static void hypervolume_history_is_a_step_with_distinct_ticks(void)
{
  const char *obj[] = {"a", "b"};
  int64_t id[] = {1, 2, 3};
  double m[] = {0.1, 0.9, 0.5, 0.5, 0.9, 0.1};
  ds_report_hv_t hv[] = {{"all", 10, 1.41203}, {"all", 40, 1.41217}, {"all", 20, 1.41210}};
  ds_report_t r;
  memset(&r, 0, sizeof r);
  r.title = "hv";
  r.n_objectives = 2;
  r.objective = obj;
  r.scatter_y = 1;
  r.n_points = 3;
  r.trial_id = id;
  r.metric = m;
  r.hv = hv;
  r.n_hv = 3;
  r.hv_time_label = "trials";
  char *h = NULL;
  ASSERT_EQ_INT(ds_report_render(&r, &h, NULL), 0);
  ASSERT_EQ_INT(check_balanced(h), 0);
  const char *sec = strstr(h, "<h2>Hypervolume");
  ASSERT_TRUE(sec != NULL);
  const char *end = strstr(sec, "</section>");
  ASSERT_TRUE(end != NULL);
  /* y tick labels (text-anchor end): pairwise distinct */
  char labels[16][32];
  size_t n = 0;
  for (const char *p = strstr(sec, "text-anchor=\"end\">"); p && p < end && n < 16;
       p = strstr(p + 1, "text-anchor=\"end\">")) {
    const char *a = p + strlen("text-anchor=\"end\">"), *z = strchr(a, '<');
    snprintf(labels[n++], sizeof labels[0], "%.*s", (int)(z - a), a);
  }
  ASSERT_TRUE(n >= 3);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (!strcmp(labels[i], labels[j])) {
        fprintf(stderr, "  tick label %s twice\n", labels[i]);
        ASSERT_TRUE(0);
      }
  const char *pl = strstr(sec, "<polyline");
  ASSERT_TRUE(pl != NULL && pl < end);
  const char *pts = strstr(pl, "points=\"") + 8, *pe = strchr(pts, '"');
  size_t vertices = 0;
  for (const char *c = pts; c < pe; c++) vertices += *c == ',';
  ASSERT_EQ_INT((int)vertices, 5);
  free(h);
}

int main(void)
{
  RUN_TEST(a_synthetic_campaign_renders_as_balanced_html_with_one_circle_per_trial);
  RUN_TEST(hostile_names_are_escaped_everywhere);
  RUN_TEST(ranks_computed_by_the_renderer_equal_ranks_passed_in);
  RUN_TEST(degenerate_inputs_render_or_fail_cleanly);
  RUN_TEST(the_report_is_written_atomically_to_a_file);
  RUN_TEST(hypervolume_history_is_a_step_with_distinct_ticks);
  return ds_test_exit();
}
