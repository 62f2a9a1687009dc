/* ds_spec.h — campaign specs: parsing, validation and deterministic, streaming sweep expansion.
 *
 * A spec (DESIGN.md §3) is parsed once into a ds_spec_t.  Every parameter value the sweep can take
 * is rendered to canonical JSON at parse time, so producing trial i is string concatenation in
 * sorted key order — no per-trial JSON tree — and a 10⁶-trial sweep never exists in memory at once.
 *
 * Invariants:
 *   - The same spec always yields the same trials in the same order, whatever order its file lists
 *     keys in (grid: mixed radix over the sweep axes in name order, bytewise, first axis slowest,
 *     seed fastest; a divergence entry's swept parameters also expand in name order; other
 *     samplers: seeded, axes drawn in name order).  The trial order is a function of the
 *     canonical spec, which is what the store keeps.
 *   - A trial's params_json is canonical JSON (keys sorted bytewise, numbers in shortest round-trip
 *     form) of fixed ∪ swept ∪ {"seed": s}; its key is a 128-bit hash of task and params_json
 *     (ds_key_compute, under the campaign's key scheme).
 *   - Errors name the file and the JSON path, e.g. "spec.json: sweep.beta.points: expected a
 *     positive integer".
 */
#ifndef DS_SPEC_H
#define DS_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "ds_rand.h" /* ds_splitmix64, ds_rand_unit: the generator ds_key_seed seeds */

#define DS_KEY_LEN 32  /* hex characters of a trial key */
#define DS_KEY_BYTES 16 /* bytes of a trial key */

/* Key schemes (campaigns.key_scheme): how a trial key is computed from its task and canonical
 * parameters.  A campaign keeps the scheme it was created with, so that its keys and key-derived
 * seeds never change under it.
 *   DS_KEYS_FNV  (1): two FNV-1a streams, avalanche-mixed (divsweep 0.1 databases, schema <= 2);
 *                     stored as 32 hex characters (TEXT).
 *   DS_KEYS_XXH3 (2): XXH3-128 (libxxhash) of the parameters, seeded by XXH3-64 of the task name;
 *                     stored as a 16-byte BLOB.  Every new campaign. */
enum { DS_KEYS_FNV = 1, DS_KEYS_XXH3 = 2 };

/* A trial key in both forms, and the generator seed derived from it. */
typedef struct ds_key {
  uint8_t bin[DS_KEY_BYTES];  /* big-endian digest (scheme 2), or the hex decoded (scheme 1) */
  char hex[DS_KEY_LEN + 1];   /* lower-case hex of bin */
  uint64_t rng_seed;          /* what tasks seed their generators with */
} ds_key_t;

typedef enum { DS_SAMPLER_GRID = 0, DS_SAMPLER_RANDOM, DS_SAMPLER_LHS } ds_sampler_t;

/* One scalar of a parameter value, as stored in the `params` table. */
typedef struct ds_flat {
  char *name;      /* e.g. "beta", "divergence", "divergence_alpha", "mixture_0" */
  double value;    /* NAN when the scalar is text */
  char *text;      /* NULL for numbers */
} ds_flat_t;

/* One value a parameter can take: its canonical JSON and its flattened scalars. */
typedef struct ds_pval {
  char *json;
  size_t json_len;
  ds_flat_t *flat;
  size_t n_flat;
} ds_pval_t;

typedef enum { DS_AXIS_LIST = 0, DS_AXIS_LINEAR, DS_AXIS_LOG, DS_AXIS_SIMPLEX } ds_axis_kind_t;

typedef struct ds_axis {
  char *name;
  ds_axis_kind_t kind;
  ds_pval_t *vals;     /* grid points, n of them */
  size_t n, cap;
  double lo, hi;       /* linear / log bounds (continuous samplers draw inside them) */
  int simplex_m;       /* simplex dimension */
} ds_axis_t;

typedef struct ds_objective {
  char *name;
  int maximize;
} ds_objective_t;

typedef struct ds_trial_opts {
  double timeout_s;    /* 0 = none */
  int retries;
  int isolation_process;
  char device[8];      /* "auto", "cpu", "cuda" */
  char backend[8];     /* kernel backend: "auto", "ref", "cpu", "cuda" (worker/tasks_common.c) */
  int threads;         /* kernel threads per trial; 0 = the rank's default */
  double kill_grace_s; /* exec trials: seconds between SIGTERM and SIGKILL of the trial's group */
} ds_trial_opts_t;

/* Checks one parameter value for a task.  key is the parameter name, value its JSON.  Returns 0
 * when valid; otherwise writes "<suffix>: <message>" into err, where suffix is a JSON path relative
 * to the value ("" for the value itself, ".alpha", "[2]"), and returns DS_ESPEC.  Also says
 * "unknown parameter" for a key the task does not take. */
typedef int (*ds_param_check_fn)(const char *task, const char *key, const cJSON *value, char *err,
                                 size_t err_len);
/* Says whether task names a known task. */
typedef int (*ds_task_known_fn)(const char *task);

typedef struct ds_spec_opts {
  ds_param_check_fn check;   /* NULL: no task-level checks */
  ds_task_known_fn task_known;
} ds_spec_opts_t;

typedef struct ds_spec {
  char *file;                /* where it came from (for messages) */
  char *name;
  char *task;
  cJSON *root;               /* the parsed document (owned) */
  char *canonical;           /* canonical JSON of the whole spec */
  char hash[DS_KEY_LEN + 1]; /* XXH3-128 of canonical, in hex (informational: specs compare by text) */
  int key_scheme;            /* DS_KEYS_XXH3 unless the coordinator resumes an older campaign */

  /* Sorted parameter slots: fixed keys, axis names and "seed". */
  size_t n_slots;
  char **slot_key;           /* "\"beta\":" prefixes, pre-rendered */
  int *slot_axis;            /* axis index, or -1 for fixed, -2 for seed */
  ds_pval_t *slot_fixed;     /* value for fixed slots */

  ds_axis_t *axes;
  size_t n_axes;
  int64_t *seeds;            /* seed values */
  size_t n_seeds;

  ds_sampler_t sampler;
  int64_t sampler_n;
  int64_t draw_space;        /* random/LHS over discrete axes only: the grid's size (configurations are
                                drawn from it without replacement, at most that many); else 0 */
  uint64_t sampler_seed;

  ds_objective_t *objectives;
  size_t n_objectives;
  char **pareto_by;
  size_t n_pareto_by;
  /* Optional top-level "pareto": {"over": "config"|"trial", "ref_point": {objective: number}}.
   * pareto_over_trial = 1 ranks every trial; 0 (the default) ranks per-configuration means across
   * seeds (identical when seeds = 1).  pareto_ref is [n_objectives] in objective order, or NULL
   * when the reference point is to be derived from the data (coordinator/ds_fronts.h). */
  int pareto_over_trial;
  double *pareto_ref;
  ds_trial_opts_t trial;

  int64_t n_configs;         /* parameter configurations (before seeds) */
  int64_t n_trials;          /* n_configs × n_seeds */
} ds_spec_t;

/* One trial, produced by ds_spec_trial().  Reuse the same struct across calls to avoid
 * allocation; free with ds_trial_free(). */
typedef struct ds_trial {
  int64_t idx;
  int64_t seed;              /* the spec-level seed value */
  uint64_t rng_seed;         /* derived from the key: what tasks seed their generators with */
  int key_scheme;            /* DS_KEYS_* the key was computed with */
  char key[DS_KEY_LEN + 1];  /* hex */
  uint8_t key_bin[DS_KEY_BYTES];
  char *params_json;         /* canonical; owned */
  size_t params_len, params_cap;
  /* Flattened scalars: pointers into the spec (valid while it lives) plus continuous values. */
  const ds_flat_t **flat;
  size_t n_flat, flat_cap;
  ds_flat_t *own_flat;       /* scalars rendered for this trial (continuous samplers) */
  size_t n_own_flat, own_flat_cap;
} ds_trial_t;

/* Parses and validates spec text.  file names the source in messages.  On success *out owns a new
 * spec; on failure returns DS_ESPEC (or DS_ENOMEM), writes one line into err, and *out is NULL. */
int ds_spec_parse(const char *text, size_t len, const char *file, const ds_spec_opts_t *opts,
                  ds_spec_t **out, char *err, size_t err_len);
/* Reads a file and calls ds_spec_parse().  DS_EIO if the file cannot be read. */
int ds_spec_load(const char *path, const ds_spec_opts_t *opts, ds_spec_t **out, char *err,
                 size_t err_len);
/* Reads a spec file into *text (NUL-terminated, caller frees) and its length.  Refuses anything
 * but a regular file (a FIFO, /dev/zero, a directory: said by name) and files over 64 MiB before
 * reading them.  On failure returns DS_EIO or DS_ENOMEM, *text is NULL and err names the file. */
int ds_spec_read_file(const char *path, char **text, size_t *text_len, char *err, size_t err_len);
void ds_spec_free(ds_spec_t *s);

/* Fills t with trial idx (0 <= idx < n_trials).  Thread-compatible: one ds_trial_t per thread. */
int ds_spec_trial(const ds_spec_t *s, int64_t idx, ds_trial_t *t);
void ds_trial_free(ds_trial_t *t);


/* Describes how spec b differs from spec a, as "sweep.beta changed; seeds changed" (at most
 * err_len bytes).  Returns the number of differing top-level/second-level keys. */
int ds_spec_diff(const ds_spec_t *a, const ds_spec_t *b, char *out, size_t out_len);

/* Canonical JSON of any cJSON value (malloc'd, caller frees; NULL on OOM). */
char *ds_json_canonical(const cJSON *v);
/* Appends x in shortest round-trip form into buf (at least 32 bytes); returns length. */
int ds_fmt_double(char *buf, double x);
/* The scheme-1 key function (two FNV-1a streams over two byte strings), as 32 hex characters plus
 * NUL.  Kept only for campaigns created with it (DS_KEYS_FNV). */
void ds_hash128_hex(const void *a, size_t alen, const void *b, size_t blen, char out[DS_KEY_LEN + 1]);
/* Computes the key of parameters params (canonical JSON) for task under a DS_KEYS_* scheme. */
void ds_key_compute(int scheme, const char *task, const char *params, size_t params_len, ds_key_t *key);
/* XXH3-128 of text (seeded by task) in hex: spec hashes. */
void ds_key_hash_hex(const char *task, const char *text, size_t len, char out[DS_KEY_LEN + 1]);
/* 64-bit mix of a key's hex text: the seed tasks use for their generators. */
uint64_t ds_key_seed(const char *key);

#endif /* DS_SPEC_H */
