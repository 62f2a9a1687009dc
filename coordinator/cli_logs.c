/* cli_logs.c — `divsweep logs --db FILE TRIAL [--attempt N]`: prints the stdout and stderr that an
 * exec trial's attempts left in its directory beside the database (ds_trial_dir.h).  TRIAL is a
 * trial_id or a trial key (or a unique prefix of one, at least 6 hex digits).  Read-only: opens
 * the store like `query` does and never writes. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_cli.h"
#include "ds_error.h"
#include "ds_store.h"
#include "ds_trial_dir.h"

static int print_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  printf("==> %s <==\n", path);
  char buf[65536];
  size_t n, last = 0;
  int end_nl = 1;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    fwrite(buf, 1, n, stdout);
    last = n;
    end_nl = buf[n - 1] == '\n';
  }
  if (last && !end_nl) putchar('\n');
  fclose(f);
  return 1;
}

/* The campaign directory: by its current name, else any "<id>-*" (the campaign was renamed by
 * --fresh after its trials ran). */
static void campaign_dir(const char *db, int64_t id, const char *name, char *out, size_t len) {
  struct stat sb;
  if (ds_trial_dir_campaign(db, id, name, out, len) == 0 && stat(out, &sb) == 0) return;
  char root[4200], prefix[32];
  snprintf(root, sizeof root, "%s.trials", db);
  snprintf(prefix, sizeof prefix, "%lld-", (long long)id);
  DIR *d = opendir(root);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix))) {
      char *slash = strrchr(out, '/');
      if (slash && (size_t)(slash - out) + 1 + strlen(e->d_name) < len) strcpy(slash + 1, e->d_name);
      break;
    }
  if (d) closedir(d);
}

int ds_cli_logs(int argc, char **argv) {
  const char *db_path = NULL, *trial = NULL;
  int only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) db_path = argv[++i];
    else if (!strcmp(argv[i], "--attempt") && i + 1 < argc) only = atoi(argv[++i]);
    else if (!trial && argv[i][0] != '-') trial = argv[i];
    else {
      fprintf(stderr, "divsweep logs: unexpected argument %s\n", argv[i]);
      return DS_EXIT_USAGE;
    }
  }
  if (!db_path || !trial) {
    fprintf(stderr, "usage: divsweep logs --db FILE TRIAL [--attempt N]   (TRIAL: a trial_id or trial key)\n");
    return DS_EXIT_USAGE;
  }
  ds_store_t *s = ds_cli_open_reader(db_path);
  if (!s) return DS_EXIT_STORE;
  sqlite3 *db = ds_store_db(s);
  sqlite3_stmt *st = NULL;
  int code = 0;
  const char *sql =
      "SELECT c.campaign_id, c.name, c.task, t.trial_id, t.attempts,"
      " CASE typeof(t.trial_key) WHEN 'blob' THEN lower(hex(t.trial_key)) ELSE t.trial_key END AS k"
      " FROM trials t JOIN campaigns c USING(campaign_id)"
      " WHERE t.trial_id = CAST(?1 AS INTEGER) AND ?1 GLOB '[0-9]*' AND length(?1) < 12"
      " OR (length(?1) >= 6 AND k GLOB lower(?1) || '*') LIMIT 2";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "divsweep logs: %s: %s\n", db_path, sqlite3_errmsg(db));
    code = DS_EXIT_STORE;
    goto out;
  }
  sqlite3_bind_text(st, 1, trial, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) {
    fprintf(stderr, "divsweep logs: %s: no trial %s (table trials: by trial_id or trial key)\n", db_path, trial);
    code = DS_EXIT_USAGE;
    goto out;
  }
  int64_t cid = sqlite3_column_int64(st, 0);
  char name[256], task[64], key[64];
  snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 1));
  snprintf(task, sizeof task, "%s", (const char *)sqlite3_column_text(st, 2));
  snprintf(key, sizeof key, "%s", (const char *)sqlite3_column_text(st, 5));
  int attempts = sqlite3_column_int(st, 4);
  if (sqlite3_step(st) == SQLITE_ROW) {
    fprintf(stderr, "divsweep logs: %s: %s matches several trials; give more of the key\n", db_path, trial);
    code = DS_EXIT_USAGE;
    goto out;
  }
  if (strcmp(task, "exec")) {
    fprintf(stderr, "divsweep logs: trial %s is a %s trial: only exec trials keep logs\n", trial, task);
    code = DS_EXIT_USAGE;
    goto out;
  }
  char dir[4200];
  campaign_dir(db_path, cid, name, dir, sizeof dir);
  int found = 0;
  if (attempts < 1) attempts = 1;
  for (int a = 1; a <= attempts + 1; a++) { /* + 1: an attempt still running has no count yet */
    if (only && a != only) continue;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/attempt-%d.out", dir, key, a);
    found += print_file(path);
    snprintf(path, sizeof path, "%s/%s/attempt-%d.err", dir, key, a);
    found += print_file(path);
  }
  if (!found) {
    fprintf(stderr, "divsweep logs: no logs for trial %s in %s/%s (it has not run yet?)\n", trial, dir, key);
    code = DS_EXIT_USAGE;
  }
out:
  sqlite3_finalize(st);
  ds_store_close(s);
  return code;
}
