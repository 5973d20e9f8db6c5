"""A small stdlib HTTP client for the server: one request, and a bounded load run (used by the
tests and ``benchmarks/serve.py``)."""

from __future__ import annotations

import concurrent.futures
import http.client
import threading
import time
import urllib.parse
from collections.abc import Sequence


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request: status, headers (lower-case names), body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def load(
    url: str, bodies: Sequence[bytes], n: int, clients: int, path: str = "/v1/translate"
) -> tuple[list[float], list[tuple[int, bytes]], float]:
    """POST ``bodies[i % len(bodies)]`` for ``i < n`` from ``clients`` threads, each on its own
    keep-alive connection.

    Returns:
        Latencies (seconds, in completion order), ``(status, body)`` per request (in request
        order) and the wall time of the run.
    """
    host = urllib.parse.urlsplit(url)
    todo = iter(range(n))
    lock = threading.Lock()
    latencies: list[float] = []
    replies: list[tuple[int, bytes]] = [(0, b"")] * n

    def client() -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
        try:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                conn.request("POST", path, body=bodies[i % len(bodies)])
                resp = conn.getresponse()
                replies[i] = (resp.status, resp.read())
                with lock:
                    latencies.append(time.perf_counter() - t0)
        finally:
            conn.close()

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    return latencies, replies, time.perf_counter() - t0


def metric(text: str, name: str) -> float:
    """A value of the server's ``/metrics`` text (the first sample named ``name``)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)
