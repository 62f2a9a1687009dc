"""divsweep.kernels — the fused divergence kernels on numpy arrays (ctypes over libdivsweep_kernels).

divergence(student, teacher, div, ...) returns (loss, grad): one fused forward+backward pass of
the C library.  Inputs are logits [..., V] (leading dimensions are rows); teacher is one array or
a list of arrays (a mixture, with weights).  See docs/python.md.

Dtypes: float32 is used in place; other real floating dtypes (float64, float16) are converted to
float32 (a copy); anything else raises ValueError.  Non-contiguous arrays are copied to C order.
NaN policy: logits are not checked; a NaN or inf in a row makes that row's loss (and so a
reduced loss) NaN, exactly as the C kernels do.  Parameter errors (unknown divergence, alpha out
of its domain, ...) raise ValueError with the library's message; nothing crashes the interpreter.
"""
import ctypes

from . import _lib

__all__ = ["divergence", "DIVERGENCES", "backend_name"]

DIVERGENCES = ("fkl", "rkl", "jsd", "skl", "srkl", "tvd", "hellinger", "chi2", "chi2n", "renyi",
               "amari", "ab", "cs", "wmix", "w1", "sinkhorn", "entropy")
REDUCTIONS = ("batchmean", "sum", "mean", "none")
MIXES = ("arithmetic", "geometric", "loss")

backend_name = _lib.backend_name


def _np():
    import numpy
    return numpy


def as_logits(x, what):
    """x as a C-contiguous float32 2-D array [rows, V] (a view when it already is one)."""
    np = _np()
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise ValueError("%s: logits must be a floating array, got dtype %s" % (what, a.dtype))
    if a.ndim == 0:
        raise ValueError("%s: logits must have at least one dimension (the vocabulary)" % what)
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a


def param_string(params):
    """{"alpha": 0.5} -> b"alpha=0.5" (the C entry point's "key=value,..." form)."""
    out = []
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValueError("parameter %s: expected a number or a name, got %r" % (k, v))
        s = repr(float(v)) if not isinstance(v, str) else v
        if "," in s or "=" in s or "," in k or "=" in k:
            raise ValueError("parameter %s=%s: ',' and '=' are not allowed" % (k, s))
        out.append("%s=%s" % (k, s))
    return ",".join(out).encode()


def run(student_ptr, teacher_ptrs, rows, vocab, div, *, temperature=1.0, t2=False,
        reduction="batchmean", weights=None, mix="arithmetic", mask_ptr=None, threads=None,
        backend="cpu", dtype=0, grad_ptr=None, row_loss_ptr=None, params=None):
    """The raw call on pointers (used by divsweep.torch): returns the reduced loss (float)."""
    lib = _lib.load()
    K = len(teacher_ptrs)
    tarr = (ctypes.c_void_p * K)(*teacher_ptrs)
    w = None
    if K > 1:
        if weights is None:
            weights = [1.0 / K] * K
        if len(weights) != K:
            raise ValueError("%d teachers need %d weights, got %d" % (K, K, len(weights)))
        w = (ctypes.c_double * K)(*[float(x) for x in weights])
    elif weights is not None and len(weights) != 1:
        raise ValueError("1 teacher needs at most 1 weight, got %d" % len(weights))
    if isinstance(temperature, (tuple, list)):
        t_teacher, t_student = (float(x) for x in temperature)
    else:
        t_teacher = t_student = float(temperature)
    loss = ctypes.c_double(0.0)
    err = ctypes.create_string_buffer(512)
    rc = lib.ds_div_run(backend.encode(), str(div).encode(), param_string(params or {}), rows, vocab,
                        K, tarr, ctypes.cast(w, ctypes.c_void_p) if w is not None else None,
                        str(mix).encode(), student_ptr, t_teacher, t_student, 1 if t2 else 0,
                        str(reduction).encode(), mask_ptr, int(threads or 0), int(dtype),
                        ctypes.byref(loss), row_loss_ptr, grad_ptr, err, len(err))
    if rc != 0:
        raise ValueError("divsweep: " + (err.value.decode(errors="replace") or "error %d" % rc))
    return loss.value


def divergence(student, teacher, div, *, temperature=1.0, t2=False, reduction="batchmean",
               weights=None, mix="arithmetic", mask=None, grad=True, threads=None, backend="cpu",
               **params):
    """Loss of D(teacher‖student) on logits, and its gradient with respect to the student logits.

    student: [..., V] logits.  teacher: array of the same shape, or a list of them (mixed by
    `weights` under `mix`: "arithmetic", "geometric", "loss").  div: "fkl", "rkl", "jsd", ... with
    its parameters as keywords (alpha=, beta=, w=, epsilon=, cost="ordinal"|"01").
    temperature: T, or a pair (T_teacher, T_student); t2 multiplies by T_student².
    reduction: "batchmean" (÷ active rows), "sum", "mean" (÷ active rows · V), "none" (the loss
    is then the per-row array, and the gradient that of their sum).
    mask: None, or [rows] booleans (False = padded row: no loss, zero gradient).
    threads: kernel threads (None: all cores, up to the library's pool size).
    Returns (loss, grad) with grad float32 shaped like student; just loss when grad=False.
    """
    np = _np()
    s = as_logits(student, "student")
    teachers = list(teacher) if isinstance(teacher, (list, tuple)) else [teacher]
    if not teachers:
        raise ValueError("need at least one teacher")
    ts = [as_logits(t, "teacher %d" % i) for i, t in enumerate(teachers)]
    for i, t in enumerate(ts):
        if t.shape != s.shape:
            raise ValueError("teacher %d has shape %s, student %s" % (i, np.shape(teachers[i]), np.shape(student)))
    rows, vocab = s.shape
    m = None
    if mask is not None:
        m = np.ascontiguousarray(np.asarray(mask).reshape(-1), dtype=np.uint8)
        if m.shape[0] != rows:
            raise ValueError("mask has %d entries, the logits %d rows" % (m.shape[0], rows))
    g = np.empty_like(s) if grad else None
    rl = np.empty(rows, dtype=np.float64) if reduction == "none" else None
    loss = run(s.ctypes.data, [t.ctypes.data for t in ts], rows, vocab, div, temperature=temperature,
               t2=t2, reduction=reduction, weights=weights, mix=mix,
               mask_ptr=m.ctypes.data if m is not None else None, threads=threads, backend=backend,
               grad_ptr=g.ctypes.data if g is not None else None,
               row_loss_ptr=rl.ctypes.data if rl is not None else None, params=params)
    if rl is not None:
        if m is not None:
            rl[m == 0] = 0.0
        loss = rl.reshape(np.shape(student)[:-1])
    if not grad:
        return loss
    return loss, g.reshape(np.shape(student))
