"""A worker with sd_notify liveness: READY=1 at once, then WATCHDOG=1 every WATCHDOG_USEC / 4 for SECONDS seconds,
then silent but still running (as a wedged process would). Writes WATCHDOG_USEC to stdout first."""
import os, socket, sys, time

seconds = float(sys.argv[1])
usec = int(os.environ["WATCHDOG_USEC"])
print("WATCHDOG_USEC=%d" % usec, flush=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
where = os.environ["NOTIFY_SOCKET"]
s.sendto(b"READY=1", where)
end = time.time() + seconds
while time.time() < end:
    s.sendto(b"WATCHDOG=1", where)
    time.sleep(usec / 4e6)
while True:
    time.sleep(3600)
