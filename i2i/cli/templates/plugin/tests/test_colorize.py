"""Tests of the colorize plugin; i2i's contract tests run too (`i2i_contract` in pyproject.toml).

The fixtures `i2i_context`, `i2i_demo_data` and `i2i_tiny_run` come from i2i's pytest plugin.
"""

from __future__ import annotations

import pytest
import torch

import i2i


def test_registered_by_this_plugin(i2i_context) -> None:
    assert i2i_context.models.owner("colorize") == "colorize"
    assert i2i_context.dataset_formats.owner("colorize") == "colorize"


def test_a_sample_is_the_grayscale_input_and_its_colour_target(i2i_context, i2i_demo_data) -> None:
    fmt = i2i_context.dataset_formats.get("colorize")
    options = i2i.DataOptions(size=32, load_size=36, channels={"A": 1, "B": 3})
    root = i2i_demo_data("colorize")
    assert fmt.validate(root, options).counts == {"train": 48}
    item = fmt.build(root, options)[(3, 1234)]
    assert item["A"].shape == (1, 32, 32) and item["B"].shape == (3, 32, 32)
    luma = torch.tensor([0.299, 0.587, 0.114])[:, None, None]
    gray = (luma * (item["B"] + 1) / 2).sum(0) * 2 - 1  # the same crop and flip as B
    assert torch.allclose(item["A"][0], gray, atol=0.02)


def test_a_missing_split_folder_is_one_line(i2i_context, tmp_path) -> None:
    fmt = i2i_context.dataset_formats.get("colorize")
    with pytest.raises(i2i.DatasetError, match="has no train/ folder"):
        fmt.validate(tmp_path, i2i.DataOptions())


def test_trains_and_reloads_with_no_flags(i2i_demo_data, i2i_tiny_run, tmp_path) -> None:
    info = i2i_tiny_run("colorize", i2i_demo_data("colorize"), tmp_path / "run", steps=2)
    loaded = i2i.load_run(tmp_path / "run")
    assert info.total_steps == 2 and loaded.config.model.input_nc == 1
    assert loaded.model.inference_info().out_channels == 3
