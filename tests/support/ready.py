#!/usr/bin/env python3
"""Waiting for a process to be ready on an event, not by polling (stdlib only, Linux).

- wait_line(path, regex, timeout, pid): the first line of a log file that matches, woken by
  inotify when the file grows and by a pidfd when the process exits (then it fails at once).
- start_redis(argv, directory, timeout): redis-server with `--supervised systemd`, ready when it
  sends READY=1 on the NOTIFY_SOCKET datagram socket (sd_notify(3); redis has its own client).

As a command, for shell tests:  ready.py line FILE REGEX TIMEOUT [PID]  prints the regex's first
group (or the whole match) and exits 0; 1 on timeout or when PID exited first.
"""
import ctypes
import os
import re
import select
import socket
import subprocess
import sys
import time

_libc = ctypes.CDLL(None, use_errno=True)
_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x2, 0x8, 0x80, 0x100
_IN_NONBLOCK, _IN_CLOEXEC = 0o4000, 0o2000000


class NotReady(Exception):
    pass


def _left(deadline):
    return max(0.0, deadline - time.monotonic())


def _pidfd(pid):
    try:
        return os.pidfd_open(pid) if pid else None
    except (ProcessLookupError, OSError):
        return None


def wait_line(path, regex, timeout, pid=None):
    """The re.Match of the first line of `path` matching `regex`, read as the file grows; raises
    NotReady on timeout or when `pid` exits before such a line is written."""
    pattern = re.compile(regex)
    deadline = time.monotonic() + timeout
    path = os.fspath(path)
    ino = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    if ino < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    pfd = _pidfd(pid)
    try:
        # Watch the directory: the file may not exist yet, and a watch on it would not see that
        # (nor a file renamed into place, IN_MOVED_TO: a writer that publishes whole files).
        directory = os.path.dirname(os.path.abspath(path)).encode()
        if _libc.inotify_add_watch(ino, directory, _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + directory.decode())
        offset, partial = 0, b""
        for _ in range(100000):  # bounded: each turn is a wake-up for this directory
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset += len(chunk)
            except FileNotFoundError:
                chunk = b""
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for line in lines:
                m = pattern.search(line.decode(errors="replace"))
                if m:
                    return m
            fds = [ino] + ([pfd] if pfd is not None else [])
            readable, _, _ = select.select(fds, [], [], _left(deadline))
            if not readable:
                raise NotReady(f"no line matching {regex!r} in {path} within {timeout}s")
            if ino in readable:
                try:
                    os.read(ino, 65536)  # drain the events: the file is re-read regardless
                except BlockingIOError:
                    pass
            if pfd is not None and pfd in readable:
                m = pattern.search(partial.decode(errors="replace")) if partial else None
                if m:
                    return m
                raise NotReady(f"process {pid} exited before writing {regex!r} to {path}")
        raise NotReady(f"{path}: too many wake-ups waiting for {regex!r}")
    finally:
        os.close(ino)
        if pfd is not None:
            os.close(pfd)


def _says_ready(datagram):
    return any(line == b"READY=1" for line in datagram.split(b"\n"))


def start_redis(argv, directory, timeout=10.0, **popen):
    """Starts redis-server (argv without --supervised) and returns the Popen once it is ready;
    raises NotReady (after killing it) when it exits or is not ready within `timeout`."""
    path = os.path.join(directory, "redis-notify.sock")
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        env = dict(popen.pop("env", None) or os.environ, NOTIFY_SOCKET=path)
        proc = subprocess.Popen(list(argv) + ["--supervised", "systemd"], env=env, **popen)
        pfd = _pidfd(proc.pid)
        deadline = time.monotonic() + timeout
        try:
            for _ in range(64):  # STATUS=... datagrams come first; bounded
                fds = [sock] + ([pfd] if pfd is not None else [])
                readable, _, _ = select.select(fds, [], [], _left(deadline))
                if sock in readable:
                    if _says_ready(sock.recv(4096)):
                        return proc
                    continue
                why = "exited" if readable else f"was not ready within {timeout}s"
                proc.kill()
                proc.wait(timeout=10)
                raise NotReady(f"redis-server {why} (exit status {proc.returncode})")
            proc.kill()
            raise NotReady("redis-server sent no READY=1")
        finally:
            if pfd is not None:
                os.close(pfd)
    finally:
        sock.close()
        os.unlink(path)


def main(args):
    if len(args) >= 4 and args[0] == "line":
        try:
            m = wait_line(args[1], args[2], float(args[3]), int(args[4]) if len(args) > 4 else None)
        except NotReady as e:
            print(f"ready.py: {e}", file=sys.stderr)
            return 1
        print(m.group(1) if m.groups() else m.group(0))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
