/* ds_halving.h — successive halving and Hyperband as pure functions (Li et al., "Hyperband: A Novel
 * Bandit-Based Approach to Hyperparameter Optimization", JMLR 18, 2018, Algorithm 1).
 *
 * With R = max/min (the largest budget in units of the smallest), s_max = floor(log_eta R) and
 * B = (s_max + 1) R, bracket s (s_max down to 0) starts n = ceil(B/R · eta^s/(s+1)) configurations at
 * budget r = R eta^-s (times min); rung i of it keeps n_i = floor(n eta^-i) of them at r_i = r eta^i.
 * "halving" is the single bracket s = s_max (n = eta^s_max, budgets min .. max).
 *
 * Rounds: rung i of every bracket belongs to round i, so the brackets run side by side and workers stay
 * busy while one bracket's rung waits for its last trial.  Everything here is a function of its
 * arguments only (no globals, no clocks); survivors are chosen by objective with ties broken by the
 * caller's order, which the round driver makes the trial-index order. */
#ifndef DS_HALVING_H
#define DS_HALVING_H

#include <stddef.h>
#include <stdint.h>

#define DS_HB_MAX_RUNGS 256 /* brackets x rungs; eta >= 2 and max/min <= 2^40 give at most 41*41/2 ~ 861 */

typedef struct ds_hb_rung {
  int bracket;     /* s: s_max for the most aggressive bracket, 0 for the plain full-budget one */
  int rung;        /* i: 0 .. s; also the round this rung is proposed in */
  int64_t n;       /* configurations evaluated at this rung */
  double budget;   /* min * R * eta^(i-s) */
} ds_hb_rung_t;

/* Fills out[0..*n_out) with the bracket table, brackets in decreasing s, rungs in increasing i.  single:
 * only bracket s_max (successive halving).  Returns 0, or DS_EINVAL when min <= 0, max < min, eta < 2 or
 * the table does not fit in cap (*n_out is then 0). */
int ds_hb_table(double min, double max, int eta, int single, ds_hb_rung_t *out, size_t cap, size_t *n_out);

/* Largest s with eta^s <= max/min (exact in integers when the ratio is one; tolerant of rounding). */
int ds_hb_smax(double min, double max, int eta);

/* Chooses the `keep` best of n points with n_obj objectives each (y row-major, all to MINIMISE; a NaN
 * anywhere in a row is a failed trial and ranks last).  One objective: by value.  Several: by
 * non-dominated rank, then larger crowding distance first (NSGA-II's order).  Ties by position.
 * Writes the chosen positions, in increasing position order, to keep_idx[0..keep).  Returns 0, or
 * DS_EINVAL (keep > n) or DS_ENOMEM. */
int ds_hb_survivors(const double *y, size_t n, size_t n_obj, size_t keep, size_t *keep_idx);

#endif
