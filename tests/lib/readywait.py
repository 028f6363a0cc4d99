#!/usr/bin/env python3
"""readywait.py SOCK LOG -- CMD...: start CMD with NOTIFY_SOCKET=SOCK (the sd_notify protocol),
wait until it sends READY=1, print its pid and exit 0, leaving it running.
Exit 1 if CMD exits or 30 s pass first (CMD is then killed by its pid)."""
import os, socket, subprocess, sys

sock_path, log = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index("--") + 1:]
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.settimeout(0.2)
env = dict(os.environ, NOTIFY_SOCKET=sock_path)
with open(log, "ab") as f:
    p = subprocess.Popen(cmd, env=env, stdout=f, stderr=f, stdin=subprocess.DEVNULL)
for _ in range(150):
    try:
        msg = s.recv(4096).decode(errors="replace")
        if "READY=1" in msg.split("\n"):
            print(p.pid)
            sys.exit(0)
    except socket.timeout:
        pass
    if p.poll() is not None:
        sys.exit(1)
p.kill()
p.wait()
sys.exit(1)
