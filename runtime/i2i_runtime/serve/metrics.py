"""Server metrics in the Prometheus text format (``GET /metrics``)."""

from __future__ import annotations

import collections
import os
import threading

import numpy as np

#: Latencies kept for the quantiles (the most recent requests).
WINDOW = 10_000


def resident_bytes() -> int:
    """Resident memory of this process (Linux ``/proc/self/statm``; else the peak from
    ``getrusage``)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class Metrics:
    """Thread-safe counters: requests by status, latencies, batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: collections.Counter[int] = collections.Counter()
        self.latencies: collections.deque[float] = collections.deque(maxlen=WINDOW)
        self.batches = 0
        self.batched_rows = 0
        self.model_seconds = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def request(self, status: int, seconds: float) -> None:
        with self._lock:
            self.by_status[status] += 1
            if status < 400:
                self.latencies.append(seconds)

    def batch(self, rows: int, seconds: float) -> None:
        with self._lock:
            self.batches += 1
            self.batched_rows += rows
            self.model_seconds += seconds

    def prometheus(self, queue_depth: int) -> str:
        with self._lock:
            lat = np.array(self.latencies, dtype=np.float64)
            lines = [
                "# HELP i2i_requests_total Translation and sampling requests by HTTP status.",
                "# TYPE i2i_requests_total counter",
            ]
            lines += [
                f'i2i_requests_total{{status="{code}"}} {n}'
                for code, n in sorted(self.by_status.items())
            ]
            lines += [
                "# HELP i2i_request_seconds Latency of successful requests (recent window).",
                "# TYPE i2i_request_seconds summary",
            ]
            for q in (0.5, 0.9, 0.99):
                v = float(np.quantile(lat, q)) if lat.size else float("nan")
                lines.append(f'i2i_request_seconds{{quantile="{q}"}} {v:.6f}')
            lines += [
                f"i2i_request_seconds_count {lat.size}",
                f"i2i_request_seconds_sum {float(lat.sum()):.6f}",
                "# HELP i2i_batches_total Model calls.",
                "# TYPE i2i_batches_total counter",
                f"i2i_batches_total {self.batches}",
                "# HELP i2i_batched_images_total Images (or samples) run through the model.",
                "# TYPE i2i_batched_images_total counter",
                f"i2i_batched_images_total {self.batched_rows}",
                "# HELP i2i_model_seconds_total Time spent in model calls.",
                "# TYPE i2i_model_seconds_total counter",
                f"i2i_model_seconds_total {self.model_seconds:.6f}",
            ]
        lines += [
            "# HELP i2i_queue_depth Requests waiting for the model.",
            "# TYPE i2i_queue_depth gauge",
            f"i2i_queue_depth {queue_depth}",
            "# HELP process_resident_memory_bytes Resident memory.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {resident_bytes()}",
        ]
        return "\n".join(lines) + "\n"
