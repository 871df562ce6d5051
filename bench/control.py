#!/usr/bin/env python3
"""Control-plane round trips (not a test): pyzmq DEALER against circusd with N processes.

  bench/control.py [--children 500] [--calls 1000]

Prints median and p99 of `list`, `status` and `stats` round trips in milliseconds, then the wall time of a
whole `bin/circusctl status` process (median of 20) next to a bare JVM (`java -version`) as the floor.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402  (start_circusd, stop, endpoints)
import zmq  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=500)
    ap.add_argument("--calls", type=int, default=1000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-")
    cfg = os.path.join(tmp, "c.ini")
    ep = core.endpoints()
    with open(cfg, "w") as f:
        f.write(ep + "[watcher:sleepers]\ncmd = sleep 1000\nnumprocesses = %d\n" % a.children)
    endpoint = ep.split("endpoint = ")[1].split("\n")[0]
    p = core.start_circusd(cfg, os.path.join(tmp, "log"))
    try:
        while len([c for c in core.children(p.pid) if core.exe(c).endswith("sleep")]) < a.children:
            time.sleep(0.05)
        s = zmq.Context().socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
        s.connect(endpoint)
        print("control round trips, %d processes, %d calls each (pyzmq DEALER, one run, %d cores)" % (
            a.children, a.calls, os.cpu_count()))
        for command, props, calls in (("list", {}, a.calls), ("status", {}, a.calls),
                                      ("stats", {"name": "sleepers"}, max(20, a.calls // 20))):
            times = []
            for i in range(calls + 20):
                msg = json.dumps({"id": str(i), "command": command, "properties": props}).encode()
                t0 = time.perf_counter()
                s.send(msg)
                r = json.loads(s.recv())
                t1 = time.perf_counter()
                assert r["status"] == "ok", r
                if i >= 20:  # warm-up
                    times.append((t1 - t0) * 1000)
            times.sort()
            print("%-8s median %7.3f ms   p99 %7.3f ms   (n=%d)" % (
                command, statistics.median(times), times[int(len(times) * 0.99) - 1], len(times)))
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        ctl = os.path.join(here, "bin", "circusctl")
        env = dict(os.environ, CIRCUSCTL_ENDPOINT=endpoint)

        def wall(cmd, n=20):
            ts = []
            for _ in range(n + 2):
                t0 = time.perf_counter()
                r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ts.append((time.perf_counter() - t0) * 1000)
                assert r.returncode == 0, cmd
            return statistics.median(ts[2:])

        ctl_ms = wall([ctl, "status"])
        jvm_ms = wall(["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-version"])
        print("circusctl status (whole process) median %6.1f ms; bare JVM -version %6.1f ms; ratio %.2fx"
              % (ctl_ms, jvm_ms, ctl_ms / jvm_ms))
    finally:
        core.stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
