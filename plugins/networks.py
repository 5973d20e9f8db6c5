"""Built-in plugin: the ResNet generator and the PatchGAN / pixel discriminators.

Registers ``generator.arch = "resnet"`` and ``discriminator.arch = "patchgan" | "pixel"``.
Uses only i2i's public API, exactly as a third-party plugin would.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from i2i import DiscriminatorConfig, GeneratorConfig, Registrar, hookimpl
from i2i.nn import (
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    init_weights,
)


def build_resnet(
    in_channels: int, out_channels: int, cfg: GeneratorConfig, context: Any = None
) -> nn.Module:
    """Build and initialize a :class:`~i2i.nn.ResnetGenerator` from a generator config.

    Args:
        in_channels: Input image channels.
        out_channels: Output image channels.
        cfg: Uses ``ngf``, ``n_blocks``, ``n_downsampling``, ``norm``, ``dropout``, ``padding``,
            ``upsample``, ``init`` and ``init_gain``.
        context: The i2i context (unused).

    Returns:
        The generator; its ``stride`` is ``2 ** cfg.n_downsampling``.

    Raises:
        ConfigError: an invalid config value.
    """
    net = ResnetGenerator(
        in_channels,
        out_channels,
        ngf=cfg.ngf,
        n_blocks=cfg.n_blocks,
        n_downsampling=cfg.n_downsampling,
        norm=cfg.norm,
        dropout=cfg.dropout,
        padding=cfg.padding,
        upsample=cfg.upsample,
    )
    return init_weights(net, cfg.init, cfg.init_gain)


def build_patchgan(in_channels: int, cfg: DiscriminatorConfig, context: Any = None) -> nn.Module:
    """Build and initialize an :class:`~i2i.nn.NLayerDiscriminator` (PatchGAN).

    Args:
        in_channels: Input channels.
        cfg: Uses ``ndf``, ``n_layers``, ``norm``, ``spectral_norm``, ``init`` and ``init_gain``.
        context: The i2i context (unused).

    Returns:
        The discriminator.

    Raises:
        ConfigError: an invalid config value.
    """
    net = NLayerDiscriminator(
        in_channels,
        ndf=cfg.ndf,
        n_layers=cfg.n_layers,
        norm=cfg.norm,
        spectral_norm=cfg.spectral_norm,
    )
    return init_weights(net, cfg.init, cfg.init_gain)


def build_pixel(in_channels: int, cfg: DiscriminatorConfig, context: Any = None) -> nn.Module:
    """Build and initialize a :class:`~i2i.nn.PixelDiscriminator` (1x1 PatchGAN).

    Args:
        in_channels: Input channels.
        cfg: Uses ``ndf``, ``norm``, ``spectral_norm``, ``init`` and ``init_gain``
            (``n_layers`` is ignored).
        context: The i2i context (unused).

    Returns:
        The discriminator.

    Raises:
        ConfigError: an invalid config value.
    """
    net = PixelDiscriminator(
        in_channels, ndf=cfg.ndf, norm=cfg.norm, spectral_norm=cfg.spectral_norm
    )
    return init_weights(net, cfg.init, cfg.init_gain)


@hookimpl
def i2i_register_networks(generators: Registrar, discriminators: Registrar) -> None:
    """Register ``resnet`` generators and ``patchgan`` / ``pixel`` discriminators."""
    generators.add("resnet", build_resnet)
    discriminators.add("patchgan", build_patchgan)
    discriminators.add("pixel", build_pixel)
