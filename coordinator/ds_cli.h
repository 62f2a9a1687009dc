/* ds_cli.h — the read-side commands: validate, status, query (and result formatting). */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <stdio.h>
#include <sqlite3.h>

#include "ds_spec.h"

typedef enum { DS_FMT_TABLE = 0, DS_FMT_CSV, DS_FMT_JSON } ds_format_t;

/* Parses "table", "csv" or "json"; returns -1 for anything else. */
int ds_cli_format(const char *s);

/* Steps st to the end, printing its rows to f in the given format.  Returns 0 or DS_ESTORE (the
 * message is printed). */
int ds_cli_print_stmt(sqlite3 *db, sqlite3_stmt *st, ds_format_t fmt, FILE *f);

/* Opens db_path read-only for a command; on failure prints the one-line error and returns NULL. */
struct ds_store *ds_cli_open_reader(const char *db_path);

/* The commands; each returns a process exit code. */
int ds_cli_validate(int argc, char **argv, const ds_spec_opts_t *opts);
int ds_cli_status(int argc, char **argv);
int ds_cli_query(int argc, char **argv);
int ds_cli_pareto(int argc, char **argv); /* cli_pareto.c */
int ds_cli_report(int argc, char **argv); /* cli_pareto.c */

#endif
