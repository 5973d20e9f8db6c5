"""Reading, writing and listing image files: numpy and Pillow only.

Every image i2i reads becomes an ``H x W x C`` float32 array in [0, 1], whatever the file holds:

- 8-bit files (``L``, ``LA``, ``P``, ``RGB``, ``RGBA``, ``CMYK``, ...) are divided by 255.
- 16-bit files keep their precision: grayscale ``I;16*`` is divided by 65535; 16-bit RGB(A) PNG
  and TIFF (which Pillow would reduce to 8 bits) are decoded exactly by
  :func:`i2i_runtime.codec16.decode_high_bit_color`.
- ``I`` (32-bit integer) is read as 16-bit data (divided by 65535) when every value fits in
  [0, 65535], else divided by 2**31 - 1. ``F`` (32-bit float) is kept when it lies in [0, 1],
  else divided by 255 or 65535 (the smallest of the two that covers its maximum), or by its
  maximum; negative values and NaN become 0.
- Channel conversion is explicit: RGB to 1 channel uses ITU-R 601 luminance
  (0.299 R + 0.587 G + 0.114 B, computed in float, so 16-bit data stay 16-bit); gray to 3
  channels repeats the plane; transparency is composited over **white** (a transparent pixel
  reads as 1.0) unless 4 channels (RGBA) are asked for.
- The EXIF orientation of JPEG files (and other files whose header carries EXIF) is applied, so
  a photo reads the way image viewers show it.

Writing: 8-bit files with Pillow; 16-bit grayscale PNG/TIFF with Pillow (``I;16``); 16-bit RGB
PNG/TIFF with :mod:`i2i_runtime.codec16`. The same pixels give the same bytes wherever this
module runs (the torch-free runtime and the full i2i package share it).

The full package's ``image_io`` plugin (``i2i.datasets.image_io``) serves these functions as the
default of its ``i2i_load_image`` hook.

Example:
    >>> img = read_image("photo.jpg", channels=3)   # doctest: +SKIP
    >>> img.shape, img.dtype
    ((480, 640, 3), dtype('float32'))
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from .codec16 import decode_high_bit_color, encode_png16, encode_tiff16, high_bit_color
from .errors import ConfigError, DatasetError, ImageReadError, InputError

#: What :func:`read_image` decodes: a file path, the file's bytes, or an open binary file.
ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

log = logging.getLogger(__name__)

#: File extensions (lower case) that are treated as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: ITU-R BT.601 luma weights used for RGB -> grayscale.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_EXIF_ORIENTATION = 0x0112
_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")


def format_file_list(items: Sequence[object], limit: int = 5) -> str:
    """Join up to ``limit`` items with commas and add ``"and N more"`` for the rest.

    Example:
        >>> format_file_list(["a", "b", "c"], limit=2)
        'a, b and 1 more'
    """
    shown = ", ".join(str(x) for x in items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _link_problem(folder: Path, real_root: str, link: str) -> str:
    target = os.path.realpath(link)
    rel = Path(link).relative_to(folder).as_posix()
    if real_root == target or real_root.startswith(target.rstrip(os.sep) + os.sep):
        what, fix = "the folder itself or one of its parents (a loop)", "remove the link"
    else:
        what = f"'{target}', outside '{folder}'"
        fix = f"remove the link (or copy those images into '{folder}')"
    return (
        f"'{folder / rel}' is a symbolic link to {what}: other folders' images (e.g. domain B's) "
        f"would be counted as this folder's; {fix}"
    )


def list_images(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """List the image files in a folder.

    Extensions are matched case-insensitively against :data:`IMAGE_EXTENSIONS`; hidden files and
    hidden folders (names starting with ``"."``) are skipped. Symbolic links to image files are
    followed wherever they point; ``folder`` itself may be a link; a link to a sub-folder must
    stay inside ``folder`` (a link to the folder itself, a parent or a sibling would count other
    folders' images as this folder's, e.g. ``trainA/up -> ..`` lists ``trainB``).

    Args:
        folder: The folder to scan.
        recursive: Also scan sub-folders.

    Returns:
        The image paths, sorted by their path relative to ``folder``.

    Raises:
        DatasetError: ``folder`` does not exist or is not a folder, or it holds a link to a
            folder outside it (or a loop).
    """
    root = Path(folder)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"image folder '{root}' {what}; pass a folder that holds image files")
    found: list[Path] = []
    if not recursive:
        with os.scandir(root) as entries:
            for entry in entries:
                if _is_image_name(entry.name) and not entry.is_dir():
                    found.append(root / entry.name)
    else:
        real_root = os.path.realpath(root)
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:  # a folder linked twice inside the root
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for d in dirnames:
                link = os.path.join(dirpath, d)
                if os.path.islink(link):
                    target = os.path.realpath(link)
                    if target == real_root or not target.startswith(real_root + os.sep):
                        raise DatasetError(_link_problem(root, real_root, link))
            found.extend(Path(dirpath) / f for f in filenames if _is_image_name(f))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _read_error(path: Path | str, reason: str) -> ImageReadError:
    if not isinstance(path, Path):  # bytes: e.g. an upload
        return ImageReadError(
            _one_line(f"cannot read {path}: {reason}; send a PNG, JPEG, TIFF, BMP or WebP image")
        )
    return ImageReadError(
        _one_line(
            f"cannot read image '{path}': {reason}; expected a readable image file "
            f"({', '.join(IMAGE_EXTENSIONS)}); re-export the file or remove it from the dataset"
        )
    )


def _exception_reason(e: BaseException) -> str:
    if isinstance(e, UnidentifiedImageError):
        return "not a recognised image format"
    if isinstance(e, FileNotFoundError):
        return "file not found (or a broken link)"
    if isinstance(e, IsADirectoryError):
        return "it is a folder"
    msg = str(e) or "no details"
    return f"{type(e).__name__}: {msg}"


def _orientation(im: Image.Image) -> int:
    """EXIF orientation (1 = upright), read from the header only (never decodes pixels)."""
    if im.format != "JPEG" and "exif" not in im.info:
        return 1  # e.g. PNG.getexif() would decode the whole image to find a late eXIf chunk
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make the image unreadable
        return 1


def _int_to_unit(arr: np.ndarray) -> np.ndarray:
    arr = arr.astype(np.float64)
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        return np.clip(arr / (2**31 - 1), 0.0, 1.0).astype(np.float32)
    return (arr / 65535.0).astype(np.float32)


def _float_to_unit(arr: np.ndarray) -> np.ndarray:
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    top = float(arr.max()) if arr.size else 0.0
    if top > 1.0:
        arr = arr / (255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top)
    return np.clip(arr, 0.0, 1.0)


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """Pixels as HxWxC float32 in [0, 1] with C in {1 (L), 2 (LA), 3 (RGB), 4 (RGBA)}."""
    mode = im.mode
    if mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.float32)
        return np.clip(arr / 65535.0, 0.0, 1.0)[:, :, None]
    if mode == "I":
        return _int_to_unit(np.asarray(im))[:, :, None]
    if mode == "F":
        return _float_to_unit(np.asarray(im))[:, :, None]
    if mode in ("1", "L"):
        im = im.convert("L") if mode == "1" else im
        return (np.asarray(im, dtype=np.float32) / 255.0)[:, :, None]
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode not in ("LA", "RGB", "RGBA"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    return np.asarray(im, dtype=np.float32) / 255.0


def convert_channels(img: np.ndarray, channels: int) -> np.ndarray:
    """Convert an HxWxC image in [0, 1] (C = 1, 2, 3 or 4) to ``channels`` channels.

    Alpha (C = 2 or 4) is composited over white unless ``channels`` is 4. RGB -> 1 channel uses
    ITU-R 601 luminance; gray -> 3 channels repeats the plane.

    Args:
        img: HxWxC float array in [0, 1].
        channels: 1, 3 or 4.

    Returns:
        HxWx``channels`` float32 array in [0, 1].

    Raises:
        ConfigError: ``channels`` is not 1, 3 or 4.
    """
    if channels not in (1, 3, 4):
        raise ConfigError(
            f"the built-in image loader reads 1 (gray), 3 (RGB) or 4 (RGBA) channels, got "
            f"channels={channels}; use one of those or a plugin implementing i2i_load_image"
        )
    c = img.shape[2]
    has_alpha = c in (2, 4)
    color = img[:, :, : c - 1] if has_alpha else img
    alpha = img[:, :, c - 1 :] if has_alpha else None
    if channels == 4:
        rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
        a = alpha if alpha is not None else np.ones_like(rgb[:, :, :1])
        return np.ascontiguousarray(np.concatenate([rgb, a], axis=2), dtype=np.float32)
    if alpha is not None:  # composite over white
        color = color * alpha + (1.0 - alpha)
    if channels == 1 and color.shape[2] == 3:
        color = (color @ LUMA_WEIGHTS)[:, :, None]
    elif channels == 3 and color.shape[2] == 1:
        color = np.repeat(color, 3, axis=2)
    return np.ascontiguousarray(np.clip(color, 0.0, 1.0), dtype=np.float32)


def _opener(source: ImageSource) -> tuple[Path | str, object]:
    """(name for messages, what ``Image.open`` takes) of a source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the image data", bytes(source)
    if hasattr(source, "read"):
        return "the image data", source.read()  # type: ignore[union-attr]
    return Path(source), Path(source)  # type: ignore[arg-type]


def read_image(source: ImageSource, channels: int = 3) -> np.ndarray:
    """Decode an image to an ``H x W x channels`` float32 array in [0, 1].

    See the module docstring for how bit depths, modes and transparency are handled.

    Args:
        source: The image file, or its bytes (or an open binary file).
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA, alpha kept).

    Returns:
        float32 array of shape ``(H, W, channels)`` with values in [0, 1].

    Raises:
        ImageReadError: the file is missing, empty, truncated or not a decodable image (the
            message names the file and the decoder's reason).
        ConfigError: ``channels`` is not 1, 3 or 4.

    Example:
        >>> read_image("mask.png", channels=1).shape  # doctest: +SKIP
        (256, 256, 1)
    """
    if channels not in (1, 3, 4):
        convert_channels(np.zeros((1, 1, 1), np.float32), channels)  # raises ConfigError
    name, what = _opener(source)

    def open_image() -> Image.Image:
        return Image.open(io.BytesIO(what) if isinstance(what, bytes) else what)  # type: ignore[arg-type]

    try:
        if isinstance(what, bytes) and not what:
            raise _read_error(name, "it is empty (0 bytes)")
        if isinstance(name, Path) and name.is_file() and name.stat().st_size == 0:
            raise _read_error(name, "the file is empty (0 bytes)")
        with open_image() as im:
            orientation = _orientation(im)
            deep = high_bit_color(im)
            if not deep:
                im.load()
                arr = _pil_to_array(im)
        if deep:
            arr = decode_high_bit_color(open_image).astype(np.float32) / 65535.0
    except ImageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ...)
        raise _read_error(name, _exception_reason(e)) from e
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        arr = _apply_orientation(arr, orientation)
    return convert_channels(arr, channels)


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (2..8) to an HxWxC array, like ``ImageOps.exif_transpose``."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](arr))


def image_size(source: ImageSource) -> tuple[int, int]:
    """Width and height of an image, from its header only (pixels are not decoded).

    The EXIF orientation is taken into account, as in :func:`read_image`.

    Args:
        source: The image file, or its bytes (or an open binary file).

    Returns:
        ``(width, height)``.

    Raises:
        ImageReadError: the file cannot be opened as an image.
    """
    name, what = _opener(source)
    try:
        with Image.open(io.BytesIO(what) if isinstance(what, bytes) else what) as im:  # type: ignore[arg-type]
            w, h = im.size
            if _orientation(im) in (5, 6, 7, 8):
                w, h = h, w
    except Exception as e:  # noqa: BLE001
        empty = what == b"" if isinstance(what, bytes) else _is_empty(name)  # type: ignore[arg-type]
        reason = "it is empty (0 bytes)" if empty else _exception_reason(e)
        raise _read_error(name, reason) from e
    return w, h


def is_sixteen_bit(source: ImageSource) -> bool:
    """True when an image holds more than 8 bits per sample (read from the header)."""
    _, what = _opener(source)
    try:
        with Image.open(io.BytesIO(what) if isinstance(what, bytes) else what) as im:  # type: ignore[arg-type]
            if im.mode.startswith(("I", "F")):
                return True
            return any(";16" in str(t.args) for t in getattr(im, "tile", None) or [])
    except Exception:  # noqa: BLE001 - the decoder reports unreadable files properly
        return False


def _is_empty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def check_image(path: str | os.PathLike[str]) -> tuple[str | None, tuple[int, int] | None]:
    """Cheap integrity check of one file without a full decode.

    PNG chunks and CRCs are verified (Pillow ``verify``); JPEGs are decoded at 1/8 scale
    (which still reads the whole entropy-coded stream, so truncation is found).

    Returns:
        ``(None, (width, height))`` for a good file, ``(reason, None)`` for a bad one.
    """
    path = Path(path)
    try:
        if _is_empty(path):
            return "the file is empty (0 bytes)", None
        with Image.open(path) as im:
            w, h = im.size
            if _orientation(im) in (5, 6, 7, 8):
                w, h = h, w
            if im.format == "JPEG":
                iw, ih = im.size
                im.draft(im.mode, (max(1, iw // 8), max(1, ih // 8)))
                im.load()
            else:
                im.verify()
    except Exception as e:  # noqa: BLE001 - Pillow raises many exception types
        return _exception_reason(e), None
    return None, (w, h)


def _to_uint(arr: np.ndarray, bit_depth: int) -> np.ndarray:
    top = 65535 if bit_depth == 16 else 255
    scaled = np.rint(np.clip(arr.astype(np.float64), 0.0, 1.0) * top)
    return scaled.astype(np.uint16 if bit_depth == 16 else np.uint8)


def _encode(arr: np.ndarray, suffix: str, bit_depth: int) -> bytes:
    fmt = _FORMATS[suffix]
    pixels = _to_uint(arr, bit_depth)
    if bit_depth == 16 and pixels.shape[2] == 3:  # Pillow has no 16-bit colour mode
        return encode_png16(pixels) if fmt == "PNG" else encode_tiff16(pixels)
    im = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    kwargs: dict[str, object] = {}
    if fmt == "JPEG":
        kwargs["quality"] = 95
    elif fmt == "WEBP":
        kwargs["lossless"] = True
    out = io.BytesIO()
    im.save(out, format=fmt, **kwargs)
    return out.getvalue()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``).

    Parent folders are created. Readers never see a half-written file; the write is not fsynced.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_array(array: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"write_image expects an HxWxC array with C = 1 or 3, got shape {tuple(array.shape)} "
            f"for {name}; transpose CHW tensors to HWC first"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"cannot write {name}: the array holds NaN or infinite values")
    return arr


def _check_format(suffix: str, bit_depth: int, name: str) -> None:
    if suffix not in _FORMATS:
        raise InputError(
            f"cannot write {name}: unknown image suffix {suffix!r}; use one of "
            f"{', '.join(_FORMATS)}"
        )
    if bit_depth not in (8, 16) or (bit_depth == 16 and suffix not in _SIXTEEN_BIT_SUFFIXES):
        raise InputError(
            f"cannot write {name} with bit_depth={bit_depth}; use 8, or 16 with a "
            f"{'/'.join(_SIXTEEN_BIT_SUFFIXES)} file"
        )


def encode_image(array: np.ndarray, suffix: str = ".png", bit_depth: int = 8) -> bytes:
    """Encode an image to the bytes of a file with ``suffix`` (what :func:`write_image`
    writes).

    Args:
        array: ``H x W x C`` (C = 1 or 3) or ``H x W`` float array in [0, 1] (clipped).
        suffix: ``.png``, ``.jpg``, ``.tif``, ``.bmp``, ``.webp``...
        bit_depth: 8, or 16 for PNG/TIFF.

    Raises:
        InputError: bad shape, non-finite values, unknown suffix or bit depth.
    """
    suffix = suffix.lower()
    _check_format(suffix, bit_depth, f"a {suffix} image")
    return _encode(_check_array(array, f"a {suffix} image"), suffix, bit_depth)


def write_image(path: str | os.PathLike[str], array: np.ndarray, bit_depth: int = 8) -> Path:
    """Write an image atomically; the format follows the suffix.

    Args:
        path: Target file: ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.bmp`` or
            ``.webp`` (lossless). Parent folders are created.
        array: ``H x W x C`` (C = 1 or 3) or ``H x W`` float array in [0, 1] (clipped).
        bit_depth: 8, or 16 for PNG/TIFF (grayscale via Pillow ``I;16``, RGB via
            :mod:`i2i_runtime.codec16`).

    Returns:
        The path written.

    Raises:
        InputError: bad shape, non-finite values, unknown suffix or bit depth.

    Example:
        >>> write_image("out/x.png", np.zeros((8, 8, 3)), bit_depth=16)  # doctest: +SKIP
    """
    path = Path(path)
    arr = _check_array(array, f"'{path}'")
    _check_format(path.suffix.lower(), bit_depth, f"'{path}'")
    return atomic_write_bytes(path, _encode(arr, path.suffix.lower(), bit_depth))
