"""PatchGAN and pixel discriminators of pix2pix / CycleGAN.

Both return a 1-channel map of raw logits (no sigmoid); the GAN losses in :mod:`i2i.nn.losses`
expect logits. Layer order and attribute names (``model``, ``net``) follow the reference
implementation, so ``state_dict`` keys match it (without spectral norm).

Example:
    >>> import torch
    >>> d = NLayerDiscriminator(3, ndf=8)
    >>> d(torch.zeros(1, 3, 256, 256)).shape
    torch.Size([1, 1, 30, 30])
    >>> receptive_field(3)
    70
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.errors import InputError
from i2i.nn._checks import check_input, check_int, checking
from i2i.nn.norm import norm_layer, uses_bias
from i2i.nn.norm import spectral_norm as apply_spectral_norm

_KERNEL = 4
_PAD = 1


def _strides(n_layers: int) -> list[int]:
    """Strides of the PatchGAN convs: ``n_layers`` stride-2 convs, then two stride-1 convs."""
    return [2] * n_layers + [1, 1]


def receptive_field(n_layers: int) -> int:
    """Receptive field (pixels) of one output logit of :class:`NLayerDiscriminator`.

    Args:
        n_layers: Stride-2 conv layers of the PatchGAN.

    Returns:
        The side of the square input patch one logit sees (70 for ``n_layers=3``).

    Raises:
        ConfigError: ``n_layers < 1``.
    """
    check_int("n_layers", n_layers, 1)
    field = 1
    for stride in reversed(_strides(n_layers)):
        field = (field - 1) * stride + _KERNEL
    return field


def patchgan_output_size(size: int, n_layers: int) -> int:
    """Height (or width) of the logit map of :class:`NLayerDiscriminator` for an input side.

    Args:
        size: Input height (or width) in pixels.
        n_layers: Stride-2 conv layers of the PatchGAN.

    Returns:
        The output side; ``<= 0`` means the input is too small.

    Raises:
        ConfigError: ``n_layers < 1``.
    """
    check_int("n_layers", n_layers, 1)
    for stride in _strides(n_layers):
        if size < _KERNEL - 2 * _PAD:
            return 0
        size = (size + 2 * _PAD - _KERNEL) // stride + 1
    return size


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator: classifies each overlapping patch as real or fake.

    Layers: ``Conv(k4, s2) + LeakyReLU(0.2)``, ``n_layers - 1`` times
    ``Conv(k4, s2) + norm + LeakyReLU``, one ``Conv(k4, s1) + norm + LeakyReLU``, and a final
    ``Conv(k4, s1)`` to one channel. Channels double per layer up to ``8 * ndf``. With
    ``n_layers=3`` every logit sees a 70x70 patch (:func:`receptive_field`).

    Args:
        in_channels: Channels of the input (e.g. 3, or 6 for a conditional pix2pix pair).
        ndf: Channels of the first layer.
        n_layers: Stride-2 conv layers.
        norm: Norm layer name (see :func:`i2i.nn.norm_layer`).
        spectral_norm: Wrap every conv in spectral normalization.
        bias: Conv biases before norms; ``None`` (default) = :func:`i2i.nn.uses_bias` of
            ``norm`` (the reference code's ``--norm none`` nets have none: ``bias=False``).

    Raises:
        ConfigError: an invalid size or norm name.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: :math:`(N, 1, H', W')` logits, with ``H' = patchgan_output_size(H, n_layers)``
          (30 for 256 px and ``n_layers=3``).
    """

    def __init__(
        self,
        in_channels: int,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        spectral_norm: bool = False,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("ndf", ndf, 1)
        check_int("n_layers", n_layers, 1)
        bias = uses_bias(norm) if bias is None else bias
        self.in_channels = in_channels
        self.n_layers = n_layers
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, _KERNEL, stride=2, padding=_PAD),
            nn.LeakyReLU(0.2),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, _KERNEL, stride=stride, padding=_PAD, bias=bias),
                norm_layer(norm, ndf * mult),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, _KERNEL, stride=1, padding=_PAD))
        self.model = nn.Sequential(*layers)
        apply_spectral_norm(self, spectral_norm)

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the patch one output logit sees."""
        return receptive_field(self.n_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score every patch.

        Args:
            x: Images (or image pairs concatenated on channels).

        Returns:
            Logit map, one channel.

        Raises:
            InputError: wrong channel count, or an input too small for the conv stack.
        """
        if checking():
            check_input(x, self.in_channels, 1, "discriminator")
            h, w = x.shape[-2:]
            if (
                min(patchgan_output_size(h, self.n_layers), patchgan_output_size(w, self.n_layers))
                < 1
            ):
                raise InputError(
                    f"PatchGAN with n_layers={self.n_layers} needs larger inputs, got {h}x{w}; "
                    "use larger crops or fewer discriminator layers"
                )
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("PixelGAN"): classifies every pixel independently.

    Layers: ``Conv1x1(ndf) + LeakyReLU(0.2)``, ``Conv1x1(2 ndf) + norm + LeakyReLU``,
    ``Conv1x1(1)``.

    Args:
        in_channels: Channels of the input.
        ndf: Channels of the first layer.
        norm: Norm layer name (see :func:`i2i.nn.norm_layer`).
        spectral_norm: Wrap every conv in spectral normalization.
        bias: Conv biases before norms; ``None`` (default) = :func:`i2i.nn.uses_bias` of
            ``norm`` (the reference code's ``--norm none`` nets have none: ``bias=False``).

    Raises:
        ConfigError: an invalid size or norm name.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`.
        - Output: :math:`(N, 1, H, W)` logits.
    """

    def __init__(
        self,
        in_channels: int,
        ndf: int = 64,
        norm: str = "instance",
        spectral_norm: bool = False,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("ndf", ndf, 1)
        bias = uses_bias(norm) if bias is None else bias
        self.in_channels = in_channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
            norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )
        apply_spectral_norm(self, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score every pixel.

        Args:
            x: Images.

        Returns:
            Logit map, one channel, same height and width.

        Raises:
            InputError: wrong input rank or channel count.
        """
        check_input(x, self.in_channels, 1, "discriminator")
        return self.net(x)
