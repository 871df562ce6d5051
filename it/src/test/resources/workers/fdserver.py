#!/usr/bin/env python3
"""Python's standard library HTTP server on sockets handed over by circusd, by any convention:
systemd (LISTEN_FDS from fd 3, LISTEN_FDNAMES, LISTEN_PID must be our pid), Einhorn (EINHORN_FD_COUNT,
EINHORN_FD_n), or fd numbers on the command line (Circus's $(circus.sockets.NAME)).
Answers GET with "hello from pid N via NAME"."""
import http.server, os, socket, sys, threading


def handed_over():
    if "LISTEN_FDS" in os.environ:
        if os.environ.get("LISTEN_PID") != str(os.getpid()):
            sys.exit("LISTEN_PID=%s is not my pid %d" % (os.environ.get("LISTEN_PID"), os.getpid()))
        names = os.environ.get("LISTEN_FDNAMES", "").split(":")
        return [(3 + i, names[i]) for i in range(int(os.environ["LISTEN_FDS"]))]
    if "EINHORN_FD_COUNT" in os.environ:
        return [(int(os.environ["EINHORN_FD_%d" % i]), "einhorn%d" % i)
                for i in range(int(os.environ["EINHORN_FD_COUNT"]))]
    return [(int(a), "argv") for a in sys.argv[1:]]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from pid %d via %s\n" % (os.getpid(), self.server.name)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threads = []
sockets = handed_over()
if os.environ.get("OWN_PORT"):  # a port of this process alone, e.g. for a readiness check
    own = socket.socket()
    own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    own.bind(("127.0.0.1", int(os.environ["OWN_PORT"])))
    own.listen(16)
    sockets.append((own.detach(), "own"))
for fd, name in sockets:
    srv = http.server.HTTPServer(("127.0.0.1", 0), Hello, bind_and_activate=False)
    srv.socket.close()
    srv.socket = socket.socket(fileno=fd)  # already bound and listening: circusd owns it
    srv.name = name
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    threads.append(t)
print("fdserver %d serving %d socket(s)" % (os.getpid(), len(threads)), flush=True)
for t in threads:
    t.join()
