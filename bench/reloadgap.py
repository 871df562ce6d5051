#!/usr/bin/env python3
"""Issue 4's gap figure, with its baseline in the same run: the longest time with no request served while
`circusctl reload web --sequential` rolls 4 chaussette-java workers, against equally long windows of the same
probe on the same workers with nothing reloading, and on nginx answering by itself (what the machine alone
gives this probe). Alternated, several rounds, so that the host's own hiccups show up in every column.

  sudo apt-get install nginx wrk     # Debian packages
  python3 bench/reloadgap.py [--rounds 6] [--loaded] [--probe-normal] [--autogroup-ab] [--shared-session]

The probe is bench/sockets.py's: a new connection every 10 ms (SCHED_FIFO where allowed). --loaded adds
wrk -t1 -c8 keep-alive on the workers during all three windows. Prints, per round, the longest gap of each
window and how many gaps were above 20 ms; then the medians and maxima over the rounds.

--autogroup-ab (root) adds, in every round, a second rolling reload with the kernel's autogroup scheduling off
(kernel.sched_autogroup_enabled = 0), restoring the setting after it. With autogroup on, every process that
starts a session (circusd gives each worker its own, as Circus does) is scheduled as a group of its own.
--shared-session runs the workers with own_session = false (a process group each in circusd's session).
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402
import sockets  # noqa: E402

AUTOGROUP = "/proc/sys/kernel/sched_autogroup_enabled"


def autogroup(value=None):
    """The kernel's autogroup setting ("0", "1", or "n/a"); with value, sets it first."""
    try:
        if value is not None:
            with open(AUTOGROUP, "w") as f:
                f.write(value)
        with open(AUTOGROUP) as f:
            return f.read().strip()
    except OSError:
        return "n/a"


def window(port, seconds, action=None):
    """Runs the probe on port for `seconds`, or around `action` (a callable) with 0.5 s either side.
    Returns (longest gap ms, gaps above 20 ms, probes failed, how long it took)."""
    probe = sockets.Probe(port)
    probe.start()
    t0 = time.time()
    if action is None:
        time.sleep(seconds)
    else:
        time.sleep(0.5)
        action()
        time.sleep(0.5)
    took = time.time() - t0
    probe.running = False
    probe.join()
    done = sorted(t + d for d, t, _ in probe.samples)
    gaps = [(b - a) * 1000 for a, b in zip(done, done[1:])]
    return max(gaps or [0.0]), sum(1 for g in gaps if g > 20.0), probe.failed, took


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--loaded", action="store_true", help="wrk -t1 -c8 keep-alive on the workers throughout")
    ap.add_argument("--probe-normal", action="store_true", help="the probe at normal priority")
    ap.add_argument("--autogroup-ab", action="store_true", help="each round also reloads with autogroup off (root)")
    ap.add_argument("--shared-session", action="store_true", help="the workers with own_session = false")
    a = ap.parse_args()
    ag0 = autogroup()
    if a.autogroup_ab and (ag0 == "n/a" or not os.access(AUTOGROUP, os.W_OK)):
        sys.exit("--autogroup-ab needs a writable " + AUTOGROUP + " (root)")
    sockets.Probe.boost = not a.probe_normal
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-reloadgap-")
    shared, floor = sockets.free_port(), sockets.free_port()
    cfg, endpoint = sockets.workers_config(tmp, shared,
                                           watcher_extra="own_session = false\n" if a.shared_session else "")
    nginx_conf = os.path.join(tmp, "nginx.conf")
    with open(nginx_conf, "w") as f:
        f.write("""worker_processes 2; daemon off; pid %s/nginx.pid; error_log %s/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:%d; location / { return 200 "hello from pid nginx\\n"; } } }
""" % (tmp, tmp, floor))
    d = core.start_circusd(cfg, os.path.join(tmp, "circusd.log"))
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", nginx_conf, "-p", tmp],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = None
    try:
        assert len(sockets.wait_serving(shared, 4)) == 4, "circusd workers"
        assert sockets.wait_serving(floor, 1), "nginx"
        for close in (False, True):
            sockets.wrk(shared, 5, 64, close)

        def reload():
            subprocess.run([sockets.CTL, "--endpoint", endpoint, "--timeout", "120", "reload", "web",
                            "--sequential", "--waiting"], check=True, stdout=subprocess.DEVNULL)

        print("4 chaussette-java workers (netty, 1 thread each), %d cores, probe: a new connection every 10 ms%s%s;"
              " kernel.sched_autogroup_enabled = %s; own_session = %s"
              % (os.cpu_count(), " at normal priority" if a.probe_normal else "",
                 "; wrk -t1 -c8 keep-alive on the workers throughout" if a.loaded else "; nothing else running", ag0,
                 "false" if a.shared_session else "true"))
        columns = ["reload --sequential", "same workers, steady", "nginx alone (the floor)"]
        if a.autogroup_ab:
            columns.insert(1, "reload, autogroup off")
        print("%-6s " % "round" + " ".join("%-28s" % c for c in columns))
        rows = []
        for r in range(a.rounds):
            if a.loaded:
                load = subprocess.Popen(["wrk", "-t1", "-c8", "-d600s", "http://127.0.0.1:%d/" % shared],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            def reload_off():
                try:
                    autogroup("0")
                    return window(shared, 0, reload)
                finally:
                    autogroup(ag0)

            if not a.autogroup_ab:
                row = [window(shared, 0, reload)]
            elif r % 2 == 0:  # alternated, so neither always follows the other
                on = window(shared, 0, reload)
                row = [on, reload_off()]
            else:
                off = reload_off()
                row = [window(shared, 0, reload), off]
            row.append(window(shared, row[0][3]))
            row.append(window(floor, row[0][3]))
            if load:
                load.terminate()
                load.wait()
                load = None
            rows.append(row)
            cell = lambda w: "%6.1f ms (%d > 20 ms%s)" % (w[0], w[1], ", %d failed" % w[2] if w[2] else "")
            print("%-6d " % (r + 1) + " ".join("%-28s" % cell(w) for w in row) + "   (windows of %.1f s)" % row[0][3])
        names = ["reload --sequential", "steady", "nginx alone"]
        if a.autogroup_ab:
            names.insert(1, "reload, autogroup off")
        for i, name in enumerate(names):
            gaps = [row[i][0] for row in rows]
            print("%-22s longest gap: median %5.1f ms, max %5.1f ms; windows with none above 20 ms: %d of %d;"
                  " failed probes: %d" % (name, median(gaps), max(gaps), sum(1 for g in gaps if g <= 20.0),
                                          len(gaps), sum(row[i][2] for row in rows)))
        print("reload minus nginx alone, per round: %s ms" % ", ".join("%+.1f" % (row[0][0] - row[-1][0]) for row in rows))
    finally:
        if a.autogroup_ab:
            autogroup(ag0)
        if load:
            load.terminate()
        nginx.terminate()
        nginx.wait()
        core.stop(d)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
