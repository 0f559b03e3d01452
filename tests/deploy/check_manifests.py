#!/usr/bin/env python3
"""Static checks of the rendered Kubernetes manifests against the gateway they deploy.

  check_manifests.py OVERLAY RENDERED.yaml PLAN.json RULES_OUT.yml
      OVERLAY is deployment or sidecar (its source directory is deploy/kubernetes/OVERLAY).
      Checks what a schema cannot see (ports, probes, config, secrets, drain budget, security,
      autoscaling, monitoring wiring), writes PLAN.json for the runtime check (podsim.py: how
      the kubelet would run the gateway container) and the PrometheusRule's groups as a rule
      file for `promtool check rules`.
  check_manifests.py --self-test
      the PromQL name lexer and the duration parser on known inputs.

Exit 0 = fine, 1 = problems (each printed), 2 = usage.
"""

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KUBE = ROOT / "deploy" / "kubernetes"

# What the gateway does on SIGTERM (src/http/server.cpp, server::wait): streams run until
# timeouts.drain after the signal, then final_write_budget for their final events, then the
# experiment store's last flush, bounded by store.flush_timeout (docs/replicas.md; 2s default).
FLUSH_TIMEOUT_DEFAULT = 2.0
STORE_BUFFER_DEFAULT = 64 << 20      # store.buffer_max_bytes default (interfaces of issue 14)
MAX_BUFFERED_DEFAULT = 512 << 20     # limits.max_buffered_bytes default (README)
BASELINE_MEMORY = 64 << 20           # the process itself, its pools and caches
SECRET_FIELDS = ("api_key", "admin_token", "api_token", "signing_key", "password", "url")


def final_write_budget():
    """The constant of include/switchyard/http/server.hpp, in seconds."""
    text = (ROOT / "include" / "switchyard" / "http" / "server.hpp").read_text()
    m = re.search(r"std::chrono::milliseconds\s+final_write_budget\s*\{\s*(\d+)\s*\}", text)
    if not m:
        raise SystemExit("server.hpp: final_write_budget not found (update check_manifests.py)")
    return int(m.group(1)) / 1000.0


# ---- the config's own syntax ---------------------------------------------------------------

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration(text):
    """The config's durations (README "Configuration"): 250ms, 5s, 2m, 1m30s → seconds."""
    text = str(text).strip()
    pos, total = 0, 0.0
    for m in DURATION_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text!r}")
    return total


ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


def env_references(value, out, where=""):
    """{VAR: (required, where)} for every ${VAR} / ${VAR:-default} in the parsed config."""
    if isinstance(value, dict):
        for k, v in value.items():
            env_references(v, out, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            env_references(v, out, f"{where}[{i}]")
    elif isinstance(value, str):
        for m in ENV_RE.finditer(value):
            required = m.group(2) is None
            prev = out.get(m.group(1))
            out[m.group(1)] = (required or (prev[0] if prev else False), where)


def host_port(text):
    host, _, port = str(text).rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host):
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


# ---- PromQL: metric names of an expression ---------------------------------------------------

PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "atan2", "start", "end",
}
TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*) |
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`) |
    (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*) |
    (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*) |
    (?P<op>[(){}\[\],=!~<>+\-*/%^@]+)
""", re.X)


def promql_tokens(expr):
    pos = 0
    while pos < len(expr):
        m = TOKEN_RE.match(expr, pos)
        if not m:
            raise ValueError(f"PromQL: cannot read {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            yield m.lastgroup, m.group()


def metric_names(expr):
    """Metric names of a PromQL expression: identifiers outside {…} and […] that are not
    functions (followed by "("), keywords, or the label lists of by/without/on/ignoring/group_*."""
    toks = list(promql_tokens(expr))
    names, i, brace, bracket = set(), 0, 0, 0
    while i < len(toks):
        kind, text = toks[i]
        if kind == "op":
            brace += text.count("{") - text.count("}")
            bracket += text.count("[") - text.count("]")
        elif kind == "ident" and brace == 0 and bracket == 0:
            nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
            if text in ("by", "without", "on", "ignoring", "group_left", "group_right"):
                if nxt.startswith("("):  # skip the label list
                    while i < len(toks) and ")" not in toks[i][1]:
                        i += 1
            elif text not in PROMQL_KEYWORDS and not nxt.startswith("(") and \
                    nxt not in ("by", "without"):  # `sum by (…) (…)`: an aggregation
                names.add(text)
        i += 1
    return names


def label_matchers(expr, metric):
    """{label: value} of the `=` matchers of the first selector of METRIC in EXPR."""
    toks = list(promql_tokens(expr))
    for i, (kind, text) in enumerate(toks):
        if kind == "ident" and text == metric and i + 1 < len(toks) and toks[i + 1][1] == "{":
            out, j = {}, i + 2
            while j + 2 < len(toks) and toks[j][1] != "}":
                if toks[j][0] == "ident" and toks[j + 1][1] == "=" and toks[j + 2][0] == "str":
                    out[toks[j][1]] = toks[j + 2][1][1:-1]
                    j += 3
                else:
                    j += 1
            return out
    return {}


# ---- manifests -----------------------------------------------------------------------------

class Checker:
    def __init__(self, overlay, objects):
        self.overlay = overlay
        self.objects = objects
        self.problems = []
        self.passed = 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.problems.append(message)
        return ok

    def of_kind(self, kind):
        return [o for o in self.objects if o.get("kind") == kind]

    def one(self, kind, name=None):
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        if len(found) != 1:
            raise SystemExit(f"{self.overlay}: expected one {kind} {name or ''}, found {len(found)}")
        return found[0]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pods(objects):
    """(workload, pod template) of every Deployment."""
    return [(o, o["spec"]["template"]) for o in objects if o.get("kind") == "Deployment"]


def container_port(container, ref):
    for p in container.get("ports", []):
        if ref in (p.get("name"), p.get("containerPort")):
            return p["containerPort"]
    return None


def quantity_bytes(q):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1000, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+)([KMG]i|[kMG])?", str(q))
    if not m:
        raise ValueError(f"unsupported memory quantity {q!r}")
    return int(m.group(1)) * units.get(m.group(2) or "", 1)


def quantity_cpu(q):
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def find_gateway(c, objects):
    """The workload, pod template and container named switchyard (in containers or, as a native
    sidecar, in initContainers)."""
    found = []
    for workload, tpl in pods(objects):
        spec = tpl["spec"]
        for where in ("containers", "initContainers"):
            for ctr in spec.get(where, []):
                if ctr["name"] == "switchyard":
                    found.append((workload, tpl, ctr, where))
    c.check(len(found) == 1, f"expected exactly one container named switchyard, found {len(found)}")
    return found[0]


def check_security(c, workload, tpl):
    name = workload["metadata"]["name"]
    spec = tpl["spec"]
    psc = spec.get("securityContext", {})
    c.check(psc.get("runAsNonRoot") is True, f"{name}: pod securityContext.runAsNonRoot is not true")
    c.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{name}: pod seccompProfile is not RuntimeDefault")
    c.check(spec.get("automountServiceAccountToken") is False,
            f"{name}: automountServiceAccountToken should be false (no API access needed)")
    for ctr in spec.get("containers", []) + spec.get("initContainers", []):
        where = f"{name}/{ctr['name']}"
        sc = ctr.get("securityContext", {})
        c.check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
        c.check(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
        c.check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities.drop ALL")
        c.check(not sc.get("capabilities", {}).get("add"), f"{where}: adds capabilities")
        c.check(sc.get("privileged") in (None, False), f"{where}: privileged")
        c.check(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{where}: runAsNonRoot")
        c.check(sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{where}: runs as UID 0")
        c.check(sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") == "RuntimeDefault",
                f"{where}: seccompProfile")
        res = ctr.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                c.check(r in res.get(kind, {}), f"{where}: resources.{kind}.{r} is missing")


def check_gateway(c, overlay_dir, image):
    workload, tpl, ctr, where = find_gateway(c, c.objects)
    spec = tpl["spec"]
    wname = workload["metadata"]["name"]
    plan = {"overlay": c.overlay, "workload": wname}

    # -- the config: which ConfigMap, mounted where, equal to the source file
    args = ctr.get("args", [])
    c.check(not ctr.get("command"), "switchyard: `command` overrides the image's ENTRYPOINT; use args")
    cfg_path = args[args.index("--config") + 1] if "--config" in args else None
    c.check(cfg_path is not None, f"switchyard: args {args} do not name a --config file")
    mounts = {m["mountPath"]: m for m in ctr.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    cfg_dir = str(Path(cfg_path).parent)
    mount = mounts.get(cfg_dir)
    c.check(mount is not None, f"switchyard: nothing is mounted at {cfg_dir} (the --config directory)")
    c.check(mount.get("readOnly") is True, f"switchyard: the config mount {cfg_dir} is not readOnly")
    cm_name = volumes[mount["name"]].get("configMap", {}).get("name")
    cm = c.one("ConfigMap", cm_name)
    generated = [g["name"] for g in yaml.safe_load(
        (overlay_dir / "kustomization.yaml").read_text()).get("configMapGenerator", [])]
    base_name = next((g for g in generated if re.fullmatch(re.escape(g) + r"-[a-z0-9]{10}", cm_name)),
                     None)
    c.check(base_name is not None,
            f"ConfigMap {cm_name}: no content hash suffix, so a config change would not roll the pods")
    key = Path(cfg_path).name
    text = cm.get("data", {}).get(key)
    c.check(text is not None, f"ConfigMap {cm_name} has no key {key}")
    source = overlay_dir / "switchyard.yaml"
    c.check(text == source.read_text(), f"ConfigMap {cm_name}/{key} differs from {source}")
    config = yaml.safe_load(text)
    plan.update(config_path=cfg_path, config_text=text, args=args)

    # -- secrets: every required ${VAR} is set, secrets come from Secrets only
    refs = {}
    env_references(config, refs)
    env = {e["name"]: e for e in ctr.get("env", [])}
    c.check(not ctr.get("envFrom") or all("secretRef" in e for e in ctr["envFrom"]),
            "switchyard: envFrom other than a Secret")
    for var, (required, at) in sorted(refs.items()):
        if required:
            c.check(var in env, f"config {at} needs ${{{var}}} but the container does not set it")
        if any(at.split(".")[-1].startswith(f) for f in SECRET_FIELDS) and var in env:
            c.check("secretKeyRef" in env[var].get("valueFrom", {}),
                    f"${{{var}}} ({at}) must come from a Secret (secretKeyRef)")

    def literal_secrets(value, at=""):
        if isinstance(value, dict):
            for k, v in value.items():
                literal_secrets(v, f"{at}.{k}" if at else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                literal_secrets(v, f"{at}[{i}]")
        elif isinstance(value, str) and at.split(".")[-1] in SECRET_FIELDS and value:
            if at.split(".")[-1] == "url" and not at.startswith("store"):
                return
            c.check(ENV_RE.fullmatch(value.strip()) is not None,
                    f"config {at}: a literal secret in the ConfigMap; use ${{VAR}} from a Secret")
    literal_secrets(config)
    for e in ctr.get("env", []):
        c.check("value" not in e or not re.search(r"KEY|TOKEN|PASSWORD|SECRET", e["name"]),
                f"switchyard env {e['name']}: a literal secret value in the manifest")
    plan["env"] = [{"name": e["name"], **({"secret": e["valueFrom"]["secretKeyRef"]}
                                          if "secretKeyRef" in e.get("valueFrom", {})
                                          else {"value": e.get("value", "")})}
                   for e in ctr.get("env", [])]

    # -- listeners, container ports, probes
    listen_host, listen_port = host_port(config["listen"])
    listeners = {listen_port: listen_host}
    if config.get("admin_listen"):
        ah, ap = host_port(config["admin_listen"])
        listeners[ap] = ah
    declared = {p["containerPort"]: p for p in ctr.get("ports", [])}
    for port, host in listeners.items():
        if is_loopback(host):
            c.check(port not in declared,
                    f"containerPort {port} is declared but the gateway listens on {host} only")
        else:
            c.check(port in declared, f"the gateway listens on {host}:{port}; no containerPort {port}")
    for port in declared:
        c.check(port in listeners and not is_loopback(listeners[port]),
                f"containerPort {port}: the config does not listen there (listen/admin_listen)")
    probes = []
    for kind, path in (("startupProbe", "/readyz"), ("readinessProbe", "/readyz"),
                       ("livenessProbe", "/healthz")):
        probe = ctr.get(kind)
        if not c.check(probe is not None and "httpGet" in probe, f"switchyard: no httpGet {kind}"):
            continue
        got = probe["httpGet"]
        c.check(got.get("path") == path, f"{kind} path {got.get('path')} (expected {path})")
        port = container_port(ctr, got.get("port"))
        c.check(port is not None, f"{kind}: port {got.get('port')!r} is not a containerPort")
        c.check(port in listeners and not is_loopback(listeners.get(port, "")),
                f"{kind}: port {port} is not a listener the kubelet can reach")
        probes.append({"probe": kind, "path": path, "port": port})
    plan["probes"] = probes
    plan["listen_port"] = listen_port
    plan["admin_port"] = host_port(config["admin_listen"])[1] if config.get("admin_listen") else None

    # -- drain and grace
    t = config.get("timeouts", {})
    drain = duration(t.get("drain", "30s"))
    grace = duration(t.get("drain_grace", "5s"))
    flush = duration(config.get("store", {}).get("flush_timeout", "2s")) \
        if config.get("store", {}).get("type") == "redis" else FLUSH_TIMEOUT_DEFAULT
    need = drain + grace + final_write_budget() + flush
    tgps = spec.get("terminationGracePeriodSeconds", 30)
    c.check(tgps > need, f"terminationGracePeriodSeconds {tgps} is not above drain {drain}s + grace "
            f"{grace}s + final writes {final_write_budget()}s + last flush {flush}s = {need}s")
    plan.update(termination_grace=tgps, drain=drain, drain_grace=grace)

    # -- data_dir on a writable volume, nothing else writable
    data_dir = config.get("data_dir")
    c.check(data_dir and data_dir.startswith("/"), f"data_dir {data_dir!r} must be absolute here")
    dm = mounts.get(data_dir)
    c.check(dm is not None and not dm.get("readOnly"), f"data_dir {data_dir} is not a writable mount")
    if dm:
        vol = volumes[dm["name"]]
        c.check("emptyDir" in vol or "persistentVolumeClaim" in vol,
                f"data_dir {data_dir}: volume {dm['name']} is neither an emptyDir nor a PVC")
    plan["data_dir"] = data_dir

    # -- the user: the image's, non-root; resources fit the config
    psc = spec.get("securityContext", {})
    uid = ctr.get("securityContext", {}).get("runAsUser", psc.get("runAsUser"))
    gid = ctr.get("securityContext", {}).get("runAsGroup", psc.get("runAsGroup"))
    c.check(uid == image["uid"], f"runAsUser {uid} is not the image's USER {image['uid']}")
    c.check(psc.get("fsGroup") == image["gid"], f"fsGroup {psc.get('fsGroup')} is not the image's "
            f"group {image['gid']} (data_dir must be writable)")
    plan.update(uid=uid, gid=gid, fs_group=psc.get("fsGroup"))
    res = ctr.get("resources", {})
    cpu = quantity_cpu(res.get("limits", {}).get("cpu", "0"))
    workers = config.get("workers", 0)
    c.check(workers != 0, "workers: 0 means one per node core, not per CPU limit: set it")
    c.check(cpu == 0 or workers <= max(1, round(cpu)), f"workers {workers} above the CPU limit {cpu}")
    mem = quantity_bytes(res.get("limits", {}).get("memory", "0"))
    buffered = config.get("limits", {}).get("max_buffered_bytes", MAX_BUFFERED_DEFAULT)
    store_buf = config.get("store", {}).get("buffer_max_bytes", STORE_BUFFER_DEFAULT) \
        if config.get("store", {}).get("type") == "redis" else 0
    c.check(mem >= buffered + store_buf + BASELINE_MEMORY,
            f"memory limit {mem} below max_buffered_bytes {buffered} + store buffer {store_buf} + "
            f"{BASELINE_MEMORY} for the process")
    image_name = ctr["image"].rsplit(":", 1)[0]
    c.check(image_name.split("/")[-1] == "switchyard", f"image {ctr['image']} is not switchyard")
    return workload, tpl, ctr, where, config, plan


def check_deployment_overlay(c, workload, tpl, config):
    labels = tpl["metadata"]["labels"]
    name = workload["metadata"]["name"]
    c.check(selects(workload["spec"]["selector"]["matchLabels"], labels), f"{name}: selector")
    c.check("replicas" not in workload["spec"], f"{name}: spec.replicas fights the HPA; leave it out")
    ru = workload["spec"].get("strategy", {}).get("rollingUpdate", {})
    c.check(ru.get("maxUnavailable") == 0, f"{name}: a rollout should not lower capacity")
    svc = c.one("Service", "switchyard")
    c.check(selects(svc["spec"]["selector"], labels), "Service switchyard does not select the pods")
    gw = next(x for x in tpl["spec"]["containers"] if x["name"] == "switchyard")
    for p in svc["spec"]["ports"]:
        c.check(container_port(gw, p["targetPort"]) is not None,
                f"Service port {p['name']}: targetPort {p['targetPort']} is not a containerPort")
    pdb = c.one("PodDisruptionBudget")
    c.check(pdb["apiVersion"] == "policy/v1", "PodDisruptionBudget is not policy/v1")
    c.check(selects(pdb["spec"]["selector"]["matchLabels"], labels), "the PDB does not select the pods")
    hpa = c.one("HorizontalPodAutoscaler")
    c.check(hpa["apiVersion"] == "autoscaling/v2", "HPA is not autoscaling/v2")
    ref = hpa["spec"]["scaleTargetRef"]
    c.check((ref["kind"], ref["name"]) == ("Deployment", name), f"HPA targets {ref}")
    min_r = hpa["spec"].get("minReplicas", 1)
    c.check(min_r >= 2, "HPA minReplicas < 2: one pod is a single point of failure")
    if "maxUnavailable" in pdb["spec"]:
        c.check(pdb["spec"]["maxUnavailable"] not in (0, "0%"), "PDB maxUnavailable 0 blocks drains")
    else:
        c.check(pdb["spec"]["minAvailable"] < min_r, "PDB minAvailable >= minReplicas blocks drains")
    c.check(config.get("store", {}).get("expected_replicas") == min_r,
            f"store.expected_replicas {config.get('store', {}).get('expected_replicas')} is not the "
            f"HPA's minReplicas {min_r} (the per-replica share of a limit when Redis is down)")
    down = hpa["spec"].get("behavior", {}).get("scaleDown", {})
    c.check(down.get("stabilizationWindowSeconds", 300) >= 300, "HPA scale-down window below 5 min")
    for pol in down.get("policies", []):
        slow = (pol["type"] == "Pods" and pol["value"] <= 1) or \
               (pol["type"] == "Percent" and pol["value"] <= 10)
        c.check(slow and pol["periodSeconds"] >= 60,
                f"HPA scale-down policy {pol} removes pods faster than one per minute")
    c.check(down.get("policies") and down.get("selectPolicy") in ("Min", None, "Disabled") or
            len(down.get("policies", [])) == 1, "HPA scale-down: several policies need selectPolicy Min")
    aff = tpl["spec"].get("affinity", {}).get("podAntiAffinity", {})
    terms = [t.get("podAffinityTerm", t) for t in
             aff.get("preferredDuringSchedulingIgnoredDuringExecution", []) +
             aff.get("requiredDuringSchedulingIgnoredDuringExecution", [])]
    c.check(any(t["topologyKey"] == "kubernetes.io/hostname" and
                selects(t["labelSelector"]["matchLabels"], labels) for t in terms),
            "no pod anti-affinity over kubernetes.io/hostname selecting the gateway pods")
    # The reference Redis: a Deployment, a Service selecting it, a NetworkPolicy letting the
    # gateway pods in.
    redis = c.one("Deployment", "switchyard-redis")
    rsvc = c.one("Service", "switchyard-redis")
    rlabels = redis["spec"]["template"]["metadata"]["labels"]
    c.check(selects(rsvc["spec"]["selector"], rlabels), "Service switchyard-redis selects no Redis pod")
    c.check(any(p["port"] == 6379 for p in rsvc["spec"]["ports"]), "Service switchyard-redis: no 6379")
    c.check(not selects(svc["spec"]["selector"], rlabels), "Service switchyard selects the Redis pod")
    netpol = c.one("NetworkPolicy", "switchyard-redis")
    c.check(selects(netpol["spec"]["podSelector"]["matchLabels"], rlabels), "NetworkPolicy: pods")
    c.check(any(selects(f.get("podSelector", {}).get("matchLabels"), labels)
                for rule in netpol["spec"]["ingress"] for f in rule["from"]),
            "NetworkPolicy switchyard-redis does not let the gateway pods in")
    store = config.get("store", {})
    c.check(store.get("type") == "redis" and ENV_RE.fullmatch(str(store.get("url", ""))),
            "the deployment overlay's config must use store: {type: redis, url: ${REDIS_URL}}")


def check_sidecar_overlay(c, workload, tpl, ctr, where, config):
    c.check(where == "initContainers" and ctr.get("restartPolicy") == "Always",
            "the gateway is not a native sidecar (initContainers + restartPolicy: Always)")
    host, port = host_port(config["listen"])
    c.check(is_loopback(host), f"sidecar listens on {host}, reachable from other pods")
    apps = tpl["spec"]["containers"]
    c.check(len(apps) >= 1, "no app container next to the sidecar")
    for app in apps:
        env = {e["name"]: e.get("value") for e in app.get("env", [])}
        c.check(env.get("OPENAI_BASE_URL") == f"http://localhost:{port}/v1",
                f"app {app['name']}: OPENAI_BASE_URL {env.get('OPENAI_BASE_URL')!r} is not "
                f"http://localhost:{port}/v1")
    c.check(workload["spec"].get("replicas") == config.get("store", {}).get("expected_replicas"),
            "store.expected_replicas is not the app's replicas")


def check_monitoring(c, tpl, gateway, rules_source, rules_out, plan):
    labels = tpl["metadata"]["labels"]
    sm = c.one("ServiceMonitor")
    job_label = sm["spec"].get("jobLabel")
    services = [s for s in c.of_kind("Service")
                if selects(sm["spec"]["selector"]["matchLabels"], s["metadata"].get("labels", {}))]
    gateway_services = [s for s in services if selects(s["spec"]["selector"], labels)]
    c.check(len(gateway_services) >= 1, "the ServiceMonitor selects no Service of the gateway pods")
    rule = c.one("PrometheusRule")
    want = yaml.safe_load(rules_source.read_text())
    c.check(rule["spec"] == want,
            "PrometheusRule spec differs from deploy/prometheus/switchyard-alerts.yml "
            "(run deploy/kubernetes/sync_monitoring.py)")
    Path(rules_out).write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    names, job = set(), None
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            names |= metric_names(r["expr"])
            if "up" in metric_names(r["expr"]):
                job = label_matchers(r["expr"], "up").get("job", job)
    synthetic = {"up"}  # written by Prometheus itself for every scrape
    plan["rule_metrics"] = sorted(names - synthetic)
    c.check(all(n.startswith("switchyard_") for n in names - synthetic),
            f"alert expressions name metrics that are neither switchyard_* nor up: "
            f"{sorted(n for n in names - synthetic if not n.startswith('switchyard_'))}")
    for svc in gateway_services:
        sname = svc["metadata"]["name"]
        got_job = svc["metadata"].get("labels", {}).get(job_label) if job_label else None
        c.check((got_job or sname) == job,
                f"Service {sname} is scraped as job {got_job or sname!r}; the alerts expect {job!r}")
        for ep in sm["spec"]["endpoints"]:
            sp = next((p for p in svc["spec"]["ports"] if p.get("name") == ep["port"]), None)
            if not c.check(sp is not None, f"Service {sname} has no port named {ep['port']}"):
                continue
            port = container_port(gateway, sp["targetPort"])
            c.check(port == plan["admin_port"] or port == plan["listen_port"],
                    f"ServiceMonitor port {ep['port']} → container port {port}, not a listener")
            plan["metrics"] = {"port": port, "path": ep.get("path", "/metrics")}
    dash = c.one("ConfigMap", "switchyard-grafana-dashboard")
    c.check(dash["metadata"].get("labels", {}).get("grafana_dashboard") == "1",
            "the dashboard ConfigMap lacks the grafana_dashboard label")
    source = json.loads((ROOT / "deploy" / "grafana" / "switchyard-dashboard.json").read_text())
    data = dash.get("data", {}).get("switchyard-dashboard.json", "")
    c.check(data and json.loads(data) == source, "dashboard ConfigMap differs from deploy/grafana")
    c.check(len(data.encode()) < 262144, "dashboard over 256 KiB: client-side apply would fail")


def image_user():
    """USER of the Containerfile's last stage, as uid:gid numbers (check_image.py checks it)."""
    text = (ROOT / "Containerfile").read_text()
    users = re.findall(r"^USER\s+(\d+)(?::(\d+))?\s*$", text, re.M)
    if not users:
        raise SystemExit("Containerfile: no numeric USER")
    uid, gid = users[-1]
    return {"uid": int(uid), "gid": int(gid or uid)}


def self_test():
    cases = [
        ('sum by (experiment, variant) (rate(switchyard_requests_total{status_class="5xx"}[5m]))',
         {"switchyard_requests_total"}),
        ("histogram_quantile(0.95, sum by (le) (rate(switchyard_request_duration_seconds_bucket[5m])))"
         " > 3", {"switchyard_request_duration_seconds_bucket"}),
        ("a unless b offset 10m", {"a", "b"}),
        ('up{job="switchyard"} == 0', {"up"}),
        ("x and on (experiment, variant) y >= 20 # comment z", {"x", "y"}),
    ]
    ok = True
    for expr, want in cases:
        if metric_names(expr) != want:
            print(f"self-test: metric_names({expr!r}) = {metric_names(expr)}, want {want}")
            ok = False
    if label_matchers('up{job="switchyard"} == 0', "up") != {"job": "switchyard"}:
        ok = False
        print("self-test: label_matchers")
    for text, want in (("250ms", 0.25), ("1m30s", 90), ("5s", 5)):
        if duration(text) != want:
            ok = False
            print(f"self-test: duration({text})")
    try:
        duration("5 s")
        ok = False
    except ValueError:
        pass
    print("self-test passed" if ok else "self-test failed")
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    overlay, rendered, plan_out, rules_out = argv[1:]
    objects = [o for o in yaml.safe_load_all(Path(rendered).read_text()) if o]
    c = Checker(overlay, objects)
    image = image_user()
    for workload, tpl in pods(objects):
        check_security(c, workload, tpl)
    workload, tpl, ctr, where, config, plan = check_gateway(c, KUBE / overlay, image)
    if overlay == "deployment":
        check_deployment_overlay(c, workload, tpl, config)
    elif overlay == "sidecar":
        check_sidecar_overlay(c, workload, tpl, ctr, where, config)
    check_monitoring(c, tpl, ctr, ROOT / "deploy" / "prometheus" / "switchyard-alerts.yml",
                     rules_out, plan)
    Path(plan_out).write_text(json.dumps(plan, indent=2))
    for p in c.problems:
        print(f"{overlay}: {p}")
    print(f"{overlay}: {c.passed} checks passed, {len(c.problems)} failed")
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
