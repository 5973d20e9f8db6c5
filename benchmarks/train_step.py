"""Training-step benchmark: i2i's trainer step vs a plain eager-PyTorch step of the same recipe.

    python benchmarks/train_step.py --model cyclegan --size 128 --steps 4 [--precision bf16]
    python benchmarks/train_step.py --model pix2pix --size 256 --steps 4 [--precision bf16]
    python benchmarks/train_step.py --model spade --size 256 --steps 4 [--precision bf16]
    python benchmarks/train_step.py --model srgan --size 128 --steps 4 [--precision bf16]

Both run the family's default (paper-recipe) configuration at batch 1 on synthetic smooth images,
interleaved step by step so machine noise hits both alike; the medians are compared. With
``--precision bf16`` the script also trains a fresh fp32 and a fresh bf16 i2i model from the same
weights on the same batches for ``--loss-steps`` steps and reports how far the mean losses differ.

With ``--log tensorboard`` (``mlflow``, ``wandb``; repeatable) it measures instead what the
experiment loggers add to a step, trainer hooks included (see ``logging_overhead.py``):
``sec_per_iter`` vs ``sec_per_iter_logging`` and ``log_overhead_pct``.

    python benchmarks/train_step.py --model pix2pix --size 128 --steps 40 --log tensorboard

The last line printed is one JSON object with ``sec_per_iter``, ``baseline_sec_per_iter``
(the plain implementation in fp32), ``speedup_vs_baseline``, ``gflops_per_s``
(torch.utils.flop_counter) and ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import i2i  # noqa: E402
from i2i.training import runtime  # noqa: E402
from i2i.training.trainer import TrainStep  # noqa: E402


def _plain_cyclegan(device: torch.device) -> Callable[[dict[str, torch.Tensor]], Any]:
    from plain_cyclegan import PlainCycleGAN

    model = PlainCycleGAN(device=device, seed=0)
    return lambda batch: model.step(batch["A"], batch["B"])


def _plain_pix2pix(device: torch.device) -> Callable[[dict[str, torch.Tensor]], Any]:
    from plain_pix2pix import PlainPix2Pix

    model = PlainPix2Pix(device=device, seed=0)
    return lambda batch: model.step(batch["A"], batch["B"])


def _plain_spade(device: torch.device) -> Callable[[dict[str, torch.Tensor]], Any]:
    from plain_spade import PlainSPADE

    model = PlainSPADE(device=device, seed=0, label_nc=SPADE_LABEL_NC)
    return lambda batch: model.step(batch["label"], batch["image"])


def _plain_srgan(device: torch.device) -> Callable[[dict[str, torch.Tensor]], Any]:
    from plain_srgan import PlainESRGAN

    model = PlainESRGAN(device=device, seed=0)
    return lambda batch: model.step(batch["lr"], batch["hr"])


#: SPADE benchmarks at Cityscapes' class count (no instance maps, no VGG weights, no VAE).
SPADE_LABEL_NC = 35
#: Config overrides a family needs to be built without a dataset.
#: (srgan: the GAN stage, the costlier of its two stages.)
CONFIG_OVERRIDES: dict[str, tuple[str, ...]] = {
    "spade": (f"label_nc={SPADE_LABEL_NC}",),
    "srgan": ("pretrain_steps=0",),
}


#: Plain eager baselines of each family's recipe (fp32).
BASELINES: dict[str, Callable[[torch.device], Callable[[dict[str, torch.Tensor]], Any]]] = {
    "cyclegan": _plain_cyclegan,
    "pix2pix": _plain_pix2pix,
    "spade": _plain_spade,
    "srgan": _plain_srgan,
}


def smooth_batch(
    keys: dict[str, int], size: int, batch: int, g: torch.Generator, device: torch.device
) -> dict[str, torch.Tensor]:
    """Low-frequency random images in [-1, 1] (more image-like than white noise)."""
    out = {}
    for k, c in keys.items():
        if k == "label_nc":  # label maps (SPADE): int64 class ids, constant over 16x16 blocks
            n = max(1, size // 16)
            ids = torch.randint(0, c, (batch, 1, n, n), generator=g)
            out["label"] = ids.repeat_interleave(16, 2).repeat_interleave(16, 3).to(device)
            continue
        if k in ("label", "scale") or (k == "lr" and "scale" in keys):
            continue
        x = torch.rand(batch, c, max(2, size // 16), max(2, size // 16), generator=g)
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
        out[k] = (x.clamp(0, 1) * 2 - 1).to(device)
    if "scale" in keys:  # super-resolution: size is the HR crop, LR its area-downscaled copy
        out["lr"] = F.avg_pool2d(out["hr"], keys["scale"])
    return out


def channels_last(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items()}


def build_step(
    ctx: i2i.Context,
    family: str,
    device: torch.device,
    dtype: torch.dtype | None,
    seed: int = 0,
    knobs: argparse.Namespace | None = None,
) -> tuple[TrainStep, dict[str, int]]:
    spec = ctx.models.get(family)
    cfg = i2i.config.apply_overrides(spec.config_cls(), CONFIG_OVERRIDES.get(family, ()))
    torch.manual_seed(seed)
    model = spec.build(cfg, ctx).to(device)
    fused = not getattr(knobs, "no_fused", False)
    if getattr(knobs, "channels_last", False):
        model = model.to(memory_format=torch.channels_last)
    step = TrainStep(model, device, dtype, fused=fused)
    if getattr(knobs, "compile", False):
        for mods in step.modules.values():
            for m in mods:
                m.compile()
    keys = dict(spec.data_channels(cfg))
    params = dict(spec.data_params(cfg)) if spec.data_params else {}
    # format settings the synthetic batches need: the SR scale, the class count of label maps
    for name in ("scale", "label_nc"):
        if name in params:
            keys[name] = int(params[name])
    return step, keys


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def loss_agreement(
    ctx: i2i.Context, family: str, size: int, steps: int, device: torch.device
) -> dict[str, float]:
    """Mean losses of fp32 vs bf16 over the first ``steps`` steps from identical weights."""
    means = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        step, keys = build_step(ctx, family, device, dtype, seed=0)
        g = torch.Generator().manual_seed(123)
        sums: dict[str, float] = {}
        for i in range(steps):
            terms = step(smooth_batch(keys, size, 1, g, device), i)
            for k, v in terms.items():
                if k.endswith("/total"):
                    sums[k] = sums.get(k, 0.0) + v
        means[name] = {k: v / steps for k, v in sums.items()}
        print(f"  mean losses over {steps} steps, {name}: {means[name]}", file=sys.stderr)
    return {
        k: abs(means["bf16"][k] - means["fp32"][k]) / max(1e-12, abs(means["fp32"][k]))
        for k in means["fp32"]
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="cyclegan")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=4, help="timed steps (after the warm-up steps)")
    p.add_argument(
        "--warmup",
        type=int,
        default=2,
        help="untimed warm-up steps of each implementation (allocator and oneDNN caches settle "
        "over the first steps of large models)",
    )
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--loss-steps",
        type=int,
        default=None,
        help="steps of the fp32/bf16 loss comparison (default 50 with bf16, else 0)",
    )
    p.add_argument("--no-baseline", action="store_true", help="skip the plain baseline")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    p.add_argument("--no-fused", action="store_true", help="plain (not fused) Adam")
    p.add_argument(
        "--no-allocator-tuning",
        action="store_true",
        help="leave glibc malloc at its defaults (i2i's trainer tunes it on CPU; see "
        "i2i.training.runtime.tune_cpu_allocator); applies to both implementations",
    )
    p.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="NAME",
        help="measure what experiment loggers cost instead (tensorboard | mlflow | wandb, "
        "repeatable; see logging_overhead.py): no baseline, --steps timed steps each",
    )
    p.add_argument("--log-every", type=int, default=1, help="with --log: train.log_every")
    p.add_argument("--sample-every", type=int, default=10, help="with --log: train.sample_every")
    p.add_argument("--block", type=int, default=5, help="with --log: steps per alternating block")
    args = p.parse_args(argv)

    ctx = i2i.load_context()
    device = runtime.resolve_device(args.device)
    dtype = runtime.check_precision(args.precision, device)
    runtime.configure_torch(device)
    # as the trainer does on CPU (both implementations share the process)
    tuned = device.type == "cpu" and not args.no_allocator_tuning and runtime.tune_cpu_allocator()
    step, keys = build_step(ctx, args.model, device, dtype, knobs=args)
    baseline = None
    if not args.no_baseline:
        if args.model not in BASELINES:
            raise SystemExit(f"no plain baseline for '{args.model}'; known: {sorted(BASELINES)}")
        torch.manual_seed(0)
        baseline = BASELINES[args.model](device)

    g = torch.Generator().manual_seed(0)
    warmup = max(1, args.warmup)
    batches = [smooth_batch(keys, args.size, 1, g, device) for _ in range(args.steps + warmup)]
    if args.channels_last:
        batches = [channels_last(b) for b in batches]
    if args.log:
        from logging_overhead import measure

        res = measure(
            args.model, CONFIG_OVERRIDES.get(args.model, ()), step, batches, warmup, args.log,
            log_every=args.log_every, sample_every=args.sample_every, block=args.block,
        )  # fmt: skip
        result = {
            "model": args.model, "size": args.size, "batch_size": 1, "precision": args.precision,
            "device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
            **res,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }  # fmt: skip
        print(json.dumps(result))
        return result
    with FlopCounterMode(display=False) as fc:
        step(batches[0], 0)  # warm-up, counted
    flops = fc.get_total_flops()
    for i, b in enumerate(batches[1:warmup], start=1):
        step(b, i)
    for b in batches[:warmup]:
        if baseline is not None:
            baseline(b)
    ours, theirs = [], []
    for i, b in enumerate(batches[warmup:], start=warmup):
        ours.append(timed(lambda b=b, i=i: step(b, i), device))
        if baseline is not None:
            theirs.append(timed(lambda b=b: baseline(b), device))
        print(f"  step {i}: i2i {ours[-1]:.3f}s"
              + (f", plain {theirs[-1]:.3f}s" if theirs else ""), file=sys.stderr)  # fmt: skip
    sec = statistics.median(ours)
    result: dict[str, Any] = {
        "model": args.model,
        "size": args.size,
        "batch_size": 1,
        "precision": args.precision,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "steps": args.steps,
        "warmup_steps": warmup,
        "knobs": {
            "compile": args.compile,
            "channels_last": args.channels_last,
            "fused_adam": not args.no_fused,
            "cpu_allocator_tuned": tuned,
        },  # fmt: skip
        "sec_per_iter": round(sec, 4),
        "baseline_sec_per_iter": round(statistics.median(theirs), 4) if theirs else None,
        "flops_per_iter": flops,
        "gflops_per_s": round(flops / sec / 1e9, 2),
    }
    if theirs:
        result["speedup_vs_baseline"] = round(result["baseline_sec_per_iter"] / sec, 3)
    loss_steps = args.loss_steps if args.loss_steps is not None else (
        50 if args.precision == "bf16" else 0
    )  # fmt: skip
    if loss_steps > 0:
        rel = loss_agreement(ctx, args.model, args.size, loss_steps, device)
        result["loss_steps"] = loss_steps
        result["loss_rel_diff"] = {k: round(v, 4) for k, v in rel.items()}
        result["loss_within_5pct"] = all(v <= 0.05 for v in rel.values())
    if theirs:
        need = 1.5 if args.precision == "bf16" else 1.0
        result["target_speedup"] = need
        result["target_met"] = result["speedup_vs_baseline"] >= need and result.get(
            "loss_within_5pct", True
        )
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
