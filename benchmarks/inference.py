"""Inference benchmark: PyTorch eager fp32 / bf16 vs onnxruntime fp32 / int8, and folder throughput.

    python benchmarks/inference.py --model cyclegan --size 256

The model is the family's default (paper-recipe) configuration with freshly initialized weights
(seed 0; no trained weights are downloaded), saved as a checkpoint and exported with
``i2i export``'s code path (int8 calibrated on procedural demo images). Every path runs the same
inputs; quality is the PSNR of its outputs against eager fp32's. The folder test translates 64
demo images of ``--size`` pixels with the fastest path that keeps PSNR >= 35 dB, and compares its
throughput with the model-only throughput of that path at the same batch size.

The last line printed is one JSON object with ``eager_fp32_ms``, ``best_path``, ``best_ms``,
``best_psnr_db``, ``model_images_per_s`` and ``folder_images_per_s`` (plus every path's figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import i2i
from i2i.config import to_dict
from i2i.training.checkpoint import save_checkpoint
from i2i.training.run import RunConfig, resolve_run_config


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two outputs in [-1, 1] (mapped to [0, 1])."""
    mse = float(np.mean(((a.astype(np.float64) - b.astype(np.float64)) / 2) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def make_checkpoint(ctx: i2i.Context, family: str, root: Path) -> Path:
    spec = ctx.models.get(family)
    run: RunConfig = resolve_run_config(spec, root / "data")
    torch.manual_seed(0)
    model = spec.build(run.model, ctx)
    save_checkpoint(root / "run" / "checkpoints", 0, model.state_dict(), run.to_dict(), {})
    assert to_dict(run.model)  # the checkpoint embeds the whole family config
    return root / "run"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="cyclegan")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=4, help="batch of the folder test")
    p.add_argument("--images", type=int, default=64, help="images of the folder test")
    args = p.parse_args(argv)

    from i2i.datasets.demo import make_unpaired_demo
    from i2i.datasets.image_io import list_images, read_image
    from i2i.export.engine import open_engine
    from i2i.export.onnx import export_onnx
    from i2i.export.translate import translate_folder

    ctx = i2i.load_context()
    torch.set_num_threads(torch.get_num_threads())
    tmp = Path(tempfile.mkdtemp(prefix="i2i-bench-"))
    log = lambda *a: print(*a, file=sys.stderr)  # noqa: E731
    source = make_checkpoint(ctx, args.model, tmp)
    demo = tmp / "demo"
    make_unpaired_demo(demo, seed=0, n_train=16, n_test=args.images, size=args.size)
    calib, folder = demo / "trainA", demo / "testA"
    log(f"exporting fp32 and int8 ONNX models of {args.model} ...")
    fp32 = export_onnx(ctx, source, tmp / "fp32.onnx")
    int8 = export_onnx(ctx, source, tmp / "int8.onnx", quantize="int8", calibration=calib,
                       calibration_size=args.size)  # fmt: skip

    engines = {
        "eager_fp32": open_engine(ctx, source, device="cpu", precision="fp32"),
        "eager_bf16": open_engine(ctx, source, device="cpu", precision="bf16"),
        "ort_fp32": open_engine(ctx, fp32.path, provider="cpu"),
        "ort_int8": open_engine(ctx, int8.path, provider="cpu"),
    }
    info = engines["eager_fp32"].info
    imgs = [read_image(f, info.in_channels) for f in list_images(folder)[:4]]
    x1 = np.stack([imgs[0].transpose(2, 0, 1)]).astype(np.float32) * 2 - 1
    xs = np.stack([im.transpose(2, 0, 1) for im in imgs]).astype(np.float32) * 2 - 1
    ref = engines["eager_fp32"](xs)
    paths: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        ms = median_ms(lambda e=engine: e(x1), args.repeats)
        quality = psnr(engine(xs), ref)
        paths[name] = {"ms": round(ms, 2), "images_per_s": round(1e3 / ms, 3),
                       "psnr_db": round(min(quality, 999.0), 2)}  # fmt: skip
        log(f"  {name}: {ms:.1f} ms/image (batch 1), PSNR vs eager fp32 {quality:.2f} dB")
    eager = paths["eager_fp32"]["ms"]
    ok = {k: v for k, v in paths.items() if v["psnr_db"] >= 35}
    best = min(ok, key=lambda k: ok[k]["ms"])

    # model-only throughput of the best path at the folder batch size, then the folder run
    engine = engines[best]
    xb = np.concatenate([xs] * (args.batch_size // len(xs) + 1))[: args.batch_size]
    ms_batch = median_ms(lambda: engine(xb), args.repeats)
    model_ips = args.batch_size / (ms_batch / 1e3)
    src = fp32.path if best == "ort_fp32" else int8.path if best == "ort_int8" else source
    precision = "bf16" if best == "eager_bf16" else "fp32"
    t = time.perf_counter()
    provider = "cpu" if Path(src).suffix == ".onnx" else "auto"
    res = translate_folder(
        ctx, src, folder, tmp / "out", device="cpu", precision=precision, provider=provider,
        batch_size=args.batch_size, overwrite=True,
    )  # fmt: skip
    folder_s = time.perf_counter() - t
    folder_ips = len(res.written) / folder_s
    log(f"  folder: {len(res.written)} images in {folder_s:.1f} s = {folder_ips:.2f} img/s; "
        f"model only {model_ips:.2f} img/s")  # fmt: skip
    result = {
        "model": args.model,
        "size": args.size,
        "threads": torch.get_num_threads(),
        "weights": "random init (seed 0), default config",
        "paths": paths,
        "eager_fp32_ms": eager,
        "best_path": best,
        "best_ms": paths[best]["ms"],
        "best_speedup": round(eager / paths[best]["ms"], 3),
        "best_psnr_db": paths[best]["psnr_db"],
        "int8_calibration_psnr_db": int8.psnr_db,
        "batch_size": args.batch_size,
        "model_images_per_s": round(model_ips, 3),
        "folder_images": len(res.written),
        "folder_images_per_s": round(folder_ips, 3),
        "folder_vs_model": round(folder_ips / model_ips, 3),
        "targets_met": eager / paths[best]["ms"] >= 1.7 and folder_ips >= 0.9 * model_ips,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
