/* ds_clock.h — the one monotonic clock of the worker, kernels and tests: seconds as a double.
 *
 * Invariant: CLOCK_MONOTONIC, so deadlines and durations never jump with the wall clock (NTP,
 * settimeofday); values are comparable only within one boot, never stored as dates.
 */
#ifndef DS_CLOCK_H
#define DS_CLOCK_H

#include <time.h>

static inline double ds_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif /* DS_CLOCK_H */
