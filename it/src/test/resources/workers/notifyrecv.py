"""systemd's side of sd_notify for a test: binds an AF_UNIX datagram socket at PATH and prints each datagram, its
lines joined by '|', with the time it arrived."""
import socket, sys, time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data = s.recv(4096).decode()
    print("%.3f %s" % (time.time(), data.strip().replace("\n", "|")), flush=True)
