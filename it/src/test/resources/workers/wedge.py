"""Test worker for liveness checks: listens on 127.0.0.1:PORT for SECONDS seconds, answering every connection, then
stops listening but keeps running (a wedged server that its process list still shows as alive)."""
import socket, sys, time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
s.settimeout(0.1)
end = time.time() + seconds
while time.time() < end:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
s.close()
while True:
    time.sleep(3600)
