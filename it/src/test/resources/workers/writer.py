"""Test worker: writes numbered lines of varied length to stdout, then idles."""
import os
import sys
import time

n = int(sys.argv[1])
pid = os.getpid()
out = sys.stdout
for i in range(n):
    out.write("%d-%d-%s\n" % (pid, i, "x" * (i % 97)))
    if i % 50 == 0:
        out.flush()
out.flush()
time.sleep(1000)
