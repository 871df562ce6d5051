"""Talks to circusd the way Circus's own clients do: pyzmq on libzmq, DEALER with a uuid identity."""
import json
import sys
import uuid

import zmq

endpoint, pubsub = sys.argv[1], sys.argv[2]
ctx = zmq.Context()


def dealer():
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def call(s, command, **props):
    mid = uuid.uuid4().hex
    s.send(json.dumps({"id": mid, "command": command, "properties": props}).encode())
    assert s.poll(5000), "no reply to %s" % command
    frames = s.recv_multipart()
    assert len(frames) == 1, frames
    r = json.loads(frames[0])
    assert r["id"] == mid, r
    return r


s = dealer()
r = call(s, "list")
assert r["status"] == "ok" and r["watchers"] == ["sleeper"], r
assert isinstance(r["time"], float)
r = call(s, "status", name="sleeper")
assert r["status"] == "active", r
r = call(s, "numprocesses", name="sleeper")
assert r["numprocesses"] == 1 and r["watcher_name"] == "sleeper", r

s.send(b"not json")
assert s.poll(5000)
r = json.loads(s.recv())
assert r["errno"] == 1 and r["reason"] == "json invalid" and r["id"] is None, r

sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"watcher.")
sub.connect(pubsub)
import time
time.sleep(0.3)
r = call(s, "incr", name="sleeper", nb=1, waiting=True)
assert r["numprocesses"] == 2, r
assert sub.poll(5000)
topic, payload = sub.recv_multipart()
assert topic == b"watcher.sleeper.spawn", topic
assert "process_pid" in json.loads(payload)

# cast: nothing comes back
s.send(json.dumps({"command": "decr", "properties": {"name": "sleeper"}, "msg_type": "cast"}).encode())
assert not s.poll(500)

# many short-lived clients, REQ and DEALER: every one is answered
for i in range(200):
    c = ctx.socket(zmq.REQ if i % 2 else zmq.DEALER)
    c.setsockopt(zmq.LINGER, 0)
    c.connect(endpoint)
    c.send(json.dumps({"id": i, "command": "numwatchers"}).encode())
    assert c.poll(5000), "request %d lost" % i
    assert json.loads(c.recv())["numwatchers"] == 1
    c.close()
print("pyzmq client: all checks passed")
