"""Holds a listening socket in BLOCKING mode (as systemd hands them over) and shares it with two
chaussette-java workers, then makes sequential requests; prints "served <n> <pid>:<count>...".
A worker whose event loop called accept() on the blocking socket after the other worker took the
connection would hang there, and the requests time out.  argv: chaussette-launcher requests"""
import os, socket, subprocess, sys, time

launcher, n = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
assert s.getblocking()
os.set_inheritable(s.fileno(), True)
workers = [subprocess.Popen([launcher, "--threads", "1", "fd://%d" % s.fileno()], pass_fds=[s.fileno()])
           for _ in range(2)]
try:
    port, counts, deadline = s.getsockname()[1], {}, time.time() + 60
    while len(counts) < 2 and time.time() < deadline:  # both workers up
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                counts[c.makefile("rb").read().split(b"\r\n\r\n", 1)[1].split()[-1]] = 0
        except OSError:
            time.sleep(0.1)
    # warm-up, not counted: a worker's first requests run in its interpreter and the other takes most of the
    # turns meanwhile (6:94 once in CI); a stalled worker still shows, as timeouts and a count of 0
    for _ in range(40):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            c.makefile("rb").read()
    counts = dict.fromkeys(counts, 0)
    served = 0
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            pid = c.makefile("rb").read().split(b"\r\n\r\n", 1)[1].split()[-1]
            counts[pid] = counts.get(pid, 0) + 1
            served += 1
    print("served %d %s" % (served, " ".join("%s:%d" % (p.decode(), k) for p, k in counts.items())), flush=True)
finally:
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait(30)
