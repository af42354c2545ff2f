#!/usr/bin/env python3
"""Steady load for `scripts/bench deploy`: GET / at a fixed rate through Sprout's load balancer,
half on a kept-alive connection and half on fresh connections, loopback only, bounded in time.
Runs until STOP_FILE exists (or MAX_SECONDS pass); writes a JSON summary to OUT_FILE.

usage: bench-deploy-load.py HOST:PORT HOSTNAME RATE STOP_FILE OUT_FILE [MAX_SECONDS]
"""
import http.client, json, os, sys, threading, time

addr, hostname, rate, stop_file, out_file = sys.argv[1:6]
max_s = float(sys.argv[6]) if len(sys.argv) > 6 else 600
host, port = addr.rsplit(":", 1)
assert host in ("127.0.0.1", "localhost"), "loopback only"
rate = float(rate)
WORKERS = 8
lock = threading.Lock()
stats = {"requests": 0, "failed": 0, "errors": {}}

def record(ok, why=None):
    with lock:
        stats["requests"] += 1
        if not ok:
            stats["failed"] += 1
            stats["errors"][why] = stats["errors"].get(why, 0) + 1

def worker(n):
    # Even workers keep one connection alive; odd ones open a fresh connection per request.
    keep = n % 2 == 0
    conn = None
    interval = WORKERS / rate
    next_at = time.monotonic() + n * interval / WORKERS
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline and not os.path.exists(stop_file):
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        try:
            if conn is None or not keep:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", "/", headers={"Host": hostname})
            r = conn.getresponse()
            r.read()
            ok = 200 <= r.status < 300
            record(ok, None if ok else f"HTTP {r.status}")
            if not keep or r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # transport error: counted, connection dropped
            record(False, type(e).__name__)
            if conn is not None:
                conn.close()
            conn = None

threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(out_file, "w") as f:
    json.dump(stats, f)
