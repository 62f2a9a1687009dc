/* main.c — the divsweep executable.  `run` and `resume` under mpirun pick the role by MPI rank
 * (rank 0 coordinates, ranks 1..N−1 work); without mpirun (or with one rank) the same command runs
 * the campaign in one process with worker threads.  Every other command is a plain program. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "ds_cli.h"
#include "ds_coord.h"
#include "ds_error.h"
#include "ds_kernels.h"
#include "ds_launch.h"
#include "ds_task.h"
#include "ds_wire.h"

#include "ds_cli_kernel.h"
#include "ds_params.h"
#include "ds_spec_check.h"

static const char *USAGE =
    "usage:\n"
    "  divsweep run SPEC.json [--db FILE] [--fresh | --extend] [--retry-failed] [--threads N] [--depth N]\n"
    "               [--deadline TIME] [--quiet]\n"
    "  divsweep resume --db FILE [--campaign NAME] [--retry-failed] [--threads N] [--deadline TIME] [--quiet]\n"
    "  divsweep validate SPEC.json [--show N]\n"
    "  divsweep status --db FILE [--campaign NAME] [--json]\n"
    "  divsweep pareto --db FILE [--campaign NAME] [--group KEY] [--all] [--format table|csv|json]\n"
    "  divsweep query --db FILE \"SQL\" [--format table|csv|json]\n"
    "  divsweep logs --db FILE TRIAL [--attempt N]\n"
    "  divsweep report --db FILE [--campaign NAME] --out report.html\n"
    "  divsweep repair --db FILE [--campaign NAME] [--apply]\n"
    "  divsweep kernel --div NAME [--param k=v]... --teacher T.npy [--teacher T2.npy --weights a,b\n"
    "                  [--mix arithmetic|geometric|loss]] --student S.npy [--temperature T] [--t2]\n"
    "                  [--reduction batchmean|sum|mean|none] [--grad OUT.npy] [--backend NAME] [--json]\n"
    "  divsweep bench kernels [--div NAME] [--rows B] [--vocab V] [--threads N] [--backend NAME] [--json]\n"
    "  divsweep help [TASK | divergences]\n"
    "Run under `mpirun -np N` to use rank 0 as coordinator and ranks 1..N-1 as workers.\n"
    "--deadline TIME (ISO-8601 like 2026-12-02T15:00:00Z, or +SECONDS, +HH:MM:SS; `none`: no deadline): no trial\n"
    "  starts that would not end before it (judged by the longest recent trial), then exit 3 to resume later.\n"
    "  In a SLURM job with a time limit the job's end is the default deadline (squeue %L).\n"
    "Exit codes: 0 done, 1 usage/spec error, 2 store error, 3 interrupted (resumable), 4 trials failed,\n"
    "  5 `repair` dry run found changes to make (none made; add --apply).\n"
    "`repair` shows (and with --apply makes, in one transaction) what puts a damaged database back in a\n"
    "state `run`/`resume` can finish: duplicate trial keys, trial order, rows left running, indexes, views.\n";

static const ds_spec_opts_t SPEC_OPTS = {ds_task_check_param, ds_task_known};
static const ds_cli_spec_checks_t SPEC_CHECKS = {ds_spec_check_names, ds_spec_check_whole};

/* `run` refuses what `validate` refuses, with the same message, before the store is touched. */
/* Phase 0 reads and parses the file once; phase 1 (after ds_spec_load) checks the same document
 * and releases it. */
static int run_spec_check(const char *path, int phase, char *err, size_t err_len) {
  static cJSON *root;
  if (!root) root = ds_cli_read_json(path);
  if (!root) return 0;
  int (*check)(const cJSON *, char *, size_t) = phase == 0 ? SPEC_CHECKS.names : SPEC_CHECKS.whole;
  char e[1024];
  int rc = check(root, e, sizeof e);
  if (rc) snprintf(err, err_len, "%s: %s", path, e);
  if (rc || phase == 1) {
    cJSON_Delete(root);
    root = NULL;
  }
  return rc;
}

static int local_trial(const ds_wire_trial_t *t, int thread_index, ds_result_t *res, void *arg) {
  const ds_worker_env_t *env = arg;
  return ds_worker_run_trial(t, env, res);
}

static void on_worker_signal(int sig) {
  (void)sig;
  ds_worker_cancel = 1;
}

/* The cores this process may use (its CPU affinity) divided among n workers, at least 1. */
static int cores_share(int n) {
  cpu_set_t set;
  int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  int share = n > 0 ? cores / n : cores;
  return share > 0 ? share : 1;
}

static int under_mpirun(void) {
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

/* This rank's number from the launcher's environment, before MPI_Init (−1 when unknown). */
static int env_rank(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return atoi(v);
  }
  return -1;
}

/* Ranks die with their launcher (mpirun, orted or slurmstepd).  After `kill -9 mpirun` Open MPI
 * leaves each rank in its own process group, running for up to a second and holding the database;
 * with PR_SET_PDEATHSIG the kernel signals them when the parent dies.  Workers hold nothing and
 * get SIGKILL; the coordinator gets SIGTERM, its graceful stop: it commits, records the run
 * interrupted and exits without calling MPI again (ds_coord_launcher_gone).  A parent that died
 * before the prctl is caught by comparing getppid() afterwards. */
static void die_with_launcher(pid_t launcher, int rank) {
  int sig = rank == 0 ? SIGTERM : SIGKILL;
  if (prctl(PR_SET_PDEATHSIG, sig) == 0 && getppid() != launcher) raise(sig);
}

/* Rank 0 failed before any work was handed out (bad spec, busy or broken store): the workers sit
 * in their loop waiting.  Send each STOP and collect the goodbyes (up to 5 s), so that the job
 * ends normally with the coordinator's exit code and one clear line, not MPI_Abort's banner. */
static void release_workers(int size) {
  ds_wbuf_t wb = {0};
  ds_wire_begin(&wb, DS_MSG_STOP);
  if (ds_wire_end(&wb)) return;
  for (int w = 1; w < size; w++) MPI_Send(wb.data, (int)wb.len, MPI_BYTE, w, DS_TAG_STOP, MPI_COMM_WORLD);
  ds_wbuf_free(&wb);
  struct timespec t0, now, nap = {0, 1000000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int byes = 0; byes < size - 1;) {
    int flag;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (flag) {
      int n;
      MPI_Get_count(&st, MPI_BYTE, &n);
      char *buf = malloc(n > 0 ? (size_t)n : 1);
      if (!buf) return;
      MPI_Recv(buf, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      free(buf);
      byes += st.MPI_TAG == DS_TAG_STOP;
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) > 5.0) break;
    nanosleep(&nap, NULL);
  }
}

/* ---- GPUs ----------------------------------------------------------------------------------
 * A worker rank binds one GPU: the (k mod n)-th of the n its process can see, k being its
 * node-local index among the worker ranks.  That index is the launcher's node-local rank
 * (SLURM_LOCALID under srun, OMPI_COMM_WORLD_LOCAL_RANK under mpirun; MPI's shared-memory split
 * under another launcher), less one on the coordinator's node for the ranks after it: the
 * coordinator binds no GPU, so that on its node workers 1..G take GPUs 0..G−1 rather than
 * leaving GPU 0 idle and doubling up on another.  "Can see" is CUDA's view: CUDA_VISIBLE_DEVICES
 * when set (by SLURM's --gpus-per-task or --gpu-bind, by the user), and then an exec trial gets
 * the entry itself (GPU 5 stays GPU 5, a UUID stays a UUID), not CUDA's number for it.
 * DIVSWEEP_FAKE_GPUS=N, read only when CUDA finds no device, pretends there are N (for tests of
 * the mapping on machines without GPUs: nothing is bound, kernels run on the CPU). */

enum { MAX_GPUS = 64 };

/* Fills ids with the GPUs this process can see, as CUDA_VISIBLE_DEVICES names them, and returns
 * how many (0: none).  *fake: they come from DIVSWEEP_FAKE_GPUS. */
static int visible_gpus(char ids[][64], int *fake) {
  int n = ds_kern_cuda_device_count();
  const char *fk = getenv("DIVSWEEP_FAKE_GPUS");
  *fake = n <= 0 && fk && atoi(fk) > 0;
  if (*fake) n = atoi(fk);
  if (n <= 0) return 0;
  if (n > MAX_GPUS) n = MAX_GPUS;
  const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
  if (!cvd) {
    for (int i = 0; i < n; i++) snprintf(ids[i], 64, "%d", i);
    return n;
  }
  /* As CUDA reads it: comma-separated indices, GPU-/MIG- UUIDs, up to the first entry that is
   * neither (SLURM writes "NoDevFiles" for a job without GPUs).  CUDA's own count already
   * reflects the list; a fake count is only an upper bound. */
  int k = 0;
  for (const char *p = cvd; *p && k < n;) {
    size_t len = strcspn(p, ",");
    int ok = len > 0 && len < 64 && (strspn(p, "0123456789") >= len || !strncmp(p, "GPU-", 4) || !strncmp(p, "MIG-", 4));
    if (!ok) break;
    snprintf(ids[k++], 64, "%.*s", (int)len, p);
    p += len + (p[len] == ',');
  }
  return k;
}

/* This rank's node-local rank as its launcher numbered it, or −1 when it does not say.  Under
 * mpirun inside a SLURM job SLURM_LOCALID is the local id of mpirun's daemon: mpirun first. */
static int launcher_local_rank(void) {
  const char *v = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  if (!v && getenv("SLURM_STEP_ID")) v = getenv("SLURM_LOCALID");
  return v && *v ? atoi(v) : -1;
}

/* This rank's node-local index among the worker ranks (*slot) and the worker ranks on its node
 * (*workers).  Collective over MPI_COMM_WORLD. */
static void node_slot(int rank, int *slot, int *workers) {
  MPI_Comm node;
  int nrank, nsize;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &nrank);
  MPI_Comm_size(node, &nsize);
  int local = launcher_local_rank();
  if (local < 0) local = nrank;
  int mine = rank == 0 ? local : INT_MAX, coord_local = INT_MAX;
  MPI_Allreduce(&mine, &coord_local, 1, MPI_INT, MPI_MIN, node);
  MPI_Comm_free(&node);
  int here = coord_local != INT_MAX;
  *slot = local - (here && coord_local < local);
  *workers = nsize - here > 0 ? nsize - here : 1;
}

static double unix_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_run(int argc, char **argv, int is_resume) {
  ds_run_opts_t o = {0};
  const char *deadline = NULL;
  o.spec_opts = &SPEC_OPTS;
  o.spec_check = run_spec_check;
  o.db_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--db") && i + 1 < argc) o.db_path = argv[++i];
    else if (!strcmp(a, "--fresh")) o.fresh = 1;
    else if (!strcmp(a, "--extend")) o.extend = 1;
    else if (!strcmp(a, "--retry-failed")) o.retry_failed = 1;
    else if (!strcmp(a, "--quiet")) o.quiet = 1;
    else if (!strcmp(a, "--threads") && i + 1 < argc) o.threads = atoi(argv[++i]);
    else if (!strcmp(a, "--depth") && i + 1 < argc) o.depth = atoi(argv[++i]);
    else if (!strcmp(a, "--campaign") && i + 1 < argc) o.campaign = argv[++i];
    else if (!strcmp(a, "--deadline") && i + 1 < argc) deadline = argv[++i];
    else if (a[0] != '-' && !o.spec_path && !is_resume) o.spec_path = a;
    else {
      fprintf(stderr, "divsweep %s: unexpected argument %s\n%s", argv[0], a, USAGE);
      return DS_EXIT_USAGE;
    }
  }
  if ((!is_resume && !o.spec_path) || (is_resume && !o.db_path) || (o.fresh && o.extend)) {
    fprintf(stderr, "%s", USAGE);
    return DS_EXIT_USAGE;
  }
  if (!o.db_path) o.db_path = "divsweep.db";
  if (deadline && strcmp(deadline, "none") && ds_launch_parse_deadline(deadline, unix_now(), &o.deadline)) {
    fprintf(stderr, "divsweep %s: --deadline %s: expected an ISO-8601 time (2026-12-02T15:00:00Z, +01:00 or local),"
            " +SECONDS, +HH:MM:SS or none\n", argv[0], deadline);
    return DS_EXIT_USAGE;
  }
  if (deadline) o.deadline_from = strcmp(deadline, "none") ? "--deadline" : NULL;

  int mpi = under_mpirun(), rank = 0, size = 1;
  /* In a SLURM job the job's end is the deadline unless --deadline says otherwise.  Asked once,
   * by the coordinator only, before MPI_Init (squeue is a child process; forking after
   * MPI_Init is what Open MPI warns about). */
  static char slurm_from[96];
  const char *job = getenv("SLURM_JOB_ID");
  if (!deadline && job && *job && env_rank() <= 0) {
    char why[256];
    int got = ds_launch_slurm_deadline(job, unix_now(), &o.deadline, why, sizeof why);
    if (got == 0) {
      snprintf(slurm_from, sizeof slurm_from, "the time limit of SLURM job %s", job);
      o.deadline_from = slurm_from;
    } else if (got < 0 && !o.quiet) {
      fprintf(stderr, "divsweep: SLURM job %s: %s; no deadline\n", job, why);
    }
  }
  pid_t launcher = mpi ? getppid() : 0;
  if (mpi) die_with_launcher(launcher, env_rank() > 0);
  /* Stop signals are handled from here to the end: MPI start-up, set-up and close-out included. */
  ds_coord_signals_install((int)launcher);
  if (mpi) {
    int provided;
    setenv("OMPI_MCA_mpi_warn_on_fork", "0", 0); /* isolation "process" forks trial children */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    if (provided < MPI_THREAD_SERIALIZED) {
      fprintf(stderr, "divsweep: the MPI library does not support MPI_THREAD_SERIALIZED\n");
      MPI_Abort(MPI_COMM_WORLD, DS_EXIT_STORE);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    die_with_launcher(launcher, rank);
  }
  ds_worker_env_t env = {.rank = rank, .threads = 1, .gpu = -1};
  gethostname(env.host, sizeof env.host - 1);
  /* One GPU per worker rank (DESIGN.md §9; "GPUs" above: visible_gpus, node_slot).  In local
   * mode the worker threads share the first visible GPU. */
  char gpu_ids[MAX_GPUS][64];
  int fake = 0, ngpu = visible_gpus(gpu_ids, &fake), local = 0, node_workers = 1;
  if (mpi) node_slot(rank, &local, &node_workers);
  if (ngpu > 0 && (rank > 0 || !mpi) && (fake || ds_kern_cuda_bind(local % ngpu) == 0)) {
    env.gpu = local % ngpu;
    snprintf(env.gpu_id, sizeof env.gpu_id, "%s", gpu_ids[env.gpu]);
  }
  char **gpus = NULL;
  char *gpu_all = NULL;
  char **hosts = NULL;
  if (mpi) {
    char *all = rank == 0 ? calloc((size_t)size, 64) : NULL;
    if (rank == 0) gpu_all = calloc((size_t)size, 64);
    MPI_Gather(env.host, 64, MPI_CHAR, all, 64, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(env.gpu_id, 64, MPI_CHAR, gpu_all, 64, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      hosts = calloc((size_t)size, sizeof *hosts);
      gpus = calloc((size_t)size, sizeof *gpus);
      for (int r = 0; r < size; r++) hosts[r] = all + 64 * r, gpus[r] = gpu_all + 64 * r;
    }
  } else if (env.gpu >= 0) {
    gpus = calloc(1, sizeof *gpus);
    if (gpus) gpus[0] = env.gpu_id;
  }
  int code;
  /* exec trials get OMP_NUM_THREADS from this rank's share of its node's cores. */
  if (mpi && rank > 0) env.core_share = cores_share(node_workers);
  if (rank > 0) {
    /* A worker's signals only cancel its trial; the coordinator decides when the job ends.  A
     * worker writes nothing a lost reader should stop: EPIPE, not SIGPIPE. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_worker_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    MPI_Comm comm = MPI_COMM_WORLD;
    code = ds_worker_main(&comm, &env) ? DS_EXIT_STORE : 0;
  } else {
    MPI_Comm comm = MPI_COMM_WORLD;
    o.mpi_comm = mpi && size > 1 ? (void *)&comm : NULL;
    o.mpi_size = size;
    o.hosts = hosts;
    o.gpus = gpus;
    o.local_fn = local_trial;
    o.local_arg = &env;
    o.local_cancel = &ds_worker_cancel;
    if (!mpi && o.threads <= 0) o.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (!mpi) env.core_share = cores_share(o.threads > 0 ? o.threads : 1);
    int abandoned = 0;
    code = ds_coord_run(&o, &abandoned);
    if (mpi && ds_coord_launcher_gone()) {
      /* The launcher died and the workers with it: everything is committed; MPI would hang. */
      fflush(NULL);
      _exit(code);
    }
    if (abandoned < 0) { /* failed before any work was handed out */
      if (mpi && size > 1) release_workers(size);
      abandoned = 0;
    }
    if (abandoned) {
      /* Some worker did not stop in time: everything is committed, so end the job hard. */
      fflush(NULL);
      if (mpi) MPI_Abort(MPI_COMM_WORLD, code);
      _exit(code);
    }
  }
  if (hosts) {
    free(hosts[0]);
    free(hosts);
  }
  free(gpus);
  free(gpu_all);
  if (mpi) {
    /* Workers that rank 0 never started were released above (release_workers). */
    int my = code, worst = 0;
    MPI_Reduce(&my, &worst, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    /* mpirun treats the first non-zero exit as a failed job and tears the others down with a
     * ~2 s grace period; letting the workers (exit 0) leave first makes a resumable stop
     * (exit 3) or a campaign with failed trials (exit 4) end promptly. */
    if (rank == 0 && code != 0) usleep(150000);
  }
  return code;
}

/* ---- help: `divsweep help [TOPIC]`, `--help` anywhere ----------------------------------------
 * Everything the binary says about itself is here.  Task parameter and metric tables come from
 * worker/params.c, the same rows the validator checks against; docs/tasks.md and
 * docs/divergences.md hold this output verbatim (tests/test_doc_help.sh). */

static const char *HELP_TOPICS =
    "Help topics:\n"
    "  divsweep help TASK          parameters and metrics of a task (noop, distill, rlvr, fdpo, logits, exec)\n"
    "  divsweep help divergences   every divergence, its parameters and its exact formula\n"
    "  divsweep COMMAND --help     that command's usage\n"
    "The default database is ./divsweep.db (the working directory) when --db is not given.\n"
    "Reference: docs/README.md in the source tree.\n";

static int cmd_help(const char *topic) {
  if (!topic) {
    fputs(USAGE, stdout);
    fputs(HELP_TOPICS, stdout);
    return 0;
  }
  if (!strcmp(topic, "divergences")) {
    ds_params_print_divergences(stdout);
    return 0;
  }
  if (ds_params_print_task(stdout, topic) == 0) return 0;
  /* `divsweep help run` is `divsweep run --help`. */
  static const char *cmds[] = {"run", "resume", "validate", "status", "pareto", "query", "report", "repair", "kernel", "bench", NULL};
  for (int i = 0; cmds[i]; i++)
    if (!strcmp(topic, cmds[i])) {
      fputs(USAGE, stdout);
      return 0;
    }
  const char *names[] = {"divergences", "noop", "distill", "rlvr", "fdpo", "logits", "exec", NULL};
  const char *near = ds_params_suggest(topic, names, NULL);
  fprintf(stderr, "divsweep help: unknown topic \"%s\"%s%s%s\n%s", topic, near ? "; did you mean \"" : "",
          near ? near : "", near ? "\"?" : "", HELP_TOPICS);
  return DS_EXIT_USAGE;
}

/* Returns an exit code when argv asks for help (no command, `help`, or -h/--help after any
 * command), else −1.  A "--help" that is an option's value (`query --db F "--help"`) is rare
 * enough to be taken as a request for help. */
static int help_requested(int argc, char **argv) {
  if (argc < 2) {
    fputs(USAGE, stderr);
    fputs(HELP_TOPICS, stderr);
    return DS_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "help")) return cmd_help(argc > 2 ? argv[2] : NULL);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(USAGE, stdout);
      fputs(HELP_TOPICS, stdout);
      return 0;
    }
  return -1;
}

int main(int argc, char **argv) {
  int help = help_requested(argc, argv);
  if (help >= 0) return help;
  if (!strcmp(argv[1], "--version")) {
    printf("divsweep %s\n", DS_VERSION);
    return 0;
  }
  const char *cmd = argv[1];
  argc--;
  argv++;
  if (!strcmp(cmd, "run")) return cmd_run(argc, argv, 0);
  if (!strcmp(cmd, "resume")) return cmd_run(argc, argv, 1);
  if (!strcmp(cmd, "validate")) return ds_cli_validate(argc, argv, &SPEC_OPTS, &SPEC_CHECKS);
  if (!strcmp(cmd, "status")) return ds_cli_status(argc, argv);
  if (!strcmp(cmd, "query")) return ds_cli_query(argc, argv);
  if (!strcmp(cmd, "logs")) return ds_cli_logs(argc, argv);
  if (!strcmp(cmd, "kernel")) return ds_cli_kernel(argc, argv);
  if (!strcmp(cmd, "bench")) {
    if (argc < 2 || strcmp(argv[1], "kernels")) {
      fprintf(stderr, "divsweep bench: expected `divsweep bench kernels [...]` (scheduler benchmarks: tests/bench/)\n");
      return DS_EXIT_USAGE;
    }
    return ds_cli_bench_kernels(argc, argv);
  }
  if (!strcmp(cmd, "pareto")) return ds_cli_pareto(argc, argv);
  if (!strcmp(cmd, "report")) return ds_cli_report(argc, argv);
  if (!strcmp(cmd, "repair")) return ds_cli_repair(argc, argv);
  fprintf(stderr, "divsweep: unknown command '%s'\n%s", cmd, USAGE);
  return DS_EXIT_USAGE;
}
