/* ds_report.h — render one self-contained HTML report of a campaign (DESIGN.md §2 `divsweep
 * report`) from data already in memory.
 *
 * The report has no external references: inline CSS and inline SVG, no fonts or images fetched
 * from anywhere, so it can be mailed or opened from a cluster's scratch space.  Its only scripts
 * are an inlined Chart.js (when the caller passes it, `chartjs`) and a fixed initialiser that
 * reads the data from a JSON block; without `chartjs` it has no scripts at all.
 * Sections: title and summary; per group (pareto_by value) a scatter of two objectives with the
 * front (rank 0) highlighted and linked by its 2-D attainment staircase, dominated points grey;
 * hypervolume over time, one line per group; for each objective × each swept numeric parameter,
 * mean ± one standard deviation (and min–max whiskers) over seeds and the other parameters, one
 * line per group; a table of each group's front with its trials' parameters.
 *
 * Every string from the caller is HTML-escaped (& < > " '), in text and attributes alike.
 * Axes get "nice" ticks; an axis whose finite values are all positive and span more than two
 * decades is drawn on a log scale (β sweeps are log-spaced).
 *
 * The input is struct-of-arrays so the store can fill it from one `SELECT * FROM v_<campaign>`
 * joined with `pareto`: one row per trial, one column per parameter and per objective.
 * This module does no I/O other than ds_report_write and needs no SQLite.
 */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ds_pareto.h"

/* A free-form line of the summary ("trials done" → "1234"). */
typedef struct ds_report_kv {
  const char *key;
  const char *value;
} ds_report_kv_t;

/* One point of the hypervolume-over-time series of a group (the `hypervolume` table, sampled at
 * each commit).  t is in the caller's unit (hv_time_label says which). */
typedef struct ds_report_hv {
  const char *group;
  double t;
  double value;
} ds_report_hv_t;

/* Everything the report shows.  All pointers are borrowed for the duration of the call only.
 * Matrices are row-major with one row per trial.  Optional members may be NULL / 0. */
typedef struct ds_report {
  const char *title;                  /* campaign name (required) */
  const char *subtitle;               /* optional, e.g. "task rlvr · spec rlvr.json" */
  const ds_report_kv_t *summary;      /* [n_summary] optional */
  size_t n_summary;

  size_t n_objectives;                /* ≥ 1 */
  const char *const *objective;       /* [n_objectives] names */
  const ds_pareto_sense_t *sense;     /* [n_objectives]; NULL = all MIN */

  size_t n_params;
  const char *const *param;           /* [n_params] names */

  size_t n_points;                    /* trials (or per-configuration means) */
  const int64_t *trial_id;            /* [n_points] required */
  const char *const *group;           /* [n_points] pareto_by value; NULL = one group "all" */
  const int64_t *seed;                /* [n_points] optional */
  const int32_t *front_rank;          /* [n_points] rank within the group, -1 none; NULL = computed
                                         here per group with ds_pareto_rank */
  const double *param_value;          /* [n_points*n_params] numeric value, NaN if textual/absent */
  const char *const *param_text;      /* [n_points*n_params] optional textual values (NULL entries
                                         fall back to param_value) */
  const double *metric;               /* [n_points*n_objectives]; NaN = missing (not plotted) */
  const double *metric_std;           /* optional [n_points*n_objectives]: the spread of a point
                                         that is a per-configuration mean (sample std across its
                                         seeds), drawn as error bars; NaN = none */
  const int32_t *n_seeds;             /* optional [n_points]: seeds behind a mean point (its
                                         tooltip says so; the seed column is then not shown) */
  const char *point_noun;             /* what a point is, e.g. "configurations"; NULL = "trials" */

  size_t scatter_x, scatter_y;        /* objective indices of the scatter plots (0 and 1 usually) */
  const char *group_label;            /* what a group is, e.g. "divergence"; NULL = "group" */

  const ds_report_hv_t *hv;           /* [n_hv] optional, any order */
  size_t n_hv;
  const char *hv_time_label;          /* e.g. "elapsed (s)"; NULL = "time" */

  const char *chartjs;                /* optional: the text of Chart.js 3 (chart.min.js).  When
                                         given, the report opens with one chart overlaying every
                                         group's front (legend, tooltips), the library inlined so
                                         the file stays self-contained; NULL: SVG only, no scripts. */
  size_t max_dominated_drawn;         /* per group scatter; 0 = 4000.  Beyond it dominated points
                                         are thinned deterministically (the front never is). */
} ds_report_t;

/* Render the report into a NUL-terminated string *html (caller frees with free()), length *len
 * (optional).  Fails with DS_EINVAL (missing required members, scatter indices out of range) or
 * DS_ENOMEM; *html is NULL on failure.  Reentrant; any thread. */
int ds_report_render(const ds_report_t *r, char **html, size_t *len);

/* Render and write to `path` atomically (path + ".tmp", then rename).  DS_EIO if the file cannot
 * be written (errno is left as the failing call set it), else as ds_report_render. */
int ds_report_write(const ds_report_t *r, const char *path);

#endif /* DS_REPORT_H */
