"""Image-quality metrics: PSNR and SSIM (RGB or Y channel), the bicubic baseline, per-image CSV,
and the network metrics FID, KID, IS and LPIPS with weights from local files (see
docs/evaluation.md: :mod:`i2i.metrics.inception`, :mod:`~i2i.metrics.fid`,
:mod:`~i2i.metrics.lpips`, :mod:`~i2i.metrics.weights`, :mod:`~i2i.metrics.folders`,
:mod:`~i2i.metrics.evaluation`).

The numbers follow the super-resolution literature (BasicSR / MATLAB conventions): images are
scaled to [0, 1] by dtype, ``crop_border`` pixels are removed from each edge, ``y_channel``
compares the ITU-R BT.601 luma, and SSIM uses the 11x11 Gaussian window (sigma 1.5) on the
[0, 255] scale. NumPy functions take single ``H x W x C`` images and return floats; the ``_torch``
twins take ``N x C x H x W`` batches and return one value per image.

Example:
    >>> from i2i.metrics import bicubic_upscale, psnr, ssim, write_csv
    >>> sr = bicubic_upscale(lr, 4)                                # doctest: +SKIP
    >>> psnr(sr, hr, crop_border=4, y_channel=True)                # doctest: +SKIP
    27.53
    >>> write_csv([{"image": "0801.png", "psnr_y": 27.53}], "eval.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from i2i.metrics.classifier import (
    SmallClassifier,
    class_accuracy,
    dataset_fingerprint,
    load_or_train_classifier,
    nearest_neighbours,
    neighbour_grid,
    train_classifier,
)
from i2i.metrics.fid import (
    FeatureStats,
    InceptionExtractor,
    frechet_distance,
    frechet_distance_features,
    inception_score,
    kernel_inception_distance,
)
from i2i.metrics.image import (
    SSIM_WINDOW,
    bicubic_upscale,
    mod_crop,
    psnr,
    psnr_torch,
    rgb_to_y,
    ssim,
    ssim_torch,
)
from i2i.metrics.inception import FIDInceptionV3, load_inception
from i2i.metrics.lpips import LPIPS, load_lpips
from i2i.metrics.report import MEAN_LABEL, MetricRow, summarize, write_csv
from i2i.metrics.weights import KNOWN_WEIGHTS, WeightsMissingError, resolve_weights

__all__ = [
    "KNOWN_WEIGHTS",
    "LPIPS",
    "MEAN_LABEL",
    "FIDInceptionV3",
    "FeatureStats",
    "InceptionExtractor",
    "WeightsMissingError",
    "frechet_distance",
    "frechet_distance_features",
    "inception_score",
    "kernel_inception_distance",
    "load_inception",
    "load_lpips",
    "resolve_weights",
    "SSIM_WINDOW",
    "MetricRow",
    "SmallClassifier",
    "bicubic_upscale",
    "class_accuracy",
    "dataset_fingerprint",
    "load_or_train_classifier",
    "mod_crop",
    "nearest_neighbours",
    "neighbour_grid",
    "psnr",
    "psnr_torch",
    "rgb_to_y",
    "ssim",
    "ssim_torch",
    "summarize",
    "train_classifier",
    "write_csv",
]
