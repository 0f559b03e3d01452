#!/usr/bin/env python3
"""A c=1 client with its own clock, for the c=1 tail (bench/PROFILE.md): one keep-alive
connection, static.lua's request, each exchange timed from just before the send to the last
byte of the body (time.perf_counter_ns), the responses parsed (status line, headers, one
Content-Length body; no chunked answers are expected here).

  c1_client.py PORT SECS [--csv FILE] [--access-log FILE]

Prints a RESULT line in static.lua's format (latencies in µs) and, with --csv, one row per
exchange: start_ns, latency_us, recv_calls, x-request-id. With --access-log (the gateway's JSON
lines), it joins the slowest 1 % to their lines by request id and says how much of their time
lies inside the gateway's window (duration_ms: parse to last write) and how much outside it.
"""
import argparse
import gc
import json
import socket
import time

BODY = (b'{"model":"assistant","metadata":{"audience":"developers"},'
        b'"messages":[{"role":"user","content":"Say hello in one short sentence."}]}')


def pct(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("secs", type=float)
    ap.add_argument("--csv")
    ap.add_argument("--access-log")
    a = ap.parse_args()
    sock = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rows, non2xx, buf = [], 0, b""
    gc.disable()  # a collection mid-exchange would be the client's own tail
    end = time.monotonic() + a.secs
    i = 0
    while time.monotonic() < end and i < 10_000_000:
        i += 1
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\n"
               b"Content-Type: application/json\r\nAuthorization: Bearer sk-bench-client\r\n"
               b"x-user-id: user-%d\r\nContent-Length: %d\r\n\r\n" % (i % 1000, len(BODY))) + BODY
        t0 = time.perf_counter_ns()
        sock.sendall(req)
        reads = 0
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            reads += 1
            if not chunk:
                raise SystemExit("the server closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            reads += 1
            if not chunk:
                raise SystemExit("the server closed the connection mid-body")
            rest += chunk
        t1 = time.perf_counter_ns()
        buf = rest[length:]
        non2xx += 0 if 200 <= status < 300 else 1
        rows.append((t0, (t1 - t0) / 1000, reads, headers.get(b"x-request-id", b"").decode()))
    lat = sorted(r[1] for r in rows)
    dur_us = (rows[-1][0] - rows[0][0]) / 1000 if len(rows) > 1 else 1
    print("RESULT requests=%d duration_us=%d rps=%.1f mean_us=%.1f p50_us=%d p90_us=%d "
          "p99_us=%d p999_us=%d max_us=%d non2xx=%d multi_read=%d" % (
              len(rows), dur_us, len(rows) / (dur_us / 1e6), sum(lat) / max(1, len(lat)),
              pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 99.9), lat[-1] if lat else 0,
              non2xx, sum(1 for r in rows if r[2] > 1)))
    if a.csv:
        with open(a.csv, "w") as f:
            for r in rows:
                f.write("%d,%.1f,%d,%s\n" % r)
    if a.access_log:
        inside = {}
        with open(a.access_log) as f:
            for line in f:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if "request_id" in o:
                    inside[o["request_id"]] = o.get("duration_ms", 0) * 1000
        slow = sorted(rows, key=lambda r: r[1])[-max(1, len(rows) // 100):]
        joined = [(r[1], inside[r[3]]) for r in slow if r[3] in inside]
        if joined:
            tot = sorted(t for t, _ in joined)
            ins = sorted(g for _, g in joined)
            out = sorted(t - g for t, g in joined)
            print("SLOWEST1PCT n=%d joined=%d client_p50_us=%d gateway_window_p50_us=%d "
                  "outside_p50_us=%d outside_max_us=%d gateway_window_max_us=%d multi_read=%d" % (
                      len(slow), len(joined), pct(tot, 50), pct(ins, 50), pct(out, 50), out[-1],
                      ins[-1], sum(1 for r in slow if r[2] > 1)))


if __name__ == "__main__":
    main()
