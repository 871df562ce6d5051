"""Test worker: waits for a go-file, then writes COUNT lines "PID N" as fast as it can, then idles.
argv: go-file count"""
import os, sys, time

go, count = sys.argv[1], int(sys.argv[2])
while not os.path.exists(go):
    time.sleep(0.01)
w, p = sys.stdout.write, os.getpid()
for i in range(count):
    w("%d %d\n" % (p, i))
sys.stdout.flush()
time.sleep(1000)
