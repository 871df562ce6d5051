#!/usr/bin/env python3
"""Soak (not a test): random commands, kills, output floods and reloads against 50 watchers for ten minutes.

  /usr/bin/python3 bench/soak.py [--seconds 600] [--seed N]

Every second it samples circusd's open descriptors, RSS and thread count and a `status` round trip, and checks
that every child of circusd (the guardian aside) is listed by `list NAME` for some watcher; a child seen
unlisted twice in a row (so not one reaped or spawned between the two reads) is reported. Prints one line per
30 s and a summary: flat is the target for descriptors, RSS and threads; no unlisted process, ever.

Needs a built tree (mvn -B -q package -DskipTests) and python3-zmq.
"""
import argparse, json, os, random, shutil, signal, statistics, sys, tempfile, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import core  # noqa: E402
import zmq  # noqa: E402

KINDS = {
    "sleep": "sleep 3600",
    "chatty": "/bin/sh -c 'while :; do echo tick $$; sleep 0.05; done'",
    "crash": "/bin/sh -c 'sleep 0.7; exit 3'",
    "stubborn": "/bin/sh -c \"trap '' TERM; while :; do sleep 0.2; done\"",
    "flood": "/bin/sh -c 'while :; do yes %s | head -n 20000; sleep 2; done'" % ("x" * 98),  # 2 MB every 2 s
}


def watcher_section(name, kind, n):
    extra = "graceful_timeout = 1\n" if kind == "stubborn" else ""
    return "[watcher:%s]\ncmd = %s\nnumprocesses = %d\n%s" % (name, KINDS[kind], n, extra)


def config(ep, specs, output):
    text = ep + "output_endpoint = %s\n" % output
    for name, (kind, n) in sorted(specs.items()):
        text += watcher_section(name, kind, n)
    return text


class Client:
    def __init__(self, endpoint):
        self.ctx = zmq.Context.instance()
        self.endpoint = endpoint
        self.sock = None
        self.fresh()

    def fresh(self):
        if self.sock is not None:
            self.sock.close(0)
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
        self.sock.connect(self.endpoint)

    def call(self, command, timeout=30.0, **props):
        rid = uuid.uuid4().hex
        t0 = time.perf_counter()
        self.sock.send(json.dumps({"id": rid, "command": command, "properties": props}).encode())
        while True:
            left = timeout - (time.perf_counter() - t0)
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                self.fresh()
                return None, None
            r = json.loads(self.sock.recv())
            if r.get("id") == rid:
                return r, (time.perf_counter() - t0) * 1000


def running(pid):
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_guardian(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().startswith(b"jcircus-guardian")
    except OSError:
        return False


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    tmp = tempfile.mkdtemp(prefix="jcircus-soak-")
    cfg = os.path.join(tmp, "circus.ini")
    ep = core.endpoints()
    endpoint = ep.split("endpoint = ")[1].split("\n")[0]
    output = "tcp://127.0.0.1:%d" % core.free_port()
    kinds = ["sleep"] * 25 + ["chatty"] * 10 + ["crash"] * 5 + ["stubborn"] * 5 + ["flood"] * 5
    specs = {"w%02d" % i: (k, 1 + i % 3) for i, k in enumerate(kinds)}
    with open(cfg, "w") as f:
        f.write(config(ep, specs, output))
    log = os.path.join(tmp, "circusd.log")
    d = core.start_circusd(cfg, log)
    c = Client(endpoint)
    probe = Client(endpoint)
    sub = zmq.Context.instance().socket(zmq.SUB)  # an output subscriber that comes and goes, never reading
    sub.setsockopt(zmq.LINGER, 0)
    subscribed = False
    guardian = None
    with open(os.path.join(tmp, "circusd.log")) as f:
        for line in f:
            if "guardian started, pid" in line:
                guardian = int(line.split("guardian started, pid")[1].split()[0].strip(","))
    samples, unlisted_ever, suspects = [], set(), set()
    ever = {}  # every child seen, pid -> start time: after the stop, one still alive was left behind
    actions = {}
    extra = 0
    t_start = time.time()
    next_sample = t_start + 1
    next_print = t_start + 30
    print("soak: seed %d, %d s, 50 watchers, circusd pid %d" % (a.seed, a.seconds, d.pid))
    print("%6s %5s %8s %7s %10s %10s %8s %9s" % ("t(s)", "fds", "rss(MB)", "threads", "status_med", "status_max",
                                                  "children", "unlisted"))
    window = []
    try:
        while time.time() - t_start < a.seconds:
            names = list(specs)
            name = rnd.choice(names)
            act = rnd.choice(["incr", "decr", "set", "stop", "start", "restart", "reload", "reload_seq", "signal",
                              "killpid", "stats", "rm_add", "reloadconfig", "subscribe", "status", "add_extra"])
            actions[act] = actions.get(act, 0) + 1
            if act == "incr":
                c.call("incr", name=name, nb=1)
            elif act == "decr":
                c.call("decr", name=name, nb=1)
            elif act == "set":
                c.call("set", name=name, options={"numprocesses": rnd.randint(0, 3)})
            elif act in ("stop", "start", "restart"):
                c.call(act, name=name)
            elif act == "reload":
                c.call("reload", name=name)
            elif act == "reload_seq":
                c.call("reload", name=name, sequential=True)
            elif act == "signal":
                c.call("signal", name=name, signum=rnd.choice(["HUP", "USR1", "CONT"]))
            elif act == "killpid":
                r, _ = c.call("list", name=name)
                if r and r.get("pids"):
                    try:
                        os.kill(rnd.choice(r["pids"]), signal.SIGKILL)
                    except OSError:
                        pass
            elif act == "stats":
                c.call("stats", name=name)
            elif act == "rm_add":
                kind, n = specs[name]
                c.call("rm", name=name)
                c.call("add", name=name, cmd=KINDS[kind], start=True,
                       options={"numprocesses": n, "graceful_timeout": 1})
            elif act == "reloadconfig":
                victim = rnd.choice(names)
                kind, n = specs[victim]
                specs[victim] = (kind, (n % 3) + 1)
                with open(cfg, "w") as f:
                    f.write(config(ep, specs, output))
                c.call("reloadconfig")
            elif act == "subscribe":
                if subscribed:
                    sub.disconnect(output)
                    subscribed = False
                else:
                    sub.setsockopt(zmq.SUBSCRIBE, b"output.")
                    sub.connect(output)
                    subscribed = True
            elif act == "add_extra" and extra < 20:
                extra += 1
                c.call("add", name="x%02d" % extra, cmd="sleep 3600", start=True)
                c.call("rm", name="x%02d" % (extra - 1))
            elif act == "status":
                c.call("status")
            time.sleep(rnd.uniform(0.01, 0.1))
            now = time.time()
            if now >= next_sample:
                next_sample = now + 1
                r, ms = probe.call("status", timeout=5)
                window.append(ms if ms is not None else 5000.0)
                r, _ = probe.call("list")
                listed = set()
                for w in (r or {}).get("watchers", []):
                    lr, _ = probe.call("list", name=w)
                    if lr and lr.get("status") == "ok":
                        listed.update(lr.get("pids", []))
                kids = [k for k in core.children(d.pid) if k != guardian and not is_guardian(k)]
                for k in kids:
                    ever.setdefault(k, start_time(k))
                alive = [k for k in kids if running(k)]
                now_unlisted = {k for k in alive if k not in listed}
                for k in now_unlisted & suspects - unlisted_ever:
                    try:
                        cmd = open("/proc/%d/cmdline" % k).read().replace("\0", " ")[:80]
                    except OSError:
                        cmd = "?"
                    print("  unlisted at t=%.0f s: pid %d %s" % (now - t_start, k, cmd))
                unlisted_ever |= now_unlisted & suspects
                suspects = now_unlisted
                samples.append((now - t_start, len(os.listdir("/proc/%d/fd" % d.pid)), core.rss_mib(d.pid),
                                proc_status(d.pid, "Threads"), len(alive)))
            if now >= next_print:
                next_print = now + 30
                t, fds, rss, th, kids = samples[-1]
                print("%6.0f %5d %8.1f %7d %10.2f %10.2f %8d %9d" % (t, fds, rss, th, statistics.median(window),
                                                                   max(window), kids, len(unlisted_ever)))
                sys.stdout.flush()
                window = []
    finally:
        core.stop(d)
        time.sleep(1)
        # the same pid and the same start time: pids wrap (32 768 here) in a soak that spawns this much
        leftover = [k for k in sorted(ever) if running(k) and start_time(k) == ever[k]]
        for k in leftover:  # what each was, and what circusd said of it
            try:
                print("left behind: pid %d %s" % (k, open("/proc/%d/cmdline" % k).read().replace("\0", " ")[:80]))
            except OSError:
                pass
            for line in open(log, errors="replace"):
                if str(k) in line:
                    print("  log: " + line.rstrip()[:200])
        shutil.rmtree(tmp, ignore_errors=True)
    first = samples[len(samples) // 10] if samples else None
    last = samples[-1] if samples else None
    print("actions: " + ", ".join("%s %d" % kv for kv in sorted(actions.items())))
    if first and last:
        print("after warm-up (t=%.0f s) -> end (t=%.0f s): fds %d -> %d, RSS %.1f -> %.1f MB, threads %d -> %d"
              % (first[0], last[0], first[1], last[1], first[2], last[2], first[3], last[3]))
    print("processes ever running unlisted (seen twice in a row): %d %s" % (len(unlisted_ever),
                                                                            sorted(unlisted_ever)[:20]))
    print("left behind after circusd stopped (alive, once its children): %d %s" % (len(leftover), leftover[:20]))


if __name__ == "__main__":
    main()
