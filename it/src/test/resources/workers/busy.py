"""A worker with known figures: holds MEGABYTES of memory, burns CPU for SECONDS, prints LINES lines, then idles."""
import sys, time

megabytes, seconds, lines = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
block = bytearray(megabytes << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + seconds
while time.process_time() < end:
    pass
for i in range(lines):
    print("line %d" % i)
sys.stdout.flush()
while True:
    time.sleep(3600)
