/* coord.c — running a campaign: set-up and resume, the dispatcher thread, the store-writing libuv
 * loop, signals and the progress line.
 *
 * Threads and what they own:
 *   - dispatcher (one pthread): the trial generator (next index, retry queue), the in-flight table
 *     and every MPI call between MPI_Init and MPI_Finalize (or the in-process worker queues).
 *   - loop (the caller's thread, libuv): the store.  Finished trials reach it through a mutex-held
 *     vector and a uv_async wake-up; a 200 ms timer commits, refreshes the view and the progress
 *     line.  Signal handlers run on this loop too.
 * Each trial is regenerated from its index on the writer side (string concatenation + hash), so
 * nothing per trial but the result crosses threads.
 *
 * Invariants: a trial index is dispatched at most once at a time; a result is written only if its
 * (idx, attempt) is in flight; finished trials are never dispatched again (bitmap from the store).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>
#include <uv.h>

#include "ds_coord.h"
#include "ds_error.h"
#include "ds_fronts.h"
#include "ds_store.h"

enum { TAG_TRIAL = 11, TAG_RESULT = 12, TAG_HELLO = 13, TAG_STOP = 14 }; /* = DS_TAG_* in ds_task.h */
#define MAX_DEPTH 64

typedef struct item {
  ds_result_t r;
  int rank;
  int running_notice; /* 1: not a result, the trial has been running a while */
  double started_at, finished_at;
  uint32_t attempts;
} item_t;

typedef struct itemvec {
  item_t *v;
  size_t n, cap;
} itemvec_t;

typedef struct slot {
  int64_t idx;
  uint32_t attempt;
  double t0;      /* monotonic dispatch time */
  double wall0;   /* Unix dispatch time */
  int noticed;
} slot_t;

typedef struct wslot {
  slot_t s[MAX_DEPTH];
  int n;
  int alive;
} wslot_t;

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
  ds_fronts_t *fronts;
  int64_t campaign_id, run_id;
  uint8_t *finished;
  int64_t base_done, base_failed;

  /* dispatcher state */
  int n_workers;           /* worker ids 1..n_workers */
  wslot_t *ws;
  int64_t next_idx;
  int64_t *retry;
  uint32_t *retry_attempt;
  size_t retry_head, retry_tail, retry_cap;
  double ewma_trial_s;
  int depth;
  ds_wbuf_t wb;
  lworker_t *lw;
  lqueue_t out;            /* local mode: results from worker threads */

  /* shared */
  pthread_mutex_t mu;
  itemvec_t shared;
  int dispatcher_done;
  int abandoned;
  atomic_int stop;         /* 1: graceful stop requested */
  atomic_llong inflight;
  uv_async_t async;
  uv_loop_t *loop;

  /* writer state */
  uv_timer_t timer;
  uv_signal_t sig_int, sig_term;
  int signals;
  itemvec_t work;
  ds_trial_t trial;
  int64_t done_run, failed_run;
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

static int vec_push(itemvec_t *v, const item_t *it) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 256;
    item_t *p = realloc(v->v, cap * sizeof *p);
    if (!p) return DS_ENOMEM;
    v->v = p;
    v->cap = cap;
  }
  v->v[v->n++] = *it;
  return 0;
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

static int tsend(coord_t *c, int worker, int tag, const uint8_t *buf, size_t len) {
  if (c->o->mpi_comm) {
    return MPI_Send(buf, (int)len, MPI_BYTE, worker, tag, *(MPI_Comm *)c->o->mpi_comm) == MPI_SUCCESS ? 0 : DS_EIO;
  }
  uint8_t *copy = malloc(len);
  if (!copy) return DS_ENOMEM;
  memcpy(copy, buf, len);
  lq_push(&c->lw[worker - 1].in, copy, len, 0);
  return 0;
}

/* Receives one message from any worker, waiting up to timeout_s.  Returns 1 if one arrived. */
static int trecv(coord_t *c, int *from, int *tag, uint8_t **buf, size_t *len, double timeout_s) {
  if (!c->o->mpi_comm) {
    int got = lq_pop(&c->out, buf, len, from, timeout_s);
    if (got) {
      ds_rbuf_t rd;
      *tag = ds_wire_open(&rd, *buf, *len) == 0 && rd.type == DS_MSG_STOP ? TAG_STOP : TAG_RESULT;
    }
    return got;
  }
  MPI_Comm comm = *(MPI_Comm *)c->o->mpi_comm;
  double end = mono() + timeout_s;
  long nap = 2000;
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
    if (mono() >= end) return 0;
    /* Sleeping (not spinning) while waiting keeps the coordinator's core for the store writer. */
    struct timespec ts = {0, nap};
    nanosleep(&ts, NULL);
    if (nap < 200000) nap *= 2;
  }
}

/* ---- dispatcher ------------------------------------------------------------------------ */

static int is_finished(const coord_t *c, int64_t idx) { return (c->finished[idx >> 3] >> (idx & 7)) & 1; }

static int next_trial(coord_t *c, int64_t *idx, uint32_t *attempt) {
  if (c->retry_head < c->retry_tail) {
    *idx = c->retry[c->retry_head];
    *attempt = c->retry_attempt[c->retry_head++];
    return 1;
  }
  while (c->next_idx < c->spec->n_trials && is_finished(c, c->next_idx)) c->next_idx++;
  if (c->next_idx >= c->spec->n_trials) return 0;
  *idx = c->next_idx++;
  *attempt = 1;
  return 1;
}

static void retry_push(coord_t *c, int64_t idx, uint32_t attempt) {
  if (c->retry_tail == c->retry_cap) {
    if (c->retry_head) {
      memmove(c->retry, c->retry + c->retry_head, (c->retry_tail - c->retry_head) * sizeof *c->retry);
      memmove(c->retry_attempt, c->retry_attempt + c->retry_head, (c->retry_tail - c->retry_head) * sizeof *c->retry_attempt);
      c->retry_tail -= c->retry_head;
      c->retry_head = 0;
    } else {
      c->retry_cap = c->retry_cap ? 2 * c->retry_cap : 64;
      c->retry = realloc(c->retry, c->retry_cap * sizeof *c->retry);
      c->retry_attempt = realloc(c->retry_attempt, c->retry_cap * sizeof *c->retry_attempt);
      if (!c->retry || !c->retry_attempt) abort();
    }
  }
  c->retry[c->retry_tail] = idx;
  c->retry_attempt[c->retry_tail++] = attempt;
}

/* Tops worker w up to the current depth with one TRIAL message. */
static int fill(coord_t *c, int w, ds_trial_t *t) {
  wslot_t *ws = &c->ws[w];
  if (!ws->alive || atomic_load(&c->stop)) return 0;
  int want = c->depth - ws->n;
  if (want <= 0) return 0;
  ds_wire_begin(&c->wb, DS_MSG_TRIAL);
  const ds_trial_opts_t *to = &c->spec->trial;
  for (int k = 0; k < want; k++) {
    int64_t idx;
    uint32_t attempt;
    if (!next_trial(c, &idx, &attempt)) break;
    int rc = ds_spec_trial(c->spec, idx, t);
    if (rc) return rc;
    ds_wire_trial_t wt = {
        .idx = idx,
        .attempt = attempt,
        .rng_seed = t->rng_seed,
        .timeout_s = to->timeout_s,
        .isolation = (uint8_t)to->isolation_process,
        .device = (uint8_t)(!strcmp(to->device, "cpu") ? 1 : !strcmp(to->device, "cuda") ? 2 : 0),
        .task = c->spec->task,
        .task_len = strlen(c->spec->task),
        .params = t->params_json,
        .params_len = t->params_len,
    };
    memcpy(wt.key, t->key, sizeof wt.key);
    ds_wire_put_trial(&c->wb, &wt);
    slot_t *s = &ws->s[ws->n++];
    s->idx = idx;
    s->attempt = attempt;
    s->t0 = mono();
    s->wall0 = wall();
    s->noticed = 0;
  }
  if (c->wb.count == 0) return 0;
  atomic_fetch_add(&c->inflight, c->wb.count);
  int rc = ds_wire_end(&c->wb);
  return rc ? rc : tsend(c, w, TAG_TRIAL, c->wb.data, c->wb.len);
}

static void publish(coord_t *c, itemvec_t *local) {
  if (local->n == 0) return;
  pthread_mutex_lock(&c->mu);
  if (c->shared.n == 0) {
    itemvec_t tmp = c->shared;
    c->shared = *local;
    *local = tmp;
    local->n = 0;
  } else {
    for (size_t i = 0; i < local->n; i++) vec_push(&c->shared, &local->v[i]);
    local->n = 0;
  }
  pthread_mutex_unlock(&c->mu);
  uv_async_send(&c->async);
}

/* Handles one RESULT message from worker w: results go to the writer or the retry queue. */
static int on_results(coord_t *c, int w, ds_rbuf_t *rd, itemvec_t *local) {
  wslot_t *ws = &c->ws[w];
  for (uint32_t i = 0; i < rd->count; i++) {
    item_t it = {0};
    int rc = ds_wire_get_result(rd, &it.r);
    if (rc) {
      ds_result_free(&it.r);
      return rc;
    }
    int k = -1;
    for (int j = 0; j < ws->n; j++)
      if (ws->s[j].idx == it.r.idx && ws->s[j].attempt == it.r.attempt) k = j;
    if (k < 0) { /* not ours (should not happen): ignore rather than write twice */
      ds_result_free(&it.r);
      continue;
    }
    slot_t s = ws->s[k];
    ws->s[k] = ws->s[--ws->n];
    atomic_fetch_sub(&c->inflight, 1);
    c->ewma_trial_s = c->ewma_trial_s < 0 ? it.r.wall_s : 0.9 * c->ewma_trial_s + 0.1 * it.r.wall_s;
    if (it.r.status == DS_EINTR) { /* interrupted, not failed: re-run later */
      retry_push(c, s.idx, s.attempt);
      ds_result_free(&it.r);
      continue;
    }
    if (it.r.status != 0 && (int)s.attempt <= c->spec->trial.retries && !atomic_load(&c->stop)) {
      retry_push(c, s.idx, s.attempt + 1);
      ds_result_free(&it.r);
      continue;
    }
    it.rank = w;
    it.started_at = s.wall0;
    it.finished_at = wall();
    it.attempts = s.attempt;
    if (vec_push(local, &it)) return DS_ENOMEM;
  }
  return 0;
}

static void adapt_depth(coord_t *c) {
  if (c->o->depth > 0) return;
  /* Keep about 20 ms of work queued per worker, at least one trial beyond the running one. */
  int d = c->ewma_trial_s > 0 ? (int)(0.02 / c->ewma_trial_s) + 1 : 2;
  c->depth = d < 2 ? 2 : d > MAX_DEPTH ? MAX_DEPTH : d;
}

static void notice_running(coord_t *c, itemvec_t *local) {
  double now = mono();
  for (int w = 1; w <= c->n_workers; w++)
    for (int j = 0; j < c->ws[w].n; j++) {
      slot_t *s = &c->ws[w].s[j];
      if (s->noticed || now - s->t0 < 1.0) continue;
      s->noticed = 1;
      item_t it = {0};
      it.r.idx = s->idx;
      it.rank = w;
      it.running_notice = 1;
      it.started_at = s->wall0;
      it.attempts = s->attempt;
      vec_push(local, &it);
    }
}

static void *dispatcher_main(void *arg) {
  coord_t *c = arg;
  ds_trial_t t = {0};
  itemvec_t local = {0};
  int rc = 0, byes = 0;
  double last_notice = mono(), last_publish = mono();
  c->depth = c->o->depth > 0 ? (c->o->depth > MAX_DEPTH ? MAX_DEPTH : c->o->depth) : 2;
  for (int w = 1; w <= c->n_workers && !rc; w++) rc = fill(c, w, &t);
  while (!rc) {
    if (atomic_load(&c->stop)) break;
    if (atomic_load(&c->inflight) == 0) {
      /* Nothing in flight: hand out work; if there is none left, the campaign is finished. */
      for (int w = 1; w <= c->n_workers && !rc; w++) rc = fill(c, w, &t);
      if (atomic_load(&c->inflight) == 0) break;
      continue;
    }
    uint8_t *buf;
    size_t len;
    int from, tag;
    if (trecv(c, &from, &tag, &buf, &len, 0.05)) {
      ds_rbuf_t rd;
      if (from < 1 || from > c->n_workers || ds_wire_open(&rd, buf, len)) rc = DS_EWIRE;
      else if (tag == TAG_RESULT) rc = on_results(c, from, &rd, &local);
      else if (tag == TAG_STOP) { c->ws[from].alive = 0; byes++; }
      free(buf);
      if (!rc) {
        adapt_depth(c);
        rc = fill(c, from, &t);
      }
    }
    double now = mono();
    if (now - last_notice > 0.25) {
      notice_running(c, &local);
      last_notice = now;
    }
    if (local.n >= 4096 || (local.n && now - last_publish > 0.01)) {
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
    if (c->ws[w].alive) tsend(c, w, TAG_STOP, c->wb.data, c->wb.len);
  double deadline = mono() + (atomic_load(&c->stop) ? 0.7 : 30.0);
  int alive = 0;
  for (int w = 1; w <= c->n_workers; w++) alive += c->ws[w].alive;
  while (alive > 0 && mono() < deadline) {
    uint8_t *buf;
    size_t len;
    int from, tag;
    if (!trecv(c, &from, &tag, &buf, &len, 0.05)) continue;
    ds_rbuf_t rd;
    if (from >= 1 && from <= c->n_workers && ds_wire_open(&rd, buf, len) == 0) {
      if (tag == TAG_RESULT) on_results(c, from, &rd, &local);
      else if (tag == TAG_STOP && c->ws[from].alive) {
        c->ws[from].alive = 0;
        alive--;
      }
    }
    free(buf);
  }
  publish(c, &local);
  ds_trial_free(&t);
  free(local.v);
  pthread_mutex_lock(&c->mu);
  c->dispatcher_done = 1;
  c->abandoned = alive > 0;
  if (rc) c->store_error = c->store_error ? c->store_error : rc;
  pthread_mutex_unlock(&c->mu);
  uv_async_send(&c->async);
  return NULL;
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

static void write_items(coord_t *c) {
  pthread_mutex_lock(&c->mu);
  itemvec_t tmp = c->work;
  c->work = c->shared;
  c->shared = tmp;
  c->shared.n = 0;
  pthread_mutex_unlock(&c->mu);
  if (c->work.n == 0) return;
  int rc = ds_store_begin(c->store);
  for (size_t i = 0; i < c->work.n; i++) {
    item_t *it = &c->work.v[i];
    if (!rc) rc = ds_spec_trial(c->spec, it->r.idx, &c->trial);
    ds_run_info_t info = {it->rank, c->o->hosts ? c->o->hosts[it->rank] : NULL, it->started_at, it->finished_at,
                          it->attempts};
    if (!rc && it->running_notice) {
      rc = ds_store_put_running(c->store, c->campaign_id, &c->trial, &info);
    } else if (!rc) {
      rc = ds_store_put_result(c->store, c->campaign_id, &c->trial, &it->r, &info);
      if (it->r.status == 0) c->done_run++;
      else c->failed_run++;
      for (size_t m = 0; m < it->r.n_metrics && !rc && it->r.status == 0; m++) {
        int known = 0;
        for (size_t k = 0; k < c->n_metric_names && !known; k++)
          known = !strcmp(c->metric_names[k], it->r.metrics[m].name);
        if (known) continue;
        int added;
        rc = ds_store_note_metric(c->store, c->campaign_id, it->r.metrics[m].name, &added);
        char **names = realloc(c->metric_names, (c->n_metric_names + 1) * sizeof *names);
        if (names) {
          c->metric_names = names;
          c->metric_names[c->n_metric_names++] = strdup(it->r.metrics[m].name);
        }
        c->view_dirty = 1;
      }
    }
    ds_result_free(&it->r);
  }
  c->work.n = 0;
  if (rc && !c->store_error) {
    c->store_error = rc;
    fprintf(stderr, "\ndivsweep: %s\n", ds_store_errmsg(c->store));
    atomic_store(&c->stop, 1);
  }
}

static void commit(coord_t *c) {
  if (c->fronts && ds_store_in_txn(c->store) && !c->store_error && ds_fronts_sync(c->fronts, 0)) {
    c->store_error = DS_ESTORE;
    fprintf(stderr, "\ndivsweep: fronts: %s\n", ds_store_errmsg(c->store));
    atomic_store(&c->stop, 1);
  }
  if (c->view_dirty && !c->store_error) {
    if (ds_store_begin(c->store) == 0 &&
        ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec) == 0)
      c->view_dirty = 0;
  }
  if (ds_store_commit(c->store) && !c->store_error) {
    c->store_error = DS_ESTORE;
    fprintf(stderr, "\ndivsweep: %s\n", ds_store_errmsg(c->store));
    atomic_store(&c->stop, 1);
  }
}

static void close_all(coord_t *c) {
  uv_close((uv_handle_t *)&c->async, NULL);
  uv_close((uv_handle_t *)&c->timer, NULL);
  uv_close((uv_handle_t *)&c->sig_int, NULL);
  uv_close((uv_handle_t *)&c->sig_term, NULL);
}

static void on_async(uv_async_t *h) {
  coord_t *c = h->data;
  write_items(c);
  pthread_mutex_lock(&c->mu);
  int done = c->dispatcher_done;
  pthread_mutex_unlock(&c->mu);
  if (done) {
    write_items(c);
    commit(c);
    close_all(c);
  }
}

static void on_timer(uv_timer_t *h) {
  coord_t *c = h->data;
  write_items(c);
  commit(c);
  progress(c, 0);
}

static void on_signal(uv_signal_t *h, int signum) {
  coord_t *c = h->data;
  if (++c->signals >= 2) {
    /* Second signal: leave at once.  Committed results are safe; the open transaction rolls back. */
    fprintf(stderr, "\ndivsweep: second signal, exiting now\n");
    _exit(DS_EXIT_INTERRUPTED);
  }
  if (!c->o->quiet) fprintf(stderr, "\ndivsweep: %s received; stopping (resume with the same command)\n", strsignal(signum));
  atomic_store(&c->stop, 1);
}

/* ---- set-up ---------------------------------------------------------------------------- */

static int setup_campaign(coord_t *c, char *err, size_t err_len) {
  const ds_run_opts_t *o = c->o;
  ds_campaign_row_t row;
  int rc = ds_store_campaign_get(c->store, c->spec->name, &row);
  if (rc && rc != DS_ENOTFOUND) {
    snprintf(err, err_len, "%s", ds_store_errmsg(c->store));
    return DS_EXIT_STORE;
  }
  int found = rc == 0;
  if ((rc = ds_store_begin(c->store))) goto store_fail;
  if (found && o->fresh) {
    char aside[200], stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", gmtime(&now));
    snprintf(aside, sizeof aside, "%s@%s", row.name, stamp);
    char old_view[160];
    ds_store_view_name(row.name, old_view, sizeof old_view);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP VIEW IF EXISTS \"%s\"", old_view);
    sqlite3_exec(ds_store_db(c->store), sql, NULL, NULL, NULL);
    if ((rc = ds_store_campaign_rename(c->store, row.id, aside))) goto store_fail;
    ds_spec_t *old = NULL;
    char e2[256];
    if (ds_spec_parse(row.spec_json, strlen(row.spec_json), "stored spec", NULL, &old, e2, sizeof e2) == 0) {
      ds_store_update_view(c->store, row.id, aside, old);
      ds_spec_free(old);
    }
    if (!o->quiet) fprintf(stderr, "divsweep: moved the previous campaign aside as %s\n", aside);
    found = 0;
  }
  if (!found) {
    if ((rc = ds_store_campaign_create(c->store, c->spec, &c->campaign_id))) goto store_fail;
  } else {
    c->campaign_id = row.id;
    if (strcmp(row.spec_hash, c->spec->hash) != 0) {
      ds_spec_t *old = NULL;
      char diff[1024] = "", e2[256];
      if (ds_spec_parse(row.spec_json, strlen(row.spec_json), "stored spec", NULL, &old, e2, sizeof e2) == 0)
        ds_spec_diff(old, c->spec, diff, sizeof diff);
      int task_same = old && !strcmp(old->task, c->spec->task);
      ds_spec_free(old);
      if (!o->extend) {
        snprintf(err, err_len,
                 "%s: campaign %s in %s was created from a different spec (%s); run with --extend to add the new"
                 " trials, or --fresh to start over (the old results are kept under another name)",
                 c->spec->file, row.name, o->db_path, diff[0] ? diff : "spec changed");
        free(row.spec_json);
        ds_store_commit(c->store);
        return DS_EXIT_USAGE;
      }
      if (!task_same) {
        snprintf(err, err_len, "%s: --extend cannot change the task of campaign %s; use --fresh", c->spec->file, row.name);
        free(row.spec_json);
        ds_store_commit(c->store);
        return DS_EXIT_USAGE;
      }
      if ((rc = ds_store_campaign_extend(c->store, c->campaign_id, c->spec))) goto store_fail;
      if (!o->quiet) fprintf(stderr, "divsweep: extending campaign %s (%s)\n", row.name, diff);
    }
    free(row.spec_json);
    row.spec_json = NULL;
  }
  int64_t requeued = 0;
  if ((rc = ds_store_requeue_running(c->store, c->campaign_id, &requeued))) goto store_fail;
  if ((rc = ds_store_campaign_status(c->store, c->campaign_id, "running"))) goto store_fail;
  c->finished = calloc((size_t)(c->spec->n_trials + 8) / 8, 1);
  if (!c->finished) {
    snprintf(err, err_len, "out of memory");
    return DS_EXIT_STORE;
  }
  if ((rc = ds_store_load_finished(c->store, c->campaign_id, c->spec->n_trials, c->finished, &c->base_done,
                                   &c->base_failed)))
    goto store_fail;
  if ((rc = ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec))) goto store_fail;
  if ((rc = ds_store_commit(c->store))) goto store_fail;
  if (!o->quiet && (c->base_done || c->base_failed || requeued))
    fprintf(stderr, "divsweep: resuming %s: %lld done, %lld failed, %lld re-queued, %lld to run\n", c->spec->name,
            (long long)c->base_done, (long long)c->base_failed, (long long)requeued,
            (long long)(c->spec->n_trials - c->base_done - c->base_failed));
  return 0;
store_fail:
  if (found && row.spec_json) free(row.spec_json);
  snprintf(err, err_len, "%s", ds_store_errmsg(c->store));
  return DS_EXIT_STORE;
}

static int load_spec_for_resume(coord_t *c, char *err, size_t err_len) {
  sqlite3 *db = ds_store_db(c->store);
  sqlite3_stmt *st;
  const char *sql = c->o->campaign
                        ? "SELECT name, spec_json FROM campaigns WHERE name = ?1"
                        : "SELECT name, spec_json FROM campaigns WHERE status <> 'done' AND name NOT LIKE '%@%'"
                          " ORDER BY updated_at DESC";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(err, err_len, "%s: table campaigns: %s", c->o->db_path, sqlite3_errmsg(db));
    return DS_EXIT_STORE;
  }
  if (c->o->campaign) sqlite3_bind_text(st, 1, c->o->campaign, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    if (c->o->campaign) snprintf(err, err_len, "%s: no campaign named %s (table campaigns)", c->o->db_path, c->o->campaign);
    else snprintf(err, err_len, "%s: no unfinished campaign to resume (table campaigns); name one with --campaign", c->o->db_path);
    return DS_EXIT_USAGE;
  }
  char file[600];
  snprintf(file, sizeof file, "%s:campaigns[%s].spec_json", c->o->db_path, (const char *)sqlite3_column_text(st, 0));
  /* Copy before stepping again: column pointers die with the row. */
  char *json = strdup((const char *)sqlite3_column_text(st, 1));
  if (!json) {
    sqlite3_finalize(st);
    snprintf(err, err_len, "out of memory");
    return DS_EXIT_STORE;
  }
  if (!c->o->campaign && sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_finalize(st);
    free(json);
    snprintf(err, err_len, "%s: several unfinished campaigns; choose one with --campaign NAME", c->o->db_path);
    return DS_EXIT_USAGE;
  }
  sqlite3_finalize(st);
  rc = ds_spec_parse(json, strlen(json), file, c->o->spec_opts, &c->spec, err, err_len);
  free(json);
  return rc ? DS_EXIT_USAGE : 0;
}

int ds_coord_run(const ds_run_opts_t *o, int *abandoned) {
  coord_t C, *c = &C;
  memset(c, 0, sizeof *c);
  c->o = o;
  c->ewma_trial_s = -1;
  *abandoned = 0;
  char err[1536] = "";
  int code = 0, rc;
  double t_begin = mono();
  if (o->spec_path && (rc = ds_spec_load(o->spec_path, o->spec_opts, &c->spec, err, sizeof err))) {
    code = DS_EXIT_USAGE;
    goto out;
  }
  if ((rc = ds_store_open(o->db_path, DS_STORE_CREATE, &c->store, err, sizeof err))) {
    code = DS_EXIT_STORE;
    goto out;
  }
  if (!o->spec_path && (code = load_spec_for_resume(c, err, sizeof err))) goto out;
  if ((code = setup_campaign(c, err, sizeof err))) goto out;
  if ((rc = ds_fronts_open(c->store, c->campaign_id, c->spec, &c->fronts))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
  }

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
  /* Which GPU each worker rank bound ("rank:device", comma-separated; trials.rank joins it). */
  char gpus[4096] = "";
  for (int r = 0; o->gpus && r < (o->mpi_comm ? o->mpi_size : 1); r++)
    if (o->gpus[r] >= 0)
      snprintf(gpus + strlen(gpus), sizeof gpus - strlen(gpus), "%s%d:%d", gpus[0] ? "," : "", r, o->gpus[r]);
  if (gpus[0] && (rc = ds_store_run_set_gpus(c->store, c->run_id, gpus))) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
    goto out;
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
  uv_signal_init(c->loop, &c->sig_int);
  uv_signal_init(c->loop, &c->sig_term);
  c->sig_int.data = c->sig_term.data = c;
  uv_signal_start(&c->sig_int, on_signal, SIGINT);
  uv_signal_start(&c->sig_term, on_signal, SIGTERM);
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
  uv_run(c->loop, UV_RUN_DEFAULT);
  pthread_join(disp, NULL);
  if (!o->mpi_comm) {
    for (int w = 0; w < c->n_workers; w++) {
      if (!c->abandoned) pthread_join(c->lw[w].th, NULL);
      else pthread_detach(c->lw[w].th);
    }
  }
  write_items(c);
  commit(c);
  progress(c, 1);

  int interrupted = atomic_load(&c->stop) && !c->store_error;
  int64_t failed_total = c->base_failed + c->failed_run;
  int64_t done_total = c->base_done + c->done_run;
  const char *how = c->store_error ? "store-error" : interrupted ? "interrupted" : failed_total ? "failed" : "done";
  code = c->store_error ? DS_EXIT_STORE : interrupted ? DS_EXIT_INTERRUPTED : failed_total ? DS_EXIT_FAILED_TRIALS : 0;
  if (!interrupted && !c->store_error && done_total + failed_total < c->spec->n_trials) {
    how = "incomplete";
    code = DS_EXIT_STORE;
  }
  ds_store_begin(c->store);
  if (c->fronts && !c->store_error) ds_fronts_sync(c->fronts, 1);
  ds_store_campaign_status(c->store, c->campaign_id, interrupted ? "interrupted" : code == 0 ? "done" : code == 4 ? "failed" : "incomplete");
  ds_store_run_end(c->store, c->run_id, how, code, c->done_run, c->failed_run);
  ds_store_update_view(c->store, c->campaign_id, c->spec->name, c->spec);
  if (ds_store_commit(c->store)) {
    snprintf(err, sizeof err, "%s", ds_store_errmsg(c->store));
    code = DS_EXIT_STORE;
  }
  *abandoned = c->abandoned;
  if (!o->quiet) {
    double dt = mono() - t_begin;
    fprintf(stderr, "divsweep: %s %s: %lld done, %lld failed of %lld; this run %lld trials in %.2f s (%.0f/s)\n",
            c->spec->name, how, (long long)done_total, (long long)failed_total, (long long)c->spec->n_trials,
            (long long)(c->done_run + c->failed_run), dt, (double)(c->done_run + c->failed_run) / (dt > 0 ? dt : 1));
    if (interrupted) fprintf(stderr, "divsweep: interrupted; run the same command again to resume\n");
    if (failed_total && !interrupted)
      fprintf(stderr, "divsweep: %lld trials failed permanently; see: divsweep query --db %s \"SELECT trial_id, error"
              " FROM trials WHERE status = 'failed'\"\n", (long long)failed_total, o->db_path);
  }
out:
  if (err[0]) fprintf(stderr, "divsweep: %s\n", err);
  ds_trial_free(&c->trial);
  for (size_t i = 0; i < c->n_metric_names; i++) free(c->metric_names[i]);
  free(c->metric_names);
  free(c->work.v);
  free(c->shared.v);
  free(c->retry);
  free(c->retry_attempt);
  free(c->ws);
  free(c->finished);
  ds_wbuf_free(&c->wb);
  if (!c->abandoned) free(c->lw);
  ds_fronts_close(c->fronts);
  ds_store_close(c->store);
  ds_spec_free(c->spec);
  return code;
}
