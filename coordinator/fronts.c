/* fronts.c — Pareto fronts in the store (placeholder: no fronts yet; see ds_fronts.h). */
#include <stddef.h>

#include "ds_fronts.h"

int ds_fronts_open(ds_store_t *s, int64_t campaign_id, const ds_spec_t *spec, ds_fronts_t **out) {
  (void)s;
  (void)campaign_id;
  (void)spec;
  *out = NULL;
  return 0;
}

int ds_fronts_sync(ds_fronts_t *f, int final) {
  (void)f;
  (void)final;
  return 0;
}

void ds_fronts_close(ds_fronts_t *f) { (void)f; }
