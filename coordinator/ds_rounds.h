/* ds_rounds.h — the store side of adaptive rounds (issue 16): table `proposals`, one row per proposed
 * trial, written before any of the round is dispatched, so a resumed or multi-rank run re-reads the
 * same proposals instead of recomputing them.  Created on demand (CREATE TABLE IF NOT EXISTS); the
 * schema-version bump + migration is still to do.  Writer thread only. */
#ifndef DS_ROUNDS_H
#define DS_ROUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "ds_store.h"

typedef struct ds_proposal {
  int64_t idx;          /* trial index in the campaign */
  int64_t round;        /* round it was proposed in */
  char why[64];         /* "bracket 4 rung 1", "startup", "model", "gen 3", "refine [0.1,0.3]" */
  double budget;        /* budget parameter value, NAN when the sampler has none */
  const char *params;   /* canonical JSON of the trial's parameters (borrowed) */
} ds_proposal_t;

/* Creates the table if missing.  0 or DS_ESTORE (message in err). */
int ds_rounds_init(ds_store_t *s, char *err, size_t err_len);
/* Writes n proposals of one campaign in one transaction; a row already there with the same
 * (campaign, idx) must be identical (DS_EDAMAGED otherwise), so rewriting a round is a no-op. */
int ds_rounds_put(ds_store_t *s, const char *campaign, const ds_proposal_t *p, size_t n, char *err, size_t err_len);
/* Number of rows of `campaign` in `round` (*n_out), 0 or DS_ESTORE. */
int ds_rounds_count(ds_store_t *s, const char *campaign, int64_t round, int64_t *n_out);

#endif
