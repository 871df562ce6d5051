"""A worker watched by Circus's watchdog plugin: sends 'PID;TIME' over UDP every 0.2 s for SECONDS seconds, then
goes silent but keeps running (as a wedged process would)."""
import os, socket, sys, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + seconds
while time.time() < end:
    s.sendto(("%d;%f" % (os.getpid(), time.time())).encode(), ("127.0.0.1", port))
    time.sleep(0.2)
while True:
    time.sleep(3600)
