"""Super-resolution primitives: generator and discriminator shapes, spectral norm, pixel losses
and the relativistic average GAN loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, InputError
from i2i.nn import (
    LSGANLoss,
    RelativisticAverageGANLoss,
    RRDBNet,
    SRResNet,
    UNetDiscriminator,
    Upsampler,
    VanillaGANLoss,
    VGGStyleDiscriminator,
    WGANLoss,
    charbonnier_loss,
    pixel_loss,
)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("mode", ["pixelshuffle", "nearest"])
def test_upsampler_shapes(scale, mode) -> None:
    up = Upsampler(8, scale, mode)
    assert up(torch.zeros(2, 8, 5, 7)).shape == (2, 8, 5 * scale, 7 * scale)
    shuffles = [m for m in up if isinstance(m, torch.nn.PixelShuffle)]
    # x4 = two x2 sub-pixel steps, each conv to 4x the channels
    assert len(shuffles) == (scale.bit_length() - 1 if mode == "pixelshuffle" else 0)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("cls", [SRResNet, RRDBNet])
def test_generators_upscale_any_size(cls, scale) -> None:
    kw = {"growth": 4} if cls is RRDBNet else {}
    g = cls(3, 3, scale=scale, nf=8, n_blocks=2, **kw)
    x = torch.randn(2, 3, 13, 9, requires_grad=True)
    y = g(x)
    assert y.shape == (2, 3, 13 * scale, 9 * scale)
    y.mean().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_reference_parameter_counts() -> None:
    # ESRGAN RRDB_PSNR_x4 / BasicSR MSRResNet x4 / Real-ESRGAN UNetDiscriminatorSN / ESRGAN VGG128
    assert sum(p.numel() for p in RRDBNet().parameters()) == 16_697_987
    assert sum(p.numel() for p in SRResNet().parameters()) == 1_517_571
    assert sum(p.numel() for p in UNetDiscriminator().parameters()) == 4_376_897
    assert sum(p.numel() for p in VGGStyleDiscriminator().parameters()) == 14_499_401


def test_srresnet_global_skip_is_bilinear_upscale() -> None:
    g = SRResNet(3, 3, scale=2, nf=4, n_blocks=1)
    torch.nn.init.zeros_(g.conv_last.weight)
    torch.nn.init.zeros_(g.conv_last.bias)
    x = torch.rand(1, 3, 6, 6)
    expect = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(g(x), expect, atol=1e-6)


def test_bad_scale_and_input() -> None:
    with pytest.raises(ConfigError, match="scale must be one of"):
        RRDBNet(scale=5)
    with pytest.raises(InputError, match=r"expects \(N, 3, H, W\) input"):
        SRResNet(3, 3, nf=4, n_blocks=1)(torch.zeros(1, 1, 8, 8))


def test_unet_discriminator_is_per_pixel_with_spectral_norm() -> None:
    d = UNetDiscriminator(3, ndf=8)
    assert d(torch.zeros(2, 3, 24, 40)).shape == (2, 1, 24, 40)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    sn = [parametrize.is_parametrized(m, "weight") for m in convs]
    assert sn == [False] + [True] * 8 + [False]  # all but the first and the last
    assert not any(parametrize.is_parametrized(m, "weight") for m in UNetDiscriminator(
        3, ndf=8, spectral=False).modules() if isinstance(m, torch.nn.Conv2d))  # fmt: skip
    with pytest.raises(InputError, match="multiples of 8"):
        d(torch.zeros(1, 3, 20, 20))


def test_vgg_discriminator_fixed_size() -> None:
    d = VGGStyleDiscriminator(3, ndf=4, input_size=64)
    assert d(torch.zeros(3, 3, 64, 64)).shape == (3, 1)
    with pytest.raises(InputError, match="64x64 patches"):
        d(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ConfigError, match="multiple of 32"):
        VGGStyleDiscriminator(input_size=100)
    sn = VGGStyleDiscriminator(3, ndf=4, input_size=32, norm="none", spectral=True)
    layers = [m for m in sn.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)


def test_pixel_losses() -> None:
    x, y = torch.zeros(1, 1, 2, 2), torch.tensor([[[[0.0, 1.0], [-2.0, 0.0]]]])
    assert math.isclose(float(pixel_loss("l1")(x, y)), 0.75)
    assert math.isclose(float(pixel_loss("l2")(x, y)), 1.25)
    eps = 1e-3
    expect = (2 * eps + math.sqrt(1 + eps**2) + math.sqrt(4 + eps**2)) / 4
    assert math.isclose(float(charbonnier_loss(x, y, eps)), expect, rel_tol=1e-6)
    # differentiable at zero, unlike L1
    z = torch.zeros(3, requires_grad=True)
    charbonnier_loss(z, torch.zeros(3)).backward()
    assert torch.equal(z.grad, torch.zeros(3))
    with pytest.raises(ConfigError, match="l1, l2, charbonnier"):
        pixel_loss("huber")


def _bce(x: float, t: float) -> float:
    return -(t * math.log(1 / (1 + math.exp(-x))) + (1 - t) * math.log(1 - 1 / (1 + math.exp(-x))))


def test_relativistic_average_loss_by_hand() -> None:
    ra = RelativisticAverageGANLoss(VanillaGANLoss())
    real, fake = torch.tensor([[2.0], [0.0]]), torch.tensor([[1.0], [-1.0]])
    # mean real = 1, mean fake = 0: real_rel = [2, 0], fake_rel = [0, -2]
    d = ((_bce(2, 1) + _bce(0, 1)) / 2 + (_bce(0, 0) + _bce(-2, 0)) / 2) / 2
    g = ((_bce(2, 0) + _bce(0, 0)) / 2 + (_bce(0, 1) + _bce(-2, 1)) / 2) / 2
    assert math.isclose(float(ra(real, fake, True)), d, rel_tol=1e-6)
    assert math.isclose(float(ra(real, fake, False)), g, rel_tol=1e-6)
    # generator gradients reach the fake logits, and the loss falls as fakes get more realistic
    f = fake.clone().requires_grad_(True)
    ra(real, f, False).backward()
    assert float(f.grad.sum()) < 0
    # an LSGAN base (targets 1 / 0) gives RaLSGAN: D = (mean (real_rel - 1)^2 + mean fake_rel^2) / 2
    ls = RelativisticAverageGANLoss(LSGANLoss())
    expect = (((2 - 1) ** 2 + (0 - 1) ** 2) / 2 + (0**2 + (-2) ** 2) / 2) / 2
    assert math.isclose(float(ls(real, fake, True)), expect, rel_tol=1e-6)
    with pytest.raises(ConfigError, match="vanilla, lsgan or hinge"):
        RelativisticAverageGANLoss(WGANLoss())


def test_import_options_value_range_unshuffle_scale_one() -> None:
    """Options the imported BasicSR / Real-ESRGAN models use (docs/import.md)."""
    from i2i.errors import ConfigError
    from i2i.nn import RRDBNet, SRResNet, ValueRange, pixel_unshuffle

    x = torch.rand(2, 3, 8, 12) * 2 - 1
    r = ValueRange((0.0, 1.0))
    assert torch.allclose(r(x), (x + 1) / 2) and torch.allclose(r.back(r(x)), x, atol=1e-7)
    assert ValueRange()(x) is x
    with pytest.raises(ConfigError, match="lo < hi"):
        ValueRange((1.0, 0.0))
    assert torch.equal(pixel_unshuffle(x, 2), torch.nn.functional.pixel_unshuffle(x, 2))
    g = RRDBNet(3, 3, scale=1, nf=4, n_blocks=1, growth=2, pixel_unshuffle=4, value_range=(0, 1))
    assert g.stride == 4 and g.conv_first.in_channels == 48 and g(x).shape == (2, 3, 8, 12)
    assert RRDBNet(3, 3, scale=1, nf=4, n_blocks=0, growth=2)(x).shape == x.shape
    assert SRResNet(3, 3, scale=1, nf=4, n_blocks=1)(x).shape == x.shape
    with pytest.raises(ConfigError, match="x16 trunk"):
        RRDBNet(3, 3, scale=4, nf=4, n_blocks=1, growth=2, pixel_unshuffle=4)
