"""_lib — finds and loads libdivsweep_kernels.so once, and declares its C signatures (ctypes).

Search order: $DIVSWEEP_LIB (a file), then beside this package (an installed tree:
<prefix>/lib/python3/dist-packages/divsweep -> <prefix>/lib), then the build trees of a
source checkout (build*/kernels/), then the system loader (ldconfig paths, LD_LIBRARY_PATH).
"""
import ctypes
import ctypes.util
import glob
import os
import threading

_NAME = "libdivsweep_kernels.so"
_lock = threading.Lock()
_lib = None


def _candidates():
    env = os.environ.get("DIVSWEEP_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, _NAME)
    # installed: <prefix>/lib/python3/dist-packages/divsweep, library in <prefix>/lib[/<multiarch>]
    prefix = os.path.normpath(os.path.join(here, "..", "..", "..", ".."))
    libdir = os.path.join(prefix, "lib")
    dirs = [libdir, os.path.join(prefix, "lib64")]
    if os.path.isdir(libdir):
        dirs += [os.path.join(libdir, m) for m in sorted(os.listdir(libdir)) if m.endswith("-linux-gnu")]
    for d in dirs:
        yield os.path.join(d, _NAME)
    # source checkout: python/divsweep -> <repo>/build*/kernels
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    for p in sorted(glob.glob(os.path.join(repo, "build*", "kernels", _NAME))):
        yield p
    found = ctypes.util.find_library("divsweep_kernels")
    if found:
        yield found


def _declare(lib):
    c = ctypes
    lib.ds_div_run.restype = c.c_int
    lib.ds_div_run.argtypes = [
        c.c_char_p, c.c_char_p, c.c_char_p, c.c_size_t, c.c_size_t,      # backend div params rows vocab
        c.c_size_t, c.POINTER(c.c_void_p), c.c_void_p, c.c_char_p,       # K teacher weights mix
        c.c_void_p, c.c_double, c.c_double, c.c_int,                     # student tT tS t2
        c.c_char_p, c.c_void_p, c.c_int, c.c_int,                        # reduction mask threads dtype
        c.POINTER(c.c_double), c.c_void_p, c.c_void_p,                   # loss row_loss grad
        c.c_char_p, c.c_size_t]                                          # err err_len
    lib.ds_kern_cuda_device_count.restype = c.c_int
    lib.ds_kern_cuda_device_count.argtypes = []
    lib.ds_kern_backend_get.restype = c.c_void_p
    lib.ds_kern_backend_get.argtypes = [c.c_char_p]
    lib.ds_kern_backend_name.restype = c.c_char_p
    lib.ds_kern_backend_name.argtypes = [c.c_void_p]
    return lib


def load():
    """The loaded library (cached).  Raises OSError naming every path tried."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            tried = []
            for p in _candidates():
                if os.sep in p and not os.path.exists(p):
                    tried.append(p)
                    continue
                try:
                    _lib = _declare(ctypes.CDLL(p))
                    _lib._path = p
                    break
                except OSError as e:
                    tried.append("%s (%s)" % (p, e))
            if _lib is None:
                raise OSError("divsweep: cannot find %s; set DIVSWEEP_LIB or build it "
                              "(cmake --build build); tried: %s" % (_NAME, ", ".join(tried)))
    return _lib


def backend_name(name="cpu"):
    """The library's name for a backend ("cpu-avx2", ...), or None when it is not available."""
    lib = load()
    be = lib.ds_kern_backend_get(name.encode())
    return lib.ds_kern_backend_name(be).decode() if be else None
