"""What one experiment logger costs per logged step, without training (steady on a busy
machine, unlike step times):

    python benchmarks/logger_cost.py tensorboard --steps 300 --grid-every 0
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python benchmarks/logger_cost.py mlflow
    WANDB_MODE=offline python benchmarks/logger_cost.py wandb --grid-every 10

Calls the trainer's hooks ``--steps`` times (``i2i_train_step_end`` with the 11 values a
pix2pix step logs, and ``i2i_samples_saved`` with a 4 x 3 grid of 256 px images every
``--grid-every`` steps) on two plugin contexts, one with the logger, until the logger has handed
everything to the tool. Prints JSON: the extra main-thread time in the hooks and the extra
process CPU time (every thread of this process; a tool's own processes, such as W&B's service
or an MLflow server, are not counted) per logged step.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import i2i
from i2i.tracking import TrackingSession
from i2i.training.run import RunInfo, resolve_run_config

KEYS = ["G/gan", "G/l1", "G/total", "D/gan", "D/total", "lr/G", "lr/D", "sec_per_step",
        "images_per_sec", "epoch", "skipped_images"]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("logger")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--grid-every", type=int, default=0, help="0: no sample grids")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="i2i-logger-cost-"))
    rng = np.random.default_rng(0)
    grid = (rng.random((4 * 258 + 20, 3 * 258 + 8, 3)) * 255).astype(np.uint8)

    def run_info(ctx: i2i.Context, name: str, loggers: list[str]) -> RunInfo:
        spec = ctx.models.get("pix2pix")
        rc = resolve_run_config(spec, root, train_options={"steps": args.steps, "loggers": loggers})
        info = RunInfo(run_dir=root / name, config=rc, total_steps=args.steps)
        info.run_dir.mkdir()
        return info

    def run(ctx: i2i.Context, info: RunInfo, session: TrackingSession | None) -> tuple:
        ctx.hook.i2i_train_start(run=info)
        for lg in session.loggers if session else ():
            lg.flush(300)  # opened
        wall, cpu, hooks = time.perf_counter(), time.process_time(), 0.0
        for s in range(1, args.steps + 1):
            logs = {k: s / (j + 1) for j, k in enumerate(KEYS)}
            t = time.perf_counter()
            ctx.hook.i2i_train_step_end(run=info, step=s, logs=logs)
            if args.grid_every and s % args.grid_every == 0:
                ctx.hook.i2i_samples_saved(run=info, step=s, path=info.run_dir / "g.png", grid=grid)
            hooks += time.perf_counter() - t
        for lg in session.loggers if session else ():
            lg.flush(600)
        return time.perf_counter() - wall, time.process_time() - cpu, hooks

    plain_ctx, ctx = i2i.load_context(), i2i.load_context()
    plain = run(plain_ctx, run_info(plain_ctx, "plain", []), None)
    info = run_info(ctx, "tracked", [args.logger])
    session = TrackingSession(ctx)
    session.start(info)
    tracked = run(ctx, info, session)
    session.finish("completed")
    n = args.steps
    print(json.dumps({
        "logger": args.logger, "logged_steps": n,
        "grids": n // args.grid_every if args.grid_every else 0,
        "hook_ms_per_logged_step": round(1000 * (tracked[2] - plain[2]) / n, 3),
        "cpu_ms_per_logged_step": round(1000 * (tracked[1] - plain[1]) / n, 3),
        "wall_ms_per_logged_step_until_sent": round(1000 * (tracked[0] - plain[0]) / n, 3),
        "health": {lg.name: {"sent": lg.sent, "dropped": lg.dropped, "errors": lg.errors}
                   for lg in session.loggers},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
