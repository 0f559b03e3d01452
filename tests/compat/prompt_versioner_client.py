#!/usr/bin/env python3
"""prompt_versioner's monitoring loop against a real Switchyard gateway.

The client below is written from prompt_versioner's contract (shared/reference/seeds.md §1: paths,
field names, 404 = not found, 500 = server error, errors as {"error": "..."}), with the stdlib
only, as that tool's users write it: poll global stats, per-prompt stats, A/B-eligible versions,
alerts, acknowledge; then export and import into a fresh gateway. It also drives the writable
registry (/api/v1/prompts/...) and its bad-input answers.

usage: prompt_versioner_client.py <switchyard binary> [--redis]
With --redis both gateways keep their statistics and registry in a redis-server started here
(each under its own key prefix); exit 77 (skipped) when redis-server is not installed.
Everything listens on 127.0.0.1 (port 0, or a port found free for redis-server); every wait is
bounded.
"""

import http.server
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import ready  # noqa: E402  (tests/support/ready.py: readiness by events)

ADMIN = "compat-admin-token"
DEADLINE_S = 20  # any single wait below


class FakeOpenAI(http.server.BaseHTTPRequestHandler):
    """An OpenAI chat/completions upstream: a fixed answer with usage."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        n = int(self.headers.get("content-length", "0"))
        self.rfile.read(n)
        body = json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Client:
    """prompt_versioner's client: base URL in, dicts out; errors by status."""

    def __init__(self, base, token=None):
        self.base = base
        self.token = token

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if self.token:
            req.add_header("authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
                return r.status, json.loads(r.read() or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


class Gateway:
    def __init__(self, binary, yaml_text, data_dir):
        self.dir = data_dir
        self.cfg = os.path.join(data_dir, "switchyard.yaml")
        with open(self.cfg, "w") as f:
            f.write(yaml_text)
        self.proc = subprocess.Popen([binary, "--config", self.cfg], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        # stderr is read by a thread (never blocking this one past the deadline) and kept read,
        # so the gateway never blocks on a full pipe.
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stderr] + [lines.put(None)],
                         daemon=True).start()
        self.port = None
        seen = []
        end = time.monotonic() + DEADLINE_S
        while self.port is None and time.monotonic() < end:
            try:
                line = lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            m = re.search(r"listening on [0-9.]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("gateway did not start:\n" + "".join(seen))
        self.base = f"http://127.0.0.1:{self.port}"

    def write_config(self, yaml_text):
        with open(self.cfg, "w") as f:
            f.write(yaml_text)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()


STORE = ""  # the store: block, "" = the embedded SQLite


def config(upstream_port, data_dir, experiment):
    store = STORE.replace("PREFIX", os.path.basename(data_dir))
    exp = ""
    if experiment:
        exp = """
experiments:
  - name: greet_ab
    match: { model: gpt-test }
    unit: header:x-user-id
    variants:
      - { name: control, prompt: greeter@v1 }
      - { name: treatment, prompt: summarizer@v2 }
"""
    return f"""
listen: 127.0.0.1:0
workers: 1
admin_token: {ADMIN}
data_dir: {data_dir}
stats_flush: 100ms
{store}
upstreams:
  - {{ name: fake, type: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", api_key: k }}
models:
  - {{ name: gpt-test, upstream: fake, model: gpt-test,
      price: {{ input_per_mtok: 1000, output_per_mtok: 2000 }} }}
prompts:
  - name: greeter
    versions:
      - {{ version: v1, template: "Be kind to {{{{name}}}}.", defaults: {{ name: you }} }}
{exp}
alerts:
  evaluation_interval: 1s
  rules:
    - {{ name: low-quality, metric: feedback_success_rate, below: 0.8, window: 5m,
        min_samples: 1, scope: global }}
compat:
  prompt_versioner: {{ enabled: true, min_calls_for_ab_test: 5, max_ab_test_versions: 10 }}
"""


def poll(fn, what):
    end = time.monotonic() + DEADLINE_S
    for _ in range(400):
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            break
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def start_redis(tmp):
    """redis-server on a port found free (it cannot take port 0 and report it), ready when it
    says so (sd_notify READY=1, tests/support/ready.py); bounded."""
    if not shutil.which("redis-server"):
        print("skip: redis-server is not installed")
        sys.exit(77)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = ready.start_redis(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", tmp,
                              "--loglevel", "warning"], tmp, DEADLINE_S,
                             stdout=subprocess.DEVNULL)
    return proc, port


def main():
    global STORE
    binary = sys.argv[1]
    redis = None
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    up_port = upstream.server_address[1]
    tmp = tempfile.mkdtemp(prefix="pv-compat-")
    if "--redis" in sys.argv[2:]:
        redis, rport = start_redis(tmp)
        STORE = f'store: {{ type: redis, url: "redis://127.0.0.1:{rport}/0", key_prefix: "PREFIX:" }}'
    d1, d2 = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    os.makedirs(d1)
    os.makedirs(d2)
    gw = Gateway(binary, config(up_port, d1, False), d1)
    gw2 = None
    try:
        admin = Client(gw.base, ADMIN)
        anon = Client(gw.base)

        # ---- the writable registry ----
        s, b, _ = admin.call("POST", "/api/v1/prompts/summarizer/versions",
                             {"version": "v1", "template": "Summarize for {{audience}}.",
                              "variables": ["audience"], "defaults": {"audience": "experts"}})
        check(s == 201 and b["hash"].startswith("sha256:"), "create summarizer@v1 (201, hashed)")
        s2, b2, _ = admin.call("POST", "/api/v1/prompts/summarizer/versions",
                               {"version": "v1", "template": "Summarize for {{audience}}.",
                                "defaults": {"audience": "experts"}})
        check(s2 == 200 and b2["hash"] == b["hash"] and b2["status"] == "unchanged",
              "same content again is idempotent (200, same hash)")
        s, b, _ = admin.call("POST", "/api/v1/prompts/summarizer/versions",
                             {"version": "v1", "template": "Other text."})
        check(s == 409 and "summarizer@v1" in b["error"]["message"],
              "a version is immutable (409 naming it)")
        s, _, _ = anon.call("POST", "/api/v1/prompts/summarizer/versions",
                            {"version": "v9", "template": "x"})
        check(s == 401, "creating needs the admin token")
        s, b, _ = admin.call("POST", "/api/v1/prompts/summarizer/versions",
                             {"version": "v2", "template": "Summarize tersely.", "mode": "replace"})
        check(s == 201, "create summarizer@v2")
        s, b, _ = admin.call("POST", "/api/v1/prompts/summarizer/versions", raw=b"{not json")
        check(s == 400, "malformed JSON is a 400")
        s, b, _ = admin.call("POST", "/api/v1/prompts/greeter/versions",
                             {"version": "v2", "template": "x"})
        check(s == 409 and "switchyard.yaml" in b["error"]["message"],
              "a config-defined prompt takes no API versions (409 naming the file)")

        # An experiment uses the registry's version after a reload.
        gw.write_config(config(up_port, d1, True))
        s, b, _ = admin.call("POST", "/api/v1/reload")
        check(s == 200, "reload with a variant on summarizer@v2 (a registry prompt)")

        # Traffic through the gateway, and feedback on it.
        chat = Client(gw.base)
        ids = []
        for i in range(40):
            req = urllib.request.Request(
                gw.base + "/v1/chat/completions",
                data=json.dumps({"model": "gpt-test",
                                 "messages": [{"role": "user", "content": "hello"}]}).encode(),
                method="POST")
            req.add_header("content-type", "application/json")
            req.add_header("x-user-id", f"user-{i}")
            with urllib.request.urlopen(req, timeout=DEADLINE_S) as r:
                r.read()
                ids.append((r.headers.get("x-switchyard-feedback-id"),
                            r.headers.get("x-switchyard-prompt-version")))
        check(all(i for i, _ in ids), "every response carries a feedback id")
        versions = {v for _, v in ids}
        check("summarizer@v2" in versions, "the registry prompt serves requests")
        statuses = []
        for n, (fid, pv) in enumerate(ids):
            # treatment succeeds always, control half the time
            ev = "success" if pv == "summarizer@v2" or n % 2 == 0 else "failure"
            statuses.append(chat.call("POST", "/v1/feedback", {"request_id": fid, "event": ev})[0])
        check(statuses == [200] * len(ids), "feedback recorded for every call")

        # ---- prompt_versioner's monitoring loop ----
        pv = Client(gw.base, ADMIN)
        g = poll(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["total_calls"] >= 40 else None)(
            pv.call("GET", "/api/prompts")), "global stats")
        check(set(g) >= {"total_prompts", "total_versions", "total_calls", "avg_quality",
                         "avg_cost", "avg_latency"}, "global stats fields")
        check(g["total_prompts"] == 2 and g["total_versions"] == 3, "2 prompts, 3 versions")
        check(0 <= g["avg_quality"] <= 1 and g["avg_latency"] >= 0, "quality in [0,1], latency ms")
        if g["avg_quality"] < 0.8 or g["avg_latency"] > 1000:
            print("warn (as its users' loop would):", g)

        s, st, _ = pv.call("GET", "/api/prompts/summarizer/stats")
        check(s == 200 and st["name"] == "summarizer" and st["version_count"] == 2
              and st["latest_version"] == "v2", "per-prompt stats")
        check(set(st["metrics"]) == {"avg_accuracy", "avg_cost", "avg_latency"}, "metrics fields")
        n_v2 = sum(1 for _, v in ids if v == "summarizer@v2")
        check(st["total_calls"] == n_v2 and abs(st["metrics"]["avg_accuracy"] - 1.0) < 1e-9,
              "summarizer: its calls, all judged successes → avg_accuracy 1.0")
        # cost: 10 input tokens at 1000/Mtok + 5 output at 2000/Mtok = 0.02 per call
        check(abs(st["metrics"]["avg_cost"] - 0.02) < 1e-9, "avg_cost per call")

        s, ab, _ = pv.call("GET", "/api/prompts/summarizer/ab-tests")
        check(s == 200 and isinstance(ab, list) and [x["version"] for x in ab] == ["v2"],
              "A/B-eligible: v2 only (v1 has no calls)")
        check(set(ab[0]) == {"version", "timestamp", "call_count", "avg_quality", "avg_cost",
                             "avg_latency"} and "T" in ab[0]["timestamp"], "ab-test row fields")

        s, e, _ = pv.call("GET", "/api/prompts/nope/stats")
        check(s == 404 and "error" in e, "unknown prompt: 404 with {error}")
        s, vs, _ = pv.call("GET", "/api/versions/summarizer")
        check(s == 200 and [v["version"] for v in vs] == ["v1", "v2"], "versions list")
        s, one, _ = pv.call("GET", "/api/versions/summarizer/v2")
        check(s == 200 and one["mode"] == "replace" and one["call_count"] == n_v2, "version detail")
        s, _, _ = pv.call("GET", "/api/versions/summarizer/v7")
        check(s == 404, "unknown version: 404")
        s, cmp, _ = pv.call("POST", "/api/versions/summarizer/compare",
                            {"version_a": "v1", "version_b": "v2"})
        check(s == 200 and cmp["version_a"]["version"] == "v1" and "diff" in cmp, "compare")

        alerts = poll(lambda: (lambda r: r[1] if r[0] == 200 and r[1] else None)(
            pv.call("GET", "/api/alerts")), "the low-quality alert")
        check(any(a["rule"] == "low-quality" for a in alerts), "alerts: low-quality fires")
        aid = next(a["id"] for a in alerts if a["rule"] == "low-quality")
        s, ack, _ = pv.call("POST", f"/api/alerts/{aid}/acknowledge")
        check(s == 200 and ack["success"] and ack["alert"]["acknowledged"], "acknowledge")
        s, _, _ = pv.call("POST", "/api/alerts/999999/acknowledge")
        check(s == 404, "acknowledge unknown: 404")
        s, cfg, _ = pv.call("GET", "/api/alerts/config")
        check(s == 200 and any(r["name"] == "low-quality" for r in cfg["rules"]), "alerts config")

        # ---- delete: refused while used, or when config-defined ----
        s, d, _ = pv.call("DELETE", "/api/prompts/summarizer")
        check(s == 409 and d["success"] is False and "greet_ab" in d["error"],
              "deleting a used prompt: 409")
        s, d, _ = pv.call("DELETE", "/api/prompts/greeter")
        check(s == 409 and "switchyard.yaml" in d["error"] and "prompts[0]" in d["error"],
              "deleting a config prompt: 409 saying where")
        s, d, _ = pv.call("DELETE", "/api/prompts/nope")
        check(s == 404 and d["success"] is False, "deleting unknown: 404")
        s, _, _ = admin.call("POST", "/api/v1/prompts/scratch/versions",
                             {"version": "v1", "template": "tmp"})
        s, d, _ = pv.call("DELETE", "/api/prompts/scratch")
        check(s == 200 and d["success"] is True, "deleting an unused registry prompt")

        # ---- export, then import into a fresh gateway ----
        s, doc, _ = pv.call("GET", "/api/export/prompts")
        check(s == 200 and {p["name"] for p in doc["prompts"]} == {"greeter", "summarizer"},
              "export")
        gw2 = Gateway(binary, config(up_port, d2, False), d2)
        pv2 = Client(gw2.base, ADMIN)
        s, r, _ = pv2.call("POST", "/api/export/import", doc)
        check(s == 200 and sorted(r["imported"]) == ["summarizer@v1", "summarizer@v2"]
              and r["unchanged"] == 1, "import into a fresh gateway")
        s, r, _ = pv2.call("POST", "/api/export/import", doc)
        check(s == 200 and r["imported"] == [] and r["unchanged"] == 3, "import is idempotent")
        s, doc2, _ = pv2.call("GET", "/api/export/prompts")
        strip = lambda d: [(p["name"], [(v["version"], v["hash"]) for v in p["versions"]])
                           for p in d["prompts"]]
        check(strip(doc2) == strip(doc), "the fresh gateway exports the same prompts and hashes")

        # conflicting: same name@version, other content; nothing imported
        bad = json.loads(json.dumps(doc))
        bad["prompts"].append({"name": "newone", "versions": [{"version": "v1",
                                                                "template": "new"}]})
        for p in bad["prompts"]:
            if p["name"] == "summarizer":
                p["versions"][0]["template"] = "Summarize for {{audience}}, briefly."
                p["versions"][0].pop("hash")
        s, r, _ = pv2.call("POST", "/api/export/import", bad)
        check(s == 409 and "summarizer@v1" in r["error"], "a conflicting version: 409 naming it")
        s, doc3, _ = pv2.call("GET", "/api/export/prompts")
        check(strip(doc3) == strip(doc), "nothing was imported (atomic)")
        dup = {"prompts": [{"name": "d", "versions": [{"version": "v1", "template": "a"},
                                                      {"version": "v1", "template": "b"}]}]}
        s, r, _ = pv2.call("POST", "/api/export/import", dup)
        check(s == 409 and "d@v1" in r["error"], "duplicate versions in one document: 409")
        s, r, _ = pv2.call("POST", "/api/export/import", raw=b'{"prompts": [')
        check(s == 400 and "error" in r, "malformed JSON import: 400")
        # A variant on a version neither the file nor the registry has: start fails naming it,
        # and a reload to it is refused (the running config kept).
        d3 = os.path.join(tmp, "c")
        os.makedirs(d3)
        try:
            Gateway(binary, config(up_port, d3, True), d3)
            started = True
        except RuntimeError as e:
            started = False
            msg = str(e)
        check(not started and "experiments[0].variants[1].prompt: no prompt version summarizer@v2"
              in msg, "start refused: the variant's prompt is in neither the file nor the registry")
        gw2.write_config(config(up_port, d2, True).replace("summarizer@v2", "summarizer@v9"))
        s, r, _ = pv2.call("POST", "/api/v1/reload")
        check(s == 409 and "summarizer@v9" in r["error"]["message"], "reload refused likewise")
        print("all checks passed")
        return 0
    finally:
        gw.stop()
        if gw2:
            gw2.stop()
        upstream.shutdown()
        if redis:
            redis.kill()
            redis.wait(timeout=DEADLINE_S)


if __name__ == "__main__":
    sys.exit(main())
