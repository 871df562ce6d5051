"""A libzmq client for the tests: one JSON request a line on stdin, one line out per request:
{"ms": round-trip milliseconds or null, "reply": the reply frame as text or null}. A request that gets no
reply within TIMEOUT_MS is answered null and the socket is replaced, so a late reply is never taken for the
next one's. Replies are matched by id when the request has one."""
import json
import sys
import time

import zmq

endpoint = sys.argv[1]
timeout_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
ctx = zmq.Context()


def fresh():
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


sock = fresh()
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    cast = False
    try:
        req = json.loads(line)
        want = req.get("id")
        cast = req.get("msg_type") == "cast"
    except Exception:
        want = None
    t0 = time.monotonic()
    sock.send(line.encode("utf-8", "surrogateescape"))
    if cast:  # Circus answers no cast
        print(json.dumps({"ms": None, "reply": None}), flush=True)
        continue
    out = {"ms": None, "reply": None}
    while True:
        left = timeout_ms - (time.monotonic() - t0) * 1000
        if left <= 0 or not sock.poll(max(1, int(left))):
            sock.close()
            sock = fresh()
            break
        raw = sock.recv()
        text = raw.decode("utf-8", "replace")
        try:
            rid = json.loads(text).get("id")
        except Exception:
            rid = None
        if want is None or rid == want:
            out = {"ms": (time.monotonic() - t0) * 1000, "reply": text}
            break
    print(json.dumps(out), flush=True)
