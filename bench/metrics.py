#!/usr/bin/env python3
"""What metrics and plugins cost circusd (not a test): its CPU with 500 processes, /metrics scraped every second
and the statsd plugins on (StatsdEmitter, and FullStats calling `stats` every second), against the same daemon
without them, in one run.

  /usr/bin/python3 bench/metrics.py [--children 500] [--seconds 30]

Both daemons run the same watcher; each is measured over the same window once its processes are up and its JIT
has settled. The scrapes come from this script (one a second on a kept-alive connection); the statsd lines go to a UDP socket it reads.
"""
import argparse, http.client, os, shutil, socket, sys, tempfile, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402


# what Prometheus 2.x/3.x sends when it scrapes: OpenMetrics preferred, gzip accepted
PROMETHEUS = {"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "Accept-Encoding": "gzip"}


def measure(tmp, name, extra, children, seconds, scrape_port=None, interval=1.0):
    cfg = os.path.join(tmp, name + ".ini")
    with open(cfg, "w") as f:
        f.write(core.endpoints() + extra + "[watcher:sleepers]\ncmd = sleep 1000\nnumprocesses = %d\n" % children)
    d = core.start_circusd(cfg, os.path.join(tmp, name + ".log"))
    stop = threading.Event()
    scrapes = []
    try:
        while len([c for c in core.children(d.pid) if core.exe(c).endswith("sleep")]) < children:
            time.sleep(0.1)
        if scrape_port:
            def scrape():
                conn = http.client.HTTPConnection("127.0.0.1", scrape_port, timeout=10)  # kept alive, as Prometheus
                while not stop.is_set():
                    t = time.time()
                    conn.request("GET", "/metrics", headers=PROMETHEUS)
                    body = conn.getresponse().read()
                    scrapes.append((time.time() - t, len(body)))
                    stop.wait(max(0, interval - (time.time() - t)))
                conn.close()
            threading.Thread(target=scrape, daemon=True).start()
        time.sleep(15)  # settle: the JIT, the first scrapes
        before = core.cpu_seconds(d.pid)
        time.sleep(seconds)
        cpu = (core.cpu_seconds(d.pid) - before) / seconds * 100
        rss = core.rss_mib(d.pid)
    finally:
        stop.set()
        core.stop(d)
    return cpu, rss, scrapes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes (Prometheus's default: 15)")
    ap.add_argument("--loop-rate", type=float, default=1.0, help="FullStats' loop_rate (Circus's default: 60)")
    ap.add_argument("--only", choices=["metrics", "statsd", "full_stats"], help="one of the three alone")
    ap.add_argument("--full-stats", action="store_true",
                    help="FullStats too (its `stats` every --loop-rate s); the issue's target is /metrics + statsd")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-metrics-")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    received = []

    def drain():
        while True:
            try:
                received.append(udp.recv(2048))
            except socket.timeout:
                pass
            except OSError:
                return
    threading.Thread(target=drain, daemon=True).start()
    try:
        base_cpu, base_rss, _ = measure(tmp, "plain", "", a.children, a.seconds)
        port = core.free_port()
        sport = udp.getsockname()[1]
        parts = {"metrics": "metrics_endpoint = http://127.0.0.1:%d/metrics\n" % port,
                 "statsd": "[plugin:statsd]\nuse = circus.plugins.statsd.StatsdEmitter\nport = %d\n" % sport,
                 "full_stats": "[plugin:full]\nuse = circus.plugins.statsd.FullStats\nport = %d\nloop_rate = %s\n"
                 % (sport, a.loop_rate)}
        if not a.full_stats and a.only != "full_stats":
            del parts["full_stats"]
        extra = "".join(v for k, v in parts.items() if a.only in (None, k))
        on_cpu, on_rss, scrapes = measure(tmp, "metrics", extra, a.children, a.seconds,
                                          scrape_port=port if a.only in (None, "metrics") else None,
                                          interval=a.interval)
        scrapes.sort()
        print()
        print("metrics and statsd plugins: %d processes, %d s windows (%d cores), a scrape every %s s, FullStats"
              " every %s s" % (a.children, a.seconds, os.cpu_count(), a.interval, a.loop_rate))
        print("%-48s %6.2f%% of a core, %.1f MiB RSS" % ("circusd, plain", base_cpu, base_rss))
        print("%-48s %6.2f%% of a core, %.1f MiB RSS" % ("circusd, " + (a.only or "/metrics + statsd" + (" + full_stats" if a.full_stats else "")),
                                                         on_cpu, on_rss))
        print("%-48s %+6.2f points of a core   (target < +1)" % ("difference", on_cpu - base_cpu))
        if scrapes:
            print("%-48s median %.1f ms, max %.1f ms, %d KiB" % ("a scrape", scrapes[len(scrapes) // 2][0] * 1000,
                                                                 scrapes[-1][0] * 1000, scrapes[-1][1] // 1024))
        print("%-48s %d datagrams" % ("statsd lines received", len(received)))
    finally:
        udp.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
