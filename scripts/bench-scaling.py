#!/usr/bin/env python3
"""Auto-scaling benchmarks, run by `scripts/bench spike` and `scripts/bench schedule` (which
build first). Starts its own `sprout server` on free loopback ports with a temporary data
directory, creates the example environment, measures, terminates it and stops the server.
Traffic goes only to 127.0.0.1, bounded in rate and time. Prints a table, then as its LAST line
one JSON object.

spike:    min 1, target T req/s per instance; steady load of T/2, then a step to 5T, ROUNDS
          times. Spike-to-capacity: from the first request of the higher load to the first
          answer through the load balancer from an instance that was not serving before.
          Keys: spike_to_capacity_s (list), _p50_s, _p95_s, failed, requests.
schedule: one-off-like scheduled actions (6-field cron, seconds first, in Asia/Kolkata, a zone
          other than UTC) at near-future instants that raise capacity from 1 to 2. Lateness:
          from the scheduled instant to the first answer from the new instance (negative is
          early). Keys: late_s (list), late_p95_s, failed.

          --warm N keeps a warm pool of N instances (default 0: default settings).

usage: bench-scaling.py spike|schedule BIN [--rounds N] [--target T] [--warm N]
"""
import http.client, json, os, socket, subprocess, sys, tempfile, threading, time
from datetime import datetime, timedelta, timezone

mode, BIN = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
ROUNDS = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 5
TARGET = float(args[args.index("--target") + 1]) if "--target" in args else 20.0
WARM = int(args[args.index("--warm") + 1]) if "--warm" in args else 0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP, ENV = "bench", "web"
DEADLINE = time.monotonic() + 900  # the whole run, whatever happens


def say(*a):
    print("bench-%s:" % mode, *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


tmp = tempfile.mkdtemp(prefix="sprout-bench-%s." % mode)
API, HTTP = "127.0.0.1:%d" % free_port(), "127.0.0.1:%d" % free_port()
HOSTNAME = "%s.%s.localhost" % (ENV, APP)
EXTRA = ["--launch-concurrency", os.environ["BENCH_LAUNCH_CONCURRENCY"]] if os.environ.get("BENCH_LAUNCH_CONCURRENCY") else []
server = subprocess.Popen([BIN, "server", "--data-dir", tmp + "/data", "--api", API, "--http", HTTP, *EXTRA],
                          stdout=open(tmp + "/server.log", "w"), stderr=subprocess.STDOUT)
for _ in range(100):
    try:
        http.client.HTTPConnection(*API.split(":"), timeout=1).request("GET", "/healthz")
        break
    except OSError:
        time.sleep(0.1)
time.sleep(0.3)
ENVIRON = dict(os.environ, SPROUT_URL="http://" + API, SPROUT_APP=APP,
               SPROUT_TOKEN=open(tmp + "/data/admin.token").read().strip())


def cli(*a, check=True):
    r = subprocess.run([BIN, *a], env=ENVIRON, capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise SystemExit("sprout %s failed: %s" % (" ".join(a), r.stderr))
    return r.stdout


def api(method, path, body=None):
    c = http.client.HTTPConnection(*API.split(":"), timeout=10)
    c.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": "Bearer " + ENVIRON["SPROUT_TOKEN"], "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: %s %s" % (method, path, r.status, data))
    return json.loads(data)


def status():
    return json.loads(cli("status", ENV, "--output", "json"))


class Load:
    """Requests at `rate` per second from 8 keep-alive workers; records (time, instance, ok)."""

    def __init__(self):
        self.rate, self.stop, self.lock = 1.0, False, threading.Lock()
        self.seen = []  # (monotonic time answered, instance)
        self.requests = self.failed = 0
        self.threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(8)]
        for t in self.threads:
            t.start()

    def worker(self):
        conn, last = None, time.monotonic()
        while not self.stop and time.monotonic() < DEADLINE:
            # Pace by the current rate, looked at every 20 ms so a step takes effect at once
            # (a worker asleep on the old rate would delay the spike). No catching up after a
            # stall: a burst would be a spike of its own.
            while not self.stop and time.monotonic() < last + 8 / self.rate:
                time.sleep(min(0.02, max(0, last + 8 / self.rate - time.monotonic())))
            last = max(last + 8 / self.rate, time.monotonic() - 8 / self.rate)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(*HTTP.split(":"), timeout=10)
                conn.request("GET", "/", headers={"Host": HOSTNAME})
                r = conn.getresponse()
                body = r.read()
                inst = r.getheader("x-instance")
                if inst is None:
                    try:
                        inst = json.loads(body).get("instance")
                    except ValueError:
                        pass
                ok = 200 <= r.status < 300
                with self.lock:
                    self.requests += 1
                    self.failed += 0 if ok else 1
                    if ok:
                        self.seen.append((time.monotonic(), inst))
            except Exception:
                conn = None
                with self.lock:
                    self.requests += 1
                    self.failed += 1

    def instances_since(self, t):
        with self.lock:
            return [(at, i) for at, i in self.seen if at >= t]

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join()


def wait(what, cond, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.25)
    raise SystemExit("gave up after %ds waiting for %s" % (secs, what))


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))] if s else None


def spike():
    api("PUT", "/apps/%s/environments/%s/scaling" % (APP, ENV),
        {"min": 1, "max": 6, "desired": 1, "target_rps": TARGET, "scale_in_window_s": 5, "scale_in_cooldown_s": 5, "warm_pool": WARM})
    load = Load()
    load.rate = TARGET / 2
    out, failed_in_steps = [], 0
    print("%-6s %-12s %-10s" % ("round", "capacity_s", "failed"))
    for n in range(1, ROUNDS + 1):
        load.rate = TARGET / 2
        wait("scale-in to 1 instance", lambda: (lambda s: s["desired_instances"] == 1 and len(s["instances"]) == 1 + WARM)(status()), 120)
        time.sleep(3)
        before = {i for _, i in load.instances_since(time.monotonic() - 3)}
        f0 = load.failed
        t0 = time.monotonic()
        load.rate = TARGET * 5
        new = []
        wait("an added instance answering", lambda: new.extend(x for x in load.instances_since(t0) if x[1] not in before) or bool(new), 60)
        secs = round(new[0][0] - t0, 2)
        time.sleep(5)
        failed = load.failed - f0
        failed_in_steps += failed
        out.append(secs)
        print("%-6d %-12.2f %-10d" % (n, secs, failed), flush=True)
    load.rate = 1
    load.close()
    res = {"spike_to_capacity_s": out, "spike_to_capacity_p50_s": pct(out, 50), "spike_to_capacity_p95_s": pct(out, 95),
           "failed": failed_in_steps, "failed_total": load.failed, "requests": load.requests, "target_rps": TARGET, "warm_pool": WARM}
    print("\nspike to capacity: p50 %.2f s, p95 %.2f s (target < 3 s); failed %d" % (res["spike_to_capacity_p50_s"], res["spike_to_capacity_p95_s"], failed_in_steps))
    return res


def schedule():
    from zoneinfo import ZoneInfo
    tz = ZoneInfo("Asia/Kolkata")
    load = Load()
    load.rate = 20
    late = []
    print("%-6s %-28s %-10s" % ("round", "scheduled (Asia/Kolkata)", "late_s"))
    for n in range(1, ROUNDS + 1):
        cli("scale", ENV, "1")
        wait("1 instance", lambda: (lambda s: s["desired_instances"] == 1 and len(s["instances"]) == 1)(status()), 120)
        time.sleep(2)
        added = time.monotonic()
        before = {i for _, i in load.instances_since(added - 2)}
        at = (datetime.now(timezone.utc) + timedelta(seconds=15)).replace(microsecond=0)
        local = at.astimezone(tz)
        cron = "%d %d %d %d %d *" % (local.second, local.minute, local.hour, local.day, local.month)
        name = "round%d" % n
        cli("schedule", "add", ENV, name, "--cron", cron, "--tz", "Asia/Kolkata", "--min", "2", "--max", "2", "--desired", "2")
        mono_at = time.monotonic() + (at - datetime.now(timezone.utc)).total_seconds()
        new = []
        wait("the scheduled instance answering", lambda: new.extend(x for x in load.instances_since(added) if x[1] not in before) or bool(new), 60)
        secs = round(new[0][0] - mono_at, 2)
        late.append(secs)
        print("%-6d %-28s %-10.2f" % (n, local.strftime("%Y-%m-%d %H:%M:%S %Z"), secs), flush=True)
        time.sleep(max(0, mono_at - time.monotonic()) + 1)
        cli("schedule", "remove", ENV, name)
    load.close()
    res = {"late_s": late, "late_p50_s": pct(late, 50), "late_p95_s": pct(late, 95), "failed": load.failed, "requests": load.requests}
    print("\nlateness (negative = early): p50 %.2f s, p95 %.2f s (target <= 1 s)" % (res["late_p50_s"], res["late_p95_s"]))
    return res


try:
    say("server api %s, load balancer %s, data %s" % (API, HTTP, tmp))
    cli("create", ENV, "--bundle", ROOT + "/examples/adserver", "--instances", "1")
    res = spike() if mode == "spike" else schedule()
    print(json.dumps(res))
finally:
    try:
        cli("terminate", ENV, "--force", check=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if os.environ.get("BENCH_KEEP"):
            say("kept %s (server.log has every event with its time)" % tmp)
        else:
            subprocess.run(["rm", "-rf", tmp])
