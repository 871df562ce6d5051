#!/usr/bin/env python3
"""Issue 5's benchmark (not a test), one run:

1. circusd's CPU while it streams stats for N processes once a second to a subscriber reading every topic,
   against the same daemon and processes with no stats stream (the difference is what stats cost).
2. Output throughput: one child writing M MB of 100-byte lines as fast as it can, with 0, 1 and 4
   `circusctl tail --follow --raw` subscribers (stdout to /dev/null; local ones read circusd's ring file, those with
   --no-local the output endpoint), with 1 and 4 pyzmq subscribers reading everything, and with one subscriber that never
   reads; the child's own time for the write is the figure.

  /usr/bin/python3 bench/live.py [--children 500] [--seconds 20] [--mbytes 200]

Needs a built tree (mvn -B -q package -DskipTests) and python3-zmq for the stats subscriber.
"""
import argparse, os, shutil, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402

HOME = core.HOME
CTL = os.path.join(HOME, "bin", "circusctl")
FLOOD = os.path.join(HOME, "it", "src", "test", "resources", "workers", "flood.py")


def stats_cpu(tmp, n, seconds, streaming):
    ep = core.endpoints()
    stats = "tcp://127.0.0.1:%d" % core.free_port()
    cfg = os.path.join(tmp, "stats-%s.ini" % streaming)
    with open(cfg, "w") as f:
        f.write(ep + ("stats_endpoint = %s\n" % stats if streaming else "")
                + "[watcher:sleepers]\ncmd = sleep 100000\nnumprocesses = %d\n" % n)
    d = core.start_circusd(cfg, cfg + ".log")
    messages = [0]
    running = [True]
    try:
        deadline = time.time() + 120
        while len(core.children(d.pid)) < n and time.time() < deadline:
            time.sleep(0.2)
        if streaming:
            import zmq
            ctx = zmq.Context()
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"stat.")
            sub.connect(stats)

            def read():
                while running[0]:
                    if sub.poll(100):
                        sub.recv_multipart()
                        messages[0] += 1
            threading.Thread(target=read, daemon=True).start()
        time.sleep(5)  # settle: spawning done, JIT warm
        m0 = messages[0]
        c0 = core.cpu_seconds(d.pid)
        t0 = time.time()
        time.sleep(seconds)
        cpu = (core.cpu_seconds(d.pid) - c0) / (time.time() - t0) * 100
        rate = (messages[0] - m0) / (time.time() - t0)
        running[0] = False
        return cpu, rate
    finally:
        core.stop(d)


SUB_READER = """
import sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 0)
s.setsockopt(zmq.SUBSCRIBE, b"output.")
s.connect(sys.argv[1])
print("ready", flush=True)
while True:
    s.recv_multipart(copy=False)
"""


def flood_time(go, took):
    before = len(open(took).read().split()) if os.path.exists(took) else 0
    open(go, "w").close()
    deadline = time.time() + 300
    while time.time() < deadline:
        if os.path.exists(took):
            v = open(took).read().split()
            if len(v) > before:
                return float(v[-1])
        time.sleep(0.02)
    sys.exit("the flood did not finish")


def stopped_tail(results, endpoint, go, took, sink):
    """A `circusctl tail --follow --no-local` that is stopped (SIGSTOP) while the child writes: the JVM reads
    nothing, its TCP window fills, and circusd must drop for it rather than slow down."""
    import signal
    t = subprocess.Popen([CTL, "--endpoint", endpoint, "tail", "flood", "--follow", "--raw", "-n", "0", "--no-local"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t.stderr.readline()  # "following ..."
    flood_time(go, took)  # warm-up
    os.truncate(sink, 0)
    os.kill(t.pid, signal.SIGSTOP)
    time.sleep(0.5)
    results.append(("1 stopped tail --no-local", flood_time(go, took)))
    os.kill(t.pid, signal.SIGCONT)
    t.terminate()
    t.wait(10)
    os.truncate(sink, 0)


def output_throughput(tmp, mbytes, only_stopped=False):
    ep = core.endpoints()
    endpoint = ep.split("endpoint = ")[1].split("\n")[0]
    go, took, sink = os.path.join(tmp, "go"), os.path.join(tmp, "took"), os.path.join(tmp, "flood.log")
    cfg = os.path.join(tmp, "output.ini")
    with open(cfg, "w") as f:
        f.write(ep + "[watcher:flood]\ncmd = %s %s %s %s %d\nstdout_stream.class = FileStream\n"
                "stdout_stream.filename = %s\n" % (sys.executable, FLOOD, go, took, mbytes, sink))
    d = core.start_circusd(cfg, cfg + ".log")
    results = []
    try:
        time.sleep(2)
        flood_time(go, took)  # warm-up
        os.truncate(sink, 0)
        results.append(("no subscriber", flood_time(go, took)))
        if only_stopped:  # alternated, five of each: the machine drifts more than the effect
            for _ in range(5):
                stopped_tail(results, endpoint, go, took, sink)
                results.append(("no subscriber", flood_time(go, took)))
            return results
        for n, extra in ((1, []), (4, []), (1, ["--no-local"]), (4, ["--no-local"])):
            tails = [subprocess.Popen([CTL, "--endpoint", endpoint, "tail", "flood", "--follow", "--raw", "-n", "0"]
                                      + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)]
            for t in tails:
                t.stderr.readline()  # "following ..."
            # as circusd was, the followers are warmed up by one flood first: a tail -f runs for hours, and the
            # first 200 MB a fresh JVM decodes are mostly the interpreter's and the JIT's
            flood_time(go, took)
            os.truncate(sink, 0)
            results.append(("%d tail --follow%s" % (n, " --no-local" if extra else ""), flood_time(go, took)))
            time.sleep(1)
            for t in tails:
                t.terminate()
                t.wait(10)
            os.truncate(sink, 0)
        import zmq
        out_ep = open(cfg + ".log").read().split("process output on ")[1].split()[0]
        # endpoint subscribers that are not JVMs (pyzmq over libzmq, as a remote consumer would be): what the
        # fan-out costs circusd itself, each one reading everything
        for n in (1, 4):
            readers = [subprocess.Popen([sys.executable, "-c", SUB_READER, out_ep], stdout=subprocess.PIPE, text=True)
                       for _ in range(n)]
            for r in readers:
                r.stdout.readline()  # "ready"
            time.sleep(0.5)
            flood_time(go, took)  # warm-up, as for the tails
            os.truncate(sink, 0)
            results.append(("%d pyzmq subscriber%s" % (n, "s" if n > 1 else ""), flood_time(go, took)))
            time.sleep(1)
            for r in readers:
                r.terminate()
                r.wait(10)
            os.truncate(sink, 0)
        stopped_tail(results, endpoint, go, took, sink)
        ctx = zmq.Context()
        stalled = ctx.socket(zmq.SUB)
        stalled.setsockopt(zmq.RCVHWM, 10)
        stalled.setsockopt(zmq.RCVBUF, 4096)
        stalled.setsockopt(zmq.SUBSCRIBE, b"output.")
        stalled.connect(out_ep)
        time.sleep(1)
        results.append(("1 stalled subscriber", flood_time(go, took)))
        stalled.close(0)
        return results
    finally:
        core.stop(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--mbytes", type=int, default=200)
    ap.add_argument("--only", choices=["stats", "output", "stopped"])
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-live-")
    try:
        if a.only not in ("output", "stopped"):
            off, _ = stats_cpu(tmp, a.children, a.seconds, False)
            on, rate = stats_cpu(tmp, a.children, a.seconds, True)
            print("circusd CPU with %d processes over %d s: %.2f%% of a core without the stats stream, %.2f%% with it"
                  " (%.0f messages/s received): stats cost %.2f%% of a core (target < 2%%; Circus with circusd-stats:"
                  " 16.8%%)" % (a.children, a.seconds, off, on, rate, on - off))
        if a.only == "stats":
            return
        res = output_throughput(tmp, a.mbytes, a.only == "stopped")
        if a.only == "stopped":
            import statistics
            none = statistics.median([t for n, t in res if n == "no subscriber"])
            stopped = statistics.median([t for n, t in res if n != "no subscriber"])
            print("%d MB written by one child: median %.3f s with no subscriber, %.3f s with one stopped tail"
                  " --no-local: %.2fx" % (a.mbytes, none, stopped, stopped / none))
            return
        base = res[0][1]
        for name, t in res:
            print("%d MB written by one child, %-30s %6.2f s  %6.0f MB/s  %.2fx the time with none"
                  % (a.mbytes, name + ":", t, a.mbytes / t, t / base))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
