"""The FID Inception v3 network and the three input protocols of the reference implementations.

FID, KID and the Inception Score use the Inception v3 graph that TensorFlow published in 2015
(``inception-2015-12-05``), not torchvision's ImageNet Inception: its pooling differs in three
blocks (average pools that ignore the zero padding, a max pool in the last block) and its
classifier has 1008 outputs. :class:`FIDInceptionV3` is that network, with the parameter names
of torchvision's ``Inception3`` (``Conv2d_1a_3x3.conv.weight``, ..., ``Mixed_7c...``, ``fc``), so
the weights file of pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``) and of torch-fidelity
(``weights-inception-2015-12-05-6726825d.pth``) load into it as they are.

What differs between the reference implementations is how an image reaches the network
(:data:`PROTOCOLS`):

``tf`` (default)
    TensorFlow's own FID code (TTUR), reproduced by torch-fidelity and torchmetrics: 8-bit
    values 0..255, TensorFlow 1.x bilinear resize to 299x299 (``align_corners=False``, which in
    TF 1.x means source = destination x scale, no half-pixel offset, no antialiasing), then
    ``(x - 128) / 128``.
``pytorch-fid``
    pytorch-fid: values ``x / 255``, PyTorch's bilinear resize (half-pixel centres,
    ``align_corners=False``, no antialiasing) to 299x299, then ``2 x - 1``.
``clean``
    clean-fid's ``clean`` mode: each channel of the 8-bit image resized on its own as a 32-bit
    float PIL image with PIL's bicubic filter (which antialiases when shrinking), clipped to
    [0, 255], then ``(x - 128) / 128``.

Every protocol starts from 8-bit RGB: 16-bit images are reduced to 8 bits and grayscale images
repeat their plane (see :func:`to_uint8_rgb`). Images are resized one by one, so a folder may
mix sizes.

Example:
    >>> net = load_inception("pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
    >>> x = preprocess(uint8_image, "tf")                              # doctest: +SKIP
    >>> pool3, logits = net(x[None])                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import CheckpointError, ConfigError, InputError

__all__ = [
    "FEATURE_DIM",
    "INPUT_SIZE",
    "LOGITS_DIM",
    "PROTOCOLS",
    "FIDInceptionV3",
    "load_inception",
    "preprocess",
    "resize_bilinear_tf1",
    "to_uint8_rgb",
]

#: Side of the square image the network sees.
INPUT_SIZE = 299
#: Width of the pool3 features (FID, KID).
FEATURE_DIM = 2048
#: Classes of the 2015 graph's classifier (the Inception Score uses them).
LOGITS_DIM = 1008


# --------------------------------------------------------------------------------------------
# network


class _ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: TensorFlow's ``conv`` unit."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_tf(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3x3 'SAME' average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _row(k: int) -> dict[str, Any]:
    """A 1 x k kernel with 'same' padding."""
    return {"kernel": (1, k), "padding": (0, k // 2)}


def _col(k: int) -> dict[str, Any]:
    """A k x 1 kernel with 'same' padding."""
    return {"kernel": (k, 1), "padding": (k // 2, 0)}


def _conv(cin: int, cout: int, kernel: Any = 1, **kw: Any) -> _ConvBN:
    return _ConvBN(cin, cout, kernel, **kw)


class _Mixed35(nn.Module):
    """35x35 block (``Mixed_5b/c/d``): 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 64)
        self.branch5x5_1 = _conv(cin, 48)
        self.branch5x5_2 = _conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _conv(cin, 64)
        self.branch3x3dbl_2 = _conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _conv(96, 96, 3, padding=1)
        self.branch_pool = _conv(cin, pool_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([a, b, c, d], 1)


class _Reduce35(nn.Module):
    """35 -> 17 reduction (``Mixed_6a``)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _conv(cin, 64)
        self.branch3x3dbl_2 = _conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class _Mixed17(nn.Module):
    """17x17 block (``Mixed_6b..e``): factorised 7x7 branches of width ``c7``."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _conv(cin, 192)
        self.branch7x7_1 = _conv(cin, c7)
        self.branch7x7_2 = _conv(c7, c7, **_row(7))
        self.branch7x7_3 = _conv(c7, 192, **_col(7))
        self.branch7x7dbl_1 = _conv(cin, c7)
        self.branch7x7dbl_2 = _conv(c7, c7, **_col(7))
        self.branch7x7dbl_3 = _conv(c7, c7, **_row(7))
        self.branch7x7dbl_4 = _conv(c7, c7, **_col(7))
        self.branch7x7dbl_5 = _conv(c7, 192, **_row(7))
        self.branch_pool = _conv(cin, 192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            c = layer(c)
        c = self.branch7x7dbl_5(c)
        d = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([a, b, c, d], 1)


class _Reduce17(nn.Module):
    """17 -> 8 reduction (``Mixed_7a``)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _conv(cin, 192)
        self.branch3x3_2 = _conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _conv(cin, 192)
        self.branch7x7x3_2 = _conv(192, 192, **_row(7))
        self.branch7x7x3_3 = _conv(192, 192, **_col(7))
        self.branch7x7x3_4 = _conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = layer(b)
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class _Mixed8(nn.Module):
    """8x8 block (``Mixed_7b/c``) with split 1x3 / 3x1 branches; ``pool`` is the pool branch's
    pooling (the 2015 graph averages in ``Mixed_7b`` but takes the maximum in ``Mixed_7c``)."""

    def __init__(self, cin: int, pool: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = _conv(cin, 320)
        self.branch3x3_1 = _conv(cin, 384)
        self.branch3x3_2a = _conv(384, 384, **_row(3))
        self.branch3x3_2b = _conv(384, 384, **_col(3))
        self.branch3x3dbl_1 = _conv(cin, 448)
        self.branch3x3dbl_2 = _conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _conv(384, 384, **_row(3))
        self.branch3x3dbl_3b = _conv(384, 384, **_col(3))
        self.branch_pool = _conv(cin, 192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        d = self.branch_pool(self.pool(x))
        return torch.cat([a, b, c, d], 1)


class FIDInceptionV3(nn.Module):
    """The 2015 TensorFlow Inception v3 used by FID, KID and the Inception Score.

    Build it with :func:`load_inception` (weights from a file); this constructor makes random
    weights.

    Shape:
        - Input: ``(N, 3, 299, 299)``, already preprocessed (see :func:`preprocess`).
        - Output: ``(pool3, logits)``: ``(N, 2048)`` pool3 features and ``(N, 1008)`` logits
          without the classifier's bias (the "unbiased" logits of the original Inception Score
          code).
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _conv(64, 80)
        self.Conv2d_4a_3x3 = _conv(80, 192, 3)
        self.Mixed_5b = _Mixed35(192, 32)
        self.Mixed_5c = _Mixed35(256, 64)
        self.Mixed_5d = _Mixed35(288, 64)
        self.Mixed_6a = _Reduce35(288)
        self.Mixed_6b = _Mixed17(768, 128)
        self.Mixed_6c = _Mixed17(768, 160)
        self.Mixed_6d = _Mixed17(768, 160)
        self.Mixed_6e = _Mixed17(768, 192)
        self.Mixed_7a = _Reduce17(768)
        self.Mixed_7b = _Mixed8(1280, _avg_pool_tf)
        self.Mixed_7c = _Mixed8(2048, _max_pool_same)
        self.fc = nn.Linear(FEATURE_DIM, LOGITS_DIM)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        pool3 = x.mean(dim=(2, 3))
        return pool3, pool3 @ self.fc.weight.T


_HOW_TO_GET = "run `i2i weights download inception` or pass --inception-weights PATH"


def _read_state(path: Path, what: str, how: str) -> Mapping[str, Any]:
    """A state dict from a ``torch.save`` or ``.safetensors`` file, never unpickling code."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any decoding failure means an unusable file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"cannot read {what} {path}: {first:.160}; {how}") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(
            f"{what} {path} holds a {type(state).__name__}, not a state dict; {how}"
        )
    return state


def load_state_strict(
    module: nn.Module, state: Mapping[str, Any], path: Path, what: str, how: str
) -> None:
    """Load ``state`` into ``module``, naming the first missing / extra / misshapen key.

    ``num_batches_tracked`` counters (unused at inference) may be absent, as in files written
    before PyTorch 0.4.1.
    """
    expected = module.state_dict()
    for key, param in expected.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue
            raise CheckpointError(
                f"{what} {path} lack key '{key}' ({len(state)} keys found); is it the right "
                f"file? {how}"
            )
        value = state[key]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(param.shape):
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckpointError(
                f"{what} {path}: key '{key}' has shape {got}, expected {tuple(param.shape)}; {how}"
            )
    extra = [k for k in state if k not in expected]
    if extra:
        raise CheckpointError(
            f"{what} {path} have unexpected key '{extra[0]}' ({len(extra)} in all); {how}"
        )
    merged = {k: state.get(k, v) for k, v in expected.items()}
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in merged.items()}, strict=True)


def load_inception(path: str | Path, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """The FID Inception v3 with weights from a local file.

    Args:
        path: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, torch-fidelity's
            ``weights-inception-2015-12-05-6726825d.pth`` (the same tensors), or any state dict
            with those keys (``torch.save`` or ``.safetensors``). Read with
            ``weights_only=True``: nothing in the file is executed.
        device: Where the network goes.

    Returns:
        The network in eval mode, float32, without gradients.

    Raises:
        ConfigError: ``path`` does not exist or is not a file.
        CheckpointError: the file is unreadable or its keys / shapes are not the Inception's.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"Inception weights {path} {what}; {_HOW_TO_GET}")
    net = FIDInceptionV3()
    state = _read_state(path, "Inception weights", _HOW_TO_GET)
    load_state_strict(net, state, path, "Inception weights", _HOW_TO_GET)
    return net.to(device).eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------
# preprocessing


def to_uint8_rgb(img: np.ndarray) -> np.ndarray:
    """An image as ``H x W x 3`` uint8, the input every FID protocol starts from.

    Args:
        img: ``H x W`` or ``H x W x C`` (C = 1, 3 or 4): uint8 as it is, uint16 divided by 257
            (so 16-bit files give the values their 8-bit conversion would), float in [0, 1]
            (as i2i's image reader returns it, 16-bit files included) scaled by 255; all
            rounded to the nearest integer. One channel is repeated to three; a fourth
            (alpha) channel is dropped (i2i's reader composites transparency over white first).

    Raises:
        InputError: another shape or dtype.
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[-1] not in (1, 3, 4):
        raise InputError(f"expected an image H x W x 1/3/4, got shape {img.shape}")
    if img.dtype == np.uint8:
        out = img
    elif img.dtype == np.uint16:
        out = np.round(img.astype(np.float64) / 257.0).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.floating):
        out = np.round(np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise InputError(f"expected a uint8, uint16 or float image, got dtype {img.dtype}")
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out[..., :3])


def resize_bilinear_tf1(x: torch.Tensor, size: int) -> torch.Tensor:
    """TensorFlow 1.x ``resize_bilinear`` with ``align_corners=False``.

    Source coordinate = destination index x (input size / output size), with no half-pixel
    offset; the right / bottom neighbour is clamped at the edge; no antialiasing. Interpolates
    along the width first, then the height, in float32, as torch-fidelity's exact port does.

    Shape:
        ``(N, C, H, W)`` float -> ``(N, C, size, size)``.
    """
    _, _, h, w = x.shape

    def axis(n_in: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pos = torch.arange(size, dtype=torch.float32, device=x.device) * torch.tensor(
            n_in / size, dtype=torch.float32
        )
        lo = pos.long()
        hi = (lo + 1).clamp_max(n_in - 1)
        return lo, hi, (pos - lo.float()).to(x.dtype)

    ylo, yhi, dy = axis(h)
    xlo, xhi, dx = axis(w)
    top, bottom = x.index_select(2, ylo), x.index_select(2, yhi)
    t0, t1 = top.index_select(3, xlo), top.index_select(3, xhi)
    b0, b1 = bottom.index_select(3, xlo), bottom.index_select(3, xhi)
    dx = dx.view(1, 1, 1, size)
    upper = t0 + (t1 - t0) * dx
    lower = b0 + (b1 - b0) * dx
    return upper + (lower - upper) * dy.view(1, 1, size, 1)


def _tf(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    return (resize_bilinear_tf1(x, INPUT_SIZE) - 128.0) / 128.0


def _pytorch_fid(img: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return 2.0 * x - 1.0


def _clean(img: np.ndarray) -> torch.Tensor:
    from PIL import Image

    planes = []
    for c in range(3):
        plane = Image.fromarray(img[:, :, c].astype(np.float32), mode="F")
        plane = plane.resize((INPUT_SIZE, INPUT_SIZE), resample=Image.BICUBIC)
        planes.append(np.asarray(plane).clip(0, 255))
    x = torch.from_numpy(np.stack(planes).astype(np.float32))[None]
    return (x - 128.0) / 128.0


#: Protocol name -> ``fn(uint8 H x W x 3) -> (1, 3, 299, 299)`` network input (module docs).
PROTOCOLS: dict[str, Callable[[np.ndarray], torch.Tensor]] = {
    "tf": _tf,
    "pytorch-fid": _pytorch_fid,
    "clean": _clean,
}


def preprocess(img: np.ndarray, protocol: str = "tf") -> torch.Tensor:
    """One image as the network's input under ``protocol``.

    Args:
        img: Any image :func:`to_uint8_rgb` accepts.
        protocol: ``tf``, ``pytorch-fid`` or ``clean`` (see the module docstring).

    Returns:
        ``(3, 299, 299)`` float32.

    Raises:
        ConfigError: unknown protocol.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown FID protocol '{protocol}'; use one of: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[protocol](to_uint8_rgb(img))[0]
