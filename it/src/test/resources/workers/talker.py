#!/usr/bin/env python3
"""A worker that talks when told: it prints a greeting, then every 50 ms looks for files in its directory (argv[1]):
'say' (its content is printed, then it is removed) and 'flood' (N lines as fast as stdout takes them; removed)."""
import os, sys, time

d = sys.argv[1]
print("hello from pid %d" % os.getpid(), flush=True)
while True:
    say = os.path.join(d, "say")
    if os.path.exists(say):
        with open(say) as f:
            text = f.read()
        os.remove(say)
        print(text.strip(), flush=True)
    flood = os.path.join(d, "flood")
    if os.path.exists(flood):
        with open(flood) as f:
            n = int(f.read().strip() or "100000")
        os.remove(flood)
        out = sys.stdout
        for i in range(n):
            out.write("flood line %d of %d\n" % (i + 1, n))
        out.flush()
    time.sleep(0.05)
