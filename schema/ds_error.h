/* ds_error.h — the one table of divsweep error codes.
 *
 * Every function that can fail returns int: 0 on success or a negative DS_E* code from the table
 * below.  The same X-macro generates ds_strerror() and ds_err_name(), so a code can never lack a
 * message.  Detail (which file, JSON path or table) lives on the object that failed or in the
 * message printed to the user, never in a global.
 */
#ifndef DS_ERROR_H
#define DS_ERROR_H

#define DS_ERRNO_MAP(X)                                                   \
  X(NOMEM,    -1,  "out of memory")                                       \
  X(INVAL,    -2,  "invalid argument")                                    \
  X(SPEC,     -3,  "invalid spec")                                        \
  X(IO,       -4,  "input/output error")                                  \
  X(STORE,    -5,  "store error")                                         \
  X(BUSY,     -6,  "database is locked by another process")               \
  X(SCHEMA,   -7,  "database schema is newer than this divsweep")         \
  X(CHANGED,  -8,  "spec changed since the campaign was created")         \
  X(NOTFOUND, -9,  "not found")                                           \
  X(TIMEOUT,  -10, "trial timed out")                                     \
  X(NANINF,   -11, "trial returned a NaN or infinite metric")             \
  X(TASK,     -12, "task failed")                                         \
  X(WIRE,     -13, "malformed wire message")                              \
  X(INTR,     -14, "interrupted")                                         \
  X(NPY,      -15, "bad .npy file")                                       \
  X(UNSUP,    -16, "not supported")                                       \
  X(CRASH,    -17, "trial process crashed")                               \
  X(DAMAGED,  -18, "the database holds a state divsweep never writes")

typedef enum {
  DS_OK = 0,
#define DS_ERR_ENUM(name, code, msg) DS_E##name = code,
  DS_ERRNO_MAP(DS_ERR_ENUM)
#undef DS_ERR_ENUM
} ds_errno_t;

/* Human-readable message for a DS_E* code (static storage; never NULL). */
const char *ds_strerror(int err);
/* Symbolic name, e.g. "DS_ESPEC" (static storage; never NULL). */
const char *ds_err_name(int err);

/* Process exit codes of the command line (DESIGN.md §2). */
enum {
  DS_EXIT_OK = 0,
  DS_EXIT_USAGE = 1,
  DS_EXIT_STORE = 2,
  DS_EXIT_INTERRUPTED = 3,
  DS_EXIT_FAILED_TRIALS = 4,
  DS_EXIT_REPAIR_NEEDED = 5  /* `repair` dry run: it found changes to make (none made) */
};

#endif /* DS_ERROR_H */
