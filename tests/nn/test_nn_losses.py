from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from i2i.errors import InputError
from i2i.nn import (
    HingeGANLoss,
    LSGANLoss,
    NLayerDiscriminator,
    VanillaGANLoss,
    WGANLoss,
    gradient_penalty,
)


def _full(v: float) -> torch.Tensor:
    return torch.full((2, 1, 3, 3), v)


def test_lsgan_values() -> None:
    loss = LSGANLoss()
    assert loss(_full(0.0), True).item() == pytest.approx(1.0)
    assert loss(_full(0.0), False).item() == pytest.approx(0.0)
    assert loss(_full(1.0), False).item() == pytest.approx(1.0)
    assert loss(_full(0.5), True, for_discriminator=False).item() == pytest.approx(0.25)


def test_vanilla_values() -> None:
    loss = VanillaGANLoss()
    assert loss(_full(0.0), True).item() == pytest.approx(math.log(2))
    assert loss(_full(0.0), False).item() == pytest.approx(math.log(2))
    assert loss(_full(20.0), True).item() == pytest.approx(0.0, abs=1e-6)
    # non-saturating generator loss: -log(sigmoid(x)) with target real
    assert loss(_full(-2.0), True, for_discriminator=False).item() == pytest.approx(
        -math.log(1 / (1 + math.exp(2.0))), rel=1e-5
    )


def test_hinge_semantics() -> None:
    loss = HingeGANLoss()
    assert loss(_full(0.0), True).item() == pytest.approx(1.0)
    assert loss(_full(0.0), False).item() == pytest.approx(1.0)
    assert loss(_full(2.0), True).item() == pytest.approx(0.0)
    assert loss(_full(2.0), False).item() == pytest.approx(3.0)
    assert loss(_full(-3.0), False).item() == pytest.approx(0.0)
    assert loss(_full(2.0), True, for_discriminator=False).item() == pytest.approx(-2.0)
    with pytest.raises(InputError, match="target_is_real=True"):
        loss(_full(2.0), False, for_discriminator=False)


def test_wgan_values() -> None:
    loss = WGANLoss()
    assert loss(_full(3.0), True).item() == pytest.approx(-3.0)
    assert loss(_full(3.0), False).item() == pytest.approx(3.0)
    assert loss(_full(3.0), True, for_discriminator=False).item() == pytest.approx(-3.0)
    assert WGANLoss.uses_gradient_penalty and not LSGANLoss.uses_gradient_penalty


def test_multiscale_average_and_feature_lists() -> None:
    loss = LSGANLoss()
    a, b = _full(0.0), torch.full((2, 1, 5, 5), 2.0)
    # (1 + 1) / 2 for target real
    assert loss([a, b], True).item() == pytest.approx(1.0)
    assert loss([a, b], False).item() == pytest.approx((0.0 + 4.0) / 2)
    feats = [[torch.full((2, 4, 8, 8), 9.0), a], [torch.zeros(2, 4, 4, 4), b]]
    assert loss(feats, False).item() == pytest.approx(2.0)
    with pytest.raises(InputError):
        loss([], True)
    with pytest.raises(InputError):
        loss([[]], True)
    with pytest.raises(InputError, match="True or False"):
        loss(a, torch.tensor(1.0))  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [VanillaGANLoss, LSGANLoss, HingeGANLoss, WGANLoss])
def test_bf16_autocast(cls: type[nn.Module]) -> None:
    d = NLayerDiscriminator(3, ndf=4, n_layers=2, norm="none")
    x = torch.randn(1, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = d(x)
        assert pred.dtype == torch.bfloat16
        value = cls()(pred, True)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert all(p.grad is not None for p in d.parameters())


class _Linear(nn.Module):
    def __init__(self, numel: int, scale: float) -> None:
        super().__init__()
        w = torch.randn(numel)
        self.w = nn.Parameter(scale * w / w.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def test_gradient_penalty_unit_gradient_is_zero() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(4, 2, 4, 4), torch.randn(4, 2, 4, 4)
    gp = gradient_penalty(_Linear(32, 1.0), real, fake)
    assert gp.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_positive_and_differentiable() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(4, 2, 4, 4), torch.randn(4, 2, 4, 4, requires_grad=True)
    d = _Linear(32, 2.0)
    gp = gradient_penalty(d, real, fake, weight=10.0)
    assert gp.item() == pytest.approx(10.0, rel=1e-4)  # (2 - 1)^2 * 10
    gp.backward()
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0
    assert fake.grad is None  # fakes are detached


def test_gradient_penalty_reproducible_and_multiscale() -> None:
    d = NLayerDiscriminator(3, ndf=4, n_layers=1, norm="none")
    real, fake = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    a = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(3))
    b = gradient_penalty(d, real, fake, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.item() > 0
    two = gradient_penalty(lambda x: [d(x), [x, d(x)]], real, fake)
    assert torch.isfinite(two)
    with pytest.raises(InputError, match="same"):
        gradient_penalty(d, real, fake[:1])
