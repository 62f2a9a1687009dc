"""The trial side of divsweep's `exec` task: what a training script calls to learn its parameters
and report its metrics (standard library only).

Under divsweep the supervisor sets DIVSWEEP_PARAMS, _SEED, _ATTEMPT, _TRIAL_KEY, _TRIAL_DIR,
_CHECKPOINT_DIR, _RESUMED and _RESULTS_FD (README "Your own program"); this module reads them
and writes the protocol's JSON lines to the results fd, one os.write per line, so a line is
never torn or left in a buffer when the program is killed.  Run by hand (none of those
variables set) every call still works: params() is {} (or the defaults given), seed() 0,
attempt() 1, checkpoint_dir() ./checkpoint, resumed() whether that directory holds anything,
and report()/final() print `divsweep: {...}` lines to stderr instead of sending them anywhere.

    from divsweep import trial
    p = trial.params({"lr": 0.1, "epochs": 10})
    for epoch in range(start, p["epochs"]):
        ...
        trial.report(step=epoch, loss=loss, acc=acc)
        if trial.should_stop():        # SIGTERM: a timeout, a stop, a preemption
            save(trial.checkpoint_dir()); sys.exit(0)
    trial.final(loss=loss, acc=acc)
"""
import json
import math
import os
import signal
import sys

__all__ = ["in_divsweep", "params", "seed", "attempt", "trial_key", "trial_dir", "checkpoint_dir", "resumed",
           "report", "final", "should_stop"]

_stop = False
_handler_installed = False
_out_fd = None  # resolved on first report: the results fd, or None for stdout lines


def in_divsweep():
    """True when this process is an `exec` trial started by divsweep."""
    return "DIVSWEEP_TRIAL_KEY" in os.environ


def params(defaults=None):
    """The trial's parameters (a dict: ints stay ints, strings strings), laid over `defaults`."""
    out = dict(defaults or {})
    raw = os.environ.get("DIVSWEEP_PARAMS")
    if raw is None and os.environ.get("DIVSWEEP_PARAMS_FILE"):
        with open(os.environ["DIVSWEEP_PARAMS_FILE"]) as f:
            raw = f.read()
    if raw:
        out.update(json.loads(raw))
    return out


def _int_env(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


def seed(default=0):
    """The seed divsweep derived from the trial key (stable across attempts and resumes)."""
    return _int_env("DIVSWEEP_SEED", default)


def attempt():
    """The attempt number: 1, then 2, ... after a failure is retried."""
    return _int_env("DIVSWEEP_ATTEMPT", 1)


def trial_key():
    """The trial key, or None outside divsweep."""
    return os.environ.get("DIVSWEEP_TRIAL_KEY")


def trial_dir():
    """The trial's directory (params.json, logs, checkpoint/), or the working directory by hand."""
    return os.environ.get("DIVSWEEP_TRIAL_DIR") or os.getcwd()


def checkpoint_dir(default="checkpoint"):
    """A directory kept across attempts, stops and resumes; created if missing."""
    d = os.environ.get("DIVSWEEP_CHECKPOINT_DIR") or os.path.abspath(default)
    os.makedirs(d, exist_ok=True)
    return d


def resumed():
    """True when an earlier run of this trial was stopped or left a checkpoint."""
    v = os.environ.get("DIVSWEEP_RESUMED")
    if v is not None:
        return v == "1"
    d = os.path.abspath("checkpoint")
    return os.path.isdir(d) and bool(os.listdir(d))


def _on_term(signum, frame):
    global _stop
    _stop = True


def _install():
    global _handler_installed
    if _handler_installed:
        return
    try:
        signal.signal(signal.SIGTERM, _on_term)
        _handler_installed = True
    except ValueError:  # not the main thread: nothing to install from here
        pass


def should_stop():
    """True once SIGTERM has arrived (divsweep then waits kill_grace_s before SIGKILL: save a
    checkpoint and exit 0).  The first call installs the handler; until then SIGTERM keeps its
    default action, so call it once before the loop starts."""
    _install()
    return _stop


def _number(name, v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if hasattr(v, "item") and not isinstance(v, float):  # numpy scalar, 0-d array, torch tensor
        v = v.item()
        if isinstance(v, (bool, int)):
            return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError("divsweep.trial: metric %r is not a number: %r" % (name, v)) from None
    if not math.isfinite(f):
        raise ValueError("divsweep.trial: metric %r is not finite (%r); the trial would fail" % (name, f))
    return f


def _metrics(m):
    if not m:
        raise ValueError("divsweep.trial: nothing to report")
    out = {}
    for k, v in m.items():
        if not k or k == "step" or k == "final":
            raise ValueError("divsweep.trial: %r cannot be a metric name" % k)
        out[k] = _number(k, v)
    return out


def _resolve():
    global _out_fd
    if _out_fd is None:
        fd = os.environ.get("DIVSWEEP_RESULTS_FD")
        _out_fd = -1
        if fd:
            try:
                os.fstat(int(fd))
                _out_fd = int(fd)
            except (OSError, ValueError):
                pass
    return _out_fd


def _send(obj):
    line = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    fd = _resolve()
    if fd >= 0:
        data = (line + "\n").encode()
        while data:  # one write per line in practice (< PIPE_BUF); loop on a short one
            n = os.write(fd, data)
            data = data[n:]
    elif in_divsweep():  # the results fd was closed: the stdout protocol
        sys.stdout.write("divsweep: " + line + "\n")
        sys.stdout.flush()
    else:
        sys.stderr.write("divsweep: " + line + "\n")
        sys.stderr.flush()


def report(step=None, **metrics):
    """Reports metrics.  With `step` (a non-negative integer): curve points at that step (a step
    reported again replaces the earlier values).  Without: the trial's metrics so far (the last
    such report is the trial's result unless final() is called)."""
    m = _metrics(metrics)
    if step is None:
        _send(m)
        return
    s = _number("step", step)
    if isinstance(s, float):
        if s != math.floor(s):
            raise ValueError("divsweep.trial: step must be an integer, got %r" % step)
        s = int(s)
    if s < 0:
        raise ValueError("divsweep.trial: step must be non-negative, got %r" % step)
    out = {"step": s}
    out.update(m)
    _send(out)


def final(**metrics):
    """Sets the trial's final metrics (called again, the last call wins)."""
    _send({"final": _metrics(metrics)})
