"""Normalization layers by name, and a spectral-normalization wrapper.

Example:
    >>> layer = norm_layer("instance", 64)
    >>> uses_bias("batch"), uses_bias("instance")
    (False, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

from i2i.errors import ConfigError


def _batch(channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels, affine=True, track_running_stats=True)


class InstanceNorm(nn.GroupNorm):
    """Instance normalization without affine parameters or running statistics.

    Computes exactly what ``nn.InstanceNorm2d(channels)`` does (as in the CycleGAN/pix2pix paper
    code), as a GroupNorm with one group per channel: the same math and eps, but a faster CPU
    kernel (about 2x forward+backward) and no reshape into batch norm. Like InstanceNorm2d it has
    no parameters or buffers, so state dicts are unchanged.

    Shape:
        - Input: (N, C, H, W). Output: same.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__(channels, channels, eps=eps, affine=False)


def _instance(channels: int) -> nn.Module:
    return InstanceNorm(channels)


def _none(channels: int) -> nn.Module:
    return nn.Identity()


#: Read-only mapping from norm name to ``factory(channels) -> nn.Module``.
NORM_LAYERS: Mapping[str, Callable[[int], nn.Module]] = MappingProxyType(
    {"batch": _batch, "instance": _instance, "none": _none}
)


def _check_norm(name: str) -> None:
    if name not in NORM_LAYERS:
        raise ConfigError(
            f"unknown norm {name!r}; expected one of: {', '.join(NORM_LAYERS)} "
            "(set norm to one of these)"
        )


def norm_layer(name: str, channels: int) -> nn.Module:
    """Build a 2-d normalization layer by name.

    Args:
        name: ``"batch"`` (``BatchNorm2d``, affine), ``"instance"``
            (:class:`InstanceNorm`: InstanceNorm2d math without
            affine parameters or running statistics) or ``"none"`` (``Identity``).
        channels: Number of channels normalized.

    Returns:
        The layer.

    Raises:
        ConfigError: ``name`` is unknown (the message lists the known names) or ``channels < 1``.

    Shape:
        - Input: :math:`(N, C, H, W)`; output: same shape.
    """
    _check_norm(name)
    if channels < 1:
        raise ConfigError(f"norm layer channels must be >= 1, got {channels}")
    return NORM_LAYERS[name](channels)


def uses_bias(norm_name: str) -> bool:
    """Whether a conv followed by this norm should have a bias.

    Batch norm subtracts the per-channel mean and adds its own shift, so a conv bias before it is
    redundant; every other norm keeps the conv bias (as in the reference implementation for
    instance norm).

    Args:
        norm_name: A name accepted by :func:`norm_layer`.

    Returns:
        ``False`` for ``"batch"``, else ``True``.

    Raises:
        ConfigError: ``norm_name`` is unknown.
    """
    _check_norm(norm_name)
    return norm_name != "batch"


_SN_TYPES = (nn.modules.conv._ConvNd, nn.Linear)


def spectral_norm(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Apply spectral normalization to every conv / linear layer in ``module`` (or to itself).

    Uses :func:`torch.nn.utils.parametrizations.spectral_norm` on the ``weight`` of each
    ``Conv*d`` / ``ConvTranspose*d`` / ``Linear`` sub-module that is not parametrized yet.
    The original weight stays reachable as ``layer.parametrizations.weight.original``.

    Args:
        module: A layer or a network; modified in place.
        enabled: When ``False``, return ``module`` unchanged (handy for config flags).

    Returns:
        ``module`` itself.
    """
    if not enabled:
        return module
    targets = [
        m
        for m in module.modules()
        if isinstance(m, _SN_TYPES) and not parametrize.is_parametrized(m, "weight")
    ]
    for m in targets:
        _torch_spectral_norm(m)
    return module
