"""Memory benchmark of ``i2i translate --max-memory``: the peak resident set of the whole process
translating one large image, against its budget.

    python benchmarks/translate_memory.py --size 4096 --max-memory 2GB
    python benchmarks/translate_memory.py --size 1024 --max-memory 1.2GB --engine onnx

The model is the family's default (paper-recipe) configuration with freshly initialized weights
(seed 0), saved as a checkpoint (``--engine onnx``: also exported and run with ``i2i-run``). The
input is one ``--size`` x ``--size`` RGB PNG of smooth structure plus noise. The command runs as
a child process on the CPU and reports the kernel's record of its own peak RSS (``VmHWM``) when
it exits, so everything counts: Python, PyTorch, loading the model, decoding, tiles, blending
and encoding.

The last line printed is one JSON object: ``peak_rss_gb``, ``max_memory_gb``,
``within_budget``, ``seconds``, the tile size the budget chose, the measured activation memory
per pixel and what the whole image would need untiled.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def write_input(path: Path, size: int, seed: int = 0) -> None:
    """A ``size`` x ``size`` RGB PNG: smooth random structure plus fine noise (row bands, so a
    16k image does not need gigabytes to make)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    low = rng.random((size // 64 + 2, size // 64 + 2, 3)).astype(np.float32)
    small = Image.fromarray((low * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    out = np.asarray(small).copy()
    for y0 in range(0, size, 512):
        band = out[y0 : y0 + 512].astype(np.int16)
        band += rng.integers(-12, 13, band.shape, dtype=np.int16)
        out[y0 : y0 + 512] = np.clip(band, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(out).save(path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="cyclegan")
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--max-memory", default="2GB")
    p.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = p.parse_args(argv)

    import torch

    import i2i
    from i2i_runtime.memory import parse_size, run_module_measured

    sys.path.insert(0, str(HERE))
    from inference import make_checkpoint  # the same random-weights checkpoint

    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    budget = parse_size(args.max_memory)
    tmp = Path(tempfile.mkdtemp(prefix="i2i-mem-"))
    ctx = i2i.load_context()
    torch.manual_seed(0)
    source = make_checkpoint(ctx, args.model, tmp)
    write_input(tmp / "in" / "big.png", args.size)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    if args.engine == "onnx":
        from i2i.export.onnx import export_onnx

        model = export_onnx(ctx, source, tmp / "model.onnx").path
        module = "i2i_runtime.cli"
        cmd = ["translate", str(model), "--threads", str(args.threads), "--provider", "cpu"]
    else:
        module = "i2i"
        cmd = ["translate", str(source), "--device", "cpu", "--threads", str(args.threads)]
    cmd += [str(tmp / "in"), str(tmp / "out"), "--max-memory", args.max_memory]
    log(f"translating a {args.size}x{args.size} image with the default {args.model} "
        f"({args.engine}) within --max-memory {args.max_memory} ...")  # fmt: skip
    t = time.perf_counter()
    code, _, err, peak = run_module_measured(module, cmd, env)
    seconds = time.perf_counter() - t
    if code != 0:
        log(err[-3000:])
        raise SystemExit(f"translate failed with status {code}")
    tile = re.search(r"in (\d+)-pixel tiles \((\d+) per call\)", err)
    act = re.search(r"the model takes ([\d.]+) kB per pixel measured", err)
    per_pixel = float(act.group(1)) * 1e3 if act else 0.0
    result = {
        "model": args.model,
        "engine": args.engine,
        "size": args.size,
        "threads": args.threads,
        "weights": "random init (seed 0), default config",
        "max_memory_gb": round(budget / 1e9, 3),
        "peak_rss_gb": round(peak / 1e9, 3),
        "within_budget": peak <= budget,
        "seconds": round(seconds, 1),
        "tile": int(tile.group(1)) if tile else 0,
        "tiles_per_call": int(tile.group(2)) if tile else 0,
        "activation_kb_per_pixel": round(per_pixel / 1e3, 2),
        "untiled_activation_estimate_gb": round(per_pixel * args.size**2 / 1e9, 2),
    }
    log(f"peak RSS {peak / 1e9:.2f} GB (budget {budget / 1e9:.2f} GB) in {seconds:.0f} s; "
        f"tiles {result['tile']} px")  # fmt: skip
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
