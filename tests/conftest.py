"""Shared fixtures: a plugin context, demo datasets per format, and tiny training runs.

The context and the demo data come from the i2i pytest plugin (i2i/testing/plugin.py, loaded
through its pytest11 entry point), which also runs the family contract tests of
i2i/testing/contract.py for every registered family (``i2i_contract = ["*"]`` in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from i2i.manager import Context
from i2i.training.run import RunInfo

torch.set_num_threads(2)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def ctx(i2i_context: Context) -> Context:
    """The plugin context (the i2i pytest plugin's, shared with the contract tests)."""
    return i2i_context


@pytest.fixture(scope="session")
def demo_data(i2i_demo_data: Callable[[str], Path]) -> Callable[[str], Path]:
    """``demo_data(format_name)`` -> a demo dataset of that format (made once per session, by
    the i2i pytest plugin's fixture, so the contract tests share it)."""
    return i2i_demo_data


@pytest.fixture
def tiny_run(i2i_tiny_run: Callable[..., RunInfo]) -> Callable[..., RunInfo]:
    """``tiny_run(family, data, out, steps=2, overrides=(), resume=False, context=None,
    **train)``: the i2i pytest plugin's ``i2i_tiny_run`` (a tiny model, 32-px crops, the CPU)."""
    return i2i_tiny_run
