/* ds_params.h — what each task accepts and produces, as data: one table per task of its
 * parameters (type, range, default, meaning) and of the metrics it can report (definition, the
 * temperature it is measured at, when it is reported).
 *
 * These tables are the single source for three things that must agree:
 *   - validation: ds_task_check_param() (task.c) rejects names not in the table (suggesting the
 *     nearest one) and checks every scalar entry's type and range from the table before the task's
 *     own check() looks at structured values (divergences, teacher and type lists);
 *   - `divsweep help TASK` and `help divergences`, which print the tables (ds_params_print_*);
 *   - docs/tasks.md and docs/divergences.md, whose tables are that output pasted verbatim
 *     (tests/test_doc_help.sh compares them; tests/test_params.c probes each task's check() at the
 *     table's bounds so that the two layers cannot drift).
 * Everything here is static data and pure functions: any thread may call.
 */
#ifndef DS_PARAMS_H
#define DS_PARAMS_H

#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>

typedef enum {
  DS_PT_INT = 0, /* an integer in [lo, hi] */
  DS_PT_NUM,     /* a finite number in lo..hi, ends open or closed by lo_incl / hi_incl */
  DS_PT_BOOL,    /* true or false (with bool01: also 0 or 1) */
  DS_PT_ENUM,    /* one of the strings in choices ("a|b|c") */
  DS_PT_FILE,    /* a non-empty file name (.npy unless said otherwise) */
  DS_PT_DIV,     /* a divergence: "fkl" or {"name": "amari", "alpha": 0.25} */
  DS_PT_NUMS,    /* a list of numbers (length rules in the meaning; checked by the task) */
  DS_PT_OBJ      /* a structured value described in the meaning, checked by the task */
} ds_ptype_t;

typedef struct ds_param_info {
  const char *name;
  ds_ptype_t type;
  double lo, hi;
  int lo_incl, hi_incl;
  const char *choices; /* DS_PT_ENUM */
  int bool01;          /* DS_PT_BOOL: 0 and 1 accepted too */
  const char *def;     /* default as the user would write it; NULL: required or none */
  const char *meaning;
} ds_param_info_t;

typedef struct ds_metric_info {
  const char *name;     /* "pass_at_<k>": one per value of parameter k; "pi_<i>": per answer */
  const char *temp;     /* where it is measured: "T = 1", "trial T", or "-" (no temperature) */
  const char *requires; /* parameter that must be given for it to be reported; NULL: always */
  const char *meaning;
} ds_metric_info_t;

typedef struct ds_task_info {
  const char *name;
  const char *summary;
  int open;                         /* 1: any other parameter name is accepted (noop) */
  const ds_param_info_t *params;    /* terminated by a NULL name */
  const ds_metric_info_t *metrics;  /* terminated by a NULL name */
  int open_metrics;                 /* 1: the program decides its metrics (exec); any name may be an objective */
} ds_task_info_t;

/* The table of task `name`, or NULL. */
const ds_task_info_t *ds_params_task(const char *name);
/* Every task, NULL-terminated. */
const ds_task_info_t *const *ds_params_tasks(void);
/* The entry for parameter key of t, or NULL. */
const ds_param_info_t *ds_params_find(const ds_task_info_t *t, const char *key);

/* Checks v against a scalar entry (INT, NUM, BOOL, ENUM, FILE); other types return 0 (the task's
 * check() owns them).  On failure writes "<suffix>: message" (suffix "") and returns DS_ESPEC. */
int ds_params_check(const ds_param_info_t *p, const cJSON *v, char *err, size_t err_len);

/* The candidate from names (NULL-terminated, or the task's parameters when names is NULL and t is
 * given) nearest to word by edit distance, if close enough to be a likely typo; else NULL. */
const char *ds_params_suggest(const char *word, const char *const *names, const ds_task_info_t *t);

/* Whether task t can report metric `name` for a spec whose fixed and sweep objects are given
 * (either may be NULL): the metric is in the table, its required parameter is present, and for
 * pass_at_<k>-style names k is one of the values parameter k takes.  On 0, writes what the task
 * can report into why (a comma-separated list). */
int ds_params_metric_possible(const ds_task_info_t *t, const char *name, const cJSON *fixed,
                              const cJSON *sweep, char *why, size_t why_len);

/* The range column as printed ("1..1048576", "(0, 1e+06]", "adam, gd", "-"). */
void ds_params_range(const ds_param_info_t *p, char *buf, size_t len);

/* `divsweep help TASK` and `help divergences`: markdown tables on f.  Return 0, or -1 when the
 * task is unknown. */
int ds_params_print_task(FILE *f, const char *task);
void ds_params_print_divergences(FILE *f);

#endif /* DS_PARAMS_H */
