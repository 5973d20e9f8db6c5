"""The defaults of i2i.GANModel and i2i.ModelSpec for a one-generator translation family."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import i2i
from i2i.nn import discriminator_loss


@dataclasses.dataclass(frozen=True)
class Cfg:
    input_nc: int = i2i.opt(1, "in")
    output_nc: int = i2i.opt(3, "out")
    optim: i2i.OptimConfig = i2i.opt(
        i2i.OptimConfig(lr=1e-3, lr_d=4e-3, beta1=0.0, beta2=0.9, weight_decay=0.1), "Adam"
    )


class Net(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv, self.stride = nn.Conv2d(cin, cout, 1), stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Minimal(i2i.GANModel):
    """Only what a family must write: __init__, forward_step, losses."""

    def __init__(self, config: Cfg = Cfg()) -> None:
        super().__init__()
        self.config = config
        self.G = Net(config.input_nc, config.output_nc, stride=4)
        self.D = Net(config.output_nc, 1)

    def forward_step(self, batch):
        return {"fake_B": self.G(batch["A"])}

    def losses(self, group, batch, cache):
        return {"x": cache["fake_B"].mean()}


def test_optimizer_groups_from_the_config() -> None:
    m = Minimal()
    g, d = m.optimizer_groups()
    assert (g.name, g.modules, g.lr, g.betas, g.weight_decay) == ("G", [m.G], 1e-3, (0.0, 0.9), 0.1)
    assert (d.name, d.modules, d.lr) == ("D", [m.D], 4e-3)
    assert m.step_groups(0) == ("G", "D")

    class GeneratorOnly(Minimal):
        discriminator_names = ()

    assert [x.name for x in GeneratorOnly().optimizer_groups()] == ["G"]
    m.config = object()
    with pytest.raises(i2i.ConfigError, match="config.optim"):
        m.optimizer_groups()


def test_inference_module_info_and_directions() -> None:
    m = Minimal()
    assert m.inference_directions() == ("AtoB",) and m.inference_module() is m.G
    info = m.inference_info()
    assert info == i2i.InferenceInfo(inputs=("image",), in_channels=1, out_channels=3, stride=4)
    with pytest.raises(i2i.ConfigError, match="translates in direction\\(s\\) AtoB, not 'BtoA'"):
        m.inference_module("BtoA")

    class TwoWay(Minimal):
        generator_names = ("G", "F")

        def __init__(self) -> None:
            super().__init__()
            self.F = Net(3, 1, stride=2)

        def inference_directions(self):
            return ("AtoB", "BtoA")

    t = TwoWay()
    assert t.inference_module("BtoA") is t.F
    back = t.inference_info("BtoA")
    assert (back.in_channels, back.out_channels, back.stride, back.direction) == (3, 1, 2, "BtoA")
    m.config = object()
    with pytest.raises(i2i.ConfigError, match="input_nc"):
        m.inference_info()


def test_visuals_show_input_output_target() -> None:
    m = Minimal()
    batch = {"A": torch.zeros(1, 1, 8, 8), "B": torch.zeros(1, 3, 8, 8), "A_path": ["a.png"]}
    cache = m.forward_step(batch) | {"code": torch.zeros(1, 16)}
    assert list(m.visuals(batch, cache)) == ["real_A", "fake_B", "real_B"]


def test_spec_defaults_and_discriminator_loss() -> None:
    spec = i2i.ModelSpec("m", "s", Cfg, lambda c, ctx: Minimal(c), dataset_format="unpaired")
    assert spec.batch_keys == ("A", "B") and spec.directions == ("AtoB",)
    assert spec.data_channels(Cfg()) == {"A": 1, "B": 3}
    with pytest.raises(i2i.ConfigError, match="input_nc / output_nc"):
        spec.data_channels(object())

    d, loss = Net(3, 1), i2i.nn.LSGANLoss()
    real, fake = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8, requires_grad=True)
    value = discriminator_loss(loss, d, real, fake)
    expected = 0.5 * (loss(d(real), True, for_discriminator=True) + loss(d(fake), False, True))
    assert torch.equal(value, expected)
    value.backward()
    assert fake.grad is None  # the fakes are detached
    wgan = discriminator_loss(i2i.nn.WGANLoss(), d, real, fake, gp_weight=10.0)
    plain = 0.5 * (d(real).mean().neg() + d(fake).mean())
    assert not torch.allclose(wgan, plain)  # the gradient penalty is added
