#!/usr/bin/env python3
"""Runs the built gateway the way its container would run, without a container engine (none can
run in this sandbox): in private mount, network and PID namespaces (unshare, as root), with

  - the image's paths: the binary at the ENTRYPOINT path, the config read-only at its path,
    data_dir on its own writable mount (emptyDir / volume), everything else read-only
    (readOnlyRootFilesystem); the working directory is the image's WORKDIR;
  - the image's user (setpriv: the UID/GID of USER / runAsUser, fsGroup as a supplementary
    group, no capabilities, no_new_privs as allowPrivilegeEscalation: false);
  - a network namespace of its own, so the config's own ports (8080, 9090) are used unchanged;
  - the environment the manifests give it: each secretKeyRef becomes a test value;
    OPENAI_BASE_URL points the upstream at mock-llm (the one adaptation), REDIS_URL at a real
    redis-server started in the namespace.

  podsim.py overlay PLAN.json IMAGE.json   the gateway container of a rendered overlay
                                           (PLAN from check_manifests.py, IMAGE from check_image.py)
  podsim.py image IMAGE.json               ENTRYPOINT + CMD of the Containerfile, its own config

Checks: `--check-config` passes; the probes answer 200 ({"status":"ready"/"ok"}); proxied
requests succeed; every metric the PrometheusRule names is on the scraped /metrics; the process
runs as the user with no capabilities; only data_dir was written; SIGTERM turns /readyz to 503
while /healthz stays 200, and the gateway exits 0 within terminationGracePeriodSeconds.

Env: SWITCHYARD_BIN, MOCK_LLM_BIN, REDIS_SERVER (default redis-server). Exit 0 = pass, 1 = fail,
77 = cannot create the namespaces here (not root, or unshare refused).
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import ready  # noqa: E402  (tests/support/ready.py: readiness by events, not polls)

HERE = Path(__file__).resolve().parent


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def sh(*argv):
    subprocess.run(argv, check=True)


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """(status, body bytes); raises OSError when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def listening(what, path, regex, timeout, proc):
    """The port in the first line of the log `path` matching `regex`, waited for by inotify and
    the process's pidfd (tests/support/ready.py): no polling."""
    try:
        return int(ready.wait_line(path, regex, timeout, proc.pid).group(1))
    except ready.NotReady as e:
        raise Failure(f"{what}: {e}")


def wait_for(what, pred, timeout, pause=0.05, proc=None):
    """A probe every `pause` seconds until pred() is true, as the kubelet probes a pod (used for
    the readiness flip after SIGTERM, which the gateway announces only through /readyz)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise Failure(f"{what}: the process exited with {proc.returncode}")
        time.sleep(pause)
    raise Failure(f"{what}: not within {timeout}s")


# ---- the root filesystem as the image has it ----------------------------------------------------

class Rootfs:
    """Overlays on existing directories so that image paths can be created in this namespace
    only, then everything read-only except the mounts that the pod makes writable."""

    def __init__(self, work):
        self.work = work
        self.overlays = {}
        self.n = 0

    def _overlay_for(self, path):
        path = Path(path)
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        for done in self.overlays:
            if parent == done or done in parent.parents:
                return
        self.n += 1
        upper = self.work / f"ovl{self.n}" / "upper"
        wdir = self.work / f"ovl{self.n}" / "work"
        upper.mkdir(parents=True)
        wdir.mkdir(parents=True)
        sh("mount", "-t", "overlay", "overlay", "-o",
           f"lowerdir={parent},upperdir={upper},workdir={wdir}", str(parent))
        self.overlays[parent] = upper

    def put_file(self, path, source, mode):
        self._overlay_for(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        os.chown(path, 0, 0)
        os.chmod(path, mode)

    def read_only_dir(self, path, files):
        """A directory holding FILES {name: text}, mounted read-only (a ConfigMap volume)."""
        self._overlay_for(path)
        Path(path).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (Path(path) / name).write_text(text)
            os.chmod(Path(path) / name, 0o444)
        os.chmod(path, 0o555)
        sh("mount", "--bind", str(path), str(path))
        sh("mount", "-o", "remount,bind,ro", str(path))

    def writable_dir(self, path, uid, gid):
        """An emptyDir / volume: a tmpfs owned by the pod's user and fsGroup."""
        self._overlay_for(path)
        Path(path).mkdir(parents=True, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", f"size=64m,mode=0770,uid={uid},gid={gid}", "tmpfs", str(path))

    def seal(self):
        """readOnlyRootFilesystem: / and the overlays read-only; the pod's volumes stay as they are."""
        for parent in self.overlays:
            sh("mount", "-o", "remount,bind,ro", str(parent))
        sh("mount", "-o", "remount,bind,ro", "/")


# ---- one run --------------------------------------------------------------------------------

def secret_value(ref, redis_url):
    if ref["name"] == "switchyard-redis" and ref["key"] == "url":
        return redis_url
    return "test-" + hashlib.sha256(f"{ref['name']}/{ref['key']}".encode()).hexdigest()[:32]


def parse_exposition(text):
    """{family name: type} and the set of sample names of a Prometheus text exposition."""
    families, samples = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                families[parts[2]] = parts[3]
        elif line and not line.startswith("#"):
            m = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line)
            if m:
                samples.add(m.group())
    return families, samples


def exported(name, families, samples):
    if name in families or name in samples:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def base_name(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def registrations():
    """{metric family: source file} of every registry.add_counter/gauge/histogram/callback call
    with a literal name in src/ (the C++ call and its first string argument)."""
    root = HERE.parent.parent
    found = {}
    call = re.compile(r"\badd_(?:counter|gauge|histogram|callback)\(\s*\"([a-z_:][a-z0-9_:]*)\"")
    for f in sorted((root / "src").rglob("*.cpp")):
        for m in call.finditer(f.read_text()):
            found.setdefault(m.group(1), str(f.relative_to(root)))
    return found


def resp_read(f):
    """One RESP2 reply from a binary file object (simple string, error, integer, bulk, array)."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise Failure("redis: truncated reply")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode()
    if kind == b"-":
        raise Failure(f"redis: {body.decode()}")
    if kind == b":":
        return int(body)
    if kind == b"$":
        n = int(body)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(body)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise Failure(f"redis: unexpected reply type {kind!r}")


def redis_command(port, *args):
    req = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req)
        return resp_read(s.makefile("rb"))


def redis_keys(port, limit=100000):
    """Every key, by SCAN (bounded)."""
    keys, cursor = [], "0"
    for _ in range(1000):
        cursor, batch = redis_command(port, "SCAN", cursor, "COUNT", "1000")
        keys += batch
        if cursor == "0" or len(keys) >= limit:
            return keys
    raise Failure("redis: SCAN did not finish")


def proc_status(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def tree_digest(path):
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        h.update(str(p).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def inner(mode, plan, image, work):
    binary = os.environ["SWITCHYARD_BIN"]
    mock_bin = os.environ["MOCK_LLM_BIN"]
    children = []
    results = {"checks": 0}

    def ok(msg):
        results["checks"] += 1
        log(f"ok   {msg}")

    try:
        sh("ip", "link", "set", "lo", "up")
        sh("mount", "--bind", str(work), str(work))  # stays writable after seal()
        rootfs = Rootfs(work)

        if mode == "overlay":
            cfg_path, cfg_text = plan["config_path"], plan["config_text"]
            args = plan["args"]
            uid, gid, groups = plan["uid"], plan["gid"], plan.get("fs_group")
            data_dirs = [plan["data_dir"]]
            listen, admin = plan["listen_port"], plan["admin_port"]
            probes = plan["probes"]
            grace_budget = plan["termination_grace"]
            drain_grace = plan["drain_grace"]
            title = f"overlay {plan['overlay']} ({plan['workload']})"
        else:
            cfg_path = image["config_path"]
            cfg_text = Path(image["config_source"]).read_text()
            args = image["cmd"]
            uid, gid, groups = image["uid"], image["gid"], None
            data_dirs = image["volumes"]
            listen, admin = image["listen_port"], None
            probes = [{"probe": "probe", "path": "/readyz", "port": listen},
                      {"probe": "probe", "path": "/healthz", "port": listen}]
            grace_budget = 40  # `podman stop --time 40` / `docker run --stop-timeout 40` (deploy/README.md)
            drain_grace = 5
            title = "image (ENTRYPOINT + CMD of the Containerfile)"
        argv = image["entrypoint"] + args
        log(f"== {title}: {' '.join(argv)} as {uid}:{gid}, cwd {image['workdir']}")

        rootfs.put_file(image["entrypoint"][0], binary, 0o755)
        rootfs.read_only_dir(str(Path(cfg_path).parent), {Path(cfg_path).name: cfg_text})
        for d in data_dirs:
            rootfs.writable_dir(d, uid, groups if groups is not None else gid)
        if not Path(image["workdir"]).exists():
            raise Failure(f"WORKDIR {image['workdir']} does not exist in the image")
        rootfs.seal()
        probe = work / "probe"
        try:
            probe.write_text("x")
        except OSError:
            raise Failure("the test's own work directory became read-only")
        try:
            Path("/etc/switchyard-write-test").write_text("x")
            raise Failure("the root filesystem is still writable after seal()")
        except OSError:
            ok("root filesystem read-only; config directory read-only; data_dir writable tmpfs")
        cfg_digest = tree_digest(Path(cfg_path).parent)

        # -- the upstream and the store
        mock = subprocess.Popen([mock_bin, "--host", "127.0.0.1", "--port", "0"],
                                stdout=open(work / "mock.out", "w"), stderr=subprocess.STDOUT)
        children.append(mock)
        mock_port = listening("mock-llm listening", work / "mock.out",
                              r"listening on [^ :]+:([0-9]+)", 20, mock)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": image["workdir"], "OPENAI_BASE_URL": f"http://127.0.0.1:{mock_port}/v1"}
        redis_url = "redis://127.0.0.1:6379/0"
        redis_started = False
        if mode == "overlay":
            if re.search(r"^store:\s*\n(\s+.*\n)*?\s+type:\s*redis", cfg_text, re.M) or \
                    "REDIS_URL" in {e["name"] for e in plan["env"]}:
                rdir = work / "redis"
                rdir.mkdir()
                try:  # ready when it says so: sd_notify READY=1 (tests/support/ready.py)
                    redis = ready.start_redis(
                        [os.environ.get("REDIS_SERVER", "redis-server"), "--port", "6379",
                         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                         str(rdir)], str(rdir), 20,
                        stdout=open(work / "redis.out", "w"), stderr=subprocess.STDOUT)
                except ready.NotReady as e:
                    raise Failure(f"redis-server: {e}")
                children.append(redis)
                redis_started = True
            for e in plan["env"]:
                env[e["name"]] = secret_value(e["secret"], redis_url) if "secret" in e else e["value"]
        else:
            env["OPENAI_API_KEY"] = "test-upstream-key"
        log(f"   env: {', '.join(sorted(k for k in env if k not in ('PATH', 'HOME')))} "
            f"(secrets as test values; OPENAI_BASE_URL → mock-llm on port {mock_port})")

        setpriv = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
        setpriv += [f"--groups={groups}"] if groups is not None else ["--clear-groups"]
        setpriv += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]

        # -- --check-config, as an init step would
        r = subprocess.run(setpriv + [image["entrypoint"][0], "--check-config", cfg_path], env=env,
                           cwd=image["workdir"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise Failure(f"--check-config {cfg_path} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        ok(f"--check-config: {r.stdout.strip()}")

        # -- the container
        gw_err = work / "gateway.err"
        gw = subprocess.Popen(setpriv + argv, env=env, cwd=image["workdir"],
                              stdout=open(work / "gateway.out", "w"), stderr=open(gw_err, "w"))
        children.append(gw)
        got = listening("gateway listening", gw_err, r"listening on [^ ]+:([0-9]+) with", 30, gw)
        if got != listen:
            raise Failure(f"the gateway listens on {got}, the manifest/image expects {listen}")
        if admin:
            got_admin = listening("admin listener", gw_err, r"admin listener on [^ ]+:([0-9]+)",
                                  10, gw)
            if got_admin != admin:
                raise Failure(f"admin listener on {got_admin}, the manifest expects {admin}")
        ok(f"listening on the config's ports: {listen}" + (f" and admin {admin}" if admin else ""))

        # Find the gateway itself (setpriv execs it, so the pid is the same).
        st = proc_status(gw.pid)
        if st["Uid"].split()[0] != str(uid) or st["Gid"].split()[0] != str(gid):
            raise Failure(f"the gateway runs as uid {st['Uid']} gid {st['Gid']}")
        if int(st["CapEff"], 16) or int(st["CapPrm"], 16) or int(st["CapBnd"], 16):
            raise Failure(f"capabilities left: eff {st['CapEff']} bnd {st['CapBnd']}")
        if st.get("NoNewPrivs") != "1":
            raise Failure("no_new_privs is not set")
        ok(f"runs as {uid}:{gid}, groups [{st['Groups']}], no capabilities, no_new_privs")

        for p in probes:
            status, body = request(p["port"], "GET", p["path"])
            want = {"/readyz": "ready", "/healthz": "ok"}[p["path"]]
            if status != 200 or json.loads(body).get("status") != want:
                raise Failure(f"{p['probe']} GET {p['path']} on {p['port']}: {status} {body[:200]!r}")
            ok(f"{p['probe']}: GET :{p['port']}{p['path']} → 200 {body.decode().strip()}")

        # -- traffic through the proxy port
        models = re.findall(r"^\s*-\s*name:\s*(\S+)\s*$", cfg_text.split("\nmodels:", 1)[1].split(
            "\n\n", 1)[0], re.M) if "\nmodels:" in cfg_text else []
        model = models[0] if models else "gpt-4o-mini"
        exp_models = re.findall(r"match:\s*\{\s*model:\s*([\w.-]+)\s*\}", cfg_text)
        sent = 0
        for i in range(6):
            m = exp_models[0] if exp_models and i % 2 else model
            body = {"model": m, "messages": [{"role": "user", "content": f"hello {i}"}]}
            if i % 3 == 2:
                body |= {"stream": True, "stream_options": {"include_usage": True}}
            status, resp = request(listen, "POST", "/v1/chat/completions", json.dumps(body),
                                {"content-type": "application/json", "x-user-id": f"user-{i}",
                                 "authorization": "Bearer client-key", "x-mock-tokens": "3"})
            if status != 200:
                raise Failure(f"POST /v1/chat/completions ({m}): {status} {resp[:300]!r}")
            sent += 1
        ok(f"{sent} chat completions through port {listen} (models {model}"
           f"{', ' + exp_models[0] if exp_models else ''}; 2 streamed)")

        # -- /metrics where the ServiceMonitor scrapes
        if mode == "overlay":
            mport, mpath = plan["metrics"]["port"], plan["metrics"]["path"]
            status, text = request(mport, "GET", mpath)
            if status != 200:
                raise Failure(f"GET {mpath} on {mport}: {status}")
            families, samples = parse_exposition(text.decode())
            absent = [n for n in plan["rule_metrics"] if not exported(n, families, samples)]
            # A labelled family appears with its first series (a guardrail's first trip, say):
            # absent from this scrape, it must at least be registered by the gateway's code.
            registered = registrations()
            missing = [n for n in absent if base_name(n) not in registered]
            if missing:
                raise Failure(f"the PrometheusRule names metrics the gateway does not export: {missing}")
            if absent:
                ok(f"not in this scrape but registered by the gateway (a family appears with its "
                   f"first series): {', '.join(absent)} ({', '.join(registered[base_name(n)] for n in absent)})")
            reqs = sum(float(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines()
                       if line.startswith("switchyard_requests_total{"))
            if reqs < sent:
                raise Failure(f"switchyard_requests_total is {reqs} after {sent} requests")
            scraped = [n for n in plan["rule_metrics"] if n not in absent]
            ok(f"GET :{mport}{mpath} (the ServiceMonitor's endpoint) exports the alerts' metrics "
               f"{', '.join(scraped)}; switchyard_requests_total = {reqs:g}")

        # -- drain
        t0 = time.monotonic()
        gw.send_signal(signal.SIGTERM)

        def readyz_503():
            try:
                return request(probes[0]["port"], "GET", "/readyz", timeout=1)[0] == 503
            except OSError:
                return False
        wait_for("/readyz 503 after SIGTERM", readyz_503, max(drain_grace, 1) + 1, pause=0.01)
        seen_503 = time.monotonic() - t0
        live_port = next(p["port"] for p in probes if p["path"] == "/healthz")
        status = request(live_port, "GET", "/healthz", timeout=1)[0]
        if status != 200:
            raise Failure(f"/healthz answered {status} during the drain (liveness would restart it)")
        ok(f"SIGTERM: /readyz 503 after {seen_503:.2f}s, /healthz still 200 (drain_grace "
           f"{drain_grace:g}s)")
        try:
            rc = gw.wait(timeout=grace_budget)
        except subprocess.TimeoutExpired:
            raise Failure(f"still running {grace_budget}s after SIGTERM (the kubelet would SIGKILL)")
        took = time.monotonic() - t0
        if rc != 0:
            raise Failure(f"exit status {rc} after SIGTERM")
        if "drained, exiting" not in gw_err.read_text():
            raise Failure("no 'drained, exiting' in the log: the drain was not clean")
        ok(f"exited 0 after {took:.1f}s, drained (budget {grace_budget}s)")

        if mode == "overlay" and redis_started and "\nexperiments:" in cfg_text:
            # The config's store really is that Redis: the last flush (SIGTERM) wrote there, and
            # only under store.key_prefix.
            prefix = re.search(r"^\s+key_prefix:\s*\"?([^\"\n]*)\"?\s*$", cfg_text, re.M)
            prefix = prefix.group(1) if prefix else "switchyard:"
            keys = redis_keys(6379)
            outside = [k for k in keys if not k.startswith(prefix)]
            if not keys or outside:
                raise Failure(f"redis after the drain: {len(keys)} keys, outside {prefix!r}: "
                              f"{outside[:5]}")
            ok(f"the store is the Redis of REDIS_URL: {len(keys)} keys, all under {prefix!r}")
        if tree_digest(Path(cfg_path).parent) != cfg_digest:
            raise Failure("the config directory changed")
        written = sorted(str(p.relative_to(d)) for d in data_dirs for p in Path(d).rglob("*"))
        ok(f"config untouched; data_dir holds {written or 'nothing'}")
        return 0
    except (Failure, OSError, subprocess.SubprocessError, ValueError) as e:
        log(f"FAIL: {type(e).__name__ + ': ' if not isinstance(e, Failure) else ''}{e}")
        for name in ("gateway.err", "gateway.out", "mock.out", "redis.out"):
            p = work / name
            if p.exists() and p.stat().st_size:
                log(f"--- {name} (last 20 lines) ---")
                log("\n".join(p.read_text(errors="replace").splitlines()[-20:]))
        return 1
    finally:
        for c in reversed(children):
            if c.poll() is None:
                c.kill()
                c.wait()


def main(argv):
    if len(argv) >= 2 and argv[1] == "--inner":
        mode, plan, image, work = argv[2], argv[3], argv[4], Path(argv[5])
        plan = json.loads(Path(plan).read_text()) if plan != "-" else None
        return inner(mode, plan, json.loads(Path(image).read_text()), work)
    if len(argv) == 4 and argv[1] == "overlay":
        plan, image = argv[2], argv[3]
    elif len(argv) == 3 and argv[1] == "image":
        plan, image = "-", argv[2]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for var in ("SWITCHYARD_BIN", "MOCK_LLM_BIN"):
        if not os.access(os.environ.get(var, ""), os.X_OK):
            print(f"FAIL: set {var} to the built binary", file=sys.stderr)
            return 1
    if os.geteuid() != 0:
        print("SKIP: needs root for the mount, network and PID namespaces (run the tests as root "
              "or in CI with sudo)")
        return 77
    missing = [t for t in ("unshare", "setpriv", "ip", "mount") if shutil.which(t) is None]
    if missing:
        print(f"FAIL: missing tools {missing} (util-linux, iproute2)")
        return 1
    probe = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"SKIP: unshare refused here: {probe.stderr.strip()}")
        return 77
    with tempfile.TemporaryDirectory(prefix="switchyard-podsim-") as work:
        # --kill-child: whatever the test leaves, the PID namespace dies with it.
        return subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                               "--mount-proc", "--propagation", "private", sys.executable,
                               str(Path(__file__).resolve()), "--inner", argv[1], plan, image, work]
                              ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
