"""Weight initialization by name.

Example:
    >>> from torch import nn
    >>> net = init_weights(nn.Conv2d(3, 8, 3), kind="normal", gain=0.02)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch
from torch import nn
from torch.nn.utils import parametrize

from i2i.errors import ConfigError


def _normal(w: torch.Tensor, gain: float) -> None:
    nn.init.normal_(w, 0.0, gain)


def _xavier(w: torch.Tensor, gain: float) -> None:
    nn.init.xavier_normal_(w, gain=gain)


def _kaiming(w: torch.Tensor, gain: float) -> None:
    # As in the reference: He init for ReLU, fan-in mode; ``gain`` is not used.
    nn.init.kaiming_normal_(w, a=0, mode="fan_in")


def _orthogonal(w: torch.Tensor, gain: float) -> None:
    nn.init.orthogonal_(w, gain=gain)


#: Read-only mapping from init name to ``fn(weight, gain)`` (in place).
INIT_KINDS: Mapping[str, Callable[[torch.Tensor, float], None]] = MappingProxyType(
    {"normal": _normal, "xavier": _xavier, "kaiming": _kaiming, "orthogonal": _orthogonal}
)

_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _raw_weight(m: nn.Module) -> torch.Tensor:
    """The trainable weight tensor, behind a parametrization (e.g. spectral norm) if any."""
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def _refresh_spectral_norm(m: nn.Module) -> None:
    """Re-run the power iteration of spectral norm so ``u``/``v`` match the new weight."""
    if not parametrize.is_parametrized(m, "weight"):
        return
    original = m.parametrizations.weight.original
    for p in m.parametrizations.weight:
        reshape = getattr(p, "_reshape_weight_to_matrix", None)
        power = getattr(p, "_power_method", None)
        if reshape is not None and power is not None and original.ndim > 1:
            power(reshape(original), 15)


def init_weights(module: nn.Module, kind: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialize the weights of every conv / linear / norm layer of ``module`` in place.

    Conv and linear weights follow ``kind`` and biases become 0. Affine norm layers (batch norm,
    affine instance norm, group / layer norm) get weights ~ N(1, gain) and biases 0, as in the
    CycleGAN/pix2pix reference. Spectral-normalized layers initialize their original weight
    (``parametrizations.weight.original``) and refresh their power-iteration vectors.

    Args:
        module: The network; modified in place.
        kind: ``"normal"`` (N(0, gain)), ``"xavier"`` (Glorot normal with ``gain``),
            ``"kaiming"`` (He normal, fan-in, ``gain`` unused) or ``"orthogonal"`` (with ``gain``).
        gain: Scale of the init.

    Returns:
        ``module`` itself.

    Raises:
        ConfigError: ``kind`` is unknown (the message lists the known names) or ``gain <= 0``.
    """
    if kind not in INIT_KINDS:
        raise ConfigError(
            f"unknown init {kind!r}; expected one of: {', '.join(INIT_KINDS)} "
            "(set init to one of these)"
        )
    if not (gain > 0 and math.isfinite(gain)):
        raise ConfigError(f"init gain must be a positive number, got {gain}")
    fn = INIT_KINDS[kind]
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, _WEIGHTED):
                fn(_raw_weight(m), gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                _refresh_spectral_norm(m)
            elif isinstance(m, _NORMS):
                if getattr(m, "weight", None) is not None:
                    nn.init.normal_(m.weight, 1.0, gain)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
    return module
