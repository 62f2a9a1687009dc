/* ds__cuda.cuh — private helpers shared by the CUDA translation units of the kernel library
 * (div.cu: the "cuda" divergence backend and the device API; rl.cu: the RL kernels).
 *
 * Invariants:
 *   - Nothing here is visible outside kernels/cuda: the C side sees only the functions declared in
 *     ds_kernels.h, ds_rl.h and ds__backend.h (C linkage).
 *   - Every CUDA runtime call is checked; a failure becomes DS_ENOMEM (allocation) or DS_EIO
 *     (anything else) and the sticky per-thread error is cleared, so a machine without a driver or
 *     device reports "unavailable" instead of crashing.
 *   - Work runs on cudaStreamPerThread of the device chosen by ds_kern_cuda_bind() (default 0), and
 *     every public entry point synchronises that stream before it returns: host outputs are ready.
 */
#ifndef DS__CUDA_CUH
#define DS__CUDA_CUH

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include "ds_error.h"

/* Returns from the enclosing int function (via goto fail when `rc` is a local) on a CUDA error. */
#define DS_CU(call)                                                                 \
  do {                                                                              \
    cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError();                                                     \
      rc = e_ == cudaErrorMemoryAllocation ? DS_ENOMEM : DS_EIO;                    \
      goto fail;                                                                    \
    }                                                                               \
  } while (0)

/* Makes the bound device current on the calling host thread (0 on success, DS_EIO otherwise). */
extern "C" int ds__cuda_make_current(void);
/* 1 if p is device or managed memory (device-accessible), 0 for host memory or NULL. */
extern "C" int ds__cuda_is_device_ptr(const void *p);

/* Loads element i of a row of fp32 (bf16 = 0) or bf16 (bf16 = 1) logits as float.  The flag is
 * uniform over a launch, so the branch costs nothing measurable next to the load. */
static __device__ __forceinline__ float ds__ld(const void *p, size_t i, int bf16) {
  if (bf16) return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
  return __ldg((const float *)p + i);
}

/* Block-wide sum of one double (all threads get the result).  `sh` holds ≥ 32 doubles.  Warp
 * shuffles, then one warp over the per-warp partials; a __syncthreads() on entry protects `sh`
 * from a previous use. */
static __device__ __forceinline__ double ds__block_sum(double v, double *sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) sh[wid] = v;
  __syncthreads();
  v = threadIdx.x < (unsigned)nw ? sh[threadIdx.x] : 0.0;
  if (wid == 0)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x == 0) sh[0] = v;
  __syncthreads();
  return sh[0];
}

/* Online log-sum-exp state: the sum of exp(x − m) over the values seen, m their maximum. */
struct ds__lse {
  float m;
  float s;
};

static __device__ __forceinline__ void ds__lse_add(ds__lse &a, float x) {
  if (x > a.m) {
    a.s = (a.m == -INFINITY ? 0.0f : a.s * expf(a.m - x)) + 1.0f;
    a.m = x;
  } else if (x > -INFINITY) {
    a.s += expf(x - a.m);
  }
}

/* Block-wide merge of per-thread LSE states into (max M as float, log Σ exp(x − M) as double),
 * the two parts the CPU kernels use (cpu_impl.h row_lse_parts).  sh holds ≥ 32 doubles. */
static __device__ __forceinline__ void ds__lse_block(ds__lse a, double *sh, float *mout, double *lsum) {
  float m = a.m;
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) sh[wid] = m;
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < nw; w++) M = fmaxf(M, (float)sh[w]);
  double s = (M == -INFINITY || a.m == -INFINITY) ? 0.0 : (double)a.s * exp((double)a.m - (double)M);
  s = ds__block_sum(s, sh);
  *mout = M;
  *lsum = log(s);
}

#endif /* DS__CUDA_CUH */
