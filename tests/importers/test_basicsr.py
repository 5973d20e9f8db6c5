"""BasicSR / ESRGAN / Real-ESRGAN checkpoints: RRDBNet namings, wrappers, unshuffle, MSRResNet."""

from __future__ import annotations

import pytest
import torch

from i2i.errors import CheckpointError

TOL = 1e-5


def _lr(h: int = 12, w: int = 16) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))


def _check(model, sd_ref, forward, x01, net="G_ema"):
    """The imported generator (i2i's [-1, 1] in and out) against the reference on [0, 1]."""
    g = model.G_ema.module if net == "G_ema" else model.G
    with torch.no_grad():
        got = (g.eval()(x01 * 2 - 1) + 1) / 2
        want = forward(sd_ref, x01)
    diff = float((got - want).abs().max())
    assert diff < TOL, diff
    return diff


@pytest.mark.parametrize("naming", ["basicsr", "esrgan", "esrgan-old"])
def test_rrdbnet_namings(ref, imported, tmp_path, naming):
    sd = ref.rrdb_g(nf=8, n_blocks=2, gc=4)
    stored = {"basicsr": {"params": sd}, "esrgan": ref.esrgan_naming(sd),
              "esrgan-old": ref.esrgan_old_naming(sd, 2)}[naming]  # fmt: skip
    result, model = imported(ref.save(stored, tmp_path / f"{naming}.pth"))
    assert result.family == "srgan" and f"{naming} naming" in result.detected[0]
    cfg = model.config
    assert (cfg.scale, cfg.generator.nf, cfg.generator.n_blocks, cfg.generator.growth) == (
        4,
        8,
        2,
        4,
    )
    assert cfg.generator.value_range == (0.0, 1.0)
    _check(model, sd, lambda s, x: ref.rrdb_g_forward(s, x, 2), _lr())


@pytest.mark.parametrize("unshuffle", [2, 4])
def test_real_esrgan_pixel_unshuffle_and_params_ema(ref, imported, tmp_path, unshuffle):
    """RealESRGAN_x2plus-style files (x2: unshuffle 2; x1: unshuffle 4) with params + params_ema
    and a DataParallel prefix."""
    ema, trained = (
        ref.rrdb_g(nf=8, n_blocks=1, gc=4, unshuffle=unshuffle),
        ref.rrdb_g(nf=8, n_blocks=1, gc=4, unshuffle=unshuffle),
    )
    wrapped = {"params": {f"module.{k}": v for k, v in trained.items()},
               "params_ema": {f"module.{k}": v for k, v in ema.items()}}  # fmt: skip
    result, model = imported(ref.save(wrapped, tmp_path / "RealESRGAN_x2plus.pth"))
    assert (
        model.config.scale == 4 // unshuffle and model.config.generator.pixel_unshuffle == unshuffle
    )
    assert any("params_ema" in n for n in result.notes)
    x = _lr(8, 12)
    _check(model, ema, lambda s, v: ref.rrdb_g_forward(s, v, 1, unshuffle), x)
    _check(model, trained, lambda s, v: ref.rrdb_g_forward(s, v, 1, unshuffle), x, net="G")
    info = model.inference_info()
    assert (info.stride, info.scale) == (unshuffle, 4 // unshuffle)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet(ref, imported, tmp_path, scale):
    sd = ref.msrresnet_g(nf=8, n_blocks=2, scale=scale)
    result, model = imported(ref.save({"params": sd}, tmp_path / f"MSRResNet_x{scale}.pth"))
    assert model.config.generator.arch == "srresnet" and model.config.scale == scale
    _check(model, sd, lambda s, x: ref.msrresnet_g_forward(s, x, 2, scale), _lr())


def test_shape_mismatch_names_the_key(ref, imported, tmp_path):
    sd = ref.rrdb_g(nf=8, n_blocks=1, gc=4)
    sd["conv_hr.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(CheckpointError, match=r"key 'conv_hr\.weight' has shape \[8, 8, 5, 5\]"):
        imported(ref.save(sd, tmp_path / "bad.pth"))
