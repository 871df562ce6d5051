"""Test worker: each time a go-file appears, removes it, writes MB megabytes of 100-byte lines to stdout as fast
as it can and appends the seconds that took to the took-file. argv: go-file took-file megabytes"""
import os, sys, time

go, took, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
block = (b"x" * 99 + b"\n") * 10000  # 1 MB
while True:
    while not os.path.exists(go):
        time.sleep(0.01)
    os.unlink(go)
    t = time.time()
    for _ in range(mb):
        sys.stdout.buffer.write(block)
    sys.stdout.flush()
    with open(took, "a") as f:
        f.write("%f\n" % (time.time() - t))
