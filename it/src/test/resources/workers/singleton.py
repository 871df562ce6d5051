"""A cluster singleton's process: writes DIR/PID (holding its node's name) while it runs, removes it on SIGTERM."""
import os, signal, sys, time

where = os.path.join(sys.argv[1], str(os.getpid()))
with open(where, "w") as f:
    f.write(sys.argv[2])


def bye(*_):
    try:
        os.unlink(where)
    except OSError:
        pass
    sys.exit(0)


signal.signal(signal.SIGTERM, bye)
while True:
    time.sleep(0.05)
