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
- **Size limit before decoding**: the header (width, height, bit depth, bands) is read first
  (:func:`read_header`) and an image with more than ``max_pixels`` pixels (default
  :data:`DEFAULT_MAX_PIXELS`, 64 MP) is refused with :class:`~i2i_runtime.errors.ImageTooLargeError`
  before a single pixel is decoded: an 840 KB PNG can claim 12000 x 12000 16-bit pixels, which
  would take gigabytes to decode. :meth:`ImageHeader.decode_bytes` is what decoding one image
  costs at most; decoding frees Pillow's copy before converting to float, in place.

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

import functools
import inspect
import io
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from .codec16 import (
    ROWS_PER_BLOCK,
    decode_high_bit_color,
    encode_png16,
    encode_tiff16,
    high_bit_color,
)
from .errors import ConfigError, DatasetError, ImageReadError, ImageTooLargeError, InputError
from .headers import (
    _NATIVE_MODES,
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageHeader,
    ImageSource,
    _allow_pillow,
    _bomb_message,
    _exception_reason,
    _header_of,
    _is_empty,
    _one_line,
    _opener,
    _orientation,
    _quiet_bomb_warning,
    _read_error,
    gigabytes,
    image_size,
    is_sixteen_bit,
    megapixels,
    read_header,
    too_large,
)
from .memory import release_memory

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "LUMA_WEIGHTS",
    "ImageHeader",
    "ImageSource",
    "Loader",
    "atomic_write_bytes",
    "check_image",
    "convert_channels",
    "encode_bytes_for",
    "encode_image",
    "format_file_list",
    "gigabytes",
    "image_size",
    "is_sixteen_bit",
    "limited_loader",
    "list_images",
    "megapixels",
    "read_header",
    "read_image",
    "too_large",
    "write_image",
]

log = logging.getLogger(__name__)

#: ITU-R BT.601 luma weights used for RGB -> grayscale.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

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


def _int_to_unit(arr: np.ndarray) -> np.ndarray:
    arr = arr.astype(np.float64)
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        return np.clip(arr / (2**31 - 1), 0.0, 1.0).astype(np.float32)
    arr /= 65535.0
    return arr.astype(np.float32)


def _float_to_unit(arr: np.ndarray) -> np.ndarray:
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0, copy=False)
    top = float(arr.max()) if arr.size else 0.0
    if top > 1.0:
        arr /= np.float32(255.0 if top <= 255.0 else 65535.0 if top <= 65535.0 else top)
    return np.clip(arr, 0.0, 1.0, out=arr)


def _pil_samples(im: Image.Image) -> tuple[np.ndarray, str]:
    """The samples of a loaded Pillow image as numpy and how to scale them to [0, 1]: ``u8``
    (``H x W x C``, C in 1..4), ``u16``, ``i32`` or ``f32`` (``H x W``). Pillow's copy can be
    freed once this returns."""
    mode = im.mode
    # numpy arrays backed by bytes of their own (Pillow's image can be closed)
    if mode.startswith("I;16"):
        return np.asarray(im), "u16"
    if mode == "I":
        return np.asarray(im), "i32"
    if mode == "F":
        return np.asarray(im), "f32"
    if mode == "1":
        im = im.convert("L")
    elif mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    elif mode not in _NATIVE_MODES:
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    return np.asarray(im), "u8"


def _samples_to_unit(arr: np.ndarray, kind: str) -> np.ndarray:
    """HxWxC float32 in [0, 1] from :func:`_pil_samples` (C in {1 (L), 2 (LA), 3, 4})."""
    if kind == "u16":
        out = arr.astype(np.float32)
        out /= np.float32(65535.0)
        np.clip(out, 0.0, 1.0, out=out)
    elif kind == "i32":
        out = _int_to_unit(arr)
    elif kind == "f32":
        out = _float_to_unit(arr)
    else:
        out = arr.astype(np.float32)
        out /= np.float32(255.0)
    return out[:, :, None] if out.ndim == 2 else out


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """Pixels as HxWxC float32 in [0, 1] with C in {1 (L), 2 (LA), 3 (RGB), 4 (RGBA)}."""
    return _samples_to_unit(*_pil_samples(im))


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
    owned = False  # whether `color` is a new array (then changed in place: less memory)
    if alpha is not None:  # composite over white
        color = color * alpha
        color += 1.0 - alpha
        owned = True
    if channels == 1 and color.shape[2] == 3:
        color, owned = (color @ LUMA_WEIGHTS)[:, :, None], True
    elif channels == 3 and color.shape[2] == 1:
        color, owned = np.repeat(color, 3, axis=2), True
    if owned and color.dtype == np.float32 and color.flags.c_contiguous:
        return np.clip(color, 0.0, 1.0, out=color)
    return np.ascontiguousarray(np.clip(color, 0.0, 1.0), dtype=np.float32)


def read_image(
    source: ImageSource, channels: int = 3, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode an image to an ``H x W x channels`` float32 array in [0, 1].

    See the module docstring for how bit depths, modes and transparency are handled. The
    header is checked first: an image of more than ``max_pixels`` pixels is refused before any
    pixel is decoded.

    Args:
        source: The image file, or its bytes (or an open binary file).
        channels: 1 (grayscale), 3 (RGB) or 4 (RGBA, alpha kept).
        max_pixels: Largest width x height decoded (0 or None: no limit).

    Returns:
        float32 array of shape ``(H, W, channels)`` with values in [0, 1].

    Raises:
        ImageTooLargeError: more than ``max_pixels`` pixels (an :class:`ImageReadError`).
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

    _allow_pillow(max_pixels)
    try:
        if isinstance(what, bytes) and not what:
            raise _read_error(name, "it is empty (0 bytes)")
        if isinstance(name, Path) and name.is_file() and name.stat().st_size == 0:
            raise _read_error(name, "the file is empty (0 bytes)")
        with _quiet_bomb_warning():
            im = open_image()
        try:
            header = _header_of(im)
            error = too_large(header, max_pixels, name, channels)
            if error is not None:
                raise error
            orientation = _orientation(im)
            deep = high_bit_color(im)
            if not deep:
                im.load()
                samples, kind = _pil_samples(im)
        finally:
            im.close()  # frees Pillow's copy of the pixels (leaving the `with` block does not)
            del im
        if deep:
            samples, kind = decode_high_bit_color(open_image), "u16"
        release_memory(header.pixels * 4)  # Pillow's freed blocks, before the float copy
        arr = _samples_to_unit(samples, kind)
        del samples
    except ImageReadError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(_bomb_message(name, e)) from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ...)
        raise _read_error(name, _exception_reason(e)) from e
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        arr = _apply_orientation(arr, orientation)
    if arr.shape[2] == channels and channels != 4:
        return arr  # already [0, 1] float32, contiguous, no alpha: nothing to convert
    return convert_channels(arr, channels)


#: ``load(path, channels) -> H x W x C float32 in [0, 1]``: an image loader (read_image, i2i's
#: plugin hook, a user's function).
Loader = Callable[[Path, int], np.ndarray]


def _takes_max_pixels(load: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(load).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "max_pixels" or p.kind is p.VAR_KEYWORD for p in params)


def limited_loader(load: Callable[..., np.ndarray] | None, max_pixels: int | None) -> Loader:
    """``load`` (default :func:`read_image`) refusing images of more than ``max_pixels``
    pixels before they are decoded.

    A loader that takes ``max_pixels`` (:func:`read_image`, i2i's ``Context.load_image``) gets
    it and checks the header itself; for any other the header is read here first (files Pillow
    cannot open are left to the loader).
    """
    load = load or read_image
    if _takes_max_pixels(load):
        return functools.partial(load, max_pixels=max_pixels or 0)

    def checked(path: Path, channels: int) -> np.ndarray:
        if max_pixels:
            try:
                header = read_header(path)
            except ImageTooLargeError:
                raise
            except ImageReadError:
                header = None  # not an image Pillow knows: the loader's business
            error = too_large(header, max_pixels, Path(path), channels) if header else None
            if error is not None:
                raise error
        return load(path, channels)

    return checked


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


def check_image(
    path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> tuple[str | None, tuple[int, int] | None]:
    """Cheap integrity check of one file without a full decode.

    The header comes first: an image of more than ``max_pixels`` pixels is a problem (nothing
    else of it is read). PNG chunks and CRCs are verified (Pillow ``verify``); JPEGs are decoded
    at 1/8 scale (which still reads the whole entropy-coded stream, so truncation is found).

    Returns:
        ``(None, (width, height))`` for a good file, ``(reason, None)`` for a bad one,
        ``(reason, (width, height))`` for one larger than ``max_pixels``.
    """
    path = Path(path)
    _allow_pillow(max_pixels)
    try:
        if _is_empty(path):
            return "the file is empty (0 bytes)", None
        with _quiet_bomb_warning(), Image.open(path) as im:
            header = _header_of(im)
            if max_pixels and header.pixels > max_pixels:
                return (
                    f"{header.describe()}, {megapixels(header.pixels)}: more than the limit of "
                    f"{megapixels(int(max_pixels))} per image; decoding it would take about "
                    f"{gigabytes(header.decode_bytes())}"
                ), (header.width, header.height)
            if im.format == "JPEG":
                iw, ih = im.size
                im.draft(im.mode, (max(1, iw // 8), max(1, ih // 8)))
                im.load()
            else:
                im.verify()
    except Image.DecompressionBombError as e:
        return f"larger than Pillow's own limit for one image ({_one_line(str(e))})", None
    except Exception as e:  # noqa: BLE001 - Pillow raises many exception types
        return _exception_reason(e), None
    return None, (header.width, header.height)


#: Rows converted at a time when writing (bounds the float64 temporaries of large images).
_ROWS = 256


def _to_uint(arr: np.ndarray, bit_depth: int) -> np.ndarray:
    """``H x W x C`` values in [0, 1] (clipped) as uint8 / uint16 samples, row block by row
    block (the float64 rounding needs ``8 x`` the output's memory only for one block)."""
    top = 65535 if bit_depth == 16 else 255
    out = np.empty(arr.shape, np.uint16 if bit_depth == 16 else np.uint8)
    for y0 in range(0, arr.shape[0], _ROWS):
        block = arr[y0 : y0 + _ROWS].astype(np.float64)
        np.clip(block, 0.0, 1.0, out=block)
        block *= top
        out[y0 : y0 + _ROWS] = np.rint(block, out=block)
    return out


def _encode(arr: np.ndarray, suffix: str, bit_depth: int, out: BinaryIO) -> None:
    """Write the file of ``arr`` (``H x W x C`` in [0, 1]) to ``out``."""
    fmt = _FORMATS[suffix]
    pixels = _to_uint(arr, bit_depth)
    if bit_depth == 16 and pixels.shape[2] == 3:  # Pillow has no 16-bit colour mode
        (encode_png16 if fmt == "PNG" else encode_tiff16)(pixels, out)
        return
    im = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    del pixels  # Pillow holds its own copy
    kwargs: dict[str, object] = {}
    if fmt == "JPEG":
        kwargs["quality"] = 95
    elif fmt == "WEBP":
        kwargs["lossless"] = True
    try:
        im.save(out, format=fmt, **kwargs)
    finally:
        im.close()


def encode_bytes_for(height: int, width: int, channels: int, bits: int = 16) -> int:
    """Most memory :func:`write_image` / :func:`encode_image` take to write an image of
    ``height x width x channels`` at ``bits`` per sample besides the float array itself (bytes;
    an upper bound with 10% to spare): the integer samples, Pillow's copy (8-bit files), the
    compressed data (at most twice as large as the samples), the float64 rounding of one row
    block and the 16-bit encoders' filter scratch for one block."""
    p = int(height) * int(width)
    samples = (2 if bits == 16 else 1) * channels
    pillow = 4 if bits != 16 else 2 if channels == 1 else 0
    rows = (16 * _ROWS + 96 * ROWS_PER_BLOCK) * int(width) * channels
    return int(1.1 * (p * (3 * samples + pillow) + rows))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then ``os.replace``).

    Parent folders are created. Readers never see a half-written file; the write is not fsynced.

    Returns:
        The path written.
    """
    return _atomic_write(path, lambda f: f.write(data))


def _atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
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
    for y0 in range(0, arr.shape[0], _ROWS):  # by row blocks: no full-size boolean array
        if not np.isfinite(arr[y0 : y0 + _ROWS]).all():
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
    out = io.BytesIO()
    _encode(_check_array(array, f"a {suffix} image"), suffix, bit_depth, out)
    return out.getvalue()


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
    suffix = path.suffix.lower()
    _check_format(suffix, bit_depth, f"'{path}'")
    return _atomic_write(path, lambda f: _encode(arr, suffix, bit_depth, f))
