"""What experiment loggers cost a training step (``train_step.py --log NAME``).

Two identical plugin contexts run the same i2i step on the same batches, alternating in
blocks of ``--block`` steps, and after each step call the observer hooks the trainer calls
(``i2i_train_step_end`` every ``--log-every`` steps with the trainer's ``logs``, a sample grid
written and ``i2i_samples_saved`` every ``--sample-every`` steps); only the second context has
the selected loggers. Each logged block ends by waiting until its loggers handed every record
to the tool, and that wait is counted in the block: background work never leaks into the
other block. The overhead is the difference of the mean step times, and of the process CPU
time per step (all threads; steadier than wall time on a shared machine).

MLflow needs ``MLFLOW_TRACKING_URI``; use ``WANDB_MODE=offline`` for W&B without an account.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

import i2i
from i2i.report import make_grid, write_grid
from i2i.tracking import TrackingSession
from i2i.training.run import RunInfo, resolve_run_config
from i2i.training.trainer import TrainStep


def _run(
    ctx: i2i.Context, family: str, overrides: Sequence[str], root: Path, name: str, **train: Any
) -> RunInfo:
    spec = ctx.models.get(family)
    rc = resolve_run_config(spec, root, train_options=train, overrides=list(overrides))
    info = RunInfo(run_dir=root / name, config=rc, total_steps=int(train["steps"]))
    info.run_dir.mkdir(parents=True)
    return info


def measure(
    family: str,
    overrides: Sequence[str],
    step: TrainStep,
    batches: Sequence[Mapping[str, torch.Tensor]],
    warmup: int,
    loggers: Sequence[str],
    *,
    log_every: int = 1,
    sample_every: int = 10,
    block: int = 5,
) -> dict[str, Any]:
    """Mean seconds per step without and with ``loggers`` (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="i2i-bench-log-"))
    timed = len(batches) - warmup
    train = {"steps": 2 * timed + warmup, "log_every": log_every, "sample_every": sample_every}
    plain_ctx, tracked_ctx = i2i.load_context(), i2i.load_context()
    plain = _run(plain_ctx, family, overrides, root, "plain", **train)
    tracked = _run(tracked_ctx, family, overrides, root, "tracked", loggers=list(loggers), **train)
    session = TrackingSession(tracked_ctx)
    session.start(tracked)
    for ctx, info in ((plain_ctx, plain), (tracked_ctx, tracked)):
        ctx.hook.i2i_train_start(run=info)
    counters = {"plain": 0, "tracked": 0}
    hook_time = {"plain": 0.0, "tracked": 0.0}
    cpu = {"plain": 0.0, "tracked": 0.0}  # process CPU seconds (every thread), per condition

    def one(kind: str, ctx: i2i.Context, info: RunInfo, batch: Mapping[str, Any]) -> float:
        t0 = time.perf_counter()
        i = counters[kind]
        terms = step(batch, i)
        counters[kind] = i = i + 1
        t1 = time.perf_counter()
        if i % log_every == 0:
            logs = {**terms, **step.lrs(), "sec_per_step": t1 - t0}
            logs.update(images_per_sec=1.0 / max(t1 - t0, 1e-9), epoch=i / 100.0)
            logs["skipped_images"] = 0
            ctx.hook.i2i_train_step_end(run=info, step=i, logs=logs)
        if sample_every > 0 and i % sample_every == 0 and step.last_cache is not None:
            with torch.no_grad():
                vis = step.model.visuals(batch, step.last_cache)
            grid = make_grid({k: v.detach().float().cpu() for k, v in vis.items()})
            path = write_grid(grid, info.run_dir / "samples" / f"step_{i:07d}.png")
            ctx.hook.i2i_samples_saved(run=info, step=i, path=path, grid=grid)
        hook_time[kind] += time.perf_counter() - t1
        return time.perf_counter() - t0

    for b in batches[:warmup]:  # both contexts warm (the loggers open meanwhile)
        one("plain", plain_ctx, plain, b)
        one("tracked", tracked_ctx, tracked, b)
    for logger in session.loggers:
        logger.flush(120)
    times: dict[str, list[float]] = {"plain": [], "tracked": []}
    waits = 0.0
    rest = list(batches[warmup:])
    while rest:
        chunk, rest = rest[:block], rest[block:]
        c0 = time.process_time()
        times["plain"] += [one("plain", plain_ctx, plain, b) for b in chunk]
        c1 = time.process_time()
        times["tracked"] += [one("tracked", tracked_ctx, tracked, b) for b in chunk]
        t = time.perf_counter()
        for logger in session.loggers:
            logger.flush(120)
        wait = time.perf_counter() - t
        waits += wait
        times["tracked"][-1] += wait  # the block's background work, charged to the block
        cpu["plain"] += c1 - c0
        cpu["tracked"] += time.process_time() - c1
    session.finish("completed")
    n = len(times["plain"])
    plain_mean = statistics.fmean(times["plain"])
    tracked_mean = statistics.fmean(times["tracked"])
    health = {lg.name: {"sent": lg.sent, "dropped": lg.dropped, "errors": lg.errors}
              for lg in session.loggers}  # fmt: skip
    return {
        "loggers": list(loggers),
        "log_every": log_every,
        "sample_every": sample_every,
        "timed_steps_each": n,
        "sec_per_iter": round(plain_mean, 4),
        "sec_per_iter_logging": round(tracked_mean, 4),
        "median_sec_per_iter": round(statistics.median(times["plain"]), 4),
        "median_sec_per_iter_logging": round(statistics.median(times["tracked"]), 4),
        "log_overhead_pct": round(100 * (tracked_mean - plain_mean) / plain_mean, 2),
        # CPU time is steadier than wall time on a shared machine: what logging costs in all
        "cpu_sec_per_iter": round(cpu["plain"] / n, 4),
        "cpu_sec_per_iter_logging": round(cpu["tracked"] / n, 4),
        "log_cpu_ms_per_step": round(1000 * (cpu["tracked"] - cpu["plain"]) / n, 2),
        "log_cpu_overhead_pct": round(100 * (cpu["tracked"] - cpu["plain"]) / cpu["plain"], 2),
        "hook_ms_per_step": round(1000 * (hook_time["tracked"] - hook_time["plain"]) / n, 3),
        "flush_wait_ms_per_step": round(1000 * waits / n, 3),
        "logger_health": health,
        "run_dir": str(tracked.run_dir),
    }
