"""The ``sr`` dataset format (built-in plugin ``sr_data``): super-resolution (low-res -> high-res).

Layout (any split name ``S`` maps to ``ROOT/S/``; split ``"test"`` reads ``val/`` when there is
no ``test/``). Each split folder is EITHER

- a flat folder of high-resolution images: the low-resolution input is made on the fly from
  each HR crop (:func:`degrade`: antialiased bicubic downscaling, then optional blur, noise and
  JPEG), or
- ``HR/`` + ``LR/`` sub-folders of explicit pairs matched by file name without extension
  (``HR/cat.png`` pairs with ``LR/cat.jpg``); every LR image times the scale must equal its HR
  image's size exactly::

    ROOT/
      train/        HR images ...               or   train/HR/ + train/LR/
      test/         optional, the same

Settings come from ``DataOptions.params`` (the SR family fills them from its config; ``i2i
datasets check --param KEY=VALUE``), all optional:

- ``scale`` (4): the upscaling factor, one of :data:`SCALES`;
- ``blur_sigma`` (0.0): > 0 blurs each on-the-fly HR crop before downscaling with a Gaussian
  of sigma drawn uniformly in ``[min(0.2, blur_sigma), blur_sigma]`` HR pixels;
- ``noise_std`` (0.0): > 0 adds Gaussian noise of std drawn uniformly in ``[0, noise_std]`` to
  the LR image (values in [0, 1]);
- ``jpeg_quality`` (0): > 0 JPEG-compresses the LR image with a quality drawn uniformly from
  the integers ``jpeg_quality .. 95`` (kornia's differentiable JPEG codec);
- ``rot90`` (False): adds random vertical flips and transposes to the horizontal flips (the 8
  dihedral orientations, as BasicSR augments).

``options.flip`` turns on random horizontal flips (train split only; HR and LR alike).

Degradations apply only to the on-the-fly LR of flat folders; explicit ``LR/`` files are used as
they are. ``DataOptions.channels`` is ``{"lr": C, "hr": C}`` with C = 1 or 3 (the same for both).

A sample ``dataset[(index, seed)]`` is ``{"hr": C x size x size, "lr": C x size/scale x
size/scale, "hr_path": str, "lr_path": str, "skipped": int}`` with float32 tensors in [-1, 1]
(``lr_path`` is the HR file in flat mode). ``options.size`` is the HR crop (a multiple of the
scale); the crop position is aligned to the scale, so the LR crop starts at ``(x / scale, y /
scale)``. ``size == 0`` gives the whole image, HR cropped at the bottom/right to a multiple of the
scale. Crop, flips, degradation parameters and noise all derive from ``seed``.

Example:
    >>> opts = DataOptions(size=96, channels={"lr": 3, "hr": 3}, params={"scale": 4})
    >>> validate_sr(Path("data/sr"), opts).counts  # doctest: +SKIP
    {'hr': 24}
    >>> item = build_sr(Path("data/sr"), opts)[(0, 1234)]  # doctest: +SKIP
    >>> item["hr"].shape, item["lr"].shape  # doctest: +SKIP
    (torch.Size([3, 96, 96]), torch.Size([3, 24, 24]))
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from i2i.errors import ConfigError, DatasetError
from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport

from .demo import README_NAME, begin_demo
from .folders import (
    FolderDataset,
    check_files,
    check_split,
    child_seed,
    dataset_root,
    root_listing,
)
from .image_io import format_file_list, list_images, write_image
from .paired import _STEM_RULE, match_stems

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar

log = logging.getLogger(__name__)

FORMAT_NAME = "sr"
KEYS: tuple[str, str] = ("lr", "hr")
HR_DIR, LR_DIR = "HR", "LR"
#: Allowed upscaling factors (1: restoration, the LR input is the degraded HR image).
SCALES: tuple[int, ...] = (1, 2, 3, 4, 8)
#: ``DataOptions.params`` keys this format reads, with their defaults.
PARAM_DEFAULTS: Mapping[str, Any] = {
    "scale": 4,
    "blur_sigma": 0.0,
    "noise_std": 0.0,
    "jpeg_quality": 0,
    "rot90": False,
}
DEMO_MARKER = "i2i sr demo dataset"
_STREAM = {"train": 41, "test": 42}
_MIN_BLUR_SIGMA = 0.2
_MAX_JPEG_QUALITY = 95


# -- settings ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SRParams:
    """The ``DataOptions.params`` the ``sr`` format reads (see the module docstring)."""

    scale: int = 4
    blur_sigma: float = 0.0
    noise_std: float = 0.0
    jpeg_quality: int = 0
    rot90: bool = False

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any] | None) -> SRParams:
        """Read and check the params.

        Raises:
            ConfigError: an unknown key, or a value of the wrong type or out of range.
        """
        params = dict(params or {})
        unknown = sorted(set(params) - set(PARAM_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"unknown sr dataset param(s) {', '.join(unknown)}; known: "
                f"{', '.join(f'{k} (default {v})' for k, v in PARAM_DEFAULTS.items())}"
            )
        merged = {**PARAM_DEFAULTS, **params}

        def number(key: str, kind: type) -> Any:
            value = merged[key]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and kind is int and isinstance(value, float) and not value.is_integer():
                ok = False
            if not ok:
                raise ConfigError(
                    f"sr dataset param {key} must be {'an integer' if kind is int else 'a number'}"
                    f", got {value!r}"
                )
            return kind(value)

        scale = number("scale", int)
        if scale not in SCALES:
            raise ConfigError(
                f"sr dataset param scale must be one of {', '.join(map(str, SCALES))}, got {scale}"
            )
        blur = number("blur_sigma", float)
        noise = number("noise_std", float)
        quality = number("jpeg_quality", int)
        if not 0.0 <= blur <= 50.0:
            raise ConfigError(
                f"sr dataset param blur_sigma must be in [0, 50] (0 = off), got {blur}"
            )
        if not 0.0 <= noise <= 1.0:
            raise ConfigError(
                f"sr dataset param noise_std must be in [0, 1] (0 = off), got {noise}"
            )
        if not 0 <= quality <= _MAX_JPEG_QUALITY:
            raise ConfigError(
                f"sr dataset param jpeg_quality must be 0 (off) or in 1..{_MAX_JPEG_QUALITY} "
                f"(the lowest quality drawn), got {quality}"
            )
        rot = merged["rot90"]
        if not isinstance(rot, (bool, int)) or rot not in (0, 1):
            raise ConfigError(f"sr dataset param rot90 must be true or false, got {rot!r}")
        return cls(scale, blur, noise, quality, bool(rot))


def check_size(size: int, scale: int) -> None:
    """Raise a ConfigError when the HR crop ``size`` is not 0 and not a multiple of ``scale``.

    Raises:
        ConfigError: the message gives the nearest valid sizes.
    """
    if size < 0 or size % scale:
        low = size // scale * scale
        near = [s for s in (low, low + scale) if s > 0]
        raise ConfigError(
            f"the crop size {size} must be a multiple of the super-resolution scale {scale} "
            f"(the LR crop is size / scale); use {' or '.join(map(str, near))}"
        )


def _channels(options: DataOptions) -> int:
    ch = {k: int(options.channels.get(k, 3)) for k in KEYS}
    if ch["lr"] != ch["hr"] or ch["hr"] not in (1, 3):
        raise ConfigError(
            f"the sr format needs channels {{'lr': C, 'hr': C}} with C = 1 or 3, got {ch}"
        )
    return ch["hr"]


# -- degradation -------------------------------------------------------------------------------


def _check_batch(hr: torch.Tensor, scale: int, fn: str) -> None:
    if not isinstance(hr, torch.Tensor) or hr.ndim != 4:
        shape = tuple(hr.shape) if isinstance(hr, torch.Tensor) else type(hr).__name__
        raise ValueError(f"{fn} expects an (N, C, H, W) tensor, got {shape}")
    if int(scale) < 1:
        raise ValueError(f"{fn} expects scale >= 1, got {scale}")
    h, w = hr.shape[-2:]
    if h % scale or w % scale or h == 0 or w == 0:
        raise ValueError(
            f"{fn}: height and width must be positive multiples of the scale {scale}, got "
            f"{h}x{w}; crop the HR image to {h // scale * scale}x{w // scale * scale} first"
        )


def bicubic_downscale(hr: torch.Tensor, scale: int, antialias: bool = True) -> torch.Tensor:
    """Downscale by an integer factor with kornia's bicubic resize, clamped to [0, 1].

    With ``antialias`` (the default) kornia low-pass filters first (a Gaussian of sigma
    ``(scale - 1) / 2``), so fine patterns above the LR Nyquist rate become flat instead of
    aliasing into false low-frequency patterns.

    Args:
        hr: Images in [0, 1].
        scale: Integer factor; height and width must be multiples of it.
        antialias: Low-pass filter before sampling.

    Returns:
        The downscaled images, clamped to [0, 1].

    Shape:
        ``(N, C, H, W) -> (N, C, H / scale, W / scale)``.

    Raises:
        ValueError: wrong rank, or H / W not multiples of ``scale``.

    Example:
        >>> bicubic_downscale(torch.rand(1, 3, 64, 64), 4).shape
        torch.Size([1, 3, 16, 16])
    """
    from kornia.geometry.transform import resize

    _check_batch(hr, scale, "bicubic_downscale")
    if scale == 1:
        return hr.clamp(0.0, 1.0)
    h, w = hr.shape[-2:]
    out = resize(
        hr, (h // scale, w // scale), interpolation="bicubic", align_corners=False,
        antialias=antialias,
    )  # fmt: skip
    return out.clamp(0.0, 1.0)


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(n, generator=generator, device=generator.device if generator else None)
    return (low + (high - low) * u).cpu()


def degrade(
    hr: torch.Tensor,
    scale: int,
    generator: torch.Generator | None = None,
    blur_sigma: float = 0.0,
    noise_std: float = 0.0,
    jpeg_quality: int = 0,
) -> torch.Tensor:
    """Make low-resolution inputs from HR images: blur -> bicubic downscale -> noise -> JPEG.

    Each image of the batch draws its own parameters (all from ``generator``, so a seeded
    generator gives the same result every time): a Gaussian blur of sigma uniform in
    ``[min(0.2, blur_sigma), blur_sigma]`` HR pixels (``blur_sigma > 0``), antialiased bicubic
    downscaling (:func:`bicubic_downscale`), Gaussian noise of std uniform in ``[0, noise_std]``
    (``noise_std > 0``) and JPEG compression at an integer quality uniform in
    ``[jpeg_quality, 95]`` (``jpeg_quality > 0``, kornia's differentiable JPEG codec; 1-channel
    images are coded as grey RGB).

    Args:
        hr: Images in [0, 1].
        scale: Integer factor; H and W must be multiples of it.
        generator: Random source (its device is used for sampling); None uses torch's global RNG.
        blur_sigma: Largest blur sigma in HR pixels (0 = no blur).
        noise_std: Largest noise std on [0, 1] values (0 = no noise).
        jpeg_quality: Lowest JPEG quality, 1..95 (0 = no JPEG).

    Returns:
        The LR images in [0, 1].

    Shape:
        ``(N, C, H, W) -> (N, C, H / scale, W / scale)``, C = 1 or 3.

    Raises:
        ValueError: a wrong shape or an out-of-range parameter.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> degrade(torch.rand(2, 3, 32, 32), 4, g, blur_sigma=1.5, noise_std=0.02).shape
        torch.Size([2, 3, 8, 8])
    """
    _check_batch(hr, scale, "degrade")
    if blur_sigma < 0 or noise_std < 0 or not 0 <= jpeg_quality <= _MAX_JPEG_QUALITY:
        raise ValueError(
            "degrade expects blur_sigma >= 0, noise_std >= 0 and jpeg_quality in 0..95, got "
            f"{blur_sigma}, {noise_std}, {jpeg_quality}"
        )
    n, c = hr.shape[:2]
    x = hr.clamp(0.0, 1.0)
    if blur_sigma > 0:
        from kornia.filters import gaussian_blur2d

        sigma = _uniform(n, min(_MIN_BLUR_SIGMA, blur_sigma), blur_sigma, generator)
        k = 2 * math.ceil(3.0 * float(sigma.max())) + 1
        h, w = x.shape[-2:]
        k = max(3, min(k, 2 * ((min(h, w) - 1) // 2) + 1))  # reflect padding needs k <= size
        sigmas = torch.stack([sigma, sigma], dim=1).to(x.device, x.dtype)
        x = gaussian_blur2d(x, (k, k), sigmas, border_type="reflect")
    lr = bicubic_downscale(x, scale)
    if noise_std > 0:
        std = _uniform(n, 0.0, noise_std, generator).to(lr.device, lr.dtype)
        dev = generator.device if generator is not None else lr.device
        noise = torch.randn(lr.shape, generator=generator, device=dev, dtype=lr.dtype)
        lr = (lr + noise.to(lr.device) * std.view(n, 1, 1, 1)).clamp(0.0, 1.0)
    if jpeg_quality > 0:
        from kornia.enhance import jpeg_codec_differentiable

        q = torch.floor(_uniform(n, jpeg_quality, _MAX_JPEG_QUALITY + 1, generator))
        q = q.clamp(max=_MAX_JPEG_QUALITY).to(lr.device, lr.dtype)
        rgb = lr.expand(n, 3, *lr.shape[-2:]) if c == 1 else lr
        coded = jpeg_codec_differentiable(rgb, q)
        lr = (coded.mean(dim=1, keepdim=True) if c == 1 else coded).clamp(0.0, 1.0)
    return lr


# -- folders -----------------------------------------------------------------------------------


def split_folder(root: Path, split: str) -> Path:
    """``root / split``; split ``"test"`` reads ``val/`` when there is no ``test/``.

    Raises:
        DatasetError: ``split`` is not a plain name.
    """
    check_split(split, FORMAT_NAME, "ROOT/<split>/")
    folder = Path(root) / split
    if split == "test" and not folder.is_dir() and (Path(root) / "val").is_dir():
        return Path(root) / "val"
    return folder


@dataclasses.dataclass
class _Layout:
    folder: Path
    paired: bool
    hr: list[Path]
    lr: list[Path]
    pairs: list[tuple[Path, Path]]  # (hr, lr); in flat mode (hr, hr)
    only_hr: list[str]
    only_lr: list[str]
    ambiguous: list[str]


def _no_images(folder: Path, what: str) -> DatasetError:
    return DatasetError(
        f"'{folder}' holds no image files; expected {what} (PNG, JPEG, ...) — add images to it"
    )


def _layout(root: Path, split: str) -> _Layout:
    """Resolve the split folder and its mode; DatasetError for structural problems."""
    root = dataset_root(
        root, FORMAT_NAME, "train/ holding high-resolution images (or train/HR/ + train/LR/)"
    )
    folder = split_folder(root, split)
    if not folder.is_dir():
        hint = ""
        if (root / HR_DIR).is_dir() or list_images(root, recursive=False):
            hint = f" (images or HR/ lie directly in the root: move them into {split}/)"
        optional = " (test/ optional)" if split == "train" else ""
        raise DatasetError(
            f"sr dataset '{root}' has no {split}/ folder; expected ROOT/{split}/ holding "
            f"high-resolution images, or ROOT/{split}/HR/ + ROOT/{split}/LR/ pairs{optional}; "
            f"found in root: {root_listing(root)}{hint}"
        )
    hr_dir, lr_dir = folder / HR_DIR, folder / LR_DIR
    if hr_dir.is_dir() != lr_dir.is_dir():
        have, lack = (HR_DIR, LR_DIR) if hr_dir.is_dir() else (LR_DIR, HR_DIR)
        raise DatasetError(
            f"'{folder}' has {have}/ but no {lack}/; explicit pairs need both {HR_DIR}/ and "
            f"{LR_DIR}/ (matched by file name), or put only high-resolution images directly in "
            f"{folder.name}/ to make the LR images on the fly"
        )
    if not hr_dir.is_dir():
        hr = list_images(folder)
        if not hr:
            raise _no_images(folder, "high-resolution images")
        return _Layout(folder, False, hr, [], [(p, p) for p in hr], [], [], [])
    hr, lr = list_images(hr_dir), list_images(lr_dir)
    for files, d, what in ((hr, hr_dir, "high-resolution"), (lr, lr_dir, "low-resolution")):
        if not files:
            raise _no_images(d, f"{what} images")
    m = match_stems(hr, hr_dir, lr, lr_dir)
    return _Layout(
        folder, True, hr, lr, [(a, b) for _, a, b in m.pairs], m.only_a, m.only_b, m.ambiguous
    )


# -- validation --------------------------------------------------------------------------------


def validate_sr(root: Path, options: DataOptions) -> DatasetReport:
    """Check an sr dataset folder before training.

    Checks, for ``options.split``: the params and channels are valid and the crop size is a
    multiple of the scale; the split folder exists and holds images (or both ``HR/`` and
    ``LR/``); every image opens (corrupt files are reported; the dataset would skip them unless
    strict); no HR image is smaller than the crop size (or the scale); in ``HR/`` + ``LR/`` mode,
    every file has a partner of the same name and every LR size times the scale equals its HR
    size.

    Args:
        root: Dataset folder.
        options: Split, crop size, channels and ``params`` (``scale`` ...).

    Returns:
        A report with counts ``{"hr": n}`` (flat) or ``{"hr": n, "lr": n}`` (HR/ + LR/).

    Raises:
        ConfigError: bad params, channels, or a crop size that is not a multiple of the scale.
        DatasetError: one line per problem, naming up to 5 files each and how to fix them.
    """
    root = Path(root)
    p = SRParams.from_mapping(options.params)
    check_size(options.size, p.scale)
    _channels(options)
    lay = _layout(root, options.split)
    rel = lambda path: path.relative_to(root).as_posix()  # noqa: E731
    sizes: dict[Path, tuple[int, int]] = {}
    bad: list[str] = []
    for files in (lay.hr, lay.lr):
        for path, (reason, wh) in zip(files, check_files(files), strict=True):
            if reason is not None or wh is None:
                bad.append(f"{rel(path)} ({reason})")
            else:
                sizes[path] = wh
    problems: list[str] = []
    if lay.only_hr or lay.only_lr or lay.ambiguous:
        parts = []
        if lay.only_hr:
            parts.append(
                f"{len(lay.only_hr)} file(s) in {HR_DIR}/ have no partner in {LR_DIR}/: "
                f"{format_file_list(lay.only_hr)}"
            )
        if lay.only_lr:
            parts.append(
                f"{len(lay.only_lr)} file(s) in {LR_DIR}/ have no partner in {HR_DIR}/: "
                f"{format_file_list(lay.only_lr)}"
            )
        if lay.ambiguous:
            parts.append(
                f"{len(lay.ambiguous)} name(s) used by several files of one side: "
                f"{format_file_list(lay.ambiguous)}"
            )
        problems.append(
            f"unmatched names in '{lay.folder}': {'; '.join(parts)} ({_STEM_RULE}); add the "
            "partners or remove these files"
        )
    if bad:
        fix = "re-export or remove them"
        if not options.strict:
            fix += " (training would skip them; strict mode stops at the first)"
        problems.append(
            f"{len(bad)} unreadable image file(s) in '{root}': {format_file_list(bad)}; {fix}"
        )
    need = max(options.size, p.scale)
    small = [
        f"{rel(hr)} ({sizes[hr][0]}x{sizes[hr][1]})"
        for hr, _ in lay.pairs
        if hr in sizes and min(sizes[hr]) < need
    ]
    if small:
        what = f"the crop size {need}x{need}" if options.size else f"the scale {p.scale}"
        smallest = min(min(sizes[hr]) for hr, _ in lay.pairs if hr in sizes)
        fits = smallest // p.scale * p.scale  # the largest crop (a multiple of scale) that fits
        fix = (
            f"train with --size {fits} (the largest multiple of the scale {p.scale} that every "
            "image fits) or remove them"
            if options.size and fits >= p.scale
            else "remove them"
        )
        problems.append(
            f"{len(small)} HR image(s) in '{lay.folder}' are smaller than {what}: "
            f"{format_file_list(small)}; {fix}"
        )
    if lay.paired:
        mismatch = []
        for hr, lr in lay.pairs:
            if hr in sizes and lr in sizes:
                (wh, hh), (wl, hl) = sizes[hr], sizes[lr]
                if (wl * p.scale, hl * p.scale) != (wh, hh):
                    mismatch.append(f"{rel(lr)} {wl}x{hl} vs {rel(hr)} {wh}x{hh}")
        if mismatch:
            problems.append(
                f"{len(mismatch)} pair(s) in '{lay.folder}' do not match the scale {p.scale}: "
                f"{format_file_list(mismatch)}; the LR size times {p.scale} must equal the HR "
                f"size exactly — crop the HR image to a multiple of {p.scale} and downscale it "
                "again, or set the right scale"
            )
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {"hr": len(lay.hr)} if not lay.paired else {"hr": len(lay.hr), "lr": len(lay.lr)}
    log.info(
        "sr dataset %s (%s, %s): %s",
        root,
        lay.folder.name,
        "HR/ + LR/ pairs" if lay.paired else "LR made on the fly",
        counts,
    )
    return DatasetReport(root=root, format=FORMAT_NAME, counts=counts)


# -- the dataset -------------------------------------------------------------------------------


def _dihedral(arr: np.ndarray, hflip: bool, vflip: bool, transpose: bool) -> np.ndarray:
    if hflip:
        arr = arr[:, ::-1]
    if vflip:
        arr = arr[::-1]
    if transpose:
        arr = arr.transpose(1, 0, 2)
    return np.ascontiguousarray(arr)


def _to_batch(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None]


class SRDataset(FolderDataset):
    """HR images (LR made on the fly) or explicit HR/LR pairs; items via ``dataset[(index, seed)]``.

    See the module docstring for the sample contract. A corrupt file raises
    :class:`~i2i.errors.ImageReadError` with ``options.strict``; otherwise it is logged,
    remembered, its sample replaced by another chosen from the seed, and counted in
    ``"skipped"``.

    Args:
        root: Dataset folder.
        options: Split, HR crop size (0 = whole images), flip, channels, strictness, image loader
            and ``params``.

    Raises:
        ConfigError: bad params or channels, or a crop size that is not a multiple of the scale.
        DatasetError: a missing split folder, no images, or no matched pairs.
    """

    item_noun = "samples"

    def __init__(self, root: Path, options: DataOptions) -> None:
        super().__init__(root, options)
        self.params = SRParams.from_mapping(options.params)
        self.scale = self.params.scale
        check_size(options.size, self.scale)
        self.size = options.size
        self.channels = _channels(options)
        lay = _layout(self.root, options.split)
        if not lay.pairs:
            raise DatasetError(
                f"no file of '{lay.folder / HR_DIR}' has a partner in '{lay.folder / LR_DIR}'; "
                f"{_STEM_RULE} (run 'i2i datasets check {self.root} --format sr')"
            )
        self.folder = lay.folder
        self.paired = lay.paired
        #: ``(HR file, LR file)`` per sample (``(HR, HR)`` when the LR is made on the fly).
        self.samples: list[tuple[Path, Path]] = lay.pairs

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        return self.samples

    def __repr__(self) -> str:
        mode = "HR/+LR/" if self.paired else "HR only"
        return (
            f"SRDataset(root='{self.root}', split={self.split!r}, {mode}, scale={self.scale}, "
            f"samples={len(self)})"
        )

    def _read_pair(self, item: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray | None]:
        hr = self.read(item[0], self.channels)
        return hr, self.read(item[1], self.channels) if self.paired else None

    def _check_shapes(self, hr: np.ndarray, lr: np.ndarray | None, k: int) -> None:
        hr_path, lr_path = self.pairs[k]
        h, w = hr.shape[:2]
        need = max(self.size, self.scale)
        if min(h, w) < need:
            raise DatasetError(
                f"HR image '{hr_path}' is {w}x{h}, smaller than {need}x{need} (crop size / "
                f"scale); run 'i2i datasets check {self.root} --format sr' for the full list"
            )
        if lr is not None and (lr.shape[1] * self.scale, lr.shape[0] * self.scale) != (w, h):
            raise DatasetError(
                f"LR image '{lr_path}' is {lr.shape[1]}x{lr.shape[0]} but HR '{hr_path}' is "
                f"{w}x{h}; the LR size times the scale {self.scale} must equal the HR size (run "
                f"'i2i datasets check {self.root} --format sr')"
            )

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, seed = self.parse_key(key)
        geo, degr, retry = np.random.SeedSequence(seed).spawn(3)
        (hr, lr), k, skipped = self.first_readable(
            self.samples, index, retry, self._read_pair, where=self.folder
        )
        self._check_shapes(hr, lr, k)
        s = self.scale
        h, w = hr.shape[:2]
        rng = np.random.default_rng(geo)
        if self.size > 0:
            n = self.size // s
            y = int(rng.integers(0, h // s - n + 1))
            x = int(rng.integers(0, w // s - n + 1))
            hr = hr[y * s : (y + n) * s, x * s : (x + n) * s]
            if lr is not None:
                lr = lr[y : y + n, x : x + n]
        else:
            hr = hr[: h // s * s, : w // s * s]
        flips = rng.random(3) < 0.5
        if self.options.flip and self.split == "train":
            rot = self.params.rot90
            hflip, vflip, transpose = bool(flips[0]), rot and bool(flips[1]), rot and bool(flips[2])
            hr = _dihedral(hr, hflip, vflip, transpose)
            if lr is not None:
                lr = _dihedral(lr, hflip, vflip, transpose)
        hr_t = _to_batch(hr)
        if lr is None:
            gen = torch.Generator().manual_seed(child_seed(degr))
            p = self.params
            lr_t = degrade(hr_t, s, gen, p.blur_sigma, p.noise_std, p.jpeg_quality)
        else:
            lr_t = _to_batch(lr)
        hr_path, lr_path = self.pairs[k]
        return {
            "hr": hr_t[0] * 2.0 - 1.0,
            "lr": lr_t[0] * 2.0 - 1.0,
            "hr_path": str(hr_path),
            "lr_path": str(lr_path),
            "skipped": skipped,
        }


def build_sr(root: Path, options: DataOptions) -> SRDataset:
    """Build the torch Dataset of one split (see :class:`SRDataset`).

    Run :func:`validate_sr` first for a full check; this only lists and matches files.
    """
    return SRDataset(Path(root), options)


# -- demo data ---------------------------------------------------------------------------------

_SS = 2  # supersampling factor of the demo renderer


def _stripes(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """Binary stripes (n x n, supersampled pixels) of a random period and angle."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    period = rng.uniform(lo, hi) * _SS
    a = rng.uniform(0, np.pi)
    t = (x * np.cos(a) + y * np.sin(a)) / period + rng.uniform(0, 1)
    return (t % 1.0 < 0.5).astype(np.float32)


def _checker(rng: np.random.Generator, n: int) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    cell = rng.uniform(3.0, 9.0) * _SS
    a = rng.uniform(0, np.pi / 2)
    u = (x * np.cos(a) + y * np.sin(a)) / cell
    v = (-x * np.sin(a) + y * np.cos(a)) / cell
    return ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)


def _color(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.05, 0.95, 3).astype(np.float32)


def _mask(n: int, draw: Callable[[ImageDraw.ImageDraw], None]) -> np.ndarray:
    im = Image.new("L", (n, n), 0)
    draw(ImageDraw.Draw(im))
    return np.asarray(im, dtype=np.float32) / 255.0


def _polygon(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    cx, cy = rng.uniform(0.1, 0.9, 2) * n
    r = rng.uniform(0.12, 0.35) * n
    k = int(rng.integers(3, 8))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = r * rng.uniform(0.5, 1.0, k)
    return [
        (float(cx + q * np.cos(t)), float(cy + q * np.sin(t)))
        for q, t in zip(radii, angles, strict=True)
    ]


def _glyph_strokes(rng: np.random.Generator, x0: float, y0: float, cell: float) -> list:
    grid = [(x0 + i * cell / 2, y0 + j * cell) for j in range(3) for i in range(3)]
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        a, b = rng.choice(9, 2, replace=False)
        strokes.append((grid[int(a)], grid[int(b)]))
    return strokes


def render_sr_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """One procedural high-resolution image (``size x size x 3`` float32 in [0, 1]).

    A smooth two-colour gradient with a faint woven texture, overlaid with 4-7 elements drawn
    from: filled random polygons (flat or striped), rotated stripe and checkerboard patches
    (periods of 3-18 px), bundles of thin lines, and rows of text-like glyphs (2-4 strokes on a
    3x3 grid). Rendered at 2x and box-downsampled, so edges are sharp but not aliased: the fine
    structure is what bicubic upscaling from x2-x4 blurs and a small CNN learns to restore.
    """
    n = size * _SS
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    a = rng.uniform(0, 2 * np.pi)
    g = np.clip(0.5 + 0.7 * ((x - 0.5) * np.cos(a) + (y - 0.5) * np.sin(a)), 0, 1)[..., None]
    img = _color(rng) * (1 - g) + _color(rng) * g
    weave = 0.5 * (_stripes(rng, n, 6, 12) + _stripes(rng, n, 6, 12)) - 0.5
    img = img + rng.uniform(0.03, 0.08) * weave[..., None]
    for _ in range(int(rng.integers(4, 8))):
        kind = ("polygon", "stripes", "checker", "lines", "glyphs")[int(rng.integers(5))]
        color = _color(rng)
        if kind == "polygon":
            pts = _polygon(rng, n)
            mask = _mask(n, lambda d, pts=pts: d.polygon(pts, fill=255))
            if rng.random() < 0.5:
                fill = np.where(_stripes(rng, n, 4, 14)[..., None] > 0, color, _color(rng))
            else:
                fill = np.broadcast_to(color, (n, n, 3))
        elif kind in ("stripes", "checker"):
            pts = _polygon(rng, n) if rng.random() < 0.5 else None
            if pts is None:
                x0, y0 = rng.uniform(0, 0.6, 2) * n
                w, h = rng.uniform(0.25, 0.5, 2) * n
                box = (float(x0), float(y0), float(x0 + w), float(y0 + h))
                mask = _mask(n, lambda d, box=box: d.rectangle(box, fill=255))
            else:
                mask = _mask(n, lambda d, pts=pts: d.polygon(pts, fill=255))
            pat = _stripes(rng, n, 3, 18) if kind == "stripes" else _checker(rng, n)
            fill = np.where(pat[..., None] > 0, color, _color(rng))
        elif kind == "lines":
            width = int(rng.integers(1, 3)) * _SS
            cx, cy = rng.uniform(0, 1, 2) * n
            ang = rng.uniform(0, np.pi)
            spacing = rng.uniform(3, 8) * _SS
            segs = []
            for j in range(int(rng.integers(2, 7))):
                ox, oy = -np.sin(ang) * spacing * j, np.cos(ang) * spacing * j
                half = rng.uniform(0.2, 0.6) * n
                dx, dy = np.cos(ang) * half, np.sin(ang) * half
                segs.append((cx + ox - dx, cy + oy - dy, cx + ox + dx, cy + oy + dy))

            def draw_lines(d: ImageDraw.ImageDraw, segs=segs, width=width) -> None:
                for s in segs:
                    d.line([float(v) for v in s], fill=255, width=width)

            mask = _mask(n, draw_lines)
            fill = np.broadcast_to(color, (n, n, 3))
        else:  # glyphs
            cell = rng.uniform(4, 9) * _SS
            width = int(rng.integers(1, 3)) * _SS
            x0, y0 = rng.uniform(0, 0.5) * n, rng.uniform(0, 0.8) * n
            strokes = []
            for c in range(int(rng.integers(3, 9))):
                strokes += _glyph_strokes(rng, x0 + c * cell * 1.4, y0, cell)

            def draw_glyphs(d: ImageDraw.ImageDraw, strokes=strokes, width=width) -> None:
                for p0, p1 in strokes:
                    d.line([float(p0[0]), float(p0[1]), float(p1[0]), float(p1[1])], 255, width)

            mask = _mask(n, draw_glyphs)
            fill = np.broadcast_to(color, (n, n, 3))
        img = img * (1 - mask[..., None]) + fill * mask[..., None]
    img = np.clip(img, 0.0, 1.0).reshape(size, _SS, size, _SS, 3).mean(axis=(1, 3))
    return img.astype(np.float32)


def _demo_readme(params: str) -> str:
    return (
        f"{DEMO_MARKER}\n"
        f"{params}\n"
        "\n"
        "Made by i2i (i2i.datasets.sr.make_sr_demo); procedural, no downloads.\n"
        "Super-resolution (the 'sr' format): high-resolution images only; the low-resolution\n"
        "inputs are made on the fly (antialiased bicubic downscaling, optional blur/noise/JPEG).\n"
        "\n"
        "Each image: a smooth gradient with a faint woven texture, overlaid with sharp-edged\n"
        "polygons (flat or striped), stripe and checkerboard patches at various periods and\n"
        "angles, bundles of thin lines and rows of text-like glyph strokes.\n"
        "\n"
        "train/  training HR images (PNG)\n"
        "test/   held-out HR images\n"
    )


def make_sr_demo(
    out_dir: Path, seed: int = 0, n_train: int = 24, n_test: int = 8, size: int = 96
) -> None:
    """Write the procedural super-resolution demo dataset (``train/`` and ``test/`` HR PNGs).

    See :func:`render_sr_image`. The output is byte-identical for the same arguments; an
    existing demo folder made with the same arguments is rewritten in place; any other non-empty
    folder is refused (nothing is deleted).

    Args:
        out_dir: Folder to create (or an empty one).
        seed: Random seed.
        n_train: Training images.
        n_test: Test images.
        size: Width and height (a multiple of 24 works with scales 2, 3, 4 and 8).

    Raises:
        DatasetError: ``out_dir`` is a file, a non-empty non-demo folder, or a demo made with
            other arguments.
        ConfigError: a count or the size is out of range.

    Example:
        >>> make_sr_demo(Path("data/sr"), seed=0)  # doctest: +SKIP
    """
    out, params = begin_demo(
        "make_sr_demo", out_dir, DEMO_MARKER,
        seed=seed, n_train=n_train, n_test=n_test, size=size,
    )  # fmt: skip
    (out / README_NAME).write_text(_demo_readme(params))  # marks the folder first
    for split, count in (("train", n_train), ("test", n_test)):
        (out / split).mkdir(exist_ok=True)
        for k in range(count):
            rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM[split], k]))
            write_image(out / split / f"{k:04d}.png", render_sr_image(rng, size))
    log.info("wrote the sr demo dataset to %s (%s)", out, params)


SPEC = DatasetFormatSpec(
    name=FORMAT_NAME,
    summary="Super-resolution: train/ HR images (LR made on the fly) or train/HR + train/LR pairs",
    keys=KEYS,
    validate=validate_sr,
    build=build_sr,
    demo=make_sr_demo,
    demo_kind="sr",
)


@hookimpl
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register the ``sr`` format."""
    registrar.add(FORMAT_NAME, SPEC)


__all__ = [
    "FORMAT_NAME",
    "KEYS",
    "PARAM_DEFAULTS",
    "SCALES",
    "SPEC",
    "SRDataset",
    "SRParams",
    "bicubic_downscale",
    "build_sr",
    "check_size",
    "degrade",
    "make_sr_demo",
    "render_sr_image",
    "split_folder",
    "validate_sr",
]
