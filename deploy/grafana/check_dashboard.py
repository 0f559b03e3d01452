#!/usr/bin/env python3
"""Checks the Switchyard Grafana dashboard; used by deploy/check.sh and tests/prometheus/run.sh.

  check_dashboard.py lint DASHBOARD.json        structure: variables, datasources, panel ids,
                                                grid, targets, metric names from the contract
  check_dashboard.py rules DASHBOARD.json OUT   every PromQL expression (Grafana variables
                                                substituted) as a recording rule, for
                                                `promtool check rules OUT`
  check_dashboard.py exprs DASHBOARD.json       the same expressions as JSON lines
                                                {"panel", "ref", "expr"}, for evaluation
  check_dashboard.py names FILE...              every switchyard_* name in FILEs is a metric
                                                of the contract (or a histogram's base name)

Options for rules/exprs: --range D (for $__range, default 1h), --rate-interval D (for
$__rate_interval and $__interval, default 1m). Query variables become ".*".
Exit status: 0 = fine, 1 = problems (printed), 2 = usage.
"""

import json
import re
import sys

# The /metrics contract (counters end in _total; histograms also expose _bucket/_sum/_count).
COUNTERS = {
    "switchyard_requests_total", "switchyard_tokens_total", "switchyard_cost_usd_total",
    "switchyard_retries_total", "switchyard_fallbacks_total", "switchyard_rate_limited_total",
    "switchyard_experiment_assignments_total", "switchyard_feedback_total",
    "switchyard_guardrail_trips_total",
}
HISTOGRAMS = {
    "switchyard_request_duration_seconds", "switchyard_time_to_first_token_seconds",
    "switchyard_inter_token_seconds", "switchyard_gateway_overhead_seconds",
    "switchyard_upstream_duration_seconds", "switchyard_feedback_score",
}
GAUGES = {
    "switchyard_circuit_open", "switchyard_inflight_requests", "switchyard_active_streams",
    "switchyard_upstream_connections", "switchyard_build_info",
}
METRICS = COUNTERS | GAUGES | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}

QUERY_VARIABLES_REQUIRED = ("experiment", "variant")
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def variables(dash):
    return {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}


def all_panels(dash):
    """Panels in document order, including those nested in collapsed rows."""
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def variable_query(v):
    q = v.get("query")
    return q.get("query", "") if isinstance(q, dict) else (q or "")


def targets(dash):
    """(panel title, refId, raw expr) of every PromQL expression, variables' queries included."""
    for p in all_panels(dash):
        for t in p.get("targets", []):
            yield p.get("title", "?"), t.get("refId", "?"), t.get("expr", "")
    for name, v in variables(dash).items():
        if v.get("type") == "query":
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", variable_query(v), re.S)
            # label_values(selector, label) is Grafana's; its selector is PromQL.
            yield f"variable {name}", "query", m.group(1) if m else variable_query(v)


def substitute(expr, dash, rng="1h", rate_interval="1m"):
    """Replaces Grafana variables with values PromQL accepts; raises KeyError on unknown ones."""
    builtins = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": rng}
    query_vars = {n for n, v in variables(dash).items() if v.get("type") in ("query", "custom")}

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if m.group(3):
            raise KeyError(f"deprecated [[{name}]] syntax")
        if name in builtins:
            return builtins[name]
        if name in query_vars:
            return ".*"
        raise KeyError(f"unknown variable ${name}")

    return VAR_RE.sub(repl, expr)


def lint_variables(dash, problems):
    vs = variables(dash)
    ds = vs.get("datasource")
    inputs = [i for i in dash.get("__inputs", []) if i.get("pluginId") == "prometheus"]
    if not (ds and ds.get("type") == "datasource" and ds.get("query") == "prometheus") \
            and not inputs:
        problems.append("no Prometheus datasource variable or __inputs entry")
    for name in QUERY_VARIABLES_REQUIRED:
        v = vs.get(name)
        if not v:
            problems.append(f"template variable {name} missing")
            continue
        if v.get("type") != "query" or "label_values(" not in variable_query(v):
            problems.append(f"variable {name}: not a label_values query")
        if not (v.get("multi") and v.get("includeAll")):
            problems.append(f"variable {name}: must be multi-value with 'All'")


def lint_panel(p, ids, problems):
    title = p.get("title") or f"panel {p.get('id')}"
    if p.get("id") in ids:
        problems.append(f"{title}: duplicate id {p.get('id')}")
    ids.add(p.get("id"))
    g = p.get("gridPos", {})
    if not all(isinstance(g.get(k), int) for k in "hwxy") or g["x"] + g["w"] > 24:
        problems.append(f"{title}: bad gridPos {g}")
    if p.get("type") == "row":
        return
    if p.get("datasource", {}).get("uid") not in ("${datasource}", "${DS_PROMETHEUS}"):
        problems.append(f"{title}: datasource is not the dashboard's variable")
    refs = [t.get("refId") for t in p.get("targets", [])]
    if not refs or len(set(refs)) != len(refs):
        problems.append(f"{title}: needs targets with distinct refIds")
    for t in p.get("targets", []):
        if not t.get("expr", "").strip():
            problems.append(f"{title}/{t.get('refId')}: empty expr")


def lint_overlaps(dash, problems):
    cells = {}
    for p in dash.get("panels", []):
        g = p.get("gridPos", {})
        for dx in range(g.get("w", 0)):
            for dy in range(g.get("h", 0)):
                key = (g["x"] + dx, g["y"] + dy)
                if key in cells:
                    problems.append(f"{p.get('title')}: overlaps {cells[key]}")
                    return
                cells[key] = p.get("title")


def unknown_names(text, allowed=METRICS):
    return sorted({n for n in re.findall(r"\bswitchyard_\w+", text) if n not in allowed})


def lint(dash):
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append("schemaVersion missing or older than 36")
    for key in ("uid", "title"):
        if not dash.get(key):
            problems.append(f"{key} missing")
    lint_variables(dash, problems)
    ids = set()
    for p in all_panels(dash):
        lint_panel(p, ids, problems)
    lint_overlaps(dash, problems)
    for title, ref, expr in targets(dash):
        for name in unknown_names(expr):
            problems.append(f"{title}/{ref}: {name} is not a metric of the contract")
        try:
            substitute(expr, dash)
        except KeyError as e:
            problems.append(f"{title}/{ref}: {e.args[0]}")
    return problems


def substituted(dash, opts):
    return [{"panel": t, "ref": r, "expr": substitute(e, dash, opts["range"], opts["rate"])}
            for t, r, e in targets(dash)]


def write_rules(exprs, out):
    # A recording rule per expression: `promtool check rules` then parses every one of them.
    lines = ["groups:", "  - name: dashboard_exprs", "    rules:"]
    for i, e in enumerate(exprs):
        # The record name carries the panel, so that promtool's errors say which one it is.
        slug = re.sub(r"[^a-z0-9]+", "_", f"{e['panel']}_{e['ref']}".lower()).strip("_")
        lines.append(f"      - record: dashboard:{i}:{slug}")
        lines.append(f"        expr: {json.dumps(e['expr'])}")  # JSON strings are YAML
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def parse_opts(args):
    opts = {"range": "1h", "rate": "1m"}
    rest = []
    while args:
        a = args.pop(0)
        if a in ("--range", "--rate-interval") and args:
            opts["range" if a == "--range" else "rate"] = args.pop(0)
        else:
            rest.append(a)
    return opts, rest


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, (opts, rest) = argv[1], parse_opts(argv[2:])
    if cmd == "names":
        # Prose (annotations, comments) may name a histogram by its base name.
        allowed = METRICS | HISTOGRAMS
        bad = [(f, n) for f in rest
               for n in unknown_names(open(f, encoding="utf-8").read(), allowed)]
        for f, n in bad:
            print(f"{f}: {n} is not a metric of the contract")
        return 1 if bad else 0
    dash = load(rest[0])
    if cmd in ("rules", "exprs") and lint(dash):
        print("the dashboard has problems; run `lint` first", file=sys.stderr)
        return 1
    if cmd == "lint":
        problems = lint(dash)
        for p in problems:
            print(p)
        return 1 if problems else 0
    if cmd == "rules" and len(rest) == 2:
        exprs = substituted(dash, opts)
        write_rules(exprs, rest[1])
        print(f"{len(exprs)} expressions written to {rest[1]}")
        return 0
    if cmd == "exprs":
        for e in substituted(dash, opts):
            print(json.dumps(e))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
