"""Exponential moving average (EMA) of a network's weights.

Generators of SR-GANs and class-conditional GANs are usually evaluated with EMA weights: a
smoothed copy that lags the trained network and gives visibly cleaner outputs. A family keeps a
:class:`ModelEMA` as a sub-module (so it is checkpointed with the weights), updates it from
``GANModel.after_step`` and returns it from ``inference_module``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from i2i.errors import ConfigError


class ModelEMA(nn.Module):
    """A frozen copy of ``module`` whose parameters follow ``module`` as an EMA.

    ``ema = decay * ema + (1 - decay) * param`` after every :meth:`update`; with ``warmup`` the
    decay starts low, ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early weights do
    not dominate. Buffers (e.g. batch-norm running statistics) are copied, not averaged.

    Args:
        module: The network to average (copied; left unchanged).
        decay: Decay per update, in [0, 1).
        warmup: Ramp the decay up over the first updates.

    Raises:
        ConfigError: ``decay`` outside [0, 1).

    Example:
        >>> net = nn.Linear(2, 2)
        >>> ema = ModelEMA(net, decay=0.9)
        >>> ema.update(net)
        >>> ema(torch.zeros(1, 2)).shape
        torch.Size([1, 2])
    """

    def __init__(self, module: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"EMA decay must be in [0, 1), got {decay}")
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay the next update uses."""
        n = int(self.num_updates) + 1
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average towards ``source``'s current weights (``source`` may be a DDP
        wrapper of the averaged network)."""
        d = self.current_decay()
        src_params = list(source.parameters())
        ema_params = list(self.module.parameters())
        if len(src_params) != len(ema_params):
            raise ConfigError(
                f"EMA of a network with {len(ema_params)} parameters cannot follow one with "
                f"{len(src_params)}; update it from the network it was made from"
            )
        for e, p in zip(ema_params, src_params, strict=True):
            e.lerp_(p.detach().to(e.dtype), 1.0 - d)
        for e, b in zip(self.module.buffers(), source.buffers(), strict=False):
            e.copy_(b)
        self.num_updates += 1

    def train(self, mode: bool = True) -> ModelEMA:
        """The averaged copy always stays in eval mode."""
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args: object, **kwargs: object) -> object:
        return self.module(*args, **kwargs)
