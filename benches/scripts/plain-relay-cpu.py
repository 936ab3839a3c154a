"""CPU per pass of a plain blocking UDP relay (the net benchmark's hop process) in a chain
client -> relay -> relay -> relay -> echo on 127.0.0.1, pinged every 0.5 ms for 1.8 s, with
`perf stat` on the first relay. Usage: plain-relay-cpu.py PATH-TO-NET-BENCH-BINARY"""
import os
import socket
import subprocess
import sys
import tempfile
import time

bench = sys.argv[1]
socks = []
for _ in range(5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
ports = [s.getsockname()[1] for s in socks]
for s in socks[1:]:
    s.close()  # the hops bind these ports again
addr = lambda p: f"127.0.0.1:{p}"
hops = []
for i in range(1, 5):
    spec = f"echo {addr(ports[i])}" if i == 4 else f"relay {addr(ports[i])} {addr(ports[i - 1])} {addr(ports[i + 1])}"
    p = subprocess.Popen([bench], env=dict(os.environ, OURO_BENCH_HOP=spec), stdout=subprocess.PIPE)
    p.stdout.readline()  # "ready"
    hops.append(p)
client = socks[0]
client.settimeout(1)
out = tempfile.NamedTemporaryFile(suffix=".perf-stat")
stat = subprocess.Popen(["perf", "stat", "-e", "task-clock,context-switches", "-x,", "-o", out.name,
                         "-p", str(hops[0].pid), "--", "sleep", "1.5"])
start, pings = time.time(), 0
try:
    while time.time() - start < 1.8:
        client.sendto(b"x" * 64, ("127.0.0.1", ports[1]))
        client.recv(2048)
        pings += 1
        time.sleep(0.0005)
finally:
    stat.wait()
    for p in hops:
        p.kill()
vals = {}
for line in open(out.name):
    f = line.split(",")
    if len(f) > 3 and f[2] in ("task-clock", "context-switches"):
        vals[f[2]] = float(f[0])
print(f"plain relay {vals['task-clock'] * 1000 / vals['context-switches']:.2f} us/pass "
      f"({int(vals['context-switches'])} passes, {pings} pings)")
