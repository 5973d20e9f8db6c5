"""LPIPS (Zhang et al., 2018), the learned perceptual distance, with weights from local files.

The metric is that of the ``lpips`` package (version 0.1): both images, in [-1, 1], are shifted
and scaled per channel (``(x - shift) / scale`` with shift ``(-0.030, -0.088, -0.188)`` and scale
``(0.458, 0.448, 0.450)``), passed through an ImageNet backbone, and at five layers the
channel-normalised features (``f / (|f| + 1e-10)``) are subtracted, squared, weighted per channel
by a learned 1x1 layer, averaged over the image and summed over the layers. 0 means identical;
larger is more different.

Backbones (``net``): ``alex`` (torchvision AlexNet, the ReLU outputs after conv1..conv5) and
``vgg`` (torchvision VGG16, ``relu1_2, relu2_2, relu3_3, relu4_3, relu5_3``). Two files are
read, both with ``weights_only=True``: the backbone's torchvision state dict
(``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``) and the linear layers of the ``lpips``
package (``weights/v0.1/alex.pth`` / ``vgg.pth``); see :mod:`i2i.metrics.weights`.

Example:
    >>> m = load_lpips("alex", "lpips-v0.1-alex.pth", "alexnet-owt-7be5be79.pth")  # doctest: +SKIP
    >>> m(a, b)  # (N, 3, H, W) in [-1, 1] -> (N,)                               # doctest: +SKIP
    tensor([0.1873, 0.2410])
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from i2i.errors import CheckpointError, ConfigError, InputError
from i2i.metrics.inception import _read_state, load_state_strict

__all__ = ["LPIPS", "LPIPS_NETS", "MIN_SIZE", "load_lpips"]

#: Backbone -> (torchvision builder name, slice ends in ``features``, channels per layer).
LPIPS_NETS: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]] = {
    "alex": ("alexnet", (2, 5, 8, 10, 12), (64, 192, 384, 256, 256)),
    "vgg": ("vgg16", (4, 9, 16, 23, 30), (64, 128, 256, 512, 512)),
}

#: Smallest image side each backbone can take (its deepest layer must keep a pixel).
MIN_SIZE = {"alex": 31, "vgg": 16}

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _check_net(net: str) -> None:
    if net not in LPIPS_NETS:
        raise ConfigError(f"unknown LPIPS network '{net}'; use one of: {', '.join(LPIPS_NETS)}")


def _features(builder: str) -> nn.Sequential:
    """torchvision's ``features`` stack with random weights (nothing fetched); for VGG16 only
    the feature layers are built (the ~500 MB classifier is never allocated)."""
    if builder == "vgg16":
        try:
            from torchvision.models.vgg import cfgs, make_layers

            return make_layers(cfgs["D"], batch_norm=False)
        except (ImportError, KeyError, TypeError):  # pragma: no cover - torchvision moved them
            pass
    import torchvision

    return getattr(torchvision.models, builder)(weights=None).features


class _Lin(nn.Module):
    """A 1x1 convolution to one channel without bias (key ``model.1.weight``, as in lpips)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """LPIPS distance; build it with :func:`load_lpips` (this makes random weights).

    Args:
        net: ``alex`` or ``vgg``.

    Shape:
        - Inputs: two ``(N, 3, H, W)`` batches in [-1, 1] of the same size.
        - Output: ``(N,)`` distances.
    """

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        _check_net(net)
        builder, ends, channels = LPIPS_NETS[net]
        features = _features(builder)
        for m in features:
            if isinstance(m, nn.ReLU):
                m.inplace = False
        self.kind = net
        self.ends = ends
        self.net = nn.Sequential(*list(features)[: ends[-1]])
        for i, c in enumerate(channels):
            self.add_module(f"lin{i}", _Lin(c))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    def _layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, start = [], 0
        for end in self.ends:
            for i in range(start, end):
                x = self.net[i](x)
            outs.append(x)
            start = end
        return outs

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise InputError(
                f"LPIPS compares two (N, 3, H, W) batches of one size, got {tuple(a.shape)} and "
                f"{tuple(b.shape)}"
            )
        if min(a.shape[-2:]) < MIN_SIZE[self.kind]:
            raise InputError(
                f"LPIPS ({self.kind}) needs images of at least {MIN_SIZE[self.kind]}x"
                f"{MIN_SIZE[self.kind]} pixels, got {a.shape[-1]}x{a.shape[-2]}"
            )
        fa = self._layers((a - self.shift) / self.scale)
        fb = self._layers((b - self.shift) / self.scale)
        total = torch.zeros(a.shape[0], device=a.device, dtype=a.dtype)
        for i, (x, y) in enumerate(zip(fa, fb, strict=True)):
            x = x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            y = y / (y.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{i}")((x - y).square()).mean(dim=(1, 2, 3))
        return total


def load_lpips(
    net: str,
    linear_weights: str | Path,
    backbone_weights: str | Path,
    device: str | torch.device = "cpu",
) -> LPIPS:
    """LPIPS with its linear layers and backbone read from local files.

    Args:
        net: ``alex`` or ``vgg``.
        linear_weights: The ``lpips`` package's ``weights/v0.1/{alex,vgg}.pth`` (keys
            ``lin0.model.1.weight`` ... ``lin4.model.1.weight``).
        backbone_weights: torchvision's ``alexnet`` / ``vgg16`` state dict (the whole model or
            only ``features``; the classifier is ignored).
        device: Where the network goes.

    Returns:
        The network in eval mode without gradients.

    Raises:
        ConfigError: an unknown ``net`` or a missing file.
        CheckpointError: a file is unreadable or does not match the network.
    """
    _check_net(net)
    model = LPIPS(net)
    tv_name = LPIPS_NETS[net][0]
    for path, what, name in (
        (linear_weights, f"LPIPS ({net}) linear layers", f"lpips-{net}"),
        (backbone_weights, f"LPIPS backbone ({tv_name}) weights", tv_name),
    ):
        path = Path(path).expanduser()
        how = f"run `i2i weights download {name}` or give the {name} file"
        if not path.is_file():
            raise ConfigError(f"{what} {path} does not exist; {how}")
        state = _read_state(path, what, how)
        if name == tv_name:
            if any(k.startswith("features.") for k in state):
                state = {k[9:]: v for k, v in state.items() if k.startswith("features.")}
            load_state_strict(model.net, state, path, what, how)
        else:
            lin = {k: v for k, v in state.items() if k.startswith("lin") and ".model." in k}
            lin = {k: v for k, v in lin.items() if k.split(".")[0][3:].isdigit()}
            missing = [f"lin{i}.model.1.weight" for i in range(5)]
            if any(k not in lin for k in missing):
                raise CheckpointError(
                    f"{what} {path} lack key '{next(k for k in missing if k not in lin)}'; "
                    f"expected the lpips package's v0.1 {net}.pth; {how}"
                )
            for i in range(5):
                layer = getattr(model, f"lin{i}").model[1]
                w = lin[f"lin{i}.model.1.weight"]
                if tuple(w.shape) != tuple(layer.weight.shape):
                    raise CheckpointError(
                        f"{what} {path}: lin{i} has shape {tuple(w.shape)}, expected "
                        f"{tuple(layer.weight.shape)} (is it the {net} file?); {how}"
                    )
                layer.weight.data.copy_(w)
    return model.to(device).eval().requires_grad_(False)
