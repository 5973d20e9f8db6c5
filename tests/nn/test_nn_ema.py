from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i.errors import ConfigError
from i2i.nn import ModelEMA


def test_ema_update_math_and_warmup() -> None:
    net = nn.Linear(3, 2)
    ema = ModelEMA(net, decay=0.99)
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    d = ema.current_decay()
    assert d == pytest.approx(2 / 11)  # warm-up: min(0.99, (1 + 1) / (10 + 1))
    ema.update(net)
    torch.testing.assert_close(ema.module.weight, d * start + (1 - d) * net.weight.detach())
    assert int(ema.num_updates) == 1
    for _ in range(1000):
        ema.update(net)
    assert ema.current_decay() == 0.99  # warm-up over
    torch.testing.assert_close(ema.module.weight, net.weight.detach(), atol=1e-4, rtol=0)


def test_ema_is_frozen_eval_and_checkpointed() -> None:
    parent = nn.Module()
    parent.net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    parent.ema = ModelEMA(parent.net, decay=0.5, warmup=False)
    parent.train()
    assert not parent.ema.module.training
    assert not any(p.requires_grad for p in parent.ema.parameters())
    parent.net(torch.randn(4, 1, 8, 8))  # changes running statistics
    parent.ema.update(parent.net)
    torch.testing.assert_close(parent.ema.module[1].running_mean, parent.net[1].running_mean)
    assert {"ema.module.0.weight", "ema.num_updates"} <= set(parent.state_dict())


def test_ema_errors() -> None:
    with pytest.raises(ConfigError, match=r"decay must be in \[0, 1\)"):
        ModelEMA(nn.Linear(1, 1), decay=1.0)
    with pytest.raises(ConfigError, match="cannot follow"):
        ModelEMA(nn.Linear(1, 1)).update(nn.Sequential(nn.Linear(1, 1), nn.Linear(1, 1)))
