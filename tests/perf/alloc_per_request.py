#!/usr/bin/env python3
"""Allocation-count regression check (issue 12: "no heap allocation per request on the proxied
path in steady state … count it").

Runs the real gateway (one worker, the full pipeline of bench/static.sh: an experiment with a
prompt, an api_key rate limit, metrics, the access log) with bench/alloc_count.cpp preloaded,
against mock-llm as the upstream; sends WARMUP requests, dumps the counts, sends REQUESTS more
from CONNS keep-alive connections, dumps again, and fails when the worker thread (`sy-worker-0`)
made more than MAX_WORKER allocations per request (malloc/calloc/realloc/memalign calls) in
between. The count is a count, not a time: it does not move with the machine's load.

    tests/perf/alloc_per_request.py SWITCHYARD MOCK_LLM LIBALLOC_COUNT [--max-worker X]

Updating the threshold: after a change that removes (or, deliberately, adds) allocations on the
request path, run `ctest -L perf --output-on-failure` (or this script) a few times; it prints
the measured figure; set `--max-worker` in tests/CMakeLists.txt to that figure plus the margin
noted there, and say why in the commit message. `bench/alloc_static.sh dhat` lists the sites.
"""

import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import ready  # noqa: E402  (tests/support/ready.py)

BODY = (b'{"model":"assistant","metadata":{"audience":"developers"},'
        b'"messages":[{"role":"user","content":"Say hello in one short sentence."}]}')


# Few users, so that every unit recurs in every statistics period even on a slow machine: a unit
# left out of a period is dropped and re-inserted (one allocation), which would make the count
# depend on the request rate.
USERS = 50


def request_bytes(i):
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer sk-perf-client\r\n"
            b"x-user-id: user-%d\r\nContent-Length: %d\r\n\r\n" % (i % USERS, len(BODY))) + BODY


def read_response(sock, buf):
    """Reads one response (Content-Length or chunked framing) from sock; returns (status, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before a response header")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed inside a body")
            buf += chunk
        return status, buf[n:]
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            buf = buf[size + 2:]
            if size == 0:
                return status, buf
    raise RuntimeError("a response without framing")


def load(port, conns, total, start):
    """Sends `total` requests over `conns` keep-alive connections; returns the non-200 count."""
    bad = [0]
    per = [total // conns + (1 if k < total % conns else 0) for k in range(conns)]

    def one(k):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            for i in range(per[k]):
                s.sendall(request_bytes(start + k * 100003 + i))
                status, buf = read_response(s, buf)
                if status != 200:
                    bad[0] += 1

    threads = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return bad[0]


def read_line_with(proc, pattern, what, timeout=60):
    """The first line of proc's stream matching pattern, waiting at most `timeout` seconds (read
    unbuffered: a line left in a buffer would not wake select)."""
    deadline = time.monotonic() + timeout
    fd = (proc.stderr if what == "stderr" else proc.stdout).fileno()
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
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"process exited ({proc.wait()}) before '{pattern}'")
            pending += chunk


def drain(stream):
    """Reads and drops what a child writes from now on, so that it never blocks on a full pipe."""
    fd = stream.fileno()
    threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(fd, 4096), b"")],
                     daemon=True).start()


def dump(pid, path):
    """Per-thread allocation counts by thread name, from one dump of alloc_count."""
    if os.path.exists(path):
        os.unlink(path)
    os.kill(pid, signal.SIGRTMIN + 3)  # alloc_count's dump signal
    # The dump is renamed into place whole, its first line "total allocs=…": wait for that line
    # (inotify on the directory, the process's pidfd), not for a polled file size.
    ready.wait_line(path, r"^total allocs=", 10.0, pid)
    names = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                names[task] = f.read().strip()
        except OSError:
            pass
    counts = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"thread tid=(\d+) allocs=(\d+)", line)
            if m:
                name = names.get(m.group(1), "?")
                counts[name] = counts.get(name, 0) + int(m.group(2))
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("switchyard")
    ap.add_argument("mock_llm")
    ap.add_argument("alloc_lib")
    ap.add_argument("--max-worker", type=float, required=True,
                    help="fail above this many worker-thread allocations per request")
    ap.add_argument("--warmup", type=int, default=3000)
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--conns", type=int, default=8)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="switchyard-perf-") as tmp:
        mock = subprocess.Popen([args.mock_llm, "--port", "0", "--tokens", "8"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        gw = None
        try:
            up_port = int(read_line_with(mock, r"listening on [^:]+:(\d+)", "stdout").group(1))
            drain(mock.stdout)
            cfg = os.path.join(tmp, "switchyard.yaml")
            with open(cfg, "w") as f:
                # The pipeline of bench/static.sh (keep them in step), mock-llm as the upstream.
                f.write(f"""listen: 127.0.0.1:0
workers: 1
data_dir: {tmp}/data
log: {{ level: warn, access: {tmp}/access.log }}
upstreams:
  - {{ name: mock, base_url: "http://127.0.0.1:{up_port}/v1", api_key: sk-perf, max_connections: 64 }}
models:
  - {{ name: gpt-4o-mini, upstream: mock, price: {{ input_per_mtok: 0.15, output_per_mtok: 0.6 }} }}
prompts:
  - name: assistant
    versions:
      - {{ version: v1, template: "You are a helpful assistant for {{{{audience}}}}." }}
      - {{ version: v2, template: "Be concise.", mode: replace }}
experiments:
  - name: tone
    match: {{ model: assistant }}
    unit: header:x-user-id
    variants:
      - {{ name: control, prompt: assistant@v1, model: gpt-4o-mini }}
      - {{ name: treatment, prompt: assistant@v2, model: gpt-4o-mini, params: {{ temperature: 0.4 }} }}
rate_limits:
  - {{ scope: api_key, requests_per_minute: 1000000000, tokens_per_minute: 100000000000 }}
""")
            counts_file = os.path.join(tmp, "allocs")
            env = dict(os.environ, LD_PRELOAD=args.alloc_lib, SWITCHYARD_ALLOC_COUNT_FILE=counts_file)
            gw = subprocess.Popen([args.switchyard, "--config", cfg], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            port = int(read_line_with(gw, r"listening on [^ ]*:(\d+) ", "stderr").group(1))
            # stderr is not read from here on: drained, so that the gateway never blocks on it.
            drain(gw.stderr)

            bad = load(port, args.conns, args.warmup, 0)
            before = dump(gw.pid, counts_file)
            t0 = time.monotonic()
            bad += load(port, args.conns, args.requests, args.warmup)
            secs = time.monotonic() - t0
            after = dump(gw.pid, counts_file)
        finally:
            for p in (gw, mock):
                if p is not None and p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()

    n = args.requests
    print(f"{n} requests in {secs:.1f} s ({n / secs:.0f}/s) over {args.conns} connections "
          f"after {args.warmup} warm-up; non-200: {bad}")
    for name in sorted(after, key=lambda k: -(after[k] - before.get(k, 0))):
        d = after[name] - before.get(name, 0)
        if d:
            print(f"  {name:16s} {d / n:8.3f} allocations per request")
    worker = (after.get("sy-worker-0", 0) - before.get("sy-worker-0", 0)) / n
    if bad:
        print(f"FAIL: {bad} responses were not 200")
        return 1
    if "sy-worker-0" not in after:
        print("FAIL: no thread named sy-worker-0 (is the counter preloaded?)")
        return 1
    if worker > args.max_worker:
        print(f"FAIL: the worker made {worker:.3f} allocations per request, more than the "
              f"threshold {args.max_worker} (tests/CMakeLists.txt; bench/alloc_static.sh dhat "
              f"lists the sites)")
        return 1
    print(f"ok: worker {worker:.3f} allocations per request (threshold {args.max_worker})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
