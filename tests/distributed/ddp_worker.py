"""Worker for the distributed tests, launched with ``torchrun --nproc_per_node 2``.

    ddp_worker.py train FAMILY DATA OUT DUMP STEPS BATCH [--sync-bn] [--set k=v ...]
    ddp_worker.py translate SOURCE IN_DIR OUT_DIR DUMP
    ddp_worker.py long DATA OUT DUMP           (trains "forever"; writes its pid to DUMP)

Each rank dumps what it did into DUMP (weights, written files) for the test to compare.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from i2i.export.translate import translate_folder
from i2i.manager import load_context
from i2i.training import distributed
from i2i.training.run import resolve_run_config
from i2i.training.trainer import Trainer

TINY = {"size": 32, "load_size": 36, "workers": 0, "log_every": 1, "sample_every": 0,
        "checkpoint_every": 0, "device": os.environ.get("I2I_TEST_DEVICE", "cpu")}  # fmt: skip


def train(family: str, data: str, out: str, dump: str, steps: int, batch: int, extra: list[str]):
    ctx = load_context()
    spec = ctx.models.get(family)
    sync_bn = "--sync-bn" in extra
    sets = [x for x in extra if x != "--sync-bn"]
    rc = resolve_run_config(
        spec, data, overrides=[*spec.tiny, *sets],
        train_options={**TINY, "steps": steps, "batch_size": batch, "sync_bn": sync_bn},
    )  # fmt: skip
    trainer = Trainer(ctx, rc, out)
    trainer.fit()
    weights = trainer.ddp.state_dict() if trainer.ddp else trainer.model.state_dict()
    torch.save({k: v.detach().cpu() for k, v in weights.items()},
               Path(dump) / f"rank{trainer.rank}.pt")  # fmt: skip
    distributed.teardown()


def translate(source: str, in_dir: str, out_dir: str, dump: str) -> None:
    res = translate_folder(load_context(), source, in_dir, out_dir, device="cpu", workers=0)
    rank = distributed.env_info().rank
    (Path(dump) / f"rank{rank}.json").write_text(json.dumps([str(p) for p in res.written]))


def long(data: str, out: str, dump: str) -> None:
    (Path(dump) / f"pid{distributed.env_info().rank}").write_text(str(os.getpid()))
    train("cyclegan", data, out, dump, 100_000, 1, [])


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "train":
        train(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]), args[6:])
    elif mode == "translate":
        translate(*args)
    elif mode == "long":
        long(*args)
    else:
        raise SystemExit(f"unknown mode {mode}")
