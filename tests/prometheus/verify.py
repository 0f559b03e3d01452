#!/usr/bin/env python3
"""Assertions of tests/prometheus/run.sh, one subcommand each; exit 0 = holds, 1 = does not
(with the reason on stderr).

  text-counts SCRAPE V=N...           switchyard_requests_total{experiment="tone"} by variant
  text-sum SCRAPE NAME N L=V...       the samples of NAME with all labels L=V sum to N
  wait-counts PROM DIR T V=N...       polls (30 s) until Prometheus has scraped the gateway
                                      after unix time T and the tone requests by variant are
                                      exactly V=N...; answers saved in DIR
  finite-positive ANSWER LABEL V...   each V has a finite value > 0
  usage RESPONSES_DIR OUT.json        token usage per variant from the saved responses
  tokens ANSWER EXPECTED.json         sum by (variant, type) equals the usage exactly
  cost ANSWER EXPECTED.json           sum by (variant) equals usage x price (1e-9 relative)
  dashboard PROM EXPRS.jsonl          every expression evaluates; REQUIRED panels have data
  wait-rules PROM                     polls (30 s) until every rule evaluated with health ok
  no-alerts PROM                      no alert pending or firing
  show ANSWER LABEL                   "v1=x v2=y" for messages
  --self-test                         checks the parsers on fixed inputs
"""

import glob
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# USD per million tokens, as in run.sh's gateway config: control → gpt-4o-mini, treatment →
# gpt-4o.
PRICES = {"control": (0.15, 0.60), "treatment": (2.50, 10.00)}
REQUESTS_BY_VARIANT = 'sum by (variant) (switchyard_requests_total{experiment="tone"})'

# Dashboard panels the test traffic feeds (requests, streams, tokens, cost): they must have data.
# Feedback, guardrails, retries, fallbacks, rate limiting and circuits see no events here.
REQUIRED_PANELS = {
    "Requests/s", "Error rate", "p95 latency", "Spend in range", "In flight", "Version",
    "Request rate", "Requests by status and error type", "Request duration p50 / p95",
    "Time to first token p50 / p95", "Inter-token latency p50 / p95", "Gateway overhead p99",
    "Tokens/s by type", "Cost per hour", "Cost in range", "Cost per 1k requests",
    "Upstream duration p95", "In flight and active streams", "Process memory and CPU",
}


def complain(msg):
    print(msg, file=sys.stderr)
    return 1


# ---- /metrics text ----------------------------------------------------------------------------
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """(name, labels dict, value) of every sample line."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if m:
            yield m.group(1), dict(LABEL_RE.findall(m.group(2) or "")), float(m.group(3))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def text_counts(scrape, expected):
    got = {}
    for n, labels, v in samples(read(scrape)):
        if n == "switchyard_requests_total" and labels.get("experiment") == "tone":
            got[labels.get("variant")] = got.get(labels.get("variant"), 0) + v
    return compare(got, expected)


def text_sum(scrape, name, want, matchers):
    total = sum(v for n, labels, v in samples(read(scrape))
                if n == name and all(labels.get(k) == m for k, m in matchers.items()))
    return 0 if total == float(want) else complain(f"{name}{matchers}: {total}, want {want}")


# ---- Prometheus answers -----------------------------------------------------------------------
def vector(answer_text, label):
    """{label value: float} of an instant-query vector answer."""
    answer = json.loads(answer_text)
    if answer.get("status") != "success":
        raise ValueError(f"query failed: {answer.get('error', answer)}")
    out = {}
    for r in answer["data"]["result"]:
        out[r["metric"].get(label, "")] = float(r["value"][1])
    return out


def parse_expected(pairs):
    return {k: float(v) for k, v in (p.split("=", 1) for p in pairs)}


def compare(got, expected):
    if got != expected:
        return complain(f"got {got}, want {expected}")
    return 0


def poll(check, seconds=30.0):
    """Calls check() every 0.1 s until it returns None (success) or time is up; returns the
    last complaint or None."""
    deadline = time.monotonic() + seconds
    while True:
        why = check()
        if why is None or time.monotonic() > deadline:
            return why
        time.sleep(0.1)


def query_to(prom, directory, name, expr):
    """Instant query; the raw answer is also saved as DIR/NAME.json for failure reports."""
    url = f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    except (urllib.error.URLError, OSError) as e:
        text = json.dumps({"status": "error", "error": str(e)})
    with open(os.path.join(directory, name + ".json"), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def wait_counts(prom, directory, after, expected):
    def check():
        try:
            ts = vector(query_to(prom, directory, "scrape_time",
                                 'timestamp(up{job="switchyard"} == 1)'), "job")
            if max(ts.values(), default=0.0) <= float(after):
                return f"no scrape after {after} yet (newest: {ts})"
            got = vector(query_to(prom, directory, "requests", REQUESTS_BY_VARIANT), "variant")
        except ValueError as e:
            return str(e)
        return None if got == expected else f"got {got}, want {expected}"

    why = poll(check)
    return complain(why) if why else 0


def finite_positive(answer, label, keys):
    got = vector(read(answer), label)
    bad = [k for k in keys if not (k in got and math.isfinite(got[k]) and got[k] > 0)]
    return complain(f"not finite and positive: {bad} in {got}") if bad else 0


# ---- expected usage and cost ------------------------------------------------------------------
def response_usage(text):
    """The usage object of a saved chat.completion or SSE stream (its last non-null usage)."""
    if text.lstrip().startswith("{"):
        return json.loads(text)["usage"]
    usage, done = None, False
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
        elif json.loads(data).get("usage"):
            usage = json.loads(data)["usage"]
    if not done or usage is None:
        raise ValueError("stream without [DONE] or without a usage chunk")
    return usage


def usage(responses_dir, out):
    totals = {}
    for path in sorted(glob.glob(os.path.join(responses_dir, "*.*"))):
        variant = os.path.basename(path).split(".")[0]
        try:
            u = response_usage(read(path))
        except (ValueError, KeyError) as e:
            return complain(f"{path}: {e}")
        t = totals.setdefault(variant, {"prompt": 0, "completion": 0, "requests": 0})
        t["prompt"] += u["prompt_tokens"]
        t["completion"] += u["completion_tokens"]
        t["requests"] += 1
    for variant, t in totals.items():
        price_in, price_out = PRICES[variant]
        t["cost"] = (t["prompt"] * price_in + t["completion"] * price_out) / 1e6
    with open(out, "w", encoding="utf-8") as f:
        json.dump(totals, f, indent=1)
    return 0


def tokens(answer, expected_path):
    ans = json.loads(read(answer))
    if ans.get("status") != "success":
        return complain(f"query failed: {ans}")
    got = {(r["metric"].get("variant"), r["metric"].get("type")): float(r["value"][1])
           for r in ans["data"]["result"]}
    want = {(v, k): float(t[k]) for v, t in json.loads(read(expected_path)).items()
            for k in ("prompt", "completion")}
    return compare(got, want)


def cost(answer, expected_path):
    got = vector(read(answer), "variant")
    want = {v: t["cost"] for v, t in json.loads(read(expected_path)).items()}
    if set(got) != set(want):
        return complain(f"variants {sorted(got)} != {sorted(want)}")
    bad = {v: (got[v], want[v]) for v in want
           if not (want[v] > 0 and abs(got[v] - want[v]) <= 1e-9 * want[v])}
    return complain(f"cost (got, want): {bad}") if bad else 0


# ---- live Prometheus --------------------------------------------------------------------------
def api(prom, path, **params):
    url = f"{prom}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400/422 carry the PromQL error as JSON
        return json.load(e)


def dashboard(prom, exprs_path):
    problems, seen = [], set()
    for line in read(exprs_path).splitlines():
        e = json.loads(line)
        seen.add(e["panel"])
        ans = api(prom, "/api/v1/query", query=e["expr"])
        where = f"{e['panel']}/{e['ref']}"
        if ans.get("status") != "success":
            problems.append(f"{where}: {ans.get('error')}\n    {e['expr']}")
            continue
        values = [float(r["value"][1]) for r in ans["data"]["result"]]
        if e["panel"] in REQUIRED_PANELS and not any(math.isfinite(v) for v in values):
            problems.append(f"{where}: no data ({values})\n    {e['expr']}")
    problems += [f"panel {p!r} not in the dashboard" for p in REQUIRED_PANELS - seen]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


def wait_rules(prom):
    def check():
        ans = api(prom, "/api/v1/rules")
        rs = [r for g in ans.get("data", {}).get("groups", []) for r in g["rules"]]
        bad = [f"{r['name']}: {r.get('health')} {r.get('lastError', '')}" for r in rs
               if r.get("health") != "ok"]
        return f"{len(rs)} rules; not ok: {bad}" if not rs or bad else None

    why = poll(check)
    return complain(why) if why else 0


def no_alerts(prom):
    alerts = api(prom, "/api/v1/alerts").get("data", {}).get("alerts", [])
    return complain(f"alerts: {json.dumps(alerts)}") if alerts else 0


def show(answer, label):
    return print(" ".join(f"{k}={v:.6g}" for k, v in sorted(vector(read(answer), label).items())))


def self_test():
    text = ('# HELP x y\nswitchyard_requests_total{experiment="tone",variant="control",'
            'error_type="none"} 3\nswitchyard_requests_total{experiment="tone",'
            'variant="control",error_type="timeout"} 2\nswitchyard_active_streams 1 1700000\n')
    got = {}
    for n, labels, v in samples(text):
        got[(n, labels.get("error_type"))] = v
    assert got == {("switchyard_requests_total", "none"): 3.0,
                   ("switchyard_requests_total", "timeout"): 2.0,
                   ("switchyard_active_streams", None): 1.0}, got
    sse = ('data: {"choices":[],"usage":null}\n\ndata: {"choices":[],"usage":'
           '{"prompt_tokens":7,"completion_tokens":5}}\n\ndata: [DONE]\n\n')
    assert response_usage(sse) == {"prompt_tokens": 7, "completion_tokens": 5}
    whole = '{"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    assert response_usage(whole)["completion_tokens"] == 2
    ans = '{"status":"success","data":{"resultType":"vector","result":[' \
          '{"metric":{"variant":"a"},"value":[1,"2.5"]}]}}'
    assert vector(ans, "variant") == {"a": 2.5}
    print("self-test ok")
    return 0


def main(argv):
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    table = {
        "text-counts": lambda: text_counts(args[0], parse_expected(args[1:])),
        "text-sum": lambda: text_sum(args[0], args[1], args[2],
                                     dict(a.split("=", 1) for a in args[3:])),
        "wait-counts": lambda: wait_counts(args[0], args[1], args[2], parse_expected(args[3:])),
        "finite-positive": lambda: finite_positive(args[0], args[1], args[2:]),
        "usage": lambda: usage(*args),
        "tokens": lambda: tokens(*args),
        "cost": lambda: cost(*args),
        "dashboard": lambda: dashboard(*args),
        "wait-rules": lambda: wait_rules(*args),
        "no-alerts": lambda: no_alerts(*args),
        "show": lambda: show(*args),
        "--self-test": self_test,
    }
    if cmd not in table:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return table[cmd]() or 0
    except (ValueError, KeyError, OSError) as e:  # a malformed answer is a failed check
        return complain(f"{cmd}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
