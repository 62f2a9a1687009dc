/* ds_pareto.h — Pareto front ranks, hypervolume, reference points and per-configuration
 * aggregation for divsweep campaigns (DESIGN.md §3 "objectives"/"pareto_by", §4 tables `pareto`
 * and `hypervolume`).
 *
 * Conventions shared by every function here:
 *   - Points are given as an n × m row-major matrix of doubles (point i, objective j at
 *     values[i*m + j]) plus one sense per objective (DS_PARETO_MIN or DS_PARETO_MAX).  Internally
 *     MAX objectives are negated so that everything is minimised; callers never see that.
 *   - a dominates b  ⇔  a is no worse than b in every objective and strictly better in at least one.
 *     Exact duplicates therefore never dominate each other and always share a rank.
 *   - A point with any NaN or ±Inf value is excluded: its rank is -1, it is in no front and adds
 *     nothing to a hypervolume.  (A failed trial "never poisons a front", DESIGN.md §7.)
 *   - Front rank 0 is the non-dominated front; rank r+1 is the front of what is left after
 *     removing ranks 0..r.  Equivalently rank(p) = length of the longest chain of dominators.
 *   - Errors are 0 or a negative DS_E* code (schema/ds_error.h).  On failure output arrays may be
 *     partly written and `*out` pointers are NULL.
 *   - Batch functions are reentrant (no global state) and may be called from any thread.  A
 *     ds_pareto_t object is not synchronised: one thread at a time.
 *
 * This module needs nothing but libc and libm: the store wires it to SQLite.
 */
#ifndef DS_PARETO_H
#define DS_PARETO_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DS_PARETO_MIN = 0, DS_PARETO_MAX = 1 } ds_pareto_sense_t;

/* Default relative margin used by ds_pareto_ref_point (10% of each objective's range). */
#define DS_PARETO_REF_MARGIN 0.1

/* ---------------------------------------------------------------------------------------------
 * Batch non-dominated sorting
 * ------------------------------------------------------------------------------------------- */

/* Front rank of every point.  ranks[i] ∈ {0, 1, ...} or -1 for a non-finite point.  *n_fronts
 * (optional) receives the number of fronts.  senses may be NULL (all MIN).
 *
 * Algorithm: sort lexicographically (stable merge sort), then ENS-BS (Zhang et al. 2015): each
 * point goes to the first front none of whose members dominates it, found by binary search over
 * the fronts (valid because "front f dominates p" is monotone in f).
 *   m = 1: O(n log n) — the check against a front looks at its last member only.
 *   m = 2: O(n log n) — the same O(1) check works on the staircase (Jensen-style sweep).
 *   m ≥ 3: O(n log n + m · n · Σ log-fronts · front size); worst case O(m n²) when most points
 *          share one front, typically far less.
 * Memory O(n + n·m).  Fails with DS_EINVAL (m == 0, n ≥ 2^32-1, NULL arrays with n > 0) or
 * DS_ENOMEM. */
int ds_pareto_rank(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                   int32_t *ranks, size_t *n_fronts);

/* ---------------------------------------------------------------------------------------------
 * Hypervolume
 * ------------------------------------------------------------------------------------------- */

/* Hypervolume (Lebesgue measure of the union of the boxes between each point and `ref`) of the
 * given points, in the objectives' own units.  Dominated points add nothing, so callers may pass a
 * whole group or only its front; non-finite points and points not strictly better than `ref` in
 * every objective are ignored (they contribute zero volume).  ref must be finite (DS_EINVAL).
 *
 * Exact for every m:
 *   m = 1: O(n).
 *   m = 2: sort + sweep, O(n log n).
 *   m = 3: sweep over the third objective maintaining a 2-D staircase in a sorted array; O(n log n)
 *          comparisons plus O(n²) worst-case element moves (memmove), i.e. fast for 10^4 points.
 *   m ≥ 4: HSO-style slicing on the last objective down to the exact 3-D sweep: O(n^(m-2) log n)
 *          typical, O(n^(m-1)) worst.  Practical limits: m = 4 up to ~2,000 front points, m = 5 up
 *          to ~200, m ≥ 6 a few dozen.  Dominated points are removed from each slice for m-1 ≥ 4.
 * Fails with DS_EINVAL or DS_ENOMEM; *hv is 0 on failure. */
int ds_pareto_hypervolume(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                          const double *ref, double *hv);

/* Reference point derived from data: per objective, the worst finite value (the nadir of the
 * points given) moved further in the worsening direction by margin × (worst − best).  When an
 * objective has zero range the shift is margin × max(|worst|, 1).  Pass the points of one group
 * (all of them, so the reference stays put as the front improves) and DS_PARETO_REF_MARGIN; record
 * the result next to the hypervolume so that values stay comparable across a campaign.
 * Writes ref[0..m).  Fails with DS_EINVAL (margin < 0 or not finite) or DS_ENOTFOUND (no finite
 * point). */
int ds_pareto_ref_point(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                        double margin, double *ref);

/* ---------------------------------------------------------------------------------------------
 * Incremental ranks
 * ------------------------------------------------------------------------------------------- */

typedef struct ds_pareto ds_pareto_t;

/* One id whose rank changed in a commit.  old_rank is -1 for an id added in this commit. */
typedef struct ds_pareto_change {
  int64_t id;
  int32_t old_rank;
  int32_t new_rank;
} ds_pareto_change_t;

/* Create an empty set of points with m objectives.  senses (copied; NULL = all MIN).
 * *out is NULL on failure (DS_EINVAL for m == 0, DS_ENOMEM). */
int ds_pareto_init(ds_pareto_t **out, size_t m, const ds_pareto_sense_t *senses);

/* Free the object and everything it owns.  NULL is fine. */
void ds_pareto_free(ds_pareto_t *p);

/* Stage one point (values[0..m) copied).  Its rank is -1 until the next ds_pareto_commit.  Fails
 * with DS_EINVAL if the id was already added (staged or committed), DS_ENOMEM; the object is
 * unchanged on failure.  Non-finite values are accepted and rank -1 forever. */
int ds_pareto_add(ds_pareto_t *p, int64_t id, const double *values);

/* Rank the points staged since the last commit together with those already ranked, and report
 * every id whose rank changed (new ids included, except new ids with non-finite values, which
 * stay at -1).  *changes is owned by p and valid until the next commit or free; order unspecified.
 * The result is identical to ds_pareto_rank over all points.
 *
 * How: a new point's rank can only be ≥ k, the smallest rank any new point would get against the
 * current fronts alone (found by binary search over the fronts).  No new point can dominate a
 * point of rank < k, so fronts 0..k-1 are kept as they are and only the points in fronts ≥ k plus
 * the new ones (call them S) are re-sorted, ranks offset by k.  Cost per commit:
 *   O(b · log F · C) to find k (b new points, F fronts, C = O(log |front|) for m ≤ 2 or
 *   O(m · |front|) for m ≥ 3), plus a batch sort of S (see ds_pareto_rank).
 * Points that land deep (dominated by the current front, the common case late in a campaign)
 * leave the upper fronts untouched; a new point in front 0 re-sorts everything.
 * Fails with DS_ENOMEM, leaving p as it was before the call (the staged points stay staged). */
int ds_pareto_commit(ds_pareto_t *p, const ds_pareto_change_t **changes, size_t *n_changes);

/* Number of points added (staged ones included). */
size_t ds_pareto_count(const ds_pareto_t *p);

/* Number of fronts after the last commit. */
size_t ds_pareto_n_fronts(const ds_pareto_t *p);

/* The i-th added point (insertion order): its id and rank (-1: non-finite or not yet committed).
 * DS_EINVAL if i is out of range.  Either out pointer may be NULL. */
int ds_pareto_get(const ds_pareto_t *p, size_t i, int64_t *id, int32_t *rank);

/* Rank of an id (-1: non-finite or staged).  DS_ENOTFOUND if the id was never added. */
int ds_pareto_rank_of(const ds_pareto_t *p, int64_t id, int32_t *rank);

/* Members of front r as insertion indices (for ds_pareto_get), lexicographically ordered in the
 * minimised objectives.  *idx is owned by p, valid until the next commit or free.  DS_EINVAL if
 * r ≥ ds_pareto_n_fronts. */
int ds_pareto_front(const ds_pareto_t *p, size_t r, const uint32_t **idx, size_t *len);

/* Hypervolume of the committed front 0 w.r.t. ref (objective units); see ds_pareto_hypervolume. */
int ds_pareto_front_hypervolume(const ds_pareto_t *p, const double *ref, double *hv);

/* Reference point over all committed finite points; see ds_pareto_ref_point. */
int ds_pareto_front_ref_point(const ds_pareto_t *p, double margin, double *ref);

/* ---------------------------------------------------------------------------------------------
 * Per-configuration aggregation (means across seeds)
 * ------------------------------------------------------------------------------------------- */

/* Per-configuration statistics.  Matrices are n_configs × m, row-major, so `mean` can be passed
 * straight to ds_pareto_rank / ds_pareto_hypervolume for fronts over per-configuration means. */
typedef struct ds_pareto_agg {
  size_t n_configs, m;
  const char **key;   /* [n_configs] borrowed from the caller's keys (first trial's pointer) */
  size_t *first;      /* [n_configs] index of the first trial of each configuration */
  size_t *n_trials;   /* [n_configs] trials per configuration */
  size_t *n_finite;   /* [n_configs*m] finite values per objective */
  double *mean;       /* [n_configs*m] NaN where n_finite is 0 */
  double *std;        /* [n_configs*m] sample std (n-1); 0 for one value, NaN for none */
  double *min, *max;  /* [n_configs*m] NaN where n_finite is 0 */
  size_t *config_of;  /* [n] configuration index of each input trial */
} ds_pareto_agg_t;

/* Group n trials by key (e.g. the trial key without its seed, or a canonical params string; NULL
 * counts as "") and compute per-objective statistics over each group's finite values.  Groups are
 * numbered in order of first appearance.  O(n log n) string comparisons + O(n·m).  *out is owned
 * by the caller (ds_pareto_agg_free); key pointers borrow `keys`, which must outlive *out.
 * Also serves to partition trials by a `pareto_by` group value.
 * Fails with DS_EINVAL (m == 0, NULL arrays with n > 0) or DS_ENOMEM; *out NULL then. */
int ds_pareto_aggregate(const char *const *keys, const double *values, size_t n, size_t m,
                        ds_pareto_agg_t **out);

/* Free an aggregation.  NULL is fine. */
void ds_pareto_agg_free(ds_pareto_agg_t *agg);

#endif /* DS_PARETO_H */
