#!/usr/bin/python3
"""A program for tests/test_exec.sh: behaves as --mode says, reporting through the exec protocol.

argv: --mode MODE --v VALUE VALUE.  It writes what it received to $DIVSWEEP_TRIAL_DIR/seen.json
(argv, the DIVSWEEP_* environment, leaked MPI variables) and the pids of every process it starts
to pids.txt there, so that the test can check both from outside."""
import json, os, signal, sys, time

mode, v = sys.argv[2], sys.argv[4]
tdir = os.environ["DIVSWEEP_TRIAL_DIR"]
params = json.loads(os.environ["DIVSWEEP_PARAMS"])
res = os.fdopen(int(os.environ["DIVSWEEP_RESULTS_FD"]), "w", buffering=1)


def note_pid(pid):
    with open(os.path.join(tdir, "pids.txt"), "a") as f:
        f.write("%d\n" % pid)


note_pid(os.getpid())
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(),
        "env": {k: os.environ[k] for k in os.environ if k.startswith("DIVSWEEP_") or k == "OMP_NUM_THREADS"},
        "leaked": sorted(k for k in os.environ if k.startswith(("OMPI_", "PMIX_", "OPAL_"))),
        "fds": sorted(int(f) for f in os.listdir("/proc/self/fd"))}
with open(os.path.join(tdir, "seen.json"), "w") as f:
    json.dump(seen, f)
ok = int(sys.argv[4] == params.get("v") and sys.argv[5] == params.get("v") and not seen["leaked"])

if mode == "ok":
    for s in range(5):
        res.write(json.dumps({"step": s * 10, "loss": 1.0 / (s + 1)}) + "\n")
    print("some ordinary output")
    print("divsweep: " + json.dumps({"final": {"ok": ok, "loss": 0.2}}))
elif mode == "stdout_only":
    print("divsweep: " + json.dumps({"step": 1, "loss": 0.5}))
    print("divsweep: " + json.dumps({"ok": ok, "loss": 0.5}))
elif mode == "exit1":
    print("something went wrong here", file=sys.stderr)
    sys.exit(1)
elif mode == "segv":
    print("about to crash", file=sys.stderr)
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGSEGV)
elif mode == "garbage":
    res.write('{"step": 1, "loss": 0.5}\n')
    res.write("this is not json\n")
    time.sleep(30)
elif mode == "nan":
    res.write(json.dumps({"final": {"loss": float("nan")}}) + "\n")
elif mode == "spew":  # 40 MiB of numbered lines on stdout: more than a log keeps
    line = "x" * 90
    w = sys.stdout.write
    for i in range(400000):
        w("%08d %s\n" % (i, line))
    print("the last line")
    res.write(json.dumps({"final": {"ok": ok}}) + "\n")
elif mode == "silent":
    print("I never report")
elif mode == "hang":
    pid = os.fork()
    if pid == 0:  # a grandchild that ignores SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    note_pid(pid)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
elif mode == "daemon":
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2, 3):
                try:
                    os.close(fd)
                except OSError:
                    pass
            time.sleep(1000)
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.3)
    # the daemon's pid: the only process whose session is not ours and whose parent is gone
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if b"prog.py" in f.read() and os.getsid(int(p)) != os.getsid(0):
                        note_pid(int(p))
            except OSError:
                pass
    res.write(json.dumps({"final": {"ok": ok}}) + "\n")
