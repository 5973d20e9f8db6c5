"""Throughput and latency of the translation server, with and without request batching.

Starts ``i2i-run serve`` (a real process on 127.0.0.1) once with batching (``--max-batch``) and
once without (``--max-batch 1``), sends the same bounded load (``--requests`` POSTs of
``--size`` px PNGs from ``--clients`` concurrent keep-alive clients, after a warm-up) and checks
that every reply is a 200 image. The last line is one JSON object: requests/s, p50 and p99
latency, mean batch size and the server's resident memory before and after, per mode.

The model is ``--model`` (an ONNX file from ``i2i export``) or, by default, a small CycleGAN-style
ResNet generator (``--ngf``, ``--blocks``) exported with i2i's metadata.

Example:
    python benchmarks/serve.py --size 64 --requests 200 --clients 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def export_default(path: Path, ngf: int, blocks: int) -> Path:
    """A ResNet generator (2 downsamplings, ``blocks`` residual blocks) as an i2i ONNX file."""
    import torch

    from i2i.export.metadata import build_metadata
    from i2i.export.onnx import export_module
    from i2i.nn import ResnetGenerator
    from i2i.specs import InferenceInfo

    torch.manual_seed(0)
    g = ResnetGenerator(3, 3, ngf=ngf, n_blocks=blocks, norm="instance").eval()
    info = InferenceInfo(("image",), 3, 3, stride=g.stride)
    export_module(g, path, info)
    import onnx

    model = onnx.load(str(path))
    meta = build_metadata(
        info, family="benchmark", step=0, opset=17, precision="fp32", static=None, run_config={}
    )
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(model: Path, args: argparse.Namespace, max_batch: int) -> dict[str, float]:
    from i2i_runtime.imageio import encode_image
    from i2i_runtime.serve.client import load, metric, request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "i2i_runtime.cli", "serve", str(model), "--port", str(port),
           "--provider", "cpu", "--max-batch", str(max_batch), "--max-delay-ms",
           str(args.max_delay_ms), "--queue-size", str(4 * args.clients)]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if request("GET", url + "/healthz")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        rng = np.random.default_rng(0)
        bodies = [
            encode_image(rng.random((args.size, args.size, 3), np.float32), ".png")
            for _ in range(8)
        ]
        load(url, bodies, max(args.clients * 4, 16), args.clients)  # warm-up
        text = request("GET", url + "/metrics")[2].decode()
        rss0, batches0 = (
            metric(text, "process_resident_memory_bytes"),
            metric(text, "i2i_batches_total"),
        )
        latencies, replies, seconds = load(url, bodies, args.requests, args.clients)
        text = request("GET", url + "/metrics")[2].decode()
        bad = [s for s, body in replies if s != 200 or not body.startswith(b"\x89PNG")]
        if bad:
            raise RuntimeError(f"{len(bad)} requests failed (statuses {sorted(set(bad))})")
        batches = metric(text, "i2i_batches_total") - batches0
        p50, p99 = np.quantile(latencies, [0.5, 0.99])
        return {
            "max_batch": max_batch,
            "requests_per_s": round(args.requests / seconds, 2),
            "p50_ms": round(float(p50) * 1e3, 2),
            "p99_ms": round(float(p99) * 1e3, 2),
            "mean_batch": round(args.requests / max(batches, 1), 2),
            "rss_before_mib": round(rss0 / 2**20, 1),
            "rss_after_mib": round(metric(text, "process_resident_memory_bytes") / 2**20, 1),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="an exported .onnx (default: built)")
    p.add_argument("--ngf", type=int, default=16, help="default model: generator width")
    p.add_argument("--blocks", type=int, default=3, help="default model: residual blocks")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--max-batch", type=int, default=8, help="batch size of the batching run")
    p.add_argument("--max-delay-ms", type=float, default=5.0, help="batching latency budget")
    p.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0 = default)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="i2i-bench-serve-") as tmp:
        model = args.model or export_default(Path(tmp) / "generator.onnx", args.ngf, args.blocks)
        runs = {
            "batched": measure(model, args, args.max_batch),
            "unbatched": measure(model, args, 1),
        }
    b, u = runs["batched"], runs["unbatched"]
    result = {
        "benchmark": "serve",
        "model": str(args.model) if args.model else f"resnet ngf={args.ngf} blocks={args.blocks}",
        "size": args.size,
        "requests": args.requests,
        "clients": args.clients,
        "max_delay_ms": args.max_delay_ms,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        **runs,
        "batching_speedup": round(b["requests_per_s"] / u["requests_per_s"], 2),
    }
    for name, r in runs.items():
        print(
            f"{name:>9}: {r['requests_per_s']:.1f} req/s, p50 {r['p50_ms']:.1f} ms, p99 "
            f"{r['p99_ms']:.1f} ms, mean batch {r['mean_batch']:.2f}, RSS "
            f"{r['rss_before_mib']:.0f} -> {r['rss_after_mib']:.0f} MiB",
            file=sys.stderr,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
