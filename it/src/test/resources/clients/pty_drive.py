#!/usr/bin/env python3
"""Drives an interactive program through a pseudo-terminal.

usage: pty_drive.py STEPS_JSON -- PROGRAM ARGS...
STEPS_JSON is a list of ["send", text] | ["expect", text, timeout_s] | ["sleep", s] | ["run", argv...].
"expect" waits until text appears in the output after the previous expectation. Prints the whole
transcript (escape sequences removed) at the end; exits 1 if an expectation failed, else 0.
"""
import fcntl, json, os, pty, re, select, signal, struct, subprocess, sys, termios, time

steps = json.loads(sys.argv[1])
argv = sys.argv[sys.argv.index("--") + 1:]
pid, fd = pty.fork()
if pid == 0:
    # a terminal's program starts with default dispositions, whatever this driver inherited (a job runner or
    # nohup ignores SIGINT, and an ignored signal stays ignored across exec)
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.environ["TERM"] = "xterm"
    os.environ["COLUMNS"] = "120"
    os.execvp(argv[0], argv)

# a real terminal has a size; a fresh pty is 0x0
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
raw = b""
mark = 0
ansi = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]|\r")


def text():
    return ansi.sub("", raw.decode("utf-8", "replace"))


def pump(timeout):
    global raw
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        raw += data
    return True


ok = True
for step in steps:
    kind = step[0]
    if kind == "send":
        os.write(fd, step[1].encode())
    elif kind == "sleep":
        end = time.time() + step[1]
        while time.time() < end:
            pump(0.05)
    elif kind == "run":
        subprocess.run(step[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    elif kind == "expect":
        deadline = time.time() + (step[2] if len(step) > 2 else 10)
        while True:
            t = text()
            i = t.find(step[1], mark)
            if i >= 0:
                mark = i + len(step[1])
                break
            if time.time() > deadline:
                print("EXPECT FAILED: %r" % step[1])
                ok = False
                break
            if not pump(0.05):
                time.sleep(0.05)
    if not ok:
        break

end = time.time() + 3
while time.time() < end:
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        break
    if done:
        print("EXIT STATUS %d" % (os.waitstatus_to_exitcode(status)))
        break
    pump(0.05)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if ok:
        print("PROGRAM DID NOT EXIT")
        ok = False
print("----- transcript -----")
print(text())
if os.environ.get("PTY_RAW"):
    print(repr(raw))
sys.exit(0 if ok else 1)
