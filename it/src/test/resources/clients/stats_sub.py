"""A stats-stream subscriber written from the reference's payload description (CIRCUS-REFERENCE.md 2.8),
the way circus-top and circus-web read it: SUB to "stat.", two frames [topic, json].
argv: endpoint seconds. Prints one JSON object: every topic seen with the keys it must carry checked,
and "errors" listing any payload that does not parse or lacks a field."""
import json, sys, time
import zmq

PER_PID = ["mem_info1", "mem_info2", "cpu", "mem", "ctime", "pid", "username", "nice", "create_time", "age",
           "cmdline", "children", "subtopic", "name"]
AGGREGATE = ["pid", "cpu", "mem", "age"]
SOCKET = ["fd", "subtopic", "reads", "address"]
SOCKETS = ["addresses", "reads"]

endpoint, seconds = sys.argv[1], float(sys.argv[2])
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"stat.")
sub.connect(endpoint)
topics, errors = {}, []
end = time.time() + seconds
while time.time() < end:
    if not sub.poll(100):
        continue
    frames = sub.recv_multipart()
    if len(frames) != 2:
        errors.append("%d frames" % len(frames))
        continue
    topic, payload = frames[0].decode(), json.loads(frames[1])
    parts = topic.split(".")
    if parts[1] == "sockets":
        need = SOCKETS if len(parts) == 2 else SOCKET
    else:
        need = AGGREGATE if len(parts) == 2 else PER_PID
    missing = [k for k in need if k not in payload]
    if missing:
        errors.append("%s lacks %s" % (topic, missing))
    if len(parts) == 3 and str(payload["subtopic"]) != parts[2]:
        errors.append("%s has subtopic %s" % (topic, payload["subtopic"]))
    if len(parts) == 3 and parts[1] not in ("sockets",) and not isinstance(payload["cpu"], (int, float)):
        errors.append("%s cpu %r" % (topic, payload["cpu"]))
    topics[topic] = payload
print(json.dumps({"topics": topics, "errors": errors}))
