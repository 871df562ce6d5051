#!/usr/bin/env python3
"""What the workers' shared connection table (chaussette-java's Balance) does, A/B in one run: two circusd, each
with 4 chaussette-java workers on its own socket, one with CHAUSSETTE_BALANCE=off. Alternates wrk runs on both and
prints, for each, the spread of a burst of keep-alive connections (ss) and the requests/s and p99 of keep-alive
and new-connection-per-request loads (medians).

  python3 bench/balance.py [--seconds 8] [--connections 64] [--rounds 3]
"""
import argparse, os, shutil, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402
import sockets  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-balance-")
    daemons, ports = {}, {}
    try:
        for mode in ("on", "off"):
            ports[mode] = sockets.free_port()
            cfg = os.path.join(tmp, "circus-%s.ini" % mode)
            with open(cfg, "w") as f:
                f.write(core.endpoints() + "[socket:web]\nhost = 127.0.0.1\nport = %d\nbacklog = 2048\n"
                        "[watcher:web]\ncmd = %s --threads 1 fd://$(circus.sockets.web)\nnumprocesses = 4\n"
                        "use_sockets = true\ncopy_env = true\nreadiness = notify\n"
                        "[env:web]\nCHAUSSETTE_BALANCE = %s\n" % (ports[mode], sockets.CHAUSSETTE, mode))
            daemons[mode] = core.start_circusd(cfg, os.path.join(tmp, "circusd-%s.log" % mode))
        for mode in daemons:
            assert len(sockets.wait_serving(ports[mode], 4)) == 4, mode
        for close in (False, True):
            for mode in daemons:
                sockets.wrk(ports[mode], 3, a.connections, close)
        print("4 chaussette-java workers per circusd (1 thread each), wrk -t2 -c%d, %d s per run, %d cores"
              % (a.connections, a.seconds, os.cpu_count()))
        for mode in daemons:
            print("balance %-3s keep-alive spread (ss, 3 bursts): %s" % (mode, " ".join(
                "/".join(map(str, r)) for r in sockets.keepalive_spread(ports[mode], a.connections))))
        for close in (False, True):
            runs = {mode: [] for mode in daemons}
            for _ in range(a.rounds):
                for mode in daemons:
                    runs[mode].append(sockets.wrk(ports[mode], a.seconds, a.connections, close))
            for mode in daemons:
                rps, p99, err = sockets.median(runs[mode])
                print("balance %-3s %-27s %8.0f req/s p99 %6.2f ms (errors: %s; runs %s)"
                      % (mode, "new connection per request" if close else "keep-alive", rps, p99, err,
                         " ".join("%.0f" % r[0] for r in runs[mode])))
    finally:
        for d in daemons.values():
            core.stop(d)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
