/* ds_cli.h — the commands other than run/resume: validate, status, query (and result formatting),
 * pareto, report, and repair (the one that writes: cli_repair.c, through the store). */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <stdio.h>
#include <sqlite3.h>

#include "ds_spec.h"

typedef enum { DS_FMT_TABLE = 0, DS_FMT_CSV, DS_FMT_JSON } ds_format_t;

/* Parses "table", "csv" or "json"; returns -1 for anything else. */
int ds_cli_format(const char *s);

/* Steps st to the end, printing its rows to f in the given format.  Returns 0, DS_ESTORE (the
 * statement failed), or DS_EDAMAGED (the file is corrupt or unreadable: the message ends with
 * the damaged-database hint); the message is printed. */
int ds_cli_print_stmt(sqlite3 *db, sqlite3_stmt *st, ds_format_t fmt, FILE *f);

/* Opens db_path read-only for a command; on failure prints the one-line error and returns NULL. */
struct ds_store *ds_cli_open_reader(const char *db_path);

/* The campaign a read command works on: `campaign` when the file holds it; without --campaign
 * (campaign NULL) the only campaign of the file, copied into buf.  Otherwise prints one line (an
 * unknown name lists the campaigns the file holds), sets *code to the exit code and returns NULL. */
const char *ds_cli_pick_campaign(const char *db_path, const char *campaign, char *buf, size_t len, int *code);

/* The commands; each returns a process exit code. */
/* Whole-spec checks the coordinator cannot make itself (they need the task tables and the .npy
 * reader of worker/, which coordinator/ does not link): names before parsing, the rest after.
 * Each returns 0 or a DS_E* code with "<JSON path>: message" in err.  NULL members are skipped. */
typedef struct ds_cli_spec_checks {
  int (*names)(const cJSON *root, char *err, size_t err_len);
  int (*whole)(const cJSON *root, char *err, size_t err_len);
} ds_cli_spec_checks_t;
/* The spec document, for the whole-spec checks (NULL when it cannot be read or does not parse:
 * then ds_spec_load reports why). */
cJSON *ds_cli_read_json(const char *path);
int ds_cli_validate(int argc, char **argv, const ds_spec_opts_t *opts, const ds_cli_spec_checks_t *checks);
int ds_cli_status(int argc, char **argv);
int ds_cli_query(int argc, char **argv);
int ds_cli_logs(int argc, char **argv);  /* cli_logs.c: an exec trial's stdout/stderr per attempt */
int ds_cli_pareto(int argc, char **argv); /* cli_pareto.c */
int ds_cli_report(int argc, char **argv); /* cli_pareto.c */
int ds_cli_repair(int argc, char **argv); /* cli_repair.c */

#endif
