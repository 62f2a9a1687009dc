/* launch.c — recognises the launcher and the SLURM job from the environment (ds_launch.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm */
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_launch.h"

static void copy_env(char *dst, size_t n, const char *name) {
  const char *v = getenv(name);
  snprintf(dst, n, "%s", v ? v : "");
}

void ds_launch_detect(ds_launch_t *out, int under_mpi) {
  memset(out, 0, sizeof *out);
  const char *l = "local";
  if (under_mpi) {
    if (getenv("OMPI_COMM_WORLD_SIZE"))
      l = "mpirun";
    else if (getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID"))
      l = "srun";
    else
      l = "mpi";
  }
  snprintf(out->launcher, sizeof out->launcher, "%s", l);
  copy_env(out->slurm_job_id, sizeof out->slurm_job_id, "SLURM_JOB_ID");
  if (out->slurm_job_id[0]) {
    const char *rc = getenv("SLURM_RESTART_COUNT");
    out->slurm_restart_count = rc ? atoi(rc) : 0;
    copy_env(out->slurm_nodelist, sizeof out->slurm_nodelist, "SLURM_JOB_NODELIST");
  }
}

int ds_launch_refuse_unwired(int under_mpi, char *err, size_t err_len) {
  const char *n = getenv("SLURM_STEP_NUM_TASKS");
  if (under_mpi || !getenv("SLURM_STEP_ID") || !n || atoi(n) <= 1) return 0;
  snprintf(err, err_len,
           "srun started %d copies of divsweep without MPI between them (SLURM_STEP_NUM_TASKS=%d, no PMIx/PMI"
           " rank): run `srun --mpi=pmix ...` (or set MpiDefault=pmix), or run one task (`srun -n 1`, or"
           " divsweep alone in the batch script) for one process with worker threads",
           atoi(n), atoi(n));
  return 1;
}

/* "H:MM:SS", "MM:SS" or "SS" (each part digits, the last one may have a fraction): seconds, or −1. */
static double clock_span(const char *s) {
  double parts[3], total = 0;
  int n = 0;
  for (const char *p = s;;) {
    char *end;
    if (n == 3 || !isdigit((unsigned char)*p)) return -1;
    parts[n++] = strtod(p, &end);
    if (*end == 0) break;
    if (*end != ':') return -1;
    p = end + 1;
  }
  for (int i = 0; i < n; i++) total = 60 * total + parts[i];
  return total;
}

int ds_launch_parse_deadline(const char *s, double now, double *out) {
  if (!s || !*s) return -1;
  if (s[0] == '+') {
    double span = clock_span(s + 1);
    if (span < 0) return -1;
    *out = now + span;
    return 0;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  int y, mo, d, h, mi, sec = 0, used = 0, n;
  char sep;
  if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &used) != 6 || (sep != 'T' && sep != ' '))
    return -1;
  const char *p = s + used;
  if (*p == ':') {
    if (sscanf(p, ":%2d%n", &sec, &n) != 1) return -1;
    p += n;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
  time_t t;
  if (*p == 0) { /* no zone: the local time, as date(1) and squeue print it */
    tm.tm_isdst = -1;
    t = mktime(&tm);
  } else if (!strcmp(p, "Z")) {
    t = timegm(&tm);
  } else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
    int oh = 0, om = 0;
    if (!(sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && p[1 + n] == 0) &&
        !(sscanf(p + 1, "%2d%2d%n", &oh, &om, &n) == 2 && p[1 + n] == 0) &&
        !(sscanf(p + 1, "%2d%n", &oh, &n) == 1 && p[1 + n] == 0))
      return -1;
    t = timegm(&tm) - (*p == '+' ? 1 : -1) * (time_t)(3600 * oh + 60 * om);
  } else {
    return -1;
  }
  if (t == (time_t)-1) return -1;
  *out = (double)t;
  return 0;
}

double ds_launch_parse_time_left(const char *s) {
  while (*s == ' ') s++;
  double days = 0;
  const char *dash = strchr(s, '-');
  if (dash) {
    char *end;
    days = strtod(s, &end);
    if (end != dash || !isdigit((unsigned char)*s)) return -1;
    s = dash + 1;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%s", s);
  for (size_t n = strlen(buf); n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '); n--) buf[n - 1] = 0;
  double span = clock_span(buf);
  return span < 0 ? -1 : 86400 * days + span;
}

int ds_launch_slurm_deadline(const char *job_id, double now, double *out, char *why, size_t why_len) {
  char cmd[128], line[128] = "";
  for (const char *p = job_id; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') {
      snprintf(why, why_len, "job id \"%s\" is not one squeue takes", job_id);
      return -1;
    }
  snprintf(cmd, sizeof cmd, "squeue -h -j %s -o %%L 2>/dev/null", job_id);
  FILE *f = popen(cmd, "r");
  if (!f) {
    snprintf(why, why_len, "cannot run squeue");
    return -1;
  }
  if (!fgets(line, sizeof line, f)) line[0] = 0;
  int st = pclose(f);
  double left = ds_launch_parse_time_left(line);
  if (st != 0 || !line[0]) {
    snprintf(why, why_len, "`squeue -j %s -o %%L` failed", job_id);
    return -1;
  }
  if (left < 0) {
    line[strcspn(line, "\n")] = 0;
    snprintf(why, why_len, "no time limit (squeue: %s)", line);
    return 1;
  }
  *out = now + left;
  return 0;
}
