"""i2i.load_run / i2i.load_checkpoint: a trained model, its config and metadata from disk."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

import i2i
from i2i.config import load_toml, to_dict
from i2i.errors import CheckpointError
from i2i.manager import load_context


@pytest.fixture(scope="module")
def run(tmp_path_factory, ctx, demo_data):
    """A 2-step tiny pix2pix run with a checkpoint after each step."""
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    out = tmp_path_factory.mktemp("api") / "run"
    spec = ctx.models.get("pix2pix")
    rc = resolve_run_config(
        spec,
        demo_data("aligned"),
        train_options={"size": 32, "load_size": 36, "workers": 0, "device": "cpu", "steps": 2},
        overrides=[*spec.tiny, "train.checkpoint_every=1", "train.sample_every=0"],
    )
    Trainer(ctx, rc, out).fit()
    return out


def test_load_run_gives_model_config_and_metadata(run, ctx) -> None:
    loaded = i2i.load_run(run, context=ctx)
    assert isinstance(loaded, i2i.LoadedModel)
    assert (loaded.family, loaded.step, loaded.run_dir) == ("pix2pix", 2, run)
    assert loaded.spec is ctx.models.get("pix2pix") and isinstance(loaded.model, i2i.GANModel)
    assert not loaded.model.training  # ready for inference
    recorded = load_toml(run / "config.toml")
    assert isinstance(loaded.config, i2i.RunConfig)
    assert to_dict(loaded.config.model) == recorded["model"]
    assert to_dict(loaded.config.train) == recorded["train"]
    assert loaded.config.model.generator.ngf == 4  # the tiny run's value, no flags needed
    assert loaded.checkpoint.path == run / "checkpoints" / "step_0000002" / "model.safetensors"
    assert loaded.checkpoint.version == i2i.__version__ and loaded.checkpoint.weights == {}
    assert loaded.status()["status"] == "completed"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = loaded.model.inference_module()(x)
    assert y.shape == (1, 3, 32, 32)


def test_load_run_step_and_load_checkpoint_agree(run, ctx) -> None:
    first = i2i.load_run(run, step=1, context=ctx)
    assert first.step == 1
    ckpt = i2i.load_checkpoint(run / "checkpoints" / "step_0000001", context=ctx)
    assert ckpt.step == 1 and ckpt.run_dir == run
    weights = ckpt.checkpoint.path
    by_file = i2i.load_checkpoint(weights, context=ctx)
    same = [
        torch.equal(by_file.model.state_dict()[k], v) for k, v in first.model.state_dict().items()
    ]
    assert all(same)
    latest = i2i.load_checkpoint(run, context=ctx)
    assert latest.step == 2
    changed = [
        not torch.equal(latest.model.state_dict()[k], v)
        for k, v in first.model.state_dict().items()
    ]
    assert any(changed)


def test_errors_are_one_line_and_say_what_to_pass(run, ctx, tmp_path) -> None:
    with pytest.raises(CheckpointError, match="has no checkpoint of step 7; it has steps 1, 2"):
        i2i.load_run(run, step=7, context=ctx)
    with pytest.raises(CheckpointError, match="is not a run directory.*load_checkpoint"):
        i2i.load_run(run / "checkpoints" / "step_0000002", context=ctx)
    with pytest.raises(CheckpointError, match="does not exist"):
        i2i.load_run(tmp_path / "nope", context=ctx)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / "config.toml").write_text("family = 'pix2pix'\n")
    with pytest.raises(CheckpointError, match="has no checkpoint yet"):
        i2i.load_run(tmp_path / "fresh", context=ctx)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not written by i2i"):
        i2i.load_checkpoint(foreign, context=ctx)
    without = load_context(builtins=False, entry_points=False)
    with pytest.raises(CheckpointError, match="'pix2pix' family, which is not installed here"):
        i2i.load_checkpoint(run, context=without)
