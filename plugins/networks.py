"""Built-in plugin: the ResNet and U-Net generators and the PatchGAN / pixel discriminators.

Registers ``generator.arch = "resnet" | "unet" | "unet_128" | "unet_256"`` and
``discriminator.arch = "patchgan" | "pixel"``. Uses only i2i's public API, exactly as a
third-party plugin would.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from i2i import ConfigError, DiscriminatorConfig, GeneratorConfig, Registrar, conv_bias, hookimpl
from i2i.nn import (
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    init_weights,
)

#: Smallest U-Net depth (``generator.n_downsampling`` of arch ``unet``).
MIN_UNET_DEPTH = 5


def build_resnet(
    in_channels: int, out_channels: int, cfg: GeneratorConfig, context: Any = None
) -> nn.Module:
    """Build and initialize a :class:`~i2i.nn.ResnetGenerator` from a generator config.

    Args:
        in_channels: Input image channels.
        out_channels: Output image channels.
        cfg: Uses ``ngf``, ``n_blocks``, ``n_downsampling``, ``norm``, ``dropout``, ``padding``,
            ``upsample``, ``bias``, ``init`` and ``init_gain``.
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
        bias=conv_bias(cfg.bias),
    )
    return init_weights(net, cfg.init, cfg.init_gain)


def build_unet(
    in_channels: int,
    out_channels: int,
    cfg: GeneratorConfig,
    context: Any = None,
    num_downs: int | None = None,
) -> nn.Module:
    """Build and initialize a pix2pix :class:`~i2i.nn.UnetGenerator` from a generator config.

    For arch ``unet`` the depth is ``cfg.n_downsampling`` (at least 5; 7 reduces 128 px and 8
    reduces 256 px to 1x1 at the bottleneck); ``unet_128`` / ``unet_256`` fix it to 7 / 8 and
    ignore ``n_downsampling``.

    Args:
        in_channels: Input image channels.
        out_channels: Output image channels.
        cfg: Uses ``ngf``, ``norm``, ``dropout`` (middle levels; the paper uses 0.5), ``init``,
            ``init_gain`` and, without ``num_downs``, ``n_downsampling``; ``n_blocks``,
            ``padding`` and ``upsample`` are ignored.
        context: The i2i context (unused).
        num_downs: A fixed depth (``unet_128`` / ``unet_256``), or ``None`` for
            ``cfg.n_downsampling``.

    Returns:
        The generator; its ``stride`` is ``2 ** depth``.

    Raises:
        ConfigError: an invalid config value, e.g. a depth below 5.
    """
    if num_downs is None:
        num_downs = cfg.n_downsampling
        if isinstance(num_downs, int) and num_downs < MIN_UNET_DEPTH:
            raise ConfigError(
                f"generator arch 'unet' uses n_downsampling as its depth, which must be >= "
                f"{MIN_UNET_DEPTH}, got {num_downs}; set generator.n_downsampling (7 for 128 px, "
                "8 for 256 px) or use arch unet_128 / unet_256"
            )
    net = UnetGenerator(
        in_channels,
        out_channels,
        num_downs=num_downs,
        ngf=cfg.ngf,
        norm=cfg.norm,
        dropout=cfg.dropout,
        bias=conv_bias(cfg.bias),
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
        bias=conv_bias(cfg.bias),
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
        in_channels, ndf=cfg.ndf, norm=cfg.norm, spectral_norm=cfg.spectral_norm,
        bias=conv_bias(cfg.bias),
    )  # fmt: skip
    return init_weights(net, cfg.init, cfg.init_gain)


@hookimpl
def i2i_register_networks(generators: Registrar, discriminators: Registrar) -> None:
    """Register ``resnet`` / ``unet*`` generators and ``patchgan`` / ``pixel`` discriminators."""
    generators.add("resnet", build_resnet)
    generators.add("unet", build_unet)
    generators.add("unet_128", partial(build_unet, num_downs=7))
    generators.add("unet_256", partial(build_unet, num_downs=8))
    discriminators.add("patchgan", build_patchgan)
    discriminators.add("pixel", build_pixel)
