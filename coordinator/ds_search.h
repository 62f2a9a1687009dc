/* ds_search.h — the pure, deterministic adaptive-search samplers' interface (TPE, NSGA-II, and the
 * non-dominated rank + crowding distance shared with halving's multi-objective survivors).  No
 * global state: every random draw comes from (seed, round, k) through ds_rand_* (schema/ds_spec.h),
 * and the caller passes observations sorted by trial index, so the same inputs give the same bits. */
#ifndef DS_SEARCH_H
#define DS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DS_AX_LINEAR, DS_AX_LOG, DS_AX_INT, DS_AX_CAT } ds_ax_kind_t;
typedef struct ds_search_axis {
  const char *name;
  ds_ax_kind_t kind;
  double lo, hi;  /* LINEAR/LOG/INT: inclusive bounds */
  int n_cat;      /* CAT: values are category indices 0..n_cat-1 (as doubles) */
  int parent;     /* -1, or index of a CAT axis this axis is conditional on */
  int parent_cat; /* active only when axis `parent` == parent_cat; inactive value = NAN */
} ds_search_axis_t;
typedef struct ds_search_obs {
  const double *x;
  const double *y;
} ds_search_obs_t;
/* x: n_axes values in axis order (NAN = inactive); y: n_obj objective values to MINIMISE
   (the caller negates maximised ones); y[0] NAN = failed trial */
typedef struct ds_tpe_opts {
  size_t n_startup;
  double gamma;
  size_t n_ei_candidates;
} ds_tpe_opts_t; /* 0 = defaults */

/* Proposes n_out points from the observations of earlier rounds; x_out is n_out*n_axes, row-major.
 * Deterministic: same inputs (observations in the given order) -> same bits. why_out[k] (optional)
 * gets "startup" or "model". Returns 0 or a DS_E* code; err gets a message. */
int ds_tpe_propose(const ds_search_axis_t *axes, size_t n_axes, const ds_search_obs_t *obs, size_t n_obs,
                   const ds_tpe_opts_t *o, uint64_t seed, uint64_t round, size_t n_out, double *x_out,
                   const char **why_out, char *err, size_t err_len);
/* NSGA-II generation `gen` (0 = random initial population of n_out) from all earlier observations. */
int ds_nsga2_propose(const ds_search_axis_t *axes, size_t n_axes, const ds_search_obs_t *obs, size_t n_obs,
                     size_t n_obj, uint64_t seed, uint64_t gen, size_t n_out, double *x_out, char *err,
                     size_t err_len);
/* Non-dominated rank and crowding distance (used by NSGA-II and by multi-objective rung survivors). */
int ds_nd_rank_crowding(const double *y, size_t n, size_t n_obj, int *rank_out, double *crowd_out);

#endif /* DS_SEARCH_H */
