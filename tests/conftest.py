"""Shared fixtures: a plugin context, demo datasets per format, and tiny training runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from i2i.manager import Context, load_context
from i2i.training.run import RunInfo, resolve_run_config
from i2i.training.trainer import Trainer

torch.set_num_threads(2)

TINY_TRAIN = {
    "size": 32,
    "load_size": 36,
    "batch_size": 1,
    "workers": 0,
    "device": "cpu",
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
}


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ctx() -> Context:
    return load_context()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory, ctx: Context) -> Callable[[str], Path]:
    """``demo_data(format_name)`` -> a demo dataset of that format (made once per session)."""
    cache: dict[str, Path] = {}

    def get(fmt: str) -> Path:
        if fmt not in cache:
            root = tmp_path_factory.mktemp(f"demo-{fmt}") / "data"
            ctx.dataset_formats.get(fmt).demo(root, 0)
            cache[fmt] = root
        return cache[fmt]

    return get


@pytest.fixture
def tiny_run(ctx: Context) -> Callable[..., RunInfo]:
    """``tiny_run(family, data, out, steps=2, overrides=(), resume=False, **train)``."""

    def run(
        family: str,
        data: Path,
        out: Path,
        steps: int = 2,
        overrides: tuple[str, ...] = (),
        resume: bool = False,
        context: Context | None = None,
        **train: Any,
    ) -> RunInfo:
        c = context or ctx
        spec = c.models.get(family)
        rc = resolve_run_config(
            spec,
            data,
            train_options={**TINY_TRAIN, "steps": steps, **train},
            overrides=list(spec.tiny) + list(overrides),
        )
        return Trainer(c, rc, out, resume=resume).fit()

    return run


@pytest.fixture(scope="session")
def one_step_run(ctx: Context, demo_data: Callable[[str], Path], tmp_path_factory) -> Path:
    """A real 1-step tiny CycleGAN run, made once per session. Read it or copy it; never write
    into it (tests that edit checkpoints copy it first)."""
    spec = ctx.models.get("cyclegan")
    out = tmp_path_factory.mktemp("one-step") / "run"
    rc = resolve_run_config(
        spec,
        demo_data("unpaired"),
        train_options={**TINY_TRAIN, "steps": 1},
        overrides=list(spec.tiny),
    )
    Trainer(ctx, rc, out).fit()
    return out
