"""pytorch-CycleGAN-and-pix2pix checkpoints: detection, strict keys, equal outputs."""

from __future__ import annotations

import json

import pytest
import torch

from i2i.errors import CheckpointError, ConfigError

TOL = 1e-5


def _x(c: int = 3, h: int = 32, w: int = 48) -> torch.Tensor:
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize(
    ("norm", "dropout", "n_blocks", "old_stats", "nbt"),
    [
        ("instance", False, 2, False, True),
        ("instance", False, 3, True, True),  # PyTorch < 0.4 file: instance-norm statistics
        ("batch", True, 2, False, False),  # with dropout; no num_batches_tracked
        ("none", False, 2, False, True),  # norm none: convs without bias
    ],
)
def test_resnet_generator(ref, imported, tmp_path, norm, dropout, n_blocks, old_stats, nbt):
    sd = ref.resnet_g(
        3, 1, ngf=4, n_blocks=n_blocks, norm=norm, dropout=dropout, old_stats=old_stats, nbt=nbt
    )
    result, model = imported(ref.save(sd, tmp_path / "src" / "latest_net_G.pth"))
    assert result.family == "pix2pix"
    assert f"{n_blocks} blocks" in result.detected[0] and f"{norm} norm" in result.detected[0]
    cfg = model.config
    assert (cfg.input_nc, cfg.output_nc, cfg.generator.ngf, cfg.generator.norm) == (3, 1, 4, norm)
    assert cfg.generator.dropout == (0.5 if dropout else 0.0)
    assert cfg.inference_norm == "running" and result.initialized == ["D"]
    x = _x()
    with torch.no_grad():
        got = model.inference_module()(x)
        want = ref.resnet_g_forward(sd, x, n_blocks, norm, dropout)
    assert (got - want).abs().max() < TOL


@pytest.mark.parametrize(
    ("depth", "norm", "arch"), [(5, "batch", "unet"), (7, "instance", "unet_128")]
)
def test_unet_generator_and_patchgan(ref, imported, tmp_path, depth, norm, arch):
    g = ref.unet_g(3, 3, ngf=2, depth=depth, norm=norm)
    d = ref.patchgan_d(6, ndf=4, n_layers=2, norm=norm)
    src = ref.save(g, tmp_path / "src" / "latest_net_G.pth")
    ref.save(d, tmp_path / "src" / "latest_net_D.pth")
    (tmp_path / "src" / "train_opt.txt").write_text(
        "----------------- Options ---------------\n"
        "                 direction: BtoA                          \n"
        "                     model: pix2pix                       \t[default: cycle_gan]\n"
    )
    result, model = imported(src)
    assert model.config.generator.arch == arch and model.config.generator.n_downsampling == depth
    assert model.config.direction == "BtoA" and result.initialized == []
    assert model.config.discriminator.n_layers == 2 and model.config.discriminator.norm == norm
    n = 2**depth
    x = _x(h=n, w=2 * n)
    with torch.no_grad():
        got = model.inference_module("BtoA")(x)
        want = ref.unet_g_forward(g, x, depth, norm)
        pair = torch.cat([x, want], 1)
        d_got = model.D.eval()(pair)
        d_want = ref.patchgan_d_forward(d, pair, 2, norm)
    assert (got - want).abs().max() < TOL
    assert (d_got - d_want).abs().max() < TOL


def test_cyclegan_pair_and_discriminators(ref, imported, tmp_path):
    src = tmp_path / "horse2zebra"
    ga, gb = ref.resnet_g(3, 3, ngf=4, n_blocks=2), ref.resnet_g(3, 3, ngf=4, n_blocks=2)
    da, db = ref.patchgan_d(3, 4, 3, "instance"), ref.patchgan_d(3, 4, 3, "instance")
    for name, sd in (("G_A", ga), ("G_B", gb), ("D_A", da), ("D_B", db)):
        ref.save(sd, src / f"latest_net_{name}.pth")
    result, model = imported(src / "latest_net_G_B.pth")  # either generator works
    assert result.family == "cyclegan" and result.initialized == []
    record = json.loads((result.run_dir / "import.json").read_text())
    assert set(record["sources"]) == {f"latest_net_{n}.pth" for n in ("G_A", "G_B", "D_A", "D_B")}
    x = _x(h=64, w=64)
    with torch.no_grad():
        for direction, sd in (("AtoB", ga), ("BtoA", gb)):
            got = model.inference_module(direction).eval()(x)
            assert (got - ref.resnet_g_forward(sd, x, 2, "instance", False)).abs().max() < TOL
        assert (
            model.D_A.eval()(x) - ref.patchgan_d_forward(da, x, 3, "instance")
        ).abs().max() < TOL
    # one direction of the pair, as pix2pix
    result, model = imported(src / "latest_net_G_B.pth", family="pix2pix")
    assert result.family == "pix2pix" and model.config.direction == "BtoA"


def test_wrong_family_and_broken_layouts(ref, imported, tmp_path):
    single = ref.save(ref.resnet_g(n_blocks=1), tmp_path / "a" / "latest_net_G_A.pth")
    with pytest.raises(ConfigError, match="needs both generators; latest_net_G_B.pth"):
        imported(single, family="cyclegan")
    with pytest.raises(ConfigError, match=r"--family srgan: .*imports as pix2pix or cyclegan"):
        imported(single, family="srgan")
    sd = ref.resnet_g(n_blocks=2)
    sd.pop("model.4.bias")  # the first downsampling conv lost its bias
    with pytest.raises(CheckpointError, match=r"missing key 'model\.4\.bias'"):
        imported(ref.save(sd, tmp_path / "b" / "latest_net_G.pth"))
    sd = ref.resnet_g(n_blocks=2)
    sd["model.99.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected key 'model\.99\.weight'"):
        imported(ref.save(sd, tmp_path / "c" / "latest_net_G.pth"))
    d = ref.save(ref.patchgan_d(6), tmp_path / "d" / "latest_net_D.pth")
    with pytest.raises(ConfigError, match=r"is a discriminator .*latest_net_G\.pth"):
        imported(d)
