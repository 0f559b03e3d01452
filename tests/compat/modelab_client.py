#!/usr/bin/env python3
"""A modelab-style client against the real gateway (issue 17; docs/compat-modelab.md).

Written from modelab's contract (shared/reference/seeds.md §2) with the standard library only:
assigns 1,000 users locally with modelab's MD5 algorithm, sends the assignments, executions
(tokens taken from OpenAI-shaped `usage` objects, as the SDK does) and success/failure/custom
events in batches of 50 like the SDK's buffer, retries one batch of each kind, then checks that
GET /api/v1/flags/{name} equals an independent computation over what was sent. Also: the
gateway's own `hash: modelab` experiment puts users where the SDK algorithm does, and bad input
(malformed arrays, unknown assignment ids, oversized batches, a wrong API key) is answered as
documented.

Usage: modelab_client.py SWITCHYARD_BIN MOCK_LLM_BIN
"""
import datetime
import hashlib
import json
import os
import random
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

API_KEY = "modelab-test-key"
FLAG = "summary-style"
ROLLOUT = 90
VARIANTS = [("control", 20), ("concise", 30), ("detailed", 50)]  # uneven integer weights
BATCH = 50


# ---- modelab's SDK assignment, from the contract ----
def assign(flag, user_id, rollout_pct, variants):
    bucket = int(hashlib.md5(f"{flag}:{user_id}".encode()).hexdigest(), 16) % 10000
    if bucket >= int(rollout_pct / 100 * 10000):
        return None
    total = sum(w for _, w in variants)
    if total == 0:
        return variants[0][0]
    point = bucket % total
    running = 0
    for name, w in variants:
        running += w
        if running > point:
            return name
    return variants[-1][0]


# ---- a tiny HTTP client with deadlines ----
class Gateway:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else (body if isinstance(body, bytes) else
                                          json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read() or b"null")

    def ingest(self, kind, records, key=API_KEY):
        return self.call("POST", f"/api/v1/ingest/{kind}", records,
                         {"X-API-Key": key} if key is not None else {})


def read_line_with(proc, stream, pattern, timeout=60):
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    pending = b""
    while True:
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            m = re.search(pattern, line.decode(errors="replace"))
            if m:
                return m
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"no '{pattern}' within {timeout} s")
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"process exited ({proc.wait()}) before '{pattern}'")
            pending += chunk


def drain(stream):
    fd = stream.fileno()
    threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(fd, 4096), b"")],
                     daemon=True).start()


def now_iso(offset_s=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.isoformat()


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def simulate(rng):
    """What the SDK would send for 1,000 users: records, and the expected per-variant figures."""
    assignments, executions, events = [], [], []
    expected = {}
    for i in range(1000):
        user = f"user-{i:04d}"
        variant = assign(FLAG, user, ROLLOUT, VARIANTS)
        if variant is None:
            continue
        aid = str(uuid.uuid4())
        assignments.append({"assignment_id": aid, "flag_name": FLAG, "variant_name": variant,
                            "user_id": user, "session_id": str(uuid.uuid4()),
                            "config_json": json.dumps({"style": variant}),
                            "assigned_at": now_iso()})
        e = expected.setdefault(variant, {"assignments": 0, "users": set(), "executions": 0,
                                          "errors": 0, "lat": [], "cost": [], "in": 0, "out": 0,
                                          "tok_n": 0, "success": 0, "failure": 0, "custom": {}})
        e["assignments"] += 1
        e["users"].add(user)
        for _ in range(rng.randint(1, 3)):
            # The SDK reads tokens from the provider's response: OpenAI's usage object here.
            usage = {"prompt_tokens": rng.randint(20, 400), "completion_tokens": rng.randint(5, 300)}
            err = "RateLimitError" if rng.random() < 0.05 else None
            latency = round(rng.uniform(80, 2500), 3)
            cost = round(usage["prompt_tokens"] * 1.5e-7 + usage["completion_tokens"] * 6e-7, 10)
            executions.append({"assignment_id": aid, "latency_ms": latency,
                               "input_tokens": usage["prompt_tokens"],
                               "output_tokens": usage["completion_tokens"], "cost": cost,
                               "error": err, "metadata_json": json.dumps({"model": "gpt-4o-mini"}),
                               "recorded_at": now_iso(0.5)})
            e["executions"] += 1
            e["errors"] += 1 if err else 0
            e["lat"].append(latency)
            e["cost"].append(cost)
            e["in"] += usage["prompt_tokens"]
            e["out"] += usage["completion_tokens"]
            e["tok_n"] += 1
        p_success = {"control": 0.6, "concise": 0.65, "detailed": 0.7}[variant]
        kind = "success" if rng.random() < p_success else "failure"
        events.append({"event_id": str(uuid.uuid4()), "assignment_id": aid, "event_type": kind,
                       "event_name": None, "payload_json": None, "created_at": now_iso(1)})
        e[kind] += 1
        if rng.random() < 0.3:
            name = rng.choice(["copied", "thumbs_up"])
            events.append({"event_id": str(uuid.uuid4()), "assignment_id": aid,
                           "event_type": "custom", "event_name": name,
                           "payload_json": json.dumps({"where": "summary"}),
                           "created_at": now_iso(1)})
            e["custom"][name] = e["custom"].get(name, 0) + 1
    return assignments, executions, events, expected


def batches(records):
    return [records[i:i + BATCH] for i in range(0, len(records), BATCH)]


def run(gw):
    rng = random.Random(17)
    assignments, executions, events, expected = simulate(rng)
    print(f"modelab client: {len(assignments)} assignments, {len(executions)} executions, "
          f"{len(events)} events")

    # The SDK flushes its buffers independently: one batch of executions arrives before its
    # assignments (orphans until they do).
    early = batches(executions)[0]
    status, _, body = gw.ingest("executions", early)
    check(status == 200, f"early executions: {status} {body}")
    check(body.get("orphans", 0) > 0, f"early executions are orphans: {body}")
    sent = {"assignments": 0, "executions": len(early), "events": 0}
    for kind, records in (("assignments", assignments), ("executions", executions[BATCH:]),
                          ("events", events)):
        for b in batches(records):
            status, _, body = gw.ingest(kind, b)
            check(status == 200, f"{kind} batch: {status} {body}")
            check(body.get("accepted") == len(b), f"{kind} batch accepted {body}")
            sent[kind] += len(b)
    # A retried flush of each kind counts nothing twice.
    for kind, records in (("assignments", assignments), ("executions", executions),
                          ("events", events)):
        b = batches(records)[1]
        status, _, body = gw.ingest(kind, b)
        check(status == 200 and body.get("accepted") == 0 and body.get("duplicates") == len(b),
              f"retried {kind} batch: {status} {body}")

    status, _, report = gw.call("GET", f"/api/v1/flags/{FLAG}", headers={"X-API-Key": API_KEY})
    check(status == 200, f"GET flag: {status} {report}")
    got = {v["variant_name"]: v for v in report["variants"]}
    check(set(got) == set(expected), f"variants {sorted(got)} vs {sorted(expected)}")
    for name, e in expected.items():
        v = got.get(name, {})
        want = {
            "assignments": e["assignments"], "unique_users": len(e["users"]),
            "executions": e["executions"], "errors": e["errors"],
            "success_count": e["success"], "failure_count": e["failure"],
            "total_input_tokens": e["in"], "total_output_tokens": e["out"],
            "custom_events": e["custom"],
        }
        for k, w in want.items():
            check(v.get(k) == w, f"{name}.{k}: {v.get(k)} != {w}")
        approx = {
            "success_rate": e["success"] / (e["success"] + e["failure"]),
            "avg_latency_ms": sum(e["lat"]) / len(e["lat"]),
            "avg_cost": sum(e["cost"]) / len(e["cost"]),
            "total_cost": sum(e["cost"]),
            "error_rate": e["errors"] / e["executions"],
            "avg_input_tokens": e["in"] / e["tok_n"],
            "avg_output_tokens": e["out"] / e["tok_n"],
        }
        for k, w in approx.items():
            check(close(v.get(k), w), f"{name}.{k}: {v.get(k)} != {w}")
    sy = report.get("switchyard", {})
    check(sy.get("control") == "control", f"control: {sy.get('control')}")
    check(sy.get("srm", {}).get("checked") is True, f"srm checked with configured weights: {sy}")
    check(sy.get("srm", {}).get("mismatch") is False, f"srm: {sy.get('srm')}")
    check(len(sy.get("comparisons", [])) == 2, "two comparisons against control")
    for c in sy.get("comparisons", []):
        sr = c["success_rate"]
        lo, hi = sr["diff_ci"]
        check(lo <= sr["diff"] <= hi, f"interval contains the estimate: {sr}")
    check(sy.get("verdict", {}).get("state") in
          ("collecting", "variant_better", "variant_worse"), f"verdict {sy.get('verdict')}")
    check(sy.get("orphans") == {"executions": 0, "events": 0}, f"orphans adopted: {sy}")

    status, _, flags = gw.call("GET", "/api/v1/flags", headers={"X-API-Key": API_KEY})
    check(status == 200 and any(f["flag_name"] == FLAG for f in flags), f"flags list {flags}")
    status, _, tl = gw.call("GET", f"/api/v1/flags/{FLAG}/timeline",
                            headers={"X-API-Key": API_KEY})
    total_assign = sum(v["assignments"] for b in tl["buckets"] for v in b["variants"].values())
    check(status == 200 and total_assign == len(assignments), f"timeline sums {total_assign}")

    # The analysis API lists the flag as a client-side experiment.
    status, _, exps = gw.call("GET", "/api/v1/experiments")
    check(status == 200 and any(e.get("name") == FLAG and e.get("source") == "modelab"
                                for e in exps["data"]), f"experiments list: {status}")

    # Bad input.
    status, _, body = gw.ingest("events", b'[{"event_id": "x",')
    check(status == 400 and "not valid JSON" in body.get("detail", ""), f"malformed {body}")
    status, _, body = gw.ingest("executions", {"assignment_id": "x"})
    check(status == 400 and "JSON array" in body.get("detail", ""), f"not an array {body}")
    status, _, body = gw.ingest("events", [{"event_id": "y", "assignment_id": "z",
                                            "event_type": "clicked"}])
    check(status == 400 and "event_type" in body.get("detail", ""), f"bad type {body}")
    unknown = [{"event_id": str(uuid.uuid4()), "assignment_id": str(uuid.uuid4()),
                "event_type": "success"}]
    status, _, body = gw.ingest("events", unknown)
    check(status == 200 and body.get("orphans") == 1, f"unknown assignment counted: {body}")
    big = [{"event_id": str(uuid.uuid4()), "assignment_id": "a", "event_type": "success"}
           for _ in range(101)]
    status, _, body = gw.ingest("events", big)
    check(status == 413 and "at most 100" in body.get("detail", ""), f"oversized {status} {body}")
    status, _, body = gw.ingest("assignments", assignments[:1], key="wrong-key")
    check(status == 401 and "API key" in body.get("detail", ""), f"wrong key {status} {body}")
    status, _, body = gw.ingest("assignments", assignments[:1], key=None)
    check(status == 401, f"missing key {status}")

    # A migrating team's users stay put: the gateway's own experiment (hash: modelab, seed =
    # the flag) puts each user in the variant the SDK algorithm above gives.
    moved = 0
    for i in range(300):
        user = f"user-{i:04d}"
        want = assign(FLAG, user, ROLLOUT, VARIANTS)
        status, headers, _ = gw.call("POST", "/v1/chat/completions",
                                     {"model": "gpt-4o-mini",
                                      "messages": [{"role": "user", "content": "hi"}]},
                                     {"x-user-id": user})
        got_v = {k.lower(): v for k, v in headers.items()}.get("x-switchyard-variant")
        if status != 200 or got_v != want:
            moved += 1
    check(moved == 0, f"{moved} of 300 users assigned differently by the gateway")


def main():
    switchyard_bin, mock_bin = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="switchyard-modelab-") as tmp:
        mock = subprocess.Popen([mock_bin, "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        gw_proc = None
        try:
            up = int(read_line_with(mock, mock.stdout, r"listening on [^:]+:(\d+)").group(1))
            drain(mock.stdout)
            variants = ", ".join(f"{{ name: {n}, weight: {w} }}" for n, w in VARIANTS)
            cfg = os.path.join(tmp, "switchyard.yaml")
            with open(cfg, "w") as f:
                f.write(f"""listen: 127.0.0.1:0
workers: 1
data_dir: {tmp}/data
log: {{ level: warn, access: off }}
upstreams:
  - {{ name: mock, base_url: "http://127.0.0.1:{up}/v1", api_key: sk-test }}
models:
  - {{ name: gpt-4o-mini, upstream: mock }}
compat:
  modelab: {{ enabled: true, api_key: {API_KEY}, max_batch_records: 100 }}
experiments:
  - name: summary_style
    match: {{ model: gpt-4o-mini }}
    unit: header:x-user-id
    hash: modelab
    seed: {FLAG}
    rollout_pct: {ROLLOUT}
    variants: [ {variants} ]
""")
            os.makedirs(f"{tmp}/data")
            gw_proc = subprocess.Popen([switchyard_bin, "--config", cfg],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            port = int(read_line_with(gw_proc, gw_proc.stderr, r"listening on [^ ]*:(\d+) ")
                       .group(1))
            drain(gw_proc.stderr)
            run(Gateway(port))
        finally:
            for p in (gw_proc, mock):
                if p is not None:
                    p.terminate()
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        p.kill()
    if failures:
        print(f"modelab client: {len(failures)} failures", file=sys.stderr)
        return 1
    print("modelab client: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
