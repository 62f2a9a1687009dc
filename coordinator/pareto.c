/* pareto.c — non-dominated sorting (batch and incremental), hypervolume, reference points and
 * per-configuration aggregation.  See ds_pareto.h for the contract and complexities.
 *
 * Invariants kept throughout this file:
 *   - Values are stored "minimised": a MAX objective is negated on entry and never seen again
 *     un-negated except where a result goes back to the caller in objective units (ref points).
 *   - Only finite points take part in ranking; a non-finite point's rank is -1, forever.
 *   - In a ds_pareto_t, every committed finite point is in exactly one front; fronts are stored
 *     contiguously in `forder` (front f occupies forder[fstart[f] .. fstart[f+1])), each front in
 *     lexicographic order of the minimised values.  Every member of front f > 0 is dominated by some
 *     member of front f-1; this is what makes the binary search over fronts valid.
 *   - Point indices are uint32_t (insertion order); 2^32-1 is the "none" sentinel.
 */
#include "ds_pareto.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds_error.h"

#define NONE UINT32_MAX

/* ---------------------------------------------------------------------------------------------
 * Sorting of index arrays with a context (qsort has none in C11).  Bottom-up, stable merge sort.
 * ------------------------------------------------------------------------------------------- */

typedef int (*cmp_fn)(uint32_t a, uint32_t b, const void *ctx);

static void sort_idx(uint32_t *a, uint32_t *tmp, size_t n, cmp_fn cmp, const void *ctx)
{
  uint32_t *src = a, *dst = tmp;
  for (size_t w = 1; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      size_t i = lo, j = mid, k = lo;
      /* Take from the right run only when strictly smaller: stability. */
      while (i < mid && j < hi) dst[k++] = cmp(src[j], src[i], ctx) < 0 ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    uint32_t *t = src; src = dst; dst = t;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
}

typedef struct {
  const double *v;
  size_t m;    /* row stride */
  size_t col;  /* first column compared (lex from there) */
  size_t ncol; /* columns compared */
} lexctx_t;

static int cmp_lex(uint32_t a, uint32_t b, const void *c)
{
  const lexctx_t *x = c;
  const double *pa = x->v + (size_t)a * x->m + x->col, *pb = x->v + (size_t)b * x->m + x->col;
  for (size_t j = 0; j < x->ncol; j++) {
    if (pa[j] < pb[j]) return -1;
    if (pa[j] > pb[j]) return 1;
  }
  return 0;
}

/* a dominates b (minimisation): a ≤ b everywhere and a < b somewhere. */
static int dominates(const double *a, const double *b, size_t m)
{
  int strict = 0;
  for (size_t j = 0; j < m; j++) {
    if (a[j] > b[j]) return 0;
    if (a[j] < b[j]) strict = 1;
  }
  return strict;
}

static int all_finite(const double *v, size_t m)
{
  for (size_t j = 0; j < m; j++)
    if (!isfinite(v[j])) return 0;
  return 1;
}

/* Copy values into minimised form. */
static void minimise_row(double *dst, const double *src, size_t m, const ds_pareto_sense_t *senses)
{
  for (size_t j = 0; j < m; j++)
    dst[j] = (senses && senses[j] == DS_PARETO_MAX) ? -src[j] : src[j];
}

/* ---------------------------------------------------------------------------------------------
 * ENS-BS core
 * ------------------------------------------------------------------------------------------- */

/* Does the front whose members are `mem[0..len)` (point indices into v, in lexicographic order)
 * dominate the point pv?  Works whether or not the members precede pv lexicographically. */
static int front_dominates(const double *v, size_t m, const uint32_t *mem, size_t len,
                           const double *pv)
{
  if (len == 0) return 0;
  if (m <= 2) {
    /* Members of one front, in lex order, have non-increasing last coordinate and equal last
     * coordinates only for exact duplicates.  So among the members lexicographically ≤ pv (a
     * prefix: only those can dominate it) the last one is the best candidate: binary search. */
    size_t lo = 0, hi = len;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const double *q = v + (size_t)mem[mid] * m;
      int le = q[0] < pv[0] || (q[0] == pv[0] && (m == 1 || q[1] <= pv[1]));
      if (le) lo = mid + 1; else hi = mid;
    }
    if (lo == 0) return 0;
    return dominates(v + (size_t)mem[lo - 1] * m, pv, m);
  }
  /* Scan from the back: later members are the likelier dominators (ENS). */
  for (size_t i = len; i-- > 0;)
    if (dominates(v + (size_t)mem[i] * m, pv, m)) return 1;
  return 0;
}

/* Rank the finite points idx[0..cnt) of v (row stride m, minimised).  On return idx is sorted
 * lexicographically, rank[idx[i]] is each point's front (0-based) and, when `forder` is given,
 * forder[0..cnt) holds the points grouped by front (front f at fstart[f]..fstart[f+1]), lex order
 * within a front; fstart needs room for cnt+1 entries.  Returns the number of fronts or DS_ENOMEM. */
static long nds_core(const double *v, size_t m, uint32_t *idx, size_t cnt, int32_t *rank,
                     uint32_t *forder, size_t *fstart)
{
  long ret = DS_ENOMEM;
  uint32_t *tmp = NULL;
  size_t *len = NULL;
  if (cnt == 0) {
    if (fstart) fstart[0] = 0;
    return 0;
  }
  tmp = malloc(cnt * sizeof *tmp);
  if (!tmp) goto fail;
  lexctx_t c = {v, m, 0, m};
  sort_idx(idx, tmp, cnt, cmp_lex, &c);

  /* Each front is a growable array of its members (in lex order, since points arrive in lex
   * order); front_dominates binary-searches or scans it. */
  size_t nf = 0, capf = 16;
  uint32_t **mem = malloc(capf * sizeof *mem);
  size_t *mcap = malloc(capf * sizeof *mcap);
  len = malloc(capf * sizeof *len);
  if (!mem || !mcap || !len) {
    free(mem); free(mcap);
    goto fail;
  }
  for (size_t i = 0; i < cnt; i++) {
    uint32_t p = idx[i];
    const double *pv = v + (size_t)p * m;
    size_t lo = 0, hi = nf;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      /* Every member precedes p lexicographically here, so for m ≤ 2 the front's last member
       * is the only candidate that matters (see front_dominates): O(1) per probe. */
      int dom = m <= 2 ? dominates(v + (size_t)mem[mid][len[mid] - 1] * m, pv, m)
                       : front_dominates(v, m, mem[mid], len[mid], pv);
      if (dom) lo = mid + 1; else hi = mid;
    }
    if (lo == nf) {
      if (nf == capf) {
        size_t nc = capf * 2;
        uint32_t **m2 = realloc(mem, nc * sizeof *m2);
        if (m2) mem = m2;
        size_t *c2 = realloc(mcap, nc * sizeof *c2);
        if (c2) mcap = c2;
        size_t *l2 = realloc(len, nc * sizeof *l2);
        if (l2) len = l2;
        if (!m2 || !c2 || !l2) goto fail_fronts;
        capf = nc;
      }
      mem[nf] = malloc(4 * sizeof **mem);
      if (!mem[nf]) goto fail_fronts;
      mcap[nf] = 4;
      len[nf] = 0;
      nf++;
    }
    if (len[lo] == mcap[lo]) {
      uint32_t *g = realloc(mem[lo], 2 * mcap[lo] * sizeof *g);
      if (!g) goto fail_fronts;
      mem[lo] = g;
      mcap[lo] *= 2;
    }
    mem[lo][len[lo]++] = p;
    rank[p] = (int32_t)lo;
  }
  if (forder) {
    size_t o = 0;
    for (size_t f = 0; f < nf; f++) {
      fstart[f] = o;
      memcpy(forder + o, mem[f], len[f] * sizeof *forder);
      o += len[f];
    }
    fstart[nf] = o;
  }
  ret = (long)nf;
fail_fronts:
  for (size_t f = 0; f < nf; f++) free(mem[f]);
  free(mem);
  free(mcap);
fail:
  free(len);
  free(tmp);
  return ret;
}

int ds_pareto_rank(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                   int32_t *ranks, size_t *n_fronts)
{
  int rc = DS_ENOMEM;
  double *v = NULL;
  uint32_t *idx = NULL;
  if (n_fronts) *n_fronts = 0;
  if (m == 0 || n >= NONE || (n > 0 && (!values || !ranks))) return DS_EINVAL;
  if (n == 0) return 0;
  v = malloc(n * m * sizeof *v);
  idx = malloc(n * sizeof *idx);
  if (!v || !idx) goto fail;
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++) {
    minimise_row(v + i * m, values + i * m, m, senses);
    if (all_finite(v + i * m, m)) idx[cnt++] = (uint32_t)i;
    ranks[i] = -1;
  }
  long nf = nds_core(v, m, idx, cnt, ranks, NULL, NULL);
  if (nf < 0) { rc = (int)nf; goto fail; }
  if (n_fronts) *n_fronts = (size_t)nf;
  rc = 0;
fail:
  free(v);
  free(idx);
  return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Hypervolume (minimised, finite points strictly better than ref in every objective)
 * ------------------------------------------------------------------------------------------- */

/* Insert (a, b) into the 2-D staircase sx/sy (x ascending, y strictly descending, all < ref) and
 * return the area it adds: ∫_a^{rx} max(0, g(x) − b) dx with g the staircase's lower envelope
 * (ry where it is empty).  Points it weakly dominates are removed. */
static double stair_insert(double *sx, double *sy, size_t *plen, double a, double b, double rx,
                           double ry)
{
  size_t len = *plen, lo = 0, hi = len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (sx[mid] < a) lo = mid + 1; else hi = mid;
  }
  size_t pos = lo;
  if (pos > 0 && sy[pos - 1] <= b) return 0.0;             /* covered from the left */
  if (pos < len && sx[pos] == a && sy[pos] <= b) return 0.0; /* covered at the same x */
  double g = pos > 0 ? sy[pos - 1] : ry, cx = a, add = 0.0;
  size_t end = pos;
  while (end < len && sy[end] >= b) {
    add += (sx[end] - cx) * (g - b);
    cx = sx[end];
    g = sy[end];
    end++;
  }
  add += ((end < len ? sx[end] : rx) - cx) * (g - b);
  /* Replace [pos, end) by the new point. */
  if (end == pos) {
    memmove(sx + pos + 1, sx + pos, (len - pos) * sizeof *sx);
    memmove(sy + pos + 1, sy + pos, (len - pos) * sizeof *sy);
    len++;
  } else if (end > pos + 1) {
    memmove(sx + pos + 1, sx + end, (len - end) * sizeof *sx);
    memmove(sy + pos + 1, sy + end, (len - end) * sizeof *sy);
    len -= end - pos - 1;
  }
  sx[pos] = a;
  sy[pos] = b;
  *plen = len;
  return add;
}

static int hv_rec(const double *pts, size_t cnt, size_t m, const double *ref, double *out);

/* Drop points dominated by (or duplicating) another; returns the new count.  O(cnt² m). */
static size_t filter_nd(double *pts, size_t cnt, size_t m)
{
  size_t k = 0;
  for (size_t i = 0; i < cnt; i++) {
    const double *p = pts + i * m;
    int drop = 0;
    for (size_t j = 0; j < cnt && !drop; j++) {
      if (j == i) continue;
      const double *q = pts + j * m;
      if (dominates(q, p, m)) drop = 1;
      else if (j < i && memcmp(q, p, m * sizeof *p) == 0) drop = 1; /* keep the first duplicate */
    }
    if (!drop) {
      if (k != i) memmove(pts + k * m, p, m * sizeof *p);
      k++;
    }
  }
  return k;
}

static int hv_rec(const double *pts, size_t cnt, size_t m, const double *ref, double *out)
{
  int rc = DS_ENOMEM;
  uint32_t *idx = NULL, *tmp = NULL;
  double *sx = NULL, *sy = NULL, *slice = NULL;
  *out = 0.0;
  if (cnt == 0) return 0;
  if (m == 1) {
    double best = pts[0];
    for (size_t i = 1; i < cnt; i++)
      if (pts[i] < best) best = pts[i];
    *out = ref[0] - best;
    return 0;
  }
  idx = malloc(cnt * sizeof *idx);
  tmp = malloc(cnt * sizeof *tmp);
  if (!idx || !tmp) goto fail;
  for (size_t i = 0; i < cnt; i++) idx[i] = (uint32_t)i;
  double hv = 0.0;
  if (m == 2) {
    lexctx_t c = {pts, 2, 0, 2};
    sort_idx(idx, tmp, cnt, cmp_lex, &c);
    double ymin = ref[1];
    for (size_t i = 0; i < cnt; i++) {
      const double *p = pts + (size_t)idx[i] * 2;
      if (p[1] < ymin) ymin = p[1];
      double next = i + 1 < cnt ? pts[(size_t)idx[i + 1] * 2] : ref[0];
      hv += (next - p[0]) * (ref[1] - ymin);
    }
  } else if (m == 3) {
    lexctx_t c = {pts, 3, 2, 1};
    sort_idx(idx, tmp, cnt, cmp_lex, &c);
    sx = malloc(cnt * sizeof *sx);
    sy = malloc(cnt * sizeof *sy);
    if (!sx || !sy) goto fail;
    size_t len = 0;
    double area = 0.0;
    for (size_t i = 0; i < cnt; i++) {
      const double *p = pts + (size_t)idx[i] * 3;
      area += stair_insert(sx, sy, &len, p[0], p[1], ref[0], ref[1]);
      double next = i + 1 < cnt ? pts[(size_t)idx[i + 1] * 3 + 2] : ref[2];
      hv += area * (next - p[2]);
    }
  } else {
    /* Slice on the last objective: between consecutive values z_i and z_{i+1} the cross-section
     * is the (m-1)-D hypervolume of the points with z ≤ z_i. */
    lexctx_t c = {pts, m, m - 1, 1};
    sort_idx(idx, tmp, cnt, cmp_lex, &c);
    size_t d = m - 1;
    slice = malloc(cnt * d * sizeof *slice);
    if (!slice) goto fail;
    size_t ns = 0;
    for (size_t i = 0; i < cnt; i++) {
      const double *p = pts + (size_t)idx[i] * m;
      memcpy(slice + ns * d, p, d * sizeof *p);
      ns++;
      double next = i + 1 < cnt ? pts[(size_t)idx[i + 1] * m + d] : ref[d];
      if (next == p[d]) continue; /* zero-height slab: defer to the last point of the tie */
      /* Dominated points never change a hypervolume; dropping them keeps deep recursions small.
       * For d == 3 the sweep already ignores them cheaply, so only filter above that. */
      if (d >= 4) ns = filter_nd(slice, ns, d);
      double sub;
      rc = hv_rec(slice, ns, d, ref, &sub);
      if (rc) goto fail;
      hv += sub * (next - p[d]);
    }
  }
  *out = hv;
  rc = 0;
fail:
  free(idx);
  free(tmp);
  free(sx);
  free(sy);
  free(slice);
  return rc;
}

int ds_pareto_hypervolume(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                          const double *ref, double *hv)
{
  int rc = DS_ENOMEM;
  double *pts = NULL, *r = NULL;
  if (hv) *hv = 0.0;
  if (!hv || m == 0 || !ref || n >= NONE || (n > 0 && !values)) return DS_EINVAL;
  if (!all_finite(ref, m)) return DS_EINVAL;
  r = malloc(m * sizeof *r);
  pts = malloc((n ? n : 1) * m * sizeof *pts);
  if (!r || !pts) goto fail;
  minimise_row(r, ref, m, senses);
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++) {
    double *p = pts + cnt * m;
    minimise_row(p, values + i * m, m, senses);
    int in = all_finite(p, m);
    for (size_t j = 0; in && j < m; j++)
      if (!(p[j] < r[j])) in = 0;
    if (in) cnt++;
  }
  if (m >= 4) cnt = filter_nd(pts, cnt, m);
  rc = hv_rec(pts, cnt, m, r, hv);
fail:
  free(pts);
  free(r);
  return rc;
}

int ds_pareto_ref_point(const double *values, size_t n, size_t m, const ds_pareto_sense_t *senses,
                        double margin, double *ref)
{
  if (m == 0 || !ref || (n > 0 && !values) || !isfinite(margin) || margin < 0) return DS_EINVAL;
  int any = 0;
  for (size_t j = 0; j < m; j++) ref[j] = NAN;
  /* Work in minimised units: worst = max, best = min over finite points. */
  for (size_t j = 0; j < m; j++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
      const double *row = values + i * m;
      if (!all_finite(row, m)) continue;
      double x = (senses && senses[j] == DS_PARETO_MAX) ? -row[j] : row[j];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (hi < lo) return DS_ENOTFOUND;
    any = 1;
    double range = hi - lo;
    double shift = range > 0 ? margin * range : margin * (fabs(hi) > 1.0 ? fabs(hi) : 1.0);
    double r = hi + shift;
    ref[j] = (senses && senses[j] == DS_PARETO_MAX) ? -r : r;
  }
  return any ? 0 : DS_ENOTFOUND;
}

/* ---------------------------------------------------------------------------------------------
 * Incremental object
 * ------------------------------------------------------------------------------------------- */

struct ds_pareto {
  size_t m;
  ds_pareto_sense_t *senses;
  size_t n, cap;          /* points added; capacity of the per-point arrays */
  size_t n_committed;     /* points [n_committed, n) are staged */
  double *v;              /* [cap*m] minimised values */
  int64_t *id;            /* [cap] */
  int32_t *rank;          /* [cap] */
  uint32_t *forder;       /* [cap] committed finite points grouped by front */
  size_t *fstart;         /* [cap+1] front f at forder[fstart[f] .. fstart[f+1]) */
  size_t nf;              /* fronts */
  uint32_t *hslot;        /* id hash: open addressing, index+1, 0 = empty */
  size_t hcap;            /* power of two */
  ds_pareto_change_t *chg;
  size_t nchg, chgcap;
};

static uint64_t mix64(uint64_t x)
{
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27; x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Slot of id, or of the empty slot where it would go. */
static size_t hfind(const ds_pareto_t *p, int64_t id)
{
  size_t mask = p->hcap - 1, s = (size_t)mix64((uint64_t)id) & mask;
  while (p->hslot[s] && p->id[p->hslot[s] - 1] != id) s = (s + 1) & mask;
  return s;
}

static int hgrow(ds_pareto_t *p, size_t want)
{
  if (want * 2 <= p->hcap) return 0;
  size_t nc = p->hcap ? p->hcap : 64;
  while (want * 2 > nc) nc *= 2;
  uint32_t *old = p->hslot;
  size_t oc = p->hcap;
  p->hslot = calloc(nc, sizeof *p->hslot);
  if (!p->hslot) {
    p->hslot = old;
    return DS_ENOMEM;
  }
  p->hcap = nc;
  for (size_t s = 0; s < oc; s++)
    if (old[s]) p->hslot[hfind(p, p->id[old[s] - 1])] = old[s];
  free(old);
  return 0;
}

int ds_pareto_init(ds_pareto_t **out, size_t m, const ds_pareto_sense_t *senses)
{
  ds_pareto_t *p = NULL;
  if (!out) return DS_EINVAL;
  *out = NULL;
  if (m == 0) return DS_EINVAL;
  p = calloc(1, sizeof *p);
  if (!p) goto fail;
  p->m = m;
  p->senses = malloc(m * sizeof *p->senses);
  p->fstart = calloc(1, sizeof *p->fstart);
  if (!p->senses || !p->fstart) goto fail;
  for (size_t j = 0; j < m; j++) p->senses[j] = senses ? senses[j] : DS_PARETO_MIN;
  if (hgrow(p, 1)) goto fail;
  *out = p;
  return 0;
fail:
  ds_pareto_free(p);
  return DS_ENOMEM;
}

void ds_pareto_free(ds_pareto_t *p)
{
  if (!p) return;
  free(p->senses);
  free(p->v);
  free(p->id);
  free(p->rank);
  free(p->forder);
  free(p->fstart);
  free(p->hslot);
  free(p->chg);
  free(p);
}

static int grow_points(ds_pareto_t *p, size_t want)
{
  if (want <= p->cap) return 0;
  size_t nc = p->cap ? p->cap * 2 : 64;
  while (nc < want) nc *= 2;
  if (nc >= NONE) nc = NONE - 1;
  if (nc < want) return DS_ENOMEM;
  /* Each realloc is kept on success so a failure midway leaves consistent (larger) arrays. */
  double *v = realloc(p->v, nc * p->m * sizeof *v);
  if (!v) return DS_ENOMEM;
  p->v = v;
  int64_t *id = realloc(p->id, nc * sizeof *id);
  if (!id) return DS_ENOMEM;
  p->id = id;
  int32_t *rk = realloc(p->rank, nc * sizeof *rk);
  if (!rk) return DS_ENOMEM;
  p->rank = rk;
  uint32_t *fo = realloc(p->forder, nc * sizeof *fo);
  if (!fo) return DS_ENOMEM;
  p->forder = fo;
  size_t *fs = realloc(p->fstart, (nc + 1) * sizeof *fs);
  if (!fs) return DS_ENOMEM;
  p->fstart = fs;
  p->cap = nc;
  return 0;
}

int ds_pareto_add(ds_pareto_t *p, int64_t id, const double *values)
{
  if (!p || !values) return DS_EINVAL;
  if (p->hslot[hfind(p, id)]) return DS_EINVAL;
  if (p->n + 1 >= NONE) return DS_ENOMEM;
  if (grow_points(p, p->n + 1) || hgrow(p, p->n + 1)) return DS_ENOMEM;
  size_t i = p->n;
  minimise_row(p->v + i * p->m, values, p->m, p->senses);
  p->id[i] = id;
  p->rank[i] = -1;
  p->hslot[hfind(p, id)] = (uint32_t)i + 1;
  p->n++;
  return 0;
}

int ds_pareto_commit(ds_pareto_t *p, const ds_pareto_change_t **changes, size_t *n_changes)
{
  int rc = DS_ENOMEM;
  uint32_t *s = NULL, *sorder = NULL;
  size_t *sstart = NULL;
  if (changes) *changes = NULL;
  if (n_changes) *n_changes = 0;
  if (!p) return DS_EINVAL;
  p->nchg = 0;
  const size_t m = p->m;

  /* k = the smallest rank any new finite point would get against the committed fronts alone. */
  size_t k = p->nf, nnew = 0;
  for (size_t i = p->n_committed; i < p->n; i++) {
    const double *pv = p->v + i * m;
    if (!all_finite(pv, m)) continue;
    nnew++;
    size_t lo = 0, hi = k;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      const uint32_t *mem = p->forder + p->fstart[mid];
      if (front_dominates(p->v, m, mem, p->fstart[mid + 1] - p->fstart[mid], pv)) lo = mid + 1;
      else hi = mid;
    }
    k = lo;
  }
  if (nnew == 0) {
    p->n_committed = p->n;
    if (changes) *changes = p->chg;
    return 0;
  }

  /* S = committed points in fronts ≥ k, plus the new finite points. */
  size_t nold = p->fstart[p->nf] - p->fstart[k], cnt = nold + nnew;
  s = malloc(cnt * sizeof *s);
  sorder = malloc(cnt * sizeof *sorder);
  sstart = malloc((cnt + 1) * sizeof *sstart);
  if (!s || !sorder || !sstart) goto fail;
  memcpy(s, p->forder + p->fstart[k], nold * sizeof *s);
  size_t c = nold;
  for (size_t i = p->n_committed; i < p->n; i++)
    if (all_finite(p->v + i * m, m)) s[c++] = (uint32_t)i;
  assert(c == cnt);
  size_t need = p->nchg + cnt;
  if (need > p->chgcap) {
    ds_pareto_change_t *g = realloc(p->chg, need * sizeof *g);
    if (!g) goto fail;
    p->chg = g;
    p->chgcap = need;
  }

  /* Rank S on its own into a scratch copy of the ranks: a failure must leave p untouched. */
  int32_t *rtmp = malloc(p->n * sizeof *rtmp);
  if (!rtmp) goto fail;
  long nfs = nds_core(p->v, m, s, cnt, rtmp, sorder, sstart);
  if (nfs < 0) {
    free(rtmp);
    goto fail;
  }
  /* Nothing can fail from here on. */
  for (size_t i = 0; i < cnt; i++) {
    uint32_t q = s[i];
    int32_t nr = (int32_t)k + rtmp[q];
    if (nr != p->rank[q]) {
      p->chg[p->nchg++] = (ds_pareto_change_t){p->id[q], p->rank[q], nr};
    }
    p->rank[q] = nr;
  }
  free(rtmp);
  memcpy(p->forder + p->fstart[k], sorder, cnt * sizeof *sorder);
  for (long f = 0; f <= nfs; f++) p->fstart[k + (size_t)f] = p->fstart[k] + sstart[f];
  p->nf = k + (size_t)nfs;
  p->n_committed = p->n;
  if (changes) *changes = p->chg;
  if (n_changes) *n_changes = p->nchg;
  rc = 0;
fail:
  free(s);
  free(sorder);
  free(sstart);
  return rc;
}

size_t ds_pareto_count(const ds_pareto_t *p) { return p ? p->n : 0; }

size_t ds_pareto_n_fronts(const ds_pareto_t *p) { return p ? p->nf : 0; }

int ds_pareto_get(const ds_pareto_t *p, size_t i, int64_t *id, int32_t *rank)
{
  if (!p || i >= p->n) return DS_EINVAL;
  if (id) *id = p->id[i];
  if (rank) *rank = p->rank[i];
  return 0;
}

int ds_pareto_rank_of(const ds_pareto_t *p, int64_t id, int32_t *rank)
{
  if (!p) return DS_EINVAL;
  uint32_t s = p->hslot[hfind(p, id)];
  if (!s) return DS_ENOTFOUND;
  if (rank) *rank = p->rank[s - 1];
  return 0;
}

int ds_pareto_front(const ds_pareto_t *p, size_t r, const uint32_t **idx, size_t *len)
{
  if (!p || r >= p->nf) return DS_EINVAL;
  if (idx) *idx = p->forder + p->fstart[r];
  if (len) *len = p->fstart[r + 1] - p->fstart[r];
  return 0;
}

/* Committed finite points (or only front 0) in objective units, for the batch helpers. */
static int gather(const ds_pareto_t *p, int front0_only, double **out, size_t *cnt)
{
  size_t m = p->m, a = 0, b = p->nf ? (front0_only ? p->fstart[1] : p->fstart[p->nf]) : 0;
  double *x = malloc((b - a ? b - a : 1) * m * sizeof *x);
  if (!x) return DS_ENOMEM;
  for (size_t i = a; i < b; i++) {
    const double *src = p->v + (size_t)p->forder[i] * m;
    for (size_t j = 0; j < m; j++)
      x[(i - a) * m + j] = p->senses[j] == DS_PARETO_MAX ? -src[j] : src[j];
  }
  *out = x;
  *cnt = b - a;
  return 0;
}

int ds_pareto_front_hypervolume(const ds_pareto_t *p, const double *ref, double *hv)
{
  double *x = NULL;
  size_t cnt = 0;
  if (hv) *hv = 0.0;
  if (!p || !ref || !hv) return DS_EINVAL;
  int rc = gather(p, 1, &x, &cnt);
  if (!rc) rc = ds_pareto_hypervolume(x, cnt, p->m, p->senses, ref, hv);
  free(x);
  return rc;
}

int ds_pareto_front_ref_point(const ds_pareto_t *p, double margin, double *ref)
{
  double *x = NULL;
  size_t cnt = 0;
  if (!p || !ref) return DS_EINVAL;
  int rc = gather(p, 0, &x, &cnt);
  if (!rc) rc = ds_pareto_ref_point(x, cnt, p->m, p->senses, margin, ref);
  free(x);
  return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Aggregation
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  const char *const *keys;
} keyctx_t;

static int cmp_key(uint32_t a, uint32_t b, const void *c)
{
  const keyctx_t *x = c;
  const char *ka = x->keys[a] ? x->keys[a] : "", *kb = x->keys[b] ? x->keys[b] : "";
  return strcmp(ka, kb);
}

static int cmp_first(uint32_t a, uint32_t b, const void *c)
{
  const size_t *first = c;
  return first[a] < first[b] ? -1 : first[a] > first[b];
}

void ds_pareto_agg_free(ds_pareto_agg_t *g)
{
  if (!g) return;
  free(g->key);
  free(g->first);
  free(g->n_trials);
  free(g->n_finite);
  free(g->mean);
  free(g->std);
  free(g->min);
  free(g->max);
  free(g->config_of);
  free(g);
}

int ds_pareto_aggregate(const char *const *keys, const double *values, size_t n, size_t m,
                        ds_pareto_agg_t **out)
{
  int rc = DS_ENOMEM;
  ds_pareto_agg_t *g = NULL;
  uint32_t *idx = NULL, *tmp = NULL, *gorder = NULL, *gtmp = NULL;
  size_t *gstart = NULL, *gfirst = NULL;
  if (!out) return DS_EINVAL;
  *out = NULL;
  if (m == 0 || n >= NONE || (n > 0 && (!keys || !values))) return DS_EINVAL;
  size_t cap = n ? n : 1;
  g = calloc(1, sizeof *g);
  if (!g) goto fail;
  g->m = m;
  idx = malloc(cap * sizeof *idx);
  tmp = malloc(cap * sizeof *tmp);
  gstart = malloc((cap + 1) * sizeof *gstart);
  gfirst = malloc(cap * sizeof *gfirst);
  g->config_of = malloc(cap * sizeof *g->config_of);
  if (!idx || !tmp || !gstart || !gfirst || !g->config_of) goto fail;
  for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
  keyctx_t kc = {keys};
  sort_idx(idx, tmp, n, cmp_key, &kc); /* stable: each group lists its trials in input order */
  size_t ng = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 || cmp_key(idx[i - 1], idx[i], &kc) != 0) {
      gstart[ng] = i;
      gfirst[ng] = idx[i];
      ng++;
    }
  }
  gstart[ng] = n;
  /* Renumber groups by first appearance. */
  gorder = malloc(cap * sizeof *gorder);
  gtmp = malloc(cap * sizeof *gtmp);
  if (!gorder || !gtmp) goto fail;
  for (size_t q = 0; q < ng; q++) gorder[q] = (uint32_t)q;
  sort_idx(gorder, gtmp, ng, cmp_first, gfirst);

  size_t gc = ng ? ng : 1;
  g->n_configs = ng;
  g->key = malloc(gc * sizeof *g->key);
  g->first = malloc(gc * sizeof *g->first);
  g->n_trials = malloc(gc * sizeof *g->n_trials);
  g->n_finite = calloc(gc * m, sizeof *g->n_finite);
  g->mean = malloc(gc * m * sizeof *g->mean);
  g->std = malloc(gc * m * sizeof *g->std);
  g->min = malloc(gc * m * sizeof *g->min);
  g->max = malloc(gc * m * sizeof *g->max);
  if (!g->key || !g->first || !g->n_trials || !g->n_finite || !g->mean || !g->std || !g->min ||
      !g->max)
    goto fail;
  for (size_t c = 0; c < ng; c++) {
    size_t q = gorder[c], a = gstart[q], b = gstart[q + 1];
    g->key[c] = keys[gfirst[q]];
    g->first[c] = gfirst[q];
    g->n_trials[c] = b - a;
    for (size_t i = a; i < b; i++) g->config_of[idx[i]] = c;
    for (size_t j = 0; j < m; j++) {
      size_t cntf = 0;
      double sum = 0, lo = INFINITY, hi = -INFINITY;
      for (size_t i = a; i < b; i++) {
        double x = values[(size_t)idx[i] * m + j];
        if (!isfinite(x)) continue;
        cntf++;
        sum += x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      size_t o = c * m + j;
      g->n_finite[o] = cntf;
      if (cntf == 0) {
        g->mean[o] = g->std[o] = g->min[o] = g->max[o] = NAN;
        continue;
      }
      double mean = sum / (double)cntf, ss = 0;
      /* Two-pass variance: exact enough and immune to the cancellation of Σx² − n·mean². */
      for (size_t i = a; i < b; i++) {
        double x = values[(size_t)idx[i] * m + j];
        if (isfinite(x)) ss += (x - mean) * (x - mean);
      }
      g->mean[o] = mean;
      g->std[o] = cntf > 1 ? sqrt(ss / (double)(cntf - 1)) : 0.0;
      g->min[o] = lo;
      g->max[o] = hi;
    }
  }
  *out = g;
  g = NULL;
  rc = 0;
fail:
  ds_pareto_agg_free(g);
  free(idx);
  free(tmp);
  free(gstart);
  free(gfirst);
  free(gorder);
  free(gtmp);
  return rc;
}
