"""The ResNet generator of CycleGAN (Johnson et al. 2016 / Zhu et al. 2017).

The layer order and attribute names (``model``, ``conv_block``) follow the reference
implementation, so its ``state_dict`` keys match those of ``ResnetGenerator`` there (with
``upsample="transpose"`` and ``dropout=0``).

Example:
    >>> import torch
    >>> g = ResnetGenerator(3, 3, ngf=8, n_blocks=2)
    >>> g(torch.zeros(1, 3, 36, 52)).shape
    torch.Size([1, 3, 36, 52])
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.errors import ConfigError
from i2i.nn._checks import check_choice, check_input, check_int
from i2i.nn.norm import norm_layer, uses_bias

PADDINGS = ("reflect", "replicate", "zeros")
UPSAMPLES = ("transpose", "resize")


def _padded_conv(
    in_channels: int, out_channels: int, kernel_size: int, padding: str, bias: bool
) -> list[nn.Module]:
    """A stride-1 'same' conv: explicit reflect/replicate padding, or zero padding in the conv."""
    pad = kernel_size // 2
    if padding == "reflect":
        return [
            nn.ReflectionPad2d(pad),
            nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias),
        ]
    if padding == "replicate":
        return [
            nn.ReplicationPad2d(pad),
            nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias),
        ]
    return [nn.Conv2d(in_channels, out_channels, kernel_size, padding=pad, bias=bias)]


class ResnetBlock(nn.Module):
    """Residual block: ``x + (pad, conv3x3, norm, ReLU, [dropout], pad, conv3x3, norm)(x)``.

    Args:
        channels: Input and output channels.
        norm: Norm layer name (see :func:`i2i.nn.norm_layer`).
        dropout: Dropout probability between the two convs (0 = no dropout layer).
        padding: ``"reflect"``, ``"replicate"`` or ``"zeros"``.
        bias: Whether the two convs have a bias; ``None`` = :func:`i2i.nn.uses_bias` of ``norm``.

    Raises:
        ConfigError: an unknown norm / padding name or a dropout outside [0, 1).

    Shape:
        - Input: :math:`(N, C, H, W)`; output: same shape.
    """

    def __init__(
        self,
        channels: int,
        norm: str = "instance",
        dropout: float = 0.0,
        padding: str = "reflect",
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_choice("padding", padding, PADDINGS)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        bias = uses_bias(norm) if bias is None else bias
        layers = _padded_conv(channels, channels, 3, padding, bias)
        layers += [norm_layer(norm, channels), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += _padded_conv(channels, channels, 3, padding, bias)
        layers.append(norm_layer(norm, channels))
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Args:
            x: Feature map.

        Returns:
            ``x`` plus the residual.
        """
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN's ResNet generator: stem, downsampling, residual blocks, upsampling, tanh.

    Layers: 7x7 reflect-padded conv (``ngf``), ``n_downsampling`` stride-2 3x3 convs doubling
    the channels, ``n_blocks`` :class:`ResnetBlock`, ``n_downsampling`` upsampling steps halving
    the channels (``ConvTranspose2d(k=3, s=2, p=1, output_padding=1)`` or, with
    ``upsample="resize"``, nearest x2 upsampling + 3x3 conv, which avoids checkerboard
    artifacts), then a 7x7 reflect-padded conv to ``out_channels`` and ``tanh``.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        ngf: Channels of the first layer.
        n_blocks: Residual blocks (9 for 256 px in the paper, 6 for 128 px).
        n_downsampling: Stride-2 steps; inputs must be multiples of ``2 ** n_downsampling``.
        norm: Norm layer name (see :func:`i2i.nn.norm_layer`).
        dropout: Dropout probability inside the residual blocks.
        padding: Padding of the residual blocks (and resize convs): ``"reflect"``,
            ``"replicate"`` or ``"zeros"``.
        upsample: ``"transpose"`` or ``"resize"``.
        bias: Whether the convs followed by a norm have a bias; ``None`` (default) =
            :func:`i2i.nn.uses_bias` of ``norm`` (none before batch norm). The reference code's
            ``--norm none`` nets have no such biases (``bias=False``). The output conv always
            has one.

    Attributes:
        stride: ``2 ** n_downsampling``; input height and width must be multiples of it.

    Raises:
        ConfigError: an invalid size, name or probability.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` with ``H`` and ``W`` multiples of ``stride``.
        - Output: :math:`(N, C_{out}, H, W)` in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        n_blocks: int = 9,
        n_downsampling: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
        padding: str = "reflect",
        upsample: str = "transpose",
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("out_channels", out_channels, 1)
        check_int("ngf", ngf, 1)
        check_int("n_blocks", n_blocks, 0)
        check_int("n_downsampling", n_downsampling, 0)
        check_choice("padding", padding, PADDINGS)
        check_choice("upsample", upsample, UPSAMPLES)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        bias = uses_bias(norm) if bias is None else bias
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride: int = 2**n_downsampling

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(n_downsampling):
            c = ngf * 2**i
            layers += [
                nn.Conv2d(c, 2 * c, kernel_size=3, stride=2, padding=1, bias=bias),
                norm_layer(norm, 2 * c),
                nn.ReLU(True),
            ]
        c = ngf * 2**n_downsampling
        layers += [ResnetBlock(c, norm, dropout, padding, bias) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            if upsample == "transpose":
                layers.append(
                    nn.ConvTranspose2d(
                        c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias
                    )
                )
            else:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                layers += _padded_conv(c, c // 2, 3, padding, bias)
            layers += [norm_layer(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch of images.

        Args:
            x: Images, usually in [-1, 1].

        Returns:
            Translated images in [-1, 1], same height and width.

        Raises:
            InputError: ``x`` is not 4-d, has the wrong channel count, or its height / width is
                not a multiple of :attr:`stride` (checked outside tracing / export only).
        """
        check_input(x, self.in_channels, self.stride, "generator")
        return self.model(x)
