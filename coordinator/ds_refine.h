/* ds_refine.h — front refinement along one continuous axis, as a pure function (issue 16).
 * Given the axis values tried so far in one pareto_by group (sorted ascending) and their objective
 * vectors (to MINIMISE), proposes up to per_round new axis values: the midpoints (geometric on a log
 * axis) of the neighbouring pairs farthest apart in objective space (Euclidean on objectives scaled by
 * the group's range), largest gap first, ties by lower axis value.  Pairs whose gap is below tol are
 * never split, so the search stops where the front is resolved.  Deterministic, no globals. */
#ifndef DS_REFINE_H
#define DS_REFINE_H

#include <stddef.h>

/* x: n ascending axis values; y: n rows of n_obj.  Writes k <= per_round values to x_out, ascending,
 * sets *n_out = k and *max_gap to the largest scaled gap seen.  Returns 0, DS_EINVAL (x not strictly
 * ascending, log axis with x <= 0) or DS_ENOMEM. */
int ds_refine_propose(const double *x, const double *y, size_t n, size_t n_obj, int log_axis, size_t per_round,
                      double tol, double *x_out, size_t *n_out, double *max_gap);

#endif
