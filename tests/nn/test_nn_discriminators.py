from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, InputError
from i2i.nn import (
    NLayerDiscriminator,
    PixelDiscriminator,
    init_weights,
    patchgan_output_size,
    receptive_field,
)


@pytest.mark.parametrize(("size", "expected"), [(64, 6), (70, 6), (256, 30)])
def test_patchgan_output_shape(size: int, expected: int) -> None:
    assert patchgan_output_size(size, 3) == expected
    if size <= 70:
        d = NLayerDiscriminator(3, ndf=4)
        assert d(torch.randn(2, 3, size, size)).shape == (2, 1, expected, expected)


def test_patchgan_non_square_and_pairs() -> None:
    d = NLayerDiscriminator(6, ndf=4, n_layers=2)
    out = d(torch.randn(1, 6, 48, 64))
    assert out.shape == (1, 1, patchgan_output_size(48, 2), patchgan_output_size(64, 2))


def test_receptive_field_values() -> None:
    assert receptive_field(3) == 70
    assert [receptive_field(n) for n in (1, 2, 4)] == [16, 34, 142]
    assert NLayerDiscriminator(3, ndf=4).receptive_field == 70
    with pytest.raises(ConfigError, match="n_layers"):
        receptive_field(0)


def test_receptive_field_matches_gradient_support() -> None:
    d = NLayerDiscriminator(1, ndf=2, n_layers=3, norm="none")
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(0.1)
                m.bias.zero_()
    x = torch.ones(1, 1, 160, 160, requires_grad=True)
    out = d(x)
    c = out.shape[-1] // 2
    out[0, 0, c, c].backward()
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    cols = x.grad[0, 0].abs().sum(0).nonzero()
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


def test_reference_param_count() -> None:
    assert sum(p.numel() for p in NLayerDiscriminator(3).parameters()) == 2_764_737


def test_pixel_discriminator_shape() -> None:
    d = PixelDiscriminator(3, ndf=4)
    assert d(torch.randn(2, 3, 20, 28)).shape == (2, 1, 20, 28)


@pytest.mark.parametrize("make", [NLayerDiscriminator, PixelDiscriminator])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_gradients_reach_every_parameter(make: type[nn.Module], norm: str) -> None:
    d = init_weights(make(3, ndf=4, norm=norm))
    d(torch.randn(2, 3, 64, 64)).mean().backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name.endswith("weight"):
            assert p.grad.abs().sum() > 0, name


def test_no_sigmoid_logits() -> None:
    d = NLayerDiscriminator(3, ndf=4, norm="none")
    assert not any(isinstance(m, nn.Sigmoid) for m in d.modules())


def test_input_errors() -> None:
    d = NLayerDiscriminator(3, ndf=4)
    with pytest.raises(InputError, match="larger inputs"):
        d(torch.randn(1, 3, 16, 16))
    with pytest.raises(InputError, match="3 channels"):
        d(torch.randn(1, 4, 64, 64))
    with pytest.raises(InputError, match="3 channels"):
        PixelDiscriminator(3, ndf=4)(torch.randn(1, 1, 8, 8))


def test_spectral_norm_option() -> None:
    d = NLayerDiscriminator(3, ndf=4, n_layers=3, norm="none", spectral_norm=True)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    init_weights(d)
    assert d(torch.randn(1, 3, 64, 64)).shape == (1, 1, 6, 6)
    p = PixelDiscriminator(3, ndf=4, spectral_norm=True)
    assert all(
        parametrize.is_parametrized(m, "weight") for m in p.modules() if isinstance(m, nn.Conv2d)
    )
