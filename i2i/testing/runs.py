"""What the i2i pytest plugin and its contract tests share: the tiny training settings, a tiny
training run and the families asked for. Standard library and pytest only at import time (the
plugin is loaded in every pytest session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

INI = "i2i_contract"
OPTION = "--i2i-contract"
#: The tiny training settings of the contract tests and of ``i2i_tiny_run``: 32-px crops of a
#: 36-px resize, batch 1, CPU, no worker processes, a log line every step.
TINY_TRAIN: dict[str, Any] = {
    "size": 32,
    "load_size": 36,
    "batch_size": 1,
    "workers": 0,
    "device": "cpu",
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
}


def contract_families(config: pytest.Config) -> list[str]:
    """The families the contract tests were asked for (``*`` = every registered family)."""
    raw = config.getoption(OPTION)
    names = [n.strip() for n in raw.split(",")] if raw is not None else list(config.getini(INI))
    names = [n for n in names if n]
    if "*" in names:
        from i2i.manager import load_context

        names = load_context().models.names()
    return list(dict.fromkeys(names))


def train_tiny(
    family: str,
    data: Path,
    out: Path,
    steps: int = 2,
    overrides: tuple[str, ...] = (),
    resume: bool = False,
    context: Any = None,
    **train: Any,
) -> Any:
    """Train a tiny ``family`` model (its ``tiny`` overrides plus ``overrides``, the settings
    of :data:`TINY_TRAIN` updated by ``train``) on ``data`` into ``out``, with ``context``
    (default: ``i2i.load_context()``).

    Returns:
        The run's :class:`i2i.RunInfo`.
    """
    from i2i.manager import load_context
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    context = context or load_context()
    spec = context.models.get(family)
    rc = resolve_run_config(
        spec,
        data,
        train_options={**TINY_TRAIN, "steps": steps, **train},
        overrides=list(spec.tiny) + list(overrides),
    )
    return Trainer(context, rc, out, resume=resume).fit()
