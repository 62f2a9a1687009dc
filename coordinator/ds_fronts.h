/* ds_fronts.h — keeping a campaign's Pareto fronts and hypervolumes up to date in the store.
 *
 * The writer calls ds_fronts_sync() inside its open transaction at every commit (~200 ms): it reads
 * the trials finished since the last call (trial_id above a watermark), adds them to the
 * incremental fronts of their pareto_by group, and rewrites only the `pareto` rows whose rank
 * changed, plus each touched group's `hypervolume` row and its history.  A campaign without
 * objectives has no fronts (ds_fronts_open gives NULL and the other calls accept NULL).
 * Used by the writer thread only.
 */
#ifndef DS_FRONTS_H
#define DS_FRONTS_H

#include <stdint.h>

#include "ds_spec.h"
#include "ds_store.h"

typedef struct ds_fronts ds_fronts_t;

/* Loads the fronts of a campaign (rebuilding them from the store on resume).  *out is NULL when
 * the spec declares no objectives.  Returns 0 or a DS_E* code (message in ds_store_errmsg). */
int ds_fronts_open(ds_store_t *s, int64_t campaign_id, const ds_spec_t *spec, ds_fronts_t **out);
/* Brings the fronts up to date with the store; final = 1 at the end of a run. */
int ds_fronts_sync(ds_fronts_t *f, int final);
void ds_fronts_close(ds_fronts_t *f);

#endif
