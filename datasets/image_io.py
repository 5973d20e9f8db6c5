"""Reading, writing and listing image files (built-in plugin ``image_io``).

The implementation is the torch-free runtime's (:mod:`i2i_runtime.imageio`): every image i2i
reads becomes an ``H x W x C`` float32 array in [0, 1] whatever the file holds (8 or 16 bits,
gray, palette, RGB(A), CMYK; EXIF orientation applied; transparency over white), and writes are
atomic, 16-bit where asked for PNG and TIFF. The full package and the runtime therefore read and
write the same pixels and bytes.

This module implements the :func:`i2i.hookspecs.i2i_load_image` hook as the ``trylast``
default, so another plugin can take over decoding (e.g. for a camera RAW format).

Example:
    >>> img = read_image("photo.jpg", channels=3)   # doctest: +SKIP
    >>> img.shape, img.dtype
    ((480, 640, 3), dtype('float32'))
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from i2i.hookspecs import hookimpl
from i2i_runtime.codec16 import high_bit_color
from i2i_runtime.imageio import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    LUMA_WEIGHTS,
    ImageHeader,
    atomic_write_bytes,
    check_image,
    convert_channels,
    encode_image,
    format_file_list,
    image_size,
    is_sixteen_bit,
    limited_loader,
    list_images,
    read_header,
    read_image,
    write_image,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "LUMA_WEIGHTS",
    "ImageHeader",
    "atomic_write_bytes",
    "check_image",
    "convert_channels",
    "encode_image",
    "format_file_list",
    "high_bit_color",
    "i2i_load_image",
    "image_size",
    "is_sixteen_bit",
    "limited_loader",
    "list_images",
    "read_header",
    "read_image",
    "write_image",
]


@hookimpl(trylast=True)
def i2i_load_image(path: Path, channels: int, max_pixels: int) -> np.ndarray:
    """Default image loader (``trylast``): :func:`read_image` (header checked against
    ``max_pixels`` before decoding)."""
    return read_image(path, channels, max_pixels=max_pixels)
