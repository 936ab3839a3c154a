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
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.bind(("127.0.0.1", 0))
# Each hop binds a port of the kernel's choosing and prints "ready ADDRESS"; once all are
# known, each relay reads its neighbours "PREV NEXT" from its standard input.
chain = ["127.0.0.1:%d" % client.getsockname()[1]]
hops = []
for i in range(1, 5):
    role = "echo" if i == 4 else "relay"
    p = subprocess.Popen([bench], env=dict(os.environ, OURO_BENCH_HOP=role),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    chain.append(p.stdout.readline().split()[1])  # "ready ADDRESS"
    hops.append(p)
for i, p in enumerate(hops[:3], start=1):
    p.stdin.write(f"{chain[i - 1]} {chain[i + 1]}\n")
    p.stdin.flush()
first = chain[1].rsplit(":", 1)
first = (first[0], int(first[1]))
client.settimeout(1)
out = tempfile.NamedTemporaryFile(suffix=".perf-stat")
stat = subprocess.Popen(["perf", "stat", "-e", "task-clock,context-switches", "-x,", "-o", out.name,
                         "-p", str(hops[0].pid), "--", "sleep", "1.5"])
start, pings = time.time(), 0
try:
    while time.time() - start < 1.8:
        client.sendto(b"x" * 64, first)
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
