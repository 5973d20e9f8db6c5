"""Static int8 quantization (QDQ) of an exported fp32 ONNX model, calibrated on images.

The calibration images are loaded with the context's image loader at the model's input channels,
resized (shorter side) and center-cropped to a square of ``calibration_size`` rounded to the
network's stride, and scaled to [-1, 1] — what the network sees at inference. onnxruntime's
static quantizer then records activation ranges (min/max) over them and writes a QDQ graph with
per-channel int8 weights and uint8 activations, which onnxruntime's CPU kernels run as integer
convolutions. int8 is CPU-only in i2i.

The quality of the quantized model is reported as the PSNR (dB) of its outputs against the fp32
ONNX model's outputs on the same calibration images (outputs mapped from [-1, 1] to [0, 1]).

onnxruntime is imported inside the functions that need it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from i2i.errors import ConfigError, ExportError, ImageReadError

log = logging.getLogger(__name__)

#: Ops left in float (between DequantizeLinear and QuantizeLinear): their statistics need the
#: precision, and their scale/bias vectors do not quantize per channel.
NORMALIZATION_OPS = (
    "BatchNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LayerNormalization",
)

LoadImage = Callable[[Path, int], np.ndarray]


def calibration_size_for(size: int, stride: int) -> int:
    """``size`` rounded to the nearest multiple of ``stride`` (at least one stride)."""
    stride = max(1, int(stride))
    return max(stride, int(round(size / stride)) * stride)


def _square(img: np.ndarray, size: int) -> np.ndarray:
    """``H x W x C`` in [0, 1] -> ``1 x C x size x size`` in [-1, 1] (resize shorter side, crop)."""
    x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[..., top : top + size, left : left + size].clamp(0, 1)
    return (x * 2 - 1).numpy().astype(np.float32)


def calibration_batches(
    folder: str | Path,
    channels: int,
    size: int,
    stride: int,
    max_images: int = 32,
    load_image: LoadImage | None = None,
) -> list[np.ndarray]:
    """Calibration inputs from the images of ``folder`` (searched recursively, sorted).

    Args:
        folder: Folder of images (PNG, JPEG, TIFF, BMP, WebP).
        channels: Input channels of the model (1, 3 or 4).
        size: Square side before rounding to ``stride`` (see :func:`calibration_size_for`).
        stride: The network's stride.
        max_images: Use at most this many images (the first ones in sorted order).
        load_image: ``load_image(path, channels) -> H x W x C float32 in [0, 1]``; by default
            :func:`i2i.datasets.image_io.read_image`.

    Returns:
        One ``1 x C x S x S`` float32 array in [-1, 1] per usable image.

    Raises:
        ConfigError: the folder is missing or holds no readable image.
    """
    from i2i.datasets.image_io import list_images, read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"calibration folder {folder} does not exist or is not a folder; int8 quantization "
            "needs a folder of representative input images (--calibration DIR)"
        )
    paths = list_images(folder)
    if not paths:
        raise ConfigError(
            f"no images found in calibration folder {folder} (looked for PNG, JPEG, TIFF, BMP, "
            "WebP); add a few representative input images"
        )
    loader = load_image or read_image
    side = calibration_size_for(size, stride)
    batches: list[np.ndarray] = []
    for p in paths[: max(1, max_images)]:
        try:
            batches.append(_square(loader(p, channels), side))
        except ImageReadError as e:
            log.warning("skipped unreadable calibration image: %s", e)
    if not batches:
        raise ConfigError(f"no readable image in calibration folder {folder}")
    return batches


def _reader(batches: Sequence[np.ndarray], input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _ImageReader(CalibrationDataReader):
        """Feeds one calibration image per call."""

        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._it, None)
            return None if x is None else {input_name: x}

        def rewind(self) -> None:
            self._it = iter(batches)

    return _ImageReader()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    batches: Sequence[np.ndarray],
    *,
    input_name: str,
    work_dir: str | Path,
) -> Path:
    """Write a static QDQ int8 version of the ONNX model at ``fp32_path``.

    Runs onnxruntime's ``quant_pre_process`` (shape inference and graph optimization; skipped
    with a warning if it fails) and ``quantize_static`` with per-channel int8 weights, uint8
    activations and min/max calibration over ``batches``.

    Args:
        fp32_path: The fp32 model.
        out_path: Where to write the int8 model.
        batches: Calibration inputs (see :func:`calibration_batches`).
        input_name: The model's input name.
        work_dir: A scratch folder for the pre-processed model.

    Returns:
        ``out_path``.

    Raises:
        ExportError: onnxruntime could not quantize the model.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = Path(fp32_path)
    pre = Path(work_dir) / "preprocessed.onnx"
    # ONNX shape inference is enough for conv nets; onnxruntime's symbolic shape inference gives
    # up on some dynamic reshapes (group norm) and then leaves temp files in the working folder
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        src = pre
    except Exception as e:  # noqa: BLE001 - pre-processing is an optional optimization
        log.warning("onnxruntime quant_pre_process failed (%s); quantizing the graph as is", e)
    graph = onnx.load(str(src), load_external_data=False).graph
    keep_fp32 = [n.name for n in graph.node if n.op_type in NORMALIZATION_OPS]
    try:
        quantize_static(
            str(src),
            str(out_path),
            _reader(batches, input_name),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=keep_fp32,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    except Exception as e:  # noqa: BLE001 - onnxruntime raises many types
        raise ExportError(f"int8 quantization failed: {_first_line(e)}") from e
    return Path(out_path)


def psnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR (dB) of ``other`` against ``reference``, both in [-1, 1] (compared in [0, 1]).

    Returns ``inf`` for identical arrays.
    """
    a = (np.clip(reference.astype(np.float64), -1, 1) + 1) / 2
    b = (np.clip(other.astype(np.float64), -1, 1) + 1) / 2
    mse = float(np.mean((a - b) ** 2))
    if not math.isfinite(mse):
        return float("nan")
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def int8_psnr(
    fp32_session: Any, int8_session: Any, batches: Sequence[np.ndarray], input_name: str
) -> float:
    """PSNR (dB) of the int8 model's outputs against the fp32 model's over ``batches``.

    The squared errors of all images are pooled before taking the log (one number for the set).
    """
    ref = [fp32_session.run(None, {input_name: x})[0] for x in batches]
    out = [int8_session.run(None, {input_name: x})[0] for x in batches]
    return psnr_db(
        np.concatenate([r.ravel() for r in ref]), np.concatenate([o.ravel() for o in out])
    )
