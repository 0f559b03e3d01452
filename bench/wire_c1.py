#!/usr/bin/env python3
"""The c=1 exchanges of one listener as the wire saw them (bench/PROFILE.md, "The c=1 p99 is
wrk's coordinated-omission correction of a few multi-ms stalls").

  tcpdump -i lo -s 96 -w lo.pcap tcp &  ... a c=1 run ...  kill -INT %1
  wire_c1.py lo.pcap PORT [INTERVAL_US]

Pairs each data segment sent to PORT (a request) with the next data segment sent from it (its
response) and prints the latency percentiles on the wire, the exchanges over 1 ms, the segments
per exchange, and what wrk would report from the same latencies after its coordinated-omission
correction (wrk/src/stats.c stats_correct: every sample n ≥ 2·interval also counts at n −
interval, n − 2·interval, … while above interval; wrk applies it before printing and before a
script's done()). INTERVAL_US: wrk's, runtime / requests per connection (default: from the
capture's first and last exchange, too long when the capture holds idle gaps). Reads the pcap
format itself (DLT_NULL, EN10MB, LINUX_SLL, LINUX_SLL2; IPv4), stdlib only.
"""
import struct
import sys
from collections import Counter


def exchanges(path, port):
    with open(path, "rb") as f:
        magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", f.read(24))
        nsec = magic == 0xA1B23C4D
        off = {0: 4, 1: 14, 113: 16, 276: 20}[link]
        out, pending, multi = [], None, 0
        first = last = None
        for _ in range(100_000_000):  # bounded by the file
            h = f.read(16)
            if len(h) < 16:
                break
            sec, frac, incl, _ = struct.unpack("<IIII", h)
            d = f.read(incl)
            t = sec * 1e6 + (frac / 1000 if nsec else frac)
            ip = d[off:]
            if len(ip) < 20 or ip[0] >> 4 != 4:
                continue
            ihl = (ip[0] & 15) * 4
            tcp = ip[ihl:]
            sp, dp = struct.unpack(">HH", tcp[:4])
            if struct.unpack(">H", ip[2:4])[0] - ihl - (tcp[12] >> 4) * 4 <= 0:
                continue  # a bare ACK
            if dp == port:
                pending = t
                first = first if first is not None else t
            elif sp == port:
                if pending is None:
                    multi += 1  # a second segment of one response
                    continue
                out.append(int(t - pending))
                pending, last = None, t
        return out, multi, first, last


def pct(counts, q):
    total, acc = sum(counts.values()), 0
    for k in sorted(counts):
        acc += counts[k]
        if acc >= total * q / 100:
            return k
    return 0


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    ex, multi, first, last = exchanges(path, port)
    if not ex:
        raise SystemExit("no exchanges on port %d" % port)
    interval = int(sys.argv[3]) if len(sys.argv) > 3 else int((last - first) / len(ex))
    raw = Counter(ex)
    corrected = Counter(ex)
    for n, c in raw.items():
        m = n - interval
        while n >= 2 * interval and m > interval:
            corrected[m] += c
            m -= interval
    print("port %d: %d exchanges, %d extra response segments, %d over 1 ms (max %d us); wire "
          "p50 %d p99 %d p99.9 %d us; as wrk reports it (interval %d us): p99 %d p99.9 %d us" % (
              port, len(ex), multi, sum(c for n, c in raw.items() if n > 1000), max(ex),
              pct(raw, 50), pct(raw, 99), pct(raw, 99.9), interval, pct(corrected, 99),
              pct(corrected, 99.9)))


if __name__ == "__main__":
    main()
