"""Test worker for the resource watcher: an HTTP server on an inherited listening fd that keeps 2 MiB more memory
for every request it answers (a leak), each answer ending its connection (Connection: close). On SIGTERM it finishes
the request in hand and exits without taking another, so a replacement loses nothing: the socket is circusd's."""
import os, signal, socket, sys

fd = int(sys.argv[1])
s = socket.socket(fileno=fd)
s.settimeout(0.1)
leak = []
stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
me = ("hello from pid %d\n" % os.getpid()).encode()
while not stopping:
    try:
        c, _ = s.accept()
    except (socket.timeout, InterruptedError):
        continue
    try:
        c.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        if data:
            block = bytearray(2 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            leak.append(block)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(me), me))
    except OSError:
        pass
    finally:
        c.close()
