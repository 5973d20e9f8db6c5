from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from i2i import ConfigError, DiscriminatorConfig, GeneratorConfig
from i2i.nn import (
    HingeGANLoss,
    LSGANLoss,
    ResnetGenerator,
    UnetGenerator,
    VanillaGANLoss,
    WGANLoss,
)
from i2i.registry import Registrar, Registry

# importlib keeps the import order stable whether or not ruff knows i2i.plugins is first-party
p = importlib.import_module("i2i.plugins.networks")
lp = importlib.import_module("i2i.plugins.losses")


def test_network_plugin_registers_and_builds() -> None:
    g, d = Registry("g"), Registry("d")
    p.i2i_register_networks(Registrar(g, "networks"), Registrar(d, "networks"))
    assert g.names() == ["resnet", "unet", "unet_128", "unet_256"]
    assert d.names() == ["patchgan", "pixel"]
    assert g.owner("resnet") == "networks"
    cfg = GeneratorConfig(ngf=8, n_blocks=2, upsample="resize")
    net = g.get("resnet")(1, 3, cfg, None)
    assert isinstance(net, ResnetGenerator) and net.stride == 4
    assert net(torch.randn(1, 1, 32, 48)).shape == (1, 3, 32, 48)
    first = net.model[1].weight
    assert first.std().item() < 0.05  # init_weights(normal, 0.02) applied
    dcfg = DiscriminatorConfig(ndf=4, n_layers=2, norm="none", spectral_norm=True)
    disc = d.get("patchgan")(3, dcfg, None)
    assert disc(torch.randn(1, 3, 32, 32)).shape[1] == 1
    pix = d.get("pixel")(3, DiscriminatorConfig(ndf=4, init="xavier", init_gain=1.0), None)
    assert pix(torch.randn(1, 3, 8, 8)).shape == (1, 1, 8, 8)


def test_network_plugin_builds_unets() -> None:
    g = Registry("g")
    p.i2i_register_networks(Registrar(g, "networks"), Registrar(Registry("d"), "networks"))
    assert all(g.owner(n) == "networks" for n in ("unet", "unet_128", "unet_256"))
    cfg = GeneratorConfig(arch="unet", ngf=2, n_downsampling=6, norm="instance", dropout=0.5)
    net = g.get("unet")(1, 3, cfg, None)
    assert isinstance(net, UnetGenerator) and net.stride == 64
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 1
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert net(torch.randn(1, 1, 64, 128)).shape == (1, 3, 64, 128)
    assert net.model.model[0].weight.std().item() < 0.05  # init_weights(normal, 0.02) applied
    small = GeneratorConfig(ngf=1, norm="batch", dropout=0.0, n_downsampling=2)
    for name, stride in (("unet_128", 128), ("unet_256", 256)):
        built = g.get(name)(3, 3, small, None)  # n_downsampling is ignored
        assert isinstance(built, UnetGenerator) and built.stride == stride
        assert any(isinstance(m, nn.BatchNorm2d) for m in built.modules())
    xavier = g.get("unet_128")(3, 3, GeneratorConfig(ngf=1, init="xavier", init_gain=1.0), None)
    assert xavier.model.model[0].weight.std().item() > 0.05
    with pytest.raises(ConfigError, match="n_downsampling"):
        g.get("unet")(3, 3, GeneratorConfig(arch="unet"), None)  # default depth 2 is too shallow


def test_loss_plugin_registers_factories() -> None:
    reg = Registry("GAN loss")
    lp.i2i_register_losses(Registrar(reg, "losses"))
    assert reg.names() == ["hinge", "lsgan", "vanilla", "wgangp"]
    expected = {
        "vanilla": VanillaGANLoss,
        "lsgan": LSGANLoss,
        "hinge": HingeGANLoss,
        "wgangp": WGANLoss,
    }
    for name, cls in expected.items():
        loss = reg.get(name)()
        assert isinstance(loss, cls)
        assert loss(torch.zeros(1, 1, 2, 2), True).ndim == 0
    assert reg.get("wgangp")().uses_gradient_penalty
