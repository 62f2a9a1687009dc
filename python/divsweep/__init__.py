"""divsweep — Python side of the divsweep sweep runner.

Standard library only at import time.  The submodules load on first use (module __getattr__):
  divsweep.kernels  fused divergence losses on numpy arrays (ctypes over libdivsweep_kernels.so)
  divsweep.torch    the same as a torch.autograd.Function / nn.Module (DivergenceLoss)
  divsweep.trial    the trial client, and divsweep.open (= divsweep.results.open), the results
                    reader, where those modules are installed.
"""
import importlib

__all__ = ["kernels", "torch", "trial", "results", "open"]

_SUBMODULES = ("kernels", "torch", "trial", "results", "_lib")


def __getattr__(name):
    if name in _SUBMODULES:
        mod = importlib.import_module("." + name, __name__)
        globals()[name] = mod
        return mod
    if name == "open":
        try:
            results = importlib.import_module(".results", __name__)
        except ModuleNotFoundError as e:
            if e.name != __name__ + ".results":
                raise
            raise AttributeError("divsweep.open needs divsweep.results, which is not installed") from None
        return results.open
    raise AttributeError("module 'divsweep' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
