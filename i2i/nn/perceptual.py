"""VGG19 perceptual loss with weights from a local file (never downloaded).

The loss compares VGG19 feature maps of an image and its target. Its weights come from a file
the user gives (``--set vgg_weights=PATH``): torchvision's VGG19 state dict, saved once on a
machine with internet::

    import torch, torchvision
    torch.save(torchvision.models.vgg19(weights="IMAGENET1K_V1").state_dict(), "vgg19.pth")

Nothing is fetched at run time: the network is built with ``weights=None`` and filled from that
file. Without a file the loss is off (:func:`vgg_loss_or_none` returns None and logs why).

Two recipes, chosen by arguments:

- pix2pixHD / SPADE (the default): L1 on ``relu1_1 .. relu5_1`` weighted
  ``1/32, 1/16, 1/8, 1/4, 1``.
- ESRGAN / super-resolution: ``layers=("conv5_4",), weights=(1.0,)`` (features before the
  activation), usually with ``input_range=(0, 1)``.

The VGG is kept out of the owner's ``state_dict`` (it is a fixed external asset, ~80 MB, that
would otherwise be written into every checkpoint and clobbered by a whole-model weight init); it
still follows ``.to(device)`` / ``.cuda()`` and stays float32.

Example:
    >>> import torch
    >>> from i2i.nn.perceptual import VGGPerceptualLoss, load_vgg19_features
    >>> loss = VGGPerceptualLoss.from_file("vgg19.pth")  # doctest: +SKIP
    >>> loss(fake, real)  # doctest: +SKIP
    tensor(0.8312, grad_fn=<AddBackward0>)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import CheckpointError, ConfigError, InputError, describe_load_error
from i2i.nn._checks import check_choice, checking

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PERCEPTUAL_CRITERIA",
    "VGG19_LAYERS",
    "VGGPerceptualLoss",
    "load_vgg19_features",
    "vgg_loss_or_none",
]

#: Convolutions per block of VGG19 (torchvision config "E").
_VGG19_BLOCKS = (2, 2, 4, 4, 4)

#: ImageNet statistics the torchvision VGG weights were trained with (RGB, [0, 1] input).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Feature distances :class:`VGGPerceptualLoss` accepts as ``criterion``.
PERCEPTUAL_CRITERIA: tuple[str, ...] = ("l1", "mse")

#: pix2pixHD / SPADE recipe: layers and their weights (deeper layers count more).
_SPADE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_SPADE_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

_CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "mse": F.mse_loss,
}

_HOW_TO_GET = (
    "download torchvision's vgg19 weights on a machine with internet, e.g. "
    "torchvision.models.vgg19(weights='IMAGENET1K_V1').state_dict(), save with torch.save, "
    "and pass the file (--set vgg_weights=PATH)"
)


def _vgg19_layer_indices() -> dict[str, int]:
    index = 0
    names: dict[str, int] = {}
    for block, n_convs in enumerate(_VGG19_BLOCKS, start=1):
        for conv in range(1, n_convs + 1):
            names[f"conv{block}_{conv}"] = index
            names[f"relu{block}_{conv}"] = index + 1
            index += 2
        names[f"pool{block}"] = index
        index += 1
    return names


#: Layer name -> index in ``torchvision.models.vgg19().features`` (37 modules, 0..36).
#:
#: ========  =====================================================================
#: block     names (index)
#: ========  =====================================================================
#: 1         conv1_1 (0)  relu1_1 (1)  conv1_2 (2)  relu1_2 (3)  pool1 (4)
#: 2         conv2_1 (5)  relu2_1 (6)  conv2_2 (7)  relu2_2 (8)  pool2 (9)
#: 3         conv3_1 (10) relu3_1 (11) ... conv3_4 (16) relu3_4 (17) pool3 (18)
#: 4         conv4_1 (19) relu4_1 (20) ... conv4_4 (25) relu4_4 (26) pool4 (27)
#: 5         conv5_1 (28) relu5_1 (29) ... conv5_4 (34) relu5_4 (35) pool5 (36)
#: ========  =====================================================================
#:
#: ``convB_C`` is the C-th convolution of block B (before its ReLU), ``reluB_C`` its activation.
VGG19_LAYERS: dict[str, int] = _vgg19_layer_indices()

_N_FEATURES = len(VGG19_LAYERS)  # 37


def _layer_index(name: str) -> int:
    if name not in VGG19_LAYERS:
        raise ConfigError(
            f"unknown VGG19 layer {name!r}; expected conv1_1..conv5_4, relu1_1..relu5_4 or "
            "pool1..pool5 (e.g. relu1_1, conv5_4)"
        )
    return VGG19_LAYERS[name]


def _build_vgg19_features() -> nn.Sequential:
    """``torchvision.models.vgg19(weights=None).features``, randomly initialized, nothing fetched.

    Builds only the feature layers (torchvision's own ``make_layers`` with VGG19's config), which
    is the same module as ``vgg19(weights=None).features`` without allocating the ~500 MB
    classifier; falls back to the full model if torchvision ever moves those helpers.
    """
    try:
        from torchvision.models.vgg import cfgs, make_layers

        return make_layers(cfgs["E"], batch_norm=False)
    except (ImportError, KeyError, TypeError):  # pragma: no cover - torchvision layout changed
        from torchvision.models import vgg19

        return vgg19(weights=None).features


def _file_kind(path: Path) -> str:
    """Kind of weights file: safetensors, zip (torch.save's default) or legacy (old pickle)."""
    if path.suffix == ".safetensors":
        return "safetensors"
    with path.open("rb") as f:
        head = f.read(9)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) == 9 and head[8:9] == b"{":  # 8-byte header size, then a JSON header
        return "safetensors"
    return "legacy"


def _read_state_dict(path: Path) -> Mapping[str, Any]:
    try:
        kind = _file_kind(path)
        if kind == "safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:  # mmap: a full VGG19 file is ~550 MB, of which only the ~80 MB features are read
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=kind == "zip")
    except Exception as e:  # any decoding failure means an unreadable file
        raise CheckpointError(
            f"cannot read VGG19 weights {path}: {describe_load_error(e)}; expected a torchvision "
            f"VGG19 state dict saved with torch.save or a .safetensors file; {_HOW_TO_GET}"
        ) from None
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(
            f"VGG19 weights {path} hold a {type(state).__name__}, not a state dict (names -> "
            f"tensors); save model.state_dict(), not the model or a training checkpoint; "
            f"{_HOW_TO_GET}"
        )
    return state


def _features_part(state: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Keys of the ``features`` part without their prefix, and that prefix (for messages)."""
    if any(k.startswith("features.") for k in state):
        prefix = "features."
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}, prefix
    return dict(state), ""


def load_vgg19_features(path: str | Path, max_layer: int | None = None) -> nn.Sequential:
    """VGG19 feature layers with weights from a local torchvision state dict.

    The network is ``torchvision.models.vgg19(weights=None).features`` (nothing is downloaded),
    filled from ``path``, which may hold:

    - a full VGG19 state dict (``features.N.weight`` ..., ``classifier...`` is ignored);
    - only the features part (``N.weight`` or ``features.N.weight``);
    - either of these as a ``.safetensors`` file.

    Args:
        path: The weights file.
        max_layer: Keep modules ``0 .. max_layer`` (inclusive, see :data:`VGG19_LAYERS`);
            None keeps all 37. Only the kept layers' weights are read and checked.

    Returns:
        The feature ``nn.Sequential`` in eval mode, with ``requires_grad=False`` on every
        parameter and non-in-place ReLUs (so intermediate outputs can be read safely).

    Raises:
        ConfigError: ``path`` does not exist or is not a file (the message says how to get the
            weights), or ``max_layer`` is out of range.
        CheckpointError: the file cannot be read, is not a state dict, or its keys / shapes do
            not match VGG19 (the message names the first mismatching key).

    Example:
        >>> feats = load_vgg19_features("vgg19.pth", max_layer=VGG19_LAYERS["relu5_1"])
        ... # doctest: +SKIP
    """
    if max_layer is not None and (
        isinstance(max_layer, bool)
        or not isinstance(max_layer, int)
        or not 0 <= max_layer < _N_FEATURES
    ):
        raise ConfigError(
            f"max_layer must be an integer in 0..{_N_FEATURES - 1} (an index of VGG19_LAYERS) or "
            f"None, got {max_layer!r}"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"VGG19 weights file {path} does not exist; {_HOW_TO_GET}")
    if not path.is_file():
        raise ConfigError(f"VGG19 weights path {path} is not a file; {_HOW_TO_GET}")

    features = _build_vgg19_features()
    if max_layer is not None:
        features = nn.Sequential(*list(features)[: max_layer + 1])
    full_keys = set(_vgg19_feature_keys())

    state, prefix = _features_part(_read_state_dict(path))
    expected = features.state_dict()
    for key, param in expected.items():
        if key not in state:
            found = ", ".join(repr(k) for k in list(state)[:3]) or "none"
            raise CheckpointError(
                f"VGG19 weights {path} lack key '{prefix}{key}' (found {found}, "
                f"...); expected torchvision.models.vgg19().state_dict() or its features part; "
                f"{_HOW_TO_GET}"
            )
        value = state[key]
        if not isinstance(value, torch.Tensor) or value.shape != param.shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(
                f"VGG19 weights {path}: key '{prefix}{key}' has shape {got}, expected "
                f"{tuple(param.shape)}; is this a VGG19 (not VGG16 / vgg19_bn) state dict? "
                f"{_HOW_TO_GET}"
            )
    unexpected = [k for k in state if k not in full_keys]
    if unexpected:
        raise CheckpointError(
            f"VGG19 weights {path} have unexpected key '{prefix}{unexpected[0]}' "
            f"({len(unexpected)} unexpected in all); expected torchvision.models.vgg19() keys "
            f"such as '{prefix}0.weight' (is it VGG16 / vgg19_bn?); {_HOW_TO_GET}"
        )
    features.load_state_dict({k: state[k] for k in expected}, strict=True)
    return _freeze(features)


def _vgg19_feature_keys() -> list[str]:
    """Parameter names of the full VGG19 ``features`` (without building it)."""
    keys = []
    for name, index in VGG19_LAYERS.items():
        if name.startswith("conv"):
            keys += [f"{index}.weight", f"{index}.bias"]
    return keys


def _freeze(features: nn.Sequential) -> nn.Sequential:
    for module in features.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    features.requires_grad_(False)
    return features.eval()


class VGGPerceptualLoss(nn.Module):
    """Weighted distance between VGG19 features of an image and its target.

    ``sum_i weights[i] * criterion(vgg_i(x), vgg_i(target))`` over the requested ``layers``
    (names of :data:`VGG19_LAYERS`: ``reluB_C`` after an activation, ``convB_C`` before it).
    Inputs are mapped from ``input_range`` to [0, 1], normalized with the ImageNet mean / std,
    and single-channel inputs are repeated to RGB. Target features are computed without a graph
    (detached). The VGG is frozen: gradients flow to ``x`` only.

    The loss always computes in float32, with autocast disabled: deep VGG activations grow
    large (values in the thousands at ``relu5_x``) and their differences are small, which
    half / bfloat16 would round away or overflow. The result is a float32 scalar.

    The VGG is not a registered submodule: it is left out of ``state_dict()`` / ``parameters()``
    of the loss and of any model holding it (no 80 MB of fixed weights per checkpoint, no
    optimizer or weight init touching it), but it follows the loss across devices
    (``.to()``, ``.cuda()``), always in float32. Read it through :attr:`features`.

    Unlike the original pix2pixHD / SPADE code, which fed [-1, 1] images to VGG unnormalized,
    inputs are normalized as torchvision's weights expect.

    Args:
        features: VGG19 feature layers (e.g. from :func:`load_vgg19_features`); at least up to
            the deepest requested layer. They are frozen in place (eval, no grad, ReLUs not
            in-place) and converted to float32.
        layers: VGG19 layer names to compare; default pix2pixHD / SPADE
            ``relu1_1 .. relu5_1``; ESRGAN uses ``("conv5_4",)``.
        weights: One non-negative weight per layer; default ``1/32, 1/16, 1/8, 1/4, 1``.
        criterion: Feature distance, one of :data:`PERCEPTUAL_CRITERIA` (mean reduction).
        input_range: ``(low, high)`` of the input images, e.g. ``(-1, 1)`` for tanh generators
            or ``(0, 1)``.

    Raises:
        ConfigError: unknown or duplicate layer names, weights that do not match the layers,
            an unknown criterion, a bad ``input_range``, or ``features`` too short.

    Shape:
        - x, target: :math:`(N, C, H, W)` with C = 1 or 3, same shape, H and W at least
          ``2 ** (poolings before the deepest layer)`` (16 for ``relu5_1``); output: scalar.

    Example:
        >>> loss = VGGPerceptualLoss.from_file("vgg19.pth")  # doctest: +SKIP
        >>> sr = VGGPerceptualLoss.from_file(
        ...     "vgg19.pth", layers=("conv5_4",), weights=(1.0,), input_range=(0, 1)
        ... )  # doctest: +SKIP
    """

    def __init__(
        self,
        features: nn.Sequential,
        layers: Sequence[str] = _SPADE_LAYERS,
        weights: Sequence[float] = _SPADE_WEIGHTS,
        criterion: str = "l1",
        input_range: tuple[float, float] = (-1, 1),
    ) -> None:
        super().__init__()
        layers, weights = _check_layers(layers, weights)
        check_choice("criterion", criterion, PERCEPTUAL_CRITERIA)
        low, high = _check_range(input_range)
        if not isinstance(features, nn.Sequential):
            raise ConfigError(
                f"features must be an nn.Sequential of VGG19 layers, got "
                f"{type(features).__name__}; use load_vgg19_features(path)"
            )
        indices = [VGG19_LAYERS[name] for name in layers]
        deepest = max(indices)
        if len(features) <= deepest:
            name = layers[indices.index(deepest)]
            raise ConfigError(
                f"features has {len(features)} layers but layer {name!r} needs index {deepest}; "
                f"load them with max_layer >= {deepest} (or None)"
            )
        self.layers: tuple[str, ...] = layers
        self.weights: tuple[float, ...] = weights
        self.criterion = criterion
        self.input_range: tuple[float, float] = (low, high)
        self._indices: dict[int, float] = dict(zip(indices, weights, strict=True))
        self._depth = deepest + 1
        self._deepest_name = layers[indices.index(deepest)]
        self._min_size = 2 ** sum(
            isinstance(m, nn.MaxPool2d) for m in list(features)[: self._depth - 1]
        )
        truncated = _freeze(nn.Sequential(*list(features)[: self._depth])).float()
        # A plain attribute, not a submodule: see the class docstring.
        object.__setattr__(self, "_features", truncated)
        device = next(truncated.parameters(), torch.empty(0)).device
        mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
        # (x - low) / (high - low) -> [0, 1], then (. - mean) / std, as one affine map.
        self.register_buffer("_scale", 1.0 / ((high - low) * std), persistent=False)
        self.register_buffer("_shift", -(low / (high - low) + mean) / std, persistent=False)

    @property
    def features(self) -> nn.Sequential:
        """The frozen VGG19 layers used (truncated after the deepest requested layer)."""
        return self._features

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> VGGPerceptualLoss:
        """Build the loss from a local VGG19 weights file (see :func:`load_vgg19_features`).

        Only the layers up to the deepest requested one are built and read.

        Args:
            path: torchvision VGG19 state dict (``.pth`` / ``.pt``) or ``.safetensors`` file.
            **kwargs: The other arguments of :class:`VGGPerceptualLoss`.

        Returns:
            The loss, on CPU (move it with ``.to(device)``).

        Raises:
            ConfigError: bad arguments or a missing file.
            CheckpointError: an unreadable or non-VGG19 file.
        """
        layers, _ = _check_layers(
            kwargs.get("layers", _SPADE_LAYERS), kwargs.get("weights", _SPADE_WEIGHTS)
        )
        deepest = max(VGG19_LAYERS[name] for name in layers)
        return cls(load_vgg19_features(path, max_layer=deepest), **kwargs)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Any:
        super()._apply(fn, recurse)
        # Follow the device of the buffers, but keep the VGG in float32 (e.g. under .half()).
        self._features.to(self._scale.device)
        return self

    def extra_repr(self) -> str:
        return (
            f"layers={self.layers}, weights={tuple(round(w, 6) for w in self.weights)}, "
            f"criterion={self.criterion!r}, input_range={self.input_range}"
        )

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return x * self._scale.float() + self._shift.float()

    def _extract(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out: dict[int, torch.Tensor] = {}
        for index, layer in enumerate(self._features):
            x = layer(x)
            if index in self._indices:
                out[index] = x
        return out

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Perceptual distance of ``x`` to ``target``.

        Args:
            x: Images in ``input_range`` (e.g. generator output); gradients flow to it.
            target: Reference images, same shape; no gradient flows to it.

        Returns:
            Float32 scalar (0 for identical inputs).

        Raises:
            InputError: shapes differ, are not (N, 1 | 3, H, W), or are too small for the
                requested layers.
        """
        if checking():
            self._check(x, target)
        distance = _CRITERIA[self.criterion]
        with torch.autocast(device_type=x.device.type, enabled=False):
            with torch.no_grad():
                target_feats = self._extract(self._prepare(target))
            feats = self._extract(self._prepare(x))
            total = x.new_zeros((), dtype=torch.float32)
            for index, weight in self._indices.items():
                total = total + weight * distance(feats[index], target_feats[index])
        return total

    def _check(self, x: torch.Tensor, target: torch.Tensor) -> None:
        if x.shape != target.shape or x.ndim != 4 or x.shape[1] not in (1, 3):
            raise InputError(
                f"VGG perceptual loss needs x and target of the same (N, 1 or 3, H, W) shape, "
                f"got {tuple(x.shape)} and {tuple(target.shape)}"
            )
        h, w = x.shape[-2:]
        if min(h, w) < self._min_size:
            raise InputError(
                f"VGG perceptual loss up to layer {self._deepest_name} needs images of at least "
                f"{self._min_size}x{self._min_size}, got {h}x{w}; "
                "use larger crops or shallower layers"
            )


def _check_layers(
    layers: Sequence[str], weights: Sequence[float]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    if not layers:
        raise ConfigError("VGG perceptual loss needs at least one layer, e.g. ('relu1_1',)")
    for name in layers:
        _layer_index(name)
    if len(set(layers)) != len(layers):
        raise ConfigError(f"VGG perceptual loss layers repeat a name: {layers}; list each once")
    try:
        weights = tuple(float(w) for w in weights)
    except (TypeError, ValueError):
        raise ConfigError(f"VGG perceptual loss weights must be numbers, got {weights!r}") from None
    if len(weights) != len(layers):
        raise ConfigError(
            f"VGG perceptual loss has {len(layers)} layers {layers} but {len(weights)} weights; "
            "give one weight per layer"
        )
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise ConfigError(f"VGG perceptual loss weights must be finite and >= 0, got {weights}")
    return layers, weights


def _check_range(input_range: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in input_range)
    except (TypeError, ValueError):
        raise ConfigError(
            f"input_range must be a (low, high) pair of numbers, got {input_range!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ConfigError(
            f"input_range must have low < high, got {input_range!r}; e.g. (-1, 1) or (0, 1)"
        )
    return low, high


def vgg_loss_or_none(
    path: str | Path | None, log: logging.Logger, **kwargs: Any
) -> VGGPerceptualLoss | None:
    """The VGG perceptual loss if a weights file is given, else None (and one log line).

    Args:
        path: The ``vgg_weights`` setting: a local VGG19 weights file, or None / ``""`` for off.
        log: Where to say whether the loss is on or off (one INFO line).
        **kwargs: Arguments of :class:`VGGPerceptualLoss` (layers, weights, criterion,
            input_range).

    Returns:
        The loss (on CPU), or None when no path is given.

    Raises:
        ConfigError: a missing file or bad arguments.
        CheckpointError: an unreadable or non-VGG19 file.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        log.info(
            "VGG perceptual loss is off: no vgg_weights given "
            "(set vgg_weights=PATH to a local torchvision VGG19 state dict)"
        )
        return None
    loss = VGGPerceptualLoss.from_file(path, **kwargs)
    log.info("VGG perceptual loss is on: weights %s, layers %s", path, ", ".join(loss.layers))
    return loss
