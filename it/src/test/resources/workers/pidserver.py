"""Test worker: serves on an inherited listening fd and answers every connection with its pid."""
import os
import socket
import sys

fd = int(sys.argv[1])
s = socket.socket(fileno=fd)
s.setblocking(True)
me = ("%d\n" % os.getpid()).encode()
print("worker %d serving on fd %d" % (os.getpid(), fd), flush=True)
while True:
    c, _ = s.accept()
    try:
        c.sendall(me)
    finally:
        c.close()
