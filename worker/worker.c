/* worker.c — the MPI worker loop of ranks 1..N−1.
 *
 * The worker receives TRIAL messages (each holds up to a few hundred trials) from rank 0, queues
 * them, runs them one at a time in the order received and returns RESULT messages, batching the
 * results of fast trials (until ~28 KB, 2 ms, or nothing is left to run) so that trivial trials
 * do not cost one MPI message each.  Results go out with MPI_Isend on a few rotating buffers, so
 * the worker never waits for rank 0 to receive them.
 *
 * Cheap waiting matters as much as cheap work (DESIGN.md §8: three ranks share two cores): the
 * worker looks for new messages only when its queue runs dry or every millisecond (each probe is
 * a trip through Open MPI's progress engine, which may yield the CPU), and an idle worker sleeps
 * in growing naps instead of spinning.  During a long trial the task's cooperative stop check
 * probes for STOP every 50 ms.  On STOP it drops queued trials, answers STOP (its goodbye: every
 * RESULT it sent precedes it) and returns.  SIGINT/SIGTERM only set ds_worker_cancel: the
 * coordinator decides when the job ends.
 */
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_error.h"
#include "ds_task.h"

#define OUT_BYTES 28000   /* a RESULT message is sent once it is this large */
#define OUT_AGE_S 0.002   /* ... or once its oldest result is this old */
#define NSEND 4           /* rotating result buffers */

typedef struct inbox {
  uint8_t **msgs;
  ds_rbuf_t *rd;
  size_t head, tail, cap;
} inbox_t;

typedef struct wstate {
  MPI_Comm comm;
  inbox_t in;
  int stop;
  ds_wbuf_t out[NSEND];
  MPI_Request req[NSEND];
  int cur;                /* the buffer being filled */
} wstate_t;

static int inbox_push(inbox_t *q, uint8_t *msg, size_t len) {
  if (q->tail == q->cap) {
    if (q->head > 0) { /* compact */
      memmove(q->msgs, q->msgs + q->head, (q->tail - q->head) * sizeof *q->msgs);
      memmove(q->rd, q->rd + q->head, (q->tail - q->head) * sizeof *q->rd);
      q->tail -= q->head;
      q->head = 0;
    } else {
      size_t cap = q->cap ? 2 * q->cap : 16;
      uint8_t **m = realloc(q->msgs, cap * sizeof *m);
      if (!m) return DS_ENOMEM;
      q->msgs = m;
      ds_rbuf_t *r = realloc(q->rd, cap * sizeof *r);
      if (!r) return DS_ENOMEM;
      q->rd = r;
      q->cap = cap;
    }
  }
  if (ds_wire_open(&q->rd[q->tail], msg, len)) return DS_EWIRE;
  q->msgs[q->tail++] = msg;
  return 0;
}

/* Receives one pending message from rank 0 (the caller probed it). */
static int recv_one(wstate_t *w, MPI_Status *st) {
  int len;
  MPI_Get_count(st, MPI_BYTE, &len);
  uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
  if (!buf) return DS_ENOMEM;
  MPI_Recv(buf, len, MPI_BYTE, 0, st->MPI_TAG, w->comm, MPI_STATUS_IGNORE);
  if (st->MPI_TAG == DS_TAG_STOP) {
    free(buf);
    w->stop = 1;
    return 0;
  }
  int rc = inbox_push(&w->in, buf, (size_t)len);
  if (rc) free(buf);
  return rc;
}

static int drain(wstate_t *w) {
  while (!w->stop) {
    int flag;
    MPI_Status st;
    MPI_Iprobe(0, MPI_ANY_TAG, w->comm, &flag, &st);
    if (!flag) return 0;
    int rc = recv_one(w, &st);
    if (rc) return rc;
  }
  return 0;
}

/* The task's stop probe: has rank 0 sent STOP? */
static int stop_probe(void *arg) {
  wstate_t *w = arg;
  int flag;
  MPI_Iprobe(0, DS_TAG_STOP, w->comm, &flag, MPI_STATUS_IGNORE);
  return flag;
}

static void nap(long ns) {
  struct timespec ts = {0, ns};
  nanosleep(&ts, NULL);
}

/* Sends the RESULT buffer being filled and moves to the next one, waiting (with naps) only if
 * all NSEND are still on their way. */
static int flush(wstate_t *w) {
  ds_wbuf_t *out = &w->out[w->cur];
  int rc = ds_wire_end(out);
  if (rc) return rc;
  MPI_Isend(out->data, (int)out->len, MPI_BYTE, 0, DS_TAG_RESULT, w->comm, &w->req[w->cur]);
  w->cur = (w->cur + 1) % NSEND;
  for (long ns = 20000;;) {
    int done;
    MPI_Test(&w->req[w->cur], &done, MPI_STATUS_IGNORE);
    if (done) break;
    nap(ns);
    if (ns < 1000000) ns *= 2;
  }
  ds_wire_begin(&w->out[w->cur], DS_MSG_RESULT);
  return 0;
}

int ds_worker_main(void *mpi_comm, const ds_worker_env_t *env0) {
  wstate_t w = {.comm = *(MPI_Comm *)mpi_comm};
  for (int i = 0; i < NSEND; i++) w.req[i] = MPI_REQUEST_NULL;
  ds_worker_env_t env = *env0;
  env.poll = stop_probe;
  env.poll_arg = &w;
  ds_result_t res = {0};
  int rc = 0;

  ds_wbuf_t *out = &w.out[0];
  ds_wire_begin(out, DS_MSG_HELLO);
  ds_wire_put_hello(out, env.host, env.gpu, env.gpu >= 0 ? "cuda" : "cpu");
  if ((rc = ds_wire_end(out))) goto done;
  MPI_Send(out->data, (int)out->len, MPI_BYTE, 0, DS_TAG_HELLO, w.comm);

  ds_wire_begin(out, DS_MSG_RESULT);
  double first_pending = 0, last_drain = 0;
  long idle_ns = 20000;
  while (!w.stop) {
    inbox_t *q = &w.in;
    while (q->head < q->tail && q->rd[q->head].count == 0) { /* finished messages */
      free(q->msgs[q->head]);
      q->head++;
    }
    double now = ds_now_s();
    if (q->head == q->tail || now - last_drain > 0.001) {
      if ((rc = drain(&w))) goto done;
      last_drain = now;
      if (w.stop) break;
    }
    out = &w.out[w.cur];
    if (q->head == q->tail) {
      if (out->count > 0) {
        if ((rc = flush(&w))) goto done;
        continue;
      }
      /* Nothing to do: back off gently so an idle worker does not burn a core. */
      nap(idle_ns);
      if (idle_ns < 1000000) idle_ns *= 2;
      continue;
    }
    idle_ns = 20000;
    ds_wire_trial_t t;
    ds_rbuf_t *rd = &q->rd[q->head];
    if ((rc = ds_wire_get_trial(rd, &t))) goto done;
    rd->count--;
    ds_worker_run_trial(&t, &env, &res);
    if (res.status == DS_EINTR && (w.stop || stop_probe(&w))) continue; /* abandoned */
    if (out->count == 0) first_pending = ds_now_s();
    ds_wire_put_result(out, &res);
    if (out->len >= OUT_BYTES || ds_now_s() - first_pending >= OUT_AGE_S)
      if ((rc = flush(&w))) goto done;
  }
  /* Results already computed still count (a graceful stop then re-runs fewer trials). */
  if (w.out[w.cur].count > 0 && (rc = flush(&w))) goto done;
  /* Goodbye: tells rank 0 that no RESULT follows (MPI keeps this rank's messages in order). */
  out = &w.out[w.cur];
  ds_wire_begin(out, DS_MSG_STOP);
  if ((rc = ds_wire_end(out))) goto done;
  MPI_Send(out->data, (int)out->len, MPI_BYTE, 0, DS_TAG_STOP, w.comm);
done:
  for (int i = 0; i < NSEND; i++)
    if (w.req[i] != MPI_REQUEST_NULL) MPI_Wait(&w.req[i], MPI_STATUS_IGNORE);
  while (w.in.head < w.in.tail) free(w.in.msgs[w.in.head++]);
  free(w.in.msgs);
  free(w.in.rd);
  for (int i = 0; i < NSEND; i++) ds_wbuf_free(&w.out[i]);
  ds_result_free(&res);
  return rc;
}
