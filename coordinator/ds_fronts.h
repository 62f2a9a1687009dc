/* ds_fronts.h — keeping a campaign's Pareto fronts and hypervolumes up to date in the store
 * (DESIGN.md §3 objectives / pareto_by, §4 tables pareto, hypervolume, hypervolume_history).
 *
 * The writer calls ds_fronts_sync() inside its open transaction at every commit (~200 ms): it reads
 * the trials finished since the last call (trial_id above a watermark, plus rows it last saw
 * `pending`/`running`), adds them to the incremental fronts (ds_pareto_t) of the campaign and of
 * their pareto_by group, and rewrites only the `pareto` rows whose rank changed, plus each touched
 * group's `hypervolume` row and, when the value moved, a `hypervolume_history` row.
 * A campaign without objectives has no fronts (ds_fronts_open gives NULL and the other calls accept
 * NULL).  Used by the writer thread only.
 *
 * What lands in the store:
 *   - Groups: DS_FRONTS_ALL ("all") is the whole campaign; with pareto_by, every trial is also
 *     ranked inside its group, labelled by ds_fronts_group_label ("fkl", "amari(alpha=0.25)",
 *     "fkl / 0.5" for two keys).
 *   - Points: with spec "pareto": {"over": "trial"} every done trial whose objectives are all finite
 *     is a point.  With "over": "config" (the default) a point is one configuration — the mean of
 *     its seeds' finite results — and it enters the fronts once every seed of it has finished
 *     (done or failed), so a point never moves.  Its rank is written on the `pareto` row of each
 *     of its seeds' done trials (the spread stays in `metrics`).  With one seed both are the same.
 *     Trials no longer in the sweep after --extend (idx = -1) are left out of per-config fronts.
 *   - Failed trials, and done trials with a missing or non-finite objective, have no `pareto` row.
 *   - Reference point: the spec's pareto.ref_point, else derived over all points of the campaign
 *     (ds_pareto_ref_point: nadir + 10% of the range), one for every group so their hypervolumes
 *     compare.  A derived reference moves while worse points arrive; every hypervolume and history
 *     row records the ref_point (JSON object objective → value) it was computed against, and
 *     `hypervolume.ref_source` says 'spec' or 'derived'.
 */
#ifndef DS_FRONTS_H
#define DS_FRONTS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "ds_spec.h"
#include "ds_store.h"

#define DS_FRONTS_ALL "all"

typedef struct ds_fronts ds_fronts_t;

/* Loads the fronts of a campaign, rebuilding them from the store (its pareto and hypervolume rows
 * are rewritten; history is appended to only where the value differs from its last row).  Opens
 * and commits its own transaction when none is open.  *out is NULL when the spec declares no
 * objectives or on failure.  Returns 0 or a DS_E* code (message in ds_store_errmsg). */
int ds_fronts_open(ds_store_t *s, int64_t campaign_id, const ds_spec_t *spec, ds_fronts_t **out);
/* Brings the fronts up to date with the store; final = 1 at the end of a run.  Must be called
 * inside a transaction.  Returns 0 or a DS_E* code (message in ds_store_errmsg). */
int ds_fronts_sync(ds_fronts_t *f, int final);
void ds_fronts_close(ds_fronts_t *f);

/* The pareto_by group label of a trial from its parsed params_json, into out (always
 * NUL-terminated, truncated to len).  DS_FRONTS_ALL when the spec has no pareto_by.  A value is
 * rendered as text for strings, shortest round-trip for numbers, name(k=v,...) for objects with a
 * "name" (divergences), canonical JSON otherwise; several keys are joined by " / ".  A label that
 * would equal "all" is written "=all", so that it is never mistaken for the campaign-wide front. */
void ds_fronts_group_label(const ds_spec_t *spec, const cJSON *params, char *out, size_t len);

#endif
