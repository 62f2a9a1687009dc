/* trial_dir.c — the exec trials' directory beside the database (ds_trial_dir.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ds_error.h"
#include "ds_trial_dir.h"

int ds_trial_dir_campaign(const char *db_path, int64_t campaign_id, const char *name, char *out, size_t len) {
  char cwd[4096] = "";
  if (db_path[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  /* The campaign name is user text: only characters that are safe in every file system stay. */
  char safe[96];
  size_t k = 0;
  for (const char *p = name; *p && k < sizeof safe - 1; p++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
             ch == '_' || ch == '.';
    safe[k++] = ok ? ch : '_';
  }
  safe[k] = 0;
  int n = snprintf(out, len, "%s%s%s.trials/%lld-%s", cwd, cwd[0] ? "/" : "", db_path, (long long)campaign_id, safe);
  if (n < 0 || (size_t)n >= len) {
    if (len) out[0] = 0;
    return DS_EIO;
  }
  return 0;
}
