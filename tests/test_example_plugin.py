"""The example third-party plugin (examples/i2i-example-plugin), found through its entry point.

The package must be installed into the test environment (``make test`` does it):
``pip install -e examples/i2i-example-plugin``. Its family ``onesided`` is also run through the
contract test (tests/test_contract.py parametrizes over every registered family).
"""

from __future__ import annotations

import json
import logging
from importlib import metadata

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.config import apply_overrides
from i2i.datasets.image_io import read_image, write_image
from i2i.manager import DISABLE_ENV, ENTRY_POINT_GROUP, load_context

INSTALL_HINT = "install it: pip install -e examples/i2i-example-plugin (make test does this)"


def _entry_point() -> metadata.EntryPoint:
    eps = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if "example" not in eps:
        pytest.fail(f"the example plugin is not installed; {INSTALL_HINT}", pytrace=False)
    return eps["example"]


@pytest.fixture(autouse=True)
def _installed() -> None:
    _entry_point()


def test_discovered_through_entry_point() -> None:
    assert ENTRY_POINT_GROUP == "i2i.plugins"
    ep = _entry_point()
    assert ep.value == "i2i_example_plugin"
    assert ep.dist is not None and ep.dist.version == "0.1.0"


def test_context_has_family_owned_by_plugin(ctx) -> None:
    assert "onesided" in ctx.models
    assert ctx.models.owner("onesided") == "example"
    spec = ctx.models.get("onesided")
    assert spec.dataset_format == "unpaired" and spec.directions == ("AtoB",)
    info = {p.name: p for p in ctx.plugins()}["example"]
    assert not info.builtin and info.version == "0.1.0"
    assert info.module == "i2i_example_plugin"
    assert info.hooks == ["i2i_register_commands", "i2i_register_models", "i2i_train_end"]


def test_disable_by_env(monkeypatch) -> None:
    monkeypatch.setenv(DISABLE_ENV, "example")
    ctx = load_context()
    assert "onesided" not in ctx.models and "cyclegan" in ctx.models
    assert "example" not in {p.name for p in ctx.plugins()}


def test_model_losses_and_mixed_channels(ctx) -> None:
    spec = ctx.models.get("onesided")
    cfg = apply_overrides(spec.config_cls(), [*spec.tiny, "input_nc=1", "output_nc=3"])
    assert cfg.generator.ngf == 8 and cfg.loss.lambda_content == 5.0
    model = spec.build(cfg, ctx)
    batch = {"A": torch.rand(1, 1, 32, 32) * 2 - 1, "B": torch.rand(1, 3, 32, 32) * 2 - 1}
    cache = model.forward_step(batch)
    assert cache["fake_B"].shape == (1, 3, 32, 32)
    assert set(model.losses("G", batch, cache)) == {"gan", "content"}
    assert set(model.losses("D", batch, cache)) == {"D"}
    info = model.inference_info()
    assert (info.in_channels, info.out_channels, info.stride) == (1, 3, 4)
    assert [g.name for g in model.optimizer_groups()] == ["G", "D"]


def test_cli_train_translate_and_command(ctx, demo_data, tmp_path, caplog) -> None:
    runner, app = CliRunner(), build_app(ctx)
    spec = ctx.models.get("onesided")

    def invoke(*args: object) -> str:
        r = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
        assert r.exit_code == 0, r.output
        return r.output

    assert "onesided" in invoke("models") and "example" in invoke("models")

    run = tmp_path / "run"
    tiny = [x for s in spec.tiny for x in ("--set", s)]
    caplog.set_level(logging.INFO, logger="i2i_example_plugin")
    invoke("train", "onesided", demo_data("unpaired"), "--out", run, "--steps", "2",
           "--size", "32", "--batch-size", "1", "--workers", "0", "--device", "cpu",
           "--no-progress", *tiny, "--set", "train.load_size=36",
           "--set", "train.sample_every=0", "--set", "train.log_every=1")  # fmt: skip
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2 and {"G/gan", "G/content", "D/D"} <= set(last)
    summary = [r.getMessage() for r in caplog.records if r.name == "i2i_example_plugin"]
    assert len(summary) == 1 and "completed at step 2 of 2" in summary[0]

    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", np.random.default_rng(0).random((37, 53, 3), np.float32))
    assert "wrote 1 images" in invoke("translate", run, src, out, "--device", "cpu")
    assert read_image(out / "a.png", 3).shape == (37, 53, 3)

    text = invoke("example-info")
    assert "onesided (plugin 'example' 0.1.0)" in text
    assert "loss.lambda_content = 5.0" in text and "generator.ngf = 32" in text
