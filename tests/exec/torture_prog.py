#!/usr/bin/python3
"""The exec trial of tests/test_resume_torture.py: a deterministic "training run" that checkpoints.

argv: --marker MARK --steps N --sleep-ms MS --every K --fork MODE [--p VALUE ...]
  MARK    the torture test's unique marker; it stays in the argv of every process this program
          starts (they are forks), so the test finds them on /proc and nothing else
  N       steps; each reports a curve point {"step", "loss", "acc"} on the results fd
  MS      sleep per step (what makes an interruption land mid-trial)
  K       checkpoint every K steps into $DIVSWEEP_CHECKPOINT_DIR (atomic: write, then rename)
  MODE    what it leaves behind: none; child (a forked child that sleeps 120 s and keeps every fd);
          stubborn (the same, ignoring SIGTERM); daemon (setsid + a second fork, stdio closed)
  VALUE   the swept parameters' placeholders: they enter the state, so argv must arrive exactly

The state is (step, x, acc): x a 64-bit LCG seeded from sha256 of DIVSWEEP_PARAMS, DIVSWEEP_SEED
and the VALUEs; acc = 0.9 * acc + loss in double precision, so a resume that restores the step
but not the state ends with different metrics.  Each step is a pure function of the state, so a
run resumed from any checkpoint reports what an uninterrupted run reports, bit for bit, and a
re-reported step carries the value it had.  With DIVSWEEP_RESUMED=1 and a checkpoint it continues
from the checkpoint; on SIGTERM it saves one at the current step and exits 0.

It appends what it did to torture.journal in $DIVSWEEP_TRIAL_DIR for the test to check:
  start STEP RESUMED CKPT_EXISTED ATTEMPT  |  ckpt STEP  |  term STEP  |  end STEP
DS_TORTURE_EXEC_BREAK (inherited) breaks it on purpose, to see the test's checks fail:
  noresume  ignore the checkpoint (start over: the journal check must catch it)
  state     restore the step but not acc (the metrics must differ from the reference)
"""
import hashlib
import json
import os
import signal
import sys
import time

args = sys.argv[1:]
opt, vals = {}, []
i = 0
while i < len(args):
    if args[i] == "--p":
        vals.append(args[i + 1])
    else:
        opt[args[i]] = args[i + 1]
    i += 2
steps, sleep_s = int(opt["--steps"]), float(opt["--sleep-ms"]) / 1000.0
every, fork_mode = int(opt["--every"]), opt["--fork"]
brk = os.environ.get("DS_TORTURE_EXEC_BREAK", "")
tdir = os.environ["DIVSWEEP_TRIAL_DIR"]
ckdir = os.environ["DIVSWEEP_CHECKPOINT_DIR"]
ckpt = os.path.join(ckdir, "state.json")
res = os.fdopen(int(os.environ.get("DIVSWEEP_RESULTS_FD", "3")), "w", buffering=1)


def journal(line):
    with open(os.path.join(tdir, "torture.journal"), "a") as f:
        f.write(line + "\n")


h = hashlib.sha256(json.dumps([os.environ["DIVSWEEP_PARAMS"], os.environ["DIVSWEEP_SEED"], vals]).encode())
step, x, acc = 0, int.from_bytes(h.digest()[:8], "little") | 1, 0.0
existed = os.path.exists(ckpt)
if os.environ.get("DIVSWEEP_RESUMED") == "1" and existed and brk != "noresume":
    with open(ckpt) as f:
        st = json.load(f)
    step, x = st["step"], st["x"]
    acc = 0.0 if brk == "state" else float.fromhex(st["acc"])
journal("start %d %s %d %s" % (step, os.environ.get("DIVSWEEP_RESUMED"), existed, os.environ.get("DIVSWEEP_ATTEMPT")))


def save():
    tmp = ckpt + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step, "x": x, "acc": acc.hex()}, f)
    os.replace(tmp, ckpt)
    journal("ckpt %d" % step)


stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)

if fork_mode != "none" and os.fork() == 0:
    # The grandchild: lives on past its parent unless divsweep kills it.
    try:
        if fork_mode == "stubborn":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif fork_mode == "daemon":
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            for fd in (0, 1, 2, 3):
                try:
                    os.close(fd)
                except OSError:
                    pass
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        time.sleep(120)
    finally:
        os._exit(0)

loss = 0.0
while step < steps:
    if stop:
        save()
        journal("term %d" % step)
        sys.exit(0)
    x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    loss = 1.0 / (1.0 + step) + 0.01 * ((x >> 11) / 9007199254740992.0)
    acc = 0.9 * acc + loss
    res.write(json.dumps({"step": step, "loss": loss, "acc": acc}) + "\n")
    time.sleep(sleep_s)
    step += 1
    if step % every == 0 and step < steps:
        save()
res.write(json.dumps({"final": {"loss": loss, "acc": acc, "x_lo": x & 0xFFFF, "steps": step}}) + "\n")
journal("end %d" % step)
