/* coord.c — running a campaign: set-up and resume, the dispatcher thread, the store-writing libuv
 * loop, signals and the progress line.
 *
 * Threads and what they own:
 *   - dispatcher (one pthread): the trial generator (next index, retry queue, a window of the
 *     resume bitmap read through its own read-only connection), the in-flight rings and every MPI
 *     call between MPI_Init and MPI_Finalize (or the in-process worker queues).
 *   - loop (the caller's thread, libuv): the store.  Finished trials reach it as batches — the
 *     RESULT messages as received plus one small item per trial pointing into them, so no result
 *     is copied or decoded into the heap — through a mutex-held swap and a uv_async wake-up; a
 *     200 ms timer commits, refreshes the view and the progress line.  It acts on stop signals
 *     (message, commit, the run recorded interrupted); the handlers themselves only set flags
 *     (see "stop signals" below), which the dispatcher polls too.
 * The deadline guard (o->deadline) lives in the dispatcher: fill() gives a worker only the trials
 * that would end before the deadline (dl_room), and the loop ends the run when none fits.
 * Each trial is regenerated from its index on the writer side (string concatenation + hash), so
 * nothing per trial but the result crosses threads.
 *
 * Throughput (DESIGN.md §8: 10⁵ trivial trials/s with 3 ranks on 2 cores) rests on: trials sent
 * in messages of up to ~28 KB (below Open MPI's 32 KiB first fragment, so a worker's receive never
 * waits for this rank's progress) with MPI_Isend, so the dispatcher never blocks on a busy worker;
 * up to DEPTH_MAX trials in flight per worker (about 50 ms of work); results batched by workers;
 * waiting by short sleeps, never by spinning, so the writer keeps its core; and the store's
 * append-only writes (store.c).
 *
 * Invariants: a trial index is dispatched at most once at a time; a result is written only if its
 * (idx, attempt) is in flight; finished trials are never dispatched again; a trial has a row in
 * the store before its final write only if this run wrote it `running` (has_row), because set-up
 * deletes unfinished rows.  Workers run trials in the order sent, so results come back in order
 * and the in-flight table is a FIFO ring per worker.
 */
#include <errno.h>
#include <poll.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>
#include <uv.h>

#include "ds_coord.h"
#include "ds_error.h"
#include "ds_fronts.h"
#include "ds_launch.h"
#include "ds_store.h"
#include "ds_trial_dir.h"

#define DEPTH_MAX 4096        /* trials in flight per worker, at most */
#define MSG_BYTES 28000       /* a TRIAL message stops growing past this many bytes */
#define MAX_SENDS 32          /* unfinished MPI_Isend per worker */
#define WINDOW (1 << 20)      /* trial indices per window of the resume bitmap (128 KiB) */
#define NOTICE_S 1.0          /* a trial running this long is written `running` */
#define BACKLOG_MAX 65536     /* results received but not yet written: dispatching pauses above */
#define WRITE_CHUNK 4096      /* results written per turn of the loop (~30 ms), so commits keep time */
/* The deadline guard judges a trial by the longest of the last DL_RECENT trial times: a high
 * quantile, not the mean (the EWMA), because one trial that overruns costs the whole interrupted
 * attempt.  DL_MARGIN_S is kept free before the deadline for the last commit and close-out (a
 * commit comes every 200 ms and takes milliseconds; close-out of 10^6 trials, about 0.5 s). */
#define DL_RECENT 64
#define DL_MARGIN_S 1.0

/* One finished trial (or a running notice) on its way to the writer. */
typedef struct item {
  const uint8_t *rec;   /* its RESULT record, inside a buffer of the same batch; NULL for a notice */
  uint32_t rec_len;
  int32_t status;
  int64_t idx;
  int rank;
  uint32_t attempts;
  uint8_t running_notice, has_row;
  double started_at, finished_at; /* Unix times */
} item_t;

/* Items plus the message buffers they point into; moved between threads as a whole. */
typedef struct batch {
  item_t *v;
  size_t n, cap;
  uint8_t **bufs;
  size_t nb, capb;
} batch_t;

typedef struct slot {
  int64_t idx;
  uint32_t attempt;
  uint8_t has_row, noticed;
} slot_t;

typedef struct wstate {
  slot_t *ring;          /* FIFO of in-flight trials, in the order sent */
  size_t head, n, cap;   /* cap is a power of two */
  double busy_since;     /* monotonic time the head trial started (about) */
  int alive;
  MPI_Request req[MAX_SENDS];
  uint8_t *sbuf[MAX_SENDS];
  int nsend;
} wstate_t;

typedef struct retry {
  int64_t idx;
  uint32_t attempt;
  uint8_t has_row;
} retry_t;

/* In-process transport for single-rank mode. */
typedef struct lqueue {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint8_t **msg;
  size_t *len;
  int *from;
  size_t head, tail, cap;
} lqueue_t;

typedef struct coord coord_t;

typedef struct lworker {
  coord_t *c;
  int index;
  pthread_t th;
  lqueue_t in;
} lworker_t;

struct coord {
  const ds_run_opts_t *o;
  ds_spec_t *spec;
  ds_store_t *store;
  ds_store_t *reader;      /* the dispatcher's read-only connection (resume bitmap windows) */
  ds_fronts_t *fronts;
  int fronts_opened;       /* writer: ds_fronts_open() has run (lazily, see ensure_fronts) */
  int64_t campaign_id, run_id;
  char run_dir[4096];      /* exec campaigns: where trial directories go (ds_trial_dir.h); else "" */
  char objectives[1024];   /* exec campaigns: objective names the program must report, "a,b"; else "" */
  int64_t base_done, base_failed;
  int64_t *prior_idx;      /* --retry-failed: re-queued trials (sorted) and their earlier attempts */
  uint32_t *prior_attempts;
  size_t n_prior;

  /* dispatcher state */
  int n_workers;           /* worker ids 1..n_workers */
  wstate_t *ws;
  int64_t next_idx;
  uint8_t *win;            /* finished bits of [win_lo, win_hi) */
  int64_t win_lo, win_hi;
  retry_t *retry;
  size_t retry_head, retry_tail, retry_cap;
  double ewma_trial_s;
  double dl_recent[DL_RECENT]; /* the deadline guard's last trial times (wall_s), a ring */
  int dl_n, dl_pos;
  int deadline_hit;        /* the guard stopped dispatching (or stopped the trials at the deadline) */
  double deadline_est;     /* the trial time it judged by when it did (−1: none known) */
  double dispatcher_cpu_s;  /* CPU time the dispatcher thread used (for the summary) */
  double first_dispatch;    /* monotonic time the first trial was sent (0: none yet) */
  int depth, msg_max;
  int paused;              /* fill() held trials back (flow control), so "nothing sent" is not "done" */
  ds_wbuf_t wb;
  lworker_t *lw;
  lqueue_t out;            /* local mode: results from worker threads */

  /* shared */
  pthread_mutex_t mu;
  batch_t shared;
  int dispatcher_done;
  int abandoned;
  atomic_int stop;         /* 1: graceful stop requested */
  atomic_llong inflight;
  atomic_llong backlog;    /* items published to the writer and not yet written */
  uv_async_t async;
  uv_loop_t *loop;

  /* writer state */
  uv_timer_t timer;
  int signal_noted;        /* the loop has acted on a stop signal (message, early record) */
  batch_t work;
  size_t work_pos;         /* items of work already written */
  ds_trial_t trial;
  int64_t done_run, failed_run; /* committed by this run */
  int64_t txn_done, txn_failed; /* written in the open transaction */
  char **metric_names;
  size_t n_metric_names;
  int view_dirty;
  int store_error;
  double t_start, last_progress;
  int64_t last_count;
  double rate;
  int tty;
};

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(long ns) {
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

/* ---- stop signals ----------------------------------------------------------------------
 * SIGINT, SIGTERM and SIGHUP ask for a graceful stop; SIGPIPE does too when it means that stderr
 * (or stdout) has lost its reader.  The handlers are plain sigaction handlers installed once, at
 * the start of `run`/`resume`, and stay until the process exits: set-up, the run and close-out are
 * all covered (libuv's signal handles, used before, were closed with the loop, so a signal during
 * close-out killed the process).  A handler only stores flags, interrupts a set-up statement
 * (sqlite3_interrupt, as SQLite's own shell does from its SIGINT handler) and, on the second
 * signal (not counting those the launcher sends), leaves with _exit(3); it never writes: stderr
 * may be a dead pipe or a full one.  The
 * dispatcher and the loop poll the flags (every ~0.5 ms and 200 ms). */

static volatile sig_atomic_t g_stop_sig;    /* the first stop signal, 0 while none */
static volatile sig_atomic_t g_stop_count;  /* stop signals so far (SIGPIPE not counted) */
static volatile sig_atomic_t g_out_dead;    /* stderr or stdout lost its reader */
static sqlite3 *volatile g_setup_db;        /* set-up's connection, interrupted by a signal */
static pid_t g_launcher;                    /* parent at start under mpirun/srun (0: none) */

static int stream_dead(int fd) {
  struct pollfd p = {fd, POLLOUT, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static void on_stop_signal(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  int saved = errno;
  if (sig == SIGPIPE) {
    /* A write to a pipe without reader.  Only a dead stderr/stdout stops the run (the user's
     * terminal or log pipe is gone); any other pipe's writer sees EPIPE and handles it. */
    if (!(stream_dead(2) || stream_dead(1))) {
      errno = saved;
      return;
    }
    g_out_dead = 1;
    if (g_stop_sig) {
      errno = saved;
      return;
    }
  } else if (g_stop_sig && g_launcher > 0 && si && si->si_pid == g_launcher) {
    /* Never a second signal when it comes from the launcher: mpirun follows its SIGTERM with
     * SIGKILL on its own schedule, and PR_SET_PDEATHSIG fires once per exiting thread of a dying
     * launcher (with the launcher's pid), so its repeats are one event. */
    errno = saved;
    return;
  } else if (g_stop_count++ >= 1) {
    _exit(DS_EXIT_INTERRUPTED); /* second signal: committed results are safe */
  }
  if (!g_stop_sig) g_stop_sig = sig;
  sqlite3 *db = g_setup_db;
  if (db) sqlite3_interrupt(db);
  errno = saved;
}

void ds_coord_signals_install(int launcher_pid) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);
  g_launcher = (pid_t)launcher_pid;
}

int ds_coord_stop_signal(void) { return g_stop_sig; }

int ds_coord_launcher_gone(void) { return g_launcher > 0 && getppid() != g_launcher; }

static int batch_item(batch_t *b, const item_t *it) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 1024;
    item_t *p = realloc(b->v, cap * sizeof *p);
    if (!p) return DS_ENOMEM;
    b->v = p;
    b->cap = cap;
  }
  b->v[b->n++] = *it;
  return 0;
}

static int batch_buf(batch_t *b, uint8_t *buf) {
  if (b->nb == b->capb) {
    size_t cap = b->capb ? 2 * b->capb : 64;
    uint8_t **p = realloc(b->bufs, cap * sizeof *p);
    if (!p) return DS_ENOMEM;
    b->bufs = p;
    b->capb = cap;
  }
  b->bufs[b->nb++] = buf;
  return 0;
}

static void batch_clear(batch_t *b) {
  for (size_t i = 0; i < b->nb; i++) free(b->bufs[i]);
  b->n = b->nb = 0;
}

static void batch_free(batch_t *b) {
  batch_clear(b);
  free(b->v);
  free(b->bufs);
  memset(b, 0, sizeof *b);
}

/* ---- local transport ------------------------------------------------------------------- */

static void lq_init(lqueue_t *q) {
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
}

static void lq_push(lqueue_t *q, uint8_t *msg, size_t len, int from) {
  pthread_mutex_lock(&q->mu);
  if (q->tail == q->cap) {
    if (q->head) {
      memmove(q->msg, q->msg + q->head, (q->tail - q->head) * sizeof *q->msg);
      memmove(q->len, q->len + q->head, (q->tail - q->head) * sizeof *q->len);
      memmove(q->from, q->from + q->head, (q->tail - q->head) * sizeof *q->from);
      q->tail -= q->head;
      q->head = 0;
    } else {
      size_t cap = q->cap ? 2 * q->cap : 64;
      q->msg = realloc(q->msg, cap * sizeof *q->msg);
      q->len = realloc(q->len, cap * sizeof *q->len);
      q->from = realloc(q->from, cap * sizeof *q->from);
      if (!q->msg || !q->len || !q->from) abort(); /* unrecoverable: cannot even queue a result */
      q->cap = cap;
    }
  }
  q->msg[q->tail] = msg;
  q->len[q->tail] = len;
  q->from[q->tail++] = from;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* Pops one message, waiting up to timeout_s (0: no wait).  Returns 1 when a message was popped. */
static int lq_pop(lqueue_t *q, uint8_t **msg, size_t *len, int *from, double timeout_s) {
  pthread_mutex_lock(&q->mu);
  if (q->head == q->tail && timeout_s > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec + timeout_s;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (q->head == q->tail)
      if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT) break;
  }
  int got = q->head < q->tail;
  if (got) {
    *msg = q->msg[q->head];
    *len = q->len[q->head];
    *from = q->from[q->head++];
  }
  pthread_mutex_unlock(&q->mu);
  return got;
}

static void *lworker_main(void *arg) {
  lworker_t *w = arg;
  ds_result_t res = {0};
  ds_wbuf_t out = {0};
  for (;;) {
    uint8_t *msg;
    size_t len;
    int from;
    if (!lq_pop(&w->in, &msg, &len, &from, 3600)) continue;
    ds_rbuf_t rd;
    if (ds_wire_open(&rd, msg, len) || rd.type == DS_MSG_STOP) {
      free(msg);
      break;
    }
    ds_wire_begin(&out, DS_MSG_RESULT);
    ds_wire_trial_t t;
    for (uint32_t i = 0; i < rd.count && ds_wire_get_trial(&rd, &t) == 0; i++) {
      if (atomic_load(&w->c->stop)) break; /* abandoned: the coordinator re-runs them next time */
      w->c->o->local_fn(&t, w->index, &res, w->c->o->local_arg);
      if (res.status == DS_EINTR) continue;
      ds_wire_put_result(&out, &res);
    }
    free(msg);
    if (ds_wire_end(&out) == 0) {
      uint8_t *copy = malloc(out.len);
      if (copy) {
        memcpy(copy, out.data, out.len);
        lq_push(&w->c->out, copy, out.len, w->index + 1);
      }
    }
  }
  /* goodbye */
  uint8_t *bye = malloc(16);
  ds_wire_begin(&out, DS_MSG_STOP);
  ds_wire_end(&out);
  memcpy(bye, out.data, out.len);
  lq_push(&w->c->out, bye, out.len, w->index + 1);
  ds_result_free(&res);
  ds_wbuf_free(&out);
  return NULL;
}

/* Completes what it can of worker w's outstanding sends (MPI) and frees their buffers. */
static void reap_sends(coord_t *c, int w) {
  wstate_t *ws = &c->ws[w];
  for (int i = 0; i < ws->nsend;) {
    int done = 0;
    MPI_Test(&ws->req[i], &done, MPI_STATUS_IGNORE);
    if (!done) {
      i++;
      continue;
    }
    free(ws->sbuf[i]);
    ws->req[i] = ws->req[ws->nsend - 1];
    ws->sbuf[i] = ws->sbuf[--ws->nsend];
  }
}

/* Sends the message in c->wb to worker w without waiting for it to be received. */
static int tsend(coord_t *c, int w, int tag) {
  uint8_t *copy = malloc(c->wb.len);
  if (!copy) return DS_ENOMEM;
  memcpy(copy, c->wb.data, c->wb.len);
  if (!c->o->mpi_comm) {
    lq_push(&c->lw[w - 1].in, copy, c->wb.len, 0);
    return 0;
  }
  wstate_t *ws = &c->ws[w];
  /* fill() checks first; only STOP can get here.  A worker that never receives again (dead)
   * must not hold the stop up: give up on it after a second. */
  for (double until = mono() + 1.0; ws->nsend == MAX_SENDS;) {
    reap_sends(c, w);
    if (ws->nsend < MAX_SENDS) break;
    if (mono() > until || ds_coord_launcher_gone()) {
      free(copy);
      return DS_EIO;
    }
    nap(50000);
  }
  if (MPI_Isend(copy, (int)c->wb.len, MPI_BYTE, w, tag, *(MPI_Comm *)c->o->mpi_comm, &ws->req[ws->nsend]) !=
      MPI_SUCCESS) {
    free(copy);
    return DS_EIO;
  }
  ws->sbuf[ws->nsend++] = copy;
  return 0;
}

/* Receives one message from any worker, waiting up to timeout_s.  Returns 1 if one arrived. */
static int trecv(coord_t *c, int *from, int *tag, uint8_t **buf, size_t *len, double timeout_s) {
  if (!c->o->mpi_comm) {
    int got = lq_pop(&c->out, buf, len, from, timeout_s);
    if (got) {
      ds_rbuf_t rd;
      *tag = ds_wire_open(&rd, *buf, *len) == 0 && rd.type == DS_MSG_STOP ? DS_TAG_STOP : DS_TAG_RESULT;
    }
    return got;
  }
  MPI_Comm comm = *(MPI_Comm *)c->o->mpi_comm;
  double end = timeout_s > 0 ? mono() + timeout_s : 0;
  long ns = 20000;
  for (;;) {
    int flag;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &st);
    if (flag) {
      int n;
      MPI_Get_count(&st, MPI_BYTE, &n);
      *buf = malloc(n > 0 ? (size_t)n : 1);
      if (!*buf) return 0;
      MPI_Recv(*buf, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
      *len = (size_t)n;
      *from = st.MPI_SOURCE;
      *tag = st.MPI_TAG;
      return 1;
    }
    if (timeout_s <= 0 || mono() >= end) return 0;
    /* Sleeping (not spinning) while waiting keeps the coordinator's core for the store writer. */
    nap(ns);
    if (ns < 500000) ns *= 2;
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Attempts a trial re-queued by --retry-failed had before this run (0 for any other trial). */
static uint32_t prior_attempts(const coord_t *c, int64_t idx) {
  if (!c->n_prior) return 0;
  const int64_t *at = bsearch(&idx, c->prior_idx, c->n_prior, sizeof *c->prior_idx, cmp_i64);
  return at ? c->prior_attempts[at - c->prior_idx] : 0;
}

/* ---- dispatcher ------------------------------------------------------------------------ */

/* Reads the finished bits of the window holding idx (windows only move forward). */
static int load_window(coord_t *c, int64_t idx) {
  c->win_lo = idx;
  c->win_hi = idx + WINDOW < c->spec->n_trials ? idx + WINDOW : c->spec->n_trials;
  memset(c->win, 0, WINDOW / 8);
  if (c->base_done + c->base_failed == 0) return 0; /* nothing finished before this run */
  int rc = ds_store_load_finished_range(c->reader, c->campaign_id, c->win_lo, c->win_hi, c->win);
  if (rc) fprintf(stderr, "\ndivsweep: %s\n", ds_store_errmsg(c->reader));
  return rc;
}

static int next_trial(coord_t *c, retry_t *r) {
  if (c->retry_head < c->retry_tail) {
    *r = c->retry[c->retry_head++];
    return 1;
  }
  for (; c->next_idx < c->spec->n_trials; c->next_idx++) {
    if (c->next_idx >= c->win_hi && load_window(c, c->next_idx)) return -1;
    int64_t i = c->next_idx - c->win_lo;
    if (!((c->win[i >> 3] >> (i & 7)) & 1)) break;
  }
  if (c->next_idx >= c->spec->n_trials) return 0;
  r->idx = c->next_idx++;
  /* A trial re-queued by --retry-failed goes on counting its attempts (the worker sees them, so
   * fault draws and DIVSWEEP_ATTEMPT differ from the failed ones). */
  r->attempt = 1 + prior_attempts(c, r->idx);
  r->has_row = 0;
  return 1;
}

static void retry_push(coord_t *c, int64_t idx, uint32_t attempt, int has_row) {
  if (c->retry_tail == c->retry_cap) {
    if (c->retry_head) {
      memmove(c->retry, c->retry + c->retry_head, (c->retry_tail - c->retry_head) * sizeof *c->retry);
      c->retry_tail -= c->retry_head;
      c->retry_head = 0;
    } else {
      c->retry_cap = c->retry_cap ? 2 * c->retry_cap : 64;
      c->retry = realloc(c->retry, c->retry_cap * sizeof *c->retry);
      if (!c->retry) abort(); /* unrecoverable: bounded by trials in flight, tiny */
    }
  }
  c->retry[c->retry_tail++] = (retry_t){idx, attempt, (uint8_t)has_row};
}

static int ring_push(wstate_t *ws, const slot_t *s) {
  if (ws->n == ws->cap) {
    size_t cap = ws->cap ? 2 * ws->cap : 64;
    slot_t *r = malloc(cap * sizeof *r);
    if (!r) return DS_ENOMEM;
    for (size_t i = 0; i < ws->n; i++) r[i] = ws->ring[(ws->head + i) & (ws->cap - 1)];
    free(ws->ring);
    ws->ring = r;
    ws->head = 0;
    ws->cap = cap;
  }
  ws->ring[(ws->head + ws->n++) & (ws->cap - 1)] = *s;
  return 0;
}

/* Removes and returns the slot of (idx, attempt): the head, since workers answer in order. */
static int ring_take(wstate_t *ws, int64_t idx, uint32_t attempt, slot_t *out) {
  for (size_t k = 0; k < ws->n; k++) {
    slot_t *s = &ws->ring[(ws->head + k) & (ws->cap - 1)];
    if (s->idx != idx || s->attempt != attempt) continue;
    *out = *s;
    for (size_t j = k; j > 0; j--) /* close the gap (k is 0 unless a worker reordered) */
      ws->ring[(ws->head + j) & (ws->cap - 1)] = ws->ring[(ws->head + j - 1) & (ws->cap - 1)];
    ws->head = (ws->head + 1) & (ws->cap - 1);
    ws->n--;
    return 1;
  }
  return 0;
}

/* ---- the deadline guard ------------------------------------------------------------------ */

static void dl_note(coord_t *c, double wall_s) {
  c->dl_recent[c->dl_pos] = wall_s;
  c->dl_pos = (c->dl_pos + 1) % DL_RECENT;
  if (c->dl_n < DL_RECENT) c->dl_n++;
}

/* How long the next trial may take: the longest recent one, −1 while none is known. */
static double dl_estimate(const coord_t *c) {
  double m = -1;
  for (int i = 0; i < c->dl_n; i++)
    if (c->dl_recent[i] > m) m = c->dl_recent[i];
  return m;
}

/* How many more trials worker w may be given before the deadline (INT_MAX without one).  A
 * worker runs its trials one after another, so the k-th new one ends about (n + k) trial times
 * from now, the one running counted whole.  Before any trial time is known, one trial per idle
 * worker: the first results give the estimate.  When an idle worker cannot fit a single trial,
 * no worker can from now on: dispatching ends (deadline_hit). */
static int dl_room(coord_t *c, const wstate_t *ws) {
  if (c->o->deadline <= 0) return INT_MAX;
  if (c->deadline_hit) return 0;
  double est = dl_estimate(c), left = c->o->deadline - DL_MARGIN_S - wall();
  double fit = left <= 0 ? 0 : est < 0 ? (ws->n == 0) : floor(left / est) - (double)ws->n;
  if (fit >= 1) return fit > INT_MAX ? INT_MAX : (int)fit;
  if (ws->n == 0 && (est >= 0 || left <= 0)) {
    c->deadline_hit = 1;
    c->deadline_est = est;
  }
  return 0;
}

/* Tops worker w up towards the current depth, in messages of up to msg_max trials. */
static int fill(coord_t *c, int w, ds_trial_t *t) {
  wstate_t *ws = &c->ws[w];
  if (!ws->alive || atomic_load(&c->stop)) return 0;
  if (c->o->mpi_comm) reap_sends(c, w);
  /* Flow control: never run ahead of the store.  Without it a writer slower than the workers
   * collects an ever larger backlog (memory that grows with the campaign, commits ever further
   * apart); with it the workers simply wait. */
  if (atomic_load(&c->backlog) > BACKLOG_MAX) {
    c->paused = 1;
    return 0;
  }
  const ds_trial_opts_t *to = &c->spec->trial;
  uint8_t device = ds_wire_device_code(to->device);
  for (;;) {
    int want = c->depth - (int)ws->n, room = dl_room(c, ws);
    if (want > room) want = room;
    /* Whole messages only (unless the worker is idle): fewer, fuller messages. */
    if (ws->nsend == MAX_SENDS) c->paused = 1;
    if (want <= 0 || (want < c->msg_max && ws->n > 0) || ws->nsend == MAX_SENDS) return 0;
    if (want > c->msg_max) want = c->msg_max;
    if (ws->n == 0) ws->busy_since = mono();
    ds_wire_begin(&c->wb, DS_MSG_TRIAL);
    for (int k = 0; k < want && c->wb.len < MSG_BYTES; k++) {
      retry_t r;
      int got = next_trial(c, &r);
      if (got < 0) return DS_ESTORE;
      if (!got) break;
      int rc = ds_spec_trial(c->spec, r.idx, t);
      if (rc) return rc;
      ds_wire_trial_t wt = {
          .idx = r.idx,
          .attempt = r.attempt,
          .rng_seed = t->rng_seed,
          .timeout_s = to->timeout_s,
          .isolation = (uint8_t)to->isolation_process,
          .device = device,
          .task = c->spec->task,
          .task_len = strlen(c->spec->task),
          .params = t->params_json,
          .params_len = t->params_len,
          .kill_grace_s = to->kill_grace_s,
          .run_dir = c->run_dir,
          .run_dir_len = strlen(c->run_dir),
          .objectives = c->objectives,
          .objectives_len = strlen(c->objectives),
      };
      memcpy(wt.key, t->key, sizeof wt.key);
      wt.backend = ds_wire_backend_code(to->backend), wt.threads = (uint32_t)to->threads;
      ds_wire_put_trial(&c->wb, &wt);
      slot_t s = {r.idx, r.attempt, r.has_row, 0};
      if ((rc = ring_push(ws, &s))) return rc;
    }
    if (c->wb.count == 0) return 0;
    atomic_fetch_add(&c->inflight, c->wb.count);
    if (c->first_dispatch == 0) c->first_dispatch = mono();
    int rc = ds_wire_end(&c->wb);
    if (!rc) rc = tsend(c, w, DS_TAG_TRIAL);
    if (rc) return rc;
  }
}

static void publish(coord_t *c, batch_t *local) {
  if (local->n == 0 && local->nb == 0) return;
  atomic_fetch_add(&c->backlog, (long long)local->n);
  pthread_mutex_lock(&c->mu);
  if (c->shared.n == 0 && c->shared.nb == 0) {
    batch_t tmp = c->shared;
    c->shared = *local;
    *local = tmp;
  } else {
    int rc = 0;
    for (size_t i = 0; i < local->n && !rc; i++) rc = batch_item(&c->shared, &local->v[i]);
    for (size_t i = 0; i < local->nb && !rc; i++) rc = batch_buf(&c->shared, local->bufs[i]);
    if (rc) abort(); /* unrecoverable: results would be lost silently */
    local->n = local->nb = 0;
  }
  pthread_mutex_unlock(&c->mu);
  uv_async_send(&c->async);
}

/* Handles one RESULT message from worker w (buf, owned: it joins the batch): results go to the
 * writer or the retry queue. */
static int on_results(coord_t *c, int w, uint8_t *buf, ds_rbuf_t *rd, batch_t *local) {
  wstate_t *ws = &c->ws[w];
  int rc = batch_buf(local, buf);
  if (rc) {
    free(buf);
    return rc;
  }
  double now_wall = wall();
  for (uint32_t i = 0; i < rd->count; i++) {
    size_t at = rd->pos;
    ds_wire_result_view_t v;
    if ((rc = ds_wire_get_result_view(rd, &v))) return rc;
    slot_t s;
    if (!ring_take(ws, v.idx, v.attempt, &s)) continue; /* not ours (should not happen): never write twice */
    ws->busy_since = mono();
    atomic_fetch_sub(&c->inflight, 1);
    c->ewma_trial_s = c->ewma_trial_s < 0 ? v.wall_s : 0.95 * c->ewma_trial_s + 0.05 * v.wall_s;
    if (v.status != DS_EINTR) dl_note(c, v.wall_s);
    int has_row = s.has_row || s.noticed;
    if (v.status == DS_EINTR) { /* interrupted, not failed: re-run later */
      retry_push(c, s.idx, s.attempt, has_row);
      /* A worker is only interrupted when its rank got SIGINT/SIGTERM (a batch system signals
       * every task, and this rank may simply not have seen it yet): stop the whole campaign
       * gracefully rather than feed that rank trials it would keep abandoning. */
      if (!atomic_exchange(&c->stop, 1) && !c->o->quiet)
        fprintf(stderr, "\ndivsweep: worker rank %d was interrupted; stopping (resume with the same command)\n", w);
      continue;
    }
    if (v.status != 0 && (int)(s.attempt - prior_attempts(c, s.idx)) <= c->spec->trial.retries &&
        !atomic_load(&c->stop)) {
      retry_push(c, s.idx, s.attempt + 1, has_row);
      continue;
    }
    item_t it = {
        .rec = rd->data + at,
        .rec_len = (uint32_t)(rd->pos - at),
        .status = v.status,
        .idx = v.idx,
        .rank = w,
        .attempts = s.attempt,
        .has_row = (uint8_t)has_row,
        .started_at = now_wall - v.wall_s,
        .finished_at = now_wall,
    };
    if ((rc = batch_item(local, &it))) return rc;
  }
  return 0;
}

static void adapt_depth(coord_t *c) {
  if (c->o->depth > 0) return;
  /* About 50 ms of work in flight per worker, so that a worker never waits for this thread's
   * next wake-up; at least 2 (one running, one queued).  exec trials (seconds to hours each) go
   * one at a time until they prove short: a queued one would wait behind a long one while another
   * worker idles. */
  int lo = c->run_dir[0] ? 1 : 2;
  int d = c->ewma_trial_s > 0 ? (int)(0.05 / c->ewma_trial_s) + 1 : lo;
  c->depth = d < lo ? lo : d > DEPTH_MAX ? DEPTH_MAX : d;
  c->msg_max = c->depth / 4 > 1 ? c->depth / 4 : 1;
}

/* Only a worker's head trial is running (the others wait in its queue). */
static int notice_running(coord_t *c, batch_t *local) {
  double now = mono(), now_wall = wall();
  for (int w = 1; w <= c->n_workers; w++) {
    wstate_t *ws = &c->ws[w];
    if (ws->n == 0) continue;
    slot_t *s = &ws->ring[ws->head];
    if (s->noticed || now - ws->busy_since < NOTICE_S) continue;
    item_t it = {
        .idx = s->idx,
        .rank = w,
        .attempts = s->attempt,
        .running_notice = 1,
        .has_row = (uint8_t)(s->has_row || s->noticed),
        .started_at = now_wall - (now - ws->busy_since),
    };
    s->noticed = 1;
    int rc = batch_item(local, &it);
    if (rc) return rc;
  }
  return 0;
}

static int handle(coord_t *c, int from, int tag, uint8_t *buf, size_t len, batch_t *local, int *byes) {
  ds_rbuf_t rd;
  if (from < 1 || from > c->n_workers || ds_wire_open(&rd, buf, len)) {
    free(buf);
    return DS_EWIRE;
  }
  if (tag == DS_TAG_RESULT) return on_results(c, from, buf, &rd, local);
  if (tag == DS_TAG_STOP && c->ws[from].alive) {
    c->ws[from].alive = 0;
    (*byes)++;
  }
  free(buf);
  return 0;
}

static void *dispatcher_main(void *arg) {
  coord_t *c = arg;
  ds_trial_t t = {0};
  batch_t local = {0};
  int rc = 0, byes = 0;
  double last_notice = mono(), last_publish = mono();
  c->depth = c->o->depth > 0 ? (c->o->depth > DEPTH_MAX ? DEPTH_MAX : c->o->depth) : c->run_dir[0] ? 1 : 2;
  c->msg_max = c->o->depth > 0 ? (c->depth / 2 > 1 ? c->depth / 2 : 1) : 1;
  for (int w = 1; w <= c->n_workers && !rc; w++) rc = fill(c, w, &t);
  long idle_ns = 20000;
  while (!rc) {
    if (g_stop_sig && !atomic_load(&c->stop)) {
      atomic_store(&c->stop, 1);
      uv_async_send(&c->async); /* the loop records the run interrupted at once */
    }
    if (atomic_load(&c->stop)) break;
    if (atomic_load(&c->inflight) == 0) {
      /* Nothing in flight: hand out work; if there is none left, the campaign is finished. */
      c->paused = 0;
      for (int w = 1; w <= c->n_workers && !rc; w++) rc = fill(c, w, &t);
      if (atomic_load(&c->inflight) == 0) {
        if (!c->paused || c->deadline_hit) break;
        nap(1000000); /* the writer is catching up */
      }
      continue;
    }
    uint8_t *buf;
    size_t len;
    int from, tag;
    /* Local mode blocks in the queue (a condition variable); MPI mode polls and naps below. */
    if (trecv(c, &from, &tag, &buf, &len, c->o->mpi_comm ? 0 : 0.05)) {
      rc = handle(c, from, tag, buf, len, &local, &byes);
      if (!rc) {
        adapt_depth(c);
        rc = fill(c, from, &t);
      }
      idle_ns = 20000;
    } else if (c->o->mpi_comm) {
      /* Nothing arrived: let sends complete, top up, and sleep a little (never spin: the writer
       * and the workers need the cores). */
      for (int w = 1; w <= c->n_workers && !rc; w++) rc = fill(c, w, &t);
      nap(idle_ns);
      if (idle_ns < 500000) idle_ns *= 2;
    }
    /* The deadline came with trials still running (longer than the recent ones): stop them as
     * a stop signal would, so that the results in hand are committed before the job's end. */
    if (c->o->deadline > 0 && atomic_load(&c->inflight) > 0 && wall() > c->o->deadline - DL_MARGIN_S) {
      c->deadline_hit = 1;
      atomic_store(&c->stop, 1);
      if (!c->o->quiet)
        fprintf(stderr, "\ndivsweep: the deadline (%s) has come with %lld trial%s running; stopping them\n",
                c->o->deadline_from ? c->o->deadline_from : "--deadline", (long long)atomic_load(&c->inflight),
                atomic_load(&c->inflight) == 1 ? "" : "s");
      uv_async_send(&c->async);
      break;
    }
    double now = mono();
    if (now - last_notice > 0.25) {
      if (!rc) rc = notice_running(c, &local);
      last_notice = now;
    }
    if (local.n >= 8192 || ((local.n || local.nb) && now - last_publish > 0.01)) {
      publish(c, &local);
      last_publish = now;
    }
  }
  publish(c, &local);
  /* Shut the workers down: STOP to each, then collect results until each says goodbye.  On a
   * signal, wait at most ~0.7 s (trials cancel cooperatively); otherwise nothing is in flight. */
  ds_wire_begin(&c->wb, DS_MSG_STOP);
  ds_wire_end(&c->wb);
  for (int w = 1; w <= c->n_workers; w++)
    if (c->ws[w].alive) tsend(c, w, DS_TAG_STOP);
  /* Local mode: trials in worker threads learn of the stop here (exec trials then get SIGTERM). */
  if (atomic_load(&c->stop) && c->o->local_cancel) *c->o->local_cancel = 1;
  /* exec trials get kill_grace_s between SIGTERM and SIGKILL to checkpoint: wait that long too.
   * When the launcher has died (PR_SET_PDEATHSIG brought the stop), its workers died with it:
   * nobody will say goodbye, so do not wait for them. */
  double deadline = mono() + (ds_coord_launcher_gone() ? 0.0
                              : atomic_load(&c->stop) ? 0.7 + (c->run_dir[0] ? c->spec->trial.kill_grace_s : 0)
                                                      : 30.0);
  int alive = 0;
  for (int w = 1; w <= c->n_workers; w++) alive += c->ws[w].alive;
  while (alive > 0 && mono() < deadline) {
    uint8_t *buf;
    size_t len;
    int from, tag, bye = 0;
    if (!trecv(c, &from, &tag, &buf, &len, 0.05)) continue;
    handle(c, from, tag, buf, len, &local, &bye);
    alive -= bye;
  }
  publish(c, &local);
  /* Sends still unfinished now belong to workers that are gone or abandoned. */
  for (int w = 1; c->o->mpi_comm && w <= c->n_workers; w++) {
    double until = mono() + (ds_coord_launcher_gone() ? 0.0 : 0.2);
    reap_sends(c, w);
    while (c->ws[w].nsend > 0 && mono() < until) {
      nap(1000000);
      reap_sends(c, w);
    }
  }
  ds_trial_free(&t);
  batch_free(&local);
  c->dispatcher_cpu_s = thread_cpu();
  pthread_mutex_lock(&c->mu);
  c->dispatcher_done = 1;
  c->abandoned = alive > 0;
  if (rc) c->store_error = c->store_error ? c->store_error : rc;
  pthread_mutex_unlock(&c->mu);
  uv_async_send(&c->async);
  return NULL;
}

static void store_failed(coord_t *c, const char *what) {
  if (c->store_error) return;
  c->store_error = DS_ESTORE;
  fprintf(stderr, "\ndivsweep: %s%s\n", what, ds_store_errmsg(c->store));
  atomic_store(&c->stop, 1);
}

/* ---- writer (libuv loop) --------------------------------------------------------------- */

static void progress(coord_t *c, int final) {
  double now = mono();
  int64_t done = c->base_done + c->done_run, failed = c->base_failed + c->failed_run;
  int64_t count = c->done_run + c->failed_run;
  if (now - c->last_progress > 0.5) {
    double r = (double)(count - c->last_count) / (now - c->last_progress);
    c->rate = c->rate <= 0 ? r : 0.7 * c->rate + 0.3 * r;
    c->last_progress = now;
    c->last_count = count;
  }
  if (!c->tty || c->o->quiet) return;
  int64_t inflight = atomic_load(&c->inflight);
  int64_t pending = c->spec->n_trials - done - failed - inflight;
  if (pending < 0) pending = 0;
  char eta[32] = "-";
  if (c->rate > 0 && pending + inflight > 0) {
    long s = (long)((double)(pending + inflight) / c->rate);
    snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  }
  fprintf(stderr, "\r\033[K%s: done %lld/%lld  failed %lld  running %lld  pending %lld  %.0f trials/s  ETA %s%s",
          c->spec->name, (long long)done, (long long)c->spec->n_trials, (long long)failed, (long long)inflight,
          (long long)pending, c->rate, eta, final ? "\n" : "");
}

static int note_metrics(coord_t *c, const ds_wire_result_view_t *v) {
  ds_rbuf_t m = v->metrics;
  const char *name;
  size_t len;
  double x;
  int rc = 0;
  for (uint32_t i = 0; i < v->n_metrics && !rc; i++) {
    if (ds_wire_next_metric(&m, &name, &len, &x)) return DS_EWIRE;
    int known = 0;
    for (size_t k = 0; k < c->n_metric_names && !known; k++)
      known = strlen(c->metric_names[k]) == len && !memcmp(c->metric_names[k], name, len);
    if (known) continue;
    char *copy = strndup(name, len);
    char **names = realloc(c->metric_names, (c->n_metric_names + 1) * sizeof *names);
    if (!copy || !names) {
      free(copy);
      return DS_ENOMEM;
    }
    c->metric_names = names;
    c->metric_names[c->n_metric_names++] = copy;
    int added;
    rc = ds_store_note_metric(c->store, c->campaign_id, copy, &added);
    c->view_dirty = 1;
  }
  return rc;
}

/* Writes up to WRITE_CHUNK items, taking a new batch from the dispatcher when the current one is
 * done.  Returns 1 if items are left (the caller calls again; the loop handlers re-arm the async
 * so that the commit timer gets its turn in between). */
static int write_items(coord_t *c) {
  if (c->work_pos == c->work.n) {
    batch_clear(&c->work);
    c->work_pos = 0;
    pthread_mutex_lock(&c->mu);
    batch_t tmp = c->work;
    c->work = c->shared;
    c->shared = tmp;
    pthread_mutex_unlock(&c->mu);
  }
  if (c->work_pos == c->work.n) return 0;
  size_t end = c->work.n - c->work_pos > WRITE_CHUNK ? c->work_pos + WRITE_CHUNK : c->work.n;
  int rc = c->store_error ? DS_ESTORE : ds_store_begin(c->store);
  for (size_t i = c->work_pos; i < end && !rc; i++) {
    item_t *it = &c->work.v[i];
    rc = ds_spec_trial(c->spec, it->idx, &c->trial);
    ds_run_info_t info = {it->rank, c->o->hosts ? c->o->hosts[it->rank] : NULL, it->started_at, it->finished_at,
                          it->attempts, it->has_row};
    if (!rc && it->running_notice) {
      rc = ds_store_put_running(c->store, c->campaign_id, &c->trial, &info);
      continue;
    }
    ds_rbuf_t rd = {.data = it->rec, .len = it->rec_len};
    ds_wire_result_view_t v;
    if (!rc) rc = ds_wire_get_result_view(&rd, &v);
    if (!rc) rc = ds_store_put_result_view(c->store, c->campaign_id, &c->trial, &v, &info);
    if (!rc && v.status == 0 && v.n_metrics) rc = note_metrics(c, &v);
    if (it->status == 0) c->txn_done++;
    else c->txn_failed++;
  }
  size_t to = rc ? c->work.n : end; /* after a store error nothing more is written */
  atomic_fetch_sub(&c->backlog, (long long)(to - c->work_pos));
  c->work_pos = to;
  if (rc) store_failed(c, "");
  return c->work_pos < c->work.n;
}

static void write_all(coord_t *c) {
  for (;;) {
    if (write_items(c)) continue;
    pthread_mutex_lock(&c->mu);
    int empty = c->shared.n == 0 && c->shared.nb == 0;
    pthread_mutex_unlock(&c->mu);
    if (empty) return;
  }
}

/* Opens the fronts on first use, on the writer's thread: rebuilding them from a large campaign's
 * finished trials must not delay the first dispatch of a resume (budget: 2 s at 10⁶ trials). */
static void ensure_fronts(coord_t *c) {
  if (c->fronts_opened || c->store_error) return;
  c->fronts_opened = 1;
  if (ds_fronts_open(c->store, c->campaign_id, c->spec, &c->fronts)) {
    c->store_error = DS_ESTORE;
    fprintf(stderr, "\ndivsweep: fronts: %s\n", ds_store_errmsg(c->store));
    atomic_store(&c->stop, 1);
  }
}

/* Commits the open batch, or after a store error rolls it back: results count as done only once
 * their transaction has committed (txn_done → done_run). */
static void commit(coord_t *c) {
  if (c->store_error) {
    ds_store_rollback(c->store);
    c->txn_done = c->txn_failed = 0;
    return;
  }
  ensure_fronts(c);
  if (c->fronts && ds_store_in_txn(c->store) && !c->store_error && ds_fronts_sync(c->fronts, 0))
    store_failed(c, "fronts: ");
  if (c->view_dirty && !c->store_error) {
    if (ds_store_begin(c->store) == 0 &&
        ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec) == 0)
      c->view_dirty = 0;
  }
  if (!c->store_error && ds_store_commit(c->store)) store_failed(c, "");
  if (c->store_error) {
    ds_store_rollback(c->store);
    c->txn_done = c->txn_failed = 0;
    return;
  }
  c->done_run += c->txn_done;
  c->failed_run += c->txn_failed;
  c->txn_done = c->txn_failed = 0;
}

static void close_all(coord_t *c) {
  uv_close((uv_handle_t *)&c->async, NULL);
  uv_close((uv_handle_t *)&c->timer, NULL);
}

/* Records the run as interrupted now, before the in-flight trials are collected: under mpirun
 * the ranks get SIGKILL one odls_base_sigkill_timeout (1 s) after SIGTERM, so what matters is
 * committed first.  Close-out later rewrites the row with the final counts (or another ending). */
static void record_interrupted(coord_t *c) {
  if (c->store_error) return;
  commit(c);
  if (c->store_error) return;
  if (ds_store_begin(c->store) || ds_store_campaign_status(c->store, c->campaign_id, "interrupted") ||
      ds_store_run_end(c->store, c->run_id, "interrupted", DS_EXIT_INTERRUPTED, c->done_run, c->failed_run) ||
      ds_store_commit(c->store))
    store_failed(c, "");
}

/* Acts once on a stop signal seen by the handler: says so (unless stderr is gone), stops the
 * dispatcher, commits and records the run interrupted. */
static void note_signal(coord_t *c) {
  int sig = g_stop_sig;
  if (!sig || c->signal_noted) return;
  c->signal_noted = 1;
  atomic_store(&c->stop, 1);
  if (!c->o->quiet && !g_out_dead)
    fprintf(stderr, "\ndivsweep: %s received; stopping (resume with the same command; a second signal exits at once)\n",
            sig == SIGPIPE ? "SIGPIPE (output closed)" : strsignal(sig));
  if (write_items(c)) uv_async_send(&c->async);
  record_interrupted(c);
}

static void on_async(uv_async_t *h) {
  coord_t *c = h->data;
  note_signal(c);
  if (write_items(c)) uv_async_send(&c->async); /* more: after the timer has had its turn */
  pthread_mutex_lock(&c->mu);
  int done = c->dispatcher_done;
  pthread_mutex_unlock(&c->mu);
  if (done) {
    write_all(c);
    commit(c);
    close_all(c);
  }
}

static void on_timer(uv_timer_t *h) {
  coord_t *c = h->data;
  note_signal(c);
  if (write_items(c)) uv_async_send(&c->async);
  commit(c);
  if (!g_out_dead) progress(c, 0);
}

/* ---- set-up ---------------------------------------------------------------------------- */

/* Moves campaign row aside for --fresh (renamed with a time stamp; its results stay). */
static int move_aside(coord_t *c, const ds_campaign_row_t *row) {
  char aside[200], stamp[32];
  time_t now = time(NULL);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime(&now));
  snprintf(aside, sizeof aside, "%s@%s", row->name, stamp);
  /* Two --fresh runs within one second would pick the same name: add a counter. */
  for (int k = 2; k < 1000; k++) {
    ds_campaign_row_t other;
    if (ds_store_campaign_get(c->store, aside, &other) != 0) break;
    free(other.spec_json);
    snprintf(aside, sizeof aside, "%s@%s-%d", row->name, stamp, k);
  }
  ds_store_drop_view(c->store, row->name); /* as before: a view that will not go is no error */
  int rc = ds_store_campaign_rename(c->store, row->id, aside);
  if (rc) return rc;
  ds_spec_t *old = NULL;
  char e2[256];
  if (ds_spec_parse(row->spec_json, strlen(row->spec_json), "stored spec", NULL, &old, e2, sizeof e2) == 0) {
    rc = ds_store_update_view(c->store, row->id, aside, old);
    ds_spec_free(old);
  }
  if (!rc && !c->o->quiet) fprintf(stderr, "divsweep: moved the previous campaign aside as %s\n", aside);
  return rc;
}

/* --extend: the stored campaign grows to c->spec.  DS_ECHANGED with err set when the new spec
 * is not a superset of the old one by trial key (or changes the task), DS_ESTORE otherwise. */
static int extend_campaign(coord_t *c, const ds_campaign_row_t *row, char *err, size_t err_len) {
  ds_spec_t *old = NULL;
  char diff[1024] = "", e2[256];
  if (ds_spec_parse(row->spec_json, strlen(row->spec_json), "stored spec", NULL, &old, e2, sizeof e2)) {
    snprintf(err, err_len, "%s: campaigns[%s].spec_json: %s", c->o->db_path, row->name, e2);
    return DS_ESTORE;
  }
  ds_spec_diff(old, c->spec, diff, sizeof diff);
  if (strcmp(old->task, c->spec->task)) {
    snprintf(err, err_len, "%s: --extend cannot change the task of campaign %s; use --fresh", c->spec->file, row->name);
    ds_spec_free(old);
    return DS_ECHANGED;
  }
  old->key_scheme = row->key_scheme;
  int64_t missing = -1;
  int rc = ds_store_campaign_extend(c->store, c->campaign_id, old, c->spec, &missing);
  if (rc == DS_ECHANGED) {
    ds_trial_t t = {0};
    ds_spec_trial(old, missing, &t);
    snprintf(err, err_len,
             "%s: --extend only adds trials, but trial %lld of campaign %s (%.200s) is not a trial of the new spec (%s);"
             " use --fresh to start a new campaign (the old results are kept under another name)",
             c->spec->file, (long long)missing, row->name, t.params_json ? t.params_json : "?",
             diff[0] ? diff : "spec changed");
    ds_trial_free(&t);
    ds_spec_free(old);
    return DS_ECHANGED;
  }
  ds_spec_free(old);
  if (rc) {
    snprintf(err, err_len, "%s", ds_store_errmsg(c->store));
    return DS_ESTORE;
  }
  if (!c->o->quiet)
    fprintf(stderr, "divsweep: extending campaign %s to %lld trials (%s)\n", row->name, (long long)c->spec->n_trials,
            diff[0] ? diff : "spec changed");
  return 0;
}

/* Set-up is one transaction: on any failure nothing of it is committed (ds_store_rollback).
 * 0, or with err set: DS_ECHANGED (spec changed, or --extend refused), DS_EINVAL (no room for
 * the exec trials' directory), DS_ESTORE. */
static int setup_campaign(coord_t *c, char *err, size_t err_len) {
  const ds_run_opts_t *o = c->o;
  ds_campaign_row_t row = {0};
  int code = DS_ESTORE;
  int rc = ds_store_begin(c->store);
  if (rc) goto store_fail;
  int64_t killed = 0;
  if ((rc = ds_store_mark_killed_runs(c->store, &killed))) goto store_fail;
  rc = ds_store_campaign_get(c->store, c->spec->name, &row);
  if (rc && rc != DS_ENOTFOUND) goto store_fail;
  int found = rc == 0;
  if (found && o->fresh) {
    if ((rc = move_aside(c, &row))) goto store_fail;
    found = 0;
  }
  if (!found) {
    c->spec->key_scheme = DS_KEYS_XXH3;
    if ((rc = ds_store_campaign_create(c->store, c->spec, &c->campaign_id))) goto store_fail;
  } else {
    c->campaign_id = row.id;
    /* The campaign's keys stay what they were: seeds derive from them. */
    c->spec->key_scheme = row.key_scheme == DS_KEYS_FNV ? DS_KEYS_FNV : DS_KEYS_XXH3;
    if ((rc = ds_store_check_keys(c->store, c->campaign_id))) goto store_fail;
    if (strcmp(row.spec_json, c->spec->canonical) != 0) {
      if (!o->extend) {
        ds_spec_t *old = NULL;
        char diff[1024] = "", e2[256];
        if (ds_spec_parse(row.spec_json, strlen(row.spec_json), "stored spec", NULL, &old, e2, sizeof e2) == 0)
          ds_spec_diff(old, c->spec, diff, sizeof diff);
        ds_spec_free(old);
        snprintf(err, err_len,
                 "%s: campaign %s in %s was created from a different spec (%s); run with --extend to add the new"
                 " trials, or --fresh to start over (the old results are kept under another name)",
                 c->spec->file, row.name, o->db_path, diff[0] ? diff : "spec changed");
        code = DS_ECHANGED;
        goto fail;
      }
      if ((code = extend_campaign(c, &row, err, err_len))) goto fail;
      code = DS_ESTORE;
    } else if (row.trial_order < 2) {
      /* Trial indices from an older divsweep followed the spec file's axis order: renumber them by
       * key once, so that this and every later run agree on what index i is. */
      int64_t moved = 0;
      if ((rc = ds_store_campaign_reindex(c->store, c->campaign_id, c->spec, &moved))) goto store_fail;
      if (moved && !o->quiet)
        fprintf(stderr, "divsweep: renumbered %lld trials of %s to the canonical trial order\n", (long long)moved,
                row.name);
    }
  }
  if (!strcmp(c->spec->task, "exec") &&
      ds_trial_dir_campaign(o->db_path, c->campaign_id, c->spec->name, c->run_dir, sizeof c->run_dir)) {
    snprintf(err, err_len, "%s: the directory for exec trials beside it is too long a path", o->db_path);
    code = DS_EINVAL;
    goto fail;
  }
  /* Built-in tasks' objectives are checked against their metric tables by validate; a program's
   * are checked on every result (worker/task_exec.c). */
  for (size_t i = 0; c->run_dir[0] && i < c->spec->n_objectives; i++) {
    size_t at = strlen(c->objectives);
    snprintf(c->objectives + at, sizeof c->objectives - at, "%s%s", at ? "," : "", c->spec->objectives[i].name);
  }
  int64_t requeued = 0;
  if ((rc = ds_store_requeue_running(c->store, c->campaign_id, &requeued))) goto store_fail;
  size_t retried = 0;
  if (o->retry_failed) {
    if ((rc = ds_store_requeue_failed(c->store, c->campaign_id, &c->prior_idx, &c->prior_attempts, &c->n_prior)))
      goto store_fail;
    retried = c->n_prior;
  }
  if ((rc = ds_store_campaign_status(c->store, c->campaign_id, "running"))) goto store_fail;
  if ((rc = ds_store_count_finished(c->store, c->campaign_id, c->spec->n_trials, &c->base_done, &c->base_failed)))
    goto store_fail;
  if ((rc = ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec))) goto store_fail;
  if ((rc = ds_store_commit(c->store))) goto store_fail;
  if (!o->quiet && killed)
    fprintf(stderr, "divsweep: %lld earlier run%s of this database ended without recording it (killed)\n",
            (long long)killed, killed == 1 ? "" : "s");
  if (!o->quiet && (c->base_done || c->base_failed || requeued || retried))
    fprintf(stderr, "divsweep: resuming %s: %lld done, %lld failed, %lld re-queued, %zu failed re-queued, %lld to run\n",
            c->spec->name, (long long)c->base_done, (long long)c->base_failed, (long long)requeued, retried,
            (long long)(c->spec->n_trials - c->base_done - c->base_failed));
  free(row.spec_json);
  return 0;
store_fail:
  snprintf(err, err_len, "%s", ds_store_errmsg(c->store));
  code = DS_ESTORE;
fail:
  ds_store_rollback(c->store);
  free(row.spec_json);
  return code;
}

/* resume: c->spec from the stored campaign (--campaign NAME, else the one unfinished campaign).
 * 0, or with err set: DS_ENOTFOUND (no such campaign), DS_EINVAL (several, none named), DS_ESPEC
 * (the stored spec no longer parses), DS_ESTORE or DS_ENOMEM. */
static int load_spec_for_resume(coord_t *c, char *err, size_t err_len) {
  sqlite3 *db = ds_store_db(c->store);
  sqlite3_stmt *st;
  const char *sql = c->o->campaign
                        ? "SELECT name, spec_json FROM campaigns WHERE name = ?1"
                        : "SELECT name, spec_json FROM campaigns WHERE status <> 'done' AND name NOT LIKE '%@%'"
                          " ORDER BY updated_at DESC";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, err_len, "%s: table campaigns: %s", c->o->db_path, sqlite3_errmsg(db));
    return DS_ESTORE;
  }
  if (c->o->campaign) sqlite3_bind_text(st, 1, c->o->campaign, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    if (c->o->campaign) snprintf(err, err_len, "%s: no campaign named %s (table campaigns)", c->o->db_path, c->o->campaign);
    else snprintf(err, err_len, "%s: no unfinished campaign to resume (table campaigns); name one with --campaign", c->o->db_path);
    return DS_ENOTFOUND;
  }
  char file[600];
  snprintf(file, sizeof file, "%s:campaigns[%s].spec_json", c->o->db_path, (const char *)sqlite3_column_text(st, 0));
  /* Copy before stepping again: column pointers die with the row. */
  char *json = strdup((const char *)sqlite3_column_text(st, 1));
  if (!json) {
    sqlite3_finalize(st);
    snprintf(err, err_len, "out of memory");
    return DS_ENOMEM;
  }
  if (!c->o->campaign && sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_finalize(st);
    free(json);
    snprintf(err, err_len, "%s: several unfinished campaigns; choose one with --campaign NAME", c->o->db_path);
    return DS_EINVAL;
  }
  sqlite3_finalize(st);
  rc = ds_spec_parse(json, strlen(json), file, c->o->spec_opts, &c->spec, err, err_len);
  free(json);
  return rc ? DS_ESPEC : 0;
}

/* The exit code (DS_EXIT_*) of a set-up helper's DS_E* code: the store's and memory failures are
 * store errors (2), the rest are the user's to fix (1). */
static int setup_exit_code(int rc) {
  if (rc == 0) return DS_EXIT_OK;
  return rc == DS_ESTORE || rc == DS_ENOMEM ? DS_EXIT_STORE : DS_EXIT_USAGE;
}

int ds_coord_run(const ds_run_opts_t *o, int *abandoned) {
  coord_t C, *c = &C;
  memset(c, 0, sizeof *c);
  c->o = o;
  c->ewma_trial_s = -1;
  *abandoned = -1; /* until the dispatcher has run: the workers were never started */
  char err[1536] = "";
  int code = 0, rc;
  double t_begin = mono();
  /* Before anything else, so that a mis-launched srun step creates and locks nothing. */
  if (ds_launch_refuse_unwired(o->mpi_comm != NULL, err, sizeof err)) {
    code = DS_EXIT_USAGE;
    goto out;
  }
  if (o->spec_path && ((o->spec_check && o->spec_check(o->spec_path, 0, err, sizeof err)) ||
                       ds_spec_load(o->spec_path, o->spec_opts, &c->spec, err, sizeof err) ||
                       (o->spec_check && o->spec_check(o->spec_path, 1, err, sizeof err)))) {
    code = DS_EXIT_USAGE;
    goto out;
  }
  if ((rc = ds_store_open(o->db_path, DS_STORE_CREATE | DS_STORE_CHECK, &c->store, err, sizeof err))) {
    code = DS_EXIT_STORE;
    goto out;
  }
  if (!o->spec_path && (rc = load_spec_for_resume(c, err, sizeof err))) {
    code = setup_exit_code(rc);
    goto out;
  }
  /* A signal during set-up (seconds at 10⁶ trials) interrupts its statement: set-up is one
   * transaction, so it rolls back and nothing changes. */
  if (g_stop_sig) {
    snprintf(err, sizeof err, "interrupted (%s) before the campaign started; nothing changed", strsignal(g_stop_sig));
    code = DS_EXIT_INTERRUPTED;
    goto out;
  }
  g_setup_db = ds_store_db(c->store);
  code = setup_exit_code(setup_campaign(c, err, sizeof err));
  g_setup_db = NULL;
  if (code && g_stop_sig) {
    snprintf(err, sizeof err, "interrupted (%s) during set-up; nothing changed", strsignal(g_stop_sig));
    code = DS_EXIT_INTERRUPTED;
  }
  if (code) goto out;
  if ((rc = ds_store_checkpointer(c->store, 1))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }
#ifdef __GLIBC__
  /* Result buffers come and go by thousands per commit: keep freed heap instead of returning it
   * to the kernel and faulting it back in a moment later. */
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  c->win = malloc(WINDOW / 8);
  if (!c->win) {
    snprintf(err, sizeof err, "out of memory");
    code = DS_EXIT_STORE;
    goto out;
  }
  if ((rc = ds_store_open_reader(c->store, &c->reader))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }
  /* A new campaign has empty fronts: open them now.  A resumed one rebuilds them from its
   * finished trials, which waits for the writer's first commit (ensure_fronts). */
  if (c->base_done + c->base_failed == 0) ensure_fronts(c);

  c->n_workers = o->mpi_comm ? o->mpi_size - 1 : (o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
  if (c->n_workers < 1) c->n_workers = 1;
  c->ws = calloc((size_t)c->n_workers + 1, sizeof *c->ws);
  for (int w = 1; w <= c->n_workers; w++) c->ws[w].alive = 1;
  char hosts[4096] = "";
  for (int r = 0; o->hosts && r < o->mpi_size; r++) {
    int dup = 0;
    for (int q = 0; q < r; q++) dup |= !strcmp(o->hosts[q], o->hosts[r]);
    if (!dup) snprintf(hosts + strlen(hosts), sizeof hosts - strlen(hosts), "%s%s", hosts[0] ? "," : "", o->hosts[r]);
  }
  if (!hosts[0]) gethostname(hosts, 255);
  if ((rc = ds_store_run_begin(c->store, c->campaign_id, o->mpi_comm ? o->mpi_size : 1, hosts,
                               o->mpi_comm ? "mpi" : "local", &c->run_id))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }
  /* How this run was started and, in a SLURM job, which job and which start of it (a requeued
   * job keeps its id and counts its restarts): one row per start tells them apart. */
  ds_launch_t launch;
  ds_launch_detect(&launch, o->mpi_comm != 0);
  if ((rc = ds_store_run_set_launch(c->store, c->run_id, &launch))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }
  /* Which GPU each worker rank bound ("rank:device", comma-separated; trials.rank joins it; the
   * device as CUDA_VISIBLE_DEVICES names it, so that SLURM's binding shows). */
  char gpus[4096] = "";
  for (int r = 0; o->gpus && r < (o->mpi_comm ? o->mpi_size : 1); r++)
    if (o->gpus[r][0])
      snprintf(gpus + strlen(gpus), sizeof gpus - strlen(gpus), "%s%d:%s", gpus[0] ? "," : "", r, o->gpus[r]);
  if (gpus[0] && (rc = ds_store_run_set_gpus(c->store, c->run_id, gpus))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }
  /* A resumed campaign already knows how long its trials take: the guard starts from that. */
  double prior = -1;
  if (o->deadline > 0 && c->base_done + c->base_failed > 0 &&
      (rc = ds_store_recent_wall_max(c->store, c->campaign_id, DL_RECENT, &prior)) == 0 && prior >= 0)
    dl_note(c, prior);
  c->deadline_est = -1;
  if (!o->quiet && o->deadline > 0) {
    char when[64];
    time_t t = (time_t)o->deadline;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
    fprintf(stderr, "divsweep: deadline %s (%s, %.0f s from now): no trial starts that would not end before it\n",
            when, o->deadline_from ? o->deadline_from : "--deadline", o->deadline - wall());
  }
  if (!o->quiet) {
    int64_t todo = c->spec->n_trials - c->base_done - c->base_failed;
    fprintf(stderr, "divsweep: campaign %s: %lld trials (%lld to run) on %d %s%s\n", c->spec->name,
            (long long)c->spec->n_trials, (long long)todo, c->n_workers,
            o->mpi_comm ? "worker rank" : "worker thread", c->n_workers == 1 ? "" : "s");
  }

  pthread_mutex_init(&c->mu, NULL);
  lq_init(&c->out);
  c->loop = uv_default_loop();
  uv_async_init(c->loop, &c->async, on_async);
  c->async.data = c;
  uv_timer_init(c->loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_timer, 200, 200);
  c->tty = isatty(2);
  c->t_start = c->last_progress = mono();

  if (!o->mpi_comm) {
    c->lw = calloc((size_t)c->n_workers, sizeof *c->lw);
    for (int w = 0; w < c->n_workers; w++) {
      c->lw[w].c = c;
      c->lw[w].index = w;
      lq_init(&c->lw[w].in);
      pthread_create(&c->lw[w].th, NULL, lworker_main, &c->lw[w]);
    }
  }
  pthread_t disp;
  pthread_create(&disp, NULL, dispatcher_main, c);
  double writer_cpu0 = thread_cpu(), loop_t0 = mono(), setup_s = loop_t0 - t_begin;
  uv_run(c->loop, UV_RUN_DEFAULT);
  double writer_cpu = thread_cpu() - writer_cpu0, loop_s = mono() - loop_t0;
  pthread_join(disp, NULL);
  if (!o->mpi_comm) {
    for (int w = 0; w < c->n_workers; w++) {
      if (!c->abandoned) pthread_join(c->lw[w].th, NULL);
      else pthread_detach(c->lw[w].th);
    }
  }
  write_all(c);
  commit(c);
  if (!g_out_dead) progress(c, 1);

  int64_t failed_total = c->base_failed + c->failed_run;
  int64_t done_total = c->base_done + c->done_run;
  /* The deadline guard ended the run with trials left: resumable, like a stop signal, but told
   * apart in runs.how_ended, so that a time limit is not mistaken for a preemption. */
  int by_deadline = c->deadline_hit && !g_stop_sig && !c->store_error && done_total + failed_total < c->spec->n_trials;
  int interrupted = (atomic_load(&c->stop) || by_deadline) && !c->store_error;
  const char *how = c->store_error ? "store-error" : by_deadline ? "deadline" : interrupted ? "interrupted"
                    : failed_total ? "failed" : "done";
  code = c->store_error ? DS_EXIT_STORE : interrupted ? DS_EXIT_INTERRUPTED : failed_total ? DS_EXIT_FAILED_TRIALS : 0;
  if (!interrupted && !c->store_error && done_total + failed_total < c->spec->n_trials) {
    how = "incomplete";
    code = DS_EXIT_STORE;
  }
  /* After a store error the failed batch was rolled back: the bookkeeping below is its own
   * transaction and records only what was committed. */
  ds_store_rollback(c->store);
  double t_index = mono();
  ds_store_begin(c->store);
  ensure_fronts(c);
  if (c->fronts && !c->store_error) ds_fronts_sync(c->fronts, 1);
  ds_store_campaign_status(c->store, c->campaign_id, interrupted ? "interrupted" : code == 0 ? "done" : code == DS_EXIT_FAILED_TRIALS ? "failed" : "incomplete");
  ds_store_run_end(c->store, c->run_id, how, code, c->done_run, c->failed_run);
  if (!c->store_error) ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec);
  if (ds_store_commit(c->store)) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    ds_store_rollback(c->store);
    code = DS_EXIT_STORE;
    how = "store-error";
    /* Record at least how the run ended (a smaller write may still fit, e.g. on a full disk). */
    if (ds_store_begin(c->store) == 0 &&
        ds_store_run_end(c->store, c->run_id, how, code, c->done_run, c->failed_run) == 0)
      ds_store_commit(c->store);
    ds_store_rollback(c->store);
  }
  double index_s = mono() - t_index;
  *abandoned = c->abandoned;
  if (!o->quiet) {
    double dt = mono() - t_begin;
    int64_t n = c->done_run + c->failed_run;
    char rate[48] = "";
    if (n > 0) snprintf(rate, sizeof rate, " (%.*f/s)", (double)n / (dt > 0 ? dt : 1) < 10 ? 2 : 0, (double)n / (dt > 0 ? dt : 1));
    fprintf(stderr, "divsweep: %s %s: %lld done, %lld failed of %lld; this run %lld trial%s in %.2f s%s\n",
            c->spec->name, how, (long long)done_total, (long long)failed_total, (long long)c->spec->n_trials,
            (long long)n, n == 1 ? "" : "s", dt, rate);
    {
      char first[48] = "nothing to send";
      if (c->first_dispatch > 0) snprintf(first, sizeof first, "first trial sent after %.2f s", c->first_dispatch - t_begin);
      struct rusage ru;
      getrusage(RUSAGE_SELF, &ru);
      fprintf(stderr, "divsweep: set-up %.2f s (%s), trials %.2f s, close-out"
              " %.2f s; coordinator CPU per trial: writer %.2f us (busy %.0f%%), dispatcher %.2f us; peak RSS %ld MiB\n",
              setup_s, first, loop_s, index_s,
              n ? 1e6 * writer_cpu / (double)n : 0, 100 * writer_cpu / (loop_s > 0 ? loop_s : 1),
              n ? 1e6 * c->dispatcher_cpu_s / (double)n : 0, (long)(ru.ru_maxrss / 1024));
    }
    if (by_deadline) {
      char when[64];
      time_t t = (time_t)c->o->deadline;
      strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
      char est[48] = "";
      if (c->deadline_est >= 0) snprintf(est, sizeof est, " (trials take up to %.1f s)", c->deadline_est);
      fprintf(stderr, "divsweep: stopped for the deadline %s (%s): no further trial would have ended before it%s;"
              " run the same command again to resume\n", when, c->o->deadline_from ? c->o->deadline_from : "--deadline", est);
    } else if (interrupted) fprintf(stderr, "divsweep: interrupted; run the same command again to resume\n");
    if (failed_total && !interrupted)
      fprintf(stderr, "divsweep: %lld trials failed permanently; see: divsweep query --db %s \"SELECT trial_id, error"
              " FROM trials WHERE status = 'failed'\"\n", (long long)failed_total, o->db_path);
  }
out:
  if (err[0]) fprintf(stderr, "divsweep: %s\n", err);
  ds_trial_free(&c->trial);
  for (size_t i = 0; i < c->n_metric_names; i++) free(c->metric_names[i]);
  free(c->metric_names);
  batch_free(&c->work);
  batch_free(&c->shared);
  free(c->retry);
  free(c->prior_idx);
  free(c->prior_attempts);
  for (int w = 1; c->ws && w <= c->n_workers; w++) free(c->ws[w].ring);
  free(c->ws);
  free(c->win);
  ds_wbuf_free(&c->wb);
  if (!c->abandoned) free(c->lw);
  ds_fronts_close(c->fronts);
  ds_store_close(c->reader);
  c->reader = NULL;
  ds_store_close(c->store);
  ds_spec_free(c->spec);
  return code;
}
