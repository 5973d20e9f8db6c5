"""Image files before decoding: their headers (size, mode, bit depth, bands, EXIF rotation),
the per-image pixel limit checked on them, what decoding will cost, and the file helpers the
readers share.

:func:`read_header` opens a file with Pillow and reads nothing but its header, so an 840 KB PNG
claiming 12000 x 12000 16-bit pixels is described in microseconds; :func:`too_large` is the
one-line error for an image above the limit (``--max-pixels``, default
:data:`DEFAULT_MAX_PIXELS`); :meth:`ImageHeader.decode_bytes` bounds the memory
:func:`i2i_runtime.imageio.read_image` takes to decode it. The readers of
:mod:`i2i_runtime.imageio` and :mod:`i2i_runtime.labels` check every file this way before they
decode it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from .codec16 import high_bit_color
from .errors import ImageReadError, ImageTooLargeError

_NATIVE_MODES = ("1", "L", "LA", "RGB", "RGBA", "I", "F")


#: What :func:`read_image` decodes: a file path, the file's bytes, or an open binary file.
ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


#: File extensions (lower case) that are treated as images.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


_EXIF_ORIENTATION = 0x0112


#: Default largest image (width x height) decoded: 64 megapixels (see :func:`read_header`).
DEFAULT_MAX_PIXELS = 64_000_000


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


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


def megapixels(n: int) -> str:
    """``n`` pixels for messages: ``144.0 MP`` (or ``2500 pixels`` below 0.1 MP)."""
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n} pixels"


def gigabytes(n: float) -> str:
    """A byte count for messages: ``5.77 GB`` (decimal units, as ``--max-memory`` takes them)."""
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def _storage_bytes(mode: str) -> int:
    """Bytes per pixel of Pillow's own copy of an image of ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


@dataclasses.dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding a pixel (:func:`read_header`).

    Attributes:
        width: Width in pixels as the image is read (after the EXIF orientation).
        height: Height in pixels as the image is read.
        mode: Pillow's mode (``RGB``, ``L``, ``I;16``, ``P``, ...).
        format: The file format (``PNG``, ``JPEG``, ...).
        bands: Samples per pixel in the file (1 gray / palette, 2 gray + alpha, 3 RGB, 4 RGBA).
        bits: Bits per sample (1, 8, 16 or 32).
        rotated: The EXIF orientation turns or mirrors the image (one more copy to decode).
    """

    width: int
    height: int
    mode: str
    format: str
    bands: int
    bits: int
    rotated: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def describe(self) -> str:
        """E.g. ``12000x12000 16-bit RGB PNG``."""
        kind = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}.get(self.bands, self.mode)
        if self.mode == "P":
            kind = "palette"
        return f"{self.width}x{self.height} {self.bits}-bit {kind} {self.format or 'image'}"

    def decode_bytes(self, channels: int = 3) -> int:
        """Most memory :func:`read_image` takes at once to decode this image as ``channels``
        channels (bytes; an upper bound with 10% to spare, checked against measured peaks by
        the tests).

        Per pixel: Pillow's copy (and its conversion to RGB for palette, CMYK, ... images),
        the file's samples as numpy integers (twice while Pillow hands them over), the float32
        planes, and what channel conversion, alpha compositing and the EXIF rotation add.
        """
        store = _storage_bytes(self.mode)
        deep = self.bits == 16 and self.bands > 1  # 16-bit colour: two 8-bit passes + uint16
        native = self.mode in _NATIVE_MODES or self.mode.startswith("I;16") or deep
        conv = 0 if native else 1 if self.mode == "1" else 4
        bands = self.bands if native else 4
        if deep:
            raw = 4 * bands
        else:
            raw = 2 * bands * max(1, self.bits // 8)
        decoded = 24 * bands if self.bits == 32 else 4 * bands
        if channels == 4:
            extra = 16 if bands == 4 else 36  # the RGBA result is a new array
        else:
            extra = 0 if channels == bands else 4 * channels + 4
        if self.rotated:
            extra += 4 * max(channels, bands)
        per_pixel = store + conv + raw + decoded + extra
        return int(self.pixels * per_pixel * 1.1)


def _header_of(im: Image.Image) -> ImageHeader:
    mode = im.mode
    bands = len(im.getbands())
    if mode == "1":
        bits = 1
    elif mode.startswith("I;16"):
        bits = 16
    elif mode in ("I", "F"):
        bits = 32
    elif high_bit_color(im):
        bits = 16
    else:
        bits = 8
    w, h = im.size
    orientation = _orientation(im)
    rotated = orientation in (2, 3, 4, 5, 6, 7, 8)
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return ImageHeader(int(w), int(h), mode, str(im.format or ""), bands, bits, rotated)


@contextlib.contextmanager
def _quiet_bomb_warning() -> Iterator[None]:
    """Pillow warns about images above its decompression-bomb threshold when it opens them;
    i2i checks its own limit from the header, so that warning is noise here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def _allow_pillow(max_pixels: int | None) -> None:
    """Raise Pillow's decompression-bomb limit to ``max_pixels`` (never lower it).

    Pillow refuses images above twice ``PIL.Image.MAX_IMAGE_PIXELS`` (about 179 MP) when it
    opens them and warns above it; i2i checks its own limit first, so a caller who raised that
    limit (``--max-pixels``) must not be stopped or warned by Pillow's lower one. This is the one
    process-wide setting i2i touches, and only upwards.
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is None:
        return
    if not max_pixels:
        Image.MAX_IMAGE_PIXELS = None
    elif max_pixels > current:
        Image.MAX_IMAGE_PIXELS = int(max_pixels)


def too_large(
    header: ImageHeader, max_pixels: int | None, name: object, channels: int = 3
) -> ImageTooLargeError | None:
    """The error for an image above ``max_pixels`` (None when it is within the limit or the
    limit is 0 / None)."""
    if not max_pixels or header.pixels <= max_pixels:
        return None
    where = f"image '{name}'" if isinstance(name, Path) else "the image"
    return ImageTooLargeError(
        f"{where} is {header.describe()} ({megapixels(header.pixels)}; decoding it would take "
        f"about {gigabytes(header.decode_bytes(channels))}): larger than the limit of "
        f"{megapixels(int(max_pixels))} per image, checked before decoding; downscale it, or "
        f"raise the limit (--max-pixels {_suggest(header.pixels)})"
    )


def _suggest(pixels: int) -> str:
    """A round ``--max-pixels`` value above ``pixels`` (``150M``)."""
    m = -(-pixels // 10_000_000) * 10
    return f"{m}M"


def read_header(source: ImageSource) -> ImageHeader:
    """Width, height, mode, bit depth and bands of an image, from its header only.

    No pixel is decoded, so this is cheap and safe for any file (a 840 KB PNG claiming
    12000 x 12000 16-bit pixels is read in microseconds). The EXIF orientation is taken into
    account, as in :func:`read_image`.

    Raises:
        ImageReadError: the file is missing, empty or not a recognised image.
    """
    name, what = _opener(source)
    try:
        with (
            _quiet_bomb_warning(),
            Image.open(io.BytesIO(what) if isinstance(what, bytes) else what) as im,  # type: ignore[arg-type]
        ):
            return _header_of(im)
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(_bomb_message(name, e)) from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types
        empty = what == b"" if isinstance(what, bytes) else _is_empty(name)  # type: ignore[arg-type]
        raise _read_error(name, "it is empty (0 bytes)" if empty else _exception_reason(e)) from e


def _bomb_message(name: object, e: BaseException) -> str:
    where = f"image '{name}'" if isinstance(name, Path) else "the image"
    text = _one_line(str(e))
    return (
        f"{where} is larger than Pillow's own limit for one image ({text}); downscale it, or "
        "raise the limit (--max-pixels)"
    )


def _opener(source: ImageSource) -> tuple[Path | str, object]:
    """(name for messages, what ``Image.open`` takes) of a source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the image data", bytes(source)
    if hasattr(source, "read"):
        return "the image data", source.read()  # type: ignore[union-attr]
    return Path(source), Path(source)  # type: ignore[arg-type]


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
    header = read_header(source)
    return header.width, header.height


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
