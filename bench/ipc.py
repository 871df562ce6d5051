#!/usr/bin/env python3
"""ipc:// against tcp:// control round trips (not a test): one circusd per transport, same machine, same run.

  bench/ipc.py [--calls 5000]

An ipc:// endpoint is a Unix-domain socket relayed to JeroMQ on a loopback port (see README, "ipc://
endpoints"); this prints the cost of that hop: median and p99 `list` round trips from a pyzmq DEALER on each,
and the ratio.
"""
import argparse, json, os, shutil, statistics, sys, tempfile, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402
import zmq  # noqa: E402


def measure(endpoint, calls):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    times = []
    for i in range(calls + 2000):
        msg = json.dumps({"id": str(i), "command": "list", "properties": {}}).encode()
        t0 = time.perf_counter()
        s.send(msg)
        r = json.loads(s.recv())
        t1 = time.perf_counter()
        assert r["status"] == "ok", r
        if i >= 2000:  # warm-up: the JIT, the relay's buffers
            times.append((t1 - t0) * 1e6)
    s.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-ipc-")
    results = {}
    try:
        run_all(tmp, a.calls, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_results(results, a.calls)


def run_all(tmp, calls, results):
    for kind in ("tcp", "ipc", "tcp", "ipc"):  # alternated: the machine drifts
        cfg = os.path.join(tmp, kind + ".ini")
        ep = core.endpoints()
        if kind == "ipc":
            ctl = "ipc://" + os.path.join(tmp, "ctl.sock")
            ep = ep.replace(ep.split("endpoint = ")[1].split("\n")[0], ctl, 1)
        endpoint = ep.split("endpoint = ")[1].split("\n")[0]
        with open(cfg, "w") as f:
            f.write(ep + "[watcher:sleepers]\ncmd = sleep 1000\nnumprocesses = 10\n")
        p = core.start_circusd(cfg, os.path.join(tmp, kind + ".log"))
        try:
            time.sleep(1.0)
            results.setdefault(kind, []).append(measure(endpoint, calls))
        finally:
            core.stop(p)


def print_results(results, calls):
    print("list round trips, pyzmq DEALER, %d calls after 2000 warm-up, two runs each, %d cores" % (
        calls, os.cpu_count()))
    for kind in ("tcp", "ipc"):
        for med, p99 in results[kind]:
            print("%-4s median %7.1f us   p99 %7.1f us" % (kind, med, p99))
    tm = statistics.median([m for m, _ in results["tcp"]])
    im = statistics.median([m for m, _ in results["ipc"]])
    print("ipc/tcp median ratio %.2f (extra %.1f us per round trip)" % (im / tm, im - tm))


if __name__ == "__main__":
    main()
