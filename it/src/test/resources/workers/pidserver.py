"""Test worker: serves on an inherited listening fd and answers every connection with its pid."""
import os
import socket
import sys

fd = int(sys.argv[1])
s = socket.socket(fileno=fd)
s.setblocking(True)
me = ("%d\n" % os.getpid()).encode()
defer = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) if s.family != socket.AF_UNIX else 0
print("worker %d serving on fd %d (TCP_DEFER_ACCEPT %d)" % (os.getpid(), fd, defer), flush=True)
drain = sys.argv[2:] == ["drain"]  # read what the client sent before closing (no RST for unread bytes)
while True:
    c, _ = s.accept()
    try:
        c.sendall(me)
        if drain:
            c.shutdown(socket.SHUT_WR)
            c.settimeout(5)
            while c.recv(4096):
                pass
    except OSError:
        pass
    finally:
        c.close()
