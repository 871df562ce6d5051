#!/usr/bin/env python3
"""Benchmark for the circusd core (not a test). One run, ours against baselines, figures printed as ratios.

  bench/core.py [--children 500] [--idle 30] [--mbytes 200]

Needs: a built tree (mvn -B -q package -DskipTests), gcc for the C baseline.
Everything is checked from /proc, not by asking the daemon.
"""
import argparse, os, random, re, shutil, signal, statistics, subprocess, sys, tempfile, time

HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIRCUSD = os.path.join(HOME, "bin", "circusd")
TICKS = os.sysconf("SC_CLK_TCK")


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def endpoints():
    return "[circus]\nendpoint = tcp://127.0.0.1:%d\npubsub_endpoint = tcp://127.0.0.1:%d\n" % (free_port(), free_port())


STARTED = []


def start_circusd(config, log):
    p = subprocess.Popen([CIRCUSD, config], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if "circusd running" in open(log).read():
            STARTED.append(p)
            return p
        if p.poll() is not None:
            sys.exit("circusd exited:\n" + open(log).read())
        time.sleep(0.01)
    p.kill()
    sys.exit("circusd did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def log_time(log, pattern):
    m = re.search(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*" + re.escape(pattern), open(log).read(), re.M)
    return time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S")) + int(m.group(1)[20:]) / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=500)
    ap.add_argument("--idle", type=int, default=30)
    ap.add_argument("--mbytes", type=int, default=200)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-")
    n = a.children
    try:
        # ---- bare C baseline
        cbin = os.path.join(tmp, "spawn500")
        subprocess.check_call(["gcc", "-O2", "-o", cbin, os.path.join(HOME, "bench", "spawn500.c")])
        c_times = [float(subprocess.check_output([cbin, str(n)])) for _ in range(3)]
        c_spawn = statistics.median(c_times)

        # ---- circusd with N sleeps
        cfg = os.path.join(tmp, "sleepers.ini")
        with open(cfg, "w") as f:
            f.write(endpoints() + "[watcher:sleepers]\ncmd = sleep 1000\nnumprocesses = %d\n" % n)
        log = os.path.join(tmp, "sleepers.log")
        p = start_circusd(cfg, log)
        t0 = log_time(log, "watcher sleepers: starting")
        deadline = time.time() + 120
        while time.time() < deadline:
            kids = [c for c in children(p.pid) if exe(c).endswith("sleep")]
            if len(kids) >= n:
                t1 = time.time()
                break
            time.sleep(0.0005)
        else:
            sys.exit("only %d of %d children came up:\n%s" % (len(kids), n, open(log).read()[-3000:]))
        print("spawned %d in %.3f s" % (n, t1 - t0), flush=True)
        # log_time has ms resolution; the poll above runs until every child has exec'd sleep
        j_spawn = t1 - t0

        # respawn latency after kill -9, median of 20
        lat = []
        time.sleep(1.5)  # every child past backoff_min_uptime: these are healthy deaths
        for _ in range(20):
            kids = set(c for c in children(p.pid) if exe(c).endswith("sleep"))
            victim = random.choice(sorted(kids))
            os.kill(victim, signal.SIGKILL)
            ts = time.perf_counter()
            while time.perf_counter() - ts < 10:
                # Cheap poll: only the children list, and exe of pids not seen before.
                fresh = [c for c in children(p.pid) if c not in kids]
                if any(exe(c).endswith("sleep") for c in fresh):
                    lat.append((time.perf_counter() - ts) * 1000)
                    break
            time.sleep(1.2)  # a healthy death: beyond backoff_min_uptime
        time.sleep(2)
        print("respawn latencies (ms):", " ".join("%.1f" % x for x in lat), flush=True)
        rss = rss_mib(p.pid)
        c0 = cpu_seconds(p.pid)
        time.sleep(a.idle)
        idle_cpu = (cpu_seconds(p.pid) - c0) / a.idle * 100
        stop(p)

        # ---- output throughput: one child, N MB of lines, through a rotating FileStream vs `| cat > file`
        line = "the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        nlines = a.mbytes * 1000 * 1000 // (len(line) + 1)
        nbytes = nlines * (len(line) + 1)
        gen = "yes '%s' | head -n %d" % (line, nlines)
        base_out = os.path.join(tmp, "cat.out")
        ts = time.perf_counter()
        subprocess.check_call("sh -c \"%s\" | cat > %s" % (gen, base_out), shell=True)
        cat_mbps = nbytes / 1e6 / (time.perf_counter() - ts)
        print("cat baseline: %.0f MB/s" % cat_mbps, flush=True)
        os.unlink(base_out)

        outdir = os.path.join(tmp, "out")
        os.mkdir(outdir)
        cfg2 = os.path.join(tmp, "writer.ini")
        with open(cfg2, "w") as f:
            f.write(endpoints())
            f.write("[watcher:writer]\ncmd = sh -c \"%s; exec sleep 1000\"\n" % gen.replace('"', '\\"'))
            f.write("stdout_stream.class = FileStream\nstdout_stream.filename = %s/w.log\n" % outdir)
            f.write("stdout_stream.max_bytes = 50000000\nstdout_stream.backup_count = 10\n")
        log2 = os.path.join(tmp, "writer.log")
        p = start_circusd(cfg2, log2)
        t0 = log_time(log2, "watcher writer: starting")
        deadline = time.time() + 120
        while time.time() < deadline:
            total = sum(os.path.getsize(os.path.join(outdir, x)) for x in os.listdir(outdir))
            if total >= nbytes:
                t1 = time.time()
                break
            time.sleep(0.002)
        else:
            sys.exit("output incomplete (%d bytes):\n%s" % (total, open(log2).read()[-3000:]))
        ours_mbps = nbytes / 1e6 / (t1 - t0)
        stop(p)

        print()
        print("jcircus core benchmark: %d children, %d s idle, %d MB output (one run, %d cores)" % (
            n, a.idle, a.mbytes, os.cpu_count()))
        print("%-40s %12s %12s %8s" % ("metric", "jcircus", "baseline", "ratio"))
        print("%-40s %11.3fs %11.3fs %7.2fx   (baseline: C posix_spawn loop; target <= 1.5x)" % (
            "spawn %d sleeps until all exec'd" % n, j_spawn, c_spawn, j_spawn / c_spawn))
        print("%-40s %10.2fms %12s %8s   (target < 5 ms; Circus 2500 ms)" % (
            "respawn after kill -9, median of 20", statistics.median(lat), "", ""))
        print("%-40s %10.2fms" % ("respawn after kill -9, max of 20", max(lat)))
        print("%-40s %10.1fMiB %12s %8s   (target < 64 MiB; Circus 34 MiB)" % ("daemon RSS, %d children" % n, rss, "", ""))
        print("%-40s %11.3f%% %12s %8s   (target < 0.2%%; Circus 0.4%%)" % ("daemon CPU idle, %d children" % n, idle_cpu, "", ""))
        print("%-40s %8.0fMB/s %8.0fMB/s %7.2fx   (baseline: child | cat > file; target >= 1x)" % (
            "%d MB stdout to rotating file" % a.mbytes, ours_mbps, cat_mbps, ours_mbps / cat_mbps))
    finally:
        for p in STARTED:  # never leave a daemon behind, whatever failed
            if p.poll() is None:
                stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
