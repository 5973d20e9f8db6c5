"""DIV2K (Agustsson & Timofte, NTIRE 2017 super-resolution challenge) -> the ``sr`` format.

The zips (from https://data.vision.ee.ethz.ch/cvl/DIV2K/) unpack to ``DIV2K_train_HR/0001.png
... 0800.png``, ``DIV2K_valid_HR/0801.png ... 0900.png`` and, for the bicubic low-resolution
sets, ``DIV2K_{train,valid}_LR_bicubic/X{2,4}/0001x{2,4}.png``. Conversion:

- ``div2k/hr``: HR images only -> ``train/`` and ``val/`` flat folders (LR made on the fly);
- ``div2k/bicubic_x2``, ``div2k/bicubic_x4``: HR + the official bicubic LR ->
  ``train/HR/ + train/LR/`` and ``val/HR/ + val/LR/``, LR files renamed ``0001x4.png`` ->
  ``0001.png`` so that they pair with their HR image by name.

Sizes and SHA-256 are those TensorFlow Datasets recorded (``url_checksums/div2k.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from i2i.errors import DatasetError
from i2i.specs import ConvertJob, DatasetSource, SourceFile

from .layout import require

BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
CHECKSUMS = "TensorFlow Datasets url_checksums/div2k.txt"
TERMS = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
ORIGIN = "DIV2K (Agustsson & Timofte 2017), NTIRE 2017 challenge, ETH Zurich"

#: file name -> (size in bytes, SHA-256)
FILES: dict[str, tuple[int, str]] = {
    "DIV2K_train_HR.zip": (
        3530603713,
        "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335",
    ),
    "DIV2K_valid_HR.zip": (
        448993893,
        "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
    ),
    "DIV2K_train_LR_bicubic_X2.zip": (
        925390592,
        "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850",
    ),
    "DIV2K_valid_LR_bicubic_X2.zip": (
        117763600,
        "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57",
    ),
    "DIV2K_train_LR_bicubic_X4.zip": (
        246914039,
        "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a",
    ),
    "DIV2K_valid_LR_bicubic_X4.zip": (
        31505881,
        "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553",
    ),
}
_SPLITS = (("train", "train"), ("valid", "val"))


def _file(name: str) -> SourceFile:
    size, sha = FILES[name]
    return SourceFile(BASE_URL + name, sha256=sha, size=size, checksum_origin=CHECKSUMS)


def _convert(job: ConvertJob, scale: int | None) -> None:
    for tag, split in _SPLITS:
        hr = job.files(f"**/DIV2K_{tag}_HR/*.png")
        require(hr, f"DIV2K_{tag}_HR/*.png images", job.inputs)
        if scale is None:
            for p in hr:
                job.place(p, f"{split}/{p.name}")
            continue
        lr = job.files(f"**/DIV2K_{tag}_LR_bicubic/X{scale}/*.png")
        require(lr, f"DIV2K_{tag}_LR_bicubic/X{scale}/*.png images", job.inputs)
        for p in hr:
            job.place(p, f"{split}/HR/{p.name}")
        for p in lr:
            m = re.fullmatch(rf"(.+)x{scale}", p.stem)
            if m is None:
                raise DatasetError(
                    f"DIV2K LR file '{p}' is not named NNNNx{scale}.png; is it the x{scale} set?"
                )
            job.place(p, f"{split}/LR/{m.group(1)}.png")


def convert_hr(job: ConvertJob) -> None:
    """HR zips -> flat ``train/`` and ``val/`` folders."""
    _convert(job, None)


def convert_x2(job: ConvertJob) -> None:
    """HR + bicubic x2 zips -> ``train|val/HR + LR``."""
    _convert(job, 2)


def convert_x4(job: ConvertJob) -> None:
    """HR + bicubic x4 zips -> ``train|val/HR + LR``."""
    _convert(job, 4)


def _gb(names: tuple[str, ...]) -> str:
    return f"{sum(FILES[n][0] for n in names) / 1e9:.1f} GB"


def _source(
    name: str,
    summary: str,
    names: tuple[str, ...],
    convert: Callable[[ConvertJob], None],
    scale: int | None,
) -> DatasetSource:
    return DatasetSource(
        name=name,
        summary=summary,
        family="srgan",
        format="sr",
        convert=convert,
        files=tuple(_file(n) for n in names),
        size=_gb(names),
        licence="academic research use (DIV2K terms)",
        terms_url=TERMS,
        origin=ORIGIN,
        params={"scale": scale} if scale else {},
        train_args=("--set", f"scale={scale}") if scale else (),
    )


_HR = ("DIV2K_train_HR.zip", "DIV2K_valid_HR.zip")
SOURCES: tuple[DatasetSource, ...] = (
    _source(
        "div2k/hr",
        "800 train + 100 validation 2K images; low-res inputs made on the fly",
        _HR,
        convert_hr,
        None,
    ),
    _source(
        "div2k/bicubic_x2",
        "2K images + the official bicubic x2 low-res images (800 train + 100 validation pairs)",
        (*_HR, "DIV2K_train_LR_bicubic_X2.zip", "DIV2K_valid_LR_bicubic_X2.zip"),
        convert_x2,
        2,
    ),
    _source(
        "div2k/bicubic_x4",
        "2K images + the official bicubic x4 low-res images (800 train + 100 validation pairs)",
        (*_HR, "DIV2K_train_LR_bicubic_X4.zip", "DIV2K_valid_LR_bicubic_X4.zip"),
        convert_x4,
        4,
    ),
)
