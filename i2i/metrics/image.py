"""Full-reference image metrics: PSNR and SSIM (RGB or Y channel), and the bicubic baseline.

The numbers follow the conventions of the super-resolution literature as implemented by BasicSR
(``basicsr/metrics/psnr_ssim.py``), which reproduces the official MATLAB SSIM code:

- Images are compared on a common scale: ``uint8`` is divided by 255, ``uint16`` by 65535 and
  floating-point images by ``data_range`` (1.0 by default), so every image lies in [0, 1].
- ``crop_border`` pixels are removed from each edge (the usual choice is the SR scale factor)
  before anything is computed.
- ``y_channel=True`` compares only the luma of ITU-R BT.601 "studio swing" YCbCr (MATLAB's
  ``rgb2ycbcr``, see :func:`rgb_to_y`), the standard "PSNR-Y / SSIM-Y" of SR papers.
- SSIM (Wang et al., 2004) uses an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
  is computed on the [0, 255] scale, keeps only the "valid" part of the filtered maps (no
  padding), and averages over pixels and then channels.

Everything is computed in float64 (float32 on Apple MPS, which has no float64), so numbers do not
depend on the input dtype beyond its quantisation. Identical images give a PSNR of ``inf`` (as in
BasicSR's NumPy version; no epsilon is added) and an SSIM of exactly 1.0.

Example:
    >>> import numpy as np
    >>> hr = np.full((32, 32, 3), 0.5)
    >>> round(psnr(hr, hr + 0.1, crop_border=4), 6)
    20.0
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from i2i.errors import InputError

__all__ = [
    "SSIM_WINDOW",
    "bicubic_upscale",
    "mod_crop",
    "psnr",
    "psnr_torch",
    "rgb_to_y",
    "ssim",
    "ssim_torch",
]

#: Side of the square Gaussian SSIM window (pixels).
SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_K1 = 0.01
_K2 = 0.03

#: ITU-R BT.601 studio-swing luma: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255, RGB in [0, 1].
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0

_Array = TypeVar("_Array", np.ndarray, torch.Tensor)


# --------------------------------------------------------------------------------------------
# input handling


def _shape(x: np.ndarray | torch.Tensor) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def _check_data_range(data_range: float) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)):
        raise InputError(f"data_range must be a positive number, got {data_range!r}")
    if not (math.isfinite(data_range) and data_range > 0):
        raise InputError(f"data_range must be a positive finite number, got {data_range!r}")
    return float(data_range)


def _check_same_shape(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> None:
    if _shape(a) != _shape(b):
        raise InputError(
            f"images have different shapes: {_shape(a)} and {_shape(b)}; compare images of the "
            "same size (mod-crop the ground truth to the output size)"
        )


def _crop_slices(h: int, w: int, crop_border: int, min_size: int, what: str) -> tuple[slice, ...]:
    """Slices removing ``crop_border`` pixels per edge; at least ``min_size`` pixels must remain."""
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise InputError(f"crop_border must be a whole number >= 0, got {crop_border!r}")
    c = int(crop_border)
    if c < 0:
        raise InputError(f"crop_border must be a whole number >= 0, got {c}")
    if h - 2 * c < min_size or w - 2 * c < min_size:
        most = max((min(h, w) - min_size) // 2, 0)
        need = f"at least {min_size}x{min_size} pixels" if min_size > 1 else "some pixels"
        hint = f"use crop_border <= {most}" if min(h, w) >= min_size else "the image is too small"
        raise InputError(
            f"{what} needs {need} after removing crop_border={c} from each edge of a {h}x{w} "
            f"image; {hint}"
        )
    return slice(c, h - c), slice(c, w - c)


def _np_to_unit(img: np.ndarray, data_range: float, name: str) -> np.ndarray:
    """``img`` as float64 in [0, 1] (by dtype), shaped H x W x C."""
    if not isinstance(img, np.ndarray):
        raise InputError(f"{name} must be a NumPy array (H, W[, C]), got {type(img).__name__}")
    if img.ndim not in (2, 3):
        raise InputError(f"{name} must be an image of shape (H, W) or (H, W, C), got {img.shape}")
    if img.dtype == np.uint8:
        out = img.astype(np.float64) / 255.0
    elif img.dtype == np.uint16:
        out = img.astype(np.float64) / 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        out = img.astype(np.float64) / data_range
    else:
        raise InputError(
            f"{name} has dtype {img.dtype}; expected uint8, uint16 or a floating-point image"
        )
    return out[..., None] if out.ndim == 2 else out


def _work_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _torch_to_unit(img: torch.Tensor, data_range: float, name: str) -> torch.Tensor:
    """``img`` (N, C, H, W) as float64 in [0, 1] (by dtype), detached."""
    if not isinstance(img, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(img).__name__}")
    if img.ndim != 4:
        raise InputError(f"{name} must be a batch of shape (N, C, H, W), got {_shape(img)}")
    x = img.detach()
    if x.dtype == torch.uint8:
        return x.to(_work_dtype(x.device)) / 255.0
    if not x.is_floating_point():
        raise InputError(f"{name} has dtype {x.dtype}; expected uint8 or a floating-point tensor")
    return x.to(_work_dtype(x.device)) / data_range


def _luma(x: _Array, channel_axis: int, name: str) -> _Array:
    """Y of 3-channel images; 1-channel images pass unchanged (as in BasicSR)."""
    c = x.shape[channel_axis]
    if c == 1:
        return x
    if c != 3:
        raise InputError(
            f"y_channel=True needs RGB (3 channels) or gray (1 channel) images; {name} has {c} "
            "channels"
        )
    return rgb_to_y(x)


def _prepare_np(
    a: np.ndarray,
    b: np.ndarray,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    min_size: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    data_range = _check_data_range(data_range)
    x = _np_to_unit(a, data_range, "a")
    y = _np_to_unit(b, data_range, "b")
    _check_same_shape(a, b)
    rows, cols = _crop_slices(x.shape[0], x.shape[1], crop_border, min_size, what)
    x, y = x[rows, cols], y[rows, cols]
    if y_channel:
        x, y = _luma(x, -1, "a"), _luma(y, -1, "b")
    return x, y


def _prepare_torch(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: float,
    crop_border: int,
    y_channel: bool,
    min_size: int,
    what: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    data_range = _check_data_range(data_range)
    x = _torch_to_unit(a, data_range, "a")
    y = _torch_to_unit(b, data_range, "b").to(x.device)
    _check_same_shape(a, b)
    rows, cols = _crop_slices(x.shape[-2], x.shape[-1], crop_border, min_size, what)
    x, y = x[..., rows, cols], y[..., rows, cols]
    if y_channel:
        x, y = _luma(x, -3, "a"), _luma(y, -3, "b")
    return x, y


# --------------------------------------------------------------------------------------------
# colour


def rgb_to_y(img: _Array) -> _Array:
    """ITU-R BT.601 luma of RGB images, as MATLAB's ``rgb2ycbcr`` and the SR literature use it.

    ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255`` for R, G, B in [0, 1], so black maps
    to 16/255 and white to 235/255 ("studio swing"; this is not the full-range
    ``0.299 R + 0.587 G + 0.114 B`` used to make grayscale images). The input is not clipped.

    Args:
        img: RGB image(s) in [0, 1]: a NumPy array with the channels last (``H x W x 3``, or any
            ``... x 3``), or a tensor with the channels third from last (``N x 3 x H x W`` or
            ``3 x H x W``). ``uint8`` / ``uint16`` arrays and ``uint8`` tensors are first divided
            by 255 / 65535.

    Returns:
        The luma in [16/255, 235/255], keeping a channel axis of size 1 (``H x W x 1`` or
        ``N x 1 x H x W``). Floating-point inputs keep their dtype; integer ones become float64
        (NumPy) or float32 (torch).

    Raises:
        InputError: The channel axis does not hold 3 channels, or the dtype is not numeric.

    Example:
        >>> float(rgb_to_y(np.ones((1, 1, 3)))[0, 0, 0] * 255)
        235.0
    """
    if isinstance(img, torch.Tensor):
        if img.ndim < 3 or img.shape[-3] != 3:
            raise InputError(
                f"rgb_to_y expects tensors of shape (N, 3, H, W) or (3, H, W), got {_shape(img)}"
            )
        x = img
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not x.is_floating_point():
            raise InputError(f"rgb_to_y expects uint8 or floating-point tensors, got {x.dtype}")
        r, g, b = x.unbind(dim=-3)
        y = (_Y_OFFSET + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b) / 255.0
        return y.unsqueeze(-3)
    if not isinstance(img, np.ndarray):
        raise InputError(f"rgb_to_y expects a NumPy array or a tensor, got {type(img).__name__}")
    if img.ndim < 1 or img.shape[-1] != 3:
        raise InputError(f"rgb_to_y expects arrays of shape (H, W, 3), got {img.shape}")
    if img.dtype == np.uint8:
        x = img.astype(np.float64) / 255.0
    elif img.dtype == np.uint16:
        x = img.astype(np.float64) / 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        x = img
    else:
        raise InputError(
            f"rgb_to_y expects uint8, uint16 or floating-point arrays, got {img.dtype}"
        )
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = (_Y_OFFSET + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b) / 255.0
    return y[..., None].astype(x.dtype, copy=False)


# --------------------------------------------------------------------------------------------
# PSNR


def psnr(
    a: np.ndarray,
    b: np.ndarray,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
) -> float:
    """Peak signal-to-noise ratio of two images, in dB (higher is better).

    ``10 * log10(1 / MSE)`` with both images scaled to [0, 1] and the MSE taken over every
    remaining pixel and channel (float64). Matches BasicSR's ``calculate_psnr``.

    Args:
        a: An image ``H x W x C`` or ``H x W``: ``uint8``, ``uint16`` or float in
            [0, ``data_range``].
        b: The other image, same shape (its dtype may differ; each is scaled by its own dtype).
        data_range: The value of a white pixel in floating-point inputs (1.0, or 255.0 for float
            images on the 8-bit scale). Integer inputs are always scaled by their dtype.
        crop_border: Pixels removed from each edge before comparing (the SR scale, usually).
        y_channel: Compare the BT.601 luma (:func:`rgb_to_y`) of RGB images instead of RGB.
            1-channel images are compared as they are.

    Returns:
        The PSNR in dB; ``math.inf`` when the (cropped) images are identical.

    Raises:
        InputError: The shapes differ, an input is not an image array, ``crop_border`` leaves no
            pixels, ``y_channel`` is asked for images that are neither RGB nor gray, or
            ``data_range`` is not positive.

    Example:
        >>> x = np.zeros((8, 8, 3), dtype=np.uint8)
        >>> round(psnr(x, x + 51), 4)  # an error of 0.2 everywhere
        13.9794
    """
    x, y = _prepare_np(a, b, data_range, crop_border, y_channel, 1, "PSNR")
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def psnr_torch(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
) -> torch.Tensor:
    """Per-image PSNR of two batches, in dB; the batched torch twin of :func:`psnr`.

    Args:
        a: Images ``N x C x H x W``, ``uint8`` or float in [0, ``data_range``]. Gradients are not
            tracked (the inputs are detached).
        b: The other images, same shape; moved to ``a``'s device.
        data_range: The value of a white pixel in floating-point inputs.
        crop_border: Pixels removed from each edge before comparing.
        y_channel: Compare the BT.601 luma of RGB images instead of RGB.

    Returns:
        ``Tensor[N]`` (float64; float32 on MPS) on ``a``'s device; ``inf`` for identical pairs.

    Raises:
        InputError: As :func:`psnr`, or the inputs are not 4-d tensors.

    Shape:
        - a, b: ``(N, C, H, W)``
        - output: ``(N,)``
    """
    x, y = _prepare_torch(a, b, data_range, crop_border, y_channel, 1, "PSNR")
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse)


# --------------------------------------------------------------------------------------------
# SSIM


def _gaussian_1d(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The normalised 1-d Gaussian of the SSIM window, as ``cv2.getGaussianKernel(11, 1.5)``."""
    r = (SSIM_WINDOW - 1) / 2
    t = torch.arange(SSIM_WINDOW, dtype=torch.float64) - r
    g = torch.exp(-(t**2) / (2.0 * _SSIM_SIGMA**2))
    return (g / g.sum()).to(device=device, dtype=dtype)


def _ssim_255(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image of ``(N, C, H, W)`` images on the [0, 255] scale -> ``(N,)``."""
    c1 = (_K1 * 255.0) ** 2
    c2 = (_K2 * 255.0) ** 2
    g = _gaussian_1d(x.dtype, x.device)
    g_rows = g.view(1, 1, -1, 1).expand(5, 1, -1, 1)
    g_cols = g.view(1, 1, 1, -1).expand(5, 1, 1, -1)
    per_channel = []
    for i in range(x.shape[1]):  # one channel at a time keeps the peak memory low
        p, q = x[:, i : i + 1], y[:, i : i + 1]
        # Filter the five maps at once; the 2-d Gaussian is separable (rows, then columns),
        # which gives the valid-mode result of the 11x11 window up to float rounding.
        maps = torch.cat([p, q, p * p, q * q, p * q], dim=1)  # (N, 5, H, W)
        maps = F.conv2d(F.conv2d(maps, g_rows, groups=5), g_cols, groups=5)
        mu1, mu2, e11, e22, e12 = maps.unbind(dim=1)
        mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
        num = (2.0 * mu1_mu2 + c1) * (2.0 * (e12 - mu1_mu2) + c2)
        den = (mu1_sq + mu2_sq + c1) * ((e11 - mu1_sq) + (e22 - mu2_sq) + c2)
        per_channel.append((num / den).mean(dim=(1, 2)))
    # Mean per channel, then over channels (BasicSR's order of averaging).
    return torch.stack(per_channel, dim=1).mean(dim=1)


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
) -> float:
    """Structural similarity (Wang et al., 2004) of two images, in [-1, 1] (higher is better).

    The standard SR-benchmark SSIM, equal to BasicSR's ``calculate_ssim`` (and so to the
    official MATLAB code): 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, on the
    [0, 255] scale, valid-mode filtering (the ``5`` outermost pixels of the cropped image only
    contribute through the window), mean over pixels and then over channels.

    Args:
        a: An image ``H x W x C`` or ``H x W``: ``uint8``, ``uint16`` or float in
            [0, ``data_range``].
        b: The other image, same shape.
        data_range: The value of a white pixel in floating-point inputs.
        crop_border: Pixels removed from each edge before comparing.
        y_channel: Compare the BT.601 luma (:func:`rgb_to_y`) of RGB images instead of RGB.

    Returns:
        The mean SSIM; exactly 1.0 for identical images.

    Raises:
        InputError: The shapes differ, fewer than 11x11 pixels remain after ``crop_border``,
            or an input is invalid (see :func:`psnr`).
    """
    x, y = _prepare_np(a, b, data_range, crop_border, y_channel, SSIM_WINDOW, "SSIM")
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None] * 255.0
    ty = torch.from_numpy(np.ascontiguousarray(y.transpose(2, 0, 1)))[None] * 255.0
    return float(_ssim_255(tx, ty)[0])


def ssim_torch(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    y_channel: bool = False,
) -> torch.Tensor:
    """Per-image SSIM of two batches; the batched torch twin of :func:`ssim`.

    Args:
        a: Images ``N x C x H x W``, ``uint8`` or float in [0, ``data_range``] (detached).
        b: The other images, same shape; moved to ``a``'s device.
        data_range: The value of a white pixel in floating-point inputs.
        crop_border: Pixels removed from each edge before comparing.
        y_channel: Compare the BT.601 luma of RGB images instead of RGB.

    Returns:
        ``Tensor[N]`` (float64; float32 on MPS) on ``a``'s device.

    Raises:
        InputError: As :func:`ssim`, or the inputs are not 4-d tensors.

    Shape:
        - a, b: ``(N, C, H, W)``
        - output: ``(N,)``
    """
    x, y = _prepare_torch(a, b, data_range, crop_border, y_channel, SSIM_WINDOW, "SSIM")
    return _ssim_255(x * 255.0, y * 255.0)


# --------------------------------------------------------------------------------------------
# baseline


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise InputError(f"scale must be a whole number >= 1, got {scale!r}")
    return int(scale)


def mod_crop(img: _Array, scale: int) -> _Array:
    """Crop the bottom and right edges so that height and width are multiples of ``scale``.

    The usual preparation of SR ground truth whose size is not a multiple of the scale.

    Args:
        img: A NumPy image ``H x W[ x C]`` or a tensor ``(..., H, W)``.
        scale: The SR scale factor.

    Returns:
        A view of ``img`` of size ``(H - H % scale) x (W - W % scale)``.

    Raises:
        InputError: ``scale`` is not a whole number >= 1, or the image is smaller than ``scale``.
    """
    scale = _check_scale(scale)
    is_tensor = isinstance(img, torch.Tensor)
    if img.ndim < 2 or (not is_tensor and img.ndim > 3):
        raise InputError(f"mod_crop expects an image, got shape {_shape(img)}")
    h, w = (img.shape[-2], img.shape[-1]) if is_tensor else (img.shape[0], img.shape[1])
    if h < scale or w < scale:
        raise InputError(f"a {h}x{w} image is smaller than the scale {scale}")
    hh, ww = h - h % scale, w - w % scale
    return img[..., :hh, :ww] if is_tensor else img[:hh, :ww]


def bicubic_upscale(lr: _Array, scale: int) -> _Array:
    """Upscale by ``scale`` with bicubic interpolation: the baseline every SR model must beat.

    Uses ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False,
    antialias=False)`` (Keys' cubic with a = -0.75) and clamps to [0, 1]. MATLAB's ``imresize``
    (used for the "Bicubic" rows of many papers) uses a = -0.5, so its numbers differ slightly.

    Args:
        lr: Low-resolution image(s) in [0, 1]: a NumPy array ``H x W[ x C]`` (``uint8`` /
            ``uint16`` are scaled to [0, 1]) or a tensor ``(N, C, H, W)`` / ``(C, H, W)``
            (``uint8`` scaled).

    Returns:
        The upscaled image(s), ``scale`` times taller and wider, in [0, 1]: float32 NumPy for
        NumPy input (same number of dimensions), and a tensor of the input's floating dtype
        (float32 for ``uint8``) on its device for tensor input.

    Raises:
        InputError: ``scale`` is not a whole number >= 1, or ``lr`` has an unsupported shape or
            dtype.
    """
    scale = _check_scale(scale)
    if isinstance(lr, torch.Tensor):
        if lr.ndim not in (3, 4):
            raise InputError(
                f"bicubic_upscale expects a tensor (N, C, H, W) or (C, H, W), got {_shape(lr)}"
            )
        x = lr.detach()
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not x.is_floating_point():
            raise InputError(f"bicubic_upscale expects uint8 or float tensors, got {x.dtype}")
        out_dtype = x.dtype
        if out_dtype not in (torch.float32, torch.float64):
            x = x.float()  # half-precision bicubic is not available on every device
        batched = x.ndim == 4
        x = x if batched else x[None]
        up = F.interpolate(
            x, scale_factor=scale, mode="bicubic", align_corners=False, antialias=False
        )
        up = up.clamp_(0.0, 1.0).to(out_dtype)
        return up if batched else up[0]
    if not isinstance(lr, np.ndarray):
        raise InputError(
            f"bicubic_upscale expects a NumPy array or a tensor, got {type(lr).__name__}"
        )
    x_np = _np_to_unit(lr, 1.0, "lr").astype(np.float32)  # H x W x C
    t = torch.from_numpy(np.ascontiguousarray(x_np.transpose(2, 0, 1)))[None]
    up_np = bicubic_upscale(t, scale)[0].numpy().transpose(1, 2, 0)
    up_np = np.ascontiguousarray(up_np)
    return up_np[..., 0] if lr.ndim == 2 else up_np
