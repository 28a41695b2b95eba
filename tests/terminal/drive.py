"""Runs a command on a real pseudo-terminal, as the session leader, and does to it what an
operator's terminal does: Ctrl-C (the line discipline sends SIGINT to the foreground group), or
a hangup (the master closed, as sshd does when a session drops).

usage: drive.py ACTION WAIT_FOR_FILE WAIT_FOR_TEXT RESULT_JSON COMMAND...
  ACTION: ctrl-c | hangup | none
Waits until WAIT_FOR_FILE holds WAIT_FOR_TEXT, acts, then waits for the command and writes
{"code": exit code, "output": what the terminal showed} to RESULT_JSON.
"""
import json
import os
import pty
import select
import sys
import time

action, wait_file, wait_text, result_path = sys.argv[1:5]
command = sys.argv[5:]
pid, master = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

shown = bytearray()


def pump(seconds):
    """Reads what the terminal shows for up to `seconds`; False once it is closed."""
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                return False
            if not data:
                return False
            shown.extend(data)
    return True


started = time.time()
while time.time() - started < 90:
    if os.path.exists(wait_file) and wait_text in open(wait_file).read():
        break
    if not pump(0.05):
        break
pump(0.3)
if action == "ctrl-c":
    os.write(master, b"\x03")
elif action == "hangup":
    os.close(master)
    master = None
code = None
deadline = time.time() + 120
while time.time() < deadline:
    if master is not None:
        pump(0.1)
    else:
        time.sleep(0.1)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        break
if code is None:
    os.kill(pid, 9)
if master is not None:
    pump(0.2)
with open(result_path, "w") as out:
    json.dump({"code": code, "output": shown.decode(errors="replace")}, out)
