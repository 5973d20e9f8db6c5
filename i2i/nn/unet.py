"""The U-Net generator of pix2pix (Isola et al. 2017).

Built like the reference implementation's ``UnetGenerator`` / ``UnetSkipConnectionBlock``:
skip blocks nested from the innermost outwards, with the same layer order and attribute names
(``model``), so the parameter counts and ``state_dict`` keys match those of the reference (with
batch norm, e.g. ``unet_256``: 54,413,955 parameters for RGB -> RGB).

Example:
    >>> import torch
    >>> g = UnetGenerator(3, 3, num_downs=5, ngf=8)
    >>> g.stride
    32
    >>> g(torch.zeros(1, 3, 64, 96)).shape
    torch.Size([1, 3, 64, 96])
"""

from __future__ import annotations

import torch
from torch import nn

from i2i.errors import ConfigError
from i2i.nn._checks import check_input, check_int
from i2i.nn.norm import norm_layer, uses_bias

#: Smallest U-Net depth: the innermost block, three channel-doubling blocks and the outermost one.
MIN_UNET_DOWNS = 5


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``x -> cat([x, up(submodule(down(x)))])`` (no skip when outermost).

    Layers (``model``), as in the reference:

    - outermost: ``conv4x4/2, submodule, ReLU, convT4x4/2 (with bias), tanh``; returns only the
      decoder output (no skip connection).
    - innermost: ``LeakyReLU(0.2), conv4x4/2, ReLU, convT4x4/2, norm``.
    - otherwise: ``LeakyReLU(0.2), conv4x4/2, norm, submodule, ReLU, convT4x4/2, norm`` and, with
      ``dropout > 0``, ``Dropout(dropout)``.

    Convs followed by a norm have a bias only when the norm is not batch norm
    (:func:`i2i.nn.uses_bias`). Like the reference, a non-outermost block applies its LeakyReLU
    to its input in place (so the skip holds ``LeakyReLU(x)``, which the parent's ReLU treats
    exactly like ``x``); do not reuse the input tensor after calling such a block directly.

    Args:
        outer_channels: Channels this block outputs from its decoder (before the skip concat).
        inner_channels: Channels of its down conv (the submodule's input).
        in_channels: Channels of its input; defaults to ``outer_channels``.
        submodule: The next inner level (``None`` only for the innermost block).
        outermost: The top level: no activation before the down conv, no norms, tanh output,
            no skip connection.
        innermost: The bottleneck: no norm after the down conv and no submodule.
        norm: Norm layer name (see :func:`i2i.nn.norm_layer`).
        dropout: Dropout probability after the up path (0 = no dropout layer). Used only by
            middle blocks (neither outermost nor innermost).
        bias: Whether the convs followed by a norm (and the outermost down conv) have a bias;
            ``None`` = :func:`i2i.nn.uses_bias` of ``norm``.

    Raises:
        ConfigError: an invalid size, name or probability, or a submodule that does not fit
            (missing for a non-innermost block, given for the innermost one).

    Shape:
        - Input: :math:`(N, C_{in}, H, W)` with even ``H`` and ``W``.
        - Output: :math:`(N, C_{in} + C_{outer}, H, W)`; :math:`(N, C_{outer}, H, W)` when
          outermost.
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        in_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: float = 0.0,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_int("outer_channels", outer_channels, 1)
        check_int("inner_channels", inner_channels, 1)
        if in_channels is None:
            in_channels = outer_channels
        check_int("in_channels", in_channels, 1)
        _check_dropout(dropout)
        if outermost and innermost:
            raise ConfigError("a U-Net block cannot be both outermost and innermost")
        self.outermost = outermost
        bias = uses_bias(norm) if bias is None else bias
        # In place, as in the reference: the skip then carries LeakyReLU(x) instead of x, which
        # the parent's ReLU maps to ReLU(x) either way (same sign), and one activation per level
        # is not kept for backward.
        downrelu = nn.LeakyReLU(0.2, True)
        downconv = nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=bias)
        uprelu = nn.ReLU(True)
        layers: list[nn.Module]
        if innermost:
            if submodule is not None:
                raise ConfigError("the innermost U-Net block takes no submodule; pass None")
            upconv = nn.ConvTranspose2d(
                inner_channels, outer_channels, 4, stride=2, padding=1, bias=bias
            )
            layers = [downrelu, downconv, uprelu, upconv, norm_layer(norm, outer_channels)]
        elif submodule is None:
            raise ConfigError("a U-Net block that is not innermost needs a submodule")
        elif outermost:
            upconv = nn.ConvTranspose2d(2 * inner_channels, outer_channels, 4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        else:
            upconv = nn.ConvTranspose2d(
                2 * inner_channels, outer_channels, 4, stride=2, padding=1, bias=bias
            )
            layers = [downrelu, downconv, norm_layer(norm, inner_channels), submodule]
            layers += [uprelu, upconv, norm_layer(norm, outer_channels)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the level (and, through ``submodule``, every level inside it).

        Args:
            x: Feature map (the image for the outermost block).

        Returns:
            The decoder output, concatenated after the input along channels unless outermost.
        """
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """Pix2pix's U-Net generator: ``num_downs`` stride-2 levels with skip connections.

    The encoder has ``num_downs`` 4x4 stride-2 convs with ``ngf, 2 ngf, 4 ngf, 8 ngf, 8 ngf, ...``
    channels (LeakyReLU 0.2 before each but the first; a norm after each but the first and the
    last); the decoder mirrors it with ReLU + 4x4 stride-2 transposed convs on the skip-concatenated
    features (a norm after each but the last) and ends in tanh. The ``num_downs - 5`` middle
    ``8 ngf`` levels next to the bottleneck apply dropout after their decoder step, as in the
    paper, where dropout is the generator's noise. ``num_downs = 8`` at 256 px (``unet_256``) and
    ``7`` at 128 px (``unet_128``) reduce the image to 1x1 at the bottleneck.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        num_downs: Depth (stride-2 levels), at least 5.
        ngf: Channels of the first level.
        norm: Norm layer name: ``"batch"`` (the paper's), ``"instance"`` or ``"none"``.
        dropout: Dropout probability of the middle levels (0 disables it).
        bias: Conv biases before norms; ``None`` (default) = :func:`i2i.nn.uses_bias` of
            ``norm``. The reference code's ``--norm none`` nets have none (``bias=False``).

    Attributes:
        stride: ``2 ** num_downs``; input height and width must be multiples of it.
        model: The outermost :class:`UnetSkipConnectionBlock` (holding the others).

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
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("out_channels", out_channels, 1)
        check_int("num_downs", num_downs, MIN_UNET_DOWNS)
        check_int("ngf", ngf, 1)
        _check_dropout(dropout)
        uses_bias(norm)  # validates the name before any layer is built
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride: int = 2**num_downs

        kw = {"norm": norm, "bias": bias}
        block = UnetSkipConnectionBlock(8 * ngf, 8 * ngf, innermost=True, **kw)
        for _ in range(num_downs - MIN_UNET_DOWNS):
            block = UnetSkipConnectionBlock(
                8 * ngf, 8 * ngf, submodule=block, dropout=dropout, **kw
            )
        block = UnetSkipConnectionBlock(4 * ngf, 8 * ngf, submodule=block, **kw)
        block = UnetSkipConnectionBlock(2 * ngf, 4 * ngf, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf, 2 * ngf, submodule=block, **kw)
        self.model = UnetSkipConnectionBlock(
            out_channels, ngf, in_channels=in_channels, submodule=block, outermost=True, **kw
        )

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
