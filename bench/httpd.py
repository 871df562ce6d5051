#!/usr/bin/env python3
"""The web console's cost (not a test): circus-httpd's CPU and RSS with 500 processes and 3 browsers on its page,
and what serving it adds to circusd's CPU, in one run.

  /usr/bin/python3 bench/httpd.py [--children 500] [--seconds 20] [--browsers 3]

Needs a built tree and Debian's chromium. circusd runs with its stats stream on; the browsers are headless
chromium processes showing the page (its streams of events and stats, and its periodic status/list calls).
circusd's CPU is measured three times over windows of the same length: with no client, with one plain stats
subscriber (what circus-top costs it: a PUB with a subscriber encodes and sends what it drops otherwise), and with
the console and its browsers. The console is measured once its JIT has settled (--settle seconds after the pages
load): what it costs while kept open, not while it starts.
"""
import argparse, os, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402

HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_percent(pids, seconds):
    before = {p: core.cpu_seconds(p) for p in pids}
    time.sleep(seconds)
    return {p: (core.cpu_seconds(p) - before[p]) / seconds * 100 for p in pids}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--browsers", type=int, default=3)
    ap.add_argument("--settle", type=int, default=60)
    a = ap.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    tmp = tempfile.mkdtemp(prefix="jcircus-bench-httpd-")
    ep = core.endpoints()
    endpoint = ep.split("endpoint = ")[1].split("\n")[0]
    cfg = os.path.join(tmp, "c.ini")
    with open(cfg, "w") as f:
        f.write(ep + "stats_endpoint = tcp://127.0.0.1:%d\n[watcher:sleepers]\ncmd = sleep 1000\nnumprocesses = %d\n"
                % (core.free_port(), a.children))
    d = core.start_circusd(cfg, os.path.join(tmp, "circusd.log"))
    started = []
    try:
        while len([c for c in core.children(d.pid) if core.exe(c).endswith("sleep")]) < a.children:
            time.sleep(0.1)
        time.sleep(3)
        alone = cpu_percent([d.pid], a.seconds)[d.pid]
        stats_at = open(cfg).read().split("stats_endpoint = ")[1].split("\n")[0]
        sub = subprocess.Popen([sys.executable, "-c", "import zmq,sys\ns=zmq.Context().socket(zmq.SUB)\n"
                                "s.connect(sys.argv[1]);s.subscribe(b'')\nwhile True: s.recv_multipart()", stats_at],
                               start_new_session=True)
        started.append(sub)
        time.sleep(3)
        one_sub = cpu_percent([d.pid], a.seconds)[d.pid]
        sub.terminate()
        sub.wait(10)
        time.sleep(2)

        port = core.free_port()
        httpd = subprocess.Popen([os.path.join(HOME, "bin", "circus-httpd"), "--endpoint", endpoint, "--port",
                                  str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(httpd)
        line = httpd.stdout.readline()
        if "listening" not in line:
            sys.exit("circus-httpd did not start: " + line)
        for i in range(a.browsers):
            started.append(subprocess.Popen(
                [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--user-data-dir=" + os.path.join(tmp, "browser%d" % i), "--remote-debugging-port=0",
                 "http://127.0.0.1:%d/" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        time.sleep(a.settle)  # the pages load, open their streams and draw; circus-httpd's JIT settles
        with_console = cpu_percent([d.pid, httpd.pid], a.seconds)
        rss = core.rss_mib(httpd.pid)
        print()
        print("web console benchmark: %d processes, %d headless browsers on the page, %d s windows (%d cores)"
              % (a.children, a.browsers, a.seconds, os.cpu_count()))
        print("%-44s %8.2f%% of a core   (target < 3%%)" % ("circus-httpd CPU", with_console[httpd.pid]))
        print("%-44s %8.1f MiB" % ("circus-httpd RSS", rss))
        print("%-44s %8.2f%% no client, %.2f%% one plain stats subscriber, %.2f%% with the console: %.2fx the"
              " subscriber's   (target: unchanged)" % ("circusd CPU (stats stream on)", alone, one_sub,
                                                        with_console[d.pid], with_console[d.pid] / one_sub))
    finally:
        for p in reversed(started):
            try:
                os.killpg(p.pid, signal.SIGKILL) if p.args[0] == chromium else p.terminate()
            except OSError:
                pass
        for p in started:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        core.stop(d)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
