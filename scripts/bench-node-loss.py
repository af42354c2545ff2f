#!/usr/bin/env python3
"""One run of `scripts/bench node-loss` on a swarm the shell script has set up: steady load
through Sprout's load balancer, the worker with the most instances stopped, then the figures
(see scripts/bench-node-loss) written as JSON to --out. Traffic goes only to the bench's own
namespace addresses (10.236.0.0/16) and loopback; the load is bounded in time.
"""
import argparse, http.client, json, os, re, signal, subprocess, sys, threading, time

p = argparse.ArgumentParser()
for a in ("http", "api", "host", "sprout", "env", "nodes", "manager", "workers", "out"):
    p.add_argument("--" + a, required=True)
p.add_argument("--rate", type=float, default=200)
p.add_argument("--instances", type=int, default=6)
args = p.parse_args()
for addr in (args.http, args.api):
    assert addr.startswith(("10.236.", "127.")), f"{addr}: the bench's own addresses only"
node_ids = dict(kv.split("=", 1) for kv in args.nodes.strip(",").split(","))
workers = dict(kv.split("=", 1) for kv in args.workers.split(","))
MAX_S = 300  # the load stops after this in any case
t0 = time.monotonic()
now = lambda: time.monotonic() - t0
stop = threading.Event()


def log(msg):
    wall = time.strftime("%H:%M:%S", time.gmtime()) + f".{int(time.time() * 10) % 10}"
    print(f"bench-node-loss: {wall} UTC {now():7.2f}s {msg}", file=sys.stderr, flush=True)


def status():
    out = subprocess.run([args.sprout, "status", args.env, "--output", "json"], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def serving(st):
    """(instance id, node address) of each in-service instance."""
    out = []
    for i in (st or {}).get("instances", []):
        a = i.get("address") or i.get("web_address")
        if i.get("in_service", True) and a:
            out.append((i["id"], a.rsplit(":", 1)[0]))
    return out


# --- load: WORKERS threads, half keep-alive, half a fresh connection per request ------------
WORKERS = 16
lock = threading.Lock()
load = {"requests": 0, "failed": 0, "errors": {}, "by_node": {}, "failed_at": []}


def record(ok, why=None, node=None):
    with lock:
        load["requests"] += 1
        if ok:
            load["by_node"][node] = now()
        else:
            load["failed"] += 1
            load["errors"][why] = load["errors"].get(why, 0) + 1
            load["failed_at"].append(round(now(), 2))


def worker(n):
    host, port = args.http.rsplit(":", 1)
    keep, conn = n % 2 == 0, None
    interval = WORKERS / args.rate
    next_at = time.monotonic() + n * interval / WORKERS
    deadline = time.monotonic() + MAX_S
    while not stop.is_set() and time.monotonic() < deadline:
        t = time.monotonic()
        if t < next_at:
            time.sleep(next_at - t)
        next_at += interval
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", "/", headers={"Host": args.host})
            r = conn.getresponse()
            body = r.read().decode(errors="replace").strip()
            record(r.status == 200, f"HTTP {r.status}", body)
            if not keep or r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except Exception as e:  # a transport error counts as failed; the connection is dropped
            record(False, type(e).__name__)
            if conn is not None:
                conn.close()
            conn = None


# --- the load balancer's per-instance counters ---------------------------------------------
SERIES = re.compile(r'^sprout_lb_(requests|upstream_connect_errors)_total\{[^}]*instance="([^"]+)"[^}]*\} (\d+)')


def counters():
    """instance id -> requests answered through it plus connections to it that failed."""
    c = http.client.HTTPConnection(*args.api.rsplit(":", 1), timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    out = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(3))
    return out


def node_state(node_id):
    out = subprocess.run(["docker", "-H", args.manager, "node", "inspect", node_id, "--format", "{{.Status.State}}"],
                         capture_output=True, text=True)
    return out.stdout.strip()


# 1. The environment serves with every instance.
deadline = time.monotonic() + 180
while len(serving(status())) < args.instances:
    if time.monotonic() > deadline:
        raise SystemExit(f"not {args.instances} instances in service after 180 s: {status()}")
    time.sleep(0.5)
threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(WORKERS)]
for t in threads:
    t.start()
time.sleep(5)  # steady state

# 2. The worker with the most instances is the one lost.
placed = serving(status())
lost_addr = max(workers, key=lambda a: sum(1 for _, n in placed if n == a))
lost_ids = {i for i, n in placed if n == lost_addr}
log(f"placement {sorted(n for _, n in placed)}; stopping the dockerd of {lost_addr} ({len(lost_ids)} instances)")
seen = {}
samples = []  # (t, sum of the lost instances' counters)


def sample():
    try:
        c = counters()
    except OSError:
        return
    for i in lost_ids:
        seen[i] = max(seen.get(i, 0), c.get(i, 0))
    samples.append((now(), sum(seen.values())))


sample()
pid = int(open(workers[lost_addr]).read().strip())
t_stop = now()
os.kill(pid, signal.SIGTERM)

# 3. Until 6 instances serve again, none on the lost node (at most 120 s).
down_s = recovered_s = None
next_status = 0.0
while now() - t_stop < 120 and recovered_s is None:
    sample()
    if down_s is None and node_state(node_ids[lost_addr]) == "down":
        down_s = round(now() - t_stop, 2)
        log("the manager marks the node down")
    if now() >= next_status:
        s = serving(status())
        next_status = now() + 0.5
        if len(s) >= args.instances and all(n != lost_addr for _, n in s):
            recovered_s = round(now() - t_stop, 2)
            log(f"{len(s)} instances in service, none on {lost_addr}")
    time.sleep(0.2)

# 4. A few more seconds of load, then the counters once the last second has closed.
end = now() + 5
while now() < end:
    sample()
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
time.sleep(1.5)
sample()
final = samples[-1][1]
changed = [t for (t, v), (_, prev) in zip(samples[1:], samples) if v != prev]
rerouted_s = round(max(0.0, changed[-1] - t_stop), 2) if changed else 0.0
if down_s is None and node_state(node_ids[lost_addr]) == "down":
    down_s = round(now() - t_stop, 2)
lost_node_id = node_ids[lost_addr]
last_answer = load["by_node"].get(lost_node_id)
result = {
    "requests": load["requests"],
    "failed": load["failed"],
    "errors": load["errors"],
    "failed_at_s": [round(t - t_stop, 2) for t in load["failed_at"]][:20],
    "down_s": down_s,
    "rerouted_s": rerouted_s,
    "recovered_s": recovered_s,
    "last_answer_from_lost_node_s": round(last_answer - t_stop, 2) if last_answer else None,
    "lost_instances": len(lost_ids),
    "lost_instances_traffic": final,
    "load": float(open("/proc/loadavg").read().split()[0]),
}
log(json.dumps(result))
with open(args.out, "w") as f:
    json.dump(result, f)
