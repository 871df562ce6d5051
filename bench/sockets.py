#!/usr/bin/env python3
"""Issue 4's benchmark (not a test): 4 chaussette-java workers on one socket owned by circusd, against the same 4
workers each on its own port behind nginx as a reverse proxy, in the same run; then the requests lost and the
longest gap with nothing served during a rolling reload and a restart, and how evenly connections spread.

  sudo apt-get install nginx wrk     # Debian packages
  python3 bench/sockets.py [--seconds 10] [--connections 64] [--rounds 3] [--defer-accept | --no-defer-accept]
                            [--throughput-only] [--reload-only] [--cpu]

Prints requests/s and p99 for keep-alive and new-connection-per-request loads (wrk), the ratios, and the
reload figures. Everything listens on 127.0.0.1 ephemeral ports and is stopped at the end.
"""
import argparse, os, re, shutil, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402  (start_circusd, stop, endpoints, children)

TICKS = os.sysconf("SC_CLK_TCK")

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAUSSETTE = os.path.join(HERE, "bin", "chaussette-java")
CTL = os.path.join(HERE, "bin", "circusctl")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise IOError("bad response %r" % data[:80])
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()


def workers_config(tmp, port, chaussette=CHAUSSETTE, socket_extra="", watcher_extra=""):
    """A circus.ini in tmp: 4 chaussette-java workers (1 loop each, readiness notify) on one socket at port.
    Returns (its path, its control endpoint)."""
    ep = core.endpoints()
    cfg = os.path.join(tmp, "circus.ini")
    with open(cfg, "w") as f:
        f.write(ep + "[socket:web]\nhost = 127.0.0.1\nport = %d\nbacklog = 2048\n%s"
                "[watcher:web]\ncmd = %s --threads 1 fd://$(circus.sockets.web)\nnumprocesses = 4\n"
                "use_sockets = true\ncopy_env = true\ngraceful_timeout = 30\nreadiness = notify\n%s"
                % (port, socket_extra, chaussette, watcher_extra))
    return cfg, ep.split("endpoint = ")[1].split("\n")[0]


def wait_serving(port, n_pids, timeout=60):
    seen, end = set(), time.time() + timeout
    while time.time() < end and len(seen) < n_pids:
        try:
            seen.add(get(port))
        except OSError:
            time.sleep(0.05)
    return seen


def median(runs):
    """The median run by throughput, with the median p99 across runs and every run's errors."""
    by_rps = sorted(runs, key=lambda r: r[0])
    p99s = sorted(r[1] for r in runs)
    errors = sorted(set(r[2] for r in runs))
    return by_rps[len(runs) // 2][0], p99s[len(runs) // 2], "; ".join(errors)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def idle_ticks():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return cpu[3] + cpu[4], sum(cpu)


def wrk(port, seconds, connections, close, groups=None):
    """One wrk run; with groups ({name: function returning pids}), also where the machine's CPU went: printed
    per request (microseconds of CPU, /proc), with the share of time the CPUs were idle."""
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "http://127.0.0.1:%d/" % port]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    groups = dict(groups or {})
    pids = {name: f() for name, f in groups.items()}
    before = {name: cpu_ticks(p) for name, p in pids.items()}
    idle0, all0 = idle_ticks()
    w = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = w.stdout.read()
    _, _, usage = os.wait4(w.pid, 0)
    w.returncode = 0
    idle1, all1 = idle_ticks()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if groups:
        n = rps * seconds
        us = lambda ticks: ticks / TICKS / n * 1e6
        print("    cpu per request: %s, wrk %.0f us (user %.0f); CPUs idle %.0f%%"
              % (", ".join("%s %.0f us" % (name, us(cpu_ticks(p) - before[name])) for name, p in pids.items()),
                 us((usage.ru_utime + usage.ru_stime) * TICKS), us(usage.ru_utime * TICKS),
                 100.0 * (idle1 - idle0) / max(1, all1 - all0)))
    return rps, p99, (errors.group(1) if errors else "none") + ("; non-2xx %s" % non2xx.group(1) if non2xx else "")


class Probe(threading.Thread):
    """A new connection every 10 ms; records failures, the longest gap between two served requests, and the
    slowest probes (when they started, how long they took, which worker answered)."""

    boost = True  # --probe-normal: at the priority a client would have

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.running, self.ok, self.failed, self.longest, self.last = port, True, 0, 0, 0.0, None
        self.samples = []

    def run(self):
        # The probe measures the server, not its own turn on a saturated CPU: its thread runs SCHED_FIFO (or at
        # nice -10) where allowed (root), the server and the load at their usual priority.
        self.boosted = False
        try:
            if not Probe.boost:
                raise AttributeError("normal priority asked for")
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(10))
            self.boosted = "SCHED_FIFO"
        except (PermissionError, AttributeError, OSError):
            try:
                if not Probe.boost:
                    raise AttributeError("normal priority asked for")
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
                self.boosted = "nice -10"
            except (PermissionError, AttributeError):
                pass
        while self.running:
            t0 = time.perf_counter()
            try:
                who = get(self.port, timeout=10)
                now = time.perf_counter()
                if self.last is not None:
                    self.longest = max(self.longest, now - self.last)
                self.last = now
                self.ok += 1
                self.samples.append((now - t0, t0, who.split()[-1]))
            except OSError:
                self.failed += 1
            time.sleep(max(0.0, 0.01 - (time.perf_counter() - t0)))

    def slowest(self, since, old=(), n=3):
        return ", ".join("%.0f ms at %+.2f s (%s worker %s)" % (d * 1000, t - since, "old" if pid in old else "new", pid)
                         for d, t, pid in sorted(self.samples, reverse=True)[:n])


def spread(port, n=400):
    counts = {}
    for _ in range(n):
        pid = get(port).split()[-1]
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def keepalive_spread(port, connections=64, rounds=3):
    """Where wrk's keep-alive connections land: established connections per worker pid (ss), a few runs."""
    runs = []
    for _ in range(rounds):
        w = subprocess.Popen(["wrk", "-t2", "-c%d" % connections, "-d3s", "http://127.0.0.1:%d/" % port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        out = subprocess.run(["ss", "-tnpH", "state", "established", "( sport = :%d )" % port],
                             capture_output=True, text=True).stdout
        w.wait()
        counts = {}
        for pid in re.findall(r"pid=(\d+)", out):
            counts[pid] = counts.get(pid, 0) + 1
        runs.append(sorted(counts.values(), reverse=True))
        time.sleep(0.5)
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=5,
                    help="seconds of each load on each path before measuring (15 for workers with C2: "
                         "CHAUSSETTE_OPTS=-XX:TieredStopAtLevel=4)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each setup per load, alternated")
    ap.add_argument("--reload-only", action="store_true", help="skip the throughput comparison")
    ap.add_argument("--throughput-only", action="store_true", help="skip the spread and the reload figures")
    ap.add_argument("--probe-normal", action="store_true",
                    help="run the probe at normal priority (it then also measures its own wait for a CPU)")
    ap.add_argument("--spread-only", action="store_true", help="only how connections spread over the workers")
    ap.add_argument("--cpu", action="store_true", help="also print where the CPU went in each run (/proc)")
    ap.add_argument("--defer-accept", action="store_true",
                    help="TCP_DEFER_ACCEPT on both listeners (defer_accept = 1 in circus.ini, nginx's 'deferred')")
    ap.add_argument("--no-defer-accept", action="store_true",
                    help="chaussette-java --defer-accept 0: the shared socket as circusd made it (by default "
                         "chaussette-java sets TCP_DEFER_ACCEPT on an HTTP socket that has none; nginx does not)")
    a = ap.parse_args()
    Probe.boost = not a.probe_normal
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
            sys.exit("%s is needed: apt-get install nginx wrk" % tool)
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-sockets-")
    shared = free_port()
    cfg, endpoint = workers_config(tmp, shared, CHAUSSETTE + (" --defer-accept 0" if a.no_defer_accept else ""),
                                   "defer_accept = 1\n" if a.defer_accept else "")
    ports = [free_port() for _ in range(4)]
    proxied = free_port()
    floor = free_port()  # nginx answering by itself: what the probe sees of the machine with no JVM in the path
    nginx_conf = os.path.join(tmp, "nginx.conf")
    with open(nginx_conf, "w") as f:
        f.write("""worker_processes 2; daemon off; pid %s/nginx.pid; error_log %s/nginx.err warn;
events { worker_connections 4096; }
http { access_log off;
  upstream app { %s keepalive 64; }
  server { listen 127.0.0.1:%d backlog=2048%s;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:%d; location / { return 200 "hello from pid nginx\\n"; } } }
""" % (tmp, tmp, " ".join("server 127.0.0.1:%d;" % p for p in ports), proxied,
       " deferred" if a.defer_accept else "", floor))
    procs = []
    d = core.start_circusd(cfg, os.path.join(tmp, "circusd.log"))
    try:
        for p in ports:
            procs.append(subprocess.Popen([CHAUSSETTE, "--threads", "1", "tcp://127.0.0.1:%d" % p],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(["/usr/sbin/nginx", "-c", nginx_conf, "-p", tmp],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert len(wait_serving(shared, 4)) == 4, "circusd workers"
        for p in ports:
            assert wait_serving(p, 1), "proxied worker %d" % p
        assert wait_serving(proxied, 4), "nginx"
        nginx = procs[-1]
        shared_groups = {"workers": lambda: core.children(d.pid)} if a.cpu else None
        proxied_groups = {"nginx": lambda: [nginx.pid] + core.children(nginx.pid),
                          "backends": lambda: [p.pid for p in procs[:-1]]} if a.cpu else None
        # warm both paths up (JIT) before measuring
        # both loads, both paths: the first seconds of a fresh JVM are its JIT's (C2 compiles for a few seconds)
        for close in (False, True):
            wrk(shared, a.warmup, a.connections, close)
            wrk(proxied, a.warmup, a.connections, close)
        print("4 chaussette-java workers (netty, 1 thread each), %d s per load, %d connections, wrk -t2, %d cores%s"
              % (a.seconds, a.connections, os.cpu_count(),
                 ", TCP_DEFER_ACCEPT on both" if a.defer_accept else
                 ", no TCP_DEFER_ACCEPT" if a.no_defer_accept else
                 ", TCP_DEFER_ACCEPT on the shared socket (chaussette-java's default), not on nginx's"))
        for close in (() if a.reload_only or a.spread_only else (False, True)):
            kind = "new connection per request" if close else "keep-alive"
            # alternate the two setups, a.rounds times each, and compare medians: a single pair of runs on a
            # 2-core machine moves by 10% from one minute to the next
            shared_runs, proxied_runs = [], []
            for _ in range(a.rounds):
                shared_runs.append(wrk(shared, a.seconds, a.connections, close, shared_groups))
                proxied_runs.append(wrk(proxied, a.seconds, a.connections, close, proxied_groups))
            s_rps, s_p99, s_err = median(shared_runs)
            n_rps, n_p99, n_err = median(proxied_runs)
            print("%-27s shared socket %8.0f req/s p99 %7.2f ms (errors: %s; runs %s)"
                  % (kind, s_rps, s_p99, s_err, " ".join("%.0f" % r[0] for r in shared_runs)))
            print("%-27s nginx proxy   %8.0f req/s p99 %7.2f ms (errors: %s; runs %s)"
                  % ("", n_rps, n_p99, n_err, " ".join("%.0f" % r[0] for r in proxied_runs)))
            print("%-27s ratio %.2fx throughput, p99 %.2fx (medians of %d)"
                  % ("", s_rps / n_rps, s_p99 / n_p99, a.rounds))
        if a.throughput_only:
            return
        counts = spread(shared)
        print("spread of 400 new connections over the 4 workers:", sorted(counts.values(), reverse=True))
        print("spread of wrk -c%d keep-alive connections (ss, 3 runs):" % a.connections,
              " ".join("/".join(map(str, r)) for r in keepalive_spread(shared, a.connections)))
        if a.spread_only:
            return
        scenarios = [(loaded, action) for loaded in (False, True)
                     for action in (None, ["reload", "web", "--sequential", "--waiting"], ["restart", "web", "--waiting"])]
        for loaded, action in scenarios:
            if action is None:
                print("probe alone:" if not loaded else "probe with a saturating keep-alive load (wrk -t1 -c8):")
                if loaded:  # the restart before this started new JVMs: let them compile before the baseline
                    wrk(shared, a.warmup, a.connections, False)
                    wrk(shared, a.warmup, a.connections, True)
            if action is None and not loaded:
                # the floor: the same probe against nginx answering by itself, nothing else running
                probe = Probe(floor)
                probe.start()
                time.sleep(8.0)
                probe.running = False
                probe.join()
                print("  %-26s probe: %d ok, %d failed, longest gap %.1f ms; slowest probes: %s"
                      % ("(nginx alone, the floor)", probe.ok, probe.failed, probe.longest * 1000,
                         probe.slowest(0.0)))
            old = set(spread(shared, 40))
            probe = Probe(shared)
            load = subprocess.Popen(["wrk", "-t1", "-c8", "-d60s", "http://127.0.0.1:%d/" % shared]
                                    if loaded else ["sleep", "60"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            probe.start()
            time.sleep(1.0)
            t0 = time.time()
            p0 = time.perf_counter()
            if action is None:  # the baseline: the same load and probe, nothing restarted
                time.sleep(8.0)
            else:
                subprocess.run([CTL, "--endpoint", endpoint, "--timeout", "120"] + action, check=True,
                               stdout=subprocess.DEVNULL)
            took = time.time() - t0
            time.sleep(1.0)
            probe.running = False
            probe.join()
            load.terminate()
            out = load.communicate()[0]
            errs = re.search(r"Socket errors: (.*)", out)
            print("  %-26s took %5.2f s; probe: %d ok, %d failed, longest gap %.1f ms%s"
                  % (" ".join(action[:-1]) if action else "(steady, no reload)", took, probe.ok, probe.failed,
                     probe.longest * 1000,
                     "; keep-alive load errors: " + (errs.group(1) if errs else "none") if loaded else ""))
            print("%-28s slowest probes: %s (probe thread: %s)" % ("", probe.slowest(p0, old),
                                                             probe.boosted or "normal priority"))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        core.stop(d)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
