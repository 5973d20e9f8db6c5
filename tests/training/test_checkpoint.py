from __future__ import annotations

import os

import pytest
import torch

from i2i.errors import CheckpointError
from i2i.training.checkpoint import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)

RUN_CONFIG = {"family": "toy", "data": "x", "train": {}, "model": {}}


def _save(root, step, keep=3):
    sd = {"w": torch.full((2, 2), float(step)), "b": torch.zeros(3)}
    return save_checkpoint(root, step, sd, RUN_CONFIG, {"opt": {"x": torch.ones(1)}}, keep=keep)


def test_save_load_latest_and_metadata(tmp_path) -> None:
    root = tmp_path / "run" / "checkpoints"
    _save(root, 5)
    path = _save(root, 10)
    assert (root / "latest").read_text().strip() == path.name
    for src in (tmp_path / "run", root, path, path / "model.safetensors"):
        assert find_checkpoint(src) == path / "model.safetensors"
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.family == "toy" and ckpt.step == 10 and ckpt.run_config == RUN_CONFIG
    assert torch.equal(ckpt.weights["w"], torch.full((2, 2), 10.0))
    assert ckpt.trainer_state()["step"] == 10
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_prune_keeps_newest(tmp_path) -> None:
    root = tmp_path / "checkpoints"
    for s in (1, 2, 3, 4):
        _save(root, s, keep=2)
    assert [p.name for p in list_checkpoints(root)] == ["step_0000003", "step_0000004"]


def test_crash_during_save_keeps_previous(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkpoints"
    _save(root, 1)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(root, 2)
    assert load_checkpoint(root).step == 1
    assert [p.name for p in root.iterdir() if p.is_dir()] == ["step_0000001"]


def test_errors_are_clear(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        find_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        find_checkpoint(tmp_path)
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(os.urandom(64))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(bad)
    txt = tmp_path / "weights.bin"
    txt.write_text("x")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        find_checkpoint(txt)
